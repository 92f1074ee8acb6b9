"""Masking of owners' personal data: the one rule every API response and generated document uses.

Phone numbers and ID numbers are masked for everyone, whatever the role:

- a phone shows at most its last 4 digits, and only when at least 7 digits stay hidden (an
  11-digit mobile shows its last 4; a 7-digit landline shows none: 4 of 7 would leave 1,000
  guesses); separators are dropped, so the format tells nothing either;
- an ID number shows at most its first and last 2 characters, and only when at least 8 stay
  hidden (an 18-character 居民身份证 number shows 2 + 2; "AB123456" shows nothing);
- an e-mail shows the first character of its local part and its domain.

Short values always mask more, never reveal more. Postal addresses appear in no API response:
they are printed only on the letters sent to the owner (see below).

Names depend on what the reader's work needs (:data:`NAME_VIEWS`):

- **manager** — the whole name. Managers agree installment plans and sign them with the owner,
  decide overrides and legal follow-up, and build evidence packs naming the defendant; all of that
  needs the legal name.
- **cashier** — the first and, for names of three or more characters, the last character
  (张伟明 → 张*明; 李娜 → 李*). A cashier has to confirm that the person at the desk is paying for
  the right unit: the payer says whose unit it is and the cashier checks it against this, with the
  unit number. Nothing at the desk needs more.
- **system** — nothing (every character masked): system tokens run billing, late fees and
  reminders, none of which reads a name.
- **owner** — an owner reads only their own units' data (their own periods). Their own name is
  shown whole only where the project already showed it, the statement of their own time at the
  unit (``own=True``); elsewhere (the payer name on their payments and receipts, which may be a
  tenant or a relative who paid) names get the cashier's view.

Documents follow the same rule as the JSON they are made from: the statement PDF and the receipt
PDF show the name as the reader's role may see it. Two kinds of document are exempt, on purpose:
the letters sent to the owner (a reprint must be the letter as issued and delivered: it is the
record of the demand, with the owner's name and postal address), and the evidence pack (managers
only, for the court, where the owner's data is needed in full).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from feesvc.auth.models import Role
from feesvc.auth.principal import Principal

MASK = "*"
PHONE_SHOWN_AT_MOST = 4
PHONE_HIDDEN_AT_LEAST = 7
ID_SHOWN_EACH_END_AT_MOST = 2
ID_HIDDEN_AT_LEAST = 8


class NameView(enum.StrEnum):
    whole = "whole"
    confirm = "confirm"  # enough to confirm a name someone gives
    hidden = "hidden"


NAME_VIEWS: dict[Role, NameView] = {
    Role.manager: NameView.whole,
    Role.cashier: NameView.confirm,
    Role.system: NameView.hidden,
    Role.owner: NameView.confirm,
}


def mask_name(name: str, view: NameView = NameView.confirm) -> str:
    if view is NameView.whole or not name:
        return name
    if view is NameView.hidden or len(name) == 1:
        return MASK * len(name)
    last = name[-1] if len(name) >= 3 else ""
    return name[0] + MASK * (len(name) - 1 - len(last)) + last


def mask_phone(phone: str) -> str:
    digits = [c for c in phone if c.isdigit()]
    shown = min(PHONE_SHOWN_AT_MOST, max(len(digits) - PHONE_HIDDEN_AT_LEAST, 0))
    return MASK * (len(digits) - shown) + "".join(digits[len(digits) - shown :])


def mask_id_number(id_number: str) -> str:
    value = id_number.strip()
    each_end = min(ID_SHOWN_EACH_END_AT_MOST, max(len(value) - ID_HIDDEN_AT_LEAST, 0) // 2)
    if each_end == 0:
        return MASK * len(value)
    return value[:each_end] + MASK * (len(value) - 2 * each_end) + value[-each_end:]


def mask_email(email: str) -> str:
    local, at, domain = email.partition("@")
    return (local[:1] + MASK * 3 + at + domain) if at and local else ""


@dataclass(frozen=True)
class Masking:
    """What one reader may see of an owner's personal data."""

    names: NameView

    def name(self, value: str) -> str:
        return mask_name(value, self.names)

    def optional_name(self, value: str | None) -> str | None:
        return None if value is None else mask_name(value, self.names)

    @staticmethod
    def phone(value: str) -> str:
        return mask_phone(value)

    @staticmethod
    def id_number(value: str) -> str:
        return mask_id_number(value)

    @staticmethod
    def email(value: str) -> str:
        return mask_email(value)


# Names whole, numbers masked: for code outside the API (the command line, documents built in tests).
WHOLE_NAMES = Masking(NameView.whole)


def masking_for(principal: Principal, *, own: bool = False) -> Masking:
    """The masking for ``principal``; ``own``: the data is the reading owner's own record."""
    if own and principal.role is Role.owner:
        return Masking(NameView.whole)
    return Masking(NAME_VIEWS[principal.role])
