"""PostgreSQL databases made for one test run: uniquely named, dropped afterwards.

The server named by ``FEESVC_TEST_DATABASE_URL`` may be shared (two checkouts, CI beside a
developer): no run touches a database it did not make.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url


def _admin_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


async def _execute(admin: str, statement: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(statement)  # asyncpg runs outside a transaction here, as CREATE DATABASE needs
    finally:
        await conn.close()


@contextmanager
def fresh_postgres_database(url: str, purpose: str) -> Iterator[str]:
    """An empty database on ``url``'s server, named ``feesvc_<purpose>_<random>``; dropped on exit."""
    name = f"feesvc_{purpose}_{uuid.uuid4().hex[:12]}"
    admin = _admin_url(url)
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
