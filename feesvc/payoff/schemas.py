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
    # The next run's late fee on the charge: the fee to the day less what is posted; negative when
    # the run will post a correction (a payment received earlier and recorded later, a plan, a void).
    late_fee_unposted_fen: int
    total_fen: int  # principal + posted + unposted + returned_as_credit
    # What a pending correction takes off late fees already paid: it comes back as prepaid credit at
    # the run, so the payoff does not lend it ahead (the principal would stay open and accrue).
    returned_as_credit_fen: int = 0


class Payoff(msgspec.Struct):
    """What a payment received on ``as_of`` must be to leave ``owner_id`` owing nothing on the unit.

    A payment of ``total_fen`` settles every open charge and posted late fee of the owner; what is
    left of it (a positive ``late_fee_unposted_fen``) is held as prepaid credit until the next
    late-fee run posts that late fee and settles it from the credit. A negative one is a correction
    the next run posts: it lowers the total as far as it takes off late fees still open. Arrears of
    another owner of the unit (a seller's, a buyer's) are theirs and not in it. Prepaid credit the
    owner already holds is shown apart: the desk does not take it into a payment.
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
    returned_as_credit_fen: int = 0
