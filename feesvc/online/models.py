"""Payment orders and notifications held for a cashier.

An order is a request to a provider; it is not money. Its state moves pending → paid or pending →
closed (an order is not part of the ledger: the payment it leads to is, through the desk).
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class Provider(enum.StrEnum):
    wechat = "wechat"
    alipay = "alipay"


class PayChannel(enum.StrEnum):
    """How the owner pays: WeChat Pay JSAPI (inside WeChat) or Native (a QR code); Alipay's
    computer-website page (page) or mobile-website page (wap)."""

    jsapi = "jsapi"
    native = "native"
    page = "page"
    wap = "wap"


CHANNELS = {Provider.wechat: (PayChannel.jsapi, PayChannel.native), Provider.alipay: (PayChannel.page, PayChannel.wap)}


class OrderKind(enum.StrEnum):
    payoff = "payoff"  # everything the owner owes on the unit today (feesvc/payoff)
    debts = "debts"  # chosen charges with their posted late fees, designated (民法典 560)


class OrderState(enum.StrEnum):
    pending = "pending"
    paid = "paid"
    closed = "closed"


class PaymentOrder(SQLModel, table=True):
    __tablename__ = "payment_order"
    __table_args__ = (Index("ix_payment_order_due", "state", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # The provider's out_trade_no: [0-9A-Za-z], at most 32 characters (WeChat's limit; Alipay's is 64).
    out_trade_no: str = Field(max_length=32, unique=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int = Field(foreign_key="owner.id")
    provider: Provider = Field(sa_type=str_enum(Provider))
    channel: PayChannel = Field(sa_type=str_enum(PayChannel))
    kind: OrderKind = Field(sa_type=str_enum(OrderKind))
    charge_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    amount_fen: int = Field(sa_type=BigInteger)
    currency: str = Field(default="CNY", max_length=3)
    description: str = Field(max_length=127)
    state: OrderState = Field(default=OrderState.pending, sa_type=str_enum(OrderState))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The owner's Idempotency-Key, prefixed with the owner id (one owner's key never meets another's).
    idempotency_key: str = Field(max_length=120, unique=True)
    request_fingerprint: str = Field(max_length=64)
    # What the provider gave back: WeChat's code_url or prepay_id; none for Alipay (the page URL is signed locally).
    provider_ref: str | None = Field(default=None, max_length=2048)
    transaction_id: str | None = Field(default=None, max_length=64)
    payment_id: int | None = Field(default=None, sa_type=BigInteger)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_by: str = Field(max_length=120)


class HeldState(enum.StrEnum):
    held = "held"
    posted = "posted"
    dismissed = "dismissed"


class HeldNotification(SQLModel, table=True):
    """A verified notification that did not match its order (amount, currency, merchant, or debts
    no longer open): the money is at the provider, the ledger has nothing; a cashier decides."""

    __tablename__ = "held_notification"
    __table_args__ = (UniqueConstraint("provider", "transaction_id"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    order_id: int = Field(foreign_key="payment_order.id")
    provider: Provider = Field(sa_type=str_enum(Provider))
    transaction_id: str = Field(max_length=64)
    amount_fen: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=8)
    merchant: str = Field(max_length=64)
    paid_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(max_length=500)
    # The notification's verified content (the decrypted transaction; Alipay's parameters less the signature).
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: HeldState = Field(default=HeldState.held, sa_type=str_enum(HeldState))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    resolved_by: str | None = Field(default=None, max_length=120)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    resolution_note: str | None = Field(default=None, max_length=500)
    payment_id: int | None = Field(default=None, sa_type=BigInteger)
