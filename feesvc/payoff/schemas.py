from __future__ import annotations

from datetime import date

import msgspec


class PayoffLine(msgspec.Struct):
    """One charge of the payoff: what is open on it, and the late fee owed on it to the day."""

    charge_id: int
    period: str | None
    item: str | None
    due_date: date | None
    principal_fen: int  # principal still open
    late_fee_posted_fen: int  # late fee already posted and still open (not paid, not waived)
    late_fee_unposted_fen: int  # late fee accrued up to the day and not yet posted by a run
    total_fen: int


class Payoff(msgspec.Struct):
    """What a payment received on ``as_of`` must be to leave ``owner_id`` owing nothing on the unit.

    A payment of ``total_fen`` settles every open charge and posted late fee of the owner; what is
    left of it (``late_fee_unposted_fen``) is held as prepaid credit until the next late-fee run
    posts that late fee and settles it from the credit. Arrears of another owner of the unit (a
    seller's, a buyer's) are theirs and not in it. Prepaid credit the owner already holds is shown
    apart: the desk does not take it into a payment.
    """

    unit_id: int
    owner_id: int | None
    as_of: date
    lines: list[PayoffLine]
    principal_fen: int
    late_fee_posted_fen: int
    late_fee_unposted_fen: int
    total_fen: int
    prepaid_credit_fen: int
