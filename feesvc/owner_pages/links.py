"""The link to the owner's pages that reminders carry (paper letters with its QR code:
``feesvc.documents.qr``)."""

from __future__ import annotations

from typing import Final

from feesvc.registry.models import Estate
from feesvc.settings import Settings

HOME_PATH: Final = "/owner/"


def owner_page_url(estate: Estate, settings: Settings) -> str | None:
    """The absolute address of the owner's pages that the estate's letters and messages give, or
    None (no link, no QR code) while ``FEESVC_PUBLIC_BASE_URL`` is unset. Every owner of every
    estate shares it: the owner signs in there, the link names no one."""
    if not settings.server.public_base_url_given:
        return None
    return f"{settings.server.public_base_url.strip().rstrip('/')}{HOME_PATH}"
