"""A run on the job queue issues its letters first and renders them in chunks later (issue 21 item 3
with issue 16's "kept as issued"): the rendering is done here in-process, as a chunk job does it, on
either database. Until its chunk is rendered a letter has no copy to give, and nothing else is served
or printed in its place; once rendered, every copy is its pages of the chunk's stored file, and a
chunk rendered again changes nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.files import LocalFileStore
from feesvc.jobs.queue import QUEUE
from feesvc.letters.models import Letter, LetterRenderChunk
from feesvc.letters.rendering import TemplatesChanged, render_chunk
from feesvc.letters.runs import run_reminders
from feesvc.settings import Settings
from tests.letters.test_issued_letters import pdf_text
from tests.letters.test_reminder_runs import TODAY, estate_in_arrears
from tests.support import Api, problem


async def test_letters_rendered_later_are_served_only_once_their_chunk_is_kept(
    api: Api, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    estate = await estate_in_arrears(api)
    files = LocalFileStore(Path(settings.server.files_dir))  # the service's own store
    async with sessions() as s:
        summary = await run_reminders(s, QUEUE, estate.id, TODAY, files=files, render_later=True)
    assert summary.run_id is not None and sum(summary.letters_by_kind.values()) == 7
    async with sessions() as s:
        letters = list(
            (await s.execute(select(Letter).where(Letter.run_id == summary.run_id).order_by(col(Letter.id)))).scalars()
        )
        chunks = list(
            (await s.execute(select(LetterRenderChunk).where(LetterRenderChunk.run_id == summary.run_id))).scalars()
        )
    # Issued: numbered, with their context and message hashes, each named by exactly one chunk.
    assert len(letters) == 7 and all(x.document_path is None for x in letters)
    assert sorted(i for c in chunks for i in c.letter_ids) == [x.id for x in letters]
    assert all(c.document_path is None and c.hostname is None for c in chunks)

    # Not rendered yet: a clear 409, never a later rendering stamped in its place, and no print file.
    pending = problem(await api.get(f"/api/v1/letters/{letters[0].id}/letter.pdf"), 409)
    assert letters[0].letter_no in pending["detail"] and "still being rendered" in pending["detail"]
    problem(await api.get(f"/api/v1/reminder-runs/{summary.run_id}/print.pdf"), 409)
    shown = await api.ok(await api.get(f"/api/v1/reminder-runs/{summary.run_id}"))
    assert shown["rendering"] == {"chunks": len(chunks), "chunks_rendered": 0, "letters_waiting": 7}

    async with sessions() as s:
        done = [await render_chunk(s, c.id or 0, files, "host-a", 101) for c in chunks]
    assert done[-1] and not any(done[:-1])
    async with sessions() as s:
        rendered = list(
            (await s.execute(select(LetterRenderChunk).where(LetterRenderChunk.run_id == summary.run_id))).scalars()
        )
    assert all(c.document_path and c.hostname == "host-a" and c.pid == 101 for c in rendered)
    shown = await api.ok(await api.get(f"/api/v1/reminder-runs/{summary.run_id}"))
    assert shown["rendering"] == {"chunks": len(chunks), "chunks_rendered": len(chunks), "letters_waiting": 0}

    copies = {}
    for letter in letters:
        response = await api.get(f"/api/v1/letters/{letter.id}/letter.pdf")
        assert response.status_code == 200 and response.headers["x-letter-rendered-at-issue"] == "true"
        assert letter.letter_no in pdf_text(response.content)
        copies[letter.id] = response.content

    # A chunk rendered again (a retried job) keeps what was recorded: the same file, the same copies.
    async with sessions() as s:
        assert await render_chunk(s, rendered[0].id or 0, files, "host-b", 202)
        again = await s.get(LetterRenderChunk, rendered[0].id)
        assert again is not None
        assert (again.document_sha256, again.hostname) == (rendered[0].document_sha256, "host-a")
    for letter in letters:
        assert (await api.get(f"/api/v1/letters/{letter.id}/letter.pdf")).content == copies[letter.id]

    printed = await api.get(f"/api/v1/reminder-runs/{summary.run_id}/print.pdf")
    assert printed.status_code == 200
    paper = [x for x in letters if x.channel == "paper"]
    pages = sum(len(PdfReader(io.BytesIO(copies[x.id])).pages) for x in paper)
    assert len(PdfReader(io.BytesIO(printed.content)).pages) == pages


async def test_a_worker_with_other_templates_refuses_to_render_a_chunk(
    api: Api, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """The letter is the one issued: a worker of another release (other templates) leaves it waiting."""
    estate = await estate_in_arrears(api)
    files = LocalFileStore(Path(settings.server.files_dir))
    async with sessions() as s:
        summary = await run_reminders(s, QUEUE, estate.id, TODAY, files=files, render_later=True)
        [chunk] = (
            await s.execute(select(LetterRenderChunk).where(LetterRenderChunk.run_id == summary.run_id))
        ).scalars()
        chunk.template_versions = {
            kind: f"{version}-an-older-release" for kind, version in chunk.template_versions.items()
        }
        await s.commit()
        with pytest.raises(TemplatesChanged, match="templates are not those its letters were issued with"):
            await render_chunk(s, chunk.id or 0, files, "host-a", 101)
    shown = await api.ok(await api.get(f"/api/v1/reminder-runs/{summary.run_id}"))
    assert shown["rendering"]["letters_waiting"] == 7
