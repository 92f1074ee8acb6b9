"""feesvc.rules.prepay: tiers, exact discount shares, refusals, take-back."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feesvc.rules.prepay import (
    DiscountTier,
    PrepayQuote,
    PrepayRefused,
    difference_discount,
    difference_reason,
    discount_to_take_back,
    periods_from,
    quote_prepayment,
    refund_terms,
    reprice_kept,
    validate_tiers,
)

TIERS = [DiscountTier(6, Decimal("5")), DiscountTier(12, Decimal("10"))]


def quote(
    months: int,
    monthly: list[int] | int = 10000,
    cap: int = 12,
    overdue: int = 0,
    tiers: list[DiscountTier] = TIERS,
) -> PrepayQuote:
    return quote_prepayment("2026-01", months, monthly, tiers, cap, overdue)


@pytest.mark.parametrize(
    ("months", "percent"),
    [(1, None), (5, None), (6, Decimal("5")), (11, Decimal("5")), (12, Decimal("10"))],
)
def test_the_best_applicable_tier_applies(months: int, percent: Decimal | None) -> None:
    q = quote(months)
    assert (q.tier.percent_off if q.tier else None) == percent
    assert q.gross_fen == 10000 * months
    assert q.discount_fen == (q.gross_fen * percent / 100 if percent else 0)
    assert q.net_fen == q.gross_fen - q.discount_fen


def test_best_means_most_favourable_even_if_tiers_are_out_of_order() -> None:
    tiers = [DiscountTier(12, Decimal("3")), DiscountTier(6, Decimal("5")), DiscountTier(3, Decimal("1"))]
    assert quote(12, tiers=tiers).tier == DiscountTier(6, Decimal("5"))


def test_twelve_months_example() -> None:
    q = quote(12, 12345)  # 148140 × 10 % = 14814
    assert q.periods == tuple(f"2026-{m:02d}" for m in range(1, 13))
    assert (q.gross_fen, q.discount_fen, q.net_fen) == (148140, 14814, 133326)
    # 14814 × 12345 / 148140 = 1234.5 → floor 1234 for the first eleven, the last takes 1240.
    assert [share for _, _, share in q.per_period] == [1234] * 11 + [1240]
    assert sum(share for _, _, share in q.per_period) == q.discount_fen


def test_discount_is_rounded_half_up_once() -> None:
    q = quote_prepayment("2026-01", 6, 5, [DiscountTier(6, Decimal("5"))], 12, 0)  # 30 × 5 % = 1.5
    assert q.discount_fen == 2
    q = quote_prepayment("2026-01", 6, 4, [DiscountTier(6, Decimal("5"))], 12, 0)  # 24 × 5 % = 1.2
    assert q.discount_fen == 1


def test_monthly_amounts_may_differ_per_period() -> None:
    monthly = [10000, 10000, 10000, 12000, 12000, 12000]
    q = quote(6, monthly)
    assert q.gross_fen == 66000
    assert q.discount_fen == 3300
    assert [(p, g, s) for p, g, s in q.per_period] == [
        ("2026-01", 10000, 500),
        ("2026-02", 10000, 500),
        ("2026-03", 10000, 500),
        ("2026-04", 12000, 600),
        ("2026-05", 12000, 600),
        ("2026-06", 12000, 600),
    ]
    with pytest.raises(ValueError, match="5 amounts for 6 months"):
        quote(6, monthly[:5])
    with pytest.raises(ValueError, match="non-negative"):
        quote(6, [10000] * 5 + [-1])


@settings(max_examples=300)
@given(
    monthly=st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=36),
    percent=st.integers(min_value=1, max_value=9999).map(lambda n: Decimal(n).scaleb(-2)),  # 0.01 … 99.99
)
def test_shares_sum_exactly_and_follow_the_formula(monthly: list[int], percent: Decimal) -> None:
    q = quote_prepayment("2025-11", len(monthly), monthly, [DiscountTier(1, percent)], 36, 0)
    gross = sum(monthly)
    exact = Fraction(gross) * Fraction(percent) / 100
    whole, rest = divmod(exact, 1)
    assert q.discount_fen == int(whole) + (1 if rest >= Fraction(1, 2) else 0)
    shares = [share for _, _, share in q.per_period]
    assert sum(shares) == q.discount_fen
    assert all(share >= 0 for share in shares)
    if gross:
        assert shares[:-1] == [q.discount_fen * g // gross for g in monthly[:-1]]
    assert q.net_fen == gross - q.discount_fen
    assert [g for _, g, _ in q.per_period] == monthly
    assert q.periods == periods_from("2025-11", len(monthly))


def test_periods_cross_the_year() -> None:
    assert periods_from("2026-11", 4) == ("2026-11", "2026-12", "2027-01", "2027-02")
    with pytest.raises(ValueError, match="YYYY-MM"):
        periods_from("2026-13", 1)


def test_refusals() -> None:
    with pytest.raises(PrepayRefused) as too_few:
        quote(0)
    assert (too_few.value.reason_code, too_few.value.field) == ("months_too_few", "months")
    with pytest.raises(PrepayRefused, match="at most 12 months") as over:
        quote(13, cap=12)
    assert over.value.reason_code == "over_cap"
    quote(12, cap=12)  # the cap itself is allowed
    with pytest.raises(PrepayRefused, match="nothing is overdue") as overdue:
        quote(6, overdue=1)
    assert (overdue.value.reason_code, overdue.value.field) == ("overdue", "overdue_fen")
    assert isinstance(overdue.value, ValueError)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([DiscountTier(6, Decimal("0"))], "above 0 and below 100"),
        ([DiscountTier(6, Decimal("-5"))], "above 0 and below 100"),
        ([DiscountTier(6, Decimal("100"))], "above 0 and below 100"),
        ([DiscountTier(6, Decimal("120"))], "above 0 and below 100"),
        ([DiscountTier(6, Decimal("5")), DiscountTier(6, Decimal("8"))], "two tiers for 6 months"),
        ([DiscountTier(0, Decimal("5"))], "at least 1"),
        ([DiscountTier(6, 5.0)], "Decimal"),  # type: ignore[arg-type]
    ],
)
def test_bad_tiers_are_refused(tiers: list[DiscountTier], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_tiers(tiers)
    with pytest.raises(ValueError, match=message):
        quote(6, tiers=tiers)


def test_good_tiers_pass() -> None:
    validate_tiers(TIERS)
    validate_tiers([DiscountTier(1, Decimal("0.5")), DiscountTier(24, Decimal("99.99"))])
    validate_tiers([])


def test_take_back_the_discount_of_unserved_periods() -> None:
    q = quote(12, 12345)
    unserved = {f"2026-{m:02d}" for m in range(7, 13)}  # refunded at the end of June
    assert discount_to_take_back(q.discount_shares, unserved) == 1234 * 5 + 1240
    assert discount_to_take_back(q.discount_shares, set()) == 0
    assert discount_to_take_back(q.discount_shares, set(q.periods)) == q.discount_fen
    assert discount_to_take_back(q.discount_shares, {"2027-01"}) == 0  # not in the quote


# ---------------------------------------------------------------------------------------------
# A refund re-prices the periods kept (DOMAIN.md "Prepay discount")


def test_domain_example_refunded_after_one_month_the_kept_month_keeps_no_discount() -> None:
    """12 months prepaid at 10 % off, refunded after 1: 1 month earns no tier, so that month keeps
    no discount; with the 11 refunded months' shares, the whole discount is taken back."""
    q = quote(12, 10000)
    assert (q.discount_fen, q.tier) == (12000, DiscountTier(12, Decimal("10")))
    kept = reprice_kept([10000], [1000], months=1, tiers=TIERS, booked_percent=Decimal("10"))
    assert (kept.months, kept.tier, kept.discount_fen, kept.shares) == (1, None, 0, (0,))
    assert kept.taken_back_fen == 1000
    refunded = discount_to_take_back(q.discount_shares, set(q.periods[1:]))
    assert refunded + kept.taken_back_fen == q.discount_fen


def test_kept_periods_reaching_a_lower_tier_get_that_tier() -> None:
    q = quote(12, 10000)
    shares = [share for _, _, share in q.per_period[:7]]
    kept = reprice_kept([10000] * 7, shares, months=7, tiers=TIERS, booked_percent=Decimal("10"))
    assert kept.tier == DiscountTier(6, Decimal("5"))
    assert (kept.discount_fen, kept.shares) == (3500, (500,) * 7)
    assert kept.taken_back_fen == 7000 - 3500


def test_kept_periods_still_reaching_the_booked_tier_keep_their_shares() -> None:
    tiers = [DiscountTier(6, Decimal("10"))]
    q = quote(12, 12345, tiers=tiers)
    shares = [share for _, _, share in q.per_period[:8]]
    kept = reprice_kept([12345] * 8, shares, months=8, tiers=tiers, booked_percent=Decimal("10"))
    assert kept.shares == tuple(shares) and kept.taken_back_fen == 0
    # A tier schedule that would now give more never raises what was booked.
    richer = [DiscountTier(6, Decimal("20"))]
    assert reprice_kept([12345] * 8, shares, 8, richer, Decimal("10")).shares == tuple(shares)


def test_reprice_refuses_malformed_input() -> None:
    with pytest.raises(ValueError, match="one share per line"):
        reprice_kept([100, 100], [10], 2, TIERS, Decimal("10"))
    with pytest.raises(ValueError, match="months"):
        reprice_kept([100], [10], 0, TIERS, Decimal("10"))


@settings(max_examples=300)
@given(
    gross=st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=1, max_size=24),
    booked=st.integers(min_value=2, max_value=9999).map(lambda n: Decimal(n).scaleb(-2)),
    lower=st.integers(min_value=1, max_value=9998),
    booked_months=st.integers(min_value=2, max_value=36),
    data=st.data(),
)
def test_repriced_shares_are_exact_and_never_above_what_was_kept(
    gross: list[int], booked: Decimal, lower: int, booked_months: int, data: st.DataObject
) -> None:
    """Kept lines are re-priced at the lower tier their count reaches: Σ new shares is that tier's
    discount of their gross, rounded half up once, never more than they had; no line gains."""
    lower_percent = min(Decimal(lower).scaleb(-2), booked - Decimal("0.01"))
    tiers = [DiscountTier(booked_months, booked), DiscountTier(1, lower_percent)]
    q = quote_prepayment("2026-01", len(gross), gross, [DiscountTier(1, booked)], 36, 0)
    old = [share for _, _, share in q.per_period]
    kept_months = data.draw(st.integers(min_value=1, max_value=booked_months - 1))
    kept = reprice_kept(gross, old, kept_months, tiers, booked)
    assert kept.tier == DiscountTier(1, lower_percent)
    exact = Fraction(sum(gross)) * Fraction(lower_percent) / 100
    whole, rest = divmod(exact, 1)
    rounded = int(whole) + (1 if rest >= Fraction(1, 2) else 0)
    assert kept.discount_fen == min(rounded, sum(old)) == sum(kept.shares)
    assert all(0 <= new <= was for new, was in zip(kept.shares, old, strict=True))
    assert kept.taken_back_fen == sum(old) - kept.discount_fen


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW", "zh_HK", "en"])
def test_refund_terms_state_the_rule(locale: str) -> None:
    text = refund_terms(locale)
    assert {"zh_CN": "重新计算", "zh_TW": "重新計算", "zh_HK": "重新計算", "en": "re-priced"}[locale] in text


# ---------------------------------------------------------------------------------------------
# A new fee standard inside prepaid periods: the difference (多退少补) carries the booked discount


@pytest.mark.parametrize(
    ("gross_difference", "percent", "discount"),
    [
        (2000, Decimal("10"), 200),
        (-2000, Decimal("10"), -200),
        (15, Decimal("10"), 2),  # 1.5 → 2, half up
        (-15, Decimal("10"), -2),  # the same fen either way: a credit mirrors a charge
        (14, Decimal("10"), 1),
        (2000, None, 0),
    ],
)
def test_difference_discount(gross_difference: int, percent: Decimal | None, discount: int) -> None:
    assert difference_discount(gross_difference, percent) == discount


@settings(max_examples=200)
@given(
    difference=st.integers(min_value=-10_000_000, max_value=10_000_000),
    percent=st.integers(min_value=1, max_value=9999).map(lambda n: Decimal(n).scaleb(-2)),
)
def test_difference_discount_is_symmetric_and_exact(difference: int, percent: Decimal) -> None:
    got = difference_discount(difference, percent)
    assert got == -difference_discount(-difference, percent)
    exact = Fraction(abs(difference)) * Fraction(percent) / 100
    whole, rest = divmod(exact, 1)
    assert abs(got) == int(whole) + (1 if rest >= Fraction(1, 2) else 0)
    assert abs(got) <= abs(difference)


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW", "zh_HK", "en"])
def test_difference_reason_names_the_change_and_the_discount(locale: str) -> None:
    text = difference_reason(locale, "物业服务费", Decimal("1.00"), Decimal("1.20"), Decimal("10"))
    assert "1.00" in text and "1.20" in text and "10%" in text
    assert {"zh_CN": "多退少补", "zh_TW": "多退少補", "zh_HK": "多退少補", "en": "difference"}[locale] in text
    plain = difference_reason(locale, "物业服务费", Decimal("1.00"), Decimal("0.80"), None)
    assert "10%" not in plain and "0.80" in plain
