"""Issued documents kept as files, addressed by their SHA-256 and checked against it on every read.

Files live under the files directory (``FEESVC_FILES_DIR``), where the print files and delivery
proofs are: ``<files>/<area>/<first two hex digits>/<sha256><suffix>``. The same bytes are kept
once. A row that refers to a file records its path and hash; ``get`` refuses bytes that no longer
match. Only ``put`` and ``get`` know where bytes live, so another store (a database table) can take
their place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StoredFile", "StoredFileError", "get", "put", "sha256"]


class StoredFileError(RuntimeError):
    """A stored file is missing or no longer matches the hash recorded with it."""


@dataclass(frozen=True)
class StoredFile:
    path: str
    sha256: str
    size: int


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(files_dir: Path, area: str, data: bytes, suffix: str = ".pdf") -> StoredFile:
    """Keep ``data``; returns where, and its hash. Written to a temporary file and renamed, so a
    file under its final name is always complete (a crash leaves no half file behind it)."""
    digest = sha256(data)
    path = files_dir / area / digest[:2] / f"{digest}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    return StoredFile(str(path), digest, len(data))


def get(path: str, expected_sha256: str) -> bytes:
    """The stored bytes, only if they still have the hash recorded at issue."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise StoredFileError(f"stored file {path} cannot be read: {error.strerror}") from error
    digest = sha256(data)
    if digest != expected_sha256:
        raise StoredFileError(
            f"stored file {path} does not match its recorded SHA-256 "
            f"(recorded {expected_sha256[:12]}…, file {digest[:12]}…)"
        )
    return data
