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
    total_fen: int  # principal + posted + unposted: what the charge comes to after the next run


class OtherOwner(msgspec.Struct):
    """Another owner of the unit with something open on their own account, listed apart for staff
    (an owner never sees another owner): a seller's arrears beside the buyer's account, or the reverse.
    The name is as the reader's role may see it (registry/masking.py)."""

    owner_id: int
    name: str
    former: bool  # their ownership ended before the day (a seller)
    owed_fen: int  # what they owe on the unit (in a payoff: what pays them off that day)
    prepaid_credit_fen: int


class Payoff(msgspec.Struct):
    """What a payment received on ``as_of`` must be to leave ``owner_id`` owing nothing on the unit.

    A payment of ``total_fen`` settles every open charge and posted late fee of the owner; what is
    left of it (the positive ``late_fee_unposted_fen``) is held as prepaid credit until the next
    late-fee run posts those late fees and settles them from the credit. A negative one is a
    correction the next run posts: what it gives back lowers the total, down to what is open now
    (feesvc/payoff/service.py says why); the rest is ``returned_as_credit_fen``. Arrears of
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
    # When the pending corrections give back more than the late fees the run posts: the owner's
    # prepaid credit after that run (the total never falls below what is open now).
    returned_as_credit_fen: int = 0
    # Staff only: the unit's other owners with something open, each apart (never added to the total).
    other_owners: list[OtherOwner] = msgspec.field(default_factory=list)
