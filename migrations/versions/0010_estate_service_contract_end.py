"""estate.service_contract_ends_on: the service contract's last day; null means no end date

A prepayment never runs past the contract term (DOMAIN.md ledger rule 7, 杭州 §55): the quote and
the booking refuse months past this day. Existing estates get null (no end), which is what they
had: nothing changes until a manager sets the date.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite on PostgreSQL, none needed on SQLite.
    op.add_column("estate", sa.Column("service_contract_ends_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        batch.drop_column("service_contract_ends_on")
