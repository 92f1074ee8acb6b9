"""indexes for the unit search: an estate's units in listed order, by number prefix, and owners by
the last 4 digits of their phone

``GET /api/v1/estates/{id}/units`` pages an estate's units by (building, number), finds them by a
number prefix across the estate, and by the owner's phone (``owner_phone_last4``): each through an
index, so a search over 100,000 units reads a page's worth of rows (bench/unit_search.py).

Revision ID: 0011_search
Revises: 0010
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_search"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The very expression of feesvc.registry.models.phone_last4, which the search's condition renders.
PHONE_LAST4 = "substr(replace(replace(phone, ' ', ''), '-', ''), length(replace(replace(phone, ' ', ''), '-', '')) - 3)"


def upgrade() -> None:
    op.create_index("ix_unit_estate_building_number", "unit", ["estate_id", "building_id", "number"])
    op.create_index(
        "ix_unit_estate_number", "unit", ["estate_id", "number"], postgresql_ops={"number": "text_pattern_ops"}
    )
    op.create_index("ix_owner_phone_last4", "owner", [sa.text(PHONE_LAST4)])


def downgrade() -> None:
    op.drop_index("ix_owner_phone_last4", table_name="owner")
    op.drop_index("ix_unit_estate_number", table_name="unit")
    op.drop_index("ix_unit_estate_building_number", table_name="unit")
