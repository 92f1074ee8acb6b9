"""A reminder run's letters rendered in chunk jobs, so that two workers on two machines render one
estate's letters together (issue 21 item 3).

On the job queue a run decides and issues its letters (rows, context, message hashes, numbers) in
its own job and, in the same transaction as each batch of letters, plans their rendering in chunks
(``LetterRenderChunk``): a letter of the run is named by exactly one chunk. Each chunk is a job any
worker takes: it renders the chunk's letters from the context recorded at issue, with the templates
of their issue (a worker whose templates differ refuses: the letter would not be the one issued),
keeps the PDF in the file store and records it, with its pages per letter and the worker and host
that rendered it. Until then the letter has no copy (``issued.NotRenderedYet``). A chunk already
recorded is not rendered again; one whose worker died before recording it is rendered by the retry
(the same letters laid out again are the same bytes, kept once by their hash).

Without the queue (SQLite, the command line, the API) the run renders at issue, in-process, as
before: nothing here is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import func, update
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.db import utcnow
from feesvc.files import FileStore
from feesvc.letters.content import LetterContext
from feesvc.letters.issued import Kept, render_and_store, template_version
from feesvc.letters.models import Letter, LetterRenderChunk, ReminderRun

RENDER_CHUNK = 100  # letters a chunk job renders into one stored PDF: a few seconds of a worker's time


class TemplatesChanged(RuntimeError):
    """This worker's letter templates are not those the chunk's letters were issued with."""


async def plan_render_chunks(session: AsyncSession, run_id: int, groups: Sequence[Sequence[Letter]]) -> None:
    """Chunks of at most ``RENDER_CHUNK`` letters for each group (paper letters together, in print
    order, then the rest), numbered after the run's chunks so far; added to the caller's
    transaction, which holds the letters (flushed: they have ids)."""
    planned = await session.execute(
        select_columns(func.count()).select_from(LetterRenderChunk).where(col(LetterRenderChunk.run_id) == run_id)
    )
    number = int(planned.scalar_one())
    for group in groups:
        for start in range(0, len(group), RENDER_CHUNK):
            part = group[start : start + RENDER_CHUNK]
            ids = [letter.id for letter in part if letter.id is not None]
            assert len(ids) == len(part), "the letters are flushed before their chunks are planned"
            session.add(
                LetterRenderChunk(
                    run_id=run_id,
                    chunk=number,
                    first_letter_id=min(ids),
                    last_letter_id=max(ids),
                    letter_ids=ids,
                    template_versions={letter.kind: template_version(letter.kind) for letter in part},
                )
            )
            number += 1


async def unrendered_chunks(session: AsyncSession, estate_id: int) -> list[LetterRenderChunk]:
    """The estate's chunks still to render, of runs no longer issuing (a dead worker's run included)."""
    rows = await session.execute(
        select(LetterRenderChunk)
        .join(ReminderRun, col(ReminderRun.id) == LetterRenderChunk.run_id)
        .where(col(ReminderRun.estate_id) == estate_id, col(LetterRenderChunk.document_path).is_(None))
        .order_by(col(LetterRenderChunk.run_id), col(LetterRenderChunk.chunk))
    )
    return list(rows.scalars())


async def render_chunk(session: AsyncSession, chunk_id: int, files: FileStore, hostname: str, pid: int) -> bool:
    """Render and keep one chunk's letters, unless they are kept already; True when no chunk of its
    run is left to render."""
    row = await session.get(LetterRenderChunk, chunk_id)
    if row is None:
        raise LookupError(f"letter render chunk {chunk_id} does not exist")
    if row.document_path is None:
        changed = {kind: issued for kind, issued in row.template_versions.items() if template_version(kind) != issued}
        if changed:
            raise TemplatesChanged(
                f"chunk {row.chunk} of reminder run {row.run_id}: this worker's templates are not those its "
                f"letters were issued with ({', '.join(sorted(changed))}); run a worker of the release that issued them"
            )
        letters = await session.execute(select(Letter).where(col(Letter.id).in_(row.letter_ids)))
        by_id = {letter.id: letter for letter in letters.scalars()}
        contexts = [msgspec.convert(by_id[letter_id].context, LetterContext) for letter_id in row.letter_ids]
        await session.commit()  # no transaction held while the letters are laid out
        copies = await render_and_store(files, contexts)
        stored = copies[0].document
        # Recorded once: a second worker that rendered the same chunk (its first one's heartbeat
        # late, not dead) finds it recorded and leaves it.
        await session.execute(
            update(LetterRenderChunk)
            .where(col(LetterRenderChunk.id) == chunk_id, col(LetterRenderChunk.document_path).is_(None))
            .values(
                document_path=stored.ref,
                document_sha256=stored.sha256,
                pages={str(i): [c.first_page, c.last_page] for i, c in zip(row.letter_ids, copies, strict=True)},
                hostname=hostname[:255],
                pid=pid,
                rendered_at=utcnow(),
            )
        )
        await session.commit()
    left = await session.execute(
        select_columns(func.count())
        .select_from(LetterRenderChunk)
        .where(col(LetterRenderChunk.run_id) == row.run_id, col(LetterRenderChunk.document_path).is_(None))
    )
    return int(left.scalar_one()) == 0


async def rendered_copies(session: AsyncSession, run_id: int) -> dict[int, Kept]:
    """Every letter of the run rendered by a chunk job, by id: where its pages are kept."""
    rows = await session.execute(
        select(LetterRenderChunk).where(
            col(LetterRenderChunk.run_id) == run_id, col(LetterRenderChunk.document_path).is_not(None)
        )
    )
    copies: dict[int, Kept] = {}
    for chunk in rows.scalars():
        assert chunk.document_path is not None and chunk.document_sha256 is not None and chunk.pages is not None
        for letter_id, (first, last) in chunk.pages.items():
            copies[int(letter_id)] = Kept(chunk.document_path, chunk.document_sha256, first, last, True)
    return copies


async def render_progress(session: AsyncSession, run_id: int) -> dict[str, int] | None:
    """How far the chunk jobs have rendered the run's letters (None: it rendered them at issue)."""
    chunks = await session.execute(
        select_columns(col(LetterRenderChunk.document_path), col(LetterRenderChunk.letter_ids)).where(
            col(LetterRenderChunk.run_id) == run_id
        )
    )
    rows = chunks.all()
    if not rows:
        return None
    waiting = [ids for path, ids in rows if path is None]
    return {
        "chunks": len(rows),
        "chunks_rendered": len(rows) - len(waiting),
        "letters_waiting": sum(len(ids) for ids in waiting),
    }
