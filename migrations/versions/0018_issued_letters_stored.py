"""letters kept as issued; letter numbers per estate and year (issue 16, items 2 and 5)

``letter`` gets the stored document it was issued as (path, SHA-256, its pages in the file, the
template version) and the hash of its electronic message's text. Existing letters keep nulls:
they were never stored; ``letter_rendering`` keeps the one rendering their first copy makes (the
letter table is append-only: its rows are not updated). ``letter_sequence`` numbers an estate's
letters by year. The downgrade rebuilds ``letter`` on SQLite (batch mode), so its append-only
triggers are made again.

Revision ID: 0018_issued
Revises: 0017_limitation
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0018_issued"
down_revision: str | None = "0017_limitation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("document_path", sa.String(length=300)),
    ("document_sha256", sa.String(length=64)),
    ("first_page", sa.Integer()),
    ("last_page", sa.Integer()),
    ("template_version", sa.String(length=80)),
    ("message_sha256", sa.String(length=64)),
)


def upgrade() -> None:
    # Nullable columns without defaults: no table rewrite on PostgreSQL, none needed on SQLite.
    for name, type_ in COLUMNS:
        op.add_column("letter", sa.Column(name, type_, nullable=True))
    op.create_table(
        "letter_rendering",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("letter_id", sa.Integer(), sa.ForeignKey("letter.id"), nullable=False, unique=True),
        sa.Column("document_path", sa.String(length=300), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("template_version", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    forbid_changes(["letter_rendering"])
    op.create_table(
        "letter_sequence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.UniqueConstraint("estate_id", "year"),
    )


def downgrade() -> None:
    op.drop_table("letter_sequence")
    allow_changes(["letter_rendering"])
    op.drop_table("letter_rendering")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        allow_changes(["letter"])  # the table is rebuilt without them; made again below
    with op.batch_alter_table("letter") as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
    if sqlite:
        forbid_changes(["letter"])
