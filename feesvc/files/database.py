"""The PostgreSQL store (``FEESVC_FILE_STORE=database``): files in the database every worker and
server already reaches.

A file is a ``stored_file`` row (hash, size, media type, the area it was kept for) and its ``stored_file_chunk``
rows of ``CHUNK_BYTES`` each, keyed by hash and sequence, all written in one transaction of the
store's own (committed before the row that refers to the file is: a transaction that fails later
leaves a file nothing refers to, never a reference to a missing file). A read fetches one chunk
per statement, so neither side ever holds more than a chunk or two. The same bytes are kept once:
a second ``put`` of them waits for the first to commit and then finds the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from feesvc.db import utcnow
from feesvc.files.models import FileChunk, FileRecord
from feesvc.files.store import (
    CHUNK_BYTES,
    ISSUED_AREAS,
    Opened,
    StoredFile,
    StoredFileError,
    checked,
    file_sha256,
    sha256,
)

__all__ = ["DatabaseFileStore"]

_FILE = FileRecord.__table__  # type: ignore[attr-defined]
_CHUNK = FileChunk.__table__  # type: ignore[attr-defined]


class DatabaseFileStore:
    name = "database"

    def __init__(self, engine: AsyncEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the database file store needs PostgreSQL")
        self.engine = engine

    async def put(self, area: str, source: bytes | Path, media_type: str) -> StoredFile:
        if isinstance(source, bytes):
            digest, size = sha256(source), len(source)
        else:
            digest = await anyio.to_thread.run_sync(file_sha256, source)
            size = (await anyio.Path(source).stat()).st_size
        issued = area in ISSUED_AREAS
        async with self.engine.begin() as conn:
            row = insert(_FILE).values(
                sha256=digest,
                size=size,
                media_type=media_type,
                area=area,
                issued=issued,
                created_at=utcnow(),
            )
            new = (await conn.execute(row.on_conflict_do_nothing().returning(_FILE.c.sha256))).first()
            if new is None:  # kept already; now kept as issued too when this area is an issued one
                if issued:
                    await conn.execute(update(_FILE).where(_FILE.c.sha256 == digest).values(issued=True))
            else:
                async for seq, chunk in _chunks_of(source):
                    await conn.execute(_CHUNK.insert().values(sha256=digest, seq=seq, data=chunk))
        return StoredFile(f"database:{digest}", digest, size, media_type)

    async def open(self, ref: str, sha256: str) -> Opened:
        size = await self._size(ref, sha256)
        count = -(-size // CHUNK_BYTES)
        return Opened(size, checked(self._chunks(ref, sha256, count), ref, sha256))

    async def _size(self, ref: str, sha256: str) -> int:
        async with self.engine.connect() as conn:
            size = (await conn.execute(select(_FILE.c.size).where(_FILE.c.sha256 == sha256))).scalar_one_or_none()
        if size is None:
            raise StoredFileError(f"stored file {ref} is not in the database (SHA-256 {sha256[:12]}…)")
        return int(size)

    async def _chunks(self, ref: str, digest: str, count: int) -> AsyncGenerator[bytes, None]:
        query = select(_CHUNK.c.data).where(_CHUNK.c.sha256 == digest)
        async with self.engine.connect() as conn:
            for seq in range(count):
                data = (await conn.execute(query.where(_CHUNK.c.seq == seq))).scalar_one_or_none()
                await conn.rollback()  # no transaction left open while the reader takes its time
                if data is None:
                    raise StoredFileError(f"stored file {ref} has lost its chunk {seq} of {count}")
                yield bytes(data)

    async def exists(self, ref: str, sha256: str) -> bool:
        async with self.engine.connect() as conn:
            return (await conn.execute(select(_FILE.c.sha256).where(_FILE.c.sha256 == sha256))).first() is not None

    async def hash(self, ref: str, sha256: str) -> str:
        count = -(-await self._size(ref, sha256) // CHUNK_BYTES)
        digest = hashlib.sha256()
        async for chunk in self._chunks(ref, sha256, count):
            digest.update(chunk)
        return digest.hexdigest()

    async def delete(self, ref: str, sha256: str) -> None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(_FILE.c.area, _FILE.c.issued).where(_FILE.c.sha256 == sha256))).first()
            if row is None:
                return
            if row.issued:
                raise StoredFileError(f"stored file {ref} is kept as issued ({row.area}): it is never deleted")
            await conn.execute(delete(_CHUNK).where(_CHUNK.c.sha256 == sha256))
            await conn.execute(delete(_FILE).where(_FILE.c.sha256 == sha256))


async def _chunks_of(source: bytes | Path) -> AsyncIterator[tuple[int, bytes]]:
    if isinstance(source, bytes):
        for seq, start in enumerate(range(0, len(source), CHUNK_BYTES)):
            yield seq, source[start : start + CHUNK_BYTES]
        return
    async with await anyio.open_file(source, "rb") as file:
        seq = 0
        while chunk := await file.read(CHUNK_BYTES):
            yield seq, chunk
            seq += 1
