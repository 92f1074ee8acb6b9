"""Issue 21, item 4: one file store, two implementations, checked on every read.

Each test runs on the local directory store and, when the suite runs on PostgreSQL, on the
database store (on SQLite there is none: ``test_file_store_setting.py`` shows it refused).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from feesvc.db import Database
from feesvc.files import LETTER_AREA, PRINT_AREA, PROOF_AREA, FileStore, StoredFileError, read_all
from feesvc.files.database import DatabaseFileStore
from feesvc.files.local import LocalFileStore
from feesvc.files.store import CHUNK_BYTES

# Twenty-four full chunks and a short one: many more chunks than a stream ever holds at once.
LARGE = 24 * CHUNK_BYTES + 54_321
# What either way may hold at its peak, whatever the file's size (measured: about 3 MiB writing
# to PostgreSQL, 4.5 MiB reading, the driver's buffers included).
BOUND = 8 * CHUNK_BYTES


@pytest.fixture(params=["local", "database"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, database: Database, is_postgres: bool) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path / "files")
    if not is_postgres:
        pytest.skip("the database file store is PostgreSQL's (FEESVC_TEST_DATABASE_URL)")
    return DatabaseFileStore(database.engine)


def write_large(path: Path, size: int) -> str:
    """A file of ``size`` random bytes, written a chunk at a time; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as file:
        left = size
        while left:
            block = os.urandom(min(left, CHUNK_BYTES))
            digest.update(block)
            file.write(block)
            left -= len(block)
    return digest.hexdigest()


async def drain(chunks: AsyncIterator[bytes]) -> tuple[str, int, int]:
    """Hash and count a stream without keeping it: its SHA-256, bytes and largest chunk."""
    digest, size, largest = hashlib.sha256(), 0, 0
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        largest = max(largest, len(chunk))
    return digest.hexdigest(), size, largest


async def tamper(store: FileStore, ref: str, sha256: str) -> None:
    """Change one byte in the middle of the stored file, behind the store's back."""
    if isinstance(store, LocalFileStore):
        data = bytearray(await anyio.Path(ref).read_bytes())
        data[len(data) // 2] ^= 0x01
        await anyio.Path(ref).write_bytes(bytes(data))
        return
    assert isinstance(store, DatabaseFileStore)
    async with store.engine.begin() as conn:
        changed = await conn.execute(
            text(
                "UPDATE stored_file_chunk SET data = overlay(data placing '\\x00'::bytea from 10 for 1) "
                "WHERE sha256 = :sha256 AND seq = 1"
            ),
            {"sha256": sha256},
        )
        assert changed.rowcount == 1  # type: ignore[attr-defined]


async def test_a_large_file_goes_in_and_comes_back_a_chunk_at_a_time(store: FileStore, tmp_path: Path) -> None:
    source = tmp_path / "large.pdf"
    expected = write_large(source, LARGE)

    tracemalloc.start()
    try:
        kept = await store.put(PRINT_AREA, source, "application/pdf")
        opened = await store.open(kept.ref, kept.sha256)
        digest, size, largest = await drain(opened.chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (kept.sha256, kept.size, opened.size) == (expected, LARGE, LARGE)
    assert (digest, size) == (expected, LARGE)
    assert largest == CHUNK_BYTES
    # Neither way held the file: a few chunks at most (the file is three times the bound).
    assert peak < BOUND < LARGE // 3, f"peak {peak:,} bytes for a file of {LARGE:,}"
    assert await store.exists(kept.ref, kept.sha256)
    assert await store.hash(kept.ref, kept.sha256) == expected
    if isinstance(store, LocalFileStore):
        assert Path(kept.ref).is_relative_to(store.root / PRINT_AREA)
    else:
        assert kept.ref == f"database:{expected}"


async def test_the_same_bytes_are_kept_once_and_a_put_is_safe_to_repeat(store: FileStore) -> None:
    data = os.urandom(3 * CHUNK_BYTES + 7)
    first = await store.put(PROOF_AREA, data, "image/png")
    again = await store.put(PROOF_AREA, data, "image/png")
    assert first == again
    assert await read_all(store, first.ref, first.sha256) == data
    if isinstance(store, DatabaseFileStore):
        async with store.engine.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM stored_file_chunk WHERE sha256 = :h"), {"h": first.sha256}
            )
        assert count == 4


async def test_a_changed_file_is_refused_and_logged_never_served_whole(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    data = os.urandom(3 * CHUNK_BYTES + 1000)
    kept = await store.put(LETTER_AREA, data, "application/pdf")
    await tamper(store, kept.ref, kept.sha256)

    opened = await store.open(kept.ref, kept.sha256)
    served = 0
    with caplog.at_level(logging.ERROR, logger="feesvc.files"), pytest.raises(StoredFileError) as refused:
        async for chunk in opened.chunks:
            served += len(chunk)
    assert "does not match its recorded SHA-256" in str(refused.value)
    assert served < len(data)  # the last chunk is held back until the whole file has hashed right
    assert any(kept.sha256 in record.getMessage() for record in caplog.records)
    with pytest.raises(StoredFileError, match="SHA-256"):
        await read_all(store, kept.ref, kept.sha256)
    assert await store.hash(kept.ref, kept.sha256) != kept.sha256


async def test_a_file_that_is_not_there_is_a_clear_error(store: FileStore) -> None:
    missing = hashlib.sha256(os.urandom(16)).hexdigest()
    ref = str(Path("/nonexistent") / f"{missing}.pdf") if isinstance(store, LocalFileStore) else f"database:{missing}"
    assert not await store.exists(ref, missing)
    with pytest.raises(StoredFileError, match=r"cannot be read|is not in the database"):
        await store.open(ref, missing)


async def test_an_issued_file_is_never_deleted_a_print_file_may_be(store: FileStore) -> None:
    letters = await store.put(LETTER_AREA, os.urandom(5000), "application/pdf")
    with pytest.raises(StoredFileError, match="never deleted"):
        await store.delete(letters.ref, letters.sha256)
    assert await store.exists(letters.ref, letters.sha256)

    printed = await store.put(PRINT_AREA, os.urandom(5000), "application/pdf")
    await store.delete(printed.ref, printed.sha256)
    assert not await store.exists(printed.ref, printed.sha256)


async def test_the_database_store_keeps_bytes_kept_for_an_issued_area_too(
    database: Database, is_postgres: bool
) -> None:
    """Kept once, by hash: bytes first kept as a print file and then as a letter are issued bytes."""
    if not is_postgres:
        pytest.skip("the database file store is PostgreSQL's")
    store = DatabaseFileStore(database.engine)
    data = os.urandom(2000)
    printed = await store.put(PRINT_AREA, data, "application/pdf")
    await store.put(LETTER_AREA, data, "application/pdf")
    with pytest.raises(StoredFileError, match="never deleted"):
        await store.delete(printed.ref, printed.sha256)
