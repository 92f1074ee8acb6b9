"""Late fees (违约金) on one overdue charge. Pure functions: no database, no I/O.

The fee is simple interest, never compounded, on the unpaid principal of one charge
(DOMAIN.md "Late fees")::

    fee = Σ over counted days d of  base(d) × rate(d)

A day ``d`` is counted when

* ``due_date + grace_days < d <= as_of``   (accrual starts the day after the grace period),
* ``d >= policy.starts_on``                (if the policy has a start date),
* ``d`` lies in no ``frozen`` interval     (both ends inclusive; e.g. an installment plan).

``base(d)`` is ``principal_fen`` before the first :class:`PrincipalChange`, else the
``unpaid_fen`` of the latest change with ``on <= d``: a payment on day ``d`` counts from day ``d``,
so the day it is paid accrues nothing on the part paid. Changes are ordered by ``on``; two changes
on the same day: the later one in the sequence wins. Days with a base of 0 add nothing.

Rounding (DOMAIN.md ledger rule 3): every amount is carried as an exact ``Decimal`` in fen; the
cap is applied to the exact sum, and the capped figure is rounded ONCE, half-up to the fen, in
:func:`_round_half_up_fen` at the very end. Segment amounts are never rounded (``explain`` rounds
them for display only).

Exactness: contract rates are finite decimals, so ``base × rate × days`` is computed in a
Decimal context that traps ``Inexact`` (any silent rounding would raise). The court-likely daily
rate ``annual / 365`` has no finite decimal expansion; there the numerators ``base × annual ×
days`` are summed exactly and divided by 365 once, at 60 significant digits, which is enough for
the half-up rounding to the fen to be the same as with infinite precision (a fen value n/365 that
is not exactly representable is at least 1/(365·10^scale) away from any half-fen).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from itertools import pairwise

from feesvc.formatting import money, normalize_locale
from feesvc.registry.models import LateFeeCap

__all__ = [
    "COURT_DAYS_PER_YEAR",
    "LateFee",
    "LateFeePolicy",
    "PrincipalChange",
    "Segment",
    "court_likely_fee",
    "explain",
    "late_fee_for",
]

# Courts convert an annual rate (LPR-based) to a daily one over 365 days.
COURT_DAYS_PER_YEAR = 365

# Enough digits that base × rate × days never rounds for any realistic amount; ``Inexact`` is
# trapped on top, so a too-large input raises instead of rounding quietly.
_PRECISION = 60

_ONE_DAY = timedelta(days=1)

# annual / 365 for Segment.daily_rate of court segments: shown, never computed with.
_DISPLAY = Context(prec=28)


def _require_int(value: object, what: str, *, minimum: int = 0) -> None:
    # bool is an int subclass; floats sneak in from JSON. Both are bugs in money code.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be at least {minimum}: {value}")


def _require_rate(value: object, what: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} must be a finite, non-negative Decimal: {value}")


@dataclass(frozen=True)
class LateFeePolicy:
    """The contract's late-fee terms for one estate (or one fee standard)."""

    daily_rate: Decimal  # e.g. Decimal("0.0003") (万分之三 per day)
    grace_days: int  # accrual starts the day after due_date + grace_days
    cap: LateFeeCap  # none | principal (fee ≤ the charge's principal) | fixed (fee ≤ cap_fen)
    cap_fen: int | None = None  # for cap == fixed: at most this many fen per charge
    starts_on: date | None = None  # the policy applies only to days on/after this date

    def __post_init__(self) -> None:
        _require_rate(self.daily_rate, "daily_rate")
        if self.daily_rate > 1:
            raise ValueError(f"daily_rate above 100% per day is not plausible: {self.daily_rate}")
        _require_int(self.grace_days, "grace_days")
        cap = LateFeeCap(self.cap)  # refuses unknown values early, not at computation time
        if cap == LateFeeCap.fixed:
            if self.cap_fen is None:
                raise ValueError("cap_fen is required when cap is 'fixed'")
            _require_int(self.cap_fen, "cap_fen")
        # cap_fen is ignored for the other caps: the estate row may keep a stale value.


@dataclass(frozen=True)
class PrincipalChange:
    """The unpaid principal of one charge changes on a day (a payment, a credit, a correction)."""

    on: date
    unpaid_fen: int  # unpaid principal from this day on (inclusive)

    def __post_init__(self) -> None:
        _require_int(self.unpaid_fen, "unpaid_fen")


@dataclass(frozen=True)
class Segment:
    """A run of consecutive counted days with the same base and rate, for explaining the fee."""

    start: date  # first day counted (inclusive)
    end: date  # last day counted (inclusive)
    days: int
    base_fen: int
    daily_rate: Decimal
    amount: Decimal  # exact, not yet rounded: base × rate × days (fen, as Decimal)
    # Court-likely segments only: the annual rate; then daily_rate = annual_rate / 365 (shown to
    # 28 digits) and amount = base × annual_rate × days / 365.
    annual_rate: Decimal | None = None


@dataclass(frozen=True)
class LateFee:
    total_fen: int  # rounded once, half-up, after the cap
    uncapped: Decimal  # exact sum of segments (fen)
    capped: bool  # True when the cap cut the fee
    segments: tuple[Segment, ...]
    first_day: date | None  # first accrual day, None if nothing accrued


# ---------------------------------------------------------------------------
# Computation
# ---------------------------------------------------------------------------


def _round_half_up_fen(amount: Decimal) -> int:
    """The one rounding step: half-up to the whole fen (same rule as billing.rules.to_fen)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _merge_frozen(frozen: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    intervals = sorted(frozen)
    for start, end in intervals:
        if start > end:
            raise ValueError(f"frozen interval ends before it starts: {start} .. {end}")
    merged: list[tuple[date, date]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1] + _ONE_DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class _Run:
    start: date
    end_excl: date
    base_fen: int
    rate: Decimal


def _runs(
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    grace_days: int,
    first_allowed: date | None,
    rate_table: Sequence[tuple[date, Decimal]],
    frozen: Sequence[tuple[date, date]],
) -> list[_Run]:
    """Maximal runs of counted days with the same base and rate and a non-zero contribution.

    Works on intervals, not days: the counted range is cut at every change, freeze edge and rate
    change; each piece has one base and one rate, and adjacent pieces with equal ones merge.
    """
    _require_int(principal_fen, "principal_fen")
    _require_int(grace_days, "grace_days")
    first = due_date + timedelta(days=grace_days + 1)
    if first_allowed is not None:
        first = max(first, first_allowed)
    end_excl = as_of + _ONE_DAY
    if first >= end_excl:
        return []

    ordered = sorted(changes, key=lambda c: c.on)  # stable: same-day changes keep input order
    change_days = [c.on for c in ordered]
    rate_days = [d for d, _ in rate_table]
    blocks = _merge_frozen(frozen)

    cuts = {first, end_excl}
    cuts.update(change_days)
    cuts.update(rate_days)
    for start, end in blocks:
        cuts.update((start, end + _ONE_DAY))
    points = sorted(d for d in cuts if first <= d <= end_excl)

    runs: list[_Run] = []
    for start, stop in pairwise(points):
        if any(lo <= start <= hi for lo, hi in blocks):
            continue  # frozen: the whole piece is (cuts include every freeze edge)
        i = bisect_right(change_days, start) - 1  # latest change on or before the day
        base = principal_fen if i < 0 else ordered[i].unpaid_fen
        j = bisect_right(rate_days, start) - 1
        if base == 0 or j < 0 or rate_table[j][1] == 0:
            continue  # nothing accrues: paid up, before the rate table, or a zero rate
        rate = rate_table[j][1]
        last = runs[-1] if runs else None
        if last is not None and last.end_excl == start and last.base_fen == base and last.rate == rate:
            runs[-1] = _Run(last.start, stop, base, rate)
        else:
            runs.append(_Run(start, stop, base, rate))
    return runs


def _finish(segments: list[Segment], uncapped: Decimal, limit: int | None) -> LateFee:
    """Apply the cap to the exact sum, then round once, half-up."""
    capped = limit is not None and uncapped > limit
    total = Decimal(limit) if capped and limit is not None else uncapped
    return LateFee(
        total_fen=_round_half_up_fen(total),
        uncapped=uncapped,
        capped=capped,
        segments=tuple(segments),
        first_day=segments[0].start if segments else None,
    )


def late_fee_for(
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    policy: LateFeePolicy,
    frozen: Sequence[tuple[date, date]] = (),
) -> LateFee:
    """The contract late fee of one charge as of ``as_of`` (inclusive).

    ``uncapped = Σ segments (base_fen × daily_rate × days)``, exact;
    ``total_fen = round_half_up(min(uncapped, limit))`` with limit = ``principal_fen`` (cap
    principal), ``cap_fen`` (cap fixed) or none. See the module docstring for which days count.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.traps[Inexact] = True  # contract arithmetic must be exact; raise rather than round
        runs = _runs(
            principal_fen,
            due_date,
            changes,
            as_of,
            policy.grace_days,
            policy.starts_on,
            [(date.min, policy.daily_rate)],
            frozen,
        )
        segments = []
        for run in runs:
            days = (run.end_excl - run.start).days
            segments.append(
                Segment(
                    start=run.start,
                    end=run.end_excl - _ONE_DAY,
                    days=days,
                    base_fen=run.base_fen,
                    daily_rate=run.rate,
                    amount=Decimal(run.base_fen) * run.rate * days,
                )
            )
        uncapped = sum((s.amount for s in segments), Decimal(0))
    cap = LateFeeCap(policy.cap)
    limit = principal_fen if cap == LateFeeCap.principal else policy.cap_fen if cap == LateFeeCap.fixed else None
    return _finish(segments, uncapped, limit)


def court_likely_fee(
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    grace_days: int,
    annual_rates: Sequence[tuple[date, Decimal]],
    frozen: Sequence[tuple[date, date]] = (),
) -> LateFee:
    """What a court would likely allow: the same bases and days at an effective-dated annual rate.

    ``annual_rates``: ``(effective_from, annual rate)`` pairs, e.g. 1-year LPR × 1.3 =
    ``Decimal("0.0390")``; a rate applies from its date until the next entry's. Days before the
    first entry accrue nothing (there is no rate to apply; pass an early entry to cover them), so
    an empty table gives a zero fee.
    Per day the rate is ``annual / 365``; no cap other than the principal.

    ``uncapped = (Σ segments base_fen × annual × days) / 365``, the numerator exact and divided
    once; ``total_fen = round_half_up(min(uncapped, principal_fen))``.
    """
    table = sorted(annual_rates, key=lambda r: r[0])
    for day, rate in table:
        _require_rate(rate, f"annual rate from {day}")
    for (day, _), (next_day, _) in pairwise(table):
        if next_day == day:
            raise ValueError(f"two annual rates take effect on {day}")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        runs = _runs(principal_fen, due_date, changes, as_of, grace_days, None, table, frozen)
        segments = []
        numerator = Decimal(0)
        for run in runs:
            days = (run.end_excl - run.start).days
            part = Decimal(run.base_fen) * run.rate * days  # exact: finite decimals, 60 digits
            numerator += part
            segments.append(
                Segment(
                    start=run.start,
                    end=run.end_excl - _ONE_DAY,
                    days=days,
                    base_fen=run.base_fen,
                    daily_rate=_DISPLAY.divide(run.rate, COURT_DAYS_PER_YEAR),  # display only, see Segment
                    amount=part / COURT_DAYS_PER_YEAR,
                    annual_rate=run.rate,
                )
            )
        uncapped = numerator / COURT_DAYS_PER_YEAR  # divided once, see the module docstring
    return _finish(segments, uncapped, principal_fen)


# ---------------------------------------------------------------------------
# Explanation
# ---------------------------------------------------------------------------


def _percent(rate: Decimal) -> str:
    """0.0003 → "0.03" without going through float or rounding (exponent shift is exact)."""
    sign, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int)  # rates are validated finite
    text = f"{Decimal((sign, digits, exponent + 2)):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_TEXTS = {
    "zh_CN": {
        "line": "{start} 至 {end}，共 {days} 天：{base} × {rate} × {days} 天 = {amount}",
        "court_rate": "{annual}% ÷ 365",
        "total": "合计：{total}",
        "capped": "合计：{uncapped}，超过上限，按 {total} 计",
        "none": "无违约金",
        "note": "（各段金额四舍五入后显示；合计按精确金额计算，最后一次四舍五入到分）",
    },
    "zh_TW": {
        "line": "{start} 至 {end}，共 {days} 天：{base} × {rate} × {days} 天 = {amount}",
        "court_rate": "{annual}% ÷ 365",
        "total": "合計：{total}",
        "capped": "合計：{uncapped}，超過上限，按 {total} 計",
        "none": "無違約金",
        "note": "（各段金額四捨五入後顯示；合計按精確金額計算，最後一次四捨五入到分）",
    },
    "en": {
        "line": "{start} to {end}, {days} days: {base} × {rate} × {days} days = {amount}",
        "court_rate": "{annual}% ÷ 365",
        "total": "Total: {total}",
        "capped": "Total: {uncapped}, above the cap; {total} charged",
        "none": "No late fee",
        "note": "(Lines are shown rounded; the total is computed exactly and rounded once to the fen.)",
    },
}
_TEXTS["zh_HK"] = _TEXTS["zh_TW"]


def explain(fee: LateFee, locale: str) -> list[str]:
    """One line per segment, then the total, e.g.
    "2026-02-26 至 2026-03-31，共 34 天：¥200.00 × 0.03% × 34 天 = ¥2.04", "合计：¥2.04".

    Segment amounts are rounded for display only; when the rounded lines do not add up to the
    total (a rounding artefact, or the cap), the last line says so.
    """
    loc = normalize_locale(locale)
    texts = _TEXTS[loc]
    if not fee.segments:
        return [texts["none"]]
    lines = []
    for s in fee.segments:
        if s.annual_rate is not None:
            rate = texts["court_rate"].format(annual=_percent(s.annual_rate))
        else:
            rate = f"{_percent(s.daily_rate)}%"
        lines.append(
            texts["line"].format(
                start=s.start.isoformat(),
                end=s.end.isoformat(),
                days=s.days,
                base=money(s.base_fen, loc),
                rate=rate,
                amount=money(_round_half_up_fen(s.amount), loc),
            )
        )
    if fee.capped:
        lines.append(
            texts["capped"].format(
                uncapped=money(_round_half_up_fen(fee.uncapped), loc), total=money(fee.total_fen, loc)
            )
        )
    else:
        lines.append(texts["total"].format(total=money(fee.total_fen, loc)))
        if sum(_round_half_up_fen(s.amount) for s in fee.segments) != fee.total_fen:
            lines.append(texts["note"])
    return lines
