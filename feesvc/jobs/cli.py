"""``feesvc worker`` and ``feesvc jobs list|retry|cancel``: the queue from the command line."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.jobs.listing import cancel_job, list_jobs, retry_job
from feesvc.jobs.models import JobStatus
from feesvc.settings import get_settings

T = TypeVar("T")
log = logging.getLogger(__name__)

ON_SQLITE = (
    "the job queue needs PostgreSQL (FEESVC_DATABASE_URL is SQLite): on SQLite the runs go from cron "
    "as before (feesvc bill, accrue, plans review, remind, outbox send; README, 'Scheduled runs')"
)


def _require_postgres() -> str:
    settings = get_settings()
    if settings.database.is_sqlite:
        raise click.ClickException(ON_SQLITE)
    return settings.database.url


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True, help="Jobs run at once.")
@click.option("--name", default=None, help="The worker's name in the queue (default host:pid).")
@click.option("--heartbeat", type=click.FloatRange(0.5, 600), default=10.0, show_default=True, help="Seconds.")
@click.option(
    "--stalled-after",
    type=click.FloatRange(2, 3600),
    default=60.0,
    show_default=True,
    help="Seconds without a worker's heartbeat after which its running jobs are put back in the queue.",
)
def worker_command(concurrency: int, name: str | None, heartbeat: float, stalled_after: float) -> None:
    """Take jobs from the queue until stopped (SIGTERM or Ctrl-C: the running jobs finish first).
    Run any number, on any machine with the database URL; every worker also queues the schedules'
    due runs each minute (once between them) and puts back the jobs of dead workers."""
    url = _require_postgres()
    if stalled_after <= heartbeat * 2:
        raise click.BadParameter("must be more than twice --heartbeat", param_hint="--stalled-after")
    asyncio.run(
        _run_worker(url, concurrency, name or f"{socket.gethostname()}:{os.getpid()}", heartbeat, stalled_after)
    )


async def _run_worker(url: str, concurrency: int, name: str, heartbeat: float, stalled_after: float) -> None:
    from feesvc.db import Database, create_engine, session_factory
    from feesvc.files import open_store
    from feesvc.jobs.queue import Worker, queue_app, retry_stalled

    settings = get_settings()
    app = queue_app(url)
    engine = create_engine(settings.database)
    worker = Worker(Database(engine, session_factory(engine)), open_store(settings, engine))

    async def watch_stalled() -> None:
        while True:
            await asyncio.sleep(stalled_after / 3)
            try:
                await retry_stalled(app, stalled_after)
            except Exception as error:  # noqa: BLE001 - the database may be restarting: next round
                log.warning("stalled jobs not checked: %s", error)

    async with app.open_async():
        watcher = asyncio.create_task(watch_stalled())
        try:
            await app.run_worker_async(
                concurrency=concurrency,
                name=name,
                additional_context={"worker": worker},
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
            )
        finally:
            watcher.cancel()
            await engine.dispose()


@click.group("jobs")
def jobs_command() -> None:
    """The job queue's jobs (PostgreSQL)."""


def _with_app(work: Callable[[procrastinate.App, AsyncSession], Awaitable[T]]) -> T:
    from feesvc.cli import run_with_session
    from feesvc.jobs.queue import queue_app

    app = queue_app(_require_postgres())

    async def with_app(session: AsyncSession) -> T:
        async with app.open_async():
            return await work(app, session)

    return run_with_session(with_app)


@jobs_command.command("list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), default=None)
@click.option("--estate", "estate_id", type=click.IntRange(1), default=None, help="Estate id.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def jobs_list(status: str | None, estate_id: int | None, limit: int) -> None:
    """Newest first, one a line: id, task, estate, status, attempts, where, progress, duration, error."""
    from feesvc.cli import run_with_session

    _require_postgres()
    jobs = run_with_session(lambda session: list_jobs(session, status=status, estate_id=estate_id, limit=limit))
    rows = [("id", "task", "estate", "status", "tries", "where", "progress", "seconds", "error")]
    for job in jobs:
        where = f"{job.hostname}:{job.pid}" if job.hostname else "-"
        progress = f"{job.progress_done}/{job.progress_total or '?'}" if job.progress_done is not None else "-"
        seconds = f"{job.duration_seconds:.1f}" if job.duration_seconds is not None else "-"
        estate = str(job.estate_id) if job.estate_id is not None else "-"
        rows.append(
            (str(job.id), job.task, estate, job.status, str(job.attempts), where, progress, seconds, job.error or "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@jobs_command.command("retry")
@click.argument("job_id", type=click.IntRange(1))
def jobs_retry(job_id: int) -> None:
    """Run failed job JOB_ID again now."""
    _with_app(lambda app, session: retry_job(app, session, job_id))
    click.echo(f"job {job_id} queued again")


@jobs_command.command("cancel")
@click.argument("job_id", type=click.IntRange(1))
def jobs_cancel(job_id: int) -> None:
    """Cancel waiting job JOB_ID, or ask a running one to stop."""
    status = _with_app(lambda app, session: cancel_job(app, session, job_id))
    click.echo(f"job {job_id} {status}")
