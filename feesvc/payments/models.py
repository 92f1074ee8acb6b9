import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import BigId, UTCDateTime, str_enum, utcnow


class Method(enum.StrEnum):
    cash = "cash"
    wechat = "wechat"
    alipay = "alipay"
    bank_transfer = "bank_transfer"
    card = "card"


class Payment(SQLModel, table=True):
    """A payment as received at the desk; it never changes (a void is a row of its own)."""

    __table_args__ = (Index("ix_payment_cashup", "estate_id", "received_on", "cashier"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    estate_id: int = Field(foreign_key="estate.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # The account paid into: the owner whose debts it settles and whose credit its rest becomes
    # (the cashier chooses; default the unit's owner on the day received). Null only for a unit
    # without an owner that day. No foreign key, as on the ledger's owner_id: the value is checked
    # against the unit's ownerships when the payment is decided, and owners are never deleted.
    owner_id: int | None = Field(default=None)
    payer_name: str = Field(max_length=100)
    amount_fen: int = Field(sa_type=BigInteger)
    method: Method = Field(sa_type=str_enum(Method))
    external_ref: str = Field(default="", max_length=100)
    designation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    received_on: date
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    cashier: str = Field(max_length=120)
    idempotency_key: str = Field(max_length=100, unique=True)
    request_fingerprint: str = Field(max_length=64)


class Receipt(SQLModel, table=True):
    """The receipt number of a payment: unique and gapless per estate and year.

    Taken in the same transaction as the payment, as its last write, so the counter row is held
    only for the moment before commit, and a payment that fails takes no number.
    """

    __table_args__ = (UniqueConstraint("estate_id", "year", "seq"),)

    payment_id: int = Field(sa_type=BigInteger, foreign_key="payment.id", primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    year: int
    seq: int

    @property
    def number(self) -> str:
        return receipt_number(self.year, self.seq)


def receipt_number(year: int, seq: int) -> str:
    return f"{year}-{seq:06d}"


class PaymentVoid(SQLModel, table=True):
    __tablename__ = "payment_void"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(sa_type=BigInteger, foreign_key="payment.id", unique=True)
    reason: str = Field(max_length=500)
    actor: str = Field(max_length=120)
    voided_on: date
    voided_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ReceiptCounter(SQLModel, table=True):
    """The last receipt number per estate and year; its row lock keeps numbers gapless."""

    __tablename__ = "receipt_counter"

    estate_id: int = Field(foreign_key="estate.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_seq: int = Field(default=0)
