"""Ledger entries.

Sign convention: a positive amount is what the owner owes (charge, late fee), a negative amount
is what reduces it (payment, credit, discount, waiver). The balance is the plain sum of amounts.

An entry may *settle* one other entry: a payment split settles a charge, a waiver settles a late
fee, a credit application settles a charge and consumes a prepaid credit. What is still open on
an entry is its amount plus the amounts of the entries settling it; that one rule gives unpaid
charges, unused credit and allocations alike.
"""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, ForeignKey, ForeignKeyConstraint, Index, text
from sqlmodel import Field, SQLModel

from feesvc.db import BigId, UTCDateTime, str_enum, utcnow


class EntryKind(enum.StrEnum):
    charge = "charge"
    late_fee = "late_fee"
    payment = "payment"
    prepaid_credit = "prepaid_credit"
    credit_applied = "credit_applied"
    discount = "discount"
    waiver = "waiver"
    reversal = "reversal"
    refund = "refund"
    adjustment = "adjustment"


DEBIT_KINDS = frozenset({EntryKind.charge, EntryKind.late_fee})
KINDS_NEEDING_REASON = frozenset({EntryKind.waiver, EntryKind.reversal, EntryKind.refund, EntryKind.adjustment})


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        # A unit's entries by kind: a payment reads only its debits, not its whole history.
        Index("ix_ledger_entry_unit_kind_date", "unit_id", "kind", "effective_date"),
        # A run adds millions of entries with one key (estate, kind, period): deduplicating them into
        # posting lists rewrites a list at every insert (measured: a fifth of the server's cost of a
        # late-fee row), so duplicates are kept as plain index tuples.
        Index(
            "ix_ledger_entry_estate_kind_period",
            "estate_id",
            "kind",
            "period",
            postgresql_with={"deduplicate_items": "off"},
        ),
        # The entry's unit, in the entry's estate: one check instead of one per column.
        ForeignKeyConstraint(
            ["unit_id", "estate_id"], ["unit.id", "unit.estate_id"], name="fk_ledger_entry_unit_estate"
        ),
        # Most entries settle nothing, reverse nothing and belong to no payment, and late fees carry
        # no dedupe key: index only the rows that have a value (fewer index inserts in bulk runs).
        *(
            Index(
                f"{'uq' if unique else 'ix'}_ledger_entry_{column}",
                column,
                unique=unique,
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column, unique in (
                ("settles_entry_id", False),
                ("reverses_entry_id", True),
                ("payment_id", False),
                ("dedupe_key", True),
            )
        ),
        # One late fee without a dedupe key per charge and accrual date: what makes the accrual
        # run's entries unique (they carry no dedupe key: one index fewer to write per late fee),
        # and how a charge's late fees are found. The rare further late-fee entries of a charge on a
        # date (a correction, a rerun after new facts: latefees.service) carry a dedupe key, which
        # makes them unique, and are found through the second index.
        Index(
            "uq_ledger_entry_late_fee_basis_date",
            "basis_entry_id",
            "effective_date",
            unique=True,
            postgresql_where=text("kind = 'late_fee' AND dedupe_key IS NULL"),
            sqlite_where=text("kind = 'late_fee' AND dedupe_key IS NULL"),
        ),
        Index(
            "ix_ledger_entry_late_fee_keyed_basis",
            "basis_entry_id",
            postgresql_where=text("kind = 'late_fee' AND dedupe_key IS NOT NULL"),
            sqlite_where=text("kind = 'late_fee' AND dedupe_key IS NOT NULL"),
        ),
        CheckConstraint(
            "reason IS NOT NULL OR kind NOT IN ('waiver', 'reversal', 'refund', 'adjustment')",
            name="ck_ledger_entry_reason_required",
        ),
        CheckConstraint("amount_fen <> 0", name="ck_ledger_entry_nonzero"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    estate_id: int
    unit_id: int
    # The owner of the period the entry belongs to: arrears stay with them after a sale.
    # No foreign key: checking it locked the owner's row for each of millions of entries a run
    # appends (a quarter of the server's cost of a late fee); the value is always copied from a row
    # just read (an ownership, the charge being paid or accrued on), and the database refuses to
    # delete an owner (migration 0006).
    owner_id: int | None = Field(default=None)
    kind: EntryKind = Field(sa_type=str_enum(EntryKind))
    amount_fen: int = Field(sa_type=BigInteger)
    effective_date: date
    period: str | None = Field(default=None, max_length=7)
    period_months: int | None = Field(default=None)
    item: str | None = Field(default=None, max_length=40)
    due_date: date | None = Field(default=None)
    fee_standard_id: int | None = Field(default=None, foreign_key="fee_standard.id")
    settles_entry_id: int | None = Field(default=None, sa_column=Column(BigInteger, ForeignKey("ledger_entry.id")))
    reverses_entry_id: int | None = Field(default=None, sa_column=Column(BigInteger, ForeignKey("ledger_entry.id")))
    # For a late fee (and its waivers): the charge it accrued on. No foreign key: checking it locks
    # the charge's row for every late fee inserted (a write per open charge per accrual run), and the
    # service sets it only from a charge it has just read; the ledger never deletes a charge.
    basis_entry_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    payment_id: int | None = Field(default=None, sa_column=Column(BigInteger, ForeignKey("payment.id")))
    # Makes runs idempotent: a charge for one unit, item and period can only be posted once.
    dedupe_key: str | None = Field(default=None, max_length=120)
    actor: str = Field(max_length=120)
    reason: str | None = Field(default=None, max_length=500)
    # How the amount was computed (area, rate, months; base, rate, days), for statements.
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
