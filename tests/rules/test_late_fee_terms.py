"""feesvc.rules.late_fees with versions of the terms: against a day-by-day reference, and by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feesvc.rules.late_fees import (
    LateFeeCap,
    LateFeePolicy,
    LateFeeTerms,
    PrincipalChange,
    TermsVersion,
    court_likely_fee,
    explain,
    late_fee_for,
)

ONE = timedelta(days=1)
DUE = date(2026, 1, 15)


def reference(
    principal: int,
    due: date,
    changes: list[PrincipalChange],
    as_of: date,
    terms: LateFeeTerms,
    frozen: list[tuple[date, date]],
) -> int:
    """One day at a time: the version in force that day, the grace of the version on the due date
    (else the first version's), the start date of the day's version, the day's cap on the running total."""
    on_due = terms.in_force(due) or terms.versions[0]
    total = Decimal(0)
    day = due + timedelta(days=on_due.policy.grace_days + 1)
    while day <= as_of:
        version = terms.in_force(day)
        counted = (
            version is not None
            and (version.policy.starts_on is None or day >= version.policy.starts_on)
            and not any(a <= day <= b for a, b in frozen)
        )
        if counted and version is not None:
            base = principal
            for change in sorted(changes, key=lambda c: c.on):
                if change.on <= day:
                    base = change.unpaid_fen
            step = base * version.policy.daily_rate
            limit = version.policy.limit(principal)
            total = total + step if limit is None or total + step <= limit else max(total, Decimal(limit))
        day += ONE
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Case:
    principal: int
    due: date
    changes: list[PrincipalChange]
    as_of: date
    terms: LateFeeTerms
    frozen: list[tuple[date, date]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    principal = draw(st.integers(1, 500_000))
    due = DUE + timedelta(days=draw(st.integers(-30, 30)))
    as_of = due + timedelta(days=draw(st.integers(0, 400)))
    changes = []
    unpaid = principal
    for offset in sorted(draw(st.lists(st.integers(0, 400), max_size=3))):
        unpaid = draw(st.integers(0, unpaid))
        changes.append(PrincipalChange(due + timedelta(days=offset), unpaid))
    versions = []
    for offset in sorted(set(draw(st.lists(st.integers(-60, 400), min_size=1, max_size=4)))):
        cap = draw(st.sampled_from(list(LateFeeCap)))
        starts = draw(st.none() | st.integers(-30, 300))
        policy = LateFeePolicy(
            daily_rate=draw(st.sampled_from([Decimal(0), Decimal("0.0001"), Decimal("0.0003"), Decimal("0.005")])),
            grace_days=draw(st.integers(0, 20)),
            cap=cap,
            cap_fen=draw(st.integers(0, 20_000)) if cap == LateFeeCap.fixed else None,
            starts_on=None if starts is None else due + timedelta(days=starts),
        )
        versions.append(TermsVersion(due + timedelta(days=offset), policy, ref=len(versions) + 1))
    frozen = []
    for start, length in draw(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 60)), max_size=2)):
        frozen.append((due + timedelta(days=start), due + timedelta(days=start + length)))
    return Case(principal, due, changes, as_of, LateFeeTerms.of(versions), frozen)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_each_day_uses_the_terms_in_force_that_day(case: Case) -> None:
    fee = late_fee_for(case.principal, case.due, case.changes, case.as_of, case.terms, case.frozen)
    assert fee.total_fen == reference(case.principal, case.due, case.changes, case.as_of, case.terms, case.frozen)
    for segment in fee.segments:
        assert segment.terms == case.terms.in_force(segment.start) == case.terms.in_force(segment.end)
        assert segment.daily_rate == segment.terms.policy.daily_rate


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from([Decimal("0.0285"), Decimal("0.0390"), Decimal("0.15")]))
def test_the_court_likely_figure_is_the_smaller_one(case: Case, annual: Decimal) -> None:
    contract = late_fee_for(case.principal, case.due, case.changes, case.as_of, case.terms, case.frozen)
    court = court_likely_fee(
        contract,
        case.principal,
        case.due,
        case.changes,
        case.as_of,
        case.terms,
        [(date(2000, 1, 1), annual)],
        case.frozen,
    )
    assert court.total_fen <= contract.total_fen
    assert court.total_fen <= case.principal
    # Only days on which the contract charged anything count for the court either.
    contract_days = {s.start + timedelta(days=i) for s in contract.segments for i in range(s.days)}
    assert all(s.start + timedelta(days=i) in contract_days for s in court.segments for i in range(s.days))


def _policy(rate: str, grace: int = 10, cap: LateFeeCap = LateFeeCap.principal, **kw: object) -> LateFeePolicy:
    return LateFeePolicy(daily_rate=Decimal(rate), grace_days=grace, cap=cap, **kw)  # type: ignore[arg-type]


def test_a_new_rate_applies_from_its_date_only() -> None:
    terms = LateFeeTerms.of(
        [TermsVersion(date(1900, 1, 1), _policy("0.0003")), TermsVersion(date(2026, 4, 1), _policy("0.0005"))]
    )
    fee = late_fee_for(20000, DUE, [], date(2026, 4, 30), terms)
    # 26 Jan – 31 Mar at 0.0003 (390), April at 0.0005 (300).
    assert [(s.start, s.end, s.daily_rate) for s in fee.segments] == [
        (date(2026, 1, 26), date(2026, 3, 31), Decimal("0.0003")),
        (date(2026, 4, 1), date(2026, 4, 30), Decimal("0.0005")),
    ]
    assert fee.total_fen == 690


def test_the_grace_is_that_of_the_terms_on_the_due_date() -> None:
    terms = LateFeeTerms.of(
        [
            TermsVersion(date(1900, 1, 1), _policy("0.001", grace=10)),
            TermsVersion(date(2026, 2, 1), _policy("0.001", 0)),
        ]
    )
    # Due under grace 10: late from 26 Jan, whatever the later terms say.
    assert late_fee_for(10000, DUE, [], date(2026, 2, 5), terms).first_day == date(2026, 1, 26)
    # Due under grace 0: late from the next day.
    assert late_fee_for(10000, date(2026, 2, 15), [], date(2026, 2, 20), terms).first_day == date(2026, 2, 16)


def test_a_lower_cap_stops_accrual_without_taking_back_and_a_higher_one_lets_it_grow() -> None:
    terms = LateFeeTerms.of(
        [
            TermsVersion(date(1900, 1, 1), _policy("0.01", grace=0, cap=LateFeeCap.none)),
            TermsVersion(date(2026, 1, 21), _policy("0.01", grace=0, cap=LateFeeCap.fixed, cap_fen=300)),
            TermsVersion(date(2026, 1, 26), _policy("0.01", grace=0, cap=LateFeeCap.fixed, cap_fen=700)),
        ]
    )
    # 100 a day: 16–20 Jan adds 500 with no cap; the cap of 300 adds nothing but keeps the 500;
    # from 26 Jan the cap of 700 lets two more days in.
    assert late_fee_for(10000, DUE, [], date(2026, 1, 25), terms).total_fen == 500
    fee = late_fee_for(10000, DUE, [], date(2026, 2, 28), terms)
    assert (fee.total_fen, fee.capped) == (700, True)


def test_days_before_any_terms_and_a_zero_rate_accrue_nothing() -> None:
    terms = LateFeeTerms.of([TermsVersion(date(2026, 3, 1), _policy("0.0003", grace=0))])
    fee = late_fee_for(20000, DUE, [], date(2026, 3, 31), terms)
    assert fee.first_day == date(2026, 3, 1) and fee.total_fen == 31 * 6
    assert late_fee_for(20000, DUE, [], date(2026, 3, 31), LateFeeTerms.always(_policy("0"))).total_fen == 0


def test_versions_must_be_one_a_day_in_order() -> None:
    with pytest.raises(ValueError, match="one per day"):
        LateFeeTerms((TermsVersion(DUE, _policy("0.0003")), TermsVersion(DUE, _policy("0.0005"))))


@pytest.mark.parametrize(
    ("policy", "contract_fen"),
    [
        (_policy("0.0003", grace=0, cap=LateFeeCap.fixed, cap_fen=5000), 5000),  # a fixed cap of ¥50
        (_policy("0.0003", grace=0, starts_on=date(2026, 10, 1)), 61 * 75),  # a start date
        (_policy("0.0001", grace=0), 333 * 25),  # 万分之一
        (_policy("0", grace=0), 0),  # no late-fee clause
    ],
)
def test_a_milder_contract_is_never_raised_by_the_court_figure(policy: LateFeePolicy, contract_fen: int) -> None:
    """The issue's reproductions: each contract figure was below the court-likely one of the same charge."""
    terms = LateFeeTerms.always(policy)
    due, as_of = date(2026, 1, 1), date(2026, 11, 30)
    contract = late_fee_for(250000, due, [], as_of, terms)
    court = court_likely_fee(contract, 250000, due, [], as_of, terms, [(date(2020, 1, 1), Decimal("0.0390"))])
    assert contract.total_fen == contract_fen
    assert court.total_fen <= contract.total_fen


def test_the_explanation_says_from_when_each_lines_terms_applied() -> None:
    terms = LateFeeTerms.of(
        [TermsVersion(date(1900, 1, 1), _policy("0.0003")), TermsVersion(date(2026, 4, 1), _policy("0.0005"))]
    )
    assert explain(late_fee_for(20000, DUE, [], date(2026, 4, 30), terms), "zh_CN") == [
        "2026-01-26 至 2026-03-31，共 65 天：¥200.00 × 0.03% × 65 天 = ¥3.90（原有条款）",
        "2026-04-01 至 2026-04-30，共 30 天：¥200.00 × 0.05% × 30 天 = ¥3.00（2026-04-01起的条款）",
        "合计：¥6.90",
    ]
    # One version: nothing to say.
    assert explain(late_fee_for(20000, DUE, [], date(2026, 3, 31), terms), "en")[0] == (
        "2026-01-26 to 2026-03-31, 65 days: CN¥200.00 × 0.03% × 65 days = CN¥3.90"
    )
