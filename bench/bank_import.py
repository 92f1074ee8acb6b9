"""Benchmark: importing a bank statement of many lines into one estate, then importing it again.

    .venv/bin/python bench/bank_import.py [--lines 100000] [--units N] [--db sqlite|postgresql]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench]

Builds a fresh database through the migrations, seeds one estate of ``--units`` units (default: as
many as lines, at most 100,000) with owners and a billed month (not timed), writes a CSV statement
in GB18030 with ``--lines`` credits (90 % naming their unit with the month's amount, 5 % with no
reference, 5 % repeating an earlier transfer) and a few debits, then times
``feesvc.banking.service.import_statement``: reading, matching, writing the lines and posting the
matched ones through the desk's path; then the same file again (nothing new to post). Prints
figures; the target is 100,000 lines in under 60 s. The PostgreSQL database is emptied first, so
its name must contain "bench".
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import cpu_s, prepare_postgres, rss_mib  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.banking.service import import_statement  # noqa: E402
from feesvc.billing.service import run_billing  # noqa: E402
from feesvc.db import Database, analyze, create_engine, session_factory  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.payments.models import Payment  # noqa: E402
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit, UnitUse  # noqa: E402
from feesvc.registry.schemas import EstateCreate  # noqa: E402
from feesvc.registry.service import create_estate  # noqa: E402
from feesvc.settings import DatabaseSettings  # noqa: E402
from feesvc.standards.schemas import FeeStandardCreate  # noqa: E402
from feesvc.standards.service import create_fee_standard  # noqa: E402

BUILDINGS = 50
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
TODAY = date(2026, 3, 31)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def seed(database: Database, units: int) -> tuple[Estate, list[tuple[str, str]]]:
    """One estate: units in BUILDINGS buildings, each with an owner since 2024, and 2026-01 billed."""
    rng = random.Random(19)
    async with database.session() as session:
        estate = await create_estate(
            session, COMMAND_LINE, EstateCreate(code="BANKBENCH", name="银行导入测试小区", company_name="测试物业")
        )
        assert estate.id is not None
        standard = FeeStandardCreate(
            unit_use="residential",
            item="service_fee",
            item_name="物业服务费",
            basis="per_m2_month",
            rate="2.50",
            effective_from=date(2024, 1, 1),
            posted_on=date(2024, 1, 1),
            decision_kind="contract",
            decision_ref="合同",
        )
        await create_fee_standard(session, COMMAND_LINE, estate.id, standard)
        buildings = []
        for b in range(1, BUILDINGS + 1):
            row = await session.execute(
                insert(Building).values(estate_id=estate.id, name=f"{b}栋").returning(Building.id)  # type: ignore[arg-type]
            )
            buildings.append((b, row.scalar_one()))
        refs: list[tuple[str, str]] = []
        unit_rows, owner_rows = [], []
        for n in range(units):
            b, building_id = buildings[n % BUILDINGS]
            number = f"{b}-{1 + n // (BUILDINGS * 100)}-{n // BUILDINGS % 100 + 1:04d}"
            unit_rows.append(
                {
                    "estate_id": estate.id,
                    "building_id": building_id,
                    "number": number,
                    "floor_area_m2": Decimal("100.00"),
                    "use": UnitUse.residential,
                    "ledger_version": 0,
                }
            )
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            owner_rows.append({"name": name, "phone": f"139{n:08d}"})
            refs.append((f"{b}栋 {number}", name))
        unit_ids = [r[0] for r in (await session.execute(insert(Unit).returning(Unit.id), unit_rows)).all()]  # type: ignore[arg-type]
        owner_ids = [r[0] for r in (await session.execute(insert(Owner).returning(Owner.id), owner_rows)).all()]  # type: ignore[arg-type]
        ownerships = [
            {"unit_id": u, "owner_id": o, "starts_on": date(2024, 1, 1)}
            for u, o in zip(unit_ids, owner_ids, strict=True)
        ]
        await session.execute(insert(Ownership), ownerships)
        await session.commit()
        await run_billing(session, COMMAND_LINE, estate.id, "2026-01", date(2026, 1, 1))
        await analyze(session)
        return estate, refs


def statement(lines: int, refs: list[tuple[str, str]]) -> bytes:
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["交易日期", "交易金额", "借贷标志", "对方户名", "对方账号", "附言", "交易流水号"])
    written: list[list[str]] = []
    for n in range(lines):
        roll = rng.random()
        if roll < 0.05 and written:
            row = rng.choice(written)  # the same transfer again (an overlapping statement)
        elif roll < 0.10:
            row = ["2026-03-10", f"{rng.randint(100, 99999)}.00", "贷", "某公司", f"6222{n:012d}", "货款", f"X{n:09d}"]
        else:
            reference, name = refs[n % len(refs)]
            row = ["2026-03-10", "250.00", "贷", name, f"6222{n:012d}", f"{reference} 物业费", f"T{n:09d}"]
        written.append(row)
        if n % 1000 == 0:
            writer.writerow(["2026-03-10", "80.00", "借", "电力公司", "", "电费", f"D{n:09d}"])
        writer.writerow(row)
    return out.getvalue().encode("gb18030")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/feesvc_bench")
    args = parser.parse_args()
    units = args.units or min(args.lines, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url = f"sqlite:///{tmp}/bank.db"
        else:
            url = args.pg_url
            await prepare_postgres(url, log)
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(DatabaseSettings(url=url))
        database = Database(engine, session_factory(engine))
        started = time.perf_counter()
        estate, refs = await seed(database, units)
        log(f"seeded {units} units and a billed month in {time.perf_counter() - started:.1f} s")
        content = statement(args.lines, refs)
        log(f"statement: {args.lines} credit lines, {len(content) / 1e6:.1f} MB")
        for label in ("import", "re-import"):
            wall, cpu = time.perf_counter(), cpu_s()
            result = await import_statement(
                database, COMMAND_LINE, estate, "default", "bench.csv", content, dry_run=False, today=TODAY
            )
            wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
            print(
                f"{args.db} {label}: {result.lines} lines in {wall:.1f} s wall ({result.lines / wall:,.0f} lines/s), "
                f"{cpu:.1f} s CPU in this process; {result.new_lines} new, {result.duplicates} duplicates, "
                f"{result.matched} matched, {result.posted} posted, {result.unmatched} unmatched, "
                f"{result.ambiguous} ambiguous; RSS {rss_mib():.0f} MiB"
            )
        async with database.session() as session:
            payments = (await session.execute(select(func.count()).select_from(Payment))).scalar_one()
        print(f"payments in the database: {payments} (each matched line once)")
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
