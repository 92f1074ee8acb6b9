"""Prepaid periods over time (issue 14 item 7, DOMAIN.md "Prepay discount", ledger rules 6–7).

Each test passes its business dates explicitly: the services take ``today``, so a refund "after one
month" is a refund on a day one month after the booking, whatever day the suite runs on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import BillingResult, run_billing
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import balance, open_debits, prepaid_credit_fen
from feesvc.payments.models import Method, Payment
from feesvc.payments.receipt import receipt_pdf
from feesvc.prepay import refund as refunds
from feesvc.prepay import service
from feesvc.prepay.schemas import PrepaymentCreate, PrepaymentOut, PrepayRefundCreate, PrepayRefundOut, QuoteCreate
from feesvc.rules.prepay import difference_reason, refund_terms
from tests.support import Api, Estate, problem
from tests.test_receipt import compact, pdf_text

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


# ---------------------------------------------------------------------------------------------
# A new fee standard inside prepaid periods: 多退少补 when those periods are billed


async def new_rate(api: Api, estate: Estate, rate: str, effective_from: str, posted_on: str) -> int:
    standard = await api.ok(
        await api.post(
            f"/api/v1/estates/{estate.id}/fee-standards",
            {
                "unit_use": "residential",
                "item": "service_fee",
                "item_name": "物业服务费",
                "basis": "per_m2_month",
                "rate": rate,
                "effective_from": effective_from,
                "posted_on": posted_on,
                "decision_kind": "owners_vote",
                "decision_ref": "2026年业主大会第3号决议",
            },
        )
    )
    return int(standard["id"])


async def bill_on(api: Api, estate: Estate, period: str, day: date) -> BillingResult:
    async with api.sessions() as s:
        return await run_billing(s, COMMAND_LINE, estate.id, period, day)


async def differences(api: Api, unit: int) -> list[LedgerEntry]:
    async with api.sessions() as s:
        query = select(LedgerEntry).where(
            LedgerEntry.unit_id == unit, col(LedgerEntry.dedupe_key).like("prepaid-difference:%")
        )
        return list((await s.execute(query.order_by(col(LedgerEntry.id)))).scalars())


async def test_a_rate_rise_inside_prepaid_periods_is_billed_when_they_are_billed(api: Api) -> None:
    estate = await tiered_estate(api, units=2)
    unit, neighbour = estate.unit_ids
    booked = await book(api, unit, 12)  # 2026-01 … 2026-12 at 10 % off: 9,000 net a month
    standard = await new_rate(api, estate, "1.20", "2026-07-01", "2026-05-20")  # 100 元 → 120 元 a month

    june = await bill_on(api, estate, "2026-06", date(2026, 6, 1))
    assert (june.prepaid_differences, june.prepaid_difference_fen) == (0, 0)
    july = await bill_on(api, estate, "2026-07", date(2026, 7, 1))
    # 2,000 more gross, less the 10 % it was prepaid at: 1,800 billed on the prepaid July charge.
    assert (july.prepaid_differences, july.prepaid_difference_fen) == (1, 1800)
    [rise] = await differences(api, unit)
    july_charge = next(c for c in booked.payment.allocations if c.period == "2026-07")
    assert (rise.kind, rise.amount_fen, rise.period, rise.item) == (
        EntryKind.adjustment,
        1800,
        "2026-07",
        "service_fee",
    )
    assert rise.settles_entry_id == july_charge.entry_id and rise.fee_standard_id == standard
    assert rise.effective_date == date(2026, 7, 1)
    assert rise.reason == difference_reason("zh_CN", "物业服务费", Decimal("1.00"), Decimal("1.20"), Decimal("10"))
    assert rise.detail is not None and rise.detail["gross_difference_fen"] == 2000
    assert (rise.detail["discount_fen"], rise.detail["percent_off"]) == (200, "10")
    assert (rise.detail["old_rate"], rise.detail["new_rate"]) == ("1.00", "1.20")
    assert rise.detail["prepayment_payment_id"] == booked.payment.id
    async with api.sessions() as s:
        assert await balance(s, unit) == 1800
        [open_july] = [d for d in await open_debits(s, unit) if d.open_fen]
        assert (open_july.entry_id, open_july.open_fen) == (july_charge.entry_id, 1800)
        # The neighbour, billed as usual, is charged the new rate itself: no difference.
        assert await balance(s, neighbour) == 10000 + 12000

    # Billing again posts nothing more.
    again = await bill_on(api, estate, "2026-07", date(2026, 7, 2))
    assert (again.prepaid_differences, again.prepaid_difference_fen) == (0, 0)
    assert len(await differences(api, unit)) == 1
    august = await bill_on(api, estate, "2026-08", date(2026, 8, 1))
    assert august.prepaid_difference_fen == 1800 and len(await differences(api, unit)) == 2


async def test_a_rate_cut_inside_prepaid_periods_is_credited_and_used_on_what_is_owed(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    booked = await book(api, unit, 6)  # 2026-01 … 2026-06 at 5 % off: 9,500 net a month
    await new_rate(api, estate, "0.80", "2026-04-01", "2026-03-10")
    april = await bill_on(api, estate, "2026-04", date(2026, 4, 1))
    # 2,000 less gross, of which the owner paid 95 %: 1,900 credited.
    assert (april.prepaid_differences, april.prepaid_difference_fen) == (1, -1900)
    [cut] = await differences(api, unit)
    assert (cut.kind, cut.amount_fen, cut.period, cut.settles_entry_id) == (
        EntryKind.prepaid_credit,
        -1900,
        "2026-04",
        None,
    )
    assert cut.detail is not None and cut.detail["prepaid_charge_id"] == next(
        a.entry_id for a in booked.payment.allocations if a.period == "2026-04"
    )
    assert "多退少补" in (cut.reason or "") and "5%" in (cut.reason or "")
    async with api.sessions() as s:
        assert await prepaid_credit_fen(s, unit) == 1900 and await balance(s, unit) == -1900
    await bill_on(api, estate, "2026-05", date(2026, 5, 1))
    await bill_on(api, estate, "2026-06", date(2026, 6, 1))
    # July is not prepaid: billed at 80 元 and paid from the 5,700 credited for April to June.
    july = await bill_on(api, estate, "2026-07", date(2026, 7, 1))
    assert july.prepaid_differences == 0 and july.credit_applied_fen == 5700
    async with api.sessions() as s:
        assert await balance(s, unit) == 8000 - 5700 and await prepaid_credit_fen(s, unit) == 0


async def test_prepaid_periods_without_a_discount_take_the_whole_difference(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 3)  # below the smallest tier: no discount
    await new_rate(api, estate, "1.25", "2026-03-01", "2026-02-01")
    march = await bill_on(api, estate, "2026-03", date(2026, 3, 1))
    assert march.prepaid_difference_fen == 2500
    [rise] = await differences(api, unit)
    assert rise.detail is not None and (rise.detail["discount_fen"], rise.detail["percent_off"]) == (0, None)


async def test_kept_periods_with_a_difference_are_repriced_with_it(api: Api) -> None:
    """April to July carry a rise (12,000 gross, 10 % of the 2,000 difference off): kept at 7 months
    they are re-priced at 5 % of their gross with the difference, like any other kept month."""
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 12)
    await new_rate(api, estate, "1.20", "2026-04-01", "2026-03-01")
    for month in range(4, 8):
        assert (await bill_on(api, estate, f"2026-{month:02d}", date(2026, month, 1))).prepaid_difference_fen == 1800
    done = await refund(api, unit, "2026-08", date(2026, 7, 10))
    [kept] = done.kept
    # Had: 1,000 a month, and 1,200 from April (the difference's 200 with it); keep 5 %.
    assert (kept.months, kept.discount_before_fen, kept.discount_fen) == (7, 3 * 1000 + 4 * 1200, 3 * 500 + 4 * 600)
    assert kept.taken_back_fen == 7800 - 3900
    assert done.refunded_fen == 5 * 9000 - 3900
    # The discount entries standing: 500 a month, and from April 600 less the 200 in the difference.
    assert await standing_discounts(api, unit) == {
        **{f"2026-{m:02d}": 500 for m in range(1, 4)},
        **{f"2026-{m:02d}": 400 for m in range(4, 8)},
    }
    async with api.sessions() as s:
        # What stays owed: the four differences, unpaid; each kept month costs 95 % of its gross.
        assert await balance(s, unit) == 4 * 1800 and await prepaid_credit_fen(s, unit) == 0


async def test_a_refund_of_periods_billed_ahead_with_a_rise_reverses_the_rise(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 12)
    await new_rate(api, estate, "1.20", "2026-07-01", "2026-05-20")
    ahead = await bill_on(api, estate, "2026-07", date(2026, 6, 25))  # billed before the month starts
    assert ahead.prepaid_difference_fen == 1800
    done = await refund(api, unit, "2026-07", date(2026, 6, 28))
    assert done.periods[0] == "2026-07" and [k.months for k in done.kept] == [6]
    assert done.refunded_fen == 6 * 9000 - 3000
    await settled_up(api, unit)


async def test_a_refund_of_periods_billed_ahead_with_a_cut_takes_the_unused_credit_back(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 12)
    await new_rate(api, estate, "0.80", "2026-07-01", "2026-05-20")
    assert (await bill_on(api, estate, "2026-07", date(2026, 6, 25))).prepaid_difference_fen == -1800
    done = await refund(api, unit, "2026-07", date(2026, 6, 28))
    # Paid 9,000 a month for July to December; the July credit, unused, is taken back with them.
    assert done.refunded_fen == 6 * 9000 - 3000
    await settled_up(api, unit)


async def test_kept_periods_below_every_tier_lose_the_discount_of_their_difference_too(api: Api) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    await book(api, unit, 12)
    await new_rate(api, estate, "1.20", "2026-02-01", "2026-01-20")
    for month in (2, 3):
        await bill_on(api, estate, f"2026-{month:02d}", date(2026, month, 1))
    done = await refund(api, unit, "2026-04", date(2026, 3, 10))
    [kept] = done.kept
    assert (kept.months, kept.tier, kept.discount_before_fen, kept.discount_fen) == (3, None, 1000 + 2 * 1200, 0)
    assert done.refunded_fen == 9 * 9000 - 3400
    assert await standing_discounts(api, unit) == {}
    async with api.sessions() as s:
        # Kept at full price: 10,000 + 2 × 12,000, of which 27,000 paid and 3,400 from the refund.
        assert await balance(s, unit) == 34000 - 27000 - 3400
    async with api.sessions() as s:
        taken = await s.execute(
            select(LedgerEntry.period, LedgerEntry.amount_fen).where(
                LedgerEntry.unit_id == unit,
                LedgerEntry.kind == EntryKind.adjustment,
                col(LedgerEntry.dedupe_key).is_(None),
            )
        )
        assert sorted(taken.all()) == [("2026-02", 200), ("2026-03", 200)]


async def test_the_receipt_of_a_prepayment_states_the_refund_rule(api: Api, tmp_path: Path) -> None:
    estate = await tiered_estate(api)
    unit = estate.unit_ids[0]
    booked = await book(api, unit, 12)
    async with api.sessions() as s:
        pdf = await receipt_pdf(s, booked.payment.id)
    flat = compact(pdf_text(pdf, tmp_path))
    assert compact(refund_terms("zh_CN")) in flat
    assert "重新计算" in flat
