"""ledger: late fees unique per charge and date instead of by dedupe key; no foreign key on owner_id

An accrual run appends a late fee per open charge, millions per estate. Each paid for two index
entries that said the same thing (its dedupe key ``late_fee:<charge>:<date>``, and its charge in
the basis index) and for a foreign-key check that locked the owner's row. Now one unique index on
(basis_entry_id, effective_date) for late fees replaces both the basis index and the late fees'
dedupe keys (new late fees carry none; the dedupe key is unique where present), and owner_id is not
checked by a foreign key (see LedgerEntry.owner_id): instead the database refuses to delete an
owner, so no entry's owner can disappear. Measured: a late fee's server cost 20.0 →
13.8 µs (bench/README.md "Late-fee accrual").

Late fees posted before this migration keep their dedupe keys; they already satisfy the new index
(their keys were unique per charge and date). SQLite cannot drop a constraint in place: the table is
rebuilt (batch mode) and its append-only triggers made again, as in 0005.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names for SQLite's unnamed constraints, so that batch mode can find them.
SQLITE_NAMES = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _refuse_deleting_owners() -> None:
    if _sqlite():
        op.execute(
            "CREATE TRIGGER owner_no_delete BEFORE DELETE ON owner "
            "BEGIN SELECT RAISE(ABORT, 'owners are kept: ledger entries name them'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION feesvc_keep_owner() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'owners are kept: ledger entries name them' USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER owner_no_delete BEFORE DELETE ON owner FOR EACH ROW EXECUTE FUNCTION feesvc_keep_owner()"
    )
    op.execute(
        "CREATE TRIGGER owner_no_truncate BEFORE TRUNCATE ON owner FOR EACH STATEMENT EXECUTE FUNCTION feesvc_keep_owner()"
    )


def _allow_deleting_owners() -> None:
    op.execute("DROP TRIGGER owner_no_delete" + ("" if _sqlite() else " ON owner"))
    if not _sqlite():
        op.execute("DROP TRIGGER owner_no_truncate ON owner")
        op.execute("DROP FUNCTION feesvc_keep_owner()")


def upgrade() -> None:
    _refuse_deleting_owners()
    op.drop_index("ix_ledger_entry_basis_entry_id", table_name="ledger_entry")
    if _sqlite():
        allow_changes(["ledger_entry"])
        with op.batch_alter_table("ledger_entry", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint("fk_ledger_entry_owner_id_owner", type_="foreignkey")
            batch_op.drop_constraint("uq_ledger_entry_dedupe_key", type_="unique")
        forbid_changes(["ledger_entry"])
    else:
        op.drop_constraint("ledger_entry_owner_id_fkey", "ledger_entry", type_="foreignkey")
        op.drop_constraint("ledger_entry_dedupe_key_key", "ledger_entry", type_="unique")
    not_null = sa.text("dedupe_key IS NOT NULL")
    op.create_index(
        "uq_ledger_entry_dedupe_key",
        "ledger_entry",
        ["dedupe_key"],
        unique=True,
        postgresql_where=not_null,
        sqlite_where=not_null,
    )
    late_fee = sa.text("kind = 'late_fee'")
    op.create_index(
        "uq_ledger_entry_late_fee_basis_date",
        "ledger_entry",
        ["basis_entry_id", "effective_date"],
        unique=True,
        postgresql_where=late_fee,
        sqlite_where=late_fee,
    )


def downgrade() -> None:
    _allow_deleting_owners()
    op.drop_index("uq_ledger_entry_late_fee_basis_date", table_name="ledger_entry")
    op.drop_index("uq_ledger_entry_dedupe_key", table_name="ledger_entry")
    # Late fees posted since the upgrade get back the dedupe key the old schema gave them.
    allow_changes(["ledger_entry"])
    op.execute(
        "UPDATE ledger_entry SET dedupe_key = 'late_fee:' || basis_entry_id || ':' || effective_date "
        "WHERE kind = 'late_fee' AND dedupe_key IS NULL"
    )
    if _sqlite():
        with op.batch_alter_table("ledger_entry", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.create_unique_constraint("uq_ledger_entry_dedupe_key", ["dedupe_key"])
            batch_op.create_foreign_key("fk_ledger_entry_owner_id_owner", "owner", ["owner_id"], ["id"])
    else:
        op.create_unique_constraint("ledger_entry_dedupe_key_key", "ledger_entry", ["dedupe_key"])
        op.create_foreign_key("ledger_entry_owner_id_fkey", "ledger_entry", "owner", ["owner_id"], ["id"])
    forbid_changes(["ledger_entry"])
    op.create_index(
        "ix_ledger_entry_basis_entry_id",
        "ledger_entry",
        ["basis_entry_id"],
        postgresql_where=sa.text("basis_entry_id IS NOT NULL"),
        sqlite_where=sa.text("basis_entry_id IS NOT NULL"),
    )
