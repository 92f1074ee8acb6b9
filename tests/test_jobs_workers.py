"""The job queue under faults (issue 21 items 1, 3 and 6): real worker processes on PostgreSQL.

Two ``feesvc worker`` processes run against a fresh database with several estates scheduled for
every kind of run. A worker is SIGKILLed in the middle of a reminder run, a late-fee run and a
billing run, and in the middle of a chunk of a run's letters (rendered, not yet recorded): to be
sure the kill lands mid-run, the test holds a lock on the table the run writes next, waits until
the run is blocked on it, kills that worker, and lets go. Another worker takes the job over once
the dead one's heartbeat is stale; afterwards every run's work is there once: a charge per unit and
period, a late fee per charge and day, a letter per account and stage rendered in one chunk job
(one stored file a chunk), each paper letter once in its run's print file, and the same runs again
add nothing. A connection cut in the middle of a run is retried, and no two jobs of one estate and
kind ever ran at the same time.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlmodel import col

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.db import Database, create_engine, session_factory
from feesvc.files import LocalFileStore, read_all
from feesvc.jobs.listing import list_jobs
from feesvc.jobs.models import AttemptOutcome, JobAttempt, JobKind
from feesvc.jobs.printing import PRINT_CHUNK, letters_in_print
from feesvc.jobs.queue import APPLICATION_NAME, QUEUE, defer, defer_run, queue_app
from feesvc.jobs.rules import SHANGHAI
from feesvc.jobs.schedules import replace_schedules
from feesvc.jobs.schemas import ScheduleIn
from feesvc.jobs.tasks import dispatch_minute
from feesvc.latefees.service import accrue_late_fees
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.letters.issued import NotRenderedYet
from feesvc.letters.models import Letter, LetterRenderChunk, ReminderRun, RunStatus
from feesvc.letters.rendering import rendered_copies
from feesvc.letters.runs import run_reminders
from feesvc.letters.service import letter_pdf
from feesvc.migrate import upgrade
from feesvc.registry.schemas import BuildingCreate, EstateCreate, EstateSettings, OwnerCreate, UnitCreate
from feesvc.registry.service import create_building, create_estate, create_owner, create_unit, transfer_ownership
from feesvc.settings import DatabaseSettings
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard
from tests.databases import fresh_postgres_database

SERVER = os.environ.get("FEESVC_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not SERVER or DatabaseSettings(url=SERVER).is_sqlite,
    reason="the job queue runs on PostgreSQL only (FEESVC_TEST_DATABASE_URL); SQLite runs go from cron",
)

ESTATES = 3
UNITS = 40
BILLED_BEFORE = ("2026-01", "2026-02", "2026-03", "2026-04")
DAY = date(2026, 5, 1)
# Each kind fires in a minute of its own on 2026-05-01, Shanghai time, so the test queues them in turn.
MINUTES = {"reminders": 30, "late_fees": 31, "billing": 32, "plan_review": 33, "outbox": 33}
HEARTBEAT, STALLED_AFTER = 1.0, 4.0
FEESVC = [sys.executable, "-c", "from feesvc.cli import cli; cli()"]  # the command, as installed
WAIT = 240.0  # seconds any one wait may take on a loaded 2-CPU machine


def minute(at: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, 1, at, tzinfo=SHANGHAI)


@dataclass
class Workers:
    """``feesvc worker`` processes, their output kept in files for a failing test to show."""

    url: str
    files_dir: Path
    logs: Path
    running: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> int:
        env = {**os.environ, "FEESVC_DATABASE_URL": self.url, "FEESVC_FILES_DIR": str(self.files_dir)}
        env.pop("FEESVC_SMTP_HOST", None)
        log = (self.logs / f"worker-{len(list(self.logs.iterdir()))}.log").open("wb")
        process = subprocess.Popen(
            [*FEESVC, "worker", "--heartbeat", str(HEARTBEAT), "--stalled-after", str(STALLED_AFTER)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.running[process.pid] = process
        return process.pid

    def kill(self, pid: int) -> None:
        process = self.running.pop(pid)  # only a worker this test started
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running.clear()

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.logs.iterdir()))


@dataclass
class World:
    url: str
    database: Database
    workers: Workers
    estates: list[int]


@pytest.fixture(scope="module")
def fresh_url() -> Iterator[str]:
    # In a thread: both run event loops of their own, beside the tests' loop.
    with ThreadPoolExecutor(1) as thread:
        made = fresh_postgres_database(SERVER, "jobs")
        url = thread.submit(made.__enter__).result()
        try:
            thread.submit(upgrade, url).result()
            yield url
        finally:
            thread.submit(made.__exit__, None, None, None).result()


async def _estate(session: Any, n: int) -> int:
    settings = EstateSettings(due_day=1, grace_days=0, late_fee_daily_rate="0.0003")
    code = "Q" + uuid.uuid4().hex[:8]
    estate = await create_estate(
        session, COMMAND_LINE, EstateCreate(code=code, name=f"队列小区{n}", company_name="物业", settings=settings)
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
    for u in range(UNITS):
        unit, _ = await create_unit(session, COMMAND_LINE, UnitCreate(building.id, f"{101 + u}", "90.00"))
        owner = await create_owner(session, COMMAND_LINE, OwnerCreate(name=f"业主{n}-{u}", phone=f"1390000{u:04d}"))
        assert unit.id is not None and owner.id is not None
        await transfer_ownership(session, COMMAND_LINE, unit.id, owner.id, date(2025, 1, 1), today=date(2025, 1, 1))
    for period in BILLED_BEFORE:  # nobody paid: every unit owes four months by May
        await run_billing(session, COMMAND_LINE, estate.id, period, date.fromisoformat(f"{period}-01"))
    return estate.id


@pytest.fixture
async def world(fresh_url: str, tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(DatabaseSettings(url=fresh_url))
    database = Database(engine, session_factory(engine))
    async with database.session() as session:
        estates = [await _estate(session, n) for n in range(ESTATES)]
        for estate_id in estates:
            schedules = [ScheduleIn(JobKind(kind), f"{at} 1 1 5 *") for kind, at in MINUTES.items()]
            await replace_schedules(session, COMMAND_LINE, estate_id, schedules)
    (tmp_path / "logs").mkdir()
    workers = Workers(fresh_url, tmp_path / "files", tmp_path / "logs")
    try:
        yield World(fresh_url, database, workers, estates)
    finally:
        workers.stop_all()
        await engine.dispose()


async def _until(what: str, check: Any, workers: Workers) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {WAIT:.0f} s for {what}\n{workers.output()}")


class TableHold:
    """A transaction holding ``table`` against writes (reads go on): a run that reaches its first
    write there waits, in the middle of its work, until the hold is let go."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.conn: asyncpg.Connection | None = None
        self.watch: asyncpg.Connection | None = None  # outside the hold: a transaction sees one snapshot

    async def __aenter__(self) -> TableHold:
        self.conn = await asyncpg.connect(self.url)
        self.watch = await asyncpg.connect(self.url)
        await self.conn.execute(f"BEGIN; LOCK TABLE {self.table} IN SHARE ROW EXCLUSIVE MODE")
        return self

    async def blocked_backends(self) -> list[int]:
        assert self.watch is not None
        rows = await self.watch.fetch(
            """SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
                WHERE a.datname = current_database() AND l.relation = $1::regclass
                  AND a.application_name <> $2""",
            self.table,
            APPLICATION_NAME,
        )
        return [r["pid"] for r in rows]

    async def __aexit__(self, *exc: object) -> None:
        assert self.conn is not None and self.watch is not None
        await self.conn.execute("COMMIT")
        await self.conn.close()
        await self.watch.close()


async def _running(database: Database, kind: str) -> list[JobAttempt]:
    async with database.session() as session:
        rows = await session.execute(
            select(JobAttempt).where(
                col(JobAttempt.task) == f"feesvc:{kind}", col(JobAttempt.outcome) == AttemptOutcome.running
            )
        )
        return list(rows.scalars())


async def _queue_idle(database: Database) -> bool:
    async with database.session() as session:
        busy = await list_jobs(session, status="todo") + await list_jobs(session, status="doing")
    return not busy


async def _dispatch(url: str, database: Database, at: datetime) -> list[int]:
    app = queue_app(url)
    async with app.open_async():
        return await dispatch_minute(app, database, at)


async def _kill_mid_run(world: World, kind: str, table: str) -> int:
    """Queue ``kind`` for every estate, kill the worker whose run is blocked writing ``table``, and
    start another in its place; the killed job's id."""
    async with TableHold(world.url, table) as hold:
        await _dispatch(world.url, world.database, minute(MINUTES[kind]))

        async def blocked_run() -> JobAttempt | None:
            if not await hold.blocked_backends():
                return None
            attempts = [a for a in await _running(world.database, kind) if a.pid in world.workers.running]
            return attempts[0] if attempts else None

        victim: JobAttempt = await _until(f"a {kind} run blocked on {table}", blocked_run, world.workers)
        world.workers.kill(victim.pid)
        world.workers.start()
    return victim.job_id


async def _counts(database: Database, query: Any) -> list[int]:
    async with database.session() as session:
        return [int(n) for n in (await session.execute(query)).scalars()]


async def test_killed_workers_leave_every_run_complete_once(world: World) -> None:
    database = world.database
    world.workers.start()
    world.workers.start()
    killed = {}
    for kind, table in (("reminders", "letter"), ("late_fees", "ledger_entry"), ("billing", "ledger_entry")):
        killed[kind] = await _kill_mid_run(world, kind, table)
        await _until(f"the {kind} runs to end", lambda: _queue_idle(database), world.workers)
    await _dispatch(world.url, database, minute(MINUTES["plan_review"]))
    await _until("the queue to empty", lambda: _queue_idle(database), world.workers)
    await asyncio.sleep(2 * HEARTBEAT)  # a print join queued by the last chunk
    await _until("the queue to empty", lambda: _queue_idle(database), world.workers)
    world.workers.stop_all()

    async with database.session() as session:
        jobs = await list_jobs(session, limit=1000)
        attempts = list((await session.execute(select(JobAttempt).order_by(col(JobAttempt.id)))).scalars())
    assert {j.status for j in jobs} == {"succeeded"}, [(j.id, j.task, j.status, j.error) for j in jobs]
    tasks = {j.task for j in jobs}
    assert {f"feesvc:{k}" for k in MINUTES} | {
        "feesvc:letter_chunk",
        "feesvc:print_chunk",
        "feesvc:print_join",
    } <= tasks
    for estate_id in world.estates:
        for kind in ("billing", "late_fees", "plan_review", "reminders"):
            assert sum(1 for j in jobs if j.task == f"feesvc:{kind}" and j.estate_id == estate_id) == 1
    assert sum(1 for j in jobs if j.task == "feesvc:outbox") == 1  # one delivery for every estate

    # Each killed job: one attempt lost with the killed worker, then finished by another process.
    for kind, job_id in killed.items():
        tries = [a for a in attempts if a.job_id == job_id]
        assert [a.outcome for a in tries] == [AttemptOutcome.lost, AttemptOutcome.succeeded], (kind, tries)
        assert tries[0].pid != tries[1].pid

    # Never two attempts of one estate's kind at the same time.
    by_key: dict[tuple[str, int | None], list[JobAttempt]] = {}
    for a in attempts:
        if a.task.removeprefix("feesvc:") in MINUTES:
            by_key.setdefault((a.task, a.estate_id), []).append(a)
    for key, runs in by_key.items():
        runs.sort(key=lambda a: a.started_at)
        for before, after in itertools.pairwise(runs):
            assert before.finished_at is not None and after.started_at >= before.finished_at, key

    # The ledger: one May charge per unit, one late fee per charge and day, nothing twice.
    may = await _counts(
        database,
        select(func.count())
        .where(col(LedgerEntry.kind) == EntryKind.charge, col(LedgerEntry.period) == "2026-05")
        .group_by(col(LedgerEntry.estate_id)),
    )
    assert may == [UNITS] * ESTATES
    assert not await _counts(
        database,
        select(func.count())
        .where(col(LedgerEntry.kind) == EntryKind.charge)
        .group_by(col(LedgerEntry.unit_id), col(LedgerEntry.period), col(LedgerEntry.item))
        .having(func.count() > 1),
    )
    assert not await _counts(
        database,
        select(func.count())
        .where(col(LedgerEntry.kind) == EntryKind.late_fee)
        .group_by(col(LedgerEntry.basis_entry_id), col(LedgerEntry.effective_date))
        .having(func.count() > 1),
    )
    late_fees = await _counts(
        database,
        select(func.count()).where(
            col(LedgerEntry.kind) == EntryKind.late_fee, col(LedgerEntry.effective_date) == DAY - timedelta(days=1)
        ),
    )
    assert late_fees[0] > 0

    # The letters: one per account and stage on the day, every unit reached (each owes four months).
    async with database.session() as session:
        letters = list((await session.execute(select(Letter).where(col(Letter.issued_on) == DAY))).scalars())
        runs = list((await session.execute(select(ReminderRun))).scalars())
    assert len(letters) == ESTATES * UNITS
    assert len({(x.unit_id, x.owner_id, x.stage) for x in letters}) == len(letters)
    assert {r.status for r in runs} <= {RunStatus.completed, RunStatus.failed}

    # Every letter rendered once, in one chunk job, recorded with the worker that rendered it.
    chunks = await _chunk_rows(database, [r.id or 0 for r in runs])
    assert sorted(i for c in chunks for i in c.letter_ids) == sorted(x.id for x in letters)
    assert all(c.document_path and c.hostname and c.pid for c in chunks)

    # Each run's print file: every paper letter of the run once, in order, joined from chunks kept
    # by the workers that rendered them.
    for run in runs:
        paper = sorted(x.id for x in letters if x.run_id == run.id and x.channel == "paper" and x.id is not None)
        if not paper:
            continue
        assert run.print_file and run.print_sha256, run
        pdf = await read_all(LocalFileStore(world.workers.files_dir), run.print_file, run.print_sha256)
        async with database.session() as session:
            assert await letters_in_print(session, run.id or 0) == paper
        async with database.session() as session:  # each letter's pages of the chunk a worker rendered it in
            copies = await rendered_copies(session, run.id or 0)
        pages = sum(copies[i].last_page - copies[i].first_page + 1 for i in paper)
        assert len(PdfReader(io.BytesIO(pdf)).pages) == pages
        chunk_hosts = await _counts(
            database,
            text("SELECT pid FROM print_file_chunk WHERE run_id = :run AND hostname IS NOT NULL").bindparams(
                run=run.id
            ),
        )
        assert len(chunk_hosts) == -(-len(paper) // PRINT_CHUNK)

    # The same runs again add nothing: what the killed workers left was completed, not redone.
    async with database.session() as session:
        for estate_id in world.estates:
            billed = await run_billing(session, COMMAND_LINE, estate_id, "2026-05", DAY)
            assert (billed.charges_issued, billed.charges_already_issued) == (0, UNITS)
            accrued = await accrue_late_fees(session, COMMAND_LINE, estate_id, DAY - timedelta(days=1))
            assert accrued.late_fees_posted == 0
            again = await run_reminders(session, QUEUE, estate_id, DAY, files=LocalFileStore(world.workers.files_dir))
            assert again.letters_by_kind == {}


async def test_a_dropped_connection_is_retried_and_one_estate_runs_one_job_at_a_time(world: World) -> None:
    database = world.database
    june = date(2026, 6, 1)
    async with database.session() as session:
        for estate_id in world.estates:
            await replace_schedules(session, COMMAND_LINE, estate_id, [ScheduleIn(JobKind.billing, "32 1 1 6 *")])
    world.workers.start()
    world.workers.start()
    estate_id = world.estates[0]
    async with TableHold(world.url, "ledger_entry") as hold:
        await _dispatch(world.url, database, minute(32, june))
        blocked = await _until("a billing run blocked on the ledger", hold.blocked_backends, world.workers)
        # While the estate's June job runs, another of its billing jobs is queued: it must wait.
        app = queue_app(world.url)
        async with app.open_async():
            second = await defer_run(app, "billing", estate_id, minute(33, june).isoformat())
        assert second is not None
        async with database.session() as session:
            for pid in blocked:  # cut the runs' connections in the middle of their work
                await session.execute(text("SELECT pg_terminate_backend(:pid)").bindparams(pid=pid))
    await _until("the queue to empty", lambda: _queue_idle(database), world.workers)
    world.workers.stop_all()

    async with database.session() as session:
        jobs = [
            j
            for j in await list_jobs(session, limit=1000)
            if j.task == "feesvc:billing" and j.estate_id in world.estates  # this test's estates
        ]
        attempts = list((await session.execute(select(JobAttempt).order_by(col(JobAttempt.id)))).scalars())
    assert len(jobs) == ESTATES + 1 and {j.status for j in jobs} == {"succeeded"}, jobs
    retried = [a for a in attempts if a.outcome == AttemptOutcome.failed and a.job_id in {j.id for j in jobs}]
    assert len(retried) >= len(blocked), attempts
    assert all(a.error for a in retried)
    # The second job of the estate started only after the first had ended, its retry included.
    of_estate = sorted(
        (
            a
            for a in attempts
            if a.task == "feesvc:billing" and a.estate_id == estate_id and a.job_id in {j.id for j in jobs}
        ),
        key=lambda a: a.started_at,
    )
    for before, after in itertools.pairwise(of_estate):
        assert before.finished_at is not None and after.started_at >= before.finished_at
    assert of_estate[-1].job_id == second
    june_charges = await _counts(
        database,
        select(func.count())
        .where(col(LedgerEntry.kind) == EntryKind.charge, col(LedgerEntry.period) == "2026-06")
        .group_by(col(LedgerEntry.estate_id)),
    )
    assert june_charges == [UNITS] * ESTATES


def _feesvc(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEESVC_DATABASE_URL": url}
    return subprocess.run([*FEESVC, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_jobs_from_the_command_line(world: World) -> None:
    app = queue_app(world.url)
    async with app.open_async():
        waiting = await defer_run(app, "billing", world.estates[0], minute(20, date(2026, 7, 1)).isoformat())
        # An estate that does not exist: the run refuses it, which no retry would change.
        doomed = await defer_run(app, "billing", 2_000_000_000, minute(20, date(2026, 7, 1)).isoformat())
    listed = _feesvc(world.url, "jobs", "list", "--status", "todo")
    assert listed.returncode == 0, listed.stderr
    assert {str(waiting), str(doomed)} <= {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    cancelled = _feesvc(world.url, "jobs", "cancel", str(waiting))
    assert cancelled.returncode == 0 and f"job {waiting} cancelled" in cancelled.stdout, cancelled
    refused = _feesvc(world.url, "jobs", "retry", str(waiting))
    assert refused.returncode == 1 and "only a failed job is retried" in refused.stderr, refused

    world.workers.start()
    await _until("the queue to empty", lambda: _queue_idle(world.database), world.workers)
    async with world.database.session() as session:
        [failed] = await list_jobs(session, job_id=doomed)
    assert failed.status == "failed" and failed.attempts == 1  # tried once: not a transient fault
    assert failed.error and "estate 2000000000 does not exist" in failed.error, failed
    assert failed.hostname and failed.duration_seconds is not None
    again = _feesvc(world.url, "jobs", "retry", str(doomed))
    assert again.returncode == 0 and f"job {doomed} queued again" in again.stdout, again
    await _until("the retried job to fail again", lambda: _failed_twice(world.database, doomed), world.workers)


async def _failed_twice(database: Database, job_id: int) -> bool:
    async with database.session() as session:
        tries = (await session.execute(select(JobAttempt).where(col(JobAttempt.job_id) == job_id))).scalars().all()
    return [t.outcome for t in tries] == [AttemptOutcome.failed, AttemptOutcome.failed]


async def _chunk_rows(database: Database, run_ids: list[int]) -> list[LetterRenderChunk]:
    async with database.session() as session:
        rows = await session.execute(
            select(LetterRenderChunk)
            .where(col(LetterRenderChunk.run_id).in_(run_ids))
            .order_by(col(LetterRenderChunk.run_id), col(LetterRenderChunk.chunk))
        )
        return list(rows.scalars())


async def test_a_worker_killed_mid_chunk_leaves_each_letter_rendered_once(world: World) -> None:
    """The run issues its letters (as the reminders job does) and its chunks are queued; a worker is
    killed after rendering a chunk, before recording it (held on the chunk's table): another worker
    renders it again, and each letter is kept once, in one chunk, recorded by the surviving worker."""
    database = world.database
    files = LocalFileStore(world.workers.files_dir)
    async with database.session() as session:
        run_ids = []
        for estate_id in world.estates:
            summary = await run_reminders(session, QUEUE, estate_id, DAY, files=files, render_later=True)
            assert summary.run_id is not None
            run_ids.append(summary.run_id)
        letters = list((await session.execute(select(Letter).where(col(Letter.run_id).in_(run_ids)))).scalars())
        with pytest.raises(NotRenderedYet):  # issued, not rendered: no copy to give meanwhile
            await letter_pdf(session, letters[0].id or 0, files)
    chunks = await _chunk_rows(database, run_ids)
    assert sorted(i for c in chunks for i in c.letter_ids) == sorted(x.id for x in letters)
    world.workers.start()
    world.workers.start()
    async with TableHold(world.url, "letter_render_chunk") as hold:
        app = queue_app(world.url)
        async with app.open_async():
            estate_of = dict(zip(run_ids, world.estates, strict=True))
            for c in chunks:
                lock = f"letters:{c.run_id}:{c.chunk}"
                await defer(app, "letter_chunk", lock, chunk_id=c.id, estate_id=estate_of[c.run_id])

        async def blocked_chunk() -> JobAttempt | None:
            # Every running chunk blocked on its record: each has rendered and stored its letters.
            blocked = await hold.blocked_backends()
            attempts = [a for a in await _running(database, "letter_chunk") if a.pid in world.workers.running]
            return attempts[0] if attempts and len(blocked) >= len(attempts) else None

        victim: JobAttempt = await _until("a chunk rendered and blocked on its record", blocked_chunk, world.workers)
        world.workers.kill(victim.pid)
        world.workers.start()
    await _until("the chunks and print files to end", lambda: _queue_idle(database), world.workers)
    await asyncio.sleep(2 * HEARTBEAT)  # a print join queued by the last print chunk
    await _until("the queue to empty", lambda: _queue_idle(database), world.workers)
    world.workers.stop_all()

    async with database.session() as session:
        tries = list(
            (await session.execute(select(JobAttempt).where(col(JobAttempt.job_id) == victim.job_id))).scalars()
        )
    assert [a.outcome for a in tries] == [AttemptOutcome.lost, AttemptOutcome.succeeded], tries
    rendered = await _chunk_rows(database, run_ids)
    assert all(c.document_path and c.hostname and c.pid for c in rendered)
    assert victim.pid not in {c.pid for c in rendered}  # the killed worker recorded nothing
    # Rendered again, the chunk is the same bytes: one stored file a chunk, none beside them.
    assert len(list((world.workers.files_dir / "letters").rglob("*.pdf"))) == len({c.document_sha256 for c in rendered})
    assert len({c.document_sha256 for c in rendered}) == len(rendered)
    async with database.session() as session:
        for letter in letters:
            _, kept, pdf = await letter_pdf(session, letter.id or 0, files)
            assert kept.at_issue and letter.letter_no in "".join(
                p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages
            ).replace(" ", "")
        runs = list((await session.execute(select(ReminderRun).where(col(ReminderRun.id).in_(run_ids)))).scalars())
        for run in runs:
            paper = sorted(x.id for x in letters if x.run_id == run.id and x.channel == "paper" and x.id is not None)
            assert run.print_file and await letters_in_print(session, run.id or 0) == paper
