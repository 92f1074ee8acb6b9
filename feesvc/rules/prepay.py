"""Prepayment (预缴) quotes and their discount (预缴优惠). Pure functions: no database, no I/O.

DOMAIN.md "Prepay discount" and ledger rule 7:

* tiers by number of months prepaid ("prepay 6 months, 5% off");
* only when nothing is overdue; never beyond the estate's cap on months prepaid;
* the discount is tied to the prepaid periods, so each period carries a share of it;
* refunded (or sold) before a period is served, that period's share is taken back, and the
  periods kept are re-priced at the tier their own count reaches (:func:`reprice_kept`): 12 months
  prepaid at 10 % off and refunded after 1 keep no discount when 1 month earns none.

Rounding: ``discount_fen = round_half_up(gross_fen × percent_off / 100)``, computed exactly and
rounded once in :func:`_round_half_up_fen`; the per-period shares are then whole fen by
construction (floor of the proportional share, remainder on the last period), so they add up to
``discount_fen`` exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from feesvc.formatting import normalize_locale

__all__ = [
    "DiscountTier",
    "KeptRepricing",
    "PrepayQuote",
    "PrepayRefused",
    "best_tier",
    "difference_discount",
    "difference_reason",
    "discount_to_take_back",
    "periods_from",
    "quote_prepayment",
    "refund_terms",
    "reprice_kept",
    "validate_tiers",
]

_PERIOD_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class PrepayRefused(ValueError):
    """A prepayment the rules do not allow. ``reason_code`` is stable for callers and tests:

    * ``months_too_few``   months < 1
    * ``over_cap``         months > the estate's cap on months prepaid
    * ``overdue``          something is overdue: prepay only when nothing is
    """

    def __init__(self, reason_code: str, message: str, field: str = "months") -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class DiscountTier:
    min_months: int  # e.g. 6
    percent_off: Decimal  # e.g. Decimal("5") for 5 % off; 0 < percent_off < 100


@dataclass(frozen=True)
class PrepayQuote:
    months: int
    periods: tuple[str, ...]  # "YYYY-MM" covered, consecutive
    gross_fen: int  # sum of the monthly charges
    discount_fen: int
    net_fen: int  # what the owner pays: gross_fen - discount_fen
    tier: DiscountTier | None
    per_period: tuple[tuple[str, int, int], ...]  # (period, gross, discount share); shares sum to discount_fen

    @property
    def discount_shares(self) -> tuple[tuple[str, int], ...]:
        """(period, discount share) pairs: what :func:`discount_to_take_back` takes."""
        return tuple((period, share) for period, _, share in self.per_period)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_tiers(tiers: Iterable[DiscountTier]) -> None:
    """Raise ValueError naming the first problem: min_months < 1, percent_off ≤ 0 or ≥ 100,
    a percent that is not a Decimal, or two tiers with the same min_months."""
    seen: set[int] = set()
    for tier in tiers:
        if not _is_int(tier.min_months):
            raise ValueError(f"tier min_months must be int, not {type(tier.min_months).__name__}")
        if tier.min_months < 1:
            raise ValueError(f"tier min_months must be at least 1: {tier.min_months}")
        if not isinstance(tier.percent_off, Decimal) or not tier.percent_off.is_finite():
            raise ValueError(f"tier percent_off must be a finite Decimal: {tier.percent_off!r}")
        if not Decimal(0) < tier.percent_off < Decimal(100):
            raise ValueError(
                f"tier for {tier.min_months} months: percent_off must be above 0 and below 100, not {tier.percent_off}"
            )
        if tier.min_months in seen:
            raise ValueError(f"two tiers for {tier.min_months} months")
        seen.add(tier.min_months)


def best_tier(tiers: Iterable[DiscountTier], months: int) -> DiscountTier | None:
    """The tier most favourable to the owner among those with ``min_months ≤ months``: the highest
    percent_off (a tie goes to the larger min_months). None when no tier applies."""
    eligible = [t for t in tiers if t.min_months <= months]
    if not eligible:
        return None
    return max(eligible, key=lambda t: (t.percent_off, t.min_months))


def periods_from(first_period: str, months: int) -> tuple[str, ...]:
    """``months`` consecutive "YYYY-MM" periods starting at ``first_period``."""
    match = _PERIOD_RE.fullmatch(first_period)
    if match is None:
        raise ValueError(f"period must look like 'YYYY-MM': {first_period!r}")
    index = int(match.group(1)) * 12 + int(match.group(2)) - 1
    return tuple(f"{(index + k) // 12:04d}-{(index + k) % 12 + 1:02d}" for k in range(months))


def _round_half_up_fen(amount: Decimal) -> int:
    """The one rounding step: half-up to the whole fen (same rule as billing.rules.to_fen)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _discount_of(gross_fen: int, percent_off: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 60  # exact for any realistic amount
        return _round_half_up_fen(Decimal(gross_fen) * percent_off / 100)


def quote_prepayment(
    first_period: str,
    months: int,
    monthly_fen: Sequence[int] | int,
    tiers: Iterable[DiscountTier],
    cap_months: int,
    overdue_fen: int,
) -> PrepayQuote:
    """Quote prepaying ``months`` periods from ``first_period``.

    ``monthly_fen``: one charge for every period, or a list with one per period (rates change).

    ``gross = Σ monthly``; ``discount = round_half_up(gross × percent_off / 100)`` with the best
    applicable tier; ``share_i = floor(discount × gross_i / gross)`` for all but the last
    period, which takes ``discount − Σ others``; ``net = gross − discount``.

    Raises :class:`PrepayRefused` for months < 1, months > cap_months, overdue_fen > 0 (checked
    in that order), and ValueError for malformed input (bad tiers, periods, amounts).
    """
    tiers = list(tiers)
    validate_tiers(tiers)
    if not _is_int(months):
        raise TypeError(f"months must be int, not {type(months).__name__}")
    if months < 1:
        raise PrepayRefused("months_too_few", f"prepay at least 1 month, not {months}")
    if months > cap_months:
        raise PrepayRefused("over_cap", f"this estate allows prepaying at most {cap_months} months; {months} asked")
    if overdue_fen > 0:
        raise PrepayRefused(
            "overdue",
            "prepayment is possible only when nothing is overdue; pay the overdue charges first",
            field="overdue_fen",
        )

    periods = periods_from(first_period, months)
    amounts = [monthly_fen] * months if isinstance(monthly_fen, int) else list(monthly_fen)
    if len(amounts) != months:
        raise ValueError(f"monthly_fen has {len(amounts)} amounts for {months} months")
    for amount in amounts:
        if not _is_int(amount) or amount < 0:
            raise ValueError(f"monthly amounts must be non-negative int fen: {amount!r}")
    gross = sum(amounts)

    tier = best_tier(tiers, months)
    discount = _discount_of(gross, tier.percent_off) if tier is not None else 0
    shares = [discount * amount // gross for amount in amounts[:-1]] if gross else [0] * (months - 1)
    shares.append(discount - sum(shares))  # the remainder on the last period: exact total
    return PrepayQuote(
        months=months,
        periods=periods,
        gross_fen=gross,
        discount_fen=discount,
        net_fen=gross - discount,
        tier=tier,
        per_period=tuple(zip(periods, amounts, shares, strict=True)),
    )


def discount_to_take_back(quote_periods: Sequence[tuple[str, int]], unserved: set[str]) -> int:
    """Σ discount share of the periods not yet served (``quote_periods``: (period, share) pairs,
    e.g. ``PrepayQuote.discount_shares``). A refund or sale before a period is served takes back
    that period's share; periods already served keep theirs."""
    return sum(share for period, share in quote_periods if period in unserved)


@dataclass(frozen=True)
class KeptRepricing:
    """The discount the periods kept after a refund keep, re-priced at their own count."""

    months: int  # months kept
    tier: DiscountTier | None  # the tier that count reaches (None: no discount)
    discount_fen: int  # what the kept lines keep in all
    shares: tuple[int, ...]  # per kept line, parallel to the lines given
    taken_back_fen: int  # what they had less what they keep


def reprice_kept(
    gross_fen: Sequence[int],
    shares_fen: Sequence[int],
    months: int,
    tiers: Iterable[DiscountTier],
    booked_percent: Decimal | None,
) -> KeptRepricing:
    """Re-price the lines of the periods kept after a refund (DOMAIN.md "Prepay discount").

    ``gross_fen``/``shares_fen``: each kept line's charge and the discount it carries now;
    ``months``: the months those lines cover; ``booked_percent``: the percent they were booked at.

    The kept lines earn the best tier ``months`` reaches. When that tier gives at least
    ``booked_percent`` nothing changes (a refund never raises a discount). Otherwise their discount
    is ``min(round_half_up(Σ gross × percent / 100), Σ shares)``, split in proportion to gross
    (floor), each line at most its current share, the remaining fen to the lines with room, largest
    gross first: whole fen that add up exactly.
    """
    tiers = list(tiers)
    validate_tiers(tiers)
    if len(gross_fen) != len(shares_fen):
        raise ValueError(f"one share per line: {len(gross_fen)} lines, {len(shares_fen)} shares")
    if not _is_int(months) or months < 1:
        raise ValueError(f"months kept must be a positive int: {months!r}")
    for amount in (*gross_fen, *shares_fen):
        if not _is_int(amount) or amount < 0:
            raise ValueError(f"amounts must be non-negative int fen: {amount!r}")
    tier = best_tier(tiers, months)
    before = sum(shares_fen)
    if tier is not None and booked_percent is not None and tier.percent_off >= booked_percent:
        return KeptRepricing(months, tier, before, tuple(shares_fen), 0)
    gross = sum(gross_fen)
    discount = min(_discount_of(gross, tier.percent_off), before) if tier is not None else 0
    shares = (
        [min(discount * g // gross, had) for g, had in zip(gross_fen, shares_fen, strict=True)]
        if gross
        else [0] * len(gross_fen)
    )
    left = discount - sum(shares)
    for i in sorted(range(len(shares)), key=lambda i: -gross_fen[i]):
        give = min(left, shares_fen[i] - shares[i])
        shares[i] += give
        left -= give
    assert left == 0  # Σ room = before - Σ shares ≥ discount - Σ shares
    return KeptRepricing(months, tier, discount, tuple(shares), before - discount)


_REFUND_TERMS = {
    "zh_CN": (
        "预缴优惠：预缴月份未到期即退款（或房屋转让）时，退还月份的优惠全部扣回，"
        "保留月份按其自身月数可达到的档位重新计算优惠，扣回部分从退款中抵扣。"
    ),
    "zh_TW": (
        "預繳優惠：預繳月份未到期即退款（或房屋轉讓）時，退還月份的優惠全部扣回，"
        "保留月份按其自身月數可達到的檔位重新計算優惠，扣回部分從退款中抵扣。"
    ),
    "en": (
        "Prepay discount: if prepaid months are refunded (or the unit is sold) before they are served, "
        "their whole discount is taken back and the months kept are re-priced at the tier their own "
        "number reaches; what is taken back is deducted from the refund."
    ),
}


def refund_terms(locale: str) -> str:
    """The rule above in words, as the quote, the booking and the receipt state it."""
    loc = normalize_locale(locale)
    return _REFUND_TERMS["zh_TW" if loc == "zh_HK" else loc]


def difference_discount(gross_difference_fen: int, percent_off: Decimal | None) -> int:
    """The discount part of a prepaid period's difference when a new fee standard takes effect in it
    (多退少补): the period keeps the percent it was prepaid at, so the difference carries it too.
    ``round_half_up(|difference| × percent / 100)`` with the difference's sign: a credit mirrors a
    charge of the same size fen for fen. None or no percent: no discount."""
    if not _is_int(gross_difference_fen):
        raise TypeError(f"the difference must be int fen, not {type(gross_difference_fen).__name__}")
    if not percent_off:
        return 0
    magnitude = _discount_of(abs(gross_difference_fen), percent_off)
    return magnitude if gross_difference_fen >= 0 else -magnitude


_DIFFERENCE_REASONS = {
    "zh_CN": (
        "预缴期间收费标准调整：{item} 由 {old} 元调整为 {new} 元，差额多退少补{discount}",
        "，差额按预缴优惠 {percent}% 折算",
    ),
    "zh_TW": (
        "預繳期間收費標準調整：{item} 由 {old} 元調整為 {new} 元，差額多退少補{discount}",
        "，差額按預繳優惠 {percent}% 折算",
    ),
    "en": (
        "New fee standard inside prepaid months: {item} {old} → {new} yuan; the difference is billed or "
        "credited{discount}",
        ", with the prepay discount of {percent}% applied to it",
    ),
}


def difference_reason(
    locale: str, item_name: str, old_rate: Decimal, new_rate: Decimal, percent_off: Decimal | None
) -> str:
    """The reason a prepaid period's difference entry carries: what changed and the discount."""
    loc = normalize_locale(locale)
    text, discount = _DIFFERENCE_REASONS["zh_TW" if loc == "zh_HK" else loc]
    percent = f"{percent_off.normalize():f}" if percent_off else ""
    return text.format(
        item=item_name, old=old_rate, new=new_rate, discount=discount.format(percent=percent) if percent_off else ""
    )
