from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from feesvc.online.models import HeldState, OrderKind, OrderState, PayChannel, Provider
from feesvc.schemas import Body, Id, LongId, Reason

# Where the payer's browser returns after Alipay's page: an http(s) URL of at most 256 characters.
ReturnUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[^\s\x00-\x1f\x7f]{1,248}$(?!\n)",
        examples=["https://wy.example.com/owner/pay?unit=101"],
        extra={"send": "an http(s) URL of at most 256 characters"},
    ),
]
OpenId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9A-Za-z_-]{1,128}$(?!\n)",
        examples=["oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"],
        extra={"send": "the payer's WeChat openid"},
    ),
]


class PaymentOrderCreate(Body):
    """An owner's payment order: the payoff of their account on the unit today, or chosen charges
    (``charge_ids``, from the payoff's lines) with their posted late fees."""

    unit_id: Id
    provider: Provider
    channel: PayChannel
    charge_ids: Annotated[list[LongId], msgspec.Meta(max_length=240)] = msgspec.field(default_factory=list)
    payer_openid: OpenId | None = None  # WeChat JSAPI only
    return_url: ReturnUrl | None = None  # Alipay only


class PaymentOrderOut(msgspec.Struct):
    id: int
    out_trade_no: str
    estate_id: int
    unit_id: int
    owner_id: int
    provider: Provider
    channel: PayChannel
    kind: OrderKind
    charge_ids: list[int]
    amount_fen: int
    currency: str
    description: str
    state: OrderState
    created_at: datetime
    expires_at: datetime
    payment_id: int | None
    transaction_id: str | None
    # What the payer needs while the order is pending: code_url (Native QR), jsapi (parameters for
    # WeixinJSBridge), pay_url (Alipay's signed page). Staff reads leave it empty.
    pay: dict[str, Any] = msgspec.field(default_factory=dict)


class PaymentOrderPage(msgspec.Struct):
    items: list[PaymentOrderOut]
    total: int
    page: int
    page_size: int


class HeldNotificationOut(msgspec.Struct):
    id: int
    estate_id: int
    order_id: int
    unit_id: int
    provider: Provider
    transaction_id: str
    out_trade_no: str
    amount_fen: int
    order_amount_fen: int
    currency: str
    merchant: str
    paid_at: datetime
    reason: str
    state: HeldState
    received_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    payment_id: int | None


class HeldResolve(Body):
    """``post``: record the money received as a payment to the order's owner account (their debts
    oldest first, the rest their credit); ``dismiss``: post nothing (e.g. refunded at the provider)."""

    action: Literal["post", "dismiss"]
    reason: Reason


class ReconciliationLineOut(msgspec.Struct):
    line: int
    transaction_id: str
    out_trade_no: str
    kind: str
    amount_fen: int
    reason: str
    held_notification_id: int | None = None
    payment_id: int | None = None


class MissingPaymentOut(msgspec.Struct):
    payment_id: int
    transaction_id: str
    unit_id: int
    amount_fen: int
    received_on: date
    voided: bool


class ReconciliationOut(msgspec.Struct):
    """A day's bill against the payments posted from the provider's notifications: every bill line
    that matches no posted payment, and every posted payment the bill lacks."""

    estate_id: int
    provider: Provider
    day: date
    bill_lines: int
    matched: int
    fees_fen: int
    unmatched_lines: list[ReconciliationLineOut]
    missing_payments: list[MissingPaymentOut]
    reconciled: bool

