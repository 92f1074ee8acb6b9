"""Paying online from the owner's pages: which providers the estate takes, the order the pay form
makes (WeChat Pay's Native QR code, Alipay's mobile-website page) and the QR code, drawn here with
segno from the provider's ``code_url``. The order itself is ``feesvc.online.orders.create_order``,
the API's own path, with the form's key as its Idempotency-Key."""

from __future__ import annotations

from typing import Final

import segno

from feesvc.online.credentials import CredentialsError, estate_credentials
from feesvc.online.models import PayChannel, Provider
from feesvc.online.schemas import PaymentOrderCreate
from feesvc.settings import Settings

# What each provider's button makes on a phone: WeChat Pay's QR code, Alipay's mobile-website page.
PAGE_CHANNELS: Final = {Provider.wechat: PayChannel.native, Provider.alipay: PayChannel.wap}


def pay_path(unit_id: int) -> str:
    return f"/owner/units/{unit_id}/pay"


def estate_providers(settings: Settings, estate_id: int | None) -> list[Provider]:
    """The providers the estate takes payments through; none where online payment is not set up
    (or its secrets cannot be read: a button that cannot work is not shown)."""
    if estate_id is None:
        return []
    try:
        found = estate_credentials(estate_id, settings)
    except CredentialsError:
        return []
    return [] if found is None else found.providers()


def order_for(settings: Settings, unit_id: int, provider: Provider) -> PaymentOrderCreate:
    """The payoff order of the pay form; Alipay's page sends the payer back to the pay page."""
    back = f"{settings.server.public_base_url.rstrip('/')}{pay_path(unit_id)}"
    return PaymentOrderCreate(
        unit_id=unit_id,
        provider=provider,
        channel=PAGE_CHANNELS[provider],
        return_url=back if provider is Provider.alipay else None,
    )


def qr_svg(code_url: str) -> str:
    """WeChat Pay's ``code_url`` as an inline SVG QR code for the payer to scan."""
    return str(segno.make(code_url, error="m").svg_inline(scale=6, omitsize=True))
