"""ledger: partial indexes on the link columns, no foreign key on basis_entry_id

Accrual and billing runs append millions of ledger entries whose link columns are mostly empty:
the indexes on settles_entry_id, reverses_entry_id (unique), basis_entry_id and payment_id now hold
only the rows that have a value; the index on owner_id, which no query uses, goes. The foreign key
on basis_entry_id goes too: checking it locks the charge's row for every late fee inserted, one
write per open charge per run, to protect a reference the append-only ledger cannot break by
deletion (see LedgerEntry.basis_entry_id). The entry's unit and estate are checked by one
composite foreign key to unit (id, estate_id), which also makes sure an entry's estate is its
unit's, instead of a key per column. On PostgreSQL the (estate, kind, period) index keeps duplicate
keys as plain tuples: a run inserts millions with one key, and merging them into posting lists
rewrote a list at every insert. Measured in bench/README.md "Late-fee accrual".

SQLite cannot drop a constraint in place: the table is rebuilt (batch mode, with foreign-key
enforcement off for migrations, see migrations/env.py) and its append-only triggers made again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKS = (
    ("ix_ledger_entry_settles_entry_id", "settles_entry_id", False),
    ("uq_ledger_entry_reverses_entry_id", "reverses_entry_id", True),
    ("ix_ledger_entry_basis_entry_id", "basis_entry_id", False),
    ("ix_ledger_entry_payment_id", "payment_id", False),
)
# Names for SQLite's unnamed constraints, so that batch mode can find them.
SQLITE_NAMES = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _create_partial_indexes() -> None:
    for name, column, unique in LINKS:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "ledger_entry", [column], unique=unique, postgresql_where=where, sqlite_where=where)


def _estate_kind_period_index(deduplicate: bool) -> None:
    op.drop_index("ix_ledger_entry_estate_kind_period", table_name="ledger_entry")
    op.create_index(
        "ix_ledger_entry_estate_kind_period",
        "ledger_entry",
        ["estate_id", "kind", "period"],
        postgresql_with={"deduplicate_items": "on" if deduplicate else "off"},
    )


def upgrade() -> None:
    op.drop_index("ix_ledger_entry_settles_entry_id", table_name="ledger_entry")
    op.drop_index("ix_ledger_entry_basis_entry_id", table_name="ledger_entry")
    op.drop_index("ix_ledger_entry_payment_id", table_name="ledger_entry")
    op.drop_index("ix_ledger_entry_owner_id", table_name="ledger_entry")
    op.create_index("uq_unit_id_estate_id", "unit", ["id", "estate_id"], unique=True)
    if _sqlite():
        allow_changes(["ledger_entry"])
        with op.batch_alter_table("ledger_entry", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint("fk_ledger_entry_basis_entry_id_ledger_entry", type_="foreignkey")
            batch_op.drop_constraint("uq_ledger_entry_reverses_entry_id", type_="unique")
            batch_op.drop_constraint("fk_ledger_entry_estate_id_estate", type_="foreignkey")
            batch_op.drop_constraint("fk_ledger_entry_unit_id_unit", type_="foreignkey")
            batch_op.create_foreign_key(
                "fk_ledger_entry_unit_estate", "unit", ["unit_id", "estate_id"], ["id", "estate_id"]
            )
        forbid_changes(["ledger_entry"])
    else:
        op.drop_constraint("ledger_entry_basis_entry_id_fkey", "ledger_entry", type_="foreignkey")
        op.drop_constraint("ledger_entry_reverses_entry_id_key", "ledger_entry", type_="unique")
        op.drop_constraint("ledger_entry_estate_id_fkey", "ledger_entry", type_="foreignkey")
        op.drop_constraint("ledger_entry_unit_id_fkey", "ledger_entry", type_="foreignkey")
        op.create_foreign_key(
            "fk_ledger_entry_unit_estate", "ledger_entry", "unit", ["unit_id", "estate_id"], ["id", "estate_id"]
        )
        _estate_kind_period_index(deduplicate=False)
    _create_partial_indexes()


def downgrade() -> None:
    for name, _, _ in LINKS:
        op.drop_index(name, table_name="ledger_entry")
    if _sqlite():
        allow_changes(["ledger_entry"])
        with op.batch_alter_table("ledger_entry", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint("fk_ledger_entry_unit_estate", type_="foreignkey")
            batch_op.create_foreign_key("fk_ledger_entry_estate_id_estate", "estate", ["estate_id"], ["id"])
            batch_op.create_foreign_key("fk_ledger_entry_unit_id_unit", "unit", ["unit_id"], ["id"])
            batch_op.create_foreign_key(
                "fk_ledger_entry_basis_entry_id_ledger_entry", "ledger_entry", ["basis_entry_id"], ["id"]
            )
            batch_op.create_unique_constraint("uq_ledger_entry_reverses_entry_id", ["reverses_entry_id"])
        forbid_changes(["ledger_entry"])
    else:
        _estate_kind_period_index(deduplicate=True)
        op.drop_constraint("fk_ledger_entry_unit_estate", "ledger_entry", type_="foreignkey")
        op.create_foreign_key("ledger_entry_estate_id_fkey", "ledger_entry", "estate", ["estate_id"], ["id"])
        op.create_foreign_key("ledger_entry_unit_id_fkey", "ledger_entry", "unit", ["unit_id"], ["id"])
        op.create_foreign_key(
            "ledger_entry_basis_entry_id_fkey", "ledger_entry", "ledger_entry", ["basis_entry_id"], ["id"]
        )
        op.create_unique_constraint("ledger_entry_reverses_entry_id_key", "ledger_entry", ["reverses_entry_id"])
    op.drop_index("uq_unit_id_estate_id", table_name="unit")
    for name, column in (
        ("ix_ledger_entry_settles_entry_id", "settles_entry_id"),
        ("ix_ledger_entry_basis_entry_id", "basis_entry_id"),
        ("ix_ledger_entry_payment_id", "payment_id"),
        ("ix_ledger_entry_owner_id", "owner_id"),
    ):
        op.create_index(name, "ledger_entry", [column], unique=False)
