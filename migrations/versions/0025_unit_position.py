"""unit position: each unit's balance and the earliest due date of what is still open on it

The unit search filters "in arrears as of today" as ``earliest_open_due < today`` through an index
instead of reading every unit's debits (issue 18 item 7; feesvc/rules/position.py). The ledger's
writers keep both columns in the transaction of every entry they append (feesvc/ledger/position.py);
this fills them for the existing ledger with the same rule, on both databases.

Revision ID: 0025_unit_position
Revises: 0024_filestore
Create Date: 2026-12-07 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_unit_position"
down_revision: str | None = "0024_filestore"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule of feesvc.ledger.position (and of the ledger's overdue_fen), as this revision knows it.
FILL = """
UPDATE unit SET
    balance_fen = (SELECT COALESCE(SUM(e.amount_fen), 0) FROM ledger_entry e WHERE e.unit_id = unit.id),
    earliest_open_due = (
        SELECT MIN(CASE WHEN d.kind = 'late_fee' THEN COALESCE(c.due_date, c.effective_date)
                        ELSE COALESCE(d.due_date, d.effective_date) END)
        FROM ledger_entry d
        LEFT JOIN ledger_entry c ON d.kind = 'late_fee' AND c.id = d.basis_entry_id
        WHERE d.unit_id = unit.id
          AND d.kind IN ('charge', 'late_fee')
          AND d.amount_fen + COALESCE(
              (SELECT SUM(s.amount_fen) FROM ledger_entry s WHERE s.settles_entry_id = d.id), 0) <> 0
    )
"""


def upgrade() -> None:
    # A constant default and a nullable column: no table rewrite on PostgreSQL, none needed on SQLite.
    op.add_column("unit", sa.Column("balance_fen", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("unit", sa.Column("earliest_open_due", sa.Date(), nullable=True))
    op.execute(FILL)
    op.create_index("ix_unit_estate_earliest_open_due", "unit", ["estate_id", "earliest_open_due"])


def downgrade() -> None:
    op.drop_index("ix_unit_estate_earliest_open_due", table_name="unit")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("earliest_open_due")
        batch.drop_column("balance_fen")
