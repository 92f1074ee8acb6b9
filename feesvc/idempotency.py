"""Retries of a write that makes a record: the record carries the client's ``Idempotency-Key`` and a
fingerprint of the request. The same key with the same request answers the first record; the same
key with another request is refused (409); two at once are settled by the key's unique index."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.errors import Conflict


def fingerprint(**request: Any) -> str:
    """The request's fields, hashed: what a retry must repeat exactly."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


async def replayed(session: AsyncSession, model: Any, key: str, request_fingerprint: str) -> Any | None:
    """The record made under ``key``, if the same request made it; a different request is refused."""
    found = (await session.execute(select(model).where(model.idempotency_key == key))).scalar_one_or_none()
    if found is not None and found.request_fingerprint != request_fingerprint:
        raise Conflict("this Idempotency-Key was used for another request", field="Idempotency-Key")
    return found


async def insert_once(
    session: AsyncSession, row: Any, model: Any, key: str, request_fingerprint: str
) -> tuple[Any, bool]:
    """Flush ``row``; a concurrent retry that won the key's unique index answers instead (and this
    session's work so far is rolled back: call it before anything else is written)."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        found = await replayed(session, model, key, request_fingerprint)
        if found is None:
            raise
        return found, False
    return row, True
