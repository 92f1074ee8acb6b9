"""Attempt counters in the database, so that every worker process, and both databases, count the
same: one row per key and fixed window, raised by a single INSERT … ON CONFLICT DO UPDATE."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.db import is_postgres
from feesvc.errors import DomainError
from feesvc.signin.models import SignInRateCount
from feesvc.signin.rules import Limit, retry_after_seconds, window_start

_TABLE = SignInRateCount.__table__  # type: ignore[attr-defined]
KEEP_COUNTS = timedelta(days=1)


class TooManyAttempts(DomainError):
    status_code = 429
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


async def count_attempt(session: AsyncSession, limit: Limit, key: str, now: datetime) -> int:
    """Count one attempt under ``key`` in the current window; return the window's count so far."""
    insert = postgres_insert if is_postgres(session) else sqlite_insert
    statement = (
        insert(_TABLE)
        .values(bucket=f"{limit.kind}:{key}", window_start=window_start(now, limit), count=1)
        .on_conflict_do_update(index_elements=["bucket", "window_start"], set_={"count": _TABLE.c.count + 1})
        .returning(_TABLE.c.count)
    )
    return int((await session.execute(statement)).scalar_one())


def over_limit(limit: Limit, count: int, now: datetime) -> TooManyAttempts | None:
    """The refusal for an attempt that made ``count`` in its window, if that is past the limit."""
    if count <= limit.count:
        return None
    wait = retry_after_seconds(now, limit)
    return TooManyAttempts(f"too many attempts; try again in {wait} seconds", wait)


async def forget_old_counts(session: AsyncSession, now: datetime) -> None:
    """Drop windows long past: the table holds only the last day's counts."""
    oldest = int((now - KEEP_COUNTS).timestamp())
    await session.execute(delete(SignInRateCount).where(col(SignInRateCount.window_start) < oldest))
