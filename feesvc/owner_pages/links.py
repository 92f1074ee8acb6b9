"""The link to the owner's pages that reminders carry, and what a letter may say about it: the one
place that decides (DOMAIN.md "What documents may say"; issue 16 item 3, issue 19 item 4).

* The link only where the owner can open it: the server's public address is set and the owner can
  sign in there (a mobile number on record takes the one-time code and the invitation link).
* Paying online, and the QR code that offers it on paper, only where the estate has online payment
  set up (provider credentials, ``feesvc.online``); elsewhere the link is the statement alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from feesvc.online import online_payment_enabled
from feesvc.registry.models import Estate, Owner
from feesvc.settings import Settings
from feesvc.signin.rules import can_sign_in

HOME_PATH: Final = "/owner/"


@dataclass(frozen=True)
class OwnerPageLink:
    """The owner's pages as a letter gives them; ``pays_online``: the estate takes payments there."""

    url: str
    pays_online: bool


def owner_page_url(estate: Estate, settings: Settings) -> str | None:
    """The absolute address of the owner's pages, or None while ``FEESVC_PUBLIC_BASE_URL`` is unset.
    Every owner of every estate shares it: the owner signs in there, the link names no one."""
    if not settings.server.public_base_url_given:
        return None
    return f"{settings.server.public_base_url.strip().rstrip('/')}{HOME_PATH}"


def owner_page_link(estate: Estate, owner: Owner, settings: Settings) -> OwnerPageLink | None:
    """The link a letter to ``owner`` carries, or None (no link, no QR code, no word of it)."""
    url = owner_page_url(estate, settings)
    if url is None or not can_sign_in(owner.phone):
        return None
    return OwnerPageLink(url, estate.id is not None and online_payment_enabled(estate.id, settings))


def owner_page_fields(estate: Estate, owner: Owner, settings: Settings) -> dict[str, Any]:
    """The ``LetterContext`` fields of the link (``owner_page_url``, ``owner_page_pays_online``)."""
    link = owner_page_link(estate, owner, settings)
    if link is None:
        return {"owner_page_url": None, "owner_page_pays_online": False}
    return {"owner_page_url": link.url, "owner_page_pays_online": link.pays_online}
