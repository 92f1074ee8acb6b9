"""Benchmark: a month's scheduled runs of a property group through the job queue (issue 21).

    .venv/bin/python bench/job_queue.py [--estates 200] [--units 500] [--due-share 0.1]
        [--workers 1,2] [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_jobs] [--json]

A small run to try it: ``--estates 4 --units 30``.

1. Rebuilds its database (the name must contain "bench"; its public schema is dropped) through the
   migrations, then seeds it through the services: ``--estates`` estates of ``--units`` units, each
   with an owner, one fee standard (due on the 15th), charges for 2026-02 and 2026-03, and both
   months paid on 2026-02-01 by all but ``--due-share`` of the units, which are left owing. The paid
   units owe nothing and April's charge is not yet near its due day, so the reminder run of the 1st
   writes to the owing units only (with the due day on the 1st, every owner would also get a
   pre-due notice, each a rendered letter: bench/README.md). Each estate is scheduled: late fees at
   01:05, billing at 01:20, reminders at 09:00 on the 1st (Asia/Shanghai). The seeded database is
   the template of each measurement.
2. For each worker count: a copy of the seeded database; the dispatcher queues 2026-04-01's runs
   (timed: the cost of queueing, per job); that many ``feesvc worker`` processes start and the wall
   time runs until the queue is empty (every run, the reminder runs' letter chunks, and their
   print-file chunks and joins). The queue's own overhead per job is the time a worker spends
   between the end of one job and the start of its next (fetching the job, finishing the last, and
   recording the attempt), taken from the attempts' own timestamps, beside the time the runs
   themselves took. The CPU seconds of the workers and of the PostgreSQL server (this machine's)
   say where the time went: on a loaded host, judge by them, not by the wall time.

Prints figures and asserts nothing; the issue's targets: two workers at least 1.6 times faster than
one on this 2-core machine, the queue's overhead under 5 ms a job.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))


import asyncpg  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import col  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve at flush)
from bench.common import (  # noqa: E402
    asyncpg_connect_args,
    children_cpu_s,
    pg_database_name,
    postgres_backends_cpu_s,
    postgres_server_cpu_s,
    prepare_postgres,
)
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.billing.service import run_billing  # noqa: E402
from feesvc.db import Database, analyze, create_engine, session_factory  # noqa: E402
from feesvc.jobs.listing import list_jobs  # noqa: E402
from feesvc.jobs.models import JobAttempt, JobKind, JobSchedule  # noqa: E402
from feesvc.jobs.queue import queue_app  # noqa: E402
from feesvc.jobs.rules import SHANGHAI  # noqa: E402
from feesvc.jobs.tasks import dispatch_minute  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.payments.models import Method  # noqa: E402
from feesvc.payments.recording import record_payment  # noqa: E402
from feesvc.payments.schemas import PaymentCreate  # noqa: E402
from feesvc.registry.models import Owner, Ownership, Unit, UnitUse  # noqa: E402
from feesvc.registry.schemas import BuildingCreate, EstateCreate, EstateSettings  # noqa: E402
from feesvc.registry.service import create_building, create_estate  # noqa: E402
from feesvc.settings import DatabaseSettings  # noqa: E402
from feesvc.standards.schemas import FeeStandardCreate  # noqa: E402
from feesvc.standards.service import create_fee_standard  # noqa: E402

SEEDED = ("2026-02", "2026-03")
RUN_DAY = date(2026, 4, 1)
SCHEDULE = {JobKind.late_fees: (5, 1), JobKind.billing: (20, 1), JobKind.reminders: (0, 9)}  # (minute, hour)
MONTHLY_FEN = 18_000  # 90 m² × 2.00 元
DUE_DAY = 15  # the 1st's reminder run is outside the pre-due window (3 days before the due day)
PAID_ON = date(2026, 2, 1)  # before February's due day: both months paid on time


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def seed(url: str, estates: int, units: int, due_share: float) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    started = time.perf_counter()
    owing_per_estate = round(units * due_share)
    async with sessions() as session:
        for n in range(estates):
            estate = await create_estate(
                session,
                COMMAND_LINE,
                EstateCreate(
                    code=f"B{n:04d}",
                    name=f"基准小区{n}",
                    company_name="物业",
                    settings=EstateSettings(due_day=DUE_DAY, grace_days=0, late_fee_daily_rate="0.0003"),
                ),
            )
            assert estate.id is not None
            building = await create_building(session, COMMAND_LINE, estate.id, BuildingCreate(name="1栋"))
            assert building.id is not None
            standard = FeeStandardCreate(
                unit_use="residential",
                item="service_fee",
                item_name="物业服务费",
                basis="per_m2_month",
                rate="2.00",
                effective_from=date(2025, 1, 1),
                posted_on=date(2025, 1, 1),
                decision_kind="contract",
                decision_ref="合同",
            )
            await create_fee_standard(session, COMMAND_LINE, estate.id, standard)
            # Units, owners and ownerships in bulk: the runs under test read them, nothing here tests them.
            unit_ids = (
                (
                    await session.execute(
                        insert(Unit).returning(col(Unit.id)),
                        [
                            {
                                "estate_id": estate.id,
                                "building_id": building.id,
                                "number": f"{101 + u}",
                                "floor_area_m2": Decimal("90.00"),
                                "use": UnitUse.residential,
                            }
                            for u in range(units)
                        ],
                    )
                )
                .scalars()
                .all()
            )
            owner_ids = (
                (
                    await session.execute(
                        insert(Owner).returning(col(Owner.id)),
                        [{"name": f"业主{n}-{u}", "phone": f"139{n:04d}{u:04d}"} for u in range(units)],
                    )
                )
                .scalars()
                .all()
            )
            await session.execute(
                insert(Ownership),
                [
                    {"unit_id": unit_id, "owner_id": owner_id, "starts_on": date(2025, 1, 1)}
                    for unit_id, owner_id in zip(unit_ids, owner_ids, strict=True)
                ],
            )
            session.add_all(
                JobSchedule(estate_id=estate.id, kind=kind, cron=f"{m} {h} 1 * *", updated_by="bench")
                for kind, (m, h) in SCHEDULE.items()
            )
            await session.commit()
            for period in SEEDED:
                await run_billing(session, COMMAND_LINE, estate.id, period, date.fromisoformat(f"{period}-01"))
            for unit_id in unit_ids[owing_per_estate:]:
                data = PaymentCreate(
                    unit_id=unit_id,
                    amount_fen=MONTHLY_FEN * len(SEEDED),
                    method=Method.bank_transfer,
                    received_on=PAID_ON,
                )
                await record_payment(session, COMMAND_LINE, data, uuid.uuid4().hex, date(2026, 3, 1))
            if (n + 1) % 10 == 0 or n + 1 == estates:
                log(f"  seeded {n + 1}/{estates} estates ({time.perf_counter() - started:.0f} s)")
        await analyze(session)
    await engine.dispose()


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(**{**asyncpg_connect_args(url), "database": "postgres"})
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def measure(template_url: str, workers: int, files_dir: Path, keep: bool = False) -> dict[str, Any]:
    name = f"{pg_database_name(template_url)}_w{workers}"
    url = make_url(template_url).set(database=name).render_as_string(hide_password=False)
    await _admin(template_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(template_url, f'CREATE DATABASE "{name}" TEMPLATE "{pg_database_name(template_url)}"')
    engine = create_engine(DatabaseSettings(url=url))
    database = Database(engine, session_factory(engine))
    app = queue_app(url)
    try:
        started = time.perf_counter()
        queued: list[int] = []
        async with app.open_async():
            for kind in (JobKind.late_fees, JobKind.billing, JobKind.reminders):
                m, h = SCHEDULE[kind]
                at = datetime(RUN_DAY.year, RUN_DAY.month, RUN_DAY.day, h, m, tzinfo=SHANGHAI)
                queued += await dispatch_minute(app, database, at)
        queue_s = time.perf_counter() - started
        env = {**os.environ, "FEESVC_DATABASE_URL": url, "FEESVC_FILES_DIR": str(files_dir)}
        command = [sys.executable, "-c", "from feesvc.cli import cli; cli()", "worker"]
        cpu = (children_cpu_s(), postgres_server_cpu_s(), os.getloadavg()[0])
        started = time.perf_counter()
        processes = [
            await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)
            for _ in range(workers)
        ]
        backends: dict[int, float] = {}  # this database's backends: their CPU, as last seen
        try:
            while True:
                await asyncio.sleep(0.5)
                backends.update(postgres_backends_cpu_s(name))
                async with database.session() as session:
                    busy = await list_jobs(session, status="todo", limit=1) + await list_jobs(
                        session, status="doing", limit=1
                    )
                if not busy:
                    break
            wall_s = time.perf_counter() - started
        finally:
            for process in processes:
                process.terminate()  # SIGTERM: the worker stops once its job is done (there is none)
            for process in processes:
                await asyncio.wait_for(process.wait(), timeout=120)
        await asyncio.sleep(0.5)  # the workers' backends exit and are reaped by the postmaster
        pg_now = postgres_server_cpu_s()
        cpu_figures = {
            "workers_cpu_s": round(children_cpu_s() - cpu[0], 1),
            # The whole server's (other work on the host included), and this database's backends'.
            "postgres_cpu_s": round(pg_now - cpu[1], 1) if pg_now is not None and cpu[1] is not None else None,
            "postgres_backends_cpu_s": round(sum(backends.values()), 1),
            "load_average_before": cpu[2],
            "load_average_after": os.getloadavg()[0],
        }
        async with database.session() as session:
            jobs = await list_jobs(session, limit=1_000_000)
            attempts = list((await session.execute(select(JobAttempt).order_by(col(JobAttempt.started_at)))).scalars())
            events = await _queue_events(session)
    finally:
        await engine.dispose()
        if not keep:
            await _admin(template_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {**_figures(workers, len(queued), queue_s, wall_s, jobs, attempts, events), **cpu_figures}


async def _queue_events(session: Any) -> dict[int, tuple[datetime, datetime]]:
    """Each job's start and end as the queue recorded them (its own events: fetched, finished)."""
    rows = await session.execute(
        text(
            "SELECT job_id, max(at) FILTER (WHERE type = 'started'),"
            " max(at) FILTER (WHERE type IN ('succeeded', 'failed', 'deferred_for_retry'))"
            " FROM procrastinate_events GROUP BY job_id"
        )
    )
    return {job_id: (started, ended) for job_id, started, ended in rows if started and ended}


def _median_ms(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _figures(
    workers: int,
    queued: int,
    queue_s: float,
    wall_s: float,
    jobs: list[Any],
    attempts: list[JobAttempt],
    events: dict[int, tuple[datetime, datetime]],
) -> dict[str, Any]:
    run_s: dict[str, float] = defaultdict(float)
    for a in attempts:
        if a.finished_at is not None:
            run_s[a.task.removeprefix("feesvc:")] += (a.finished_at - a.started_at).total_seconds()
    # Between two jobs of one worker: the whole gap (the job records' writes included), and within
    # it the queue's own step, from its record of the one's end to its record of the next's fetch.
    gaps_ms, queue_ms = [], []
    by_worker: dict[int, list[JobAttempt]] = defaultdict(list)
    for a in attempts:
        by_worker[a.pid].append(a)
    for tries in by_worker.values():
        for before, after in itertools.pairwise(tries):
            if before.finished_at is not None:
                gaps_ms.append((after.started_at - before.finished_at).total_seconds() * 1000)
            if before.job_id in events and after.job_id in events:
                queue_ms.append((events[after.job_id][0] - events[before.job_id][1]).total_seconds() * 1000)
    return {
        "workers": workers,
        "jobs": len(jobs),
        "by_task": dict(Counter(j.task.removeprefix("feesvc:") for j in jobs)),
        "failed": sum(1 for j in jobs if j.status != "succeeded"),
        "queued_by_dispatcher": queued,
        "queueing_ms_per_job": round(queue_s * 1000 / max(queued, 1), 2),
        "wall_s": round(wall_s, 1),
        "run_s_by_task": {k: round(v, 1) for k, v in sorted(run_s.items())},
        "overhead_ms_per_job_median": _median_ms(gaps_ms),
        "overhead_ms_per_job_mean": round(statistics.fmean(gaps_ms), 2) if gaps_ms else None,
        "queue_step_ms_median": _median_ms(queue_ms),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time a month's scheduled runs through the job queue.")
    parser.add_argument("--estates", type=int, default=200)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--due-share", type=float, default=0.1, help="share of units left owing")
    parser.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/feesvc_bench_jobs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep each measured database (<name>_w<workers>)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.workers.split(",")]

    asyncio.run(prepare_postgres(args.pg_url, log))
    upgrade(args.pg_url)
    log(f"seeding {args.estates} estates × {args.units} units …")
    started = time.perf_counter()
    asyncio.run(seed(args.pg_url, args.estates, args.units, args.due_share))
    log(f"seeded in {time.perf_counter() - started:.0f} s")
    results = []
    with tempfile.TemporaryDirectory(prefix="feesvc-bench-jobs-") as tmp:
        for workers in counts:
            log(f"{workers} worker(s) …")
            results.append(asyncio.run(measure(args.pg_url, workers, Path(tmp) / f"files-{workers}", args.keep)))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.estates} estates × {args.units} units, {args.due_share:.0%} owing; runs of {RUN_DAY}")
    for r in results:
        print(
            f"  {r['workers']} worker(s): {r['wall_s']} s wall for {r['jobs']} jobs {r['by_task']} "
            f"({r['failed']} not succeeded); run time by task {r['run_s_by_task']}; "
            f"queue overhead per job {r['overhead_ms_per_job_median']} ms median, "
            f"{r['overhead_ms_per_job_mean']} ms mean (the queue's finish and fetch {r['queue_step_ms_median']} ms "
            f"median, the rest the job records' writes); queueing {r['queueing_ms_per_job']} ms a job; "
            f"CPU {r['workers_cpu_s']} s in the workers, {r['postgres_backends_cpu_s']} s in their PostgreSQL "
            f"backends ({r['postgres_cpu_s']} s the whole server) "
            f"(load average {r['load_average_before']:.2f} before, {r['load_average_after']:.2f} after)"
        )
    if len(results) > 1:
        first = results[0]
        for r in results[1:]:
            print(f"  speed-up {first['workers']} → {r['workers']} workers: {first['wall_s'] / r['wall_s']:.2f}×")


if __name__ == "__main__":
    main()
