"""Wire types of prepayment (预缴): discount tiers, quotes, the booked prepayment and its refund."""

from __future__ import annotations

from typing import Annotated

import msgspec

from feesvc.payments.models import Method
from feesvc.payments.schemas import PaymentOut
from feesvc.schemas import END, INT4_MAX, Body, Fen, Line, Period, Reason

# The rule's bounds (0 < percent_off < 100) in the pattern, so the document states them; the
# refusal says what to send (``extra``).
PercentText = Annotated[
    str,
    msgspec.Meta(
        # More than 0 and less than 100 (feesvc.rules.prepay), at most 4 decimals.
        pattern=r"^([1-9][0-9]?(\.[0-9]{1,4})?|0\.(?=[0-9]{0,3}[1-9])[0-9]{1,4})" + END,
        description="percent off, exact, more than 0 and less than 100, e.g. 5 or 9.5",
        examples=["5"],
        extra={"send": 'percent off, more than 0 and less than 100: an exact decimal string or an integer, e.g. "9.5"'},
    ),
]
# No bounds here: a count below 1 or above the estate's cap is refused by the rule, naming the cap.
Months = Annotated[int, msgspec.Meta(ge=-INT4_MAX, le=INT4_MAX, description="number of months prepaid", examples=[12])]


class TierIn(Body):
    min_months: Annotated[int, msgspec.Meta(ge=1, le=120, description="at least this many months paid ahead")]
    percent_off: PercentText | Annotated[int, msgspec.Meta(ge=1, le=99)]  # "9.5" or 5; never a float (exact only)


class TierOut(msgspec.Struct):
    min_months: int
    percent_off: str


class QuoteCreate(Body):
    months: Months
    # Default: the first period not yet billed for the unit (never before the current one).
    first_period: Period | None = None


class QuoteLine(msgspec.Struct):
    """One charge the prepayment books: the same line the billing run would issue."""

    item: str
    item_name: str
    fee_standard_id: int | None
    rate: str
    gross_fen: int
    discount_fen: int
    net_fen: int


class QuotePeriod(msgspec.Struct):
    period: str
    gross_fen: int
    discount_fen: int
    net_fen: int
    lines: list[QuoteLine]


class QuoteOut(msgspec.Struct):
    unit_id: int
    months: int
    first_period: str
    last_period: str
    periods: list[QuotePeriod]
    gross_fen: int
    discount_fen: int
    net_fen: int
    tier: TierOut | None
    cap_months: int
    # What a refund before the periods are served takes back (DOMAIN.md "Prepay discount").
    refund_terms: str
    currency: str = "CNY"


class PrepaymentCreate(Body):
    months: Months
    method: Method
    expected_net_fen: Annotated[Fen, msgspec.Meta(description="the net amount of the quote the payer accepted")]
    first_period: Period | None = None
    external_ref: Annotated[Line, msgspec.Meta(max_length=100)] = ""
    payer_name: Annotated[Line, msgspec.Meta(max_length=100)] | None = None


class PrepaymentOut(msgspec.Struct):
    """What was booked: the covered periods' charges and discounts, and the payment for the net."""

    quote: QuoteOut
    payment: PaymentOut


class PrepayRefundCreate(Body):
    from_period: Period
    reason: Reason
    method: Method = Method.bank_transfer


class KeptPeriodsOut(msgspec.Struct):
    """A prepayment's periods kept after the refund, re-priced at the tier their own count reaches."""

    payment_id: int
    periods: list[str]
    months: int
    tier: TierOut | None
    discount_before_fen: int
    discount_fen: int
    taken_back_fen: int  # settled from the refund


class PrepayRefundOut(msgspec.Struct):
    unit_id: int
    from_period: str
    periods: list[str]
    charges_reversed_fen: int
    # The whole discount of the refunded periods, and what the kept periods lose by re-pricing.
    discount_taken_back_fen: int
    refunded_fen: int
    # What the refund did not cover of the kept periods' take-back (still owed on their charges).
    owed_fen: int
    method: Method
    prepayment_payment_ids: list[int]
    kept: list[KeptPeriodsOut]
    refund_terms: str
