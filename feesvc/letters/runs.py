"""The scheduled reminder run: the right letter to the right owner at the right stage, never twice.

A run reads the ledger as it stands at the moment of the run (so nobody who has paid gets a
reminder), decides each account's stage and letter (``deciding``, over the accounts of
``accounts``), writes and checks every letter (``writing``), and issues the rest with their
electronic messages in batches (``issuing``). An account is an owner at a unit (DOMAIN.md, "Change
of owner"): after a sale the seller is asked for the periods before the handover, at the seller's
own address (letters.recipients), the buyer for the rest. Letters carry a dedupe key per account,
stage and day: a rerun, or a run resumed after a crash, issues nothing twice. Each letter is
rendered once and its PDF kept (``issued``): at issue, or on the job queue in chunk jobs any worker
takes (``rendering``). A letter that cannot go as chosen falls back
or is listed under "needs attention" with the reason: none is dropped silently.
Only one run per estate can be running (a partial unique index); a run left "running" by a crash
for longer than ``STALE_AFTER`` is taken over.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.attention import UnitReport
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import Conflict
from feesvc.files import FileStore, session_store
from feesvc.letters.content import LetterContext
from feesvc.letters.deciding import decide
from feesvc.letters.estate_terms import estate_terms
from feesvc.letters.issued import ChunkRenderer
from feesvc.letters.issuing import issue_batch, renderer_for
from feesvc.letters.models import Letter, ReminderRun, RunStatus
from feesvc.letters.writing import Ready, prepare
from feesvc.registry.service import get_estate

# A run renders and keeps every letter it issues: a large estate's takes a quarter of an hour or
# more, so a run is taken for crashed (and taken over) only well after that.
STALE_AFTER = timedelta(hours=3)
BATCH = 500


class RunSummary(msgspec.Struct):
    estate_id: int
    as_of: date
    dry_run: bool
    run_id: int | None
    letters_by_kind: dict[str, int]
    messages_by_channel: dict[str, int]
    skipped_by_reason: dict[str, int]
    blocked: list[dict[str, Any]]
    legal_review_units: list[int]
    # Every unit that was due a letter and got none for a reason other than the rules (a blocked
    # letter, a case that could not be read): somebody must look. The command exits non-zero.
    needs_attention: list[UnitReport] = msgspec.field(default_factory=list)
    # Letters issued otherwise than first chosen (a short message without its link, the paper
    # letter alone), each with the reason: issued, but a person may want to know.
    fallbacks: list[dict[str, Any]] = msgspec.field(default_factory=list)


async def _mark_failed(session: AsyncSession, run_id: int | None) -> None:
    """A run that broke off is marked failed at once, so the next run need not wait to take over."""
    await session.rollback()
    run = await session.get(ReminderRun, run_id)
    if run is not None and run.status == RunStatus.running:
        run.status = RunStatus.failed
        run.finished_at = utcnow()
        await session.commit()


async def _claim_run(session: AsyncSession, estate_id: int, as_of: date, actor: Principal) -> ReminderRun:
    stale = await session.execute(
        select(ReminderRun).where(ReminderRun.estate_id == estate_id, ReminderRun.status == RunStatus.running)
    )
    for running in stale.scalars():
        if utcnow() - running.started_at < STALE_AFTER:
            raise Conflict(f"reminder run #{running.id} for this estate is still running", field="estate_id")
        running.status = RunStatus.failed
        running.finished_at = utcnow()
    run = ReminderRun(estate_id=estate_id, as_of=as_of, status=RunStatus.running, actor=actor.label)
    session.add(run)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise Conflict("another reminder run for this estate has just started", field="estate_id") from error
    return run


async def run_reminders(
    session: AsyncSession,
    actor: Principal,
    estate_id: int,
    as_of: date,
    *,
    dry_run: bool = False,
    files: FileStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    render_later: bool = False,
) -> RunSummary:
    """The estate's reminder run as of ``as_of`` (``dry_run``: decided and checked, nothing issued).
    ``render_later`` (a run on the job queue): the letters are issued with the chunks that render
    them later, in jobs of their own (``feesvc.letters.rendering``); otherwise each is rendered and
    kept as it is issued."""
    estate = await get_estate(session, estate_id, field="estate_id")
    files = files if files is not None else session_store(session)
    run = None if dry_run else await _claim_run(session, estate_id, as_of, actor)
    renderer: ChunkRenderer | None = None
    try:
        attention: list[UnitReport] = []
        planned, skipped, legal_review, _ = await decide(session, estate, as_of, attention)
        # In print order (building, unit): a run's paper letters are stored a chunk at a time, as printed.
        planned.sort(key=lambda p: (p.facts.building, p.facts.number, p.owner.id or 0))
        renderer = None if render_later else renderer_for(len(planned))
        letters: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        blocked: list[dict[str, Any]] = []
        fallbacks: list[dict[str, Any]] = []
        letter_terms = await estate_terms(session, estate, as_of)
        summaries: dict[int, tuple[tuple[str, int], ...]] = {}
        done = 0
        for start in range(0, len(planned), BATCH):
            ready: list[Ready] = []
            for plan in planned[start : start + BATCH]:
                done += 1
                prepared = await prepare(session, estate, plan, as_of, letter_terms, summaries, fallbacks)
                if isinstance(prepared, Ready):
                    ready.append(prepared)
                    letters[plan.kind.value] += 1
                    if prepared.electronic:
                        messages[prepared.electronic] += 1
                else:
                    blocked.append({"unit_id": plan.facts.unit_id, "kind": plan.kind.value, "violations": prepared})
                    reason = f"{plan.kind.value} not issued: {'; '.join(prepared)}"
                    attention.append(UnitReport(plan.facts.unit_id, reason))
                if progress is not None:
                    progress(done, len(planned))
            if run is not None and ready:
                await issue_batch(session, run, estate, ready, actor, renderer, files)
                await session.commit()  # progress survives a crash; a rerun skips what is issued
        summary = RunSummary(
            estate_id=estate_id,
            as_of=as_of,
            dry_run=dry_run,
            run_id=run.id if run else None,
            letters_by_kind=dict(letters),
            messages_by_channel=dict(messages),
            skipped_by_reason=dict(skipped),
            blocked=blocked,
            legal_review_units=sorted(legal_review),
            needs_attention=attention,
            fallbacks=fallbacks,
        )
        if run is not None:
            run.status = RunStatus.completed
            run.finished_at = utcnow()
            run.summary = msgspec.to_builtins(summary)
            await record_audit(
                session,
                actor,
                "reminders.run",
                "estate",
                estate_id,
                {
                    "run_id": run.id,
                    "as_of": as_of.isoformat(),
                    "letters": sum(letters.values()),
                    "needs_attention": len(attention),
                },
            )
            await session.commit()
        return summary
    except BaseException:
        if run is not None:
            await _mark_failed(session, run.id)
        raise
    finally:
        if renderer is not None:
            renderer.close()


def context_of(letter: Letter) -> LetterContext:
    """The letter exactly as it was issued, to render it again."""
    return stored_context(letter.context)


def stored_context(stored: dict[str, Any]) -> LetterContext:
    """A letter's stored ``context`` column back as its ``LetterContext``."""
    return msgspec.convert(stored, LetterContext)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
