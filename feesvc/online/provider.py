"""The one small interface both providers implement, and what a verified notification says.

A provider turns an order into what the payer needs (a QR code's URL, JSAPI parameters, a signed
page URL), verifies a notification and reads the payment out of it, closes an unpaid order, and
downloads a day's bill. Its outbound calls go to the base URL in the settings (a local test server
in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from feesvc.errors import DomainError
from feesvc.online.models import PayChannel, Provider


class ProviderError(DomainError):
    """The provider could not be reached or refused the call; nothing of ours changed, so the same
    request may be sent again."""

    status_code = 502
    title = "Payment provider error"


class NotificationRefused(Exception):
    """A notification that is not taken: bad signature, unknown, expired or closed order. Nothing is
    written; the provider is answered in its own failure format."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


@dataclass(frozen=True)
class OrderRequest:
    out_trade_no: str
    amount_fen: int
    description: str
    expires_at: datetime
    channel: PayChannel
    notify_url: str
    payer_openid: str | None = None  # WeChat JSAPI: the payer's openid under the merchant's appid
    return_url: str | None = None  # Alipay: where the payer's browser comes back to


@dataclass(frozen=True)
class ProviderPayment:
    """A payment the provider vouches for (signature verified), as read from its notification."""

    provider: Provider
    out_trade_no: str
    transaction_id: str
    paid: bool  # False for a notification of another state (Alipay's WAIT_BUYER_PAY, TRADE_CLOSED)
    amount_fen: int
    currency: str
    merchant: str  # the merchant the provider names: WeChat's mchid, Alipay's app_id/seller_id
    merchant_matches: bool
    paid_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CloseResult:
    closed: bool  # the provider will take no payment for the order
    paid: ProviderPayment | None = None  # it was paid meanwhile (its notification may still come)


class PaymentProvider(Protocol):
    name: Provider

    async def create(self, order: OrderRequest) -> str | None:
        """Place the order with the provider; return what to keep of its answer (None: nothing)."""
        ...

    def payer_action(self, order: OrderRequest, provider_ref: str | None) -> dict[str, Any]:
        """What the payer's page needs: ``code_url``, ``jsapi`` parameters or ``pay_url``."""
        ...

    def verify(self, headers: dict[str, str], body: bytes) -> ProviderPayment:
        """The payment a notification reports, its signature verified; NotificationRefused if not."""
        ...

    async def close(self, out_trade_no: str) -> CloseResult: ...

    async def download_bill(self, day: date) -> bytes: ...

    def answer(self, refused: NotificationRefused | None) -> tuple[int, str, bytes]:
        """The HTTP answer the provider expects: status, media type, body."""
        ...


def yuan_to_fen(text: str, what: str) -> int:
    """A provider's amount in yuan ("12.30") as exact fen; more than 2 decimals is not an amount."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as error:
        raise ValueError(f"{what}: {text!r} is not an amount") from error
    fen = value * 100
    if fen != fen.to_integral_value() or not value.is_finite():
        raise ValueError(f"{what}: {text!r} has more than 2 decimals")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """Fen as the yuan text the providers take ("12.30")."""
    return f"{fen // 100}.{fen % 100:02d}"
