"""complaint, complaint_step: an optional Idempotency-Key and the request's fingerprint

A complaint filed from a phone, or a step recorded from the field, is sent again when the answer
is lost: with a key the retry answers the first record instead of filing a second one. Existing
rows have no key.

Revision ID: 0019_complaint_keys
Revises: 0018_issued
Create Date: 2026-12-07 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0019_complaint_keys"
down_revision: str | None = "0018_issued"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("complaint", "complaint_step")
#: SQLite's batch mode copies the table and loses its triggers: lift and restore them around it.
APPEND_ONLY = ["complaint_step"]


def upgrade() -> None:
    allow_changes(APPEND_ONLY)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("idempotency_key", sa.String(100), nullable=True))
            batch.add_column(sa.Column("request_fingerprint", sa.String(64), nullable=True))
            batch.create_unique_constraint(f"uq_{table}_idempotency_key", ["idempotency_key"])
    forbid_changes(APPEND_ONLY)


def downgrade() -> None:
    allow_changes(APPEND_ONLY)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_idempotency_key", type_="unique")
            batch.drop_column("request_fingerprint")
            batch.drop_column("idempotency_key")
    forbid_changes(APPEND_ONLY)
