"""``feesvc files copy-to-database`` (issue 21 item 4): a local file store copied into PostgreSQL,
hash checked, idempotent and resumable; the rows that refer to the files read them from the
database store by the hash they recorded."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from feesvc.cli import cli
from feesvc.db import Database
from feesvc.files import LETTER_AREA, PRINT_AREA, PROOF_AREA, StoredFileError, read_all
from feesvc.files.copying import KeptFile, copy_to_database
from feesvc.files.database import DatabaseFileStore
from feesvc.files.local import LocalFileStore
from feesvc.settings import get_settings


class Interrupted(Exception):
    """Stands for a copy stopped part way (Ctrl-C, a lost connection)."""


async def test_a_local_store_is_copied_once_checked_and_resumed(
    tmp_path: Path, database: Database, is_postgres: bool, database_url: str
) -> None:
    if not is_postgres:
        pytest.skip("the database file store is PostgreSQL's (FEESVC_TEST_DATABASE_URL)")
    local = LocalFileStore(tmp_path / "files")
    kept = [
        await local.put(LETTER_AREA, os.urandom(3000), "application/pdf"),
        await local.put(PROOF_AREA, os.urandom(2000), "image/jpeg"),
        await local.put(PRINT_AREA, os.urandom(5000), "application/pdf"),
    ]
    changed = await local.put(LETTER_AREA, os.urandom(1000), "application/pdf")
    await anyio.Path(changed.ref).write_bytes(b"changed after it was kept")
    await anyio.Path(tmp_path / "files" / "signin-secret").write_text("not a kept file")
    stray = anyio.Path(tmp_path / "files" / LETTER_AREA / "00")
    await stray.mkdir(parents=True, exist_ok=True)
    await (stray / ".tmp-half-written").write_bytes(b"x")
    store = DatabaseFileStore(database.engine)

    # Stopped after the first file: what was copied stays, and the next run goes on from there.
    def stop_after_first(file: KeptFile, outcome: str) -> None:
        if outcome == "copied":
            raise Interrupted

    with pytest.raises(Interrupted):
        await copy_to_database(tmp_path / "files", store, stop_after_first)
    report = await copy_to_database(tmp_path / "files", store)
    assert (report.copied, report.present) == (2, 1)
    assert report.changed == [changed.ref]
    assert sorted(Path(p).name for p in report.not_kept_files) == [".tmp-half-written", "signin-secret"]
    assert not await store.exists(changed.ref, changed.sha256)

    # Each file read back from the database by the ref and hash its rows recorded (the local path).
    for file in kept:
        assert await read_all(store, file.ref, file.sha256) == await read_all(local, file.ref, file.sha256)
    with pytest.raises(StoredFileError, match="never deleted"):  # a letter stays an issued file
        await store.delete(kept[0].ref, kept[0].sha256)

    again = await copy_to_database(tmp_path / "files", store)
    assert (again.copied, again.present, again.changed) == (0, 3, [changed.ref])

    # The command: the same copy, and exit 3 for the file that no longer matches its hash.
    env = {"FEESVC_DATABASE_URL": database_url, "FEESVC_FILES_DIR": str(tmp_path / "files")}
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["files", "copy-to-database"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3, result.output
    assert "0 files copied" in result.output and "3 already in the database" in result.output
    assert f"changed since it was kept, not copied: {changed.ref}" in result.output
