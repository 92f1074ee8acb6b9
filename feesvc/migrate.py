"""Schema migrations, run through Alembic with the service's own database setting."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


QUEUE_TABLE_PREFIX = "procrastinate_"


def described_by_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether autogenerate compares this object with the models: not the job queue's tables, which
    are Procrastinate's own schema, applied as SQL by migration 0023 (feesvc/jobs)."""
    return not (type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX))


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
