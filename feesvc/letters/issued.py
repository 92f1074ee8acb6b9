"""Letters as issued: their numbers, their PDF rendered once and stored, every later copy read back.

DOMAIN.md "What documents may say": a letter is evidence as issued, so its bytes are kept with
their hash, never rendered again from today's templates. A letter is rendered at issue (a run
renders its letters a chunk at a time, as they are printed, so each chunk's fonts are embedded
once) and the PDF kept in the file store (``feesvc.files``: the local directory or the database);
the letter is pages ``first_page`` to ``last_page`` of it. Every copy (the single letter, the
run's print file, the evidence pack) is those pages of that file, whose hash is checked on every
read; the single letter is cut out the same way every time (pypdf writes no date or random id),
so its copies are the same bytes.

Letters are numbered by estate and year (``JXHY-2026-HJ000123``): nothing owner-facing names an
internal stage.

A run on the job queue issues its letters first and renders them in chunk jobs any worker takes
(``feesvc.letters.rendering``): such a letter's copy is its pages of its chunk's stored file, and
until the chunk is rendered there is none to give (``NotRenderedYet``, a 409): nothing else is
served or printed as the letter.

A letter issued before letters were stored has no file: its first copy renders it once from its
stored context, stamps every page as a later rendering, not the original, and keeps that
(``LetterRendering``: the letter's row is append-only).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import anyio
import msgspec
from pypdf import PdfReader, PdfWriter
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.documents import render
from feesvc.errors import Conflict
from feesvc.files import LETTER_AREA, FileStore, StoredFile, read_all, sha256
from feesvc.letters import content
from feesvc.letters.content import LETTER_STYLESHEETS, LetterContext, template_context
from feesvc.letters.kinds import template_for
from feesvc.letters.models import Letter, LetterRenderChunk, LetterRendering, LetterSequence

__all__ = [
    "AREA",
    "ChunkRenderer",
    "IssuedCopy",
    "Kept",
    "NotRenderedYet",
    "allocate_numbers",
    "cut",
    "issued_copy",
    "kept_at_issue",
    "kept_copy",
    "letter_number",
    "message_sha256",
    "pages_of",
    "read_kept",
    "record_copy",
    "render_and_store",
    "render_later",
    "stamped_later",
    "store_rendered",
    "template_version",
]

AREA: Final = LETTER_AREA
PDF: Final = "application/pdf"
#: What every letter's look depends on besides its own template (the words are in content.py).
SHARED_TEMPLATES: Final = (
    "letter_base.html",
    "letter_macros.html",
    "base.html",
    "_macros.html",
    "letter.css",
    "base.css",
)


@dataclass(frozen=True)
class IssuedCopy:
    """Where a letter's issued PDF is: pages ``first_page``–``last_page`` of a stored file."""

    document: StoredFile
    first_page: int
    last_page: int
    template_version: str


@cache
def template_version(kind: str) -> str:
    """The version of the templates (and words) a letter of ``kind`` is rendered with: a hash of
    its template, the shared layout and the letters' words (``feesvc.letters.content``)."""
    digest = hashlib.sha256()
    for name in (template_for(kind), *SHARED_TEMPLATES):
        path = render.LETTERS_DIR / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    words = Path(content.__file__)  # the words: content.py, or the content package's modules
    for path in sorted(words.parent.glob("*.py")) if words.name == "__init__.py" else [words]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{template_for(kind)}@sha256:{digest.hexdigest()[:16]}"


def letter_number(estate_code: str, year: int, number: int) -> str:
    """``JXHY-2026-HJ000123``: HJ (函件) keeps a letter's number apart from a receipt's (2026-000123)."""
    return f"{estate_code}-{year}-HJ{number:06d}"


async def allocate_numbers(session: AsyncSession, estate_id: int, estate_code: str, year: int, count: int) -> list[str]:
    """``count`` letter numbers of the estate's ``year``, in the caller's transaction (the counter's
    row stays locked until it ends: commit soon)."""
    if count <= 0:
        return []
    where = (col(LetterSequence.estate_id) == estate_id, col(LetterSequence.year) == year)
    for _ in range(3):
        bumped = await session.execute(
            update(LetterSequence).where(*where).values(last_number=col(LetterSequence.last_number) + count)
        )
        if bumped.rowcount:  # type: ignore[attr-defined]
            last = (await session.execute(select(LetterSequence.last_number).where(*where))).scalar_one()
            return [letter_number(estate_code, year, n) for n in range(last - count + 1, last + 1)]
        try:
            async with session.begin_nested():
                session.add(LetterSequence(estate_id=estate_id, year=year, last_number=count))
        except IntegrityError:
            continue  # another transaction made the year's counter first: bump that one
        return [letter_number(estate_code, year, n) for n in range(1, count + 1)]
    raise RuntimeError(f"no letter numbers for estate {estate_id} in {year}")


def _pages(contexts: Sequence[LetterContext]) -> list[render.Page]:
    return [(template_for(c.kind), template_context(c)) for c in contexts]


async def store_rendered(
    files: FileStore, contexts: Sequence[LetterContext], pdf: bytes, counts: Sequence[int]
) -> list[IssuedCopy]:
    """Keep one rendered chunk; each letter's copy is its pages of it."""
    stored = await files.put(AREA, pdf, PDF)
    copies, first = [], 1
    for ctx, count in zip(contexts, counts, strict=True):
        copies.append(IssuedCopy(stored, first, first + count - 1, template_version(ctx.kind)))
        first += count
    return copies


async def render_and_store(files: FileStore, contexts: Sequence[LetterContext]) -> list[IssuedCopy]:
    """Render letters into one PDF (in a thread) and keep it."""
    pdf, counts = await anyio.to_thread.run_sync(render.render_pdf_pages, _pages(contexts), LETTER_STYLESHEETS)
    return await store_rendered(files, contexts, pdf, counts)


def record_copy(letter: Letter, copy: IssuedCopy) -> None:
    letter.document_path = copy.document.ref
    letter.document_sha256 = copy.document.sha256
    letter.first_page = copy.first_page
    letter.last_page = copy.last_page
    letter.template_version = copy.template_version


@dataclass(frozen=True)
class Kept:
    """Where a letter's PDF is kept: pages of a stored file (``ref`` in the file store); ``at_issue``
    False for a letter issued before letters were kept, rendered later (and stamped so)."""

    ref: str
    sha256: str
    first_page: int
    last_page: int
    at_issue: bool


def kept_at_issue(letter: Letter) -> Kept | None:
    if letter.document_path is None or letter.document_sha256 is None:
        return None
    return Kept(letter.document_path, letter.document_sha256, letter.first_page or 1, letter.last_page or 1, True)


class NotRenderedYet(Conflict):
    """The letter is issued, but the queue has not rendered its PDF yet: there is no copy to give."""

    def __init__(self, letter: Letter, chunk: LetterRenderChunk) -> None:
        super().__init__(
            f"letter {letter.letter_no} is issued, but its PDF is still being rendered by the job queue "
            f"(reminder run {chunk.run_id}, chunk {chunk.chunk}): ask again once the chunk's job is done "
            "(GET /api/v1/jobs)"
        )


async def issued_copy(session: AsyncSession, letter: Letter) -> Kept | None:
    """Where the letter's PDF as issued is kept: recorded with the letter, or (a run on the job
    queue) in the chunk it was rendered in; None for a letter issued before letters were kept.
    ``NotRenderedYet`` while its chunk waits for a worker."""
    kept = kept_at_issue(letter)
    if kept is not None or letter.run_id is None or letter.id is None:
        return kept
    rows = await session.execute(
        select(LetterRenderChunk).where(
            col(LetterRenderChunk.run_id) == letter.run_id,
            col(LetterRenderChunk.first_letter_id) <= letter.id,
            col(LetterRenderChunk.last_letter_id) >= letter.id,
        )
    )
    for chunk in rows.scalars():
        if letter.id not in chunk.letter_ids:
            continue
        if chunk.document_path is None or chunk.document_sha256 is None or chunk.pages is None:
            raise NotRenderedYet(letter, chunk)
        first, last = chunk.pages[str(letter.id)]
        return Kept(chunk.document_path, chunk.document_sha256, first, last, True)
    return None


def message_sha256(text: str) -> str:
    """The hash of an electronic message's exact text (UTF-8), as the outbox keeps and sends it."""
    return sha256(text.encode())


class ChunkRenderer:
    """Renders a run's chunks of letters: in a thread when the run has a chunk or two, else on a
    pool of processes, one per CPU (spawned, never forked: the caller holds database connections,
    an event loop and threads), kept for the whole run so each worker loads WeasyPrint once."""

    def __init__(self, pooled: bool, workers: int | None = None) -> None:
        self.pooled = pooled
        self.workers = workers or len(os.sched_getaffinity(0))
        self._pool: ProcessPoolExecutor | None = None

    async def render(self, chunks: Sequence[Sequence[LetterContext]]) -> list[tuple[bytes, list[int]]]:
        if not self.pooled:
            return [
                await anyio.to_thread.run_sync(render.render_pdf_pages, _pages(chunk), LETTER_STYLESHEETS)
                for chunk in chunks
            ]
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        futures = [self._pool.submit(render.render_pdf_pages, _pages(chunk), LETTER_STYLESHEETS) for chunk in chunks]
        return list(await asyncio.gather(*(asyncio.wrap_future(future) for future in futures)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def cut(pdf: bytes, first: int, last: int) -> bytes:
    """Pages ``first``–``last`` of a PDF as a PDF of their own (see ``pages_of``)."""
    return pages_of(pdf, [(first, last)])


def pages_of(pdf: bytes, ranges: Sequence[tuple[int, int]]) -> bytes:
    """These page ranges of a PDF, in this order, as a PDF of their own; the file itself when they
    are all of it in order. pypdf writes neither a date nor a random id: the same pages give the
    same bytes every time."""
    reader = PdfReader(io.BytesIO(pdf))
    numbers = [n for first, last in ranges for n in range(first, last + 1)]
    if numbers == list(range(1, len(reader.pages) + 1)):
        return pdf
    writer = PdfWriter()
    for number in numbers:
        writer.add_page(reader.pages[number - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


#: Stamped on every page of a letter that was not kept at issue and was rendered later.
RENDERED_LATER: Final = (
    "本件系根据系统存档内容事后重新生成，并非出件时的原件。"
    " This copy was rendered later from the stored record; it is not the letter as issued."
)


@cache
def _later_stamp() -> bytes:
    from weasyprint import HTML

    html = (
        '<html lang="zh-CN"><style>@page { size: A4; margin: 0; @bottom-center { content: none } }'
        " body { margin: 0 } .later-note { margin: 5mm 20mm 0; padding: 1mm 2mm; border: 0.6pt solid #b00;"
        " color: #b00; font-size: 8pt; background: #fff }</style>"
        f'<div class="later-note">{RENDERED_LATER}</div></html>'
    )
    with render._RENDER_LOCK:
        document = HTML(string=html).render(
            font_config=render._font_config(), stylesheets=[render._stylesheet("base.css")]
        )
        pdf = document.write_pdf()
    assert pdf is not None
    return pdf


def stamped_later(pdf: bytes) -> bytes:
    """The PDF with ``RENDERED_LATER`` across the top of every page."""
    stamp = PdfReader(io.BytesIO(_later_stamp())).pages[0]
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    for page in writer.pages:
        page.merge_page(stamp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _render_stamped(ctx: LetterContext) -> tuple[bytes, list[int]]:
    pdf, counts = render.render_pdf_pages(_pages([ctx]), LETTER_STYLESHEETS)
    return stamped_later(pdf), counts


async def render_later(files: FileStore, ctx: LetterContext) -> IssuedCopy:
    """A letter that was not kept at issue, rendered now (in a thread) from its stored context,
    stamped as such, and kept."""
    pdf, counts = await anyio.to_thread.run_sync(_render_stamped, ctx)
    [copy] = await store_rendered(files, [ctx], pdf, counts)
    return copy


async def read_kept(files: FileStore, kept: Kept) -> bytes:
    """The letter's own PDF: its pages of the stored file, whose hash is checked as it is read."""
    data = await read_all(files, kept.ref, kept.sha256)
    return await anyio.to_thread.run_sync(cut, data, kept.first_page, kept.last_page)


async def kept_copy(session: AsyncSession, letter: Letter, files: FileStore) -> Kept:
    """Where the letter's PDF is kept. A letter issued before letters were kept is rendered once from
    its stored context, stamped as a later rendering (``render_later``) and kept in
    ``LetterRendering``; every later copy is that one."""
    kept = await issued_copy(session, letter)
    if kept is not None:
        return kept
    assert letter.id is not None
    found = await _rendering(session, letter.id)
    if found is None:
        ctx = msgspec.convert(letter.context, LetterContext)
        copy = await render_later(files, ctx)
        try:
            async with session.begin_nested():
                session.add(
                    LetterRendering(
                        letter_id=letter.id,
                        document_path=copy.document.ref,
                        document_sha256=copy.document.sha256,
                        first_page=copy.first_page,
                        last_page=copy.last_page,
                        template_version=copy.template_version,
                    )
                )
        except IntegrityError:
            pass  # another request kept its rendering first: that one stands
        await session.commit()
        found = await _rendering(session, letter.id)
        assert found is not None
    return Kept(found.document_path, found.document_sha256, found.first_page, found.last_page, False)


async def _rendering(session: AsyncSession, letter_id: int) -> LetterRendering | None:
    query = select(LetterRendering).where(LetterRendering.letter_id == letter_id)
    return (await session.execute(query)).scalar_one_or_none()
