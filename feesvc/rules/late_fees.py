"""Late fees (违约金) on one overdue charge. Pure functions: no database, no I/O.

The fee is simple interest, never compounded, on the unpaid principal of one charge
(DOMAIN.md "Late fees")::

    fee = Σ over counted days d of  base(d) × rate(d)      (each day limited by the cap of day d)

The late-fee terms are versions with an effective date (:class:`LateFeeTerms`, DOMAIN.md "Terms
change over time"): each day uses the version in force on that day, and a new version never
reaches back into days before its effective date. A day ``d`` is counted when

* ``due_date + grace_days < d <= as_of``, with the grace days of the version in force on the due
  date (the terms the charge fell due under decide when it is late; a later change of grace moves
  no charge that is already late, and when no version was in force on the due date, the first
  version after it decides),
* a version is in force on ``d`` (days before the first version have no late-fee clause),
* ``d >= starts_on`` of the version in force on ``d`` (if it has a start date),
* ``d`` lies in no ``frozen`` interval     (both ends inclusive; e.g. an installment plan).

``base(d)`` is ``principal_fen`` before the first :class:`PrincipalChange`, else the
``unpaid_fen`` of the latest change with ``on <= d``: a payment on day ``d`` counts from day ``d``,
so the day it is paid accrues nothing on the part paid. Changes are ordered by ``on``; two changes
on the same day: the later one in the sequence wins. Days with a base of 0 add nothing.

Caps: the cap in force on day ``d`` limits the running total on that day (the principal cap is the
charge's original principal). Once reached, days add nothing while it is in force; a higher cap
adopted later lets the fee grow again, and a lower one never takes back what accrued before it.
With one version this is ``min(uncapped, cap)``.

Rounding (DOMAIN.md ledger rule 3): every amount is carried as an exact ``Decimal`` in fen; the
cap is applied to the exact running total, and the capped figure is rounded ONCE, half-up to the
fen, in :func:`_round_half_up_fen` at the very end. Segment amounts are never rounded (``explain``
rounds them for display only).

Exactness: contract rates are finite decimals, so ``base × rate × days`` is computed in a
Decimal context that traps ``Inexact`` (any silent rounding would raise). The LPR-based daily
rate ``annual / 365`` has no finite decimal expansion; there the numerators ``base × annual ×
days`` are summed exactly and divided by 365 once, at 60 significant digits, which is enough for
the half-up rounding to the fen to be the same as with infinite precision (a fen value n/365 that
is not exactly representable is at least 1/(365·10^scale) away from any half-fen).

The court-likely figure (DOMAIN.md "Late fees", "Terms change over time") is the smaller of the
contract figure and the LPR-based one; the LPR-based one counts the same days as the contract
(grace, start dates, freezes, days with a late-fee clause at all), at the court's annual rate / 365,
at most the principal. So a milder contract (a low rate, a fixed cap, a later start, no clause) is
never raised by it.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, localcontext
from itertools import pairwise

from feesvc.formatting import money, normalize_locale

__all__ = [
    "COURT_DAYS_PER_YEAR",
    "TERMS_FROM_THE_START",
    "LateFee",
    "LateFeeCap",
    "LateFeePolicy",
    "LateFeeTerms",
    "PrincipalChange",
    "Segment",
    "TermsVersion",
    "court_likely_fee",
    "explain",
    "late_fee_for",
]

# The effective date of terms that have applied from the start (those in force before terms were
# versioned, and an estate's first terms): explanations call them the original terms.
TERMS_FROM_THE_START = date(1900, 1, 1)

# Courts convert an annual rate (LPR-based) to a daily one over 365 days.
COURT_DAYS_PER_YEAR = 365

# Enough digits that base × rate × days never rounds for any realistic amount; ``Inexact`` is
# trapped on top, so a too-large input raises instead of rounding quietly.
_PRECISION = 60

_ONE_DAY = timedelta(days=1)

# annual / 365 for Segment.daily_rate of court segments: shown, never computed with.
_DISPLAY = Context(prec=28)


class LateFeeCap(enum.StrEnum):
    none = "none"
    principal = "principal"  # the fee is at most the charge's original principal
    fixed = "fixed"  # the fee is at most cap_fen per charge


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
    """One version of the contract's late-fee terms (an estate's, or with a fee standard's own rate)."""

    daily_rate: Decimal  # e.g. Decimal("0.0003") (万分之三 per day); 0: no late fee
    grace_days: int  # accrual starts the day after due_date + grace_days
    cap: LateFeeCap  # none | principal (fee ≤ the charge's principal) | fixed (fee ≤ cap_fen)
    cap_fen: int | None = None  # for cap == fixed: at most this many fen per charge
    starts_on: date | None = None  # the terms apply only to days on/after this date

    def __post_init__(self) -> None:
        _require_rate(self.daily_rate, "daily_rate")
        if self.daily_rate > 1:
            raise ValueError(f"daily_rate above 100% per day is not plausible: {self.daily_rate}")
        _require_int(self.grace_days, "grace_days")
        cap = LateFeeCap(self.cap)  # refuses unknown values early, not at computation time
        object.__setattr__(self, "cap", cap)  # the member, so that computing compares by identity
        if cap == LateFeeCap.fixed:
            if self.cap_fen is None:
                raise ValueError("cap_fen is required when cap is 'fixed'")
            _require_int(self.cap_fen, "cap_fen")
        # cap_fen is ignored for the other caps.

    def limit(self, principal_fen: int) -> int | None:
        """The most the running total may reach under these terms."""
        if self.cap is LateFeeCap.principal:
            return principal_fen
        return self.cap_fen if self.cap is LateFeeCap.fixed else None


@dataclass(frozen=True)
class TermsVersion:
    """Late-fee terms in force from ``effective_from`` until the next version's date."""

    effective_from: date
    policy: LateFeePolicy
    ref: int | None = None  # the stored version it came from, for explanations
    rate_ref: int | None = None  # the stored version of a fee standard's own rate, when it set the rate


@dataclass(frozen=True)
class LateFeeTerms:
    """A charge's late-fee terms over time: versions by effective date, at most one per day."""

    versions: tuple[TermsVersion, ...]
    # Read once per charge by the computation: the versions' dates and their start dates.
    days: tuple[date, ...] = field(init=False, repr=False, compare=False)
    starts: frozenset[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for earlier, later in pairwise(self.versions):
            if later.effective_from <= earlier.effective_from:
                raise ValueError(f"terms versions must be in date order, one per day: {later.effective_from}")
        object.__setattr__(self, "days", tuple(v.effective_from for v in self.versions))
        starts = frozenset(v.policy.starts_on for v in self.versions if v.policy.starts_on is not None)
        object.__setattr__(self, "starts", starts)

    @classmethod
    def always(cls, policy: LateFeePolicy) -> LateFeeTerms:
        """One version that has always been in force."""
        return cls((TermsVersion(date.min, policy),))

    @classmethod
    def of(cls, versions: Sequence[TermsVersion]) -> LateFeeTerms:
        return cls(tuple(sorted(versions, key=lambda v: v.effective_from)))

    def in_force(self, day: date) -> TermsVersion | None:
        i = bisect_right(self.days, day) - 1
        return self.versions[i] if i >= 0 else None

    def grace_for(self, due_date: date) -> int:
        """The grace days of the terms the charge fell due under (see the module docstring)."""
        version = self.in_force(due_date) or (self.versions[0] if self.versions else None)
        return version.policy.grace_days if version is not None else 0


@dataclass(frozen=True)
class PrincipalChange:
    """The unpaid principal of one charge changes on a day (a payment, a credit, a correction)."""

    on: date
    unpaid_fen: int  # unpaid principal from this day on (inclusive)

    def __post_init__(self) -> None:
        _require_int(self.unpaid_fen, "unpaid_fen")


@dataclass(frozen=True)
class Segment:
    """A run of consecutive counted days with the same base, rate and terms, for explaining the fee."""

    start: date  # first day counted (inclusive)
    end: date  # last day counted (inclusive)
    days: int
    base_fen: int
    daily_rate: Decimal
    amount: Decimal  # exact, not yet rounded: base × rate × days (fen, as Decimal)
    # Court-likely segments only: the annual rate; then daily_rate = annual_rate / 365 (shown to
    # 28 digits) and amount = base × annual_rate × days / 365.
    annual_rate: Decimal | None = None
    terms: TermsVersion | None = None  # the contract terms in force on these days


@dataclass(frozen=True)
class LateFee:
    total_fen: int  # rounded once, half-up, after the cap
    uncapped: Decimal  # exact sum of segments (fen)
    capped: bool  # True when a cap cut the fee
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
    terms: TermsVersion
    annual: Decimal | None  # the court table's rate on these days (None without a table)


def _runs(
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    terms: LateFeeTerms,
    frozen: Sequence[tuple[date, date]],
    annual_rates: Sequence[tuple[date, Decimal]] | None = None,
) -> list[_Run]:
    """Maximal runs of counted days with the same base, terms (and court rate), base not zero.

    Works on intervals, not days: the counted range is cut at every change, freeze edge, terms
    version, start date and court-rate change; each piece has one base and one version, and
    adjacent pieces with equal ones merge. A piece whose contract rate is zero is still a run
    (the court-likely figure counts the same days and is then limited by the contract's zero).
    """
    _require_int(principal_fen, "principal_fen")
    first = due_date + timedelta(days=terms.grace_for(due_date) + 1)
    end_excl = as_of + _ONE_DAY
    if first >= end_excl or not terms.versions:
        return []

    ordered = sorted(changes, key=lambda c: c.on) if changes else ()  # stable: same-day changes keep input order
    change_days = [c.on for c in ordered]
    versions = terms.versions
    version_days = terms.days
    rate_days = [d for d, _ in annual_rates] if annual_rates else []
    blocks = _merge_frozen(frozen) if frozen else []

    cuts = {first, end_excl, *change_days, *version_days, *terms.starts, *rate_days}
    for start, end in blocks:
        cuts.update((start, end + _ONE_DAY))
    points = sorted(d for d in cuts if first <= d <= end_excl)

    runs: list[_Run] = []
    for start, stop in pairwise(points):
        if any(lo <= start <= hi for lo, hi in blocks):
            continue  # frozen: the whole piece is (cuts include every freeze edge)
        v = bisect_right(version_days, start) - 1
        if v < 0:
            continue  # no late-fee clause in force yet
        version = versions[v]
        starts_on = version.policy.starts_on
        if starts_on is not None and start < starts_on:
            continue  # before the start date of the terms in force
        i = bisect_right(change_days, start) - 1  # latest change on or before the day
        base = principal_fen if i < 0 else ordered[i].unpaid_fen
        if base == 0:
            continue  # paid up
        annual = None
        if annual_rates is not None:
            j = bisect_right(rate_days, start) - 1
            if j < 0:
                continue  # before the court table: no rate to apply
            annual = annual_rates[j][1]
        last = runs[-1] if runs else None
        if (
            last is not None
            and last.end_excl == start
            and last.base_fen == base
            and last.terms is version
            and last.annual == annual
        ):
            runs[-1] = _Run(last.start, stop, base, version, annual)
        else:
            runs.append(_Run(start, stop, base, version, annual))
    return runs


def late_fee_for(
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    terms: LateFeeTerms,
    frozen: Sequence[tuple[date, date]] = (),
) -> LateFee:
    """The contract late fee of one charge as of ``as_of`` (inclusive).

    ``uncapped = Σ segments (base_fen × daily_rate × days)``, exact; the running total is limited
    segment by segment by the cap in force (principal: ``principal_fen``; fixed: ``cap_fen``);
    ``total_fen`` = that total rounded half-up once. See the module docstring for which days count.
    """
    segments = []
    uncapped = total = Decimal(0)
    capped = False
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.traps[Inexact] = True  # contract arithmetic must be exact; raise rather than round
        for run in _runs(principal_fen, due_date, changes, as_of, terms, frozen):
            policy = run.terms.policy
            if policy.daily_rate == 0:
                continue
            days = (run.end_excl - run.start).days
            amount = Decimal(run.base_fen) * policy.daily_rate * days
            segments.append(
                Segment(
                    start=run.start,
                    end=run.end_excl - _ONE_DAY,
                    days=days,
                    base_fen=run.base_fen,
                    daily_rate=policy.daily_rate,
                    amount=amount,
                    terms=run.terms,
                )
            )
            uncapped += amount
            limit = policy.limit(principal_fen)
            if limit is not None and total + amount > limit:
                capped = True
                total = max(total, Decimal(limit))
            else:
                total += amount
    return LateFee(
        total_fen=_round_half_up_fen(total),
        uncapped=uncapped,
        capped=capped,
        segments=tuple(segments),
        first_day=segments[0].start if segments else None,
    )


def court_likely_fee(
    contract: LateFee,
    principal_fen: int,
    due_date: date,
    changes: Sequence[PrincipalChange],
    as_of: date,
    terms: LateFeeTerms,
    annual_rates: Sequence[tuple[date, Decimal]],
    frozen: Sequence[tuple[date, date]] = (),
) -> LateFee:
    """What a court would likely allow: the smaller of ``contract`` (this charge's contract fee on
    the same facts, from :func:`late_fee_for`) and the LPR-based figure.

    The LPR-based figure counts the days the contract counts (only where its rate is not zero)
    at an effective-dated annual rate: ``annual_rates`` are ``(effective_from, annual rate)`` pairs,
    e.g. 1-year LPR × 1.3 = ``Decimal("0.0390")``; a rate applies from its date until the next
    entry's. Days before the first entry accrue nothing (pass an early entry to cover them), so an
    empty table gives a zero figure. Per day the rate is ``annual / 365``, at most the principal:
    ``uncapped = (Σ segments base_fen × annual × days) / 365``, the numerator exact and divided
    once; ``total_fen = round_half_up(min(uncapped, principal_fen))``.
    """
    table = sorted(annual_rates, key=lambda r: r[0])
    for day, rate in table:
        _require_rate(rate, f"annual rate from {day}")
    for (day, _), (next_day, _) in pairwise(table):
        if next_day == day:
            raise ValueError(f"two annual rates take effect on {day}")
    segments = []
    numerator = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for run in _runs(principal_fen, due_date, changes, as_of, terms, frozen, table):
            if run.terms.policy.daily_rate == 0 or run.annual is None:
                continue  # no contract late fee on these days: a court allows none either
            days = (run.end_excl - run.start).days
            part = Decimal(run.base_fen) * run.annual * days  # exact: finite decimals, 60 digits
            numerator += part
            segments.append(
                Segment(
                    start=run.start,
                    end=run.end_excl - _ONE_DAY,
                    days=days,
                    base_fen=run.base_fen,
                    daily_rate=_DISPLAY.divide(run.annual, COURT_DAYS_PER_YEAR),  # display only
                    amount=part / COURT_DAYS_PER_YEAR,
                    annual_rate=run.annual,
                    terms=run.terms,
                )
            )
        uncapped = numerator / COURT_DAYS_PER_YEAR  # divided once, see the module docstring
    capped = uncapped > principal_fen
    lpr = LateFee(
        total_fen=_round_half_up_fen(Decimal(principal_fen) if capped else uncapped),
        uncapped=uncapped,
        capped=capped,
        segments=tuple(segments),
        first_day=segments[0].start if segments else None,
    )
    return contract if contract.total_fen <= lpr.total_fen else lpr


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
        "terms": "（{since}起的条款）",
        "terms_first": "（原有条款）",
    },
    "zh_TW": {
        "line": "{start} 至 {end}，共 {days} 天：{base} × {rate} × {days} 天 = {amount}",
        "court_rate": "{annual}% ÷ 365",
        "total": "合計：{total}",
        "capped": "合計：{uncapped}，超過上限，按 {total} 計",
        "none": "無違約金",
        "note": "（各段金額四捨五入後顯示；合計按精確金額計算，最後一次四捨五入到分）",
        "terms": "（{since}起的條款）",
        "terms_first": "（原有條款）",
    },
    "en": {
        "line": "{start} to {end}, {days} days: {base} × {rate} × {days} days = {amount}",
        "court_rate": "{annual}% ÷ 365",
        "total": "Total: {total}",
        "capped": "Total: {uncapped}, above the cap; {total} charged",
        "none": "No late fee",
        "note": "(Lines are shown rounded; the total is computed exactly and rounded once to the fen.)",
        "terms": " (terms from {since})",
        "terms_first": " (original terms)",
    },
}
_TEXTS["zh_HK"] = _TEXTS["zh_TW"]


def _terms_text(terms: TermsVersion, texts: dict[str, str]) -> str:
    if terms.effective_from <= TERMS_FROM_THE_START:
        return texts["terms_first"]
    return texts["terms"].format(since=terms.effective_from.isoformat())


def explain(fee: LateFee, locale: str) -> list[str]:
    """One line per segment, then the total, e.g.
    "2026-02-26 至 2026-03-31，共 34 天：¥200.00 × 0.03% × 34 天 = ¥2.04", "合计：¥2.04".

    Segment amounts are rounded for display only; when the rounded lines do not add up to the
    total (a rounding artefact, or the cap), the last line says so. When the fee's days fell under
    more than one version of the terms, each line says from when its terms applied.
    """
    loc = normalize_locale(locale)
    texts = _TEXTS[loc]
    if not fee.segments:
        return [texts["none"]]
    several = len({s.terms.effective_from for s in fee.segments if s.terms is not None}) > 1
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
            + (_terms_text(s.terms, texts) if several and s.terms else "")
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
