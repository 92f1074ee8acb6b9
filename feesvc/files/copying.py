"""A local file store copied into the database store, for a service moving to
``FEESVC_FILE_STORE=database`` (many machines) from the files directory (one machine).

Every file the local store kept (``<files>/<area>/<xx>/<sha256><suffix>``) is hashed and put into
the database store under the area it was kept for (an issued letter stays an issued file, never
deleted). The rows that refer to files need no change: the database store finds a file by its
SHA-256, which they recorded. A file whose bytes no longer hash to its name is not copied and is
reported; a copied file is read back from the database and hashed. A file the database holds
already is passed over without being read, so the copy can be stopped and run again, and run
twice, to the same end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from feesvc.files.database import DatabaseFileStore
from feesvc.files.store import file_sha256

#: A kept file's name: its SHA-256 and the suffix of its media type (``feesvc.files.store``).
KEPT_NAME = re.compile(r"^(?P<sha256>[0-9a-f]{64})(?P<suffix>\.[a-z]+)?$")
MEDIA_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".png": "image/png", ".zip": "application/zip"}
UNKNOWN_MEDIA = "application/octet-stream"


@dataclass
class CopyReport:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0  # in the database already (an earlier copy, or kept there since)
    changed: list[str] = field(default_factory=list)  # local files that no longer match their hash
    not_kept_files: list[str] = field(default_factory=list)  # under the files directory, not the store's


@dataclass(frozen=True)
class KeptFile:
    path: Path
    area: str
    sha256: str
    media_type: str


def kept_files(root: Path, report: CopyReport) -> Iterator[KeptFile]:
    """The local store's files, area by area, in a stable order; anything else under ``root`` (a
    temporary file, the sign-in secret) is listed in the report and left alone."""
    for area in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(area.rglob("*")):
            if not path.is_file():
                continue
            name = KEPT_NAME.match(path.name)
            if name is None or path.parent.name != name["sha256"][:2] or path.parent.parent != area:
                report.not_kept_files.append(str(path))
                continue
            media = MEDIA_TYPES.get(name["suffix"] or "", UNKNOWN_MEDIA)
            yield KeptFile(path, area.name, name["sha256"], media)
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        report.not_kept_files.append(str(path))


async def copy_to_database(
    root: Path, store: DatabaseFileStore, progress: Callable[[KeptFile, str], None] | None = None
) -> CopyReport:
    """Copy every file of the local store under ``root`` into ``store``; ``progress`` is told of each
    file and what became of it (copied, present, changed)."""
    report = CopyReport()
    for kept in kept_files(root, report):
        if await store.exists(f"database:{kept.sha256}", kept.sha256):
            report.present += 1
            outcome = "present"
        elif await anyio.to_thread.run_sync(file_sha256, kept.path) != kept.sha256:
            report.changed.append(str(kept.path))
            outcome = "changed"
        else:
            stored = await store.put(kept.area, kept.path, kept.media_type)
            # Hashed as it was put, and read back: a file changed in between, or a copy that did not
            # land whole, is reported, never counted.
            if stored.sha256 != kept.sha256 or await store.hash(stored.ref, stored.sha256) != kept.sha256:
                report.changed.append(str(kept.path))
                outcome = "changed"
            else:
                report.copied += 1
                report.copied_bytes += stored.size
                outcome = "copied"
        if progress is not None:
            progress(kept, outcome)
    return report
