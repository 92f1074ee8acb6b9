"""The job queue: Procrastinate on the service's PostgreSQL database.

A job is one run of one kind for one estate. Its lock (``rules.lock_key``) lets one such job run at
a time, in the order queued (the queue's unique index on running jobs' locks). A job
that meets a transient fault (a lost connection, a serialization failure, a deadlock) is retried
with backoff; a job whose worker died (no heartbeat for ``stalled_after`` seconds) is put back by
any live worker and run again from the start: every run is idempotent, so what the dead worker
committed is not done twice (tests/test_jobs_workers.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import procrastinate
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import Executable, insert, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import Database, utcnow
from feesvc.files import FileStore
from feesvc.jobs.models import AttemptOutcome, JobAttempt
from feesvc.jobs.rules import backoff, lock_key

log = logging.getLogger(__name__)

NAMESPACE = "feesvc"
QUEUE = Principal(role=Role.system, name="queue")  # the actor of every queued run
APPLICATION_NAME = "feesvc-queue"  # the queue's own connections, as pg_stat_activity shows them
MAX_ATTEMPTS = 8  # a transient fault's retries: 2 s … 256 s apart, about eight minutes in all
PROGRESS_EVERY = 2.0  # seconds between writes of a running job's progress
# PostgreSQL's codes for faults that go away by themselves: serialization failure, deadlock, the
# server shutting down or restarting, a connection lost or refused.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"})
blueprint = procrastinate.Blueprint()


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def is_transient(error: BaseException) -> bool:
    """A fault a later try may not meet: the database restarted or a connection dropped, a
    serialization failure or a deadlock. A domain refusal or a bug is not retried."""
    for cause in _causes(error):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        # A statement that failed on a lost connection inside a unit's savepoint leaves the session
        # waiting for a rollback: the run's next statement says so.
        if isinstance(cause, PendingRollbackError):
            return True
        if isinstance(cause, ConnectionError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
            return True
        if (getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)) in TRANSIENT_SQLSTATES:
            return True
    return False


class TransientFaults(BaseRetryStrategy):
    """Retry transient faults with exponential backoff, up to ``MAX_ATTEMPTS``; fail on the rest."""

    def get_retry_decision(self, *, exception: BaseException, job: procrastinate.jobs.Job) -> RetryDecision | None:
        if job.attempts + 1 >= MAX_ATTEMPTS or not is_transient(exception):
            return None
        return RetryDecision(retry_in={"seconds": int(backoff(job.attempts).total_seconds())})


RETRY = TransientFaults()


def conninfo(database_url: str) -> str:
    """The libpq URL of the service's database (FEESVC_DATABASE_URL names it for asyncpg too)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_app(database_url: str) -> procrastinate.App:
    """The queue on the service's database, with every task of ``feesvc.jobs.tasks``."""
    import feesvc.jobs.tasks  # noqa: F401 - registers the tasks on the blueprint

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), kwargs={"application_name": APPLICATION_NAME}, min_size=1, max_size=4
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(blueprint, namespace=NAMESPACE)
    return app


def task_name(name: str) -> str:
    return f"{NAMESPACE}:{name}"


async def defer(app: procrastinate.App, name: str, lock: str, **kwargs: Any) -> int:
    """Queue a job of task ``name`` under ``lock``: jobs with one lock run one at a time, in the
    order they were queued. No queueing lock: the queue's retry of a failed job would collide with
    a job of the same queueing lock queued meanwhile; the dispatcher's own key keeps a scheduled
    minute from being queued twice."""
    return await app.configure_task(name=task_name(name), lock=lock).defer_async(**kwargs)


async def defer_run(app: procrastinate.App, kind: str, estate_id: int | None, scheduled_for: str) -> int:
    """Queue an estate's run of ``kind`` for a scheduled minute (ISO, UTC)."""
    if estate_id is None:
        return await defer(app, kind, lock_key(kind, None), scheduled_for=scheduled_for)
    return await defer(app, kind, lock_key(kind, estate_id), estate_id=estate_id, scheduled_for=scheduled_for)


@dataclass
class Worker:
    """What a worker process's jobs share: its database engine and where files are kept (the file
    store every machine reaches when the setting says ``database``)."""

    database: Database
    files: FileStore
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


def worker_of(context: procrastinate.JobContext) -> Worker:
    worker: Worker = context.additional_context["worker"]
    return worker


@dataclass
class Attempt:
    """A running job's record: its progress is written every few seconds, its end once."""

    worker: Worker
    row_id: int
    summary: dict[str, Any] | None = None
    _progress: tuple[int, int | None] | None = None
    _written: tuple[int, int | None] | None = None

    def progress(self, done: int, total: int | None) -> None:
        self._progress = (done, total)

    def unwritten_progress(self) -> dict[str, int | None]:
        if self._progress is None or self._progress == self._written:
            return {}
        done, total = self._progress
        return {"progress_done": done, "progress_total": total}

    async def write_progress(self) -> None:
        values = self.unwritten_progress()
        if not values:
            return
        progress = self._progress
        await _record(self.worker, _attempt_update(self.row_id, **values))
        self._written = progress

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.worker.database.session()


def _attempt_update(row_id: int, **values: Any) -> Executable:
    return update(JobAttempt).where(col(JobAttempt.id) == row_id).values(**values)


async def _record(worker: Worker, *statements: Executable) -> list[Any]:
    """Write to the attempt's record, each statement committing on its own: no session and no
    transaction to open and close between two jobs (the queue's overhead a job)."""
    async with worker.database.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        results = [await connection.execute(statement) for statement in statements]
        return [result.scalar() if result.returns_rows else None for result in results]


async def _keep_writing_progress(attempt: Attempt) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        try:
            await attempt.write_progress()
        except Exception as error:  # noqa: BLE001 - progress is advisory; the run itself goes on
            log.debug("progress of attempt %s not written: %s", attempt.row_id, error)


@asynccontextmanager
async def attempt(context: procrastinate.JobContext, estate_id: int | None) -> AsyncIterator[Attempt]:
    """Record this try of the job (host, pid, start), its progress, and how it ended. Earlier tries
    still marked running died with their worker: they are marked lost."""
    worker, job = worker_of(context), context.job
    assert job.id is not None
    now = utcnow()  # the dead try's end is this one's start
    started = insert(JobAttempt).returning(col(JobAttempt.id))
    row = {
        "job_id": job.id,
        "task": job.task_name,
        "estate_id": estate_id,
        "attempt": job.attempts + 1,
        "hostname": worker.hostname[:255],
        "pid": worker.pid,
        "outcome": AttemptOutcome.running,
        "started_at": now,
    }
    if job.attempts:  # a first try has no earlier one (the queue counts a retry, the stalled one's too)
        lost = (
            update(JobAttempt)
            .where(col(JobAttempt.job_id) == job.id, col(JobAttempt.outcome) == AttemptOutcome.running)
            .values(outcome=AttemptOutcome.lost, finished_at=now, error="the worker stopped while running it")
        )
        *_, row_id = await _record(worker, lost, started.values(**row))
    else:
        [row_id] = await _record(worker, started.values(**row))
    current = Attempt(worker, row_id)
    writer = asyncio.create_task(_keep_writing_progress(current))
    try:
        yield current
    except Exception as error:
        writer.cancel()
        if is_transient(error):
            # Connections of the pool may all be dead (a database restart): start the retry afresh.
            await worker.database.engine.dispose()
        with suppress(Exception):  # the record is advisory; the queue keeps the job's state
            failed = _attempt_update(
                current.row_id,
                outcome=AttemptOutcome.failed,
                finished_at=utcnow(),
                error=f"{type(error).__name__}: {error}"[:2000],
            )
            await _record(worker, failed)
        raise
    writer.cancel()
    succeeded = _attempt_update(  # the last progress with the end: one statement
        current.row_id,
        outcome=AttemptOutcome.succeeded,
        finished_at=utcnow(),
        summary=current.summary,
        **current.unwritten_progress(),
    )
    await _record(worker, succeeded)


async def retry_stalled(app: procrastinate.App, stalled_after: float) -> list[int]:
    """Put back the jobs of workers silent for ``stalled_after`` seconds; their ids. Every worker
    does this: two that find the same job race in the queue's function, and one of them wins."""
    retried = []
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await app.job_manager.retry_job(job)
        except Exception as error:  # noqa: BLE001 - another worker put it back first
            log.debug("stalled job %s not retried here: %s", job.id, error)
            continue
        assert job.id is not None
        retried.append(job.id)
        log.warning("job %s (%s) of a stalled worker put back in the queue", job.id, job.task_name)
    return retried
