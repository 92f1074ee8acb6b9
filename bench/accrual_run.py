"""Benchmark: the late-fee accrual run over a large estate with two years of arrears, on PostgreSQL.

    .venv/bin/python bench/accrual_run.py [--units 100000] [--months 24]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_accrual] [--reuse-seed]
        [--profile-dir DIR] [--json]

The script builds a fresh schema through the Alembic migrations and seeds one estate (grace 10
days, 0.0003 a day, capped at the principal) with N units, each charged monthly for the last
``--months`` months, and a fifth of the units having paid some of those charges in full, in part or
in two instalments (so the principal changes are exercised). The 2.4 million charge rows go in
with PostgreSQL COPY (asyncpg ``copy_records_to_table``), not through the service; seeding is not
timed and reported apart. Then it times ``accrue_late_fees`` three times, each in a child process of
its own (so the peak RSS belongs to that run): the first run as of 2026-11-20, a rerun on the same
date (which must post nothing), and, after 2 % of the units pay an old charge in the meantime and
0.5 % have a payment recorded that they had made before the first run (a transfer matched late), a
run a month later (incremental: every open charge gets one more month, and the late-recorded
payments' charges are corrected down). It prints figures and
asserts nothing; the correctness check at the end is a sanity figure (OK / MISMATCH).

The database is dropped and rebuilt (``DROP SCHEMA public CASCADE``), so the script refuses any
database whose name does not contain "bench"; it never touches the ``test`` database.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from dateutil.relativedelta import relativedelta  # noqa: E402
from sqlalchemy import text  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import (  # noqa: E402
    asyncpg_connect_args,
    cpu_s,
    pg_database_name,
    prepare_postgres,
    process_cpu_s,
    rss_mib,
)
from bench.sales import SoldShare, sold_share  # noqa: E402
from feesvc.billing.rules import to_fen  # noqa: E402
from feesvc.billing.service import charge_key  # noqa: E402
from feesvc.latefees.models import LateFeeTermsVersion  # noqa: E402
from feesvc.ledger.models import EntryKind, LedgerEntry  # noqa: E402
from feesvc.ledger.service import COPY_STREAMS  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.registry.models import Building, Estate, LateFeeCap, Owner, Ownership, Unit, UnitUse  # noqa: E402
from feesvc.rules.late_fees import TERMS_FROM_THE_START, LateFeePolicy, LateFeeTerms, PrincipalChange, late_fee_for  # noqa: E402
from feesvc.standards.models import Basis, DecisionKind, FeeStandard  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_accrual"
AS_OF = date(2026, 11, 20)  # the first run; the last charge (due 2026-11-01) is past its grace
NEXT_AS_OF = AS_OF + relativedelta(months=1)  # the incremental run
LAST_PERIOD = date(2026, 11, 1)  # charges fall due on the 1st, from LAST_PERIOD back --months months
GRACE_DAYS = 10
DAILY_RATE = Decimal("0.0003")
RATE = Decimal("2.80")  # per m² and month
ITEM = "service_fee"
ITEM_NAME = "物业服务费"
BUILDINGS = 100
SEED = 20261120
ESTATE_ID = 1
STANDARD_ID = 1
PAYER_SHARE = 0.20  # units that paid some of their charges before the first run
BETWEEN_SHARE = 0.02  # units that pay their oldest open charge between the first and the next run
# Units whose oldest open charge was paid off before the first run, by a payment recorded only
# between the runs (a bank transfer matched late): the month-later run corrects its late fees down.
RECORDED_LATE_SHARE = 0.005
SAMPLE = 100  # charges recomputed one by one with late_fee_for for the check
SEED_ACTOR = "bench:seed"
BETWEEN_ACTOR = "bench:between-runs"
SEED_VERSION = 3  # bump when the seed changes, so --reuse-seed does not pick up an old template


def log(message: str) -> None:
    print(message, file=_LOG, flush=True)


_LOG = sys.stdout


# --------------------------------------------------------------------------------------------
# Seed data, generated in Python so the expected fees are known without asking the database.


Payments = dict[int, list[tuple[date, int]]]  # charge id -> (day, amount in fen, negative)


@dataclass
class Plan:
    units: int
    months: int
    amounts: list[int]  # index unit_id - 1: the monthly charge in fen
    areas: list[Decimal]
    dues: list[date]  # index m: due date (and issue date) of the unit's m-th charge, oldest first
    payments: Payments  # paid before the first run
    between: Payments  # paid between the first run and the month-later run
    recorded_late: Payments  # received before the first run, recorded between the runs
    # 5 % of the units sold, handed over in (half of them the middle of) the history's middle month:
    # the charges before are the seller's, after the buyer's (bench/sales.py).
    sold: SoldShare

    def charge_id(self, unit_id: int, m: int) -> int:
        return (unit_id - 1) * self.months + m + 1

    def locate(self, charge_id: int) -> tuple[int, int]:
        unit0, m = divmod(charge_id - 1, self.months)
        return unit0 + 1, m

    @property
    def charges(self) -> int:
        return self.units * self.months

    @property
    def signature(self) -> str:
        return f"feesvc accrual bench seed v{SEED_VERSION}: units={self.units} months={self.months} seed={SEED}"


def make_plan(units: int, months: int) -> Plan:
    rng = random.Random(SEED)
    areas = [Decimal(rng.randint(6000, 18000)).scaleb(-2) for _ in range(units)]  # 60.00 … 180.00 m²
    amounts = [to_fen(area * RATE) for area in areas]
    dues = [LAST_PERIOD - relativedelta(months=k) for k in range(months - 1, -1, -1)]
    plan = Plan(
        units=units,
        months=months,
        amounts=amounts,
        areas=areas,
        dues=dues,
        payments={},
        between={},
        recorded_late={},
        sold=sold_share(units, dues[len(dues) // 2]),
    )
    for unit_id in range(1, units + 1):
        if rng.random() >= PAYER_SHARE:
            continue
        amount = amounts[unit_id - 1]
        for m in sorted(rng.sample(range(months), min(rng.randint(1, 4), months))):
            due = dues[m]
            latest = (AS_OF - due).days - 1  # every seeded payment is dated before the first run
            day = due + timedelta(days=rng.randint(0, min(120, latest)))
            mode = rng.random()
            if mode < 0.5:  # paid in full, late or within the grace period
                paid = [(day, -amount)]
            else:
                part = amount * rng.randint(30, 70) // 100
                paid = [(day, -part)]
                second = day + timedelta(days=rng.randint(1, 60))
                if mode >= 0.8 and second < AS_OF:  # the rest in a second instalment
                    paid.append((second, part - amount))
            plan.payments[plan.charge_id(unit_id, m)] = paid
    between = random.Random(SEED + 1)
    window = (NEXT_AS_OF - AS_OF).days - 1
    for unit_id in range(1, units + 1):
        if between.random() >= BETWEEN_SHARE:
            continue
        for m in range(months):
            cid = plan.charge_id(unit_id, m)
            unpaid = amounts[unit_id - 1] + sum(fen for _, fen in plan.payments.get(cid, []))
            if unpaid > 0:  # the oldest charge still open: paid off in full
                plan.between[cid] = [(AS_OF + timedelta(days=between.randint(1, window)), -unpaid)]
                break
    late = random.Random(SEED + 3)
    for unit_id in range(1, units + 1):
        if late.random() >= RECORDED_LATE_SHARE or any(
            plan.charge_id(unit_id, m) in plan.between for m in range(months)
        ):
            continue
        for m in range(months):
            cid = plan.charge_id(unit_id, m)
            unpaid = amounts[unit_id - 1] + sum(fen for _, fen in plan.payments.get(cid, []))
            first_late = plan.dues[m] + timedelta(days=GRACE_DAYS + 1)
            if unpaid > 0 and first_late < AS_OF:  # the oldest charge still open, paid while it was late
                days = (AS_OF - first_late).days
                plan.recorded_late[cid] = [(first_late + timedelta(days=late.randint(0, days - 1)), -unpaid)]
                break
    return plan


# --------------------------------------------------------------------------------------------
# The expected fees, computed without the service.


RATE_NUM, RATE_DEN = DAILY_RATE.as_integer_ratio()


def charge_changes(plan: Plan, charge_id: int, as_of: date) -> list[PrincipalChange]:
    """The unpaid principal after each day with payments, as the service should derive it from the
    payments recorded by the run as of ``as_of`` (those recorded late only by the month-later run)."""
    by_day: dict[date, int] = {}
    late = plan.recorded_late.get(charge_id, []) if as_of >= NEXT_AS_OF else []
    for day, fen in plan.payments.get(charge_id, []) + plan.between.get(charge_id, []) + late:
        if day <= as_of:
            by_day[day] = by_day.get(day, 0) + fen
    unit_id, _ = plan.locate(charge_id)
    unpaid = plan.amounts[unit_id - 1]
    changes = []
    for day in sorted(by_day):
        unpaid += by_day[day]
        changes.append(PrincipalChange(on=day, unpaid_fen=max(unpaid, 0)))
    return changes


def fee_fen(amount: int, due: date, changes: list[PrincipalChange], as_of: date) -> int:
    """Integer arithmetic, independent of late_fee_for: Σ base × days × rate, capped, half-up."""
    first = due.toordinal() + GRACE_DAYS + 1
    end = as_of.toordinal() + 1
    if first >= end:
        return 0
    base_days, base, day = 0, amount, first
    for change in changes:
        on = change.on.toordinal()
        if on > day:
            stop = min(on, end)
            base_days += base * (stop - day)
            day = stop
            if day >= end:
                break
        base = change.unpaid_fen
    if day < end:
        base_days += base * (end - day)
    return min((2 * base_days * RATE_NUM + RATE_DEN) // (2 * RATE_DEN), amount)


def policy() -> LateFeePolicy:
    return LateFeePolicy(daily_rate=DAILY_RATE, grace_days=GRACE_DAYS, cap=LateFeeCap.principal)


@dataclass
class Expected:
    charges: int
    first_count: int  # late fees the first run posts
    first_fen: int
    next_count: int  # late fees the month-later run posts
    next_fen: int
    corrections: int  # charges whose late fees the month-later run corrects down
    corrected_fen: int


def expected_totals(plan: Plan) -> Expected:
    first_count = first_fen = next_count = next_fen = corrections = corrected_fen = 0
    with_payments = set(plan.payments) | set(plan.between) | set(plan.recorded_late)
    for m, due in enumerate(plan.dues):
        days_first = max(0, (AS_OF - due).days - GRACE_DAYS)
        days_next = max(0, (NEXT_AS_OF - due).days - GRACE_DAYS)
        for unit0, amount in enumerate(plan.amounts):
            cid = unit0 * plan.months + m + 1
            if cid in with_payments:
                fee1 = fee_fen(amount, due, charge_changes(plan, cid, AS_OF), AS_OF)
                fee2 = fee_fen(amount, due, charge_changes(plan, cid, NEXT_AS_OF), NEXT_AS_OF)
            else:  # never paid: one segment from the end of the grace period
                fee1 = min((2 * amount * days_first * RATE_NUM + RATE_DEN) // (2 * RATE_DEN), amount)
                fee2 = min((2 * amount * days_next * RATE_NUM + RATE_DEN) // (2 * RATE_DEN), amount)
            first_count += fee1 > 0
            first_fen += fee1
            next_count += fee2 > fee1
            next_fen += max(fee2 - fee1, 0)
            corrections += fee2 < fee1
            corrected_fen += max(fee1 - fee2, 0)
    return Expected(plan.charges, first_count, first_fen, next_count, next_fen, corrections, corrected_fen)


# --------------------------------------------------------------------------------------------
# Database preparation and seeding (asyncpg directly: COPY for the big tables).


async def restore_from_template(url: str, plan: Plan) -> bool:
    """--reuse-seed: clone the seeded database from its template copy if that matches the plan."""
    import asyncpg

    name = pg_database_name(url)
    template = f"{name}_seed"
    admin = await asyncpg.connect(**{**asyncpg_connect_args(url), "database": "postgres"})
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", template
        )
        if comment != plan.signature:
            return False
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY = FILE_COPY')
        return True
    finally:
        await admin.close()


async def save_template(url: str, plan: Plan) -> None:
    import asyncpg

    name = pg_database_name(url)
    template = f"{name}_seed"
    admin = await asyncpg.connect(**{**asyncpg_connect_args(url), "database": "postgres"})
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}" STRATEGY = FILE_COPY')
        await admin.execute(f"COMMENT ON DATABASE \"{template}\" IS '{plan.signature}'")
    finally:
        await admin.close()


def _row(model: type[Any], **values: Any) -> dict[str, Any]:
    """A full row: the model's own defaults (new columns included), then ``values``."""
    row: dict[str, Any] = model(**values).model_dump()
    return row


def _db_value(value: Any) -> Any:
    """What asyncpg's COPY takes for a model value: DecimalText and JSON columns are text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _columns(model: type[Any]) -> list[str]:
    return [column.name for column in model.__table__.columns]  # type: ignore[attr-defined]


def _records(model: type[Any], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    columns = _columns(model)
    return [tuple(_db_value(row[c]) for c in columns) for row in rows]


def entry_template(now: datetime) -> tuple[list[str], list[Any]]:
    template = _row(
        LedgerEntry,
        id=0,
        estate_id=ESTATE_ID,
        unit_id=0,
        kind=EntryKind.charge,
        amount_fen=1,
        effective_date=AS_OF,
        actor=SEED_ACTOR,
        created_at=now,
    )
    columns = _columns(LedgerEntry)
    return columns, [_db_value(template[c]) for c in columns]


def charge_records(plan: Plan, now: datetime) -> Iterator[tuple[Any, ...]]:
    """2.4 million charges as run_billing writes them, generated lazily for COPY."""
    columns, template = entry_template(now)
    at = {c: i for i, c in enumerate(columns)}
    template[at["kind"]] = EntryKind.charge.value
    template[at["period_months"]] = 1
    template[at["item"]] = ITEM
    template[at["fee_standard_id"]] = STANDARD_ID
    periods = [f"{due:%Y-%m}" for due in plan.dues]
    for unit0, amount in enumerate(plan.amounts):
        unit_id = unit0 + 1
        detail = json.dumps(
            {
                "basis": Basis.per_m2_month.value,
                "rate": str(RATE),
                "months": 1,
                "item_name": ITEM_NAME,
                "area_m2": str(plan.areas[unit0]),
            },
            ensure_ascii=False,
        )
        for m, due in enumerate(plan.dues):
            row = template.copy()
            row[at["id"]] = unit0 * plan.months + m + 1
            row[at["unit_id"]] = unit_id
            row[at["owner_id"]] = plan.sold.owner_of_period(unit_id, due)
            row[at["amount_fen"]] = amount
            row[at["effective_date"]] = due
            row[at["period"]] = periods[m]
            row[at["due_date"]] = due
            row[at["dedupe_key"]] = charge_key(unit_id, ITEM, periods[m])
            row[at["detail"]] = detail
            yield tuple(row)


def payment_records(plan: Plan, payments: Payments, now: datetime, actor: str) -> list[tuple[Any, ...]]:
    """Payment splits settling charges (no ``payment`` rows behind them: the accrual never reads them)."""
    columns, template = entry_template(now)
    at = {c: i for i, c in enumerate(columns)}
    template[at["kind"]] = EntryKind.payment.value
    template[at["item"]] = ITEM
    template[at["actor"]] = actor
    records = []
    for charge_id, paid in sorted(payments.items()):
        unit_id, m = plan.locate(charge_id)
        for day, fen in paid:
            row = template.copy()
            row[at["unit_id"]] = unit_id
            row[at["owner_id"]] = plan.sold.owner_of_period(unit_id, plan.dues[m])  # the debtor pays
            row[at["amount_fen"]] = fen
            row[at["effective_date"]] = day
            row[at["period"]] = f"{plan.dues[m]:%Y-%m}"
            row[at["settles_entry_id"]] = charge_id
            records.append(tuple(row))
    return records


async def copy_entries(conn: Any, records: Any, *, with_id: bool) -> None:
    columns = _columns(LedgerEntry)
    if not with_id:  # let the sequence number them
        drop = columns.index("id")
        columns = columns[:drop] + columns[drop + 1 :]
        records = (r[:drop] + r[drop + 1 :] for r in records)
    await conn.copy_records_to_table("ledger_entry", records=records, columns=columns)


async def seed(url: str, plan: Plan) -> dict[str, float]:
    """Registry rows, one fee standard, the charges and the seeded payments; returns phase seconds."""
    import asyncpg

    now = datetime.now(UTC)
    per_building = -(-plan.units // BUILDINGS)
    estate = _row(
        Estate,
        id=ESTATE_ID,
        code="BENCH-ACCRUAL",
        name="Benchmark Gardens (late fees)",
        company_name="Benchmark Property Management Co.",
        cycle_months=1,
        due_day=1,
        grace_days=GRACE_DAYS,
        late_fee_daily_rate=DAILY_RATE,
        late_fee_cap=LateFeeCap.principal,
        created_at=now,
    )
    buildings = [_row(Building, id=b, estate_id=ESTATE_ID, name=f"Building {b}") for b in range(1, BUILDINGS + 1)]
    unit = _row(Unit, id=0, estate_id=ESTATE_ID, building_id=1, number="", floor_area_m2=RATE, use=UnitUse.residential)
    units = [
        {
            **unit,
            "id": i,
            "building_id": (i - 1) // per_building + 1,
            "number": f"{(i - 1) % per_building + 1:04d}",
            "floor_area_m2": area,
        }
        for i, area in enumerate(plan.areas, start=1)
    ]
    owner = _row(Owner, id=0, name="")
    owners = [{**owner, "id": i, "name": f"Owner {i}"} for i in range(1, plan.units + 1)]
    owners += plan.sold.buyer_rows(owner)
    ownerships = plan.sold.ownership_rows(_row(Ownership, id=0, unit_id=0, owner_id=0, starts_on=date(2020, 1, 1)))
    standard = _row(
        FeeStandard,
        id=STANDARD_ID,
        estate_id=ESTATE_ID,
        unit_use=UnitUse.residential,
        item=ITEM,
        item_name=ITEM_NAME,
        basis=Basis.per_m2_month,
        rate=RATE,
        effective_from=plan.dues[0],
        posted_on=plan.dues[0] - relativedelta(months=1),
        decision_kind=DecisionKind.contract,
        decision_ref="benchmark contract",
    )  # no late_fee_daily_rate of its own: the estate's rate applies
    terms = _row(
        LateFeeTermsVersion,
        id=1,
        estate_id=ESTATE_ID,
        effective_from=TERMS_FROM_THE_START,
        daily_rate=DAILY_RATE,
        grace_days=GRACE_DAYS,
        cap=LateFeeCap.principal,
        basis="benchmark contract",
        actor="bench",
        created_at=now,
    )
    phases: dict[str, float] = {}
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        async with conn.transaction():
            started = time.perf_counter()
            for model, rows in [
                (Estate, [estate]),
                (Building, buildings),
                (Unit, units),
                (Owner, owners),
                (Ownership, ownerships),
                (FeeStandard, [standard]),
                (LateFeeTermsVersion, [terms]),
            ]:
                table = model.__tablename__  # type: ignore[attr-defined]
                await conn.copy_records_to_table(table, records=_records(model, rows), columns=_columns(model))
            phases["registry"] = time.perf_counter() - started
            started = time.perf_counter()
            await copy_entries(conn, charge_records(plan, now), with_id=True)
            phases["charges"] = time.perf_counter() - started
            # Explicit ids leave the sequences behind; move them on as the application would find them.
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('ledger_entry', 'id'), {plan.charges + 1}, false)"
            )
            started = time.perf_counter()
            await copy_entries(conn, payment_records(plan, plan.payments, now, "cashier:seed"), with_id=False)
            phases["payments"] = time.perf_counter() - started
            for model in (Estate, Building, Unit, Owner, Ownership, FeeStandard, LateFeeTermsVersion):
                name = model.__tablename__  # type: ignore[attr-defined]
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                )
        started = time.perf_counter()
        # Autovacuum would analyse freshly loaded tables on a live server; do it now so the planner
        # sees the real row counts rather than an empty table's defaults.
        await conn.execute("VACUUM ANALYZE")
        phases["vacuum_analyze"] = time.perf_counter() - started
    finally:
        await conn.close()
    return phases


async def between_runs(url: str, plan: Plan) -> float:
    """The payments made between the first run and the month-later run, then VACUUM ANALYZE."""
    import asyncpg

    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        records = payment_records(plan, {**plan.between, **plan.recorded_late}, datetime.now(UTC), BETWEEN_ACTOR)
        async with conn.transaction():
            await copy_entries(conn, records, with_id=False)
        return await vacuum_analyze(conn)
    finally:
        await conn.close()


async def vacuum_analyze(conn: Any) -> float:
    started = time.perf_counter()
    await conn.execute("VACUUM ANALYZE ledger_entry")
    return time.perf_counter() - started


async def ledger_mib(url: str) -> float:
    import asyncpg

    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        return float(await conn.fetchval("SELECT pg_total_relation_size('ledger_entry')")) / 2**20
    finally:
        await conn.close()


async def vacuum_analyze_url(url: str) -> float:
    import asyncpg

    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        return await vacuum_analyze(conn)
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------
# The measured part, run in a child process per run.


def yardstick_s() -> float:
    """Seconds of a fixed piece of pure-Python work: this virtual machine's cores run at a speed
    that changes with its host's load (the same loop took 1.3–2.0 s on an idle guest), which moves
    every figure here with it."""
    started = time.process_time()
    sum(range(50_000_000))
    return time.process_time() - started


def servers_cpu_s(pids: list[int]) -> float | None:
    times = [process_cpu_s(pid) for pid in pids]
    return None if None in times else sum(t for t in times if t is not None)


PHASES = (
    "get_estate",
    "estate_terms",
    "_principal_changes",
    "frozen_intervals",
    "court_rates",
    "stream_entry_rows",
    "_overdue_charges",
    "post_corrections",
    "settle_new_late_fees_from_credit",
    "record_audit",
)
NESTED_PHASES = {"_overdue_charges"}  # read while stream_entry_rows writes


def time_phases(phases: dict[str, float]) -> None:
    """Wrap the service's helpers (module globals, looked up at call time) with timers. An async
    generator (``_overdue_charges``, read while ``stream_entry_rows`` writes) is timed inside each
    step, so its time is also part of the stream's."""
    import feesvc.latefees.service as service

    def add(name: str, started: float) -> None:
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

    for name in PHASES:
        original = getattr(service, name)
        if inspect.isasyncgenfunction(original):

            async def steps(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                generator = _original(*args, **kwargs)
                while True:
                    started = time.perf_counter()
                    try:
                        item = await anext(generator)
                    except StopAsyncIteration:
                        return
                    finally:
                        add(_name, started)
                    yield item

            setattr(service, name, steps)
            continue

        async def timed(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await _original(*args, **kwargs)
            finally:
                add(_name, started)

        setattr(service, name, timed)


async def measure(url: str, as_of: date, profile_path: str | None) -> dict[str, Any]:
    from feesvc.auth.principal import COMMAND_LINE
    from feesvc.db import create_engine, session_factory
    from feesvc.latefees.service import accrue_late_fees
    from feesvc.settings import DatabaseSettings

    phases: dict[str, float] = {}
    time_phases(phases)
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    # Open the pool's connections (the run's session and its extra COPY streams) before the clock
    # starts, and note their server processes, whose CPU is the run's server CPU.
    async with AsyncExitStack() as stack:
        warm = [await stack.enter_async_context(engine.connect()) for _ in range(1 + COPY_STREAMS)]
        backends = [(await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() for conn in warm]
    figures: dict[str, Any] = {"baseline_rss_mib": rss_mib()}
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    async with sessions() as session:
        server_cpu = servers_cpu_s(backends)
        if profiler:
            profiler.enable()
        cpu = cpu_s()
        started = time.perf_counter()
        result = await accrue_late_fees(session, COMMAND_LINE, ESTATE_ID, as_of)
        figures["run_s"] = time.perf_counter() - started
        figures["client_cpu_s"] = cpu_s() - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_path)
        after = servers_cpu_s(backends)
        figures["server_cpu_s"] = after - server_cpu if after is not None and server_cpu is not None else None
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["phases"] = phases
    figures.update(
        charges_considered=result.charges_considered,
        late_fees_posted=result.late_fees_posted,
        posted_fen=result.posted_fen,
        corrections_posted=result.corrections_posted,
        corrected_fen=result.corrected_fen,
    )
    await engine.dispose()
    return figures


def worker_main(args: argparse.Namespace) -> None:
    figures = asyncio.run(measure(args.worker_url, date.fromisoformat(args.worker_as_of), args.worker_profile))
    print(json.dumps(figures))


def run_worker(url: str, as_of: date, profile_path: str | None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-url", url, "--worker-as-of", as_of.isoformat()]
    if profile_path:
        command += ["--worker-profile", profile_path]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if completed.stderr:
        print(completed.stderr, file=sys.stderr, end="")
    if completed.returncode != 0:
        raise SystemExit(f"the accrual worker failed (exit {completed.returncode})")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


# --------------------------------------------------------------------------------------------
# The correctness check, against the plan (not the service's own reading of the ledger).


async def check(url: str, plan: Plan, expected: Expected, runs: list[Run]) -> list[str]:
    import asyncpg

    problems = []
    first, rerun, later = runs
    for run, want_considered, want_count, want_fen, want_corrections in [
        (first, expected.charges, expected.first_count, expected.first_fen, (0, 0)),
        (rerun, expected.charges, 0, 0, (0, 0)),
        (
            later,
            expected.charges,
            expected.next_count,
            expected.next_fen,
            (expected.corrections, expected.corrected_fen),
        ),
    ]:
        got = (run.charges_considered, run.late_fees_posted, run.posted_fen, run.corrections_posted, run.corrected_fen)
        want = (want_considered, want_count, want_fen, *want_corrections)
        if got != want:
            problems.append(
                f"{run.name}: (considered, posted, fen, corrections, corrected fen) = {got}, expected {want}"
            )
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        rows = await conn.fetch(
            "SELECT effective_date, count(*) AS n, sum(amount_fen) AS fen FROM ledger_entry "
            "WHERE estate_id = $1 AND kind = 'late_fee' GROUP BY effective_date ORDER BY effective_date",
            ESTATE_ID,
        )
        in_db = {r["effective_date"]: (r["n"], int(r["fen"])) for r in rows}
        want_db = {
            AS_OF: (expected.first_count, expected.first_fen),
            NEXT_AS_OF: (expected.next_count + expected.corrections, expected.next_fen - expected.corrected_fen),
        }
        if in_db != {day: v for day, v in want_db.items() if v[0]}:
            problems.append(f"late_fee entries by date in the ledger: {in_db}, expected {want_db}")
        # SAMPLE charges one by one with late_fee_for itself: half among those with payments.
        rng = random.Random(SEED + 2)
        paid = sorted(set(plan.payments) | set(plan.between) | set(plan.recorded_late))
        sample = rng.sample(paid, min(SAMPLE // 2, len(paid)))
        sample += rng.sample(range(1, plan.charges + 1), min(SAMPLE - len(sample), plan.charges))
        posted = await conn.fetch(
            "SELECT basis_entry_id, effective_date, amount_fen FROM ledger_entry "
            "WHERE kind = 'late_fee' AND basis_entry_id = ANY($1::bigint[])",
            sample,
        )
        by_charge: dict[int, dict[date, int]] = {}
        for r in posted:
            days = by_charge.setdefault(r["basis_entry_id"], {})
            days[r["effective_date"]] = days.get(r["effective_date"], 0) + r["amount_fen"]
        for cid in sample:
            unit_id, m = plan.locate(cid)
            amount, due = plan.amounts[unit_id - 1], plan.dues[m]
            days = by_charge.get(cid, {})
            for as_of in (AS_OF, NEXT_AS_OF):
                changes = charge_changes(plan, cid, as_of)
                want_total = late_fee_for(amount, due, changes, as_of, LateFeeTerms.always(policy())).total_fen
                got_total = sum(fen for day, fen in days.items() if day <= as_of)
                if got_total != want_total or fee_fen(amount, due, changes, as_of) != want_total:
                    problems.append(
                        f"charge {cid} as of {as_of}: posted {got_total}, late_fee_for {want_total}, "
                        f"integer check {fee_fen(amount, due, changes, as_of)}"
                    )
    finally:
        await conn.close()
    return problems


# --------------------------------------------------------------------------------------------
# The driver.


@dataclass
class Run:
    name: str
    as_of: str
    charges_considered: int = 0
    late_fees_posted: int = 0
    posted_fen: int = 0
    corrections_posted: int = 0
    corrected_fen: int = 0
    run_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    charges_per_s: float = 0.0
    peak_rss_mib: float = 0.0
    baseline_rss_mib: float = 0.0
    load_average: float = 0.0
    vacuum_before_s: float = 0.0
    ledger_growth_mib: float = 0.0  # ledger_entry (table, TOAST and indexes) after the run minus before
    phases: dict[str, float] = field(default_factory=dict)


def make_run(name: str, as_of: date, figures: dict[str, Any], load: float, vacuum_s: float) -> Run:
    run = Run(
        name=name,
        as_of=as_of.isoformat(),
        charges_considered=figures["charges_considered"],
        late_fees_posted=figures["late_fees_posted"],
        posted_fen=figures["posted_fen"],
        corrections_posted=figures["corrections_posted"],
        corrected_fen=figures["corrected_fen"],
        run_s=figures["run_s"],
        client_cpu_s=figures["client_cpu_s"],
        server_cpu_s=figures["server_cpu_s"],
        charges_per_s=figures["charges_considered"] / figures["run_s"],
        peak_rss_mib=figures["peak_rss_mib"],
        baseline_rss_mib=figures["baseline_rss_mib"],
        load_average=load,
        vacuum_before_s=vacuum_s,
        phases=figures["phases"],
    )
    log(
        f"{name} (as of {as_of}): {run.charges_considered:,} charges considered, {run.late_fees_posted:,} late fees "
        f"posted (¥{Decimal(run.posted_fen).scaleb(-2):,}), {run.corrections_posted:,} corrected down "
        f"(¥{Decimal(run.corrected_fen).scaleb(-2):,}) in {run.run_s:.1f} s wall, {run.client_cpu_s:.1f} s client "
        f"CPU, {_server(run)} s PostgreSQL backend CPU; load average before {load:.2f}"
    )
    return run


def _server(run: Run) -> str:
    return "–" if run.server_cpu_s is None else f"{run.server_cpu_s:.1f}"


def table(runs: list[Run]) -> str:
    headers = [
        "run",
        "as of",
        "considered",
        "posted",
        "posted ¥",
        "wall s",
        "client CPU s",
        "server CPU s",
        "charges/s",
        "peak RSS MiB",
        "baseline MiB",
        "ledger +MiB",
        "load",
    ]
    rows = [
        [
            r.name,
            r.as_of,
            f"{r.charges_considered:,}",
            f"{r.late_fees_posted:,}",
            f"{Decimal(r.posted_fen).scaleb(-2):,}",
            f"{r.run_s:.1f}",
            f"{r.client_cpu_s:.1f}",
            _server(r),
            f"{r.charges_per_s:,.0f}",
            f"{r.peak_rss_mib:.0f}",
            f"{r.baseline_rss_mib:.0f}",
            f"{r.ledger_growth_mib:,.0f}",
            f"{r.load_average:.1f}",
        ]
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("")
    names = [f"{p.lstrip('_')}{' (within the stream)' if p in NESTED_PHASES else ''}" for p in PHASES]
    lines.append("phases (s): " + ", ".join(names) + ", rest (commit)")
    for r in runs:
        rest = r.run_s - sum(s for p, s in r.phases.items() if p not in NESTED_PHASES)
        parts = [f"{r.phases.get(p, 0.0):.1f}" for p in PHASES] + [f"{rest:.1f}"]
        lines.append(f"  {r.name:<12} " + " / ".join(parts))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the late-fee accrual run for a large estate.")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24, help="monthly charges per unit, all overdue (default 24)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="keep a seeded copy as the database <name>_seed and clone it next time instead of seeding again",
    )
    parser.add_argument("--profile-dir", help="write a cProfile of each run here")
    parser.add_argument("--json", action="store_true", help="write the figures as JSON to stdout")
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-as-of", help=argparse.SUPPRESS)
    parser.add_argument("--worker-profile", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    global _LOG
    args = parse_args(argv)
    if args.worker_url:
        worker_main(args)
        return
    if args.units < 1 or not 1 <= args.months <= 120:
        raise SystemExit("--units must be at least 1 and --months between 1 and 120")
    if args.json:
        _LOG = sys.stderr  # keep stdout for the JSON
    url = args.pg_url
    pg_database_name(url)  # refuse early, before any work
    log(
        f"late-fee accrual benchmark: {args.units:,} units × {args.months} monthly charges, PostgreSQL, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} "
        "(others' work on the machine skews the wall times; CPU times are printed beside them)"
    )
    started = time.perf_counter()
    plan = make_plan(args.units, args.months)
    plan_s = time.perf_counter() - started
    log(
        f"plan: {plan.charges:,} charges due {plan.dues[0]} … {plan.dues[-1]}; {len(plan.payments):,} of them "
        f"paid in full or in part before the first run "
        f"({sum(len(p) for p in plan.payments.values()):,} payment entries), "
        f"{len(plan.between):,} paid off between the first run and the next, "
        f"{len(plan.recorded_late):,} paid off before the first run but recorded after it; "
        f"{len(plan.sold.sales):,} units sold in {plan.sold.period_first:%Y-%m} ({plan.sold.mid_period:,} of them "
        f"mid-period) ({plan_s:.1f} s)"
    )

    seed_figures: dict[str, Any] = {}
    started = time.perf_counter()
    if args.reuse_seed and asyncio.run(restore_from_template(url, plan)):
        restored_s = seed_figures["restored_from_template_s"] = time.perf_counter() - started
        log(f"restored the seeded database from {pg_database_name(url)}_seed in {restored_s:.1f} s")
        started = time.perf_counter()
        upgrade(url)  # a copy seeded before a newer migration is brought up to date (with its data)
        log(f"migrations brought up to date in {time.perf_counter() - started:.1f} s")
    else:
        asyncio.run(prepare_postgres(url, log))
        upgrade(url)  # runs its own event loop: called from plain synchronous code
        seed_figures["migrate_s"] = time.perf_counter() - started
        started = time.perf_counter()
        seed_figures["phases"] = asyncio.run(seed(url, plan))
        seed_figures["seed_s"] = time.perf_counter() - started
        phases = seed_figures["phases"]
        log(
            f"migrated in {seed_figures['migrate_s']:.1f} s; seeded in {seed_figures['seed_s']:.1f} s with COPY "
            f"(asyncpg copy_records_to_table, foreign keys checked): registry {phases['registry']:.1f} s, "
            f"{plan.charges:,} charges {phases['charges']:.1f} s, payments {phases['payments']:.1f} s, "
            f"VACUUM ANALYZE {phases['vacuum_analyze']:.1f} s"
        )
        if args.reuse_seed:
            started = time.perf_counter()
            asyncio.run(save_template(url, plan))
            log(f"saved the seeded database as {pg_database_name(url)}_seed in {time.perf_counter() - started:.1f} s")

    profile_dir = Path(args.profile_dir) if args.profile_dir else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)

    def profile(name: str) -> str | None:
        return str(profile_dir / f"accrual_{name}.prof") if profile_dir else None

    runs: list[Run] = []

    def timed_run(name: str, as_of: date, vacuum_s: float) -> None:
        before = asyncio.run(ledger_mib(url))
        log(f"yardstick before {name}: {yardstick_s():.2f} s (the same CPU work each time; the host's speed varies)")
        load = os.getloadavg()[0]
        run = make_run(name, as_of, run_worker(url, as_of, profile(name.replace(" ", "_"))), load, vacuum_s)
        run.ledger_growth_mib = asyncio.run(ledger_mib(url)) - before
        runs.append(run)

    timed_run("first", AS_OF, 0.0)
    timed_run("rerun", AS_OF, asyncio.run(vacuum_analyze_url(url)))  # autovacuum would, after 2.4M inserted rows
    timed_run("month later", NEXT_AS_OF, asyncio.run(between_runs(url, plan)))

    started = time.perf_counter()
    expected = expected_totals(plan)
    problems = asyncio.run(check(url, plan, expected, runs))
    check_s = time.perf_counter() - started
    verdict = "MISMATCH" if problems else "OK"

    log("")
    log(table(runs))
    log(
        "wall s: accrue_late_fees from call to commit; client CPU s: CPU the benchmark process spent in it;\n"
        "  server CPU s: CPU of the PostgreSQL backends serving it (its COPY streams); the rest of\n"
        "  the wall time is waiting, mostly for a CPU when the machine is loaded (2 cores shared by both);\n"
        "peak RSS: ru_maxrss of the child process that ran it (baseline = RSS after imports, before the run);\n"
        "ledger +MiB: growth of ledger_entry with its TOAST table and indexes (pg_total_relation_size);\n"
        "VACUUM ANALYZE ledger_entry ran before the rerun and before the month-later run (not timed),\n"
        "  as autovacuum would after millions of inserted rows."
    )
    log(
        f"check: {verdict} — every run's counts and sum against an independent integer computation over all "
        f"{plan.charges:,} charges, the ledger's late fees by date, and {SAMPLE} sampled charges "
        f"(half with payments) recomputed with late_fee_for ({check_s:.1f} s)"
    )
    for problem in problems[:20]:
        log(f"  {problem}")
    if args.json:
        payload = {
            "benchmark": "accrual_run",
            "date": date.today().isoformat(),  # noqa: DTZ011 (the machine's date, for the record)
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "units": plan.units,
            "months": plan.months,
            "charges": plan.charges,
            "charges_with_payments": len(plan.payments),
            "paid_between_runs": len(plan.between),
            "paid_before_recorded_after_first_run": len(plan.recorded_late),
            "seed": seed_figures,
            "runs": [asdict(r) for r in runs],
            "check": verdict,
            "problems": problems,
        }
        print(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
