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
import os
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
from feesvc.jobs.models import PrintFileChunk
from feesvc.letters import storage
from feesvc.letters.issued import Kept, kept_copy, pages_of
from feesvc.letters.models import Letter, ReminderRun, RunStatus
from feesvc.letters.runs import print_file_path, sha256_of
from feesvc.letters.service import get_run

PRINT_CHUNK = 200  # letters a chunk: a few seconds of work, small enough to spread a run's letters
AREA = "print-chunks"


async def runs_to_print(session: AsyncSession, estate_id: int) -> list[int]:
    """The estate's runs that ended (completed, or failed when their worker died and another run
    issued the rest) with paper letters and no print file yet."""
    rows = await session.execute(
        select_columns(col(ReminderRun.id))
        .where(
            col(ReminderRun.estate_id) == estate_id,
            col(ReminderRun.status).in_([RunStatus.completed, RunStatus.failed]),
            col(ReminderRun.print_file).is_(None),
            select_columns(col(Letter.id))
            .where(col(Letter.run_id) == ReminderRun.id, col(Letter.channel) == "paper")
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
    session: AsyncSession, run_id: int, chunk: int, files_dir: Path, hostname: str, pid: int
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
        kept = [await kept_copy(session, letter, files_dir) for letter in letters]
        await session.commit()  # no transaction held while the pages are copied
        pdf, pages = await anyio.to_thread.run_sync(_chunk_pdf, kept)
        stored = await anyio.to_thread.run_sync(storage.put, files_dir, AREA, pdf)
        row.document_path, row.document_sha256, row.pages = stored.path, stored.sha256, pages
        row.hostname, row.pid, row.rendered_at = hostname[:255], pid, utcnow()
        await session.commit()
    left = await session.execute(
        select_columns(func.count())
        .select_from(PrintFileChunk)
        .where(col(PrintFileChunk.run_id) == run_id, col(PrintFileChunk.document_path).is_(None))
    )
    return int(left.scalar_one()) == 0


def _chunk_pdf(kept: Sequence[Kept]) -> tuple[bytes, int]:
    """The letters' pages, in order, as one PDF, and its page count."""
    writer = PdfWriter()
    for (path, digest), group in groupby(kept, key=lambda k: (k.path, k.sha256)):
        part = pages_of(storage.get(path, digest), [(k.first_page, k.last_page) for k in group])
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)


async def join_chunks(session: AsyncSession, run_id: int, files_dir: Path) -> Path | None:
    """The print file from the run's kept chunks; None while a chunk is still missing."""
    run = await get_run(session, run_id)
    target = print_file_path(files_dir, run_id)
    if run.print_file and target.exists():
        return target
    chunks = await _chunks(session, run_id)
    parts: list[tuple[str, str]] = []
    for row in chunks:
        if row.document_path is None or row.document_sha256 is None:
            return None
        parts.append((row.document_path, row.document_sha256))
    if not parts:
        return None
    await session.commit()
    target.parent.mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(_join, parts, target)
    run.print_file = str(target)
    run.print_sha256 = sha256_of(target.read_bytes())
    await session.commit()
    return target


def _join(parts: list[tuple[str, str]], target: Path) -> None:
    """The chunks, each read back against its hash, joined by poppler's ``pdfunite`` beside the
    target and renamed into place."""
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        files = []
        for index, (path, digest) in enumerate(parts):
            part = Path(tmp) / f"{index:06d}.pdf"
            part.write_bytes(storage.get(path, digest))
            files.append(part)
        joined = Path(tmp) / "joined.pdf"
        if len(files) == 1:
            shutil.copyfile(files[0], joined)
        else:
            subprocess.run(["pdfunite", *map(str, files), str(joined)], check=True, capture_output=True)
        os.replace(joined, target)


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
