"""Migrations build the schema from empty and take it back to empty, on the database under test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from feesvc.db import create_engine
from feesvc.migrate import QUEUE_TABLE_PREFIX, described_by_models, downgrade, upgrade
from feesvc.models import metadata
from feesvc.settings import DatabaseSettings
from tests.databases import fresh_postgres_database


@pytest.fixture
def scratch_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of the same kind as the one under test."""
    if DatabaseSettings(url=database_url).is_sqlite:
        yield f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'scratch.db'}"
        return
    with fresh_postgres_database(database_url, "migrations") as url:
        yield url


async def _tables(url: str, *, with_queue: bool = False) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    # The job queue's tables (PostgreSQL) are Procrastinate's schema, not the models'.
    return {n for n in names - {"alembic_version"} if with_queue or not n.startswith(QUEUE_TABLE_PREFIX)}


async def _schema_drift(url: str) -> list[object]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        diffs = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"include_name": described_by_models}), metadata
            )
        )
    await engine.dispose()
    return list(diffs)


def test_upgrade_from_empty_downgrade_to_empty_and_back(scratch_url: str) -> None:
    upgrade(scratch_url)
    assert asyncio.run(_tables(scratch_url)) == set(metadata.tables)
    assert asyncio.run(_schema_drift(scratch_url)) == []  # the models and the migrations agree
    downgrade(scratch_url, "base")
    assert asyncio.run(_tables(scratch_url, with_queue=True)) == set()
    upgrade(scratch_url)
    assert asyncio.run(_tables(scratch_url)) == set(metadata.tables)


async def _refuses_truncate(url: str) -> str:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE ledger_entry CASCADE"))
        return "accepted"
    except Exception as error:  # noqa: BLE001 - the refusal is what we look for
        return str(error)
    finally:
        await engine.dispose()


def test_postgres_refuses_truncating_the_ledger(scratch_url: str) -> None:
    if scratch_url.startswith("sqlite"):
        pytest.skip("SQLite has no TRUNCATE")
    upgrade(scratch_url)
    assert "append-only" in asyncio.run(_refuses_truncate(scratch_url))


#: Every table the migrations make append-only (their forbid_changes calls).
APPEND_ONLY = (
    "ledger_entry", "payment", "receipt", "payment_void", "audit_event",
    "arrears_note", "arrears_classification", "arrears_override", "complaint_step", "service_activity",
    "letter", "delivery_record", "late_fee_terms", "sale_settlement", "settlement_certificate", "letter_rendering",
)  # fmt: skip


async def _triggers(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = await conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        names = {row[0] for row in rows}
    await engine.dispose()
    return names


def test_every_append_only_table_keeps_its_triggers_at_head(scratch_url: str) -> None:
    """SQLite's batch mode rebuilds a table without its triggers: a migration that alters an
    append-only table must restore them (migrations/append_only.py)."""
    upgrade(scratch_url)
    triggers = asyncio.run(_triggers(scratch_url))
    sqlite = DatabaseSettings(url=scratch_url).is_sqlite
    for table in APPEND_ONLY:
        expected = {f"{table}_no_update", f"{table}_no_delete"} if sqlite else {f"{table}_append_only"}
        assert expected <= triggers, table
