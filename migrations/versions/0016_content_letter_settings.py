"""estate: what letters tell owners (issue 16 items 3 and 8)

How to pay (desk address and hours, bank account, online payment page), how to dispute (contact,
complaint channel), the contract's late-fee and arbitration clauses, how Traditional letters write
renminbi, and the days a paper letter takes. Existing estates get the defaults: nothing recorded,
so letters print nothing new until the estate sets it; no online payment, no arbitration clause.

Revision ID: 0016_content
Revises: 0015_letters
Create Date: 2026-12-07 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_content"
down_revision: str | None = "0015_letters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = (
    ("desk_address", 400),
    ("desk_hours", 100),
    ("bank_account_name", 200),
    ("bank_name", 200),
    ("bank_account_no", 40),
    ("online_payment_url", 300),
    ("dispute_contact", 200),
    ("complaint_channel", 200),
    ("late_fee_clause", 200),
)


def upgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        for name, length in TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        batch.add_column(sa.Column("arbitration_clause", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("money_style", sa.String(16), nullable=False, server_default="renminbi"))
        batch.add_column(sa.Column("paper_lead_days", sa.Integer(), nullable=False, server_default="5"))


def downgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        for name in ("paper_lead_days", "money_style", "arbitration_clause"):
            batch.drop_column(name)
        for name, _ in reversed(TEXT_COLUMNS):
            batch.drop_column(name)
