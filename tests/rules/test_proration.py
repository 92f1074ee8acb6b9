"""Shares of a period split by a handover (rules.proration)."""

from datetime import date

import pytest

from feesvc.rules.proration import Holding, SaleProration, period_shares

AUGUST = (date(2026, 8, 1), date(2026, 8, 31))


def test_one_owner_all_period_is_one_whole_share() -> None:
    [share] = period_shares(25_000, *AUGUST, [Holding(1, date(2020, 1, 1), None)])
    assert (share.owner_id, share.amount_fen, share.whole_period) == (1, 25_000, True)


def test_a_sale_on_the_16th_splits_by_days_and_the_shares_add_up() -> None:
    seller = Holding(1, date(2020, 1, 1), date(2026, 8, 15))
    buyer = Holding(2, date(2026, 8, 16), None)
    shares = period_shares(25_000, *AUGUST, [buyer, seller])
    assert [(s.owner_id, s.days, s.amount_fen) for s in shares] == [(1, 15, 12_097), (2, 16, 12_903)]
    assert sum(s.amount_fen for s in shares) == 25_000


def test_the_last_owner_takes_the_rounding_remainder() -> None:
    holdings = [Holding(1, date(2020, 1, 1), date(2026, 8, 10)), Holding(2, date(2026, 8, 11), date(2026, 8, 20))]
    holdings.append(Holding(3, date(2026, 8, 21), None))
    shares = period_shares(10_001, *AUGUST, holdings)
    assert [s.days for s in shares] == [10, 10, 11]
    assert [s.amount_fen for s in shares] == [3_226, 3_226, 3_549]


def test_days_nobody_owned_are_a_share_without_owner() -> None:
    shares = period_shares(31_000, *AUGUST, [Holding(2, date(2026, 8, 11), None)])
    assert [(s.owner_id, s.days, s.amount_fen) for s in shares] == [(None, 10, 10_000), (2, 21, 21_000)]


def test_owner_on_period_start_takes_the_whole_period() -> None:
    seller = Holding(1, date(2020, 1, 1), date(2026, 8, 15))
    buyer = Holding(2, date(2026, 8, 16), None)
    [share] = period_shares(25_000, *AUGUST, [seller, buyer], SaleProration.owner_on_period_start)
    assert (share.owner_id, share.amount_fen) == (1, 25_000)


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        period_shares(1, date(2026, 8, 2), date(2026, 8, 1), [])
