"""estate.sale_proration; charges across a recorded sale converted to each owner's share

Placeholder: the conversion follows.

Revision ID: 0012_sale
Revises: 0011_search
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_sale"
down_revision: str | None = "0011_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        batch.add_column(
            sa.Column(
                "sale_proration",
                sa.Enum("by_days", "owner_on_period_start", name="saleproration", native_enum=False, length=24),
                nullable=False,
                server_default="by_days",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        batch.drop_column("sale_proration")
