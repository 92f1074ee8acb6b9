"""a reminder run's letters rendered in chunk jobs: letter_render_chunk (issue 21 item 3)

On the job queue a run issues its letters (rows, context, hashes) and plans their rendering in
chunks that any worker renders and keeps; each chunk records the worker and host that rendered it.

Revision ID: 0026_render_chunks
Revises: 0023_jobs
Create Date: 2026-12-07 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_render_chunks"
down_revision: str | None = "0023_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letter_render_chunk",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("reminder_run.id"), nullable=False, index=True),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("first_letter_id", sa.Integer(), nullable=False),
        sa.Column("last_letter_id", sa.Integer(), nullable=False),
        sa.Column("letter_ids", sa.JSON(), nullable=False),
        sa.Column("template_versions", sa.JSON(), nullable=False),
        sa.Column("document_path", sa.String(length=300), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.Column("pages", sa.JSON(), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("run_id", "chunk"),
    )


def downgrade() -> None:
    op.drop_table("letter_render_chunk")
