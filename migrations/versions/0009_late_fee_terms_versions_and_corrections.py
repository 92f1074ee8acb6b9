"""late_fee_terms: effective-dated late-fee terms; a charge's late fees may be corrected on any day

Late-fee terms (rate, grace days, cap, start date) were columns of the estate (and a fee
standard's own rate), so changing one rewrote the past: the next run recomputed every open charge
back to its due date with the new terms. They are now versions with an effective date in
``late_fee_terms`` (append-only): each estate gets one version holding its current terms, in force
from 1900-01-01 (they always applied), and each fee standard with its own rate one version with that
rate from the standard's effective date. The estate and fee-standard columns stay as they are
(the settings forms show them); accrual reads only the versions.

A run posts the difference between a charge's late fee on today's facts and what was posted, in
either direction, so a charge may get more than one late-fee entry on one date (a correction
settling several earlier late fees, a rerun after a backdated payment). The one late fee per
charge and date stays unique for entries without a dedupe key, which is every bulk accrual entry;
the further entries carry a dedupe key (unique) and are found through a small index of their own.

Downgrade: the old index allowed one late fee per charge and date; with corrections posted on
the same day as another late fee of the same charge, the database refuses to build it and the
downgrade stops (nothing is lost).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROM_THE_START = "1900-01-01"
ESTATE_ROWS = sa.text("fee_standard_id IS NULL")
STANDARD_ROWS = sa.text("fee_standard_id IS NOT NULL")
UNKEYED = sa.text("kind = 'late_fee' AND dedupe_key IS NULL")
KEYED = sa.text("kind = 'late_fee' AND dedupe_key IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "late_fee_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("fee_standard_id", sa.Integer(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("daily_rate", sa.String(length=40), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=True),
        sa.Column(
            "cap", sa.Enum("none", "principal", "fixed", name="latefeecap", native_enum=False, length=24), nullable=True
        ),
        sa.Column("cap_fen", sa.BigInteger(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(fee_standard_id IS NULL AND grace_days IS NOT NULL AND cap IS NOT NULL)"
            " OR (fee_standard_id IS NOT NULL AND grace_days IS NULL AND cap IS NULL"
            " AND cap_fen IS NULL AND starts_on IS NULL)",
            name="ck_late_fee_terms_complete",
        ),
        sa.CheckConstraint("cap <> 'fixed' OR cap_fen IS NOT NULL", name="ck_late_fee_terms_fixed_cap"),
        sa.ForeignKeyConstraint(["estate_id"], ["estate.id"]),
        sa.ForeignKeyConstraint(["fee_standard_id"], ["fee_standard.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_late_fee_terms_estate_id", "late_fee_terms", ["estate_id"])
    op.create_index(
        "uq_late_fee_terms_estate_from",
        "late_fee_terms",
        ["estate_id", "effective_from"],
        unique=True,
        postgresql_where=ESTATE_ROWS,
        sqlite_where=ESTATE_ROWS,
    )
    op.create_index(
        "uq_late_fee_terms_standard_from",
        "late_fee_terms",
        ["fee_standard_id", "effective_from"],
        unique=True,
        postgresql_where=STANDARD_ROWS,
        sqlite_where=STANDARD_ROWS,
    )
    # The terms each estate and fee standard has now become their first versions. A fixed cap
    # without an amount was never applied (the settings route refuses it): it is kept as no cap.
    op.execute(
        "INSERT INTO late_fee_terms (estate_id, fee_standard_id, effective_from, daily_rate, grace_days,"
        " cap, cap_fen, starts_on, basis, actor, created_at)"
        f" SELECT id, NULL, '{FROM_THE_START}', late_fee_daily_rate, grace_days,"
        " CASE WHEN late_fee_cap = 'fixed' AND late_fee_cap_fen IS NULL THEN 'none' ELSE late_fee_cap END,"
        " CASE WHEN late_fee_cap = 'fixed' THEN late_fee_cap_fen END, late_fee_starts_on,"
        " 'the estate''s terms before versions (migration 0009)', 'migration 0009', CURRENT_TIMESTAMP"
        " FROM estate"
    )
    op.execute(
        "INSERT INTO late_fee_terms (estate_id, fee_standard_id, effective_from, daily_rate, grace_days,"
        " cap, cap_fen, starts_on, basis, actor, created_at)"
        " SELECT estate_id, id, effective_from, late_fee_daily_rate, NULL, NULL, NULL, NULL,"
        " 'the fee standard''s own rate (migration 0009)', 'migration 0009', CURRENT_TIMESTAMP"
        " FROM fee_standard WHERE late_fee_daily_rate IS NOT NULL"
    )
    forbid_changes(["late_fee_terms"])

    op.drop_index("uq_ledger_entry_late_fee_basis_date", table_name="ledger_entry")
    op.create_index(
        "uq_ledger_entry_late_fee_basis_date",
        "ledger_entry",
        ["basis_entry_id", "effective_date"],
        unique=True,
        postgresql_where=UNKEYED,
        sqlite_where=UNKEYED,
    )
    op.create_index(
        "ix_ledger_entry_late_fee_keyed_basis",
        "ledger_entry",
        ["basis_entry_id"],
        postgresql_where=KEYED,
        sqlite_where=KEYED,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entry_late_fee_keyed_basis", table_name="ledger_entry")
    op.drop_index("uq_ledger_entry_late_fee_basis_date", table_name="ledger_entry")
    late_fee = sa.text("kind = 'late_fee'")
    op.create_index(
        "uq_ledger_entry_late_fee_basis_date",
        "ledger_entry",
        ["basis_entry_id", "effective_date"],
        unique=True,
        postgresql_where=late_fee,
        sqlite_where=late_fee,
    )
    allow_changes(["late_fee_terms"])
    op.drop_index("uq_late_fee_terms_standard_from", table_name="late_fee_terms")
    op.drop_index("uq_late_fee_terms_estate_from", table_name="late_fee_terms")
    op.drop_index("ix_late_fee_terms_estate_id", table_name="late_fee_terms")
    op.drop_table("late_fee_terms")
