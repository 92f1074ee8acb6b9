"""bank transfers and fapiao data (issue 19, items 5 and 6)

``bank_statement`` records each import of a statement file; ``bank_line`` keeps each credit once
(``line_key``: the bank's transaction id, or a hash of the line, hashed with the estate; also the
payment's idempotency key) with its match: posted, matched and about to be posted, or waiting for a
cashier (unmatched, ambiguous). ``estate`` gets the fapiao settings: the tax classification code,
VAT rate and the category's short name.

Revision ID: 0022_bank
Revises: 0019_complaint_keys
Create Date: 2026-12-07 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_bank"
down_revision: str | None = "0019_complaint_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        batch.add_column(
            sa.Column("fapiao_tax_code", sa.String(19), nullable=False, server_default="3040801010000000000")
        )
        batch.add_column(sa.Column("fapiao_tax_rate", sa.String(40), nullable=False, server_default="0.06"))
        batch.add_column(sa.Column("fapiao_category", sa.String(40), nullable=False, server_default="物业管理服务"))
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("bank", sa.String(40), nullable=False),
        sa.Column("file_format", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("new_lines", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("posted", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(120), nullable=False),
        sa.Column("imported_at", _utc(), nullable=False),
    )
    op.create_index("ix_bank_statement_estate_id", "bank_statement", ["estate_id"])
    op.create_table(
        "bank_line",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("statement_id", sa.Integer(), sa.ForeignKey("bank_statement.id"), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("line_key", sa.String(100), nullable=False, unique=True),
        sa.Column("bank_txn_id", sa.String(100), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("payer_name", sa.String(200), nullable=False),
        sa.Column("payer_account", sa.String(60), nullable=False),
        sa.Column("reference", sa.String(300), nullable=False),
        sa.Column(
            "status",
            sa.Enum("matched", "posted", "unmatched", "ambiguous", name="banklinestatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), sa.ForeignKey("payment.id"), nullable=True),
        sa.Column("assigned_by", sa.String(120), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index("ix_bank_line_estate_status", "bank_line", ["estate_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_bank_line_estate_status", table_name="bank_line")
    op.drop_table("bank_line")
    op.drop_index("ix_bank_statement_estate_id", table_name="bank_statement")
    op.drop_table("bank_statement")
    with op.batch_alter_table("estate") as batch:
        for name in ("fapiao_category", "fapiao_tax_rate", "fapiao_tax_code"):
            batch.drop_column(name)
