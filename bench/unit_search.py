"""Benchmark: the unit search (``GET /api/v1/estates/{id}/units``) over a large estate.

    .venv/bin/python bench/unit_search.py [--units 100000] [--months 12] [--arrears-share 0.12]
        [--requests 200] [--db sqlite|postgresql|both]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_search] [--json]

The issue's target: p99 < 30 ms over 100,000 units. The script prints figures and asserts nothing.

1. Builds its database through the Alembic migrations (SQLite: a temporary file; PostgreSQL: the
   database named by ``--pg-url``, which must contain "bench": its public schema is dropped) and
   seeds it in bulk (not timed with the searches; "seed s"): one estate, 100 buildings, N units,
   one owner per unit with a mobile number (about ten owners share each last 4 digits), ``--months``
   monthly charges per unit ending last month (due on the 1st), each settled by a payment entry
   except, for ``--arrears-share`` of the units, the last 1–6 months, which stay open with a late
   fee on each but the newest; open arrears cases on a tenth of the units in arrears, half of them
   with a manager's cause. (Payment entries carry no payment row: the search reads the ledger only.)
   Then each unit's position is computed from its ledger (``ledger.position.refresh_positions``,
   what the ledger's writers keep in their transactions), and ``ANALYZE`` (``VACUUM ANALYZE`` on
   PostgreSQL, as autovacuum leaves a live server).
2. Sends ``--requests`` searches of each kind through the app in this process (Litestar's test
   client: routing, the bearer token, validation, the service, JSON; no HTTP server), as a cashier,
   after 10 of each not counted, and reports per kind: p50, p95, p99 and max milliseconds, the
   rows matched (``total``) and this process's CPU per request. Kinds: the estate page by page
   (random page of the first 100), a unit number (numbered floor then room, 101 … 5020: one per
   building matches) and a floor (the number's prefix: 20 per building and more for floors 1–5,
   whose prefix starts the numbers of floors 10–59 too), a building (random page), an owner's
   phone's last 4 digits, units in arrears (first page, and a random page of the first 20), units
   in arrears in a building, and paid-up units (in_arrears=false); the in_arrears kinds
   ``--arrears-requests`` times each (200 by default, as the others: since the unit position they
   read an index, not every unit's ledger; see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import cpu_s, prepare_postgres  # noqa: E402
from bench.reminder_run import _copy  # noqa: E402
from feesvc.app import create_app  # noqa: E402
from feesvc.arrears.models import ArrearsCase, ArrearsOverride, CaseStatus, Cause  # noqa: E402
from feesvc.auth.models import Role  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.auth.service import create_token  # noqa: E402
from feesvc.db import business_today, create_engine, session_factory  # noqa: E402
from feesvc.ledger.models import EntryKind, LedgerEntry  # noqa: E402
from feesvc.ledger.position import refresh_positions  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit, UnitUse  # noqa: E402
from feesvc.settings import DatabaseSettings, Settings  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_search"
ESTATE_ID = 1
BUILDINGS = 100
MONTHLY_FEN = 25_000
SEED = 20261207
SEED_BATCH = 10_000
WARMUP = 10
UNITS_PER_CHUNK = 2_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _row(model: type[Any], **values: Any) -> dict[str, Any]:
    """A full row for a Core insert: the model's own defaults (new columns included), then ``values``."""
    row: dict[str, Any] = model(**values).model_dump()
    if row.get("id") is None:
        row.pop("id", None)
    return row


def _months(last: date, count: int) -> list[date]:
    """The first days of ``count`` months ending with ``last``'s month, oldest first."""
    firsts = []
    year, month = last.year, last.month
    for _ in range(count):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


ROOMS_PER_FLOOR = 20


def unit_number(n: int) -> str:
    """The n-th unit of a building (from 0): floor, then room, as 101 … 120, 201 … 5020."""
    return f"{n // ROOMS_PER_FLOOR + 1}{n % ROOMS_PER_FLOOR + 1:02d}"


@dataclass
class SeedInfo:
    units: int
    per_building: int
    arrears_units: list[int]  # filled as the ledger is loaded
    rows: dict[str, int]


def build_seed(units: int, months: int, arrears_share: float, today: date) -> tuple[list[Any], SeedInfo]:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    per_building = -(-units // BUILDINGS)
    last_month = _months(today.replace(day=1), 2)[0]  # last month: every charge is past due
    firsts = _months(last_month, months)
    estate = _row(Estate, id=ESTATE_ID, code="SEARCH", name="Search Gardens", company_name="Bench Co.", created_at=now)
    buildings = [_row(Building, id=b, estate_id=ESTATE_ID, name=f"{b}栋") for b in range(1, BUILDINGS + 1)]
    unit = _row(
        Unit,
        id=0,
        estate_id=ESTATE_ID,
        building_id=1,
        number="",
        floor_area_m2=Decimal("100.00"),
        use=UnitUse.residential,
    )
    unit_rows, owner_rows, ownership_rows = [], [], []
    owner = _row(Owner, id=0, name="")
    ownership = _row(Ownership, id=0, unit_id=0, owner_id=0, starts_on=date(2020, 1, 1))
    for i in range(1, units + 1):
        b, n = (i - 1) // per_building + 1, (i - 1) % per_building
        unit_rows.append({**unit, "id": i, "building_id": b, "number": unit_number(n)})
        owner_rows.append({**owner, "id": i, "name": f"业主{i}", "phone": f"138{rng.randrange(10**8):08d}"})
        ownership_rows.append({**ownership, "id": i, "unit_id": i, "owner_id": i})
    entry = _row(
        LedgerEntry,
        estate_id=ESTATE_ID,
        unit_id=0,
        kind=EntryKind.charge,
        amount_fen=1,
        effective_date=firsts[0],
        actor="bench:seed",
        created_at=now,
    )
    arrears_units: list[int] = []
    counts = {"ledger_entry": 0}

    def ledger_chunks() -> Iterator[list[dict[str, Any]]]:
        """The ledger, UNITS_PER_CHUNK units at a time (all of it at once would take gigabytes):
        each chunk's charges first, then what settles them and the late fees on them."""
        next_id = 1
        for chunk_start in range(1, units + 1, UNITS_PER_CHUNK):
            charges: list[dict[str, Any]] = []
            others: list[dict[str, Any]] = []
            for i in range(chunk_start, min(units, chunk_start + UNITS_PER_CHUNK - 1) + 1):
                unpaid = rng.randint(1, min(6, months)) if rng.random() < arrears_share else 0
                if unpaid:
                    arrears_units.append(i)
                for m, first in enumerate(firsts):
                    period = f"{first:%Y-%m}"
                    charge = {
                        **entry,
                        "id": next_id,
                        "unit_id": i,
                        "owner_id": i,
                        "amount_fen": MONTHLY_FEN,
                        "effective_date": first,
                        "due_date": first,
                        "period": period,
                        "period_months": 1,
                        "item": "service_fee",
                    }
                    charges.append(charge)
                    next_id += 1
                    common = {**entry, "unit_id": i, "owner_id": i, "period": period}
                    if m < months - unpaid:
                        settles = {"settles_entry_id": charge["id"], "effective_date": first.replace(day=20)}
                        others.append({**common, **settles, "kind": EntryKind.payment, "amount_fen": -MONTHLY_FEN})
                    elif m < months - 1:  # a late fee on each open month but the newest
                        basis = {"basis_entry_id": charge["id"], "effective_date": last_month}
                        others.append({**common, **basis, "kind": EntryKind.late_fee, "amount_fen": 750})
            for row in others:
                row["id"] = next_id
                next_id += 1
            counts["ledger_entry"] += len(charges) + len(others)
            yield charges + others

    overrides: list[dict[str, Any]] = []

    def cases_for(in_arrears: list[int]) -> list[dict[str, Any]]:
        """Open cases on a tenth of the units in arrears, half of them with a manager's cause."""
        cases = []
        for n, unit_id in enumerate(in_arrears[::10], start=1):
            cases.append(
                _row(
                    ArrearsCase,
                    id=n,
                    estate_id=ESTATE_ID,
                    unit_id=unit_id,
                    owner_id=unit_id,
                    status=CaseStatus.open,
                    opened_by="manager:seed",
                    opened_at=now,
                )
            )
            if n % 2:
                overrides.append(
                    _row(
                        ArrearsOverride,
                        id=len(overrides) + 1,
                        case_id=n,
                        category=Cause.hardship if n % 4 == 1 else Cause.service_dissatisfaction,
                        reason="benchmark: decided after a call with the owner",
                        created_by="manager:seed",
                        created_at=now,
                    )
                )
        return cases

    tables = [
        (Estate, [estate]),
        (Building, buildings),
        (Unit, unit_rows),
        (Owner, owner_rows),
        (Ownership, ownership_rows),
        (LedgerEntry, ledger_chunks()),
        (ArrearsCase, lambda: cases_for(arrears_units)),
        (ArrearsOverride, lambda: overrides),
    ]
    return tables, SeedInfo(units, per_building, arrears_units, counts)


async def load(url: str, tables: list[tuple[type[Any], Any]]) -> None:
    """Insert each table's rows: a list, a function giving one (called in turn, after the tables
    before it are loaded), or an iterator of lists (chunks). COPY on PostgreSQL for big lists."""
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            for model, source in tables:
                table = model.__table__
                rows = source() if callable(source) else source
                chunks = [rows] if isinstance(rows, list) else rows
                for chunk in chunks:
                    if not chunk:
                        continue
                    if postgres and len(chunk) > SEED_BATCH:
                        await _copy(conn, table, chunk)
                        continue
                    for start in range(0, len(chunk), SEED_BATCH):
                        await conn.execute(insert(table), chunk[start : start + SEED_BATCH])
            if postgres:
                for model, _ in tables:
                    name = model.__tablename__
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                        )
                    )
        # Each unit's position (balance, earliest open due date), as the ledger's writers would
        # have kept it: the seed's entries go in underneath them (feesvc.ledger.position).
        async with session_factory(engine)() as session:
            await refresh_positions(session, list((await session.execute(select(Unit.id))).scalars()))
            await session.commit()
        # As a live server's autovacuum would leave the tables: statistics for the planner, and on
        # PostgreSQL the visibility map too, without which a count reads every row's heap page.
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    finally:
        await engine.dispose()


async def cashier_token(url: str) -> str:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            secret, _ = await create_token(session, COMMAND_LINE, Role.cashier, "bench cashier")
        return secret
    finally:
        await engine.dispose()


def kinds(info: SeedInfo, rng: random.Random) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each kind of search: a function giving one request's query parameters."""

    floors = -(-info.per_building // ROOMS_PER_FLOOR)

    def number() -> str:
        return unit_number(rng.randrange(info.per_building))

    def building() -> str:
        return f"{rng.randint(1, BUILDINGS)}栋"

    return {
        "estate, page 1-100": lambda: {"page": rng.randint(1, 100)},
        "unit number": lambda: {"q": number()},
        "a floor (number prefix)": lambda: {"q": str(rng.randint(1, floors))},
        "building, a page": lambda: {"building": building(), "page": rng.randint(1, max(1, info.per_building // 20))},
        "owner phone last 4": lambda: {"owner_phone_last4": f"{rng.randrange(10_000):04d}"},
        "in arrears, page 1": lambda: {"in_arrears": "true"},
        "in arrears, page 1-20": lambda: {"in_arrears": "true", "page": rng.randint(1, 20)},
        "in arrears in a building": lambda: {"in_arrears": "true", "building": building()},
        "paid up, page 1": lambda: {"in_arrears": "false"},
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(url: str, info: SeedInfo, requests: int, arrears_requests: int) -> list[dict[str, Any]]:
    token = await cashier_token(url)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(SEED + 1)
    results = []
    app = create_app(Settings(database=DatabaseSettings(url=url)))
    async with AsyncTestClient(app=app) as client:
        path = f"/api/v1/estates/{ESTATE_ID}/units"
        for name, params in kinds(info, rng).items():
            count = arrears_requests if "arrears" in name or "paid up" in name else requests
            for _ in range(WARMUP if count == requests else 1):
                response = await client.get(path, params=params(), headers=headers)
                assert response.status_code == 200, response.text
            times, totals = [], []
            cpu_before = cpu_s()
            for _ in range(count):
                query = params()
                start = time.perf_counter()
                response = await client.get(path, params=query, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
                totals.append(response.json()["total"])
            cpu_ms = (cpu_s() - cpu_before) * 1000 / count
            results.append(
                {
                    "kind": name,
                    "requests": count,
                    "p50_ms": statistics.median(times),
                    "p95_ms": percentile(times, 0.95),
                    "p99_ms": percentile(times, 0.99),
                    "max_ms": max(times),
                    "matched_median": statistics.median(totals),
                    "client_cpu_ms": cpu_ms,
                }
            )
            log(f"  {name}: p99 {results[-1]['p99_ms']:.1f} ms")
    return results


def table(database: str, info: SeedInfo, seed_s: float, results: list[dict[str, Any]]) -> str:
    load1 = os.getloadavg()[0]
    lines = [
        f"{database}: {info.units:,} units, {info.rows['ledger_entry']:,} ledger entries, "
        f"{len(info.arrears_units):,} units in arrears, seed {seed_s:.0f} s, load (1 min) {load1:.1f}",
        f"{'search':<28} {'n':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'matched':>8} {'CPU ms':>7}",
    ]
    for r in results:
        lines.append(
            f"{r['kind']:<28} {r['requests']:>4} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['max_ms']:>7.1f} {r['matched_median']:>8,.0f} {r['client_cpu_ms']:>7.1f}"
        )
    return "\n".join(lines)


async def bench_one(database: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    if database == "postgresql":
        await prepare_postgres(url, log)
    await asyncio.to_thread(upgrade, url)
    log(f"{database}: seeding {args.units:,} units × {args.months} months")
    started = time.perf_counter()
    tables, info = build_seed(args.units, args.months, args.arrears_share, business_today())
    await load(url, tables)
    del tables
    seed_s = time.perf_counter() - started
    log(f"{database}: seeded in {seed_s:.0f} s; searching")
    results = await measure(url, info, args.requests, args.arrears_requests)
    print(table(database, info, seed_s, results), file=sys.stderr if args.json else sys.stdout)
    return {"database": database, "units": info.units, "rows": info.rows, "seed_s": seed_s, "results": results}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12, help="monthly charges per unit (default 12)")
    parser.add_argument("--arrears-share", type=float, default=0.12, help="share of units in arrears")
    parser.add_argument("--requests", type=int, default=200, help="timed searches of each kind")
    parser.add_argument(
        "--arrears-requests", type=int, default=200, help="timed searches of each in_arrears kind (default 200)"
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout, the table on stderr")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    figures = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            figures.append(await bench_one("sqlite", f"sqlite:///{tmp}/search.db", args))
    if args.db in ("postgresql", "both"):
        figures.append(await bench_one("postgresql", args.pg_url, args))
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
