"""The local directory store: the embedded default (``FEESVC_FILE_STORE=local``).

Files live under the files directory (``FEESVC_FILES_DIR``) as
``<files>/<area>/<first two hex digits>/<sha256><suffix>``; a file's ``ref`` is that path, as
letters, proofs and print files have always recorded it. A file is written to a temporary file
beside its final name and renamed: under its final name it is always complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio

from feesvc.files.store import (
    CHUNK_BYTES,
    ISSUED_AREAS,
    Opened,
    StoredFile,
    StoredFileError,
    checked,
    file_sha256,
    sha256,
    suffix_for,
)

__all__ = ["LocalFileStore"]


class LocalFileStore:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, area: str, digest: str, media_type: str) -> Path:
        return self.root / area / digest[:2] / f"{digest}{suffix_for(media_type)}"

    async def put(self, area: str, source: bytes | Path, media_type: str) -> StoredFile:
        return await anyio.to_thread.run_sync(self._put, area, source, media_type)

    def _put(self, area: str, source: bytes | Path, media_type: str) -> StoredFile:
        if isinstance(source, bytes):
            digest, size = sha256(source), len(source)
        else:
            digest, size = file_sha256(source), source.stat().st_size
        path = self.path_for(area, digest, media_type)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as handle:
                if isinstance(source, bytes):
                    handle.write(source)
                else:
                    with source.open("rb") as file:
                        shutil.copyfileobj(file, handle, CHUNK_BYTES)
            os.replace(handle.name, path)
        return StoredFile(str(path), digest, size, media_type)

    async def open(self, ref: str, sha256: str) -> Opened:
        path = self._path(ref)
        try:
            size = (await anyio.Path(path).stat()).st_size
        except OSError as error:
            raise StoredFileError(f"stored file {ref} cannot be read: {error.strerror}") from error
        return Opened(size, checked(self._chunks(path), ref, sha256))

    async def _chunks(self, path: Path) -> AsyncGenerator[bytes, None]:
        try:
            async with await anyio.open_file(path, "rb") as file:
                while chunk := await file.read(CHUNK_BYTES):
                    yield chunk
        except OSError as error:
            raise StoredFileError(f"stored file {path} cannot be read: {error.strerror}") from error

    async def exists(self, ref: str, sha256: str) -> bool:
        return await anyio.Path(self._path(ref)).is_file()

    async def hash(self, ref: str, sha256: str) -> str:
        try:
            return await anyio.to_thread.run_sync(file_sha256, self._path(ref))
        except OSError as error:
            raise StoredFileError(f"stored file {ref} cannot be read: {error.strerror}") from error

    async def delete(self, ref: str, sha256: str) -> None:
        path = self._path(ref)
        try:
            area = path.resolve().relative_to(self.root.resolve()).parts[0]
        except ValueError:
            raise StoredFileError(f"stored file {ref} is not under the files directory {self.root}") from None
        if area in ISSUED_AREAS:
            raise StoredFileError(f"stored file {ref} is kept as issued ({area}): it is never deleted")
        await anyio.Path(path).unlink(missing_ok=True)

    def _path(self, ref: str) -> Path:
        if ref.startswith("database:"):
            raise StoredFileError(
                f"stored file {ref} is kept in the database (FEESVC_FILE_STORE=database), not in the files directory"
            )
        return Path(ref)
