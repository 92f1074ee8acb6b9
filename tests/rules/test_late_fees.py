"""feesvc.rules.late_fees: a day-by-day reference model (property tests) plus hand-worked cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feesvc.rules.late_fees import (
    LateFee,
    LateFeeCap,
    LateFeePolicy,
    LateFeeTerms,
    PrincipalChange,
    court_likely_fee,
    explain,
    late_fee_for,
)

ONE = timedelta(days=1)


def fee_under(
    principal: int,
    due: date,
    changes: list[PrincipalChange],
    as_of: date,
    p: LateFeePolicy,
    frozen: list[tuple[date, date]] | None = None,
) -> LateFee:
    """The contract fee under one version of the terms that has always been in force."""
    return late_fee_for(principal, due, changes, as_of, LateFeeTerms.always(p), frozen or [])


def lpr_fee(
    principal: int,
    due: date,
    changes: list[PrincipalChange],
    as_of: date,
    grace: int,
    rates: list[tuple[date, Decimal]],
    frozen: list[tuple[date, date]] | None = None,
) -> LateFee:
    """The LPR-based figure alone: under a contract of 100 % a day, uncapped, it is the smaller one."""
    terms = LateFeeTerms.always(LateFeePolicy(daily_rate=Decimal(1), grace_days=grace, cap=LateFeeCap.none))
    contract = late_fee_for(principal, due, changes, as_of, terms, frozen or [])
    return court_likely_fee(contract, principal, due, changes, as_of, terms, rates, frozen or [])


R = Decimal("0.0003")  # 万分之三


def policy(
    rate: Decimal = R,
    grace: int = 10,
    cap: LateFeeCap = LateFeeCap.principal,
    cap_fen: int | None = None,
    starts_on: date | None = None,
) -> LateFeePolicy:
    return LateFeePolicy(daily_rate=rate, grace_days=grace, cap=cap, cap_fen=cap_fen, starts_on=starts_on)


# ---------------------------------------------------------------------------
# The reference: plainly, one day at a time
# ---------------------------------------------------------------------------


def base_on(day: date, principal: int, changes: list[PrincipalChange]) -> int:
    base = principal
    for change in sorted(changes, key=lambda c: c.on):
        if change.on <= day:
            base = change.unpaid_fen
    return base


def counted(day: date, due: date, grace: int, starts_on: date | None, frozen: list[tuple[date, date]]) -> bool:
    if day <= due + timedelta(days=grace):
        return False
    if starts_on is not None and day < starts_on:
        return False
    return not any(start <= day <= end for start, end in frozen)


def half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reference_days(
    principal: int,
    due: date,
    changes: list[PrincipalChange],
    as_of: date,
    grace: int,
    starts_on: date | None,
    frozen: list[tuple[date, date]],
) -> dict[date, int]:
    """Every day that accrues something, with its base."""
    days = {}
    day = due
    while day <= as_of:
        if counted(day, due, grace, starts_on, frozen):
            base = base_on(day, principal, changes)
            if base:
                days[day] = base
        day += ONE
    return days


def reference_fee(
    principal: int,
    due: date,
    changes: list[PrincipalChange],
    as_of: date,
    p: LateFeePolicy,
    frozen: list[tuple[date, date]],
) -> tuple[int, Decimal, bool]:
    total = Decimal(0)
    for base in reference_days(principal, due, changes, as_of, p.grace_days, p.starts_on, frozen).values():
        total += Decimal(base) * p.daily_rate
    limit = {LateFeeCap.none: None, LateFeeCap.principal: principal, LateFeeCap.fixed: p.cap_fen}[p.cap]
    capped = limit is not None and total > limit
    return half_up(Decimal(limit) if capped and limit is not None else total), total, capped


def check_segments(fee: LateFee, expected_days: dict[date, int]) -> None:
    """Segments cover exactly the accruing days, with their bases, merged as far as possible."""
    seen: dict[date, int] = {}
    previous = None
    for segment in fee.segments:
        assert segment.start <= segment.end
        assert segment.days == (segment.end - segment.start).days + 1
        assert segment.amount == Decimal(segment.base_fen) * segment.daily_rate * segment.days
        if previous is not None:
            assert previous.end < segment.start
            if previous.end + ONE == segment.start:  # adjacent runs only when something differs
                assert (previous.base_fen, previous.daily_rate) != (segment.base_fen, segment.daily_rate)
        day = segment.start
        while day <= segment.end:
            seen[day] = segment.base_fen
            day += ONE
        previous = segment
    assert seen == expected_days
    assert fee.uncapped == sum((s.amount for s in fee.segments), Decimal(0))
    assert fee.first_day == (min(expected_days) if expected_days else None)


# ---------------------------------------------------------------------------
# Property test against the reference
# ---------------------------------------------------------------------------


@dataclass
class Case:
    principal: int
    due: date
    changes: list[PrincipalChange]
    as_of: date
    policy: LateFeePolicy
    frozen: list[tuple[date, date]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    due = draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2030, 12, 31)))
    principal = draw(st.integers(min_value=0, max_value=10_000_000))
    # Payments: random days, each lowering what is unpaid; sometimes the last one pays in full.
    offsets = draw(st.lists(st.integers(min_value=-10, max_value=600), max_size=6, unique=True))
    unpaid = principal
    changes = []
    for offset in sorted(offsets):
        unpaid = draw(st.integers(min_value=0, max_value=unpaid))
        changes.append(PrincipalChange(due + timedelta(days=offset), unpaid))
    pays_in_full = draw(st.booleans())
    if changes and pays_in_full:
        changes[-1] = PrincipalChange(changes[-1].on, 0)
    if draw(st.booleans()):
        changes.reverse()  # input order must not matter when the days differ
    as_of = due + timedelta(days=draw(st.integers(min_value=-5, max_value=700)))
    rate = Decimal(draw(st.integers(min_value=10, max_value=1000))).scaleb(-5)  # 0.0001 … 0.01
    cap = draw(st.sampled_from(list(LateFeeCap)))
    cap_fen = draw(st.integers(min_value=0, max_value=2 * principal + 1)) if cap == LateFeeCap.fixed else None
    starts = draw(st.none() | st.integers(min_value=-60, max_value=400))
    frozen = [
        (due + timedelta(days=start), due + timedelta(days=start + length))
        for start, length in draw(
            st.lists(
                st.tuples(st.integers(min_value=-20, max_value=600), st.integers(min_value=0, max_value=120)),
                max_size=3,
            )
        )
    ]
    p = LateFeePolicy(
        daily_rate=rate,
        grace_days=draw(st.integers(min_value=0, max_value=30)),
        cap=cap,
        cap_fen=cap_fen,
        starts_on=None if starts is None else due + timedelta(days=starts),
    )
    return Case(principal, due, changes, as_of, p, frozen)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_late_fee_matches_day_by_day_reference(case: Case) -> None:
    fee = fee_under(case.principal, case.due, case.changes, case.as_of, case.policy, case.frozen)
    c = case
    total, uncapped, capped = reference_fee(c.principal, c.due, c.changes, c.as_of, c.policy, c.frozen)
    assert fee.total_fen == total
    assert fee.uncapped == uncapped
    assert fee.capped == capped
    check_segments(
        fee,
        reference_days(c.principal, c.due, c.changes, c.as_of, c.policy.grace_days, c.policy.starts_on, c.frozen),
    )
    assert all(s.daily_rate == case.policy.daily_rate for s in fee.segments)


@settings(max_examples=150, deadline=None)
@given(cases(), st.lists(st.tuples(st.integers(min_value=-100, max_value=700), st.integers(1, 800)), max_size=4))
def test_court_likely_fee_matches_exact_fraction_reference(case: Case, table: list[tuple[int, int]]) -> None:
    rates = {case.due + timedelta(days=offset): Decimal(bp).scaleb(-4) for offset, bp in table}  # 0.01% … 8%
    fee = lpr_fee(
        case.principal, case.due, case.changes, case.as_of, case.policy.grace_days, list(rates.items()), case.frozen
    )
    days = reference_days(case.principal, case.due, case.changes, case.as_of, case.policy.grace_days, None, case.frozen)
    exact = Fraction(0)
    accruing = {}
    for day, base in days.items():
        applicable = [d for d in rates if d <= day]
        if applicable:
            exact += Fraction(base) * Fraction(rates[max(applicable)]) / 365
            accruing[day] = base
    capped = exact > case.principal
    limited = Fraction(case.principal) if capped else exact
    whole, rest = divmod(limited, 1)
    assert fee.total_fen == int(whole) + (1 if rest >= Fraction(1, 2) else 0)
    assert fee.capped == capped
    assert set(accruing) == {s.start + timedelta(days=i) for s in fee.segments for i in range(s.days)}
    for s in fee.segments:
        assert s.annual_rate is not None
        assert s.annual_rate == rates[max(d for d in rates if d <= s.start)]


# ---------------------------------------------------------------------------
# Worked by hand
# ---------------------------------------------------------------------------

DUE = date(2026, 1, 15)  # 200 元, grace 10: the first accrual day is 2026-01-26


def test_two_hundred_yuan_as_of_end_of_march() -> None:
    fee = fee_under(20000, DUE, [], date(2026, 3, 31), policy())
    # Jan 26–31: 6 days, February: 28, March: 31 → 65 days; 20000 × 0.0003 × 65 = 390 fen.
    assert fee.first_day == date(2026, 1, 26)
    assert [(s.start, s.end, s.days, s.base_fen) for s in fee.segments] == [
        (date(2026, 1, 26), date(2026, 3, 31), 65, 20000)
    ]
    assert fee.uncapped == Decimal("390")
    assert fee.total_fen == 390
    assert not fee.capped


def test_nothing_accrues_within_grace() -> None:
    assert fee_under(20000, DUE, [], date(2026, 1, 25), policy()).total_fen == 0
    fee = fee_under(20000, DUE, [], date(2026, 1, 25), policy())
    assert fee.segments == () and fee.first_day is None
    assert fee_under(20000, DUE, [], date(2026, 1, 26), policy()).total_fen == 6  # one day: 6 fen


def test_paying_the_principal_stops_accrual() -> None:
    paid = [PrincipalChange(date(2026, 2, 10), 0)]
    # Jan 26 – Feb 9: 15 days × 6 fen = 90; nothing from Feb 10 on, however late we look.
    for as_of in (date(2026, 2, 10), date(2026, 3, 31), date(2030, 1, 1)):
        fee = fee_under(20000, DUE, paid, as_of, policy())
        assert fee.total_fen == 90
        assert fee.segments[-1].end == date(2026, 2, 9)


def test_the_day_of_a_payment_accrues_nothing_on_the_part_paid() -> None:
    day = date(2026, 2, 1)
    before = fee_under(20000, DUE, [PrincipalChange(day, 0)], day - ONE, policy())
    on_the_day = fee_under(20000, DUE, [PrincipalChange(day, 0)], day, policy())
    assert on_the_day == before
    # Partial: Jan 26–31 on 20000 (36 fen) + Feb 1 – Mar 31, 59 days on 5000 (88.5 fen) = 124.5 → 125.
    fee = fee_under(20000, DUE, [PrincipalChange(day, 5000)], date(2026, 3, 31), policy())
    assert [(s.days, s.base_fen, s.amount) for s in fee.segments] == [
        (6, 20000, Decimal("36")),
        (59, 5000, Decimal("88.5")),
    ]
    assert fee.uncapped == Decimal("124.5")
    assert fee.total_fen == 125  # half-up


def test_rounds_once_not_per_segment() -> None:
    # 5000 × 0.0003 = 1.5 fen a day; two single days split by a freeze: 3.0 → 3 (per segment: 2 + 2).
    due = date(2026, 5, 1)
    fee = fee_under(5000, due, [], date(2026, 5, 4), policy(grace=0), frozen=[(date(2026, 5, 3), date(2026, 5, 3))])
    assert [s.amount for s in fee.segments] == [Decimal("1.5"), Decimal("1.5")]
    assert fee.total_fen == 3
    lines = explain(fee, "zh_CN")
    assert lines[-2] == "合计：¥0.03"
    assert "一次四舍五入" in lines[-1]  # the lines show ¥0.02 + ¥0.02, so say why the total is ¥0.03


def test_principal_cap_binds_after_3334_days() -> None:
    due = date(2020, 1, 1)
    p = policy(grace=0)
    at_3333 = fee_under(20000, due, [], due + timedelta(days=3333), p)
    assert (at_3333.total_fen, at_3333.capped) == (19998, False)  # 3333 × 0.0003 = 0.9999
    at_3334 = fee_under(20000, due, [], due + timedelta(days=3334), p)
    assert at_3334.uncapped == Decimal("20004")  # 3334 × 0.0003 = 1.0002
    assert (at_3334.total_fen, at_3334.capped) == (20000, True)
    uncapped = fee_under(20000, due, [], due + timedelta(days=3334), policy(grace=0, cap=LateFeeCap.none))
    assert (uncapped.total_fen, uncapped.capped) == (20004, False)


def test_principal_cap_is_the_original_principal_not_what_is_left() -> None:
    due = date(2020, 1, 1)
    # Half paid on the first accrual day: 3 fen a day passes 20000 fen (not 10000) after 6667 days.
    changes = [PrincipalChange(date(2020, 1, 2), 10000)]
    fee = fee_under(20000, due, changes, due + timedelta(days=6666), policy(grace=0))
    assert (fee.total_fen, fee.capped) == (3 * 6666, False)
    fee = fee_under(20000, due, changes, due + timedelta(days=6667), policy(grace=0))
    assert (fee.total_fen, fee.capped) == (20000, True)


def test_fixed_cap() -> None:
    p = policy(cap=LateFeeCap.fixed, cap_fen=100)
    fee = fee_under(20000, DUE, [], date(2026, 3, 31), p)
    assert (fee.total_fen, fee.capped, fee.uncapped) == (100, True, Decimal("390"))
    assert fee_under(20000, DUE, [], date(2026, 1, 30), p).total_fen == 30  # 5 days, under the cap


def test_policy_start_date_and_freeze_split_segments() -> None:
    started = fee_under(20000, DUE, [], date(2026, 3, 31), policy(starts_on=date(2026, 2, 1)))
    assert [(s.start, s.days) for s in started.segments] == [(date(2026, 2, 1), 59)]
    assert started.total_fen == 354
    frozen = fee_under(20000, DUE, [], date(2026, 3, 31), policy(), frozen=[(date(2026, 2, 1), date(2026, 2, 28))])
    assert [(s.start, s.end) for s in frozen.segments] == [
        (date(2026, 1, 26), date(2026, 1, 31)),
        (date(2026, 3, 1), date(2026, 3, 31)),
    ]
    assert frozen.total_fen == 37 * 6


def test_overlapping_freezes_and_unsorted_changes() -> None:
    changes = [PrincipalChange(date(2026, 3, 1), 0), PrincipalChange(date(2026, 2, 1), 10000)]
    fee = fee_under(
        20000,
        DUE,
        changes,
        date(2026, 3, 31),
        policy(),
        frozen=[(date(2026, 1, 28), date(2026, 2, 5)), (date(2026, 1, 30), date(2026, 1, 31))],
    )
    # Jan 26–27 on 20000 (12 fen), Feb 6–28 on 10000 (23 days × 3 = 69 fen).
    assert [(s.start, s.end, s.base_fen) for s in fee.segments] == [
        (date(2026, 1, 26), date(2026, 1, 27), 20000),
        (date(2026, 2, 6), date(2026, 2, 28), 10000),
    ]
    assert fee.total_fen == 81


def test_same_day_changes_the_later_one_wins() -> None:
    changes = [PrincipalChange(date(2026, 2, 1), 0), PrincipalChange(date(2026, 2, 1), 10000)]
    fee = fee_under(20000, DUE, changes, date(2026, 2, 1), policy())
    assert fee.segments[-1].base_fen == 10000


def test_equal_bases_merge_into_one_segment() -> None:
    changes = [PrincipalChange(date(2026, 2, 1), 20000)]  # e.g. a correction that nets to nothing
    fee = fee_under(20000, DUE, changes, date(2026, 3, 31), policy())
    assert len(fee.segments) == 1


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="cap_fen"):
        LateFeePolicy(R, 0, LateFeeCap.fixed)
    with pytest.raises(TypeError, match="Decimal"):
        LateFeePolicy(0.0003, 0, LateFeeCap.none)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="daily_rate"):
        LateFeePolicy(Decimal("-0.0003"), 0, LateFeeCap.none)
    with pytest.raises(ValueError, match="grace_days"):
        LateFeePolicy(R, -1, LateFeeCap.none)
    with pytest.raises(ValueError, match="unpaid_fen"):
        PrincipalChange(date(2026, 1, 1), -1)
    with pytest.raises(ValueError, match="frozen"):
        fee_under(100, DUE, [], date(2026, 3, 1), policy(), frozen=[(date(2026, 2, 2), date(2026, 2, 1))])
    # cap_fen is ignored unless the cap is fixed (an estate row may keep a stale value).
    LateFeePolicy(R, 0, LateFeeCap.principal, cap_fen=5)


# ---------------------------------------------------------------------------
# Court-likely figure
# ---------------------------------------------------------------------------


def test_court_likely_fee_across_a_rate_change() -> None:
    rates = [(date(2025, 1, 1), Decimal("0.0390")), (date(2026, 3, 1), Decimal("0.0364"))]
    fee = lpr_fee(20000, DUE, [], date(2026, 3, 31), 10, rates)
    # Jan 26 – Feb 28: 34 days at 3.90 %, March: 31 days at 3.64 %.
    assert [(s.start, s.end, s.days, s.annual_rate) for s in fee.segments] == [
        (date(2026, 1, 26), date(2026, 2, 28), 34, Decimal("0.0390")),
        (date(2026, 3, 1), date(2026, 3, 31), 31, Decimal("0.0364")),
    ]
    # 20000 × (0.039 × 34 + 0.0364 × 31) / 365 = 49088 / 365 = 134.487… → 134.
    assert fee.total_fen == 134
    assert abs(Fraction(fee.uncapped) - Fraction(49088, 365)) < Fraction(1, 10**50)
    assert not fee.capped
    # Far lower than the contract's 万分之三 (390 fen), which is the point of showing both.
    assert fee.total_fen < fee_under(20000, DUE, [], date(2026, 3, 31), policy()).total_fen


def test_court_likely_fee_days_before_the_table_accrue_nothing() -> None:
    fee = lpr_fee(20000, DUE, [], date(2026, 3, 31), 10, [(date(2026, 3, 1), Decimal("0.0365"))])
    assert fee.first_day == date(2026, 3, 1)
    assert fee.uncapped == Decimal(20000 * 31) / 10000  # 0.0365 / 365 = 0.0001 a day: 62 fen
    assert fee.total_fen == 62


def test_court_likely_fee_is_capped_at_the_principal() -> None:
    fee = lpr_fee(1000, date(2000, 1, 1), [], date(2030, 1, 1), 0, [(date(1990, 1, 1), Decimal("0.5"))])
    assert (fee.total_fen, fee.capped) == (1000, True)


def test_court_likely_fee_refuses_two_rates_on_one_day() -> None:
    with pytest.raises(ValueError, match="two annual rates"):
        lpr_fee(1000, DUE, [], date(2026, 3, 1), 0, [(DUE, Decimal("0.03")), (DUE, Decimal("0.04"))])


# ---------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------


def test_explain_zh_cn_matches_the_wording() -> None:
    fee = fee_under(20000, date(2026, 2, 15), [], date(2026, 3, 31), policy())
    assert explain(fee, "zh-CN") == [
        "2026-02-26 至 2026-03-31，共 34 天：¥200.00 × 0.03% × 34 天 = ¥2.04",
        "合计：¥2.04",
    ]


def test_explain_other_locales_and_cases() -> None:
    fee = fee_under(20000, date(2026, 2, 15), [], date(2026, 3, 31), policy())
    assert explain(fee, "en") == [
        "2026-02-26 to 2026-03-31, 34 days: CN¥200.00 × 0.03% × 34 days = CN¥2.04",
        "Total: CN¥2.04",
    ]
    assert explain(fee, "zh_TW")[-1] == "合計：CN¥2.04"
    nothing = fee_under(20000, date(2026, 2, 15), [], date(2026, 2, 20), policy())
    assert explain(nothing, "zh_CN") == ["无违约金"]
    capped = fee_under(20000, DUE, [], date(2026, 3, 31), policy(cap=LateFeeCap.fixed, cap_fen=100))
    assert explain(capped, "zh_CN")[-1] == "合计：¥3.90，超过上限，按 ¥1.00 计"
    court = lpr_fee(20000, DUE, [], date(2026, 2, 28), 10, [(date(2025, 1, 1), Decimal("0.0390"))])
    assert explain(court, "zh_CN")[0] == "2026-01-26 至 2026-02-28，共 34 天：¥200.00 × 3.9% ÷ 365 × 34 天 = ¥0.73"
