"""Pure fee rules: late fees, prepayment discounts, installment plans. No database, no I/O.

Money is integer fen, rates are ``Decimal``; each computation rounds once, half-up to the fen,
at its end (see each module's docstring for where).
"""

from feesvc.rules.installments import (
    Frequency,
    Installment,
    PlanRefused,
    PlanStanding,
    Standing,
    deadline,
    plan_breaks,
    plan_standing,
    schedule,
)
from feesvc.rules.late_fees import (
    LateFee,
    LateFeePolicy,
    PrincipalChange,
    Segment,
    court_likely_fee,
    explain,
    late_fee_for,
)
from feesvc.rules.prepay import (
    DiscountTier,
    PrepayQuote,
    PrepayRefused,
    best_tier,
    discount_to_take_back,
    periods_from,
    quote_prepayment,
    validate_tiers,
)

__all__ = [
    "DiscountTier",
    "Frequency",
    "Installment",
    "LateFee",
    "LateFeePolicy",
    "PlanRefused",
    "PlanStanding",
    "PrepayQuote",
    "PrepayRefused",
    "PrincipalChange",
    "Segment",
    "Standing",
    "best_tier",
    "court_likely_fee",
    "deadline",
    "discount_to_take_back",
    "explain",
    "late_fee_for",
    "periods_from",
    "plan_breaks",
    "plan_standing",
    "quote_prepayment",
    "schedule",
    "validate_tiers",
]
