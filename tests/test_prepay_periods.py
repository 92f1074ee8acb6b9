"""Prepaid periods over time (issue 14 item 7, DOMAIN.md "Prepay discount", ledger rules 6–7).

Each test passes its business dates explicitly: the services take ``today``, so a refund "after one
month" is a refund on a day one month after the booking, whatever day the suite runs on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import Any

import pytest
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import balance, open_debits, prepaid_credit_fen
from feesvc.payments.models import Method, Payment
from feesvc.prepay import refund as refunds
from feesvc.prepay import service
from feesvc.prepay.schemas import PrepaymentCreate, PrepaymentOut, PrepayRefundCreate, PrepayRefundOut, QuoteCreate
from feesvc.rules.prepay import refund_terms
from tests.support import Api, Estate, problem

# 100.00 m² × 1.00 元 = 100 元 a month; tiers: 6 months 5 % off, 12 months 10 % off.
MONTHLY = 10000
TIERS = [{"min_months": 6, "percent_off": "5"}, {"min_months": 12, "percent_off": "10"}]
BOOKED_ON = date(2026, 1, 5)


async def tiered_estate(api: Api, units: int = 1, **settings: Any) -> Estate:
    estate = await api.make_estate(units=units, rate="1.00", area="100.00", settings=settings or None)
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", TIERS))
    return estate


async def book(api: Api, unit: int, months: int, day: date = BOOKED_ON, first: str | None = None) -> PrepaymentOut:
    async with api.sessions() as s:
        quote = await service.quote_for_unit(s, COMMAND_LINE, unit, QuoteCreate(months=months, first_period=first), day)
    async with api.sessions() as s:
        data = PrepaymentCreate(months=months, method=Method.wechat, expected_net_fen=quote.net_fen, first_period=first)
        out, created = await service.record_prepayment(s, COMMAND_LINE, unit, data, uuid.uuid4().hex, day)
    assert created and out.quote == quote
    return out


async def refund(api: Api, unit: int, from_period: str, day: date, reason: str = "物业服务合同终止") -> PrepayRefundOut:
    async with api.sessions() as s:
        data = PrepayRefundCreate(from_period=from_period, reason=reason, method=Method.cash)
        return await refunds.refund_prepayment(s, COMMAND_LINE, unit, data, day)


async def standing_discounts(api: Api, unit: int) -> dict[str, int]:
    """Per period: the discount still standing (discount entries no reversal took back)."""
    async with api.sessions() as s:
        reversed_ids = select(LedgerEntry.reverses_entry_id).where(col(LedgerEntry.reverses_entry_id).is_not(None))
        rows = await s.execute(
            select(LedgerEntry.period, LedgerEntry.amount_fen).where(
                LedgerEntry.unit_id == unit,
                LedgerEntry.kind == EntryKind.discount,
                col(LedgerEntry.id).not_in(reversed_ids),
            )
        )
        out: Counter[str] = Counter()
        for period, amount in rows.all():
            out[period or ""] += -amount
        return dict(out)


async def settled_up(api: Api, unit: int) -> None:
    async with api.sessions() as s:
        assert await balance(s, unit) == 0
        assert await prepaid_credit_fen(s, unit) == 0
        assert [d for d in await open_debits(s, unit) if d.open_fen] == []


async def test_refunded_after_one_month_the_kept_month_keeps_no_discount(api: Api) -> None:
    """DOMAIN.md's example: 12 months at 10 % off, refunded after 1; one month earns no tier."""
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    booked = await book(api, unit, 12)
    assert (booked.quote.gross_fen, booked.quote.discount_fen, booked.quote.net_fen) == (120000, 12000, 108000)

    done = await refund(api, unit, "2026-02", date(2026, 1, 20))
    assert done.periods == [f"2026-{m:02d}" for m in range(2, 13)]
    assert done.charges_reversed_fen == 11 * MONTHLY
    # The whole discount is taken back: 11 refunded months' and the kept month's.
    assert done.discount_taken_back_fen == 12000
    [kept] = done.kept
    assert (kept.payment_id, kept.periods, kept.months, kept.tier) == (booked.payment.id, ["2026-01"], 1, None)
    assert (kept.discount_before_fen, kept.discount_fen, kept.taken_back_fen) == (1000, 0, 1000)
    # Paid for the 11 months: 99,000; less the kept month's 1,000 taken back.
    assert done.refunded_fen == 98000 and done.owed_fen == 0
    assert done.refund_terms == refund_terms("zh_CN")
    assert await standing_discounts(api, unit) == {}
    await settled_up(api, unit)


async def test_refunded_after_seven_months_the_kept_months_get_the_six_month_tier(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    booked = await book(api, unit, 12)
    done = await refund(api, unit, "2026-08", date(2026, 7, 10))
    [kept] = done.kept
    assert kept.months == 7 and kept.tier is not None and (kept.tier.min_months, kept.tier.percent_off) == (6, "5")
    assert (kept.discount_before_fen, kept.discount_fen, kept.taken_back_fen) == (7000, 3500, 3500)
    assert done.discount_taken_back_fen == 5000 + 3500
    assert done.refunded_fen == 5 * 9000 - 3500
    assert await standing_discounts(api, unit) == {f"2026-{m:02d}": 500 for m in range(1, 8)}
    await settled_up(api, unit)
    # The booking as first answered is unchanged: a retry of it still returns the first answer.
    async with api.sessions() as s:
        assert await service.prepayment_out(s, booked.payment.id) == booked


async def test_a_second_refund_reprices_again_from_what_is_kept(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 12)
    first = await refund(api, unit, "2026-10", date(2026, 7, 5))
    assert [k.months for k in first.kept] == [9] and first.refunded_fen == 3 * 9000 - 4500
    # Months 8 and 9 kept 500 each, paid 9,000 + 500 (the take-back settled from the first refund).
    second = await refund(api, unit, "2026-08", date(2026, 7, 20), reason="业主再次申请退款")
    assert second.periods == ["2026-08", "2026-09"]
    assert [(k.months, k.taken_back_fen) for k in second.kept] == [(7, 0)]
    assert second.discount_taken_back_fen == 1000 and second.refunded_fen == 2 * 9500
    assert await standing_discounts(api, unit) == {f"2026-{m:02d}": 500 for m in range(1, 8)}
    await settled_up(api, unit)


async def test_the_quote_and_the_booking_state_the_refund_rule(api: Api) -> None:
    estate = await tiered_estate(api, locale="zh_TW")
    unit = estate.unit_ids[0]
    booked = await book(api, unit, 6)
    assert booked.quote.refund_terms == refund_terms("zh_TW")
    assert "重新計算" in booked.quote.refund_terms


# ---------------------------------------------------------------------------------------------
# Never past the estate's service contract (DOMAIN.md ledger rule 7: 杭州 §55)


async def quote_problem(api: Api, unit: int, months: int, day: date, first: str | None = None) -> InvalidInput:
    async with api.sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await service.quote_for_unit(s, COMMAND_LINE, unit, QuoteCreate(months=months, first_period=first), day)
    return refused.value


async def test_the_contract_end_date_is_an_estate_setting(api: Api) -> None:
    estate = await tiered_estate(api)
    path = f"/api/v1/estates/{estate.id}"
    settings = (await api.ok(await api.get(path)))["settings"]
    assert settings["service_contract_ends_on"] is None  # no end: the default
    changed = await api.ok(await api.put(f"{path}/settings", {**settings, "service_contract_ends_on": "2026-06-30"}))
    assert changed["settings"]["service_contract_ends_on"] == "2026-06-30"
    assert (await api.ok(await api.get(path)))["settings"]["service_contract_ends_on"] == "2026-06-30"
    problem(await api.put(f"{path}/settings", {**settings, "service_contract_ends_on": "2026-02-30"}), 400)
    cleared = await api.ok(await api.put(f"{path}/settings", {**settings, "service_contract_ends_on": None}))
    assert cleared["settings"]["service_contract_ends_on"] is None


async def test_a_prepayment_never_runs_past_the_contract_end(api: Api) -> None:
    estate = await tiered_estate(api, service_contract_ends_on="2026-06-30")
    unit = estate.unit_ids[0]
    refused = await quote_problem(api, unit, 12, BOOKED_ON)
    assert refused.errors[0].field == "months"
    assert "service_contract_ends_on" in refused.detail and "2026-06-30" in refused.detail
    assert "at most 6 months" in refused.detail
    # Up to the end itself is allowed.
    booked = await book(api, unit, 6)
    assert booked.quote.last_period == "2026-06"


async def test_a_contract_ending_inside_a_month_stops_before_that_month(api: Api) -> None:
    estate = await tiered_estate(api, service_contract_ends_on="2026-06-15")
    unit = estate.unit_ids[0]
    assert "at most 5 months" in (await quote_problem(api, unit, 6, BOOKED_ON)).detail
    after = await quote_problem(api, unit, 1, BOOKED_ON, first="2026-07")
    assert after.errors[0].field == "first_period" and "2026-06-15" in after.detail


async def test_the_booking_refuses_past_the_contract_end_and_writes_nothing(api: Api) -> None:
    estate = await tiered_estate(api, service_contract_ends_on="2026-03-31")
    unit = estate.unit_ids[0]
    data = PrepaymentCreate(months=6, method=Method.cash, expected_net_fen=57000)
    async with api.sessions() as s:
        with pytest.raises(InvalidInput) as refused:
            await service.record_prepayment(s, COMMAND_LINE, unit, data, uuid.uuid4().hex, BOOKED_ON)
        await s.rollback()
    assert refused.value.errors[0].field == "months" and "service_contract_ends_on" in refused.value.detail
    assert await api.count(LedgerEntry, LedgerEntry.unit_id == unit) == 0
    assert await api.count(Payment, Payment.unit_id == unit) == 0


async def test_the_api_answers_a_problem_naming_the_field(api: Api) -> None:
    """Through HTTP (today's date): a contract that ended yesterday refuses any prepayment."""
    yesterday = date.fromordinal(business_today().toordinal() - 1)
    estate = await tiered_estate(api, service_contract_ends_on=yesterday.isoformat())
    unit = estate.unit_ids[0]
    response = await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 1}, Role.cashier)
    assert "service_contract_ends_on" in problem(response, 422, "first_period")["detail"]
    body = {"months": 1, "method": "cash", "expected_net_fen": 10000}
    response = await api.post(
        f"/api/v1/units/{unit}/prepayments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert "service_contract_ends_on" in problem(response, 422, "first_period")["detail"]
    assert await api.count(LedgerEntry, LedgerEntry.unit_id == unit) == 0
