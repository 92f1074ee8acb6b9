"""The limitation clock of one billing period (feesvc.evidence.limitation): pure functions.

Three years from the due date (民法典 188), the last day being the corresponding day (202); each
delivered demand, acknowledgement, part payment or legal action restarts it (195); nothing after
expiry restarts it, except an acknowledgement, which waives the defence (诉讼时效规定 §19).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feesvc.evidence.limitation import (
    EXPIRING_WITHIN_DAYS,
    Interruption,
    InterruptionKind,
    LimitationStatus,
    expiry_from,
    limitation_status,
)

DUE = date(2023, 3, 1)
EXPIRES = date(2026, 3, 1)  # the corresponding day three years on: the last day in time
DAY = timedelta(days=1)
KINDS = list(InterruptionKind)


def test_three_years_from_the_due_date_the_last_day_included() -> None:
    assert expiry_from(DUE) == EXPIRES
    well_before = limitation_status(DUE, [], EXPIRES - timedelta(days=EXPIRING_WITHIN_DAYS + 1))
    assert (well_before.status, well_before.clock_start, well_before.last_interruption) == (
        LimitationStatus.ok,
        DUE,
        None,
    )
    last_ok_day = EXPIRES - timedelta(days=EXPIRING_WITHIN_DAYS)
    assert limitation_status(DUE, [], last_ok_day).status == LimitationStatus.expiring
    day_before = limitation_status(DUE, [], EXPIRES - DAY)
    assert (day_before.status, day_before.days_left) == (LimitationStatus.expiring, 1)
    on_the_day = limitation_status(DUE, [], EXPIRES)
    assert (on_the_day.status, on_the_day.days_left, on_the_day.expires_on) == (LimitationStatus.expiring, 0, EXPIRES)
    day_after = limitation_status(DUE, [], EXPIRES + DAY)
    assert (day_after.status, day_after.days_left) == (LimitationStatus.expired, -1)
    assert day_after.expired_on == EXPIRES + DAY


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_interruption_restarts_the_clock_from_its_day(kind: InterruptionKind) -> None:
    on = date(2025, 6, 10)
    event = Interruption(kind, on, "source")
    # Without it the period expired on 2026-03-02; with it the clock runs to 2028-06-10.
    assert limitation_status(DUE, [], date(2026, 3, 2)).status == LimitationStatus.expired
    result = limitation_status(DUE, [event], date(2026, 3, 2))
    assert (result.status, result.clock_start, result.expires_on) == (LimitationStatus.ok, on, date(2028, 6, 10))
    assert result.last_interruption == event and result.counted == (event,)
    # Boundaries of the new clock.
    assert limitation_status(DUE, [event], date(2028, 6, 9)).status == LimitationStatus.expiring
    assert limitation_status(DUE, [event], date(2028, 6, 10)).status == LimitationStatus.expiring
    assert limitation_status(DUE, [event], date(2028, 6, 11)).status == LimitationStatus.expired


def test_the_latest_of_several_interruptions_counts_whatever_their_order() -> None:
    events = [
        Interruption(InterruptionKind.part_payment, date(2024, 1, 5), "收据 2024-000012"),
        Interruption(InterruptionKind.acknowledgement, date(2025, 11, 30), "installment plan #3"),
        Interruption(InterruptionKind.demand_delivered, date(2024, 9, 1), "letter X"),
        Interruption(InterruptionKind.legal_action, date(2023, 7, 1), "payment order application"),
    ]
    result = limitation_status(DUE, events, date(2026, 6, 1))
    assert result.clock_start == date(2025, 11, 30) and result.expires_on == date(2028, 11, 30)
    assert [e.on for e in result.counted] == [date(2023, 7, 1), date(2024, 1, 5), date(2024, 9, 1), date(2025, 11, 30)]
    assert result.last_interruption is not None and result.last_interruption.kind == InterruptionKind.acknowledgement
    assert result.status == LimitationStatus.ok and not result.ignored


def test_a_chain_of_interruptions_each_within_the_running_clock_keeps_a_period_alive() -> None:
    events = [Interruption(InterruptionKind.demand_delivered, date(2023 + 2 * n, 2, 1)) for n in range(1, 4)]
    result = limitation_status(DUE, events, date(2030, 1, 1))
    assert (result.status, result.expires_on) == (LimitationStatus.ok, date(2032, 2, 1))


def test_interruptions_before_the_due_date_or_after_the_pack_date_do_nothing() -> None:
    early = Interruption(InterruptionKind.acknowledgement, DUE, "signed on the due date")
    late = Interruption(InterruptionKind.demand_delivered, date(2026, 5, 1))
    result = limitation_status(DUE, [early, late], date(2026, 4, 1))
    assert result.status == LimitationStatus.expired and result.counted == ()
    assert [(i.interruption, i.reason) for i in result.ignored] == [(early, "before_due"), (late, "after_as_of")]


@pytest.mark.parametrize(
    "kind", [InterruptionKind.demand_delivered, InterruptionKind.part_payment, InterruptionKind.legal_action]
)
def test_after_expiry_a_demand_a_payment_or_a_suit_does_not_revive_the_claim(kind: InterruptionKind) -> None:
    after = Interruption(kind, date(2026, 5, 1))
    result = limitation_status(DUE, [after], date(2026, 6, 1))
    assert result.status == LimitationStatus.expired and result.expires_on == EXPIRES
    assert result.counted == () and [i.reason for i in result.ignored] == ["after_expiry"]
    assert result.defence_waived_on is None and result.expired_on == EXPIRES + DAY


def test_an_acknowledgement_after_expiry_waives_the_defence_and_starts_a_new_clock() -> None:
    demand = Interruption(InterruptionKind.demand_delivered, date(2026, 4, 1), "after expiry: no effect")
    signed = Interruption(InterruptionKind.acknowledgement, date(2026, 5, 1), "installment plan #9")
    later = Interruption(InterruptionKind.demand_delivered, date(2027, 1, 10), "counts again")
    result = limitation_status(DUE, [later, signed, demand], date(2027, 6, 1))
    assert result.defence_waived_on == date(2026, 5, 1) and result.expired_on == EXPIRES + DAY
    assert result.status == LimitationStatus.ok and result.expires_on == date(2030, 1, 10)
    assert result.counted == (signed, later) and [i.interruption for i in result.ignored] == [demand]


def test_an_acknowledgement_on_the_expiry_day_is_still_in_time() -> None:
    signed = Interruption(InterruptionKind.acknowledgement, EXPIRES)
    result = limitation_status(DUE, [signed], date(2026, 6, 1))
    assert result.defence_waived_on is None and result.expired_on is None
    assert result.expires_on == date(2029, 3, 1) and result.status == LimitationStatus.ok


def test_a_demand_delivered_on_the_expiry_day_counts_and_the_next_day_does_not() -> None:
    on_time = limitation_status(DUE, [Interruption(InterruptionKind.demand_delivered, EXPIRES)], date(2026, 6, 1))
    assert on_time.status == LimitationStatus.ok and on_time.expires_on == date(2029, 3, 1)
    late_demand = Interruption(InterruptionKind.demand_delivered, EXPIRES + DAY)
    too_late = limitation_status(DUE, [late_demand], date(2026, 6, 1))
    assert too_late.status == LimitationStatus.expired and too_late.ignored[0].reason == "after_expiry"


def test_leap_days_end_on_february_28th() -> None:
    # 民法典 202: no corresponding day, so the last day of the month: 2027-02-28, never 03-01.
    leap = date(2024, 2, 29)
    assert expiry_from(leap) == date(2027, 2, 28)
    assert limitation_status(leap, [], date(2027, 2, 28)).status == LimitationStatus.expiring
    assert limitation_status(leap, [], date(2027, 3, 1)).status == LimitationStatus.expired
    paid_on_leap_day = Interruption(InterruptionKind.part_payment, leap)
    restarted = limitation_status(date(2023, 1, 1), [paid_on_leap_day], date(2027, 1, 1))
    assert restarted.expires_on == date(2027, 2, 28)
    # A clock ending in a leap year keeps the day: 2025-02-28 + 3 years is 2028-02-28, not the 29th.
    assert expiry_from(date(2025, 2, 28)) == date(2028, 2, 28)
    assert expiry_from(date(2021, 2, 28)) == date(2024, 2, 28)


days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


@given(due=days, offsets=st.lists(st.integers(min_value=-400, max_value=2500), max_size=6), after=st.integers(0, 4000))
def test_the_status_follows_the_last_counted_interruption(due: date, offsets: list[int], after: int) -> None:
    as_of = due + timedelta(days=after)
    events = [Interruption(KINDS[n % len(KINDS)], due + timedelta(days=o)) for n, o in enumerate(offsets)]
    result = limitation_status(due, events, as_of)
    start = result.last_interruption.on if result.last_interruption else due
    assert result.clock_start == start and result.expires_on == expiry_from(start)
    assert (result.status == LimitationStatus.expired) == (as_of > result.expires_on)
    assert len(result.counted) + len(result.ignored) == len(events)
    for counted in result.counted:
        assert due < counted.on <= as_of
