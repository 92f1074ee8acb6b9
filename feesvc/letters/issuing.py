"""A reminder run's letters issued a batch at a time: numbered, rendered once, kept, and added
with their outbox messages (rows built as every letter's are: ``feesvc.letters.rows``).

A letter carries a dedupe key (a run's: per account, stage and day), so a rerun, or a run resumed
after a crash, issues nothing twice. Its number is the estate's (``JXHY-2026-HJ000123``), never a
stage's name.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.files import FileStore
from feesvc.letters.content import email_subject
from feesvc.letters.deciding import Planned
from feesvc.letters.issued import ChunkRenderer, allocate_numbers, record_copy, store_rendered
from feesvc.letters.models import Letter, ReminderRun
from feesvc.letters.recipients import recipient
from feesvc.letters.rendering import plan_render_chunks
from feesvc.letters.rows import letter_row, outbox_row
from feesvc.letters.writing import Ready
from feesvc.registry.models import Estate

CHUNK = 100  # letters rendered into one stored PDF (fonts embedded once a chunk): documents.render


class _Message(NamedTuple):
    """An electronic message of an issued letter, added to the outbox once the letter has its id."""

    letter: Letter
    channel: str
    recipient: str
    subject: str
    body: str


async def issue_batch(
    session: AsyncSession,
    run: ReminderRun,
    estate: Estate,
    ready: list[Ready],
    actor: Principal,
    renderer: ChunkRenderer | None,
    files: FileStore,
) -> None:
    """Number the batch's letters, render each once and keep it, then add the letters and their
    messages. The numbers are committed before rendering (their counter is not held meanwhile): a
    crash while rendering leaves a gap in the numbers, never a letter without its document.
    ``renderer`` None (a run on the job queue): the letters are added with the chunks that will
    render them, in one transaction, and rendered by chunk jobs (``feesvc.letters.rendering``)."""
    assert estate.id is not None and run.id is not None
    numbers = await allocate_numbers(session, estate.id, estate.code, ready[0].ctx.issued_on.year, len(ready))
    await session.commit()
    for item, number in zip(ready, numbers, strict=True):
        item.ctx = replace(item.ctx, letter_no=number)
    paper = [item for item in ready if item.channel == "paper"]
    other = [item for item in ready if item.channel != "paper"]
    outbox: list[_Message] = []
    if renderer is None:
        groups = [[_issue(session, run, estate, item, actor, outbox) for item in group] for group in (paper, other)]
        await _add_outbox(session, outbox)
        await session.flush()
        await plan_render_chunks(session, run.id, groups)
        return
    chunks = [chunk for group in (paper, other) for chunk in _chunked(group, renderer)]
    rendered = await renderer.render([[item.ctx for item in chunk] for chunk in chunks])
    for chunk, (pdf, counts) in zip(chunks, rendered, strict=True):
        contexts = [item.ctx for item in chunk]
        copies = await store_rendered(files, contexts, pdf, counts)
        for item, copy in zip(chunk, copies, strict=True):
            record_copy(_issue(session, run, estate, item, actor, outbox), copy)
    await _add_outbox(session, outbox)


def renderer_for(letters: int) -> ChunkRenderer:
    """A run of a chunk or so renders in a thread; a larger one on a pool of processes."""
    return ChunkRenderer(pooled=letters > CHUNK)


def _chunked(items: list[Ready], renderer: ChunkRenderer) -> list[list[Ready]]:
    """Chunks of at most ``CHUNK`` letters; on a pool, as many as a multiple of its workers, of even
    size, so that no worker waits idle for the batch's last chunk."""
    count = -(-len(items) // CHUNK)
    if renderer.pooled and count:
        count = -(-count // renderer.workers) * renderer.workers
    size = -(-len(items) // count) if count else 1
    return [items[i : i + size] for i in range(0, len(items), size)]


def _issue(
    session: AsyncSession,
    run: ReminderRun,
    estate: Estate,
    item: Ready,
    actor: Principal,
    outbox: list[_Message],
) -> Letter:
    """Add the letter; its electronic message waits in ``outbox`` until the batch's letters have ids."""
    assert estate.id is not None
    plan, ctx = item.plan, item.ctx
    letter = letter_row(
        estate.id,
        plan.facts.unit_id,
        plan.owner.id,
        ctx,
        channel=item.channel,
        dedupe_key=_dedupe_key(plan, ctx.issued_on),
        actor=actor,
        message=item.text if item.electronic else None,
        run_id=run.id,
        stage=plan.rule.stage,
    )
    session.add(letter)
    if item.electronic is not None:
        to = recipient(plan.owner, item.electronic)
        outbox.append(_Message(letter, item.electronic, to, email_subject(ctx), item.text))
    return letter


def _dedupe_key(plan: Planned, issued_on: date) -> str:
    """One letter per account, stage and day (the current owner's key is the unit's, as before
    sales; a former owner's names them)."""
    key = f"{plan.facts.unit_id}:{plan.rule.stage.value}:{issued_on}"
    return f"{key}:{plan.owner.id}" if plan.former else key


async def _add_outbox(session: AsyncSession, outbox: list[_Message]) -> None:
    """One flush gives the batch's letters their ids, then their messages go in beside them (instead
    of a flush, a round trip, for every letter with a message). Empties ``outbox``."""
    if not outbox:
        return
    await session.flush()
    for message in outbox:
        session.add(outbox_row(message.letter, message.channel, message.recipient, message.subject, message.body))
    outbox.clear()
