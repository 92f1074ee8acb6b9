from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from feesvc.db import autocommit, create_engine, session_factory
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
