"""files kept in the database: ``stored_file`` and its ``stored_file_chunk`` rows (issue 21, item 4)

The PostgreSQL file store (``FEESVC_FILE_STORE=database``, ``feesvc.files.database``): a file's
row (its SHA-256, which names it, size, media type, the area it was kept for, whether it is kept
as issued) and its chunks of 1 MiB keyed by hash and sequence. The tables are made on SQLite too,
so both databases have one schema; the store itself refuses SQLite.

Revision ID: 0024_filestore
Revises: 0021_online
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_filestore"
down_revision: str | None = "0021_online"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("area", sa.String(length=40), nullable=False),
        sa.Column("issued", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stored_file_chunk",
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("stored_file.sha256"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # PDFs, JPEGs and ZIPs are compressed already: kept out of line without another try at it.
        op.execute("ALTER TABLE stored_file_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("stored_file_chunk")
    op.drop_table("stored_file")
