"""payment.owner_id: the account a payment is for (issue 15, 过户)

A payment settles the debts of one owner's account of a unit and its rest is that owner's prepaid
credit; the cashier chooses the account (default the unit's owner on the day received). Existing
payments get the owner their own ledger entries already name: the payment splits and the credit
carry the account they were paid into (a prepayment's discounts carry the charge's owner, so only
those two kinds are read). A payment with no such entry keeps null. The payment table is
append-only: its triggers are lifted for the backfill and made again (on SQLite also around the
table's rebuild when the column goes).

Revision ID: 0013_desk
Revises: 0011_search
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0013_desk"
down_revision: str | None = "0012_sale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: no table rewrite on PostgreSQL, none needed on SQLite.
    op.add_column("payment", sa.Column("owner_id", sa.Integer(), nullable=True))
    # Through the ledger's payment_id index, one payment at a time.
    allow_changes(["payment"])
    op.execute(
        """
        UPDATE payment SET owner_id = (
            SELECT e.owner_id FROM ledger_entry e
            WHERE e.payment_id = payment.id AND e.kind IN ('payment', 'prepaid_credit') AND e.owner_id IS NOT NULL
            ORDER BY e.id LIMIT 1
        )
        """
    )
    forbid_changes(["payment"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        allow_changes(["payment"])  # the rebuilt table would not keep them
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("owner_id")
    if sqlite:
        forbid_changes(["payment"])
