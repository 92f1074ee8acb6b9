"""A stored file as an HTTP response, streamed from its store a chunk at a time."""

from __future__ import annotations

from litestar.response import Stream

from feesvc.errors import Conflict
from feesvc.files.store import FileStore, StoredFileError

__all__ = ["stream_stored"]


async def stream_stored(
    files: FileStore, ref: str, sha256: str, media_type: str, headers: dict[str, str], what: str
) -> Stream:
    """The file streamed as kept, checked against ``sha256`` while it is read: a missing file is a
    409 naming ``what``; one changed since it was kept breaks off before its last chunk (the
    declared length is never reached, so no client takes the file for whole)."""
    try:
        opened = await files.open(ref, sha256)
    except StoredFileError as error:
        raise Conflict(f"{what} cannot be given as kept: {error}") from error
    return Stream(
        opened.chunks,
        media_type=media_type,
        headers={**headers, "Content-Length": str(opened.size), "X-Content-SHA256": sha256},
    )
