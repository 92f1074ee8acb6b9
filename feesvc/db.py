"""Database engine, sessions and the column types both databases agree on.

SQLite is the embedded default and PostgreSQL the production database; the code in the domain
packages is the same for both. What differs lives here: SQLite gets WAL, a busy timeout and
``BEGIN IMMEDIATE`` (so two writers queue instead of failing with "database is locked"); on
PostgreSQL the desk's hottest statements can skip SQLAlchemy's execution machinery and run on the
pooled connection's own driver (:class:`DriverStatement`, :meth:`Database.driver`).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from sqlalchemy import BigInteger, DateTime, Enum, Integer, Select, String, event, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

from feesvc.settings import DatabaseSettings, get_settings

BUSINESS_TZ = ZoneInfo(get_settings().business_timezone)


def business_today() -> date:
    """Business dates are Shanghai dates, whatever the server's clock zone."""
    return datetime.now(BUSINESS_TZ).date()


def utcnow() -> datetime:
    return datetime.now(UTC)


# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def str_enum(enum_type: type[enum.StrEnum]) -> Enum:
    """An enum kept as plain VARCHAR: no PostgreSQL enum type to migrate when a value is added."""
    return Enum(enum_type, native_enum=False, length=24, validate_strings=True)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as text: SQLite would push NUMERIC through a float."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"DecimalText takes Decimal, not {type(value).__name__}")
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops the zone on the way back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _configure_sqlite(engine: AsyncEngine, enforce_foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can say BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_text(value: Any) -> str:
    # JSON columns (entry details) are written by the million in runs and read by the hundred in
    # statements: msgspec is several times faster than the json module both ways.
    return msgspec.json.encode(value).decode()


def _json_value(text: str | bytes) -> Any:
    return msgspec.json.decode(text)


def create_engine(settings: DatabaseSettings | None = None, *, enforce_foreign_keys: bool = True) -> AsyncEngine:
    """The service's engine. ``enforce_foreign_keys=False`` is for migrations on SQLite only: a table
    rebuild (SQLite's way to alter a table) drops the old table, which other tables refer to."""
    settings = settings or get_settings().database
    url = settings.async_url
    if settings.is_sqlite:
        engine = create_async_engine(
            url,
            echo=settings.echo,
            connect_args={"timeout": 30},
            json_serializer=_json_text,
            json_deserializer=_json_value,
        )
        _configure_sqlite(engine, enforce_foreign_keys)
        return engine
    return create_async_engine(
        url,
        echo=settings.echo,
        json_serializer=_json_text,
        json_deserializer=_json_value,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        # No JIT: the estate-wide reports' estimated costs pass jit_above_cost, and compiling the aging
        # report's expressions took 1.5 s of the server's CPU against 1.0 s for running it
        # uncompiled (20,000 units; 2.5 s with it): the service's queries are too short to repay it.
        connect_args={"server_settings": {"jit": "off"}},
        # No pre-ping: it costs three round trips per request. Connections are recycled instead, and
        # a request that meets a dropped connection fails cleanly; clients retry with the same key.
        pool_recycle=1800,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that is rolled back unless the service committed it."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def analyze(session: AsyncSession, tables: Sequence[str] | None = None) -> list[str]:
    """Refresh PostgreSQL's planner statistics of ``tables`` (default: every table of the service)
    after a bulk load, and commit; return the tables analyzed. Until autovacuum gets to them,
    freshly filled tables look empty to the planner: after ``feesvc demo`` one run took 55 s
    instead of 3 s. SQLite keeps no statistics unless asked and plans well without: nothing."""
    if not is_postgres(session):
        return []
    if tables is None:
        from feesvc.models import metadata  # every table; imported here, as the models import this module

        tables = sorted(metadata.tables)
    await session.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in tables)))
    await session.commit()
    return list(tables)


async def autocommit(session: AsyncSession) -> None:
    """Before the session's first query: on PostgreSQL each statement commits on its own, without
    BEGIN and COMMIT (two round trips). For a request that only reads (under READ COMMITTED each
    statement in a transaction takes its own snapshot anyway) and for a write made in one statement
    (a payment). SQLite keeps its transaction: it costs no round trips there. A session already in
    a transaction stays in it."""
    if is_postgres(session) and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


# What the engine's own dialect is given, so that a DriverStatement binds values exactly as a
# statement run through SQLAlchemy does (JSON written by msgspec, enums checked, UTC timestamps).
_DRIVER_DIALECT = PGDialect_asyncpg(json_serializer=_json_text, json_deserializer=_json_value)


class DriverStatement:
    """A Core statement compiled once for PostgreSQL and run straight on asyncpg.

    Run through a session, a payment's two statements cost the server more CPU in SQLAlchemy
    (session, compiled-cache lookup, parameter and result processing) than PostgreSQL spent on
    them (bench/README.md, "Payments over HTTP"). The desk's statements therefore go to the pooled
    connection's driver, which prepares each once per connection. The values are bound through
    the column types' own bind processors; rows come back as asyncpg records, unprocessed (enums as
    their text, sums of integers as Decimal). ``statement`` stays the Core construct, for SQLite
    and for a caller inside a session's transaction.
    """

    def __init__(self, statement: Select[Any]) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DRIVER_DIALECT))
        binds = compiled.bind_names  # each bound parameter and its name in the SQL
        processors = {name: bind.type.bind_processor(_DRIVER_DIALECT) for bind, name in binds.items()}
        self.statement = statement
        self.sql = str(compiled)
        # Values the construct carries itself (the 1 in "ledger_version + 1").
        self._carried = {name: bind.effective_value for bind, name in binds.items() if not bind.required}
        self._positions = [(name, processors.get(name)) for name in compiled.positiontup or ()]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The statement's positional arguments from named values, each through its type's processor."""
        values = {**self._carried, **params} if self._carried else params
        return [values[name] if process is None else process(values[name]) for name, process in self._positions]

    async def fetch(self, connection: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        try:
            return await connection.fetch(self.sql, *self.args(params))
        except asyncpg.IntegrityConstraintViolationError as error:
            raise IntegrityError(self.sql, None, error) from error  # as SQLAlchemy would raise it


@dataclass(frozen=True)
class Database:
    """The engine and its sessions, as a request reaches them."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    _hot_rows: dict[Hashable, asyncio.Semaphore] = field(default_factory=dict, compare=False, repr=False)

    def hot_row(self, key: Hashable, writers: int) -> asyncio.Semaphore:
        """Let at most ``writers`` of this process's tasks at a time work towards one hot row (a
        counter every payment of an estate updates), the rest waiting here. PostgreSQL queues the
        writers of a row as sleeping server processes, and every hand-over wakes one and works its
        lock tables: with 32 payments on one estate that cost 0.4 ms of server CPU a payment, a
        third of all PostgreSQL spent on them (bench/README.md); waiting on the event loop costs
        nothing. Each worker process keeps its own; correctness never depends on it."""
        gate = self._hot_rows.get(key)
        if gate is None:
            gate = self._hot_rows[key] = asyncio.Semaphore(writers)
        return gate

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return session_scope(self.sessions)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled PostgreSQL connection's asyncpg connection, in no transaction: each statement
        commits on its own. Checking one out costs a tenth of a session's set-up and teardown. It
        goes back to the pool afterwards, unless a statement may have been cut off (cancellation,
        a lost connection) or it was left in a transaction: then it is closed."""
        assert self.is_postgres, "the driver connection is asyncpg's"
        pooled = await self.engine.raw_connection()
        driver: asyncpg.Connection = pooled.driver_connection
        try:
            yield driver
        except BaseException as error:
            if not isinstance(error, Exception) or isinstance(error, _LOST_CONNECTION):
                pooled.invalidate()
            raise
        finally:
            if pooled.is_valid and (driver.is_closed() or driver.is_in_transaction()):
                pooled.invalidate()
            pooled.close()


_LOST_CONNECTION = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)
