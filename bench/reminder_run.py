"""Benchmark: a reminder run over a large estate, its print file and a letter on demand (PostgreSQL).

    .venv/bin/python bench/reminder_run.py [--units 100000] [--due 20000] [--render-sample 0]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_reminders] [--english-email]
        [--reuse-seed] [--profile-dir DIR] [--json]

The issue's targets: decisions in < 30 s, rendering >= 20 letters/s into the combined PDF, a single
letter on demand < 300 ms, peak memory < 1 GB. The script prints figures and asserts nothing.

1. Rebuilds its own database (the name must contain "bench"; its public schema is dropped) through
   the Alembic migrations and seeds it in a child process, in bulk (COPY through the asyncpg driver
   for the big tables, Core inserts for the rest; timed apart, "seed s"): one estate on
   the default escalation policy, 100 buildings, N units with owners (names, postal addresses; ~10 %
   prefer e-mail, a few read English or Traditional Chinese), one fee standard, four months of
   charges (2026-08 … 2026-11, due on the 1st) for every unit, payments that settle everything
   except for ``--due`` units, which are left overdue at the friendly (50 %), formal (30 %) and
   final-demand (20 %) stages, with late fees on the older debts. A few of the overdue units carry
   what makes a run look further: open arrears cases (a misunderstanding to explain, hardship, or
   unclassified), open complaints and manual holds. Last month's service activity is recorded for
   the friendly reminders' service summary. ``--reuse-seed`` keeps the seeded database as
   ``<name>_seed`` (a template) and clones it next time, in seconds, when the seed is the same.
2. In a child process of its own (so ``ru_maxrss`` belongs to it): times ``decide`` alone, then the
   whole ``run_reminders`` (decisions, letter contexts, HTML, compliance check, inserts and
   commits), with a breakdown per phase taken by wrapping the module's functions with timers.
3. In a second child process: the run's print file, as ``print_file`` makes it (``--render-sample
   0``, the default: every paper letter; otherwise that many letters spread over the print order,
   through ``write_letters_pdf``): letters per second, the CPU of this process and of the pool's
   workers and pdfunite, the peak of the summed RSS of the whole process tree (sampled), and whether
   the file holds the letters in print order (read back with pdftotext). Then one letter on demand,
   cold (WeasyPrint's import and fonts) and warm (``render_letter_pdf``, median of 10; one of each
   kind; ``letter_pdf`` with its database read).

Every timing is printed with the CPU seconds this process spent in it: the machine is shared, and
wall time stretches when other work runs (the rest is waiting on PostgreSQL or for a CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import Table, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402
from sqlmodel import col  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve at flush)
from bench.common import cpu_s, pg_database_name, prepare_postgres, proc_status_mib, rss_mib  # noqa: E402
from bench.sales import Sale, sold_share  # noqa: E402
from feesvc.arrears.models import ArrearsCase, ArrearsOverride, CaseStatus, Cause  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.billing.rules import to_fen  # noqa: E402
from feesvc.billing.service import charge_key  # noqa: E402
from feesvc.db import create_engine, session_factory  # noqa: E402
from feesvc.files import LocalFileStore  # noqa: E402
from feesvc.ledger.models import EntryKind, LedgerEntry  # noqa: E402
from feesvc.letters.models import Letter, OutboxMessage, ReminderHold  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.payments.models import Method, Payment  # noqa: E402
from feesvc.registry.models import Building, Channel, Estate, Owner, Ownership, Unit, UnitUse  # noqa: E402
from feesvc.service_records.models import (  # noqa: E402
    ActivityKind,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ServiceActivity,
)
from feesvc.settings import DatabaseSettings  # noqa: E402
from feesvc.standards.models import Basis, DecisionKind, FeeStandard  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_reminders"
AS_OF = date(2026, 11, 20)
MONTHS = (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1))  # due on these days
LATE_FEES_ON = date(2026, 11, 15)  # the late-fee run before the reminder run
LATE_FEE_RATE = Decimal("0.0003")  # per day
PAID_ON = date(2026, 11, 5)
RATE = Decimal("2.80")
ITEM = "service_fee"
ITEM_NAME = "物业服务费"
BUILDINGS = 100
SEED = 20261120
SEED_BATCH = 10_000
ESTATE_ID = 1
STANDARD_ID = 1
SEED_ACTOR = "bench:seed"
# Overdue units by stage: which months stay open (index into MONTHS) and the share of units.
STAGES = {
    "friendly": (0.50, ((3,),)),  # November open: 19 days overdue
    "formal": (0.30, ((2, 3), (1, 2, 3))),  # from October (50 days) or September (80 days)
    "final": (0.20, ((0, 1, 2, 3),)),  # from August: 111 days
}
LETTER_OF_STAGE = {"friendly": "friendly_reminder", "formal": "formal_reminder", "final": "final_demand"}
# The default escalation policy's stages by days since the oldest open due date, highest first.
STAGE_FROM_DAY = (("final", 90), ("formal", 45), ("friendly", 15))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰文婷雪梅海燕晓东俊宇浩然子轩欣怡梓涵"
STREETS = ("锦绣路", "花木路", "芳华路", "杨高南路", "世纪大道", "龙阳路")


def log(message: str) -> None:
    print(message, file=sys.stderr if _JSON_MODE else sys.stdout, flush=True)


_JSON_MODE = False


# --------------------------------------------------------------------------------------------
# Seed data, generated in Python so the expected letters are known without asking the service.


@dataclass
class Expected:
    letters_by_kind: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    email_messages: int = 0
    paper_letters: int = 0
    # Former owners (sellers) with neither a postal address nor an electronic contact: not written
    # to, listed in the run's needs_attention instead.
    needs_attention: int = 0


@dataclass
class SeedInfo:
    units: int
    due: int
    rows: dict[str, int]
    stages: dict[str, int]
    expected: Expected

    def as_dict(self) -> dict[str, Any]:
        e = self.expected
        return {
            "units": self.units,
            "due": self.due,
            "rows": self.rows,
            "stages": self.stages,
            "expected": {
                "letters_by_kind": dict(e.letters_by_kind),
                "skipped_by_reason": dict(e.skipped_by_reason),
                "email_messages": e.email_messages,
                "paper_letters": e.paper_letters,
                "needs_attention": e.needs_attention,
            },
        }


def _row(model: type[Any], **values: Any) -> dict[str, Any]:
    """A full row for a Core insert: the model's own defaults (new columns included), then ``values``."""
    row: dict[str, Any] = model(**values).model_dump()
    return row


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _pick_months(rng: random.Random, stage: str) -> tuple[int, ...]:
    options: tuple[tuple[int, ...], ...] = STAGES[stage][1]
    return rng.choice(options)


def build_seed(
    units_total: int, due: int, english_email: bool = False
) -> tuple[list[tuple[type[Any], list[dict[str, Any]]]], SeedInfo]:
    """Every row to insert, table by table, in foreign-key order; and what the run should do with them."""
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    due = min(due, units_total)
    per_building = -(-units_total // BUILDINGS)
    estate = _row(
        Estate,
        id=ESTATE_ID,
        code="JXHY",
        name="锦绣华苑",
        company_name="上海锦绣物业服务有限公司",
        address="上海市浦东新区锦绣路1000号",
        service_phone="021-5888 1234",
        cycle_months=1,
        due_day=1,
        final_demand_days=15,
        created_at=now,
    )
    buildings = [_row(Building, id=b, estate_id=ESTATE_ID, name=f"{b}栋") for b in range(1, BUILDINGS + 1)]
    standard = _row(
        FeeStandard,
        id=STANDARD_ID,
        estate_id=ESTATE_ID,
        unit_use=UnitUse.residential,
        item=ITEM,
        item_name=ITEM_NAME,
        basis=Basis.per_m2_month,
        rate=RATE,
        effective_from=date(2026, 1, 1),
        posted_on=date(2025, 12, 1),
        decision_kind=DecisionKind.contract,
        decision_ref="benchmark contract",
    )
    unit_t = _row(
        Unit, id=0, estate_id=ESTATE_ID, building_id=1, number="", floor_area_m2=RATE, use=UnitUse.residential
    )
    owner_t = _row(Owner, id=0, name="")
    ownership_t = _row(Ownership, id=0, unit_id=0, owner_id=0, starts_on=date(2020, 1, 1))
    entry_t = _row(
        LedgerEntry,
        estate_id=ESTATE_ID,
        unit_id=0,
        kind=EntryKind.charge,
        amount_fen=1,
        effective_date=AS_OF,
        actor=SEED_ACTOR,
        created_at=now,
    )
    payment_t = _row(
        Payment,
        estate_id=ESTATE_ID,
        unit_id=0,
        payer_name="",
        amount_fen=1,
        method=Method.wechat,
        received_on=PAID_ON,
        received_at=datetime(2026, 11, 5, 2, tzinfo=UTC),
        cashier="cashier:seed",
        idempotency_key="",
        request_fingerprint="seed",
    )

    # Which units are overdue, and at which stage.
    overdue_ids = rng.sample(range(1, units_total + 1), due)
    stage_of: dict[int, str] = {}
    start = 0
    names = list(STAGES)
    for n, stage in enumerate(names):
        count = due - start if n == len(names) - 1 else round(due * STAGES[stage][0])
        for unit_id in overdue_ids[start : start + count]:
            stage_of[unit_id] = stage
        start += count
    # Special cases among the overdue units (disjoint): complaints and holds are skipped; cases
    # with a misunderstanding get an explanation, hardship an installment offer, the rest their stage.
    special = rng.sample(overdue_ids, due // 200 + due // 400 + due // 100) if due else []
    complaints_on = special[: due // 200]
    holds_on = special[due // 200 : due // 200 + due // 400]
    cases_on = special[due // 200 + due // 400 :]

    # 5 % of the units sold in 2026-10, half of them mid-month (bench/sales.py): the seller owes the
    # periods before, moved away (one in four left no address); the buyer lives in the unit.
    sold = sold_share(units_total, MONTHS[2])
    units, owners = [], []
    owner_of: dict[int, dict[str, Any]] = {}
    for unit_id in range(1, units_total + 1):
        k = (unit_id - 1) % per_building
        building = (unit_id - 1) // per_building + 1
        number = f"{k // 8 + 1}{k % 8 + 1:02d}"
        area = Decimal(rng.randint(6000, 18000)).scaleb(-2)
        units.append({**unit_t, "id": unit_id, "building_id": building, "number": number, "floor_area_m2": area})
        roll = rng.random()
        locale = "en" if roll < 0.04 else "zh_TW" if roll < 0.06 else None
        # English short messages of a final demand do not fit 200 characters with a statement link
        # (the run reports them as blocked): English readers get paper unless --english-email, so the
        # expected letters hold.
        email = rng.random() < 0.10 and (locale != "en" or english_email)
        owner = {
            **owner_t,
            "id": unit_id,
            "name": _name(rng) if locale != "en" else f"{rng.choice(('Li', 'Wang', 'Chen', 'Smith'))} Owner{unit_id}",
            "phone": f"139{unit_id:08d}",
            "email": f"owner{unit_id}@example.cn" if email else "",
            "postal_address": f"上海市浦东新区{rng.choice(STREETS)}{1000 + building}弄{building}栋{number}室",
            "preferred_channel": Channel.email if email else Channel.paper,
            "locale": locale,
        }
        owners.append(owner)
        owner_of[unit_id] = owner
    ownerships = sold.ownership_rows(ownership_t)

    def buyer(sale: Sale) -> dict[str, Any]:
        return {
            "phone": f"138{sale.buyer_id:08d}",
            "postal_address": owner_of[sale.unit_id]["postal_address"],  # the unit: the buyer lives there
            "preferred_channel": Channel.paper,
        }

    buyers = sold.buyer_rows(owner_t, buyer)
    owners += buyers
    owner_of.update({row["id"]: row for row in buyers})  # by owner id: buyers' ids follow the units'
    for sale in sold.sales.values():
        seller = owner_of[sale.unit_id]
        moved = f"上海市闵行区七莘路{sale.unit_id % 3000 + 1}弄{sale.index % 30 + 1}号{sale.index % 2000 + 101}室"
        seller["postal_address"] = moved if sale.seller_address_known else ""

    entries: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    stages_seen: Counter[str] = Counter()

    def add_entry(**values: Any) -> dict[str, Any]:
        row = {**entry_t, "id": len(entries) + 1, **values}
        entries.append(row)
        return row

    def add_payment(unit_id: int, owner_id: int, splits: list[tuple[dict[str, Any], int]]) -> None:
        payment_id = len(payments) + 1
        payments.append(
            {
                **payment_t,
                "id": payment_id,
                "unit_id": unit_id,
                "payer_name": owner_of[owner_id]["name"],
                "amount_fen": sum(fen for _, fen in splits),
                "idempotency_key": f"seed-{payment_id:08d}",
            }
        )
        for charge, fen in splits:
            add_entry(
                unit_id=unit_id,
                owner_id=owner_id,
                kind=EntryKind.payment,
                amount_fen=-fen,
                effective_date=PAID_ON,
                period=charge["period"],
                settles_entry_id=charge["id"],
                payment_id=payment_id,
                actor="cashier:seed",
            )

    open_of: dict[int, tuple[int, ...]] = {}  # the months left open, by unit
    for unit in units:
        unit_id = unit["id"]
        stage = stage_of.get(unit_id)
        open_months = _pick_months(rng, stage) if stage else ()
        open_of[unit_id] = open_months
        if stage:
            stages_seen[f"{stage} ({len(open_months)} month{'s' if len(open_months) > 1 else ''} open)"] += 1
        amount = to_fen(unit["floor_area_m2"] * RATE)
        splits: list[tuple[dict[str, Any], int]] = []
        for m, due_on in enumerate(MONTHS):
            period = f"{due_on:%Y-%m}"
            charge = add_entry(
                unit_id=unit_id,
                owner_id=sold.owner_of_period(unit_id, due_on),
                kind=EntryKind.charge,
                amount_fen=amount,
                effective_date=due_on,
                period=period,
                period_months=1,
                item=ITEM,
                due_date=due_on,
                fee_standard_id=STANDARD_ID,
                dedupe_key=charge_key(unit_id, ITEM, period),
                detail={
                    "basis": Basis.per_m2_month.value,
                    "rate": str(RATE),
                    "months": 1,
                    "item_name": ITEM_NAME,
                    "area_m2": str(unit["floor_area_m2"]),
                },
            )
            if m not in open_months:
                splits.append((charge, amount))
                continue
            if m == open_months[0] and rng.random() < 0.10:
                splits.append((charge, amount // 2))  # a part payment: the rest stays open
            days = (LATE_FEES_ON - due_on).days
            if stage != "friendly" and days >= 45:
                add_entry(
                    unit_id=unit_id,
                    owner_id=charge["owner_id"],
                    kind=EntryKind.late_fee,
                    amount_fen=int((amount * LATE_FEE_RATE * days).to_integral_value()),
                    effective_date=LATE_FEES_ON,
                    period=period,
                    item=ITEM,
                    due_date=due_on,
                    basis_entry_id=charge["id"],
                    detail={
                        "principal_fen": amount,
                        "due_date": due_on.isoformat(),
                        "days": days,
                        "daily_rate": str(LATE_FEE_RATE),
                    },
                )
        # One payment per owner: each settles that owner's own periods (a sold unit's seller and buyer).
        for payer in dict.fromkeys(charge["owner_id"] for charge, _ in splits):
            add_payment(unit_id, payer, [(charge, fen) for charge, fen in splits if charge["owner_id"] == payer])

    expected = Expected()
    cases, overrides = [], []
    for n, unit_id in enumerate(cases_on, start=1):
        cases.append(
            _row(
                ArrearsCase,
                id=n,
                estate_id=ESTATE_ID,
                unit_id=unit_id,
                owner_id=unit_id,
                status=CaseStatus.open,
                opened_by="manager:seed",
                opened_at=datetime(2026, 10, 20, 2, tzinfo=UTC),
            )
        )
        if n % 10 < 4:
            cause, belief = Cause.misunderstanding, "vacancy"
        elif n % 10 < 7:
            cause, belief = Cause.hardship, None
        else:
            continue  # open but not classified yet: the normal letter of its stage
        overrides.append(
            _row(
                ArrearsOverride,
                id=len(overrides) + 1,
                case_id=n,
                category=cause,
                belief=belief,
                reason="benchmark: decided after a call with the owner",
                created_by="manager:seed",
                created_at=datetime(2026, 10, 25, 2, tzinfo=UTC),
            )
        )
    cause_of = {o["case_id"]: o["category"] for o in overrides}
    kind_of_case = {
        c["unit_id"]: {Cause.misunderstanding: "explanation", Cause.hardship: "hardship_offer"}.get(
            cause_of.get(c["id"]), ""
        )
        for c in cases
    }
    # What the run should do, per owner's account (unit, owner) as issue 15 has it: a sold unit's
    # seller owes the open periods seeded to them (the months before the handover), the buyer the
    # rest; each account's stage comes from its own oldest open period, and only the owner a record
    # belongs to is affected by it (a case is the original owner's, a complaint the current
    # owner's); a hold holds every account of the unit. Computed from the seed, not by the service.
    case_kind = {c["unit_id"]: (c["owner_id"], kind_of_case[c["unit_id"]]) for c in cases}
    complained = {unit_id: sold.owner_on(unit_id, AS_OF) for unit_id in complaints_on}
    held = set(holds_on)
    for unit_id in stage_of:
        months_of: dict[int, list[int]] = defaultdict(list)
        for m in open_of[unit_id]:
            months_of[sold.owner_of_period(unit_id, MONTHS[m])].append(m)
        sale = sold.sales.get(unit_id)
        for owner_id, months in months_of.items():
            if unit_id in held:
                expected.skipped_by_reason["manual hold"] += 1
                continue
            if complained.get(unit_id) == owner_id:
                expected.skipped_by_reason["complaint or case pause"] += 1
                continue
            days = (AS_OF - MONTHS[min(months)]).days
            stage = next(name for name, from_day in STAGE_FROM_DAY if days >= from_day)
            case_owner, case_letter = case_kind.get(unit_id, (None, ""))
            kind = (case_letter if case_owner == owner_id else "") or LETTER_OF_STAGE[stage]
            owner = owner_of[owner_id]
            email = owner["preferred_channel"] == Channel.email and bool(owner["email"])
            if sale is not None and owner_id == sale.seller_id and not owner["postal_address"]:
                # A former owner who left no postal address is never written to at the unit: by
                # e-mail only (no paper copy, not even of a final demand), or with no e-mail not at
                # all, listed in the run's needs_attention instead.
                if not email:
                    expected.needs_attention += 1
                    continue
                expected.letters_by_kind[kind] += 1
                expected.email_messages += 1
                continue
            expected.letters_by_kind[kind] += 1
            expected.email_messages += email
            expected.paper_letters += (not email) or kind == "final_demand"

    complaints = [
        _row(
            Complaint,
            id=n,
            estate_id=ESTATE_ID,
            unit_id=unit_id,
            owner_id=sold.owner_on(unit_id, AS_OF),
            category=rng.choice(list(ComplaintCategory)),
            channel=ComplaintChannel.phone,
            text="卫生间顶棚漏水，一直没人来修",
            opened_at=datetime(2026, 11, 3, 2, tzinfo=UTC),
            plan_due_at=datetime(2026, 11, 4, 2, tzinfo=UTC),
            filed_by="cashier:seed",
        )
        for n, unit_id in enumerate(complaints_on, start=1)
    ]
    holds = [
        _row(
            ReminderHold,
            id=n,
            unit_id=unit_id,
            reason="业主住院，经理批准暂缓",
            starts_on=date(2026, 11, 1),
            ends_on=date(2026, 12, 31),
            actor="manager:seed",
        )
        for n, unit_id in enumerate(holds_on, start=1)
    ]
    last_month = f"{AS_OF.replace(day=1) - timedelta(days=1):%Y-%m}"
    activity = [
        _row(
            ServiceActivity,
            estate_id=ESTATE_ID,
            building_id=None,
            period=last_month,
            kind=kind,
            count=count,
            actor=SEED_ACTOR,
        )
        for kind, count in (
            (ActivityKind.cleaning_rounds, 30),
            (ActivityKind.security_patrols, 62),
            (ActivityKind.greenery, 8),
        )
    ] + [
        _row(
            ServiceActivity,
            estate_id=ESTATE_ID,
            building_id=b,
            period=last_month,
            kind=ActivityKind.repairs_done,
            count=rng.randint(1, 20),
            actor=SEED_ACTOR,
        )
        for b in range(1, BUILDINGS + 1)
    ]
    for n, row in enumerate(activity, start=1):
        row["id"] = n
    tables: list[tuple[type[Any], list[dict[str, Any]]]] = [
        (Estate, [estate]),
        (Building, buildings),
        (FeeStandard, [standard]),
        (Unit, units),
        (Owner, owners),
        (Ownership, ownerships),
        (Payment, payments),
        (LedgerEntry, entries),
        (ArrearsCase, cases),
        (ArrearsOverride, overrides),
        (Complaint, complaints),
        (ReminderHold, holds),
        (ServiceActivity, activity),
    ]
    info = SeedInfo(
        units=units_total,
        due=due,
        rows={model.__tablename__: len(rows) for model, rows in tables},  # type: ignore[attr-defined]
        stages=dict(sorted(stages_seen.items())),
        expected=expected,
    )
    return tables, info


async def _copy(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY the rows into the table through the connection's asyncpg driver (several times faster
    than an executemany of INSERTs), each value through its column type's own bind processing, as
    an INSERT would send it."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    columns = [c for c in table.columns if c.name in rows[0]]
    procs = [c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns]
    records = [
        tuple(proc(row.get(c.name)) if proc else row.get(c.name) for c, proc in zip(columns, procs, strict=True))
        for row in rows
    ]
    await driver.copy_records_to_table(table.name, records=records, columns=[c.name for c in columns])


async def seed(url: str, tables: list[tuple[type[Any], list[dict[str, Any]]]]) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            for model, rows in tables:
                table = model.__table__  # type: ignore[attr-defined]
                if len(rows) > SEED_BATCH:
                    await _copy(conn, table, rows)
                    continue
                for start in range(0, len(rows), SEED_BATCH):
                    await conn.execute(insert(table), rows[start : start + SEED_BATCH])
            # Explicit ids leave the sequences behind; move them on as the application would find them.
            for model, _ in tables:
                name = model.__tablename__  # type: ignore[attr-defined]
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                    )
                )
        # Autovacuum would analyse freshly loaded tables on a live server; do it now so the planner
        # sees the real row counts rather than an empty table's defaults.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------------------------
# Database preparation.


SEED_VERSION = 2  # bump when the seed changes, so --reuse-seed does not clone an old copy


def seed_signature(args: argparse.Namespace) -> str:
    return f"reminder_run seed v{SEED_VERSION}: units={args.units} due={args.due} english_email={args.english_email}"


def _admin_connect_args(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": "postgres",
    }


async def restore_seed(url: str, signature: str) -> dict[str, Any] | None:
    """--reuse-seed: the database cloned from its seeded copy, and the seed's figures, if the copy was
    made by the same seed (its comment holds the signature and the figures); None otherwise."""
    import asyncpg

    name = pg_database_name(url)
    admin = await asyncpg.connect(**_admin_connect_args(url))
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", f"{name}_seed"
        )
        saved = json.loads(comment) if comment else {}
        if saved.get("signature") != signature:
            return None
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{name}_seed" STRATEGY = FILE_COPY')
    finally:
        await admin.close()
    info: dict[str, Any] = saved["info"]
    return info


async def save_seed(url: str, signature: str, info: dict[str, Any]) -> None:
    import asyncpg

    name = pg_database_name(url)
    admin = await asyncpg.connect(**_admin_connect_args(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}_seed" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}_seed" TEMPLATE "{name}" STRATEGY = FILE_COPY')
        comment = json.dumps({"signature": signature, "info": info}).replace("'", "''")
        await admin.execute(f"COMMENT ON DATABASE \"{name}_seed\" IS '{comment}'")
    finally:
        await admin.close()


# --------------------------------------------------------------------------------------------
# Measuring: clocks, and timers wrapped around the service's own functions.


def maxrss_mib() -> float:
    """Peak RSS (``ru_maxrss``). Linux carries it over from the parent at fork and exec, so the
    children are started by a driver that stays small (the seeding runs in a child of its own)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hwm_mib() -> float:
    """This process image's own peak RSS (VmHWM, reset at exec), to cross-check ``ru_maxrss``."""
    return proc_status_mib("VmHWM:")


class Clock:
    """Wall and CPU seconds of a stretch of code."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = cpu_s() - self._cpu


class Phases:
    """Wall and CPU time, and calls, per wrapped function (a wrapper costs about a microsecond)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def _add(self, name: str, wall: float, cpu: float) -> None:
        self.wall[name] += time.perf_counter() - wall
        self.cpu[name] += time.process_time() - cpu
        self.calls[name] += 1

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._add(name, wall, cpu)

            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(name, wall, cpu)

        return timed

    @contextmanager
    def patch(self, target: Any, names: dict[str, str]) -> Iterator[None]:
        """Wrap ``target.<attr>`` (a module's global or an object's method) as phase ``name``."""
        originals = {attr: getattr(target, attr) for attr in names}
        try:
            for attr, name in names.items():
                setattr(target, attr, self.wrap(name, originals[attr]))
            yield
        finally:
            for attr, original in originals.items():
                if isinstance(target, ModuleType):
                    setattr(target, attr, original)
                else:
                    delattr(target, attr)  # back to the class's own method

    def table(self, names: list[str]) -> dict[str, dict[str, float]]:
        return {
            n: {"wall_s": round(self.wall[n], 3), "cpu_s": round(self.cpu[n], 3), "calls": self.calls[n]}
            for n in names
            if self.calls[n]
        }


@contextmanager
def profiled(path: str | None) -> Iterator[None]:
    if not path:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)


def _profile_path(directory: str | None, name: str) -> str | None:
    return str(Path(directory) / f"reminder_run_{name}.prof") if directory else None


# --------------------------------------------------------------------------------------------
# Child process 1: decisions and the run.

# Each phase by the module of feesvc.letters whose global it wraps.
DECIDE_PHASES = {
    "deciding": {
        "estate_policy": "policy",
        "_held": "holds",
        "_covered_by_kept_plans": "plans kept (their charges)",
        "_units_to_ask": "units with case/complaint",
        "_last_letters": "last letters",
        "reminder_pause_reason": "per unit: pause reason",
        "active_case": "per unit: active case",
        "effective_decision": "per unit: decision",
        "unit_debts": "unit debts (1 query)",
        "owners_of": "owners (1 query, ORM)",
    },
}
#: Where the run keeps its letters as issued (the print file and the letters on demand read them).
LETTERS_DIR = Path(tempfile.gettempdir()) / "feesvc-bench-reminders-letters"

RUN_PHASES = {
    "runs": {
        "decide": "decide",
        "estate_terms": "estate terms (fee names per unit use, how to pay)",
        "record_audit": "audit",
    },
    "writing": {
        "_context": "letter context",
        "short_message": "short message",
        "render_letter_html": "letter HTML (Jinja)",
        "check_html": "compliance: check_html",
        "check_text": "compliance: check_text",
    },
    "issuing": {
        "issue_batch": "issue a batch: number, render (pool), store, add",
        "store_rendered": "store the rendered chunks",
        "_issue": "issue (ORM add)",
    },
}


def _phase_names(phases: dict[str, dict[str, str]]) -> list[str]:
    return [name for names in phases.values() for name in names.values()]


async def measure_run(url: str, profile_dir: str | None) -> dict[str, Any]:
    from feesvc.letters import compliance, deciding, issuing, runs, writing

    modules = {"deciding": deciding, "runs": runs, "writing": writing, "issuing": issuing}
    from feesvc.registry.service import get_estate

    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    async with engine.connect() as conn:  # open the pool's connection before the clock starts
        await conn.execute(text("SELECT 1"))
    figures: dict[str, Any] = {"baseline_rss_mib": rss_mib()}

    # (1) Decisions alone: every unit's position and letter, nothing written.
    phases = Phases()
    async with sessions() as session:
        estate = await get_estate(session, ESTATE_ID)
        with (
            ExitStack() as patches,
            profiled(_profile_path(profile_dir, "decide")),
            Clock() as clock,
        ):
            for module, names in DECIDE_PHASES.items():
                patches.enter_context(phases.patch(modules[module], names))
            planned, skipped, legal_review, units = await deciding.decide(session, estate, AS_OF)
        figures["decide"] = {
            "wall_s": clock.wall,
            "cpu_s": clock.cpu,
            "units_read": len(units),
            "planned": len(planned),
            "skipped": dict(skipped),
            "legal_review": len(legal_review),
            "phases": phases.table(_phase_names(DECIDE_PHASES)),
        }
        figures["rss_after_decide_mib"] = rss_mib()
        del planned, units
        await session.rollback()

    # (2) The whole run, committed.
    phases = Phases()
    async with sessions() as session:
        with (
            ExitStack() as patches,
            phases.patch(compliance, {"html_to_text": "compliance: html_to_text"}),
            phases.patch(session, {"flush": "session.flush", "commit": "session.commit"}),
            profiled(_profile_path(profile_dir, "run")),
            Clock() as clock,
        ):
            for module, names in RUN_PHASES.items():
                patches.enter_context(phases.patch(modules[module], names))
            children = children_cpu_s()
            summary = await runs.run_reminders(
                session, COMMAND_LINE, ESTATE_ID, AS_OF, files=LocalFileStore(LETTERS_DIR)
            )
            children = children_cpu_s() - children
    letters = sum(summary.letters_by_kind.values())
    names = [*_phase_names(RUN_PHASES), "compliance: html_to_text", "session.flush", "session.commit"]
    figures["run"] = {
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "children_cpu_s": children,  # the rendering pool's workers
        "run_id": summary.run_id,
        "letters": letters,
        "letters_by_kind": summary.letters_by_kind,
        "messages_by_channel": summary.messages_by_channel,
        "skipped_by_reason": summary.skipped_by_reason,
        "blocked": len(summary.blocked),
        "blocked_sample": summary.blocked[:3],
        "needs_attention": len(summary.needs_attention),
        "legal_review": len(summary.legal_review_units),
        "phases": phases.table(names),
    }
    figures["peak_rss_mib"] = maxrss_mib()
    figures["vm_hwm_mib"] = hwm_mib()
    async with sessions() as session:
        figures["db_letters"] = (
            await session.execute(select(func.count()).select_from(Letter).where(Letter.run_id == summary.run_id))
        ).scalar_one()
        figures["db_paper_letters"] = (
            await session.execute(
                select(func.count()).where(Letter.run_id == summary.run_id, Letter.channel == "paper")
            )
        ).scalar_one()
        figures["db_outbox"] = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    await engine.dispose()
    return figures


# --------------------------------------------------------------------------------------------
# Child process 2: the print file and a letter on demand.

LETTER_NO = re.compile(r"JXHY-\d{4}-HJ\d{6}")  # the estate's numbering (issue 16)


class TreeMemory:
    """Peak of the summed RSS of this process and all its descendants (the print file's pool workers
    and pdfunite), sampled every 0.5 s by a thread; the same for PSS every 2 s (shared pages such as the fonts
    and libraries counted once, split between the processes that map them); and this process's own
    peak RSS meanwhile."""

    def __init__(self) -> None:
        self.peak_total_mib = 0.0
        self.peak_total_pss_mib = 0.0
        self.peak_self_mib = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        samples = 0
        while True:
            parents: dict[int, int] = {}
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                parents[int(stat.parent.name)] = int(fields[1])
            tree = {me}
            grew = True
            while grew:
                more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
                tree |= more
                grew = bool(more)
            sizes = {pid: _proc_kib(f"/proc/{pid}/status", "VmRSS:") for pid in tree}
            self.peak_total_mib = max(self.peak_total_mib, sum(sizes.values()))
            if samples % 4 == 0:  # reading PSS walks page tables, ~10 ms a process: every 2 s
                pss = sum(_proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in tree)
                self.peak_total_pss_mib = max(self.peak_total_pss_mib, pss)
            samples += 1
            self.peak_self_mib = max(self.peak_self_mib, sizes[me])
            self.peak_processes = max(self.peak_processes, len(tree))
            if self._stop.wait(0.5):
                return


def _proc_kib(path: str, key: str) -> float:
    """A "Key: N kB" line of a /proc file, in MiB (0 once the process has gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_cpu_s() -> float:
    """CPU seconds of the waited-for children (the pool's workers once it shut down, and pdfunite)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children_maxrss_mib() -> float:
    """Peak RSS of the largest waited-for child."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


def _letters_in_print_order(path: Path, pages: int) -> list[str]:
    """The letter numbers in the PDF's text, in page order, each once (a letter's later pages
    repeat none or the same number); pdftotext over each half of the file at once (both CPUs)."""
    half = (pages + 1) // 2
    ranges = [(1, half), (half + 1, pages)] if pages > 1 else [(1, 1)]
    readers = [
        subprocess.Popen(["pdftotext", "-f", str(a), "-l", str(b), str(path), "-"], stdout=subprocess.PIPE, text=True)
        for a, b in ranges
    ]
    text = "".join(reader.communicate()[0] for reader in readers)
    numbers = LETTER_NO.findall(text)
    return [n for i, n in enumerate(numbers) if i == 0 or n != numbers[i - 1]]


async def measure_render(url: str, run_id: int, sample: int) -> dict[str, Any]:
    """The print file (``sample`` 0: the whole file through ``print_file``; otherwise that many
    letters spread over the print order through ``write_letters_pdf``), then a letter on demand."""
    from feesvc.letters.content import render_letter_pdf, write_letters_pdf
    from feesvc.letters.runs import stored_context
    from feesvc.letters.service import letter_pdf, print_file

    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    figures: dict[str, Any] = {"baseline_rss_mib": rss_mib()}
    # The letter numbers in print order, not the contexts: this process would keep their memory.
    async with sessions() as session:
        rows = await session.execute(
            select(col(Letter.id), col(Letter.letter_no))
            .join(Unit, col(Unit.id) == Letter.unit_id)
            .join(Building, col(Building.id) == Unit.building_id)
            .where(Letter.run_id == run_id, Letter.channel == "paper")
            .order_by(col(Letter.id))  # the run adds (and stores) its letters in print order
        )
        paper = rows.all()
    if not paper:
        await engine.dispose()
        return figures
    first_id = paper[0].id
    files_dir = Path(tempfile.mkdtemp(prefix="feesvc-bench-print-"))
    if sample <= 0 or sample >= len(paper):
        expected = [row.letter_no for row in paper]
        del paper
        cpu_children = children_cpu_s()
        with TreeMemory() as tree, Clock() as clock:
            async with sessions() as session:
                ref, _ = await print_file(session, run_id, LocalFileStore(LETTERS_DIR))
                path = Path(ref)  # the local store's ref is the file's path
    else:
        chosen = paper[:: len(paper) // sample][:sample]
        expected = [row.letter_no for row in chosen]
        async with sessions() as session:
            found = await session.execute(
                select(col(Letter.id), col(Letter.context)).where(col(Letter.id).in_([row.id for row in chosen]))
            )
            by_id = {letter_id: context for letter_id, context in found.all()}
        contexts = [stored_context(by_id[row.id]) for row in chosen]
        del paper, chosen, by_id
        path = files_dir / "sample.pdf"
        cpu_children = children_cpu_s()
        with TreeMemory() as tree, Clock() as clock:
            write_letters_pdf(contexts, path)
        del contexts
    cpu_children = children_cpu_s() - cpu_children
    letters = len(expected)
    pages = _pdf_pages(path)
    in_file = _letters_in_print_order(path, pages)
    figures["combined"] = {
        "letters": letters,
        "whole_file": sample <= 0 or sample >= letters,
        "wall_s": clock.wall,
        "cpu_s": clock.cpu,
        "children_cpu_s": cpu_children,
        "letters_per_s": letters / clock.wall,
        "letters_per_cpu_s": letters / (clock.cpu + cpu_children),
        "pdf_bytes": path.stat().st_size,
        "pages": pages,
        "order_ok": in_file == expected,
        "order_mismatch": next(
            ([i, a, b] for i, (a, b) in enumerate(zip(in_file, expected, strict=False)) if a != b),
            [len(in_file), len(expected)] if len(in_file) != len(expected) else None,
        ),
        "peak_tree_rss_mib": tree.peak_total_mib,
        "peak_tree_pss_mib": tree.peak_total_pss_mib,
        "peak_self_rss_mib": tree.peak_self_mib,
        "processes": tree.peak_processes,
        "largest_child_peak_rss_mib": children_maxrss_mib(),
    }
    shutil.rmtree(files_dir)

    async with sessions() as session:
        first_letter = await session.get(Letter, first_id)
        assert first_letter is not None
        first = stored_context(first_letter.context)
    # A single letter on demand: cold (the first render in the process pays for WeasyPrint's import
    # and its fonts), then warm: the median of 10; one of each kind; and through letter_pdf, which
    # reads the letter first.
    with Clock() as cold:
        pdf = render_letter_pdf(first)
    warm_wall, warm_cpu = [], []
    for _ in range(10):
        with Clock() as clock:
            render_letter_pdf(first)
        warm_wall.append(clock.wall)
        warm_cpu.append(clock.cpu)
    by_kind: dict[str, float] = {}
    async with sessions() as session:
        kinds = (
            await session.execute(
                select(col(Letter.kind), func.min(Letter.id)).where(Letter.run_id == run_id).group_by(col(Letter.kind))
            )
        ).all()
        for kind, letter_id in kinds:
            letter = await session.get(Letter, letter_id)
            assert letter is not None
            ctx = stored_context(letter.context)
            samples = []
            for _ in range(3):
                with Clock() as clock:
                    render_letter_pdf(ctx)
                samples.append(clock.wall)
            by_kind[kind] = statistics.median(samples)
    on_demand = []
    async with sessions() as session:
        for _ in range(10):
            with Clock() as clock:
                await letter_pdf(session, first_id, LocalFileStore(LETTERS_DIR))
            on_demand.append(clock.wall)
    figures["single"] = {
        "kind": first.kind.value,
        "cold_s": cold.wall,
        "cold_cpu_s": cold.cpu,
        "median_s": statistics.median(warm_wall),
        "median_cpu_s": statistics.median(warm_cpu),
        "min_s": min(warm_wall),
        "max_s": max(warm_wall),
        "median_by_kind_s": by_kind,
        "letter_pdf_median_s": statistics.median(on_demand),
        "pdf_bytes": len(pdf),
    }
    figures["peak_rss_mib"] = maxrss_mib()
    figures["vm_hwm_mib"] = hwm_mib()
    await engine.dispose()
    return figures


def seed_main(args: argparse.Namespace) -> dict[str, Any]:
    with Clock() as seeding:
        with Clock() as building:
            tables, info = build_seed(args.units, args.due, args.english_email)
        asyncio.run(seed(args.pg_url, tables))
    return {"seed_s": seeding.wall, "build_s": building.wall, "peak_rss_mib": maxrss_mib(), **info.as_dict()}


def child_main(args: argparse.Namespace) -> None:
    if args.child == "seed":
        figures = seed_main(args)
    elif args.child == "run":
        figures = asyncio.run(measure_run(args.pg_url, args.profile_dir))
    else:
        figures = asyncio.run(measure_render(args.pg_url, args.child_run_id, args.render_sample))
    print(json.dumps(figures, default=str))


def run_child(args: argparse.Namespace, which: str, run_id: int | None = None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", which, "--pg-url", args.pg_url]
    command += ["--render-sample", str(args.render_sample), "--units", str(args.units), "--due", str(args.due)]
    if args.english_email:
        command.append("--english-email")
    if run_id is not None:
        command += ["--child-run-id", str(run_id)]
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
        command += ["--profile-dir", args.profile_dir]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if completed.stderr:
        print(completed.stderr, file=sys.stderr, end="")
    if completed.returncode != 0:
        raise SystemExit(f"the {which} child failed (exit {completed.returncode})")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


# --------------------------------------------------------------------------------------------
# The driver.


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(info: dict[str, Any], run: dict[str, Any], rnd: dict[str, Any]) -> list[str]:
    lines = []
    d, r = run["decide"], run["run"]
    target_decide = d["wall_s"] < 30
    lines.append(
        f"(1) decisions   {d['wall_s']:7.2f} s wall, {d['cpu_s']:6.2f} s CPU   {d['units_read']:,} units, "
        f"{d['planned']:,} letters planned   target < 30 s: {_verdict(target_decide)}"
    )
    for name, p in d["phases"].items():
        lines.append(f"      {name:<34} {p['wall_s']:7.2f} s wall {p['cpu_s']:7.2f} s CPU  {p['calls']:>7,} calls")
    letters = r["letters"]
    decide_in_run = r["phases"].get("decide", {}).get("wall_s", 0.0)
    lines.append(
        f"(2) whole run   {r['wall_s']:7.2f} s wall, {r['cpu_s']:6.2f} s CPU   {letters:,} letters, "
        f"{letters / r['wall_s']:,.1f} letters/s ({letters / max(r['wall_s'] - decide_in_run, 1e-9):,.1f}/s after "
        f"decisions); blocked {r['blocked']}, legal review {r['legal_review']}"
    )
    lines.append(
        f"      rendering every letter at issue: {r.get('children_cpu_s', 0.0):.1f} s CPU in the pool's workers, "
        f"{letters / max(r['cpu_s'] + r.get('children_cpu_s', 0.0), 1e-9):,.1f} letters per CPU s in all"
    )
    for name, p in r["phases"].items():
        lines.append(f"      {name:<34} {p['wall_s']:7.2f} s wall {p['cpu_s']:7.2f} s CPU  {p['calls']:>7,} calls")
    top = sum(p["wall_s"] for n, p in r["phases"].items() if not n.startswith(("compliance: html", "session.flush")))
    lines.append(f"      {'(rest: the loop itself)':<34} {r['wall_s'] - top:7.2f} s wall")
    lines.append(f"      letters by kind {r['letters_by_kind']}; messages {r['messages_by_channel']}")
    lines.append(f"      skipped {r['skipped_by_reason']}; needs attention {r.get('needs_attention', 0)}")
    exp = info["expected"]
    check = []
    if r["letters_by_kind"] != exp["letters_by_kind"]:
        check.append(f"letters {r['letters_by_kind']} != expected {exp['letters_by_kind']}")
    if r["skipped_by_reason"] != exp["skipped_by_reason"]:
        check.append(f"skipped {r['skipped_by_reason']} != expected {exp['skipped_by_reason']}")
    if run["db_letters"] != letters or run["db_paper_letters"] != exp["paper_letters"]:
        check.append(
            f"stored {run['db_letters']} letters, {run['db_paper_letters']} on paper (expected "
            f"{letters}, {exp['paper_letters']})"
        )
    if run["db_outbox"] != exp["email_messages"]:
        check.append(f"outbox {run['db_outbox']} != expected {exp['email_messages']}")
    if r.get("needs_attention", 0) != exp.get("needs_attention", 0):
        check.append(f"needs attention {r.get('needs_attention', 0)} != expected {exp.get('needs_attention', 0)}")
    lines.append(f"      check: {'OK' if not check else 'MISMATCH'}" + "".join(f"\n        {c}" for c in check))
    lines.append(
        f"      peak RSS of the run process {run['peak_rss_mib']:.0f} MiB (VmHWM {run['vm_hwm_mib']:.0f}; "
        f"baseline after imports {run['baseline_rss_mib']:.0f}, after decide {run['rss_after_decide_mib']:.0f})"
    )
    if "single" in rnd:
        s, c = rnd["single"], rnd["combined"]
        what = "the whole print file" if c["whole_file"] else "a sample spread over the print order"
        lines.append(
            f"(3) print file  {what}: {c['letters']:,} letters, {c['pages']:,} pages, {c['pdf_bytes'] / 2**20:.1f} MiB "
            f"in {c['wall_s']:.1f} s wall: {c['letters_per_s']:.1f} letters/s ({c['letters_per_cpu_s']:.1f} per CPU s; "
            f"CPU {c['cpu_s']:.1f} s here + {c['children_cpu_s']:.1f} s in the workers and pdfunite)   "
            f"target >= 20 letters/s: {_verdict(c['letters_per_s'] >= 20)}"
        )
        order = "OK" if c["order_ok"] else f"MISMATCH {c['order_mismatch']}"
        lines.append(f"      letters in print order in the file: {order}")
        lines.append(
            f"(4) one letter  {s['median_s'] * 1000:.0f} ms median of 10 warm ({s['median_cpu_s'] * 1000:.0f} ms CPU; "
            f"min {s['min_s'] * 1000:.0f}, max {s['max_s'] * 1000:.0f}), cold first {s['cold_s'] * 1000:.0f} ms, "
            f"letter_pdf with its DB read {s['letter_pdf_median_s'] * 1000:.0f} ms   target < 300 ms: "
            f"{_verdict(s['median_s'] < 0.3)}"
        )
        lines.append("      by kind: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in s["median_by_kind_s"].items()))
        lines.append(
            f"(5) peak memory run {run['peak_rss_mib']:.0f} MiB; print file: all its {c['processes']} processes "
            f"together {c['peak_tree_rss_mib']:.0f} MiB RSS, {c['peak_tree_pss_mib']:.0f} MiB PSS (sampled every "
            "0.5 s; this process "
            f"{c['peak_self_rss_mib']:.0f}, the largest worker {c['largest_child_peak_rss_mib']:.0f}); the render "
            f"process after the letters on demand {rnd['peak_rss_mib']:.0f}   target < 1 GB: "
            f"{_verdict(max(run['peak_rss_mib'], c['peak_tree_rss_mib'], rnd['peak_rss_mib']) < 1024)}"
            + ("" if c["whole_file"] else " (for the sample)")
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time a reminder run, its print file and a letter on demand.")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=20_000, help="units left overdue (default 20,000)")
    parser.add_argument(
        "--render-sample",
        type=int,
        default=0,
        help="letters spread over the print order rendered into one PDF (default 0: the whole print file)",
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--english-email",
        action="store_true",
        help="let English readers prefer e-mail too (their final demands' short messages do not fit: blocked)",
    )
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="keep a seeded copy as the database <name>_seed and clone it next time instead of seeding again",
    )
    parser.add_argument("--profile-dir", help="write cProfile files of decide and the run here")
    parser.add_argument("--json", action="store_true", help="write the figures as JSON to stdout")
    parser.add_argument("--child", choices=["seed", "run", "render"], help=argparse.SUPPRESS)
    parser.add_argument("--child-run-id", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    global _JSON_MODE
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return
    if args.units < 1 or args.due < 0:
        raise SystemExit("--units must be at least 1 and --due at least 0")
    _JSON_MODE = args.json
    pg_database_name(args.pg_url)  # refuse early, before any work
    load_before = os.getloadavg()[0]
    log(
        f"reminder-run benchmark: {args.units:,} units, {min(args.due, args.units):,} overdue, as of {AS_OF}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load_before:.2f} "
        "(others' work on the machine skews wall times; CPU times are this process's own)"
    )
    signature = seed_signature(args)
    with Clock() as migrate:
        info = asyncio.run(restore_seed(args.pg_url, signature)) if args.reuse_seed else None
        if info is None:
            asyncio.run(prepare_postgres(args.pg_url, log))
            upgrade(args.pg_url)  # runs its own event loop: called from plain synchronous code
    if info is not None:
        log(f"restored the seeded database from {pg_database_name(args.pg_url)}_seed in {migrate.wall:.1f} s")
    else:
        info = run_child(args, "seed")  # in a child: the rows built in Python must not inflate others' ru_maxrss
        log(
            f"migrated in {migrate.wall:.1f} s; seeded in {info['seed_s']:.1f} s ({info['build_s']:.1f} s building "
            "the rows in Python, the rest COPY/INSERT and ANALYZE): "
            + ", ".join(f"{n} {c:,}" for n, c in info["rows"].items() if c)
        )
        if args.reuse_seed:
            asyncio.run(save_seed(args.pg_url, signature, info))
            log(f"saved the seeded database as {pg_database_name(args.pg_url)}_seed")
    log("overdue units: " + ", ".join(f"{k} {v:,}" for k, v in info["stages"].items()))
    run = run_child(args, "run")
    log(f"run done (load average {os.getloadavg()[0]:.2f})")
    rnd = run_child(args, "render", run["run"]["run_id"]) if run["run"]["run_id"] else {}
    load_after = os.getloadavg()[0]
    log("")
    for line in report(info, run, rnd):
        log(line)
    log(f"load average {load_before:.2f} before, {load_after:.2f} after")
    if args.json:
        payload = {
            "benchmark": "reminder_run",
            "date": date.today().isoformat(),  # noqa: DTZ011 (the machine's date, for the record)
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "as_of": AS_OF.isoformat(),
            "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
            "migrate_s": migrate.wall,
            "seed": info,
            "driver_peak_rss_mib": maxrss_mib(),
            "run": run,
            "render": rnd,
        }
        print(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
