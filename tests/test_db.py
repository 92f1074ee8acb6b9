from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, Integer, Text, bindparam, cast, func, literal, select

from feesvc.db import Database, DriverStatement, UTCDateTime, autocommit, create_engine, session_factory, str_enum
from feesvc.errors import InvalidInput
from feesvc.ledger.models import EntryKind
from feesvc.settings import Settings

_TRANSACTION_ID = select(func.txid_current())


async def test_an_autocommit_session_gives_back_a_connection_that_is_transactional(
    settings: Settings, is_postgres: bool
) -> None:
    """The next request on the same pooled connection (one in the pool) runs in a transaction again."""
    engine = create_engine(dataclasses.replace(settings.database, pool_size=1, max_overflow=0))
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            await autocommit(session)
            assert (await session.execute(select(1))).scalar_one() == 1
            if is_postgres:  # no transaction: every statement gets a transaction id of its own
                first = (await session.execute(_TRANSACTION_ID)).scalar_one()
                assert (await session.execute(_TRANSACTION_ID)).scalar_one() != first
        if not is_postgres:
            return  # SQLite has no txid_current; autocommit leaves it alone
        async with sessions() as session:
            first = (await session.execute(_TRANSACTION_ID)).scalar_one()
            assert (await session.execute(_TRANSACTION_ID)).scalar_one() == first
    finally:
        await engine.dispose()


async def test_a_driver_statement_binds_and_reads_as_sqlalchemy_does(database: Database) -> None:
    """The column types' processors run on the way in (JSON by msgspec, enums checked, UTC), and a
    value the construct carries itself is bound too."""
    if not database.is_postgres:
        pytest.skip("driver statements are asyncpg's")
    statement = select(
        cast(bindparam("detail", type_=JSON), Text),
        bindparam("kind", type_=str_enum(EntryKind)),
        bindparam("at", type_=UTCDateTime()),
        literal(7) + bindparam("n", type_=Integer),
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    params = {"detail": {"公式": "0.0005 × 31", "n": 1}, "kind": EntryKind.late_fee, "at": at}
    driver_statement = DriverStatement(statement)
    async with database.driver() as driver:
        [row] = await driver_statement.fetch(driver, {**params, "n": 2})
    async with database.session() as session:
        expected = (await session.execute(statement, {**params, "n": 2})).one()
    assert tuple(row) == tuple(expected)
    with pytest.raises(LookupError):  # not a member of the enum: refused before it is sent, as by SQLAlchemy
        driver_statement.args({**params, "kind": "bribe", "n": 2})


async def test_a_driver_connection_goes_back_to_the_pool_only_when_clean(settings: Settings) -> None:
    if settings.database.is_sqlite:
        pytest.skip("driver connections are asyncpg's")
    engine = create_engine(dataclasses.replace(settings.database, pool_size=1, max_overflow=0))
    database = Database(engine, session_factory(engine))
    backend = "SELECT pg_backend_pid()"
    try:
        async with database.driver() as driver:
            first = await driver.fetchval(backend)
        with pytest.raises(InvalidInput):  # the service's own refusal between statements
            async with database.driver() as driver:
                assert await driver.fetchval(backend) == first
                raise InvalidInput("refused", field="amount_fen")
        with pytest.raises(TimeoutError):  # a statement cut off: the connection is closed
            async with database.driver() as driver:
                assert await driver.fetchval(backend) == first
                await asyncio.wait_for(driver.execute("SELECT pg_sleep(5)"), 0.2)
        async with database.driver() as driver:
            second = await driver.fetchval(backend)
            await driver.execute("BEGIN")  # left in a transaction: closed too
        async with database.driver() as driver:
            third = await driver.fetchval(backend)
            assert not driver.is_in_transaction()
        assert len({first, second, third}) == 3
    finally:
        await engine.dispose()


async def test_a_hot_row_lets_so_many_writers_through_at_once(database: Database) -> None:
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def write(key: str) -> None:
        async with database.hot_row(("test counter", key), 3):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            await asyncio.sleep(0.01)
            inside[key] -= 1

    await asyncio.gather(*(write(key) for key in "ab" * 10))
    assert most == {"a": 3, "b": 3}
    assert database.hot_row(("test counter", "a"), 3) is database.hot_row(("test counter", "a"), 3)
