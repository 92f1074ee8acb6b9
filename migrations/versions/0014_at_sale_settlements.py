"""sale_settlement and settlement_certificate: what recording a sale settled, and the settlement
certificates (物业费结清证明) issued, both kept as written (append-only)

A sale settles the seller's prepaid periods and credit and issues the buyer's payment notice in
the transaction that records the ownership; the ownership's settlement row lets a retry of the
same transfer read back what the first settled. A certificate keeps its facts and the issued PDF's
hash (the bytes are in the files directory), never a later re-render. New tables only: existing
data is not touched.

Revision ID: 0014_at_sale
Revises: 0011_search
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (SQLModel column types)
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0014_at_sale"
down_revision: str | None = "0013_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("sale_settlement", "settlement_certificate")


def upgrade() -> None:
    op.create_table(
        "sale_settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ownership_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("request_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ownership_id"], ["ownership.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ownership_id"),
    )
    op.create_index("ix_sale_settlement_unit_id", "sale_settlement", ["unit_id"])
    op.create_table(
        "settlement_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_no", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("owed_fen", sa.BigInteger(), nullable=False),
        sa.Column("facts_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("file_path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["owner.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate_no"),
    )
    op.create_index("ix_settlement_certificate_unit_id", "settlement_certificate", ["unit_id"])
    op.create_index(
        "uq_settlement_certificate_facts",
        "settlement_certificate",
        ["unit_id", "owner_id", "as_of", "issued_on", "facts_sha256"],
        unique=True,
    )
    forbid_changes(APPEND_ONLY_TABLES)


def downgrade() -> None:
    allow_changes(APPEND_ONLY_TABLES)
    op.drop_table("settlement_certificate")
    op.drop_table("sale_settlement")
