"""A reminder run's print file, made in chunks that any worker takes, joined when the last is done.

The run's paper letters, in print order (by id: a run adds them by building and unit), are split
into chunks of ``PRINT_CHUNK`` letters. Each chunk is a job: the worker that takes it copies its
letters' pages out of their stored PDFs (hash checked; a letter issued before letters were kept is
rendered once, stamped as such), keeps the chunk as a stored file and records it with its host and
pid. The chunk that finds itself the last one done queues the join, which puts the chunks together
beside the print file and renames it into place: the file is complete or absent. Every step is
idempotent: a chunk already kept is not made again, a print file already made is not joined again.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

import anyio
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.db import utcnow
from feesvc.files import PRINT_AREA, FileStore, read_all
from feesvc.jobs.models import PrintFileChunk
from feesvc.letters.issued import PDF, Kept, kept_copy, pages_of
from feesvc.letters.models import Letter, LetterRenderChunk, ReminderRun, RunStatus
from feesvc.letters.rendering import rendered_copies
from feesvc.letters.service import get_run, print_file_name

PRINT_CHUNK = 200  # letters a chunk: a few seconds of work, small enough to spread a run's letters
AREA = "print-chunks"


async def runs_to_print(session: AsyncSession, estate_id: int) -> list[int]:
    """The estate's runs that ended (completed, or failed when their worker died and another run
    issued the rest) with paper letters, all of them rendered, and no print file yet."""
    rows = await session.execute(
        select_columns(col(ReminderRun.id))
        .where(
            col(ReminderRun.estate_id) == estate_id,
            col(ReminderRun.status).in_([RunStatus.completed, RunStatus.failed]),
            col(ReminderRun.print_file).is_(None),
            select_columns(col(Letter.id))
            .where(col(Letter.run_id) == ReminderRun.id, col(Letter.channel) == "paper")
            .exists(),
            ~select_columns(col(LetterRenderChunk.id))
            .where(col(LetterRenderChunk.run_id) == ReminderRun.id, col(LetterRenderChunk.document_path).is_(None))
            .exists(),
        )
        .order_by(col(ReminderRun.id))
    )
    return [int(run_id) for run_id in rows.scalars() if run_id is not None]


async def plan_chunks(session: AsyncSession, run_id: int) -> list[PrintFileChunk]:
    """The run's chunks, planned once (a second planner finds the first one's)."""
    existing = await _chunks(session, run_id)
    if existing:
        return existing
    rows = await session.execute(
        select_columns(col(Letter.id))
        .where(col(Letter.run_id) == run_id, col(Letter.channel) == "paper")
        .order_by(col(Letter.id))
    )
    ids = [int(letter_id) for letter_id in rows.scalars() if letter_id is not None]
    for number, start in enumerate(range(0, len(ids), PRINT_CHUNK)):
        part = ids[start : start + PRINT_CHUNK]
        session.add(
            PrintFileChunk(
                run_id=run_id, chunk=number, first_letter_id=part[0], last_letter_id=part[-1], letters=len(part)
            )
        )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()  # planned by another worker meanwhile: theirs stands
    return await _chunks(session, run_id)


async def _chunks(session: AsyncSession, run_id: int) -> list[PrintFileChunk]:
    rows = await session.execute(
        select(PrintFileChunk).where(PrintFileChunk.run_id == run_id).order_by(col(PrintFileChunk.chunk))
    )
    return list(rows.scalars())


async def render_chunk(
    session: AsyncSession, run_id: int, chunk: int, files: FileStore, hostname: str, pid: int
) -> bool:
    """Make and keep one chunk, unless it is kept already; True when no chunk of the run is left."""
    row = (
        await session.execute(
            select(PrintFileChunk).where(PrintFileChunk.run_id == run_id, PrintFileChunk.chunk == chunk)
        )
    ).scalar_one()
    if row.document_path is None:
        letters = (
            await session.execute(
                select(Letter)
                .where(
                    col(Letter.run_id) == run_id,
                    col(Letter.channel) == "paper",
                    col(Letter.id) >= row.first_letter_id,
                    col(Letter.id) <= row.last_letter_id,
                )
                .order_by(col(Letter.id))
            )
        ).scalars()
        rendered = await rendered_copies(session, run_id)  # letters a chunk job rendered: one query
        kept = [rendered.get(letter.id or 0) or await kept_copy(session, letter, files) for letter in letters]
        await session.commit()  # no transaction held while the pages are copied
        pdf, pages = await _chunk_pdf(files, kept)
        stored = await files.put(AREA, pdf, PDF)
        row.document_path, row.document_sha256, row.pages = stored.ref, stored.sha256, pages
        row.hostname, row.pid, row.rendered_at = hostname[:255], pid, utcnow()
        await session.commit()
    left = await session.execute(
        select_columns(func.count())
        .select_from(PrintFileChunk)
        .where(col(PrintFileChunk.run_id) == run_id, col(PrintFileChunk.document_path).is_(None))
    )
    return int(left.scalar_one()) == 0


async def _chunk_pdf(files: FileStore, kept: Sequence[Kept]) -> tuple[bytes, int]:
    """The letters' pages, in order, as one PDF, and its page count: each stored file read (hash
    checked) once for the letters that stand in a row in it."""
    parts = []
    for (ref, digest), group in groupby(kept, key=lambda k: (k.ref, k.sha256)):
        ranges = [(k.first_page, k.last_page) for k in group]
        parts.append(await anyio.to_thread.run_sync(pages_of, await read_all(files, ref, digest), ranges))
    return await anyio.to_thread.run_sync(_append, parts)


def _append(parts: list[bytes]) -> tuple[bytes, int]:
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)


async def join_chunks(session: AsyncSession, run_id: int, files: FileStore) -> str | None:
    """The print file from the run's kept chunks, kept in the file store; its ref, or None while a
    chunk is still missing."""
    run = await get_run(session, run_id)
    if run.print_file and run.print_sha256 and await files.exists(run.print_file, run.print_sha256):
        return run.print_file
    chunks = await _chunks(session, run_id)
    parts: list[tuple[str, str]] = []
    for row in chunks:
        if row.document_path is None or row.document_sha256 is None:
            return None
        parts.append((row.document_path, row.document_sha256))
    if not parts:
        return None
    await session.commit()
    with tempfile.TemporaryDirectory(prefix=f"feesvc-print-{run_id}-") as tmp:
        files_in_order = []
        for index, (ref, digest) in enumerate(parts):
            part = Path(tmp) / f"{index:06d}.pdf"
            await anyio.Path(part).write_bytes(await read_all(files, ref, digest))
            files_in_order.append(part)
        joined = Path(tmp) / print_file_name(run_id)
        await anyio.to_thread.run_sync(_join, files_in_order, joined)
        stored = await files.put(PRINT_AREA, joined, PDF)  # the store keeps it whole or not at all
    run.print_file, run.print_sha256 = stored.ref, stored.sha256
    await session.commit()
    return stored.ref


def _join(parts: list[Path], joined: Path) -> None:
    """The chunks joined by poppler's ``pdfunite`` (it does not hold them all in memory)."""
    if len(parts) == 1:
        shutil.copyfile(parts[0], joined)
    else:
        subprocess.run(["pdfunite", *map(str, parts), str(joined)], check=True, capture_output=True)


async def letters_in_print(session: AsyncSession, run_id: int) -> list[int]:
    """The paper letters the run's chunks cover, by id (for checks: each once, none left out)."""
    ids: list[int] = []
    for row in await _chunks(session, run_id):
        rows = await session.execute(
            select_columns(col(Letter.id)).where(
                col(Letter.run_id) == run_id,
                col(Letter.channel) == "paper",
                col(Letter.id) >= row.first_letter_id,
                col(Letter.id) <= row.last_letter_id,
            )
        )
        ids += [int(i) for i in rows.scalars() if i is not None]
    return ids
