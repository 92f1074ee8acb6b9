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
    KeptRepricing,
    PrepayQuote,
    PrepayRefused,
    best_tier,
    difference_discount,
    difference_reason,
    discount_to_take_back,
    periods_from,
    quote_prepayment,
    refund_terms,
    reprice_kept,
    validate_tiers,
)

__all__ = [
    "DiscountTier",
    "Frequency",
    "Installment",
    "KeptRepricing",
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
    "difference_discount",
    "difference_reason",
    "discount_to_take_back",
    "explain",
    "late_fee_for",
    "periods_from",
    "plan_breaks",
    "plan_standing",
    "quote_prepayment",
    "refund_terms",
    "reprice_kept",
    "schedule",
    "validate_tiers",
]
