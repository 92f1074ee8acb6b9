"""Whom a reminder goes to, and how: the owner of the debts, at their own contact address.

A reminder run works per account, (unit, owner): after a sale the seller still owes the periods
before the handover and the buyer those after it (DOMAIN.md, "Change of owner"). The current owner
(or one whose ownership has not begun yet) is reached as always: by their preferred channel, on
paper at their postal address or, without one, at the unit. A former owner no longer lives in the
unit: a letter goes to the postal address they gave, or by their preferred electronic channel when
they prefer one and it is on file. A former owner with neither is not written to at all (never at
the unit, where the buyer lives); the run lists them for attention instead.

Pure functions over the owner's row: no queries here.
"""

from __future__ import annotations

from dataclasses import dataclass

from feesvc.letters.kinds import LetterKind
from feesvc.registry.models import Channel, Owner


@dataclass(frozen=True)
class Reach:
    """The letter's channel ("paper" or an electronic one) and the electronic message beside it."""

    channel: str
    electronic: str | None


def recipient(owner: Owner, channel: str) -> str:
    """The address of an electronic message: the e-mail for e-mail, the phone for SMS and WeChat."""
    return owner.email if channel == Channel.email else owner.phone


def reach(kind: LetterKind, owner: Owner, former: bool, paper_in_time: bool = True) -> Reach | None:
    """How a letter of ``kind`` reaches ``owner``; None when a former owner cannot be reached.

    ``paper_in_time``: a paper letter would arrive by the date it is about (``policy.paper_arrives_by``).
    When it would not, a pre-due notice goes electronically (SMS to the phone, else e-mail) or not at
    all (None)."""
    if kind == LetterKind.pre_due_notice and not paper_in_time:
        return _electronic_only(owner)
    preferred = Channel(owner.preferred_channel)
    if not former:
        if preferred == Channel.paper:
            return Reach("paper", None)
        # A final demand always goes on paper as well, for provable delivery.
        return Reach("paper" if kind == LetterKind.final_demand else preferred.value, preferred.value)
    electronic = preferred.value if preferred != Channel.paper and recipient(owner, preferred) else None
    if not owner.postal_address:
        # No paper copy: it could only go to the unit. The electronic message is the letter.
        return None if electronic is None else Reach(electronic, electronic)
    if electronic is None:
        return Reach("paper", None)
    return Reach("paper" if kind == LetterKind.final_demand else electronic, electronic)


def _electronic_only(owner: Owner) -> Reach | None:
    preferred = Channel(owner.preferred_channel)
    for channel in (preferred, Channel.sms, Channel.email):
        if channel != Channel.paper and recipient(owner, channel):
            return Reach(channel.value, channel.value)
    return None


def unreachable(kind: LetterKind, owner: Owner) -> str:
    """Why a former owner's letter was not issued, for the run's "needs attention" list."""
    preferred = Channel(owner.preferred_channel)
    missing = "no postal address" + ("" if preferred == Channel.paper else f" and no {preferred.value} contact")
    return (
        f"{kind.value} for former owner #{owner.id} not issued: {missing} on file, and a former owner is "
        "never written to at the unit; record their contact details (PATCH /api/v1/owners/{id})"
    )
