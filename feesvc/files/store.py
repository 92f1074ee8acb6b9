"""The one way feesvc keeps a file: the ``FileStore`` interface and what every store shares.

A stored file is addressed by its SHA-256 and kept once; the row that refers to it records its
``ref`` (where the store keeps it) and its hash. Every read checks the bytes against that hash:
``open`` streams the file a chunk at a time and holds the last chunk back until the whole file
has hashed right, so a changed file is never delivered whole (a mismatch raises
``StoredFileError`` and is logged).

Two stores implement it: the local directory (``feesvc.files.local``, the embedded default) and
PostgreSQL itself (``feesvc.files.database``). An S3-compatible object store could implement it
later (a ``put`` as one multipart upload keyed by the hash, ``open`` as a ranged streaming GET);
none is built.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

__all__ = [
    "CERTIFICATE_AREA",
    "CHUNK_BYTES",
    "EVIDENCE_AREA",
    "ISSUED_AREAS",
    "LETTER_AREA",
    "PRINT_AREA",
    "PROOF_AREA",
    "FileStore",
    "Opened",
    "StoredFile",
    "StoredFileError",
    "checked",
    "file_sha256",
    "mismatch",
    "read_all",
    "sha256",
    "suffix_for",
]

log = logging.getLogger("feesvc.files")

#: Bytes per chunk, read or written: what a stream holds in memory at a time (two, at most).
CHUNK_BYTES: Final = 1 << 20

# Areas: what a file is kept as (the local store's folder under the files directory).
LETTER_AREA: Final = "letters"  # issued letters, a rendered chunk a file
PROOF_AREA: Final = "proofs"  # delivery proofs and signed acknowledgements
EVIDENCE_AREA: Final = "evidence"  # evidence packs as given out
CERTIFICATE_AREA: Final = "certificates"  # settlement certificates as issued
PRINT_AREA: Final = "runs"  # a reminder run's print file: a copy of issued letters, made again at will
#: Areas whose files are evidence as issued or received: a store refuses to delete them.
ISSUED_AREAS: Final = frozenset({LETTER_AREA, PROOF_AREA, EVIDENCE_AREA, CERTIFICATE_AREA})

_SUFFIXES: Final = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/zip": ".zip",
}


class StoredFileError(RuntimeError):
    """A stored file is missing, cannot be read, no longer matches its hash, or may not be deleted."""


@dataclass(frozen=True)
class StoredFile:
    """A file as kept: ``ref`` is the store's name for it (the local store's path, the database
    store's ``database:<sha256>``), recorded with its hash by the row that refers to it."""

    ref: str
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Opened:
    """A stored file opened for reading: its size, known before a byte is read, and its chunks."""

    size: int
    chunks: AsyncIterator[bytes]


class FileStore(Protocol):
    """Where files are kept. ``put`` takes bytes or a local file (read twice: once for its hash,
    which names it, once to keep it) and is safe to repeat: the same bytes are kept once."""

    name: str

    async def put(self, area: str, source: bytes | Path, media_type: str) -> StoredFile: ...

    async def open(self, ref: str, sha256: str) -> Opened:
        """The file, streamed and checked against ``sha256`` (``StoredFileError`` when it is missing
        now; when it no longer matches, while it is read)."""
        ...

    async def exists(self, ref: str, sha256: str) -> bool: ...

    async def hash(self, ref: str, sha256: str) -> str:
        """The SHA-256 of the bytes the store holds now, read through without the check (to audit)."""
        ...

    async def delete(self, ref: str, sha256: str) -> None:
        """Remove a file that is no longer referred to; refused for ``ISSUED_AREAS``."""
        ...


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def suffix_for(media_type: str) -> str:
    return _SUFFIXES.get(media_type, "")


def mismatch(ref: str, expected: str, found: str) -> StoredFileError:
    log.error("stored file %s does not match its recorded SHA-256 %s (it hashes to %s)", ref, expected, found)
    return StoredFileError(
        f"stored file {ref} does not match its recorded SHA-256 "
        f"(recorded {expected[:12]}…, file {found[:12]}…): it was changed after it was kept"
    )


async def checked(chunks: AsyncGenerator[bytes, None], ref: str, expected: str) -> AsyncIterator[bytes]:
    """``chunks``, each passed on once the next has been read; the last only after the whole file
    has hashed to ``expected``, so a changed file never reaches its reader whole. A reader that
    stops early closes the source (its file or connection) at once."""
    digest = hashlib.sha256()
    held: bytes | None = None
    try:
        async for chunk in chunks:
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
    finally:
        await chunks.aclose()
    found = digest.hexdigest()
    if found != expected:
        raise mismatch(ref, expected, found)
    if held is not None:
        yield held


async def read_all(store: FileStore, ref: str, sha256: str) -> bytes:
    """A stored file whole, checked: for the files that are cut or joined as a whole (a chunk of
    issued letters, a proof copied into a pack), never for a file served as it is kept."""
    opened = await store.open(ref, sha256)
    return b"".join([chunk async for chunk in opened.chunks])
