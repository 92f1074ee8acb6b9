"""The queue's tasks: each scheduled run as a job per estate, a run's letters rendered and its print file
made in chunk jobs, the dispatcher.

Each run task calls the same service function the command line calls (feesvc/cli.py), as the
queue's principal, for the business day of the minute it was scheduled for; the job records its
attempt (host, pid, progress, outcome) in ``job_attempt``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
import procrastinate
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from feesvc.db import Database, utcnow
from feesvc.jobs.models import JobDispatch, JobKind
from feesvc.jobs.printing import join_chunks, plan_chunks, render_chunk, runs_to_print
from feesvc.jobs.queue import QUEUE, RETRY, attempt, blueprint, defer, defer_run, worker_of
from feesvc.jobs.rules import accrual_day, billing_period, is_due, minute_of, run_day
from feesvc.jobs.schedules import enabled_schedules
from feesvc.letters.models import LetterRenderChunk, ReminderRun, RunStatus
from feesvc.letters.rendering import render_chunk as render_letter_chunk
from feesvc.letters.rendering import unrendered_chunks
from feesvc.settings import get_settings

SUMMARY_LIST_LIMIT = 20  # a summary keeps a long list (units needing attention) as its count


def _summary(result: msgspec.Struct) -> dict[str, Any]:
    values: dict[str, Any] = msgspec.to_builtins(result)
    return {k: (len(v) if isinstance(v, list) and len(v) > SUMMARY_LIST_LIMIT else v) for k, v in values.items()}


def _day(scheduled_for: str) -> date:
    return run_day(datetime.fromisoformat(scheduled_for))


@blueprint.task(name=JobKind.billing.value, pass_context=True, retry=RETRY)
async def billing(context: procrastinate.JobContext, estate_id: int, scheduled_for: str) -> None:
    """Issue the period of the month the run is scheduled in, dated that day (idempotent)."""
    from feesvc.billing.service import run_billing

    day = _day(scheduled_for)
    async with attempt(context, estate_id) as run, run.session() as session:
        run.summary = _summary(await run_billing(session, QUEUE, estate_id, billing_period(day), day))


@blueprint.task(name=JobKind.late_fees.value, pass_context=True, retry=RETRY)
async def late_fees(context: procrastinate.JobContext, estate_id: int, scheduled_for: str) -> None:
    """Post the late fees owed up to the day before the scheduled day (idempotent: keyed by charge
    and day); scheduled on the 1st, the month's last day."""
    from feesvc.latefees.service import accrue_late_fees

    async with attempt(context, estate_id) as run, run.session() as session:
        run.summary = _summary(await accrue_late_fees(session, QUEUE, estate_id, accrual_day(_day(scheduled_for))))


@blueprint.task(name=JobKind.plan_review.value, pass_context=True, retry=RETRY)
async def plan_review(context: procrastinate.JobContext, estate_id: int, scheduled_for: str) -> None:
    """Complete or break the estate's installment plans as of the scheduled day (idempotent)."""
    from feesvc.plans.review import review_plans

    async with attempt(context, estate_id) as run, run.session() as session:
        run.summary = _summary(await review_plans(session, QUEUE, estate_id, _day(scheduled_for)))


@blueprint.task(name=JobKind.reminders.value, pass_context=True, retry=RETRY)
async def reminders(context: procrastinate.JobContext, estate_id: int, scheduled_for: str) -> None:
    """The day's reminder run: its letters issued here, rendered in chunk jobs any worker takes,
    then its print file in chunk jobs. A run of the queue's left running is a dead worker's (the
    queue's lock lets only this job run the estate's reminders): it is marked failed, and this run
    issues what it had not (each letter's dedupe key)."""
    from feesvc.letters.runs import run_reminders

    worker = worker_of(context)
    async with attempt(context, estate_id) as run, run.session() as session:
        await session.execute(
            update(ReminderRun)
            .where(
                col(ReminderRun.estate_id) == estate_id,
                col(ReminderRun.status) == RunStatus.running,
                col(ReminderRun.actor) == QUEUE.label,
            )
            .values(status=RunStatus.failed, finished_at=utcnow())
        )
        await session.commit()
        summary = await run_reminders(
            session,
            QUEUE,
            estate_id,
            _day(scheduled_for),
            files=worker.files,
            progress=run.progress,
            render_later=True,
        )
        run.summary = _summary(summary)
        # This run's letters, and a dead worker's run's: rendered in chunks, then printed.
        for chunk in await unrendered_chunks(session, estate_id):
            assert chunk.id is not None
            lock = _render_lock(chunk.run_id, chunk.chunk)
            await defer(context.app, "letter_chunk", lock, chunk_id=chunk.id, estate_id=estate_id)
        for run_id in await runs_to_print(session, estate_id):
            await queue_print_file(context.app, worker.database, run_id)


def _render_lock(run_id: int, chunk: int) -> str:
    return f"letters:{run_id}:{chunk}"


@blueprint.task(name="letter_chunk", pass_context=True, retry=RETRY)
async def letter_chunk(context: procrastinate.JobContext, chunk_id: int, estate_id: int) -> None:
    """Render and keep one chunk of an estate's run's letters; the last one rendered queues the
    print file."""
    worker = worker_of(context)
    async with attempt(context, estate_id) as run:
        async with run.session() as session:
            last = await render_letter_chunk(session, chunk_id, worker.files, worker.hostname, worker.pid)
            chunk = await session.get(LetterRenderChunk, chunk_id)
            assert chunk is not None
            run.summary = {"run_id": chunk.run_id, "chunk": chunk.chunk, "letters": len(chunk.letter_ids)}
        if last:
            await queue_print_file(context.app, worker.database, chunk.run_id)


async def queue_print_file(app: procrastinate.App, database: Database, run_id: int) -> None:
    """Queue the run's chunks still to make, or the join when none is left."""
    async with database.session() as session:
        chunks = await plan_chunks(session, run_id)
    pending = [c.chunk for c in chunks if c.document_path is None]
    for chunk in pending:
        await defer(app, "print_chunk", f"print:{run_id}:{chunk}", run_id=run_id, chunk=chunk)
    if chunks and not pending:
        await defer(app, "print_join", f"print:{run_id}", run_id=run_id)


@blueprint.task(name="print_chunk", pass_context=True, retry=RETRY)
async def print_chunk(context: procrastinate.JobContext, run_id: int, chunk: int) -> None:
    """One chunk of a run's print file; the last one done queues the join."""
    worker = worker_of(context)
    async with attempt(context, None) as run:
        async with run.session() as session:
            last = await render_chunk(session, run_id, chunk, worker.files, worker.hostname, worker.pid)
            run.summary = {"run_id": run_id, "chunk": chunk}
        if last:
            await defer(context.app, "print_join", f"print:{run_id}", run_id=run_id)


@blueprint.task(name="print_join", pass_context=True, retry=RETRY)
async def print_join(context: procrastinate.JobContext, run_id: int) -> None:
    async with attempt(context, None) as run, run.session() as session:
        ref = await join_chunks(session, run_id, worker_of(context).files)
        run.summary = {"run_id": run_id, "print_file": ref}


@blueprint.task(name=JobKind.outbox.value, pass_context=True, retry=RETRY)
async def outbox(context: procrastinate.JobContext, scheduled_for: str) -> None:
    """Send waiting e-mail (every estate's: one gateway, one job at a time); each message at most once."""
    from feesvc.letters.outbox import SmtpSender, deliver, waiting_count

    mail = get_settings().mail
    async with attempt(context, None) as run, run.session() as session:
        if not mail.host:
            run.summary = {"sent": 0, "waiting": await waiting_count(session, "email"), "smtp": "no FEESVC_SMTP_HOST"}
            return
        run.summary = _summary(await deliver(session, SmtpSender(mail)))


async def dispatch_minute(app: procrastinate.App, database: Database, minute: datetime) -> list[int]:
    """Queue every enabled schedule due in this minute, once per (estate, kind, minute) however many
    dispatchers run; the ids of the jobs queued. The dispatch row is held uncommitted while its job
    is queued: a second dispatcher waits on it, then finds it and skips."""
    minute = minute_of(minute)
    queued: list[int] = []
    async with database.session() as session:
        due = [s for s in await enabled_schedules(session) if is_due(s.cron, minute)]
    outbox_queued = False  # one delivery for every estate whose schedule says so
    for schedule in sorted(due, key=lambda s: (s.estate_id, s.kind)):
        async with database.session() as session:
            row = JobDispatch(estate_id=schedule.estate_id, kind=schedule.kind, scheduled_for=minute)
            session.add(row)
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                continue  # dispatched already
            if schedule.kind != JobKind.outbox:
                row.job_id = await defer_run(app, schedule.kind, schedule.estate_id, minute.isoformat())
            elif not outbox_queued:
                row.job_id = await defer_run(app, schedule.kind, None, minute.isoformat())
                outbox_queued = True
            await session.commit()
        if row.job_id is not None:
            queued.append(row.job_id)
    return queued


@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="dispatch", pass_context=True, retry=RETRY)
async def dispatch(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: queue the runs the schedules say are due (``dispatch_minute``)."""
    minute = datetime.fromtimestamp(timestamp, UTC)
    async with attempt(context, None) as run:
        run.summary = {
            "minute": minute.isoformat(),
            "queued": await dispatch_minute(context.app, worker_of(context).database, minute),
        }
