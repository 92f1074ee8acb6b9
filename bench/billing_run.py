"""Benchmark: one billing run over a large estate, on SQLite and on PostgreSQL.

    .venv/bin/python bench/billing_run.py [--units 100000] [--db sqlite|postgresql|both]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench] [--credit-units 300]
        [--tracemalloc] [--profile-dir DIR] [--json]

For each database the script builds a fresh schema through the Alembic migrations, seeds one
estate with bulk Core inserts (not timed), then times ``run_billing`` from the call to its commit,
and times an idempotent rerun of the same period. The two runs happen in a child process of their
own, so the peak RSS it reports belongs to the billing run (plus the interpreter and imports, shown
as the baseline), not to the seeding. It prints figures and asserts nothing; the correctness check
at the end is a sanity figure (OK / MISMATCH).

The PostgreSQL database is dropped and rebuilt (``DROP SCHEMA public CASCADE``), so the script
refuses any database whose name does not contain "bench"; it never touches the ``test`` database
the test suite uses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve at flush)
from bench.common import cpu_s, pg_database_name, prepare_postgres  # noqa: E402
from bench.sales import SoldShare, sold_share  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.billing.rules import to_fen  # noqa: E402
from feesvc.billing.service import run_billing  # noqa: E402
from feesvc.db import create_engine, session_factory  # noqa: E402
from feesvc.ledger.models import EntryKind, LedgerEntry  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.registry.models import (  # noqa: E402
    Building,
    Estate,
    Owner,
    Ownership,
    Unit,
    UnitUse,
)
from feesvc.rules.proration import SaleProration  # noqa: E402
from feesvc.settings import DatabaseSettings  # noqa: E402
from feesvc.standards.models import Basis, DecisionKind, FeeStandard  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench"
PERIOD = "2026-11"
ISSUED_ON = date(2026, 11, 1)
CREDIT_ON = date(2026, 10, 15)  # the seeded prepaid credit's date: before every handover (the seller's)
RATE = Decimal("2.80")
ITEM = "service_fee"
BUILDINGS = 100
SEED = 20261101
SEED_BATCH = 10_000
ESTATE_ID = 1
STANDARD_ID = 1


# --------------------------------------------------------------------------------------------
# Seed data, generated in Python so the expected totals are known without asking the database.


@dataclass
class SeedPlan:
    units: int
    areas: list[Decimal]  # index i is unit id i + 1
    credits: dict[int, int]  # unit id -> prepaid credit in fen (positive here; stored negative)
    # 5 % of the units sold, half with the handover in the middle of the billed period (bench/sales.py).
    sold: SoldShare

    @property
    def expected_charge_fen(self) -> int:
        return sum(to_fen(area * RATE) for area in self.areas)

    def expected_charges(self, proration: SaleProration) -> int:
        """Charges the run issues: one a unit, two for a unit sold mid-period when split by days."""
        return self.units + (self.sold.mid_period if proration == SaleProration.by_days else 0)

    def expected_credit_applied_fen(self, proration: SaleProration) -> int:
        """Credit is the seller's on a sold unit (it predates the handover): it pays the seller's
        part of the period only (credit is applied per owner)."""
        applied = 0
        for unit_id, fen in self.credits.items():
            charge = to_fen(self.areas[unit_id - 1] * RATE)
            shares = self.sold.charge_shares(unit_id, charge, ISSUED_ON, self.sold.period_last, proration)
            applied += min(fen, sum(part for owner, part in shares if owner == unit_id))
        return applied


def make_plan(units: int, credit_units: int) -> SeedPlan:
    rng = random.Random(SEED)
    areas = [Decimal(rng.randint(6000, 18000)).scaleb(-2) for _ in range(units)]  # 60.00 … 180.00
    credit_units = min(credit_units, units)
    step = units // credit_units if credit_units else 0
    credits: dict[int, int] = {}
    for k in range(credit_units):
        unit_id = k * step + 1
        # A third cover the charge in full (and keep a remainder), the rest cover part of it.
        credits[unit_id] = 60_000 if k % 3 == 0 else rng.randint(1_000, 15_000)
    return SeedPlan(units=units, areas=areas, credits=credits, sold=sold_share(units, ISSUED_ON))


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + SEED_BATCH] for i in range(0, len(rows), SEED_BATCH)]


def _row(model: type[Any], **values: Any) -> dict[str, Any]:
    """A full row for a Core insert: the model's own defaults (new columns included), then ``values``."""
    row: dict[str, Any] = model(**values).model_dump()
    if row.get("id") is None:
        row.pop("id", None)  # let the database number it
    return row


async def seed(url: str, plan: SeedPlan) -> None:
    now = datetime.now(UTC)
    engine = create_engine(DatabaseSettings(url=url))
    per_building = -(-plan.units // BUILDINGS)
    estate = _row(
        Estate,
        id=ESTATE_ID,
        code="BENCH",
        name="Benchmark Gardens",
        company_name="Benchmark Property Management Co.",
        cycle_months=1,
        due_day=1,
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
        item_name="物业服务费",
        basis=Basis.per_m2_month,
        rate=RATE,
        effective_from=date(2026, 1, 1),
        posted_on=date(2025, 12, 1),
        decision_kind=DecisionKind.contract,
        decision_ref="benchmark contract",
    )
    credit = _row(
        LedgerEntry,
        estate_id=ESTATE_ID,
        unit_id=0,
        kind=EntryKind.prepaid_credit,
        amount_fen=-1,
        effective_date=CREDIT_ON,
        actor="bench:seed",
        created_at=now,
    )
    credits = [
        {**credit, "unit_id": unit_id, "owner_id": plan.sold.owner_on(unit_id, CREDIT_ON), "amount_fen": -fen}
        for unit_id, fen in plan.credits.items()
    ]
    tables = [
        (Estate, [estate]),
        (Building, buildings),
        (Unit, units),
        (Owner, owners),
        (Ownership, ownerships),
        (FeeStandard, [standard]),
        (LedgerEntry, credits),
    ]
    async with engine.begin() as conn:
        for model, rows in tables:
            table = model.__table__  # type: ignore[attr-defined]
            for batch in _batches(rows):
                await conn.execute(insert(table), batch)
        if conn.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; move them on as the application would find them.
            for model, _ in tables:
                name = model.__tablename__  # type: ignore[attr-defined]
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                    )
                )
    if engine.dialect.name == "postgresql":
        # Autovacuum would analyse freshly loaded tables on a live server; do it now so the planner
        # sees the real row counts rather than an empty table's defaults.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


# --------------------------------------------------------------------------------------------
# Database preparation.


# --------------------------------------------------------------------------------------------
# The measured part, run in a child process.


def rss_kib() -> int:
    """Current resident set size (VmRSS) in KiB, from /proc; 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def measure(url: str, use_tracemalloc: bool, profile_path: str | None) -> dict[str, Any]:
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    async with engine.connect() as conn:  # open the pool's connection before the clock starts
        await conn.execute(text("SELECT 1"))
    figures: dict[str, Any] = {
        "baseline_rss_mib": rss_kib() / 1024,
        "baseline_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }

    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
    if profiler:
        profiler.enable()
    cpu = cpu_s()
    started = time.perf_counter()
    async with sessions() as session:
        first = await run_billing(session, COMMAND_LINE, ESTATE_ID, PERIOD, ISSUED_ON)
    figures["run_s"] = time.perf_counter() - started
    figures["run_cpu_s"] = cpu_s() - cpu
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    if use_tracemalloc:
        figures["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    async with sessions() as session:
        second = await run_billing(session, COMMAND_LINE, ESTATE_ID, PERIOD, ISSUED_ON)
    figures["rerun_s"] = time.perf_counter() - started
    figures["peak_rss_after_rerun_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures.update(
        charges_issued=first.charges_issued,
        credit_applied_fen=first.credit_applied_fen,
        units_without_standard=first.units_without_standard,
        rerun_charges_issued=second.charges_issued,
        rerun_already_issued=second.charges_already_issued,
        rerun_credit_applied_fen=second.credit_applied_fen,
    )
    async with sessions() as session:
        count, total = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                    LedgerEntry.estate_id == ESTATE_ID,
                    LedgerEntry.kind == EntryKind.charge,
                    LedgerEntry.period == PERIOD,
                )
            )
        ).one()
        applied = (
            await session.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                    LedgerEntry.estate_id == ESTATE_ID,
                    LedgerEntry.kind == EntryKind.credit_applied,
                    LedgerEntry.amount_fen > 0,
                )
            )
        ).scalar_one()
    figures.update(db_charge_count=int(count), db_charge_fen=int(total), db_credit_applied_fen=int(applied))
    await engine.dispose()
    return figures


def worker_main(args: argparse.Namespace) -> None:
    figures = asyncio.run(measure(args.worker_url, args.tracemalloc, args.worker_profile))
    print(json.dumps(figures))


# --------------------------------------------------------------------------------------------
# The driver.


@dataclass
class Result:
    database: str
    units: int
    credit_units: int
    seed_s: float = 0.0
    migrate_s: float = 0.0
    charges_issued: int = 0
    run_s: float = 0.0
    run_cpu_s: float = 0.0
    units_per_s: float = 0.0
    rerun_s: float = 0.0
    rerun_charges_issued: int = 0
    credit_applied_fen: int = 0
    baseline_rss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    tracemalloc_peak_mib: float | None = None
    check: str = ""
    check_detail: list[str] = field(default_factory=list)


_LOG = sys.stdout


def log(message: str) -> None:
    print(message, file=_LOG, flush=True)


def check(plan: SeedPlan, figures: dict[str, Any]) -> tuple[list[str], SaleProration]:
    """The differences from the expected figures under the period split the run matched (by days,
    or whole to the owner on the period's first day: the estate's sale proration); by days' if none."""
    attempts = {}
    for proration in (SaleProration.by_days, SaleProration.owner_on_period_start):
        charges = plan.expected_charges(proration)
        credit = plan.expected_credit_applied_fen(proration)
        expected = {
            "charges_issued": charges,
            "db_charge_count": charges,
            "db_charge_fen": plan.expected_charge_fen,
            "credit_applied_fen": credit,
            "db_credit_applied_fen": credit,
            "rerun_charges_issued": 0,
            "rerun_already_issued": charges,
            "rerun_credit_applied_fen": 0,
        }
        attempts[proration] = [
            f"{key}: got {figures[key]}, expected {want} ({proration.value})"
            for key, want in expected.items()
            if figures[key] != want
        ]
        if not attempts[proration]:
            return [], proration
    return attempts[SaleProration.by_days], SaleProration.by_days


def bench_one(database: str, url: str, plan: SeedPlan, args: argparse.Namespace) -> Result:
    result = Result(database=database, units=plan.units, credit_units=len(plan.credits))
    if database == "postgresql":
        asyncio.run(prepare_postgres(url, log))
    started = time.perf_counter()
    upgrade(url)  # runs its own event loop: called from plain synchronous code
    result.migrate_s = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(seed(url, plan))
    result.seed_s = time.perf_counter() - started
    log(f"{database}: migrated in {result.migrate_s:.1f} s, seeded {plan.units} units in {result.seed_s:.1f} s")

    command = [sys.executable, str(Path(__file__).resolve()), "--worker-url", url]
    if args.tracemalloc:
        command.append("--tracemalloc")
    if args.profile_dir:
        Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
        command += ["--worker-profile", str(Path(args.profile_dir) / f"billing_run_{database}.prof")]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if completed.stderr:
        print(completed.stderr, file=sys.stderr, end="")
    if completed.returncode != 0:
        raise SystemExit(f"{database}: the billing-run worker failed (exit {completed.returncode})")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])

    result.charges_issued = figures["charges_issued"]
    result.run_s = figures["run_s"]
    result.run_cpu_s = figures["run_cpu_s"]
    result.units_per_s = plan.units / figures["run_s"]
    result.rerun_s = figures["rerun_s"]
    result.rerun_charges_issued = figures["rerun_charges_issued"]
    result.credit_applied_fen = figures["credit_applied_fen"]
    result.baseline_rss_mib = figures["baseline_rss_mib"]
    result.peak_rss_mib = figures["peak_rss_mib"]
    result.tracemalloc_peak_mib = figures.get("tracemalloc_peak_mib")
    result.check_detail, proration = check(plan, figures)
    result.check = "MISMATCH" if result.check_detail else f"OK ({proration.value})"
    log(
        f"{database}: run {result.run_s:.2f} s ({result.units_per_s:,.0f} units/s), "
        f"rerun {result.rerun_s:.2f} s, check {result.check}"
    )
    for problem in result.check_detail:
        log(f"  {problem}")
    return result


def table(results: list[Result], tracemalloc_on: bool) -> str:
    headers = [
        "database",
        "units",
        "charges",
        "run s",
        "client CPU s",
        "units/s",
        "rerun s",
        "rerun issued",
        "credit units",
        "credit applied ¥",
        "peak RSS MiB",
        "baseline MiB",
    ]
    if tracemalloc_on:
        headers.append("tracemalloc MiB")
    headers += ["seed s", "check"]
    rows = []
    for r in results:
        row = [
            r.database,
            f"{r.units:,}",
            f"{r.charges_issued:,}",
            f"{r.run_s:.2f}",
            f"{r.run_cpu_s:.2f}",
            f"{r.units_per_s:,.0f}",
            f"{r.rerun_s:.2f}",
            str(r.rerun_charges_issued),
            str(r.credit_units),
            f"{Decimal(r.credit_applied_fen).scaleb(-2):,}",
            f"{r.peak_rss_mib:.0f}",
            f"{r.baseline_rss_mib:.0f}",
        ]
        if tracemalloc_on:
            row.append(f"{r.tracemalloc_peak_mib or 0:.0f}")
        row += [f"{r.seed_s:.1f}", r.check]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time a billing run for a large estate.")
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--credit-units", type=int, default=300, help="units seeded with prepaid credit (default 300)")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also report the tracemalloc peak of the first run (slows the timed run noticeably)",
    )
    parser.add_argument("--profile-dir", help="write a cProfile of the first run per database here")
    parser.add_argument("--json", action="store_true", help="write the figures as JSON to stdout")
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-profile", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    global _LOG
    args = parse_args(argv)
    if args.worker_url:
        worker_main(args)
        return
    if args.units < 1:
        raise SystemExit("--units must be at least 1")
    if args.json:
        _LOG = sys.stderr  # keep stdout for the JSON
    if args.db in ("postgresql", "both"):
        pg_database_name(args.pg_url)  # refuse early, before any work
    plan = make_plan(args.units, args.credit_units)
    log(
        f"billing-run benchmark: {args.units:,} units ({len(plan.sold.sales):,} sold, {plan.sold.mid_period:,} "
        f"of them mid-period), {len(plan.credits)} holding prepaid credit, "
        f"period {PERIOD}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.2f} (others' work on the machine skews the figures)"
    )
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="feesvc-bench-") as tmp:
        for database in databases:
            url = f"sqlite:///{tmp}/bench.db" if database == "sqlite" else args.pg_url
            results.append(bench_one(database, url, plan, args))
    log("")
    log(table(results, args.tracemalloc))
    log(
        "run s: run_billing from call to commit; client CPU s: CPU the benchmark process spent in it\n"
        "  (the rest is waiting on the database, or on other work on the machine);\n"
        "peak RSS: ru_maxrss of the child process that ran billing (baseline = RSS after imports, before the run)"
        + ("; tracemalloc on during the first run, so its time is inflated" if args.tracemalloc else "")
    )
    if args.json:
        payload = {
            "benchmark": "billing_run",
            "date": date.today().isoformat(),  # noqa: DTZ011 (the machine's date, for the record)
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "period": PERIOD,
            "tracemalloc": args.tracemalloc,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "results": [asdict(r) for r in results],
        }
        print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
