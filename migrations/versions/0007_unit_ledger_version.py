"""unit.ledger_version: raised by every transaction that locks a unit to write its ledger

A payment on PostgreSQL reads the unit and its open debits without a lock or a transaction, then
writes everything in one statement that first raises the unit's version from the value it read; if
another writer raised it meanwhile, the statement writes nothing and the payment reads again. Two
round trips (BEGIN, COMMIT) and a lock query fewer per payment (bench/README.md "Payments").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rewrite on PostgreSQL, none needed on SQLite.
    op.add_column("unit", sa.Column("ledger_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("ledger_version")
