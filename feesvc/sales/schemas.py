"""Wire types of the sale's settlement (part of the ownership route's answer)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from feesvc.schemas import Body, Line


class SellerConsent(Body):
    """The seller's written consent to move their prepaid periods and credit to the buyer's account."""

    signed_on: date
    # Required (the service refuses an empty one); a default only so that a bad ``signed_on`` is
    # refused naming ``signed_on``, not a missing reference.
    reference: Annotated[Line, msgspec.Meta(min_length=2, max_length=200, examples=["卖方同意书 2026-07-28 第3号"])] = (
        ""
    )


class SplitShareOut(msgspec.Struct):
    owner_id: int | None
    fen: int
    days: int


class SplitPeriodOut(msgspec.Struct):
    """A prepaid period the handover falls inside: taken back and issued again as the owners'
    shares by days; the seller's share paid at once from what the seller had paid."""

    period: str
    shares: list[SplitShareOut]
    paid_by_seller_fen: int


class SaleSettlementOut(msgspec.Struct):
    """What recording the sale settled between the seller and the buyer (fen)."""

    seller_id: int
    buyer_id: int
    handover: date
    # The seller's prepaid periods from the handover on, taken back (charges, discount, payment).
    periods: list[str]
    charges_reversed_fen: int
    discount_taken_back_fen: int  # the whole discount of those periods and the kept periods' re-pricing
    # What the kept periods' re-pricing took back and what was paid did not cover (still owed by the seller).
    owed_fen: int
    # The seller's unused prepaid credit before the sale (besides what the periods gave back).
    credit_fen: int
    refunded_fen: int  # paid back to the seller (refund entries, owner = seller)
    refund_method: str | None
    transferred_fen: int  # moved to the buyer's account with the seller's written consent
    consent: SellerConsent | None
    notice_letter_id: int | None  # the buyer's payment notice (缴费须知)
    split_period: SplitPeriodOut | None = None
    # Why no notice could be issued (the compliance check or the letter's own rules), if so.
    notice_problems: list[str] = msgspec.field(default_factory=list)
