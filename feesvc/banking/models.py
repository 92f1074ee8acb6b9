"""Bank statements imported and their credit lines, each matched, posted or waiting for a cashier."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from feesvc.db import BigId, UTCDateTime, str_enum, utcnow


class BankLineStatus(enum.StrEnum):
    # Matched to one unit and owner, its payment not yet written (a crash between): the next import
    # of a file holding it, or its assignment, posts it under the same key.
    matched = "matched"
    posted = "posted"
    # No unit, owner, letter or receipt found, or the amount fits nothing owed: a cashier assigns it.
    unmatched = "unmatched"
    # Several units fit: a cashier chooses.
    ambiguous = "ambiguous"


class BankStatement(SQLModel, table=True):
    """One import of a statement file (a re-import is a row of its own that added nothing)."""

    __tablename__ = "bank_statement"

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    bank: str = Field(max_length=40)
    file_format: str = Field(max_length=16)  # csv or camt.053
    filename: str = Field(max_length=200)
    file_sha256: str = Field(max_length=64)
    lines: int  # credit lines in the file
    new_lines: int
    duplicates: int  # lines already imported (by this or an earlier file)
    posted: int
    imported_by: str = Field(max_length=120)
    imported_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BankLine(SQLModel, table=True):
    """A credit on the estate's account, kept once whatever file brought it (``line_key``)."""

    __tablename__ = "bank_line"
    __table_args__ = (Index("ix_bank_line_estate_status", "estate_id", "status", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    estate_id: int = Field(foreign_key="estate.id")
    statement_id: int = Field(foreign_key="bank_statement.id")
    line_no: int  # in the file that first brought it: its row (CSV) or entry (camt.053)
    # The bank's transaction id hashed with the estate, or a hash of account, date, amount and
    # reference when the file gives none; also the payment's idempotency key.
    line_key: str = Field(max_length=100, unique=True)
    bank_txn_id: str = Field(default="", max_length=100)
    booked_on: date
    amount_fen: int = Field(sa_type=BigInteger)
    payer_name: str = Field(default="", max_length=200)
    payer_account: str = Field(default="", max_length=60)
    reference: str = Field(default="", max_length=300)
    status: BankLineStatus = Field(sa_type=str_enum(BankLineStatus))
    reason: str = Field(default="", max_length=300)
    # The accounts that fit when it is ambiguous: [{"unit_id": …, "owner_id": …}, …].
    candidates: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    owner_id: int | None = Field(default=None)
    payment_id: int | None = Field(default=None, sa_type=BigInteger, foreign_key="payment.id")
    assigned_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
