"""Issue 21, item 4: letters, print files, delivery proofs and evidence packs through the API on
each file store. On the database store nothing is written to the files directory: every worker
and server that reaches the database reaches the files. Each read is checked against its hash.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import anyio
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.app import create_app
from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.files.models import FileRecord
from feesvc.letters.models import DeliveryRecord, Letter, ReminderRun
from feesvc.settings import DatabaseSettings, ServerSettings, Settings
from tests.letters.test_reminder_runs import TODAY, estate_in_arrears, run
from tests.support import Api

PROOF_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


class StoreApi(NamedTuple):
    api: Api
    kind: str
    files_dir: Path


@pytest.fixture(params=["local", "database"])
async def on_store(
    request: pytest.FixtureRequest,
    database_url: str,
    is_postgres: bool,
    tmp_path: Path,
    tokens: dict[Role, str],
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[StoreApi]:
    """The API with ``FEESVC_FILE_STORE`` set to the param, its files directory a fresh one."""
    if request.param == "database" and not is_postgres:
        pytest.skip("the database file store is PostgreSQL's (FEESVC_TEST_DATABASE_URL)")
    files_dir = tmp_path / "files"
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        server=ServerSettings(files_dir=str(files_dir), file_store=request.param),
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield StoreApi(Api(client, tokens, sessions), request.param, files_dir)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def flip_byte(on: StoreApi, ref: str, digest: str) -> bytes:
    """Change one byte of a stored file behind the store's back; its first chunk as it was."""
    if on.kind == "local":
        original = await anyio.Path(ref).read_bytes()
        await anyio.Path(ref).write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        return original
    async with on.api.sessions() as s:
        original = (
            await s.execute(text("SELECT data FROM stored_file_chunk WHERE sha256 = :h AND seq = 0"), {"h": digest})
        ).scalar_one()
        changed = original[:100] + bytes([original[100] ^ 1]) + original[101:]
        await s.execute(
            text("UPDATE stored_file_chunk SET data = :d WHERE sha256 = :h AND seq = 0"), {"d": changed, "h": digest}
        )
        await s.commit()
    return bytes(original)


async def restore(on: StoreApi, ref: str, digest: str, original: bytes) -> None:
    if on.kind == "local":
        await anyio.Path(ref).write_bytes(original)
        return
    async with on.api.sessions() as s:
        await s.execute(
            text("UPDATE stored_file_chunk SET data = :d WHERE sha256 = :h AND seq = 0"), {"d": original, "h": digest}
        )
        await s.commit()


async def test_letters_print_files_proofs_and_evidence_packs_on_each_store(on_store: StoreApi) -> None:
    api = on_store.api
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id)
    unit = estate.unit_ids[3]
    letters = await api.ok(await api.get(f"/api/v1/units/{unit}/letters"))
    final = next(x for x in letters if x["kind"] == "final_demand")

    letter = await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF-")

    printed = await api.get(f"/api/v1/reminder-runs/{summary['run_id']}/print.pdf")
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF-")
    assert printed.headers["content-length"] == str(len(printed.content))
    assert printed.headers["x-content-sha256"] == sha256(printed.content)
    assert f"reminder-run-{summary['run_id']}.pdf" in printed.headers["content-disposition"]
    again = await api.get(f"/api/v1/reminder-runs/{summary['run_id']}/print.pdf")
    assert again.content == printed.content  # made once, then kept

    proof = PROOF_PDF + f"%{on_store.kind}-{unit}".encode()
    delivered = await api.client.post(
        f"/api/v1/letters/{final['id']}/deliveries",
        data={"channel": "hand", "delivered_on": TODAY.isoformat(), "signer": "本人"},
        files={"proof": ("receipt.pdf", proof, "application/pdf")},
        headers=api.headers(Role.manager),
    )
    assert delivered.status_code == 201, delivered.text

    pack = await api.post(f"/api/v1/units/{unit}/evidence-packs", {})
    assert pack.status_code == 200, pack.text
    assert pack.headers["x-content-sha256"] == sha256(pack.content)
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        names = archive.namelist()
        proofs = [archive.read(n) for n in names if n.startswith("demands/proofs/")]
    assert "demands/letters.pdf" in names and proofs == [proof]

    async with api.sessions() as s:
        row = await s.get(Letter, final["id"])
        record = (await s.execute(select(DeliveryRecord).where(col(DeliveryRecord.letter_id) == final["id"]))).one()[0]
        reminder_run = await s.get(ReminderRun, summary["run_id"])
        audit = (
            await s.execute(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "evidence_pack.build", col(AuditEvent.entity_id) == str(unit))
                .order_by(col(AuditEvent.id).desc())
            )
        ).first()
    assert row is not None and reminder_run is not None and audit is not None
    refs = [row.document_path, record.proof_path, reminder_run.print_file, audit[0].detail["ref"]]
    digests = [row.document_sha256, record.proof_sha256, reminder_run.print_sha256, sha256(pack.content)]
    assert reminder_run.print_sha256 == sha256(printed.content) and record.proof_sha256 == sha256(proof)
    if on_store.kind == "database":
        assert refs == [f"database:{d}" for d in digests]
        async with api.sessions() as s:
            kept = (await s.execute(select(FileRecord).where(col(FileRecord.sha256).in_(digests)))).scalars().all()
        areas = {
            row.document_sha256: ("letters", True),
            record.proof_sha256: ("proofs", True),
            sha256(pack.content): ("evidence", True),
        }
        # A run of one chunk prints that chunk as it is: the same bytes, kept once, as issued.
        areas.setdefault(reminder_run.print_sha256, ("runs", False))
        assert {f.sha256: (f.area, f.issued) for f in kept} == areas
        assert not on_store.files_dir.exists() or not any(on_store.files_dir.rglob("*.*"))
    else:
        for ref, digest in zip(refs, digests, strict=True):
            assert ref is not None and Path(ref).is_relative_to(on_store.files_dir) and digest is not None
            assert sha256(await anyio.Path(ref).read_bytes()) == digest


async def test_a_changed_file_is_refused_by_every_route_on_each_store(on_store: StoreApi) -> None:
    api = on_store.api
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id)
    unit = estate.unit_ids[3]
    letters = await api.ok(await api.get(f"/api/v1/units/{unit}/letters"))
    final = next(x for x in letters if x["kind"] == "final_demand")
    async with api.sessions() as s:
        row = await s.get(Letter, final["id"])
    assert row is not None and row.document_path is not None and row.document_sha256 is not None

    original = await flip_byte(on_store, row.document_path, row.document_sha256)
    try:
        refused = await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")
        assert refused.status_code == 409 and "SHA-256" in refused.json()["detail"]
        printed = await api.get(f"/api/v1/reminder-runs/{summary['run_id']}/print.pdf")
        assert printed.status_code == 409 and "SHA-256" in printed.json()["detail"]
        pack = await api.post(f"/api/v1/units/{unit}/evidence-packs", {})
        assert pack.status_code == 409 and "SHA-256" in pack.json()["detail"]
    finally:
        await restore(on_store, row.document_path, row.document_sha256, original)
    assert (await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")).status_code == 200
