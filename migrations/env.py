"""Alembic environment: the service's own engine, so migrations run on SQLite and PostgreSQL alike."""

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

from feesvc.db import DecimalText, UTCDateTime, create_engine
from feesvc.migrate import described_by_models
from feesvc.models import metadata
from feesvc.settings import DatabaseSettings, get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_settings() -> DatabaseSettings:
    # Tests and the CLI hand over the URL; a plain `alembic upgrade head` reads the environment.
    url = config.attributes.get("database_url")
    return DatabaseSettings(url=url) if url else get_settings().database


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations are frozen history: they name plain SQL types, not the app's Python-side wrappers.
    if type_ == "type" and isinstance(obj, DecimalText):
        return "sa.String(length=40)"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        include_name=described_by_models,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Migrations ran without foreign-key enforcement (see create_engine): verify what it skipped.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken by the migration: {broken[:10]}")


async def _run_online() -> None:
    engine = create_engine(_database_settings(), enforce_foreign_keys=False)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=str(_database_settings().async_url), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
