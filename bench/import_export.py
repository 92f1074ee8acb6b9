"""Benchmark: moving a large estate in from files, and exporting its aging report (issue 20).

    .venv/bin/python bench/import_export.py [--units 100000] [--months 24]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_import] [--dir DIR] [--again]

The issue's targets: importing 100,000 units with owners and 2,400,000 opening-balance lines in
under 90 s on PostgreSQL with peak memory under 1 GB; exporting a 100,000-unit aging report in
under 20 s. The script prints figures and asserts nothing but that each command succeeded.

1. Builds the database through the Alembic migrations (the database named by ``--pg-url``, which
   must contain "bench": its public schema is dropped), and makes one estate with 100 buildings and
   a service-fee standard through the services (not timed).
2. Writes the import files (not timed; kept in ``--dir``, default a temporary directory): units,
   owners and ownerships as .xlsx (one row each per unit, an owner per unit with a mobile number),
   and ``--months`` opening balances per unit (monthly service fee, the months ending last month)
   as .csv: a worksheet holds at most 1,048,576 rows, so millions of lines come as CSV.
3. Runs each import as the command line does, in a process of its own
   (``python -c 'from feesvc.cli import cli; cli()' import KIND FILE --estate E``): wall time, the
   process's CPU (user + system) and its peak RSS (``wait4``), with the load average before and
   after. Then, with ``--again``, the balances once more (nothing to write: the re-import check).
4. Exports the aging report the same way (``feesvc export aging``) and reads its sums row.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

import msgspec  # noqa: E402
from dateutil.relativedelta import relativedelta  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import asyncpg_connect_args, prepare_postgres, process_cpu_s  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.db import business_today, create_engine, session_factory  # noqa: E402
from feesvc.imports.kinds import KINDS  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.registry.schemas import BuildingCreate, EstateCreate  # noqa: E402
from feesvc.registry.service import create_building, create_estate  # noqa: E402
from feesvc.settings import DatabaseSettings  # noqa: E402
from feesvc.standards.schemas import FeeStandardCreate  # noqa: E402
from feesvc.standards.service import create_fee_standard  # noqa: E402

CODE = "BENCH-IMPORT"
BUILDINGS = 100
AREAS = ("62.50", "89.00", "89.50", "110.25", "128.00", "143.75")  # a few floor plans
RATE = "2.40"


def log(line: str) -> None:
    print(line, flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def make_estate(url: str) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    async with session_factory(engine)() as session:
        estate = await create_estate(
            session, COMMAND_LINE, EstateCreate(code=CODE, name="基准测试小区", company_name="基准物业")
        )
        assert estate.id is not None
        for b in range(1, BUILDINGS + 1):
            await create_building(session, COMMAND_LINE, estate.id, BuildingCreate(name=f"{b}栋"))
        standard = msgspec.convert(
            {
                "unit_use": "residential",
                "item": "service_fee",
                "item_name": "物业服务费",
                "basis": "per_m2_month",
                "rate": RATE,
                "effective_from": "2020-01-01",
                "posted_on": "2020-01-01",
                "decision_kind": "contract",
                "decision_ref": "前期物业服务合同 第5条",
            },
            FeeStandardCreate,
        )
        await create_fee_standard(session, COMMAND_LINE, estate.id, standard)
        await session.commit()
    await engine.dispose()


def unit_of(n: int) -> tuple[str, str, str]:
    """Unit n (0-based): building, number (floor and room), area."""
    building, index = divmod(n, -(-UNITS // BUILDINGS))
    floor, room = divmod(index, 4)
    return f"{building + 1}栋", f"{floor + 1}{room + 1:02d}", AREAS[n % len(AREAS)]


def owner_of(n: int) -> tuple[str, str]:
    return f"业主{n:06d}", f"139{n:08d}"


def write_xlsx(path: Path, kind: str, rows: object) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(KINDS[kind].zh)
    sheet.append([f.zh for f in KINDS[kind].fields])
    for row in rows:  # type: ignore[attr-defined]
        sheet.append(row)
    book.save(path)


def write_files(folder: Path, months: int) -> dict[str, Path]:
    started = time.monotonic()
    files = {
        "units": folder / "units.xlsx",
        "owners": folder / "owners.xlsx",
        "ownerships": folder / "ownerships.xlsx",
        "balances": folder / "balances.csv",
    }
    write_xlsx(files["units"], "units", ([*unit_of(n), "住宅"] for n in range(UNITS)))
    write_xlsx(files["owners"], "owners", ([*owner_of(n), "", "", "短信"] for n in range(UNITS)))
    write_xlsx(
        files["ownerships"],
        "ownerships",
        ([*unit_of(n)[:2], *owner_of(n), "2020-01-01", ""] for n in range(UNITS)),
    )
    last = business_today().replace(day=1) - relativedelta(months=1)
    periods = [f"{last - relativedelta(months=m):%Y-%m}" for m in range(months)][::-1]
    fields = [f.zh for f in KINDS["balances"].fields if f.required]  # building … source: the columns a move needs
    with files["balances"].open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(fields)
        for n in range(UNITS):
            building, number, area = unit_of(n)
            fen = int((Decimal(area) * Decimal(RATE) * 100).quantize(Decimal(1), ROUND_HALF_UP))
            amount = f"{fen // 100}.{fen % 100:02d}"
            writer.writerows([building, number, period, "service_fee", amount, "原收费系统"] for period in periods)
    sizes = ", ".join(f"{k} {p.stat().st_size / 1e6:.1f} MB" for k, p in files.items())
    log(f"files written in {time.monotonic() - started:.1f}s: {sizes}")
    return files


class ServerCpu:
    """CPU seconds of the database's server processes while a command runs (its backend, and an
    autovacuum worker on the database if one starts): found through pg_stat_activity, each read
    from /proc every 50 ms while it lives (the last reading of a process that ends counts)."""

    def __init__(self, url: str) -> None:
        self.connect = asyncpg_connect_args(url)
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ServerCpu:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _watch(self) -> None:
        import psycopg

        c = self.connect
        conninfo = {"host": c["host"], "port": c["port"], "user": c["user"], "password": c["password"]}
        with psycopg.connect(dbname=c["database"], autocommit=True, **conninfo) as conn:
            own = conn.info.backend_pid
            pids: list[int] = []
            ticks = 0
            while not self.stop.is_set():
                if ticks % 5 == 0:  # new server processes, every 250 ms
                    query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s"
                    pids = [row[0] for row in conn.execute(query, (c["database"], own)).fetchall()]
                for pid in pids:
                    cpu = process_cpu_s(pid)
                    if cpu is not None:
                        self.seen[pid] = cpu
                ticks += 1
                self.stop.wait(0.05)


def run_cli(url: str, args: list[str]) -> tuple[float, float, float, float, str]:
    """One command in a process of its own: (wall s, CPU s, peak RSS MiB, server CPU s, its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = url
    command = [sys.executable, "-c", "from feesvc.cli import cli; cli()", *args]
    with ServerCpu(url) as server:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{output}")
    cpu, said = usage.ru_utime + usage.ru_stime, output.strip().splitlines()[-1]
    return wall, cpu, usage.ru_maxrss / 1024, server.seconds, said


def main() -> None:
    global UNITS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/feesvc_bench_import")
    parser.add_argument("--dir", type=Path, default=None, help="where the files are written (default: a temp dir)")
    parser.add_argument("--again", action="store_true", help="import the balances a second time (a no-op)")
    args = parser.parse_args()
    UNITS = args.units
    url = args.pg_url
    asyncio.run(prepare_postgres(url, log))
    upgrade(url)
    asyncio.run(make_estate(url))
    folder = args.dir or Path(tempfile.mkdtemp(prefix="feesvc-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    files = write_files(folder, args.months)
    log(f"{args.units:,} units, {args.units * args.months:,} balance lines; load average {load_average()}")
    total_wall = total_cpu = total_server = peak = 0.0

    def figures(name: str, wall: float, cpu: float, rss: float, server: float) -> str:
        return f"{name:<16} {wall:6.1f}s wall {cpu:6.1f}s CPU {rss:6.0f} MiB peak RSS {server:6.1f}s server CPU"

    for kind in ("units", "owners", "ownerships", "balances"):
        wall, cpu, rss, server, said = run_cli(url, ["import", kind, str(files[kind]), "--estate", CODE])
        total_wall, total_cpu, total_server = total_wall + wall, total_cpu + cpu, total_server + server
        peak = max(peak, rss)
        log(f"{figures(f'import {kind}', wall, cpu, rss, server)} | {said}")
    log(f"{figures('import total', total_wall, total_cpu, peak, total_server)} (load average {load_average()})")
    if args.again:
        wall, cpu, rss, server, said = run_cli(url, ["import", "balances", str(files["balances"]), "--estate", CODE])
        log(f"{figures('again balances', wall, cpu, rss, server)} | {said}")
    out = folder / "aging.xlsx"
    as_of = business_today().isoformat()
    export = ["export", "aging", "--estate", CODE, "--as-of", as_of, "--out", str(out)]
    wall, cpu, rss, server, said = run_cli(url, export)
    book = load_workbook(out, read_only=True)
    sums = list(book.worksheets[0].iter_rows(values_only=True))[-1]
    log(f"{figures('export aging', wall, cpu, rss, server)} | {said}")
    log(f"aging sums row: {sums[:5]} (load average {load_average()})")


UNITS = 100_000

if __name__ == "__main__":
    main()
