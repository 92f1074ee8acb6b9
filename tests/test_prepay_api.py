"""Prepayment (预缴) through the API: tiers, quotes, booking, idempotent retries, refunds.

Dates are relative to the business day the suite runs on: prepayments cover the current and later
periods, and a period counts as served once it has started.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import col

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.models import LedgerEntry
from feesvc.payments.models import Payment, Receipt
from feesvc.prepay.models import PrepayDiscountTier
from tests.support import Api, Estate, problem

TODAY = business_today()
THIS = f"{TODAY.year:04d}-{TODAY.month:02d}"

# 89.57 m² × 2.35 元 = 210.4895 元 → 21049 fen; from the rate change 89.57 × 2.48 = 222.1336 → 22213.
AREA, OLD_RATE, NEW_RATE = "89.57", "2.35", "2.48"
OLD_FEE, NEW_FEE, PARKING = 21049, 22213, 5000
RATE_CHANGE_AFTER = 3  # the new rate applies from the fourth covered month


def month(offset: int, start: str = THIS) -> str:
    index = int(start[:4]) * 12 + int(start[5:7]) - 1 + offset
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_day(period: str) -> str:
    return f"{period}-01"


def key() -> str:
    return uuid.uuid4().hex


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def standard(api: Api, estate_id: int, item: str, name: str, basis: str, rate: str, start: str) -> None:
    await api.ok(
        await api.post(
            f"/api/v1/estates/{estate_id}/fee-standards",
            {
                "unit_use": "residential",
                "item": item,
                "item_name": name,
                "basis": basis,
                "rate": rate,
                "effective_from": start,
                "posted_on": min(start, TODAY.isoformat()),
                "decision_kind": "owners_vote",
                "decision_ref": "2026年业主大会第2号决议",
            },
        )
    )


async def prepay_estate(api: Api, units: int = 2, **settings: Any) -> Estate:
    """Service fee 2.35 元/m² rising to 2.48 from the fourth month on, a 50 元 parking fee, and the
    tiers: 6 months 5 % off, 12 months 10 % off."""
    estate = await api.make_estate(units=units, rate=OLD_RATE, area=AREA, settings=settings or None)
    await standard(api, estate.id, "service_fee", "物业服务费", "per_m2_month", NEW_RATE, first_day(month(3)))
    await standard(api, estate.id, "parking", "车位管理费", "fixed_month", "50.00", "2024-01-01")
    tiers = [{"min_months": 12, "percent_off": "10"}, {"min_months": 6, "percent_off": "5"}]
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", tiers))
    return estate


def expected_gross(months: int) -> list[int]:
    return [(OLD_FEE if k < RATE_CHANGE_AFTER else NEW_FEE) + PARKING for k in range(months)]


async def get_quote(api: Api, unit: int, months: int, role: Role | str = Role.cashier, **extra: Any) -> Any:
    return await api.ok(
        await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": months, **extra}, role), 200
    )


async def prepay(api: Api, unit: int, quote: dict[str, Any], idem: str | None = None, **extra: Any) -> Any:
    body = {"months": quote["months"], "method": "wechat", "expected_net_fen": quote["net_fen"], **extra}
    response = await api.post(
        f"/api/v1/units/{unit}/prepayments", body, Role.cashier, headers={"Idempotency-Key": idem or key()}
    )
    return await api.ok(response, 201)


async def written(api: Api, estate: Estate) -> tuple[int, ...]:
    """Rows a refused request must not have added."""
    return (
        await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id),
        await api.count(Payment, Payment.estate_id == estate.id),
        await api.count(Receipt, Receipt.estate_id == estate.id),
        await api.count(AuditEvent),
    )


def ledger_sum(ledger: dict[str, Any], kind: str, periods: set[str] | None = None) -> int:
    return sum(
        e["amount_fen"] for e in ledger["entries"] if e["kind"] == kind and (periods is None or e["period"] in periods)
    )


async def test_quote_six_and_twelve_months_across_a_rate_change(api: Api) -> None:
    estate = await prepay_estate(api)
    unit = estate.unit_ids[0]
    assert await api.ok(await api.get(f"/api/v1/estates/{estate.id}/prepay-tiers")) == [
        {"min_months": 6, "percent_off": "5"},
        {"min_months": 12, "percent_off": "10"},
    ]
    for months, percent in ((6, 5), (12, 10)):
        quote = await get_quote(api, unit, months)
        gross = expected_gross(months)
        discount = half_up(Decimal(sum(gross)) * percent / 100)
        assert quote["first_period"] == THIS and quote["last_period"] == month(months - 1)
        assert [p["period"] for p in quote["periods"]] == [month(k) for k in range(months)]
        assert [p["gross_fen"] for p in quote["periods"]] == gross
        assert [[line["item"] for line in p["lines"]] for p in quote["periods"]] == [
            ["parking", "service_fee"]
        ] * months
        assert quote["tier"] == {"min_months": months, "percent_off": str(percent)}
        assert (quote["gross_fen"], quote["discount_fen"], quote["net_fen"]) == (
            sum(gross),
            discount,
            sum(gross) - discount,
        )
        # The shares add up exactly, per period and per line; each is in proportion to within a fen.
        assert sum(p["discount_fen"] for p in quote["periods"]) == discount
        for period in quote["periods"]:
            assert sum(line["discount_fen"] for line in period["lines"]) == period["discount_fen"]
            assert period["net_fen"] == period["gross_fen"] - period["discount_fen"]
            assert abs(period["discount_fen"] - Decimal(discount * period["gross_fen"]) / sum(gross)) < months
        rates = [line["rate"] for p in quote["periods"] for line in p["lines"] if line["item"] == "service_fee"]
        assert rates == [OLD_RATE] * RATE_CHANGE_AFTER + [NEW_RATE] * (months - RATE_CHANGE_AFTER)
    # Fewer months than the smallest tier: no discount.
    short = await get_quote(api, unit, 2, first_period=month(1))
    assert short["tier"] is None and short["discount_fen"] == 0 and short["net_fen"] == 2 * (OLD_FEE + PARKING)


async def test_paying_books_exactly_the_quote_and_billing_skips_it(api: Api) -> None:
    estate = await prepay_estate(api)
    unit, neighbour = estate.unit_ids
    quote = await get_quote(api, unit, 6)
    before = await api.count(AuditEvent, AuditEvent.action == "prepayment.record")
    done = await prepay(api, unit, quote, payer_name="张先生")
    assert done["quote"] == quote
    payment = done["payment"]
    assert payment["amount_fen"] == quote["net_fen"] and payment["prepaid_credit_fen"] == 0
    assert payment["receipt_number"] == f"{TODAY.year}-000001"
    assert payment["payer_name"] == "张*生"  # the cashier's view of a name (registry/masking.py)
    assert sum(a["amount_fen"] for a in payment["allocations"]) == quote["net_fen"]
    assert Counter(a["period"] for a in payment["allocations"]) == {month(k): 2 for k in range(6)}
    assert await api.count(AuditEvent, AuditEvent.action == "prepayment.record") == before + 1

    ledger = await api.ledger(unit, month(5) + "-28")
    covered = {month(k) for k in range(6)}
    assert ledger_sum(ledger, "charge", covered) == quote["gross_fen"]
    assert ledger_sum(ledger, "discount", covered) == -quote["discount_fen"]
    assert ledger_sum(ledger, "payment", covered) == -quote["net_fen"]
    assert ledger["balance_fen"] == 0 and ledger["owed_fen"] == 0 and ledger["prepaid_credit_fen"] == 0
    charges = [e for e in ledger["entries"] if e["kind"] == "charge"]
    assert {e["due_date"] for e in charges} == {first_day(p) for p in covered}
    assert {e["effective_date"] for e in charges} == {TODAY.isoformat()}
    discounts = [e for e in ledger["entries"] if e["kind"] == "discount"]
    assert all(e["settles_entry_id"] in {c["id"] for c in charges} for e in discounts)
    assert {(e["detail"]["tier"], e["detail"]["percent_off"]) for e in discounts} == {(6, "5")}
    assert {e["detail"]["prepayment_payment_id"] for e in discounts} == {payment["id"]}

    # The billing run for a covered period issues the neighbour's charges and nothing for this unit.
    for period in (THIS, month(4)):
        result = await api.bill(estate.id, period, TODAY.isoformat())
        assert result["charges_issued"] == 2 and result["charges_already_issued"] == 2
        # Its two charges, their discounts and payment splits; no third charge.
        assert await api.count(LedgerEntry, LedgerEntry.unit_id == unit, LedgerEntry.period == period) == 6
        assert await api.count(LedgerEntry, LedgerEntry.unit_id == neighbour, LedgerEntry.period == period) == 2
    after = await api.ledger(unit, month(5) + "-28")
    assert after["balance_fen"] == 0 and len(after["entries"]) == len(ledger["entries"])
    # Those periods are billed now: quoting them again is refused.
    problem(
        await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 1, "first_period": THIS}),
        409,
        "first_period",
    )
    # The default first period is the one after what is booked.
    assert (await get_quote(api, unit, 1))["first_period"] == month(6)


async def test_refusals_write_nothing(api: Api) -> None:
    estate = await prepay_estate(api, prepay_cap_months=6)
    unit, neighbour = estate.unit_ids
    await api.bill(estate.id, month(-1), first_day(month(-1)))  # due on the 1st of last month, unpaid
    untouched = await written(api, estate)

    def body(months: int, **extra: Any) -> dict[str, Any]:
        return {"months": months, "method": "cash", "expected_net_fen": 100, **extra}

    async def refused(path: str, data: dict[str, Any], status: int, field: str, role: Role = Role.cashier) -> str:
        response = await api.post(path, data, role, headers={"Idempotency-Key": key()})
        return str(problem(response, status, field)["detail"])

    quote_path = f"/api/v1/units/{unit}/prepayments/quote"
    pay_path = f"/api/v1/units/{unit}/prepayments"
    assert "overdue" in await refused(quote_path, {"months": 6, "first_period": THIS}, 422, "overdue")
    assert "overdue" in await refused(pay_path, body(6, first_period=THIS), 422, "overdue")
    # The neighbour has paid: nothing overdue, so the cap and the other rules are what refuse.
    await api.ok(
        await api.post(
            "/api/v1/payments",
            {"unit_id": neighbour, "amount_fen": OLD_FEE + PARKING, "method": "cash"},
            Role.cashier,
            headers={"Idempotency-Key": key()},
        ),
        201,
    )
    untouched = await written(api, estate)
    quote_path = f"/api/v1/units/{neighbour}/prepayments/quote"
    pay_path = f"/api/v1/units/{neighbour}/prepayments"
    assert "at most 6 months" in await refused(quote_path, {"months": 7}, 422, "months")
    assert "at most 6 months" in await refused(pay_path, body(7), 422, "months")
    # Six months starting next month would reach further ahead than the cap allows.
    assert "at most 6 months" in await refused(quote_path, {"months": 6, "first_period": month(2)}, 422, "months")
    await refused(quote_path, {"months": 0}, 422, "months")
    await refused(pay_path, body(-1), 422, "months")
    await refused(quote_path, {"months": 1, "first_period": month(-2)}, 422, "first_period")
    await refused(quote_path, {"months": 1, "first_period": month(-1)}, 422, "first_period")
    await refused(quote_path, {"months": 1, "first_period": "2026-13"}, 400, "first_period")
    quote = await get_quote(api, neighbour, 6)
    stale = await refused(pay_path, body(6, expected_net_fen=quote["net_fen"] + 1), 409, "expected_net_fen")
    assert str(quote["net_fen"]) in stale
    assert await written(api, estate) == untouched


async def test_tiers_are_validated_and_audited(api: Api) -> None:
    estate = await api.make_estate(units=1)
    path = f"/api/v1/estates/{estate.id}/prepay-tiers"
    await api.ok(await api.put(path, [{"min_months": 6, "percent_off": "5"}]))
    audits = await api.count(AuditEvent, AuditEvent.action == "prepay_tiers.replace")
    # Bounds of one tier are the schema's (the OpenAPI document states them): 400 naming the field.
    for tiers, field in [
        ([{"min_months": 6, "percent_off": "5"}, {"min_months": 12, "percent_off": "100"}], "[1].percent_off"),
        ([{"min_months": 12, "percent_off": "0"}], "[0].percent_off"),
        ([{"min_months": 12, "percent_off": "-5"}], "[0].percent_off"),
        ([{"min_months": 0, "percent_off": "5"}], "[0].min_months"),
        ([{"min_months": 6, "percent_off": 100}], "[0].percent_off"),
    ]:
        problem(await api.put(path, tiers), 400, field)
    # Two tiers for the same months is the rule's to refuse.
    tiers = [{"min_months": 6, "percent_off": "5"}, {"min_months": 6, "percent_off": "8"}]
    problem(await api.put(path, tiers), 422, "[1].min_months")
    problem(await api.put(path, [{"min_months": 6, "percent_off": 9.5}]), 400)  # exact decimals only: "9.5"
    forbidden = await api.client.put(path, json=[], headers=api.headers(Role.cashier))
    problem(forbidden, 403)
    assert await api.ok(await api.get(path)) == [{"min_months": 6, "percent_off": "5"}]
    assert await api.count(PrepayDiscountTier, PrepayDiscountTier.estate_id == estate.id) == 1
    assert await api.count(AuditEvent, AuditEvent.action == "prepay_tiers.replace") == audits
    assert await api.ok(await api.put(path, [])) == []
    assert await api.ok(await api.get(path)) == []
    assert await api.count(AuditEvent, AuditEvent.action == "prepay_tiers.replace") == audits + 1


async def test_owner_quotes_own_unit_only_and_cannot_pay(api: Api) -> None:
    estate = await prepay_estate(api)
    unit, other = estate.unit_ids
    owner = await api.owner_token(estate.owner_ids[0])
    mine = await get_quote(api, unit, 6, owner)
    assert mine == await get_quote(api, unit, 6)
    problem(await api.post(f"/api/v1/units/{other}/prepayments/quote", {"months": 6}, owner), (403, 404))
    problem(await api.post("/api/v1/units/987654321/prepayments/quote", {"months": 6}), 404)
    body = {"months": 6, "method": "wechat", "expected_net_fen": mine["net_fen"]}
    paid = await api.post(f"/api/v1/units/{unit}/prepayments", body, owner, headers={"Idempotency-Key": key()})
    problem(paid, 403)
    problem(await api.post(f"/api/v1/units/{unit}/prepayments", body, Role.cashier), 400, "Idempotency-Key")
    assert await api.count(Payment, Payment.estate_id == estate.id) == 0
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id) == 0


async def test_retry_with_the_same_key_returns_the_first_prepayment(api: Api) -> None:
    estate = await prepay_estate(api)
    unit = estate.unit_ids[0]
    quote = await get_quote(api, unit, 6)
    idem = key()
    body = {"months": 6, "method": "alipay", "expected_net_fen": quote["net_fen"]}
    path = f"/api/v1/units/{unit}/prepayments"
    first = await api.post(path, body, Role.cashier, headers={"Idempotency-Key": idem})
    second = await api.post(path, body, Role.cashier, headers={"Idempotency-Key": idem})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]) == ("false", "true")
    problem(await api.post(path, {**body, "method": "cash"}, Role.cashier, headers={"Idempotency-Key": idem}), 409)
    other = f"/api/v1/units/{estate.unit_ids[1]}/prepayments"
    problem(await api.post(other, body, Role.cashier, headers={"Idempotency-Key": idem}), 409, "Idempotency-Key")
    assert await api.count(Payment, Payment.estate_id == estate.id) == 1
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id) == 6 * 2 * 3


async def test_concurrent_prepayments_book_once(api: Api) -> None:
    estate = await prepay_estate(api)
    unit = estate.unit_ids[0]
    quote = await get_quote(api, unit, 6)
    body = {"months": 6, "method": "cash", "expected_net_fen": quote["net_fen"]}
    path = f"/api/v1/units/{unit}/prepayments"
    same = key()
    keys = [same] * 3 + [key() for _ in range(3)]
    responses = await api.post_at_once(path, [body] * 6, Role.cashier, [{"Idempotency-Key": k} for k in keys])
    created = [r for r in responses if r.status_code == 201]
    # One booking wins; the others are its retries (same key) or find the periods billed (409).
    assert len({r.json()["payment"]["id"] for r in created}) == 1 and len(created) in (1, 3)
    assert all(r.status_code == 409 for r in responses if r.status_code != 201), [r.text for r in responses]
    assert await api.count(Payment, Payment.estate_id == estate.id) == 1
    assert await api.count(LedgerEntry, LedgerEntry.unit_id == unit, LedgerEntry.kind == "charge") == 12


async def test_refund_takes_back_the_whole_discount_and_reprices_the_kept_periods(api: Api) -> None:
    estate = await prepay_estate(api)
    unit = estate.unit_ids[0]
    quote = await get_quote(api, unit, 12)
    done = await prepay(api, unit, quote)
    path = f"/api/v1/units/{unit}/prepayments/refund"
    problem(await api.post(path, {"from_period": THIS, "reason": "合同终止"}), 422, "from_period")
    problem(await api.post(path, {"from_period": month(4), "reason": "合同终止"}, Role.cashier), 403)
    untouched = await written(api, estate)

    refund = await api.ok(
        await api.post(
            path, {"from_period": month(4), "reason": "物业服务合同终止，退还未到期预缴款", "method": "cash"}
        )
    )
    unserved = [p for p in quote["periods"] if p["period"] >= month(4)]
    kept_quote = [p for p in quote["periods"] if p["period"] < month(4)]
    kept = {p["period"] for p in kept_quote}
    kept_discount = sum(p["discount_fen"] for p in kept_quote)
    paid_for_unserved = sum(p["net_fen"] for p in unserved)
    assert refund["periods"] == [p["period"] for p in unserved]
    assert refund["charges_reversed_fen"] == sum(p["gross_fen"] for p in unserved)
    # The 4 months kept earn no tier (the smallest is 6 months): they keep no discount, so the
    # whole discount is taken back, the kept months' part settled from the refund.
    [kept_out] = refund["kept"]
    assert kept_out == {
        "payment_id": done["payment"]["id"],
        "periods": sorted(kept),
        "months": 4,
        "tier": None,
        "discount_before_fen": kept_discount,
        "discount_fen": 0,
        "taken_back_fen": kept_discount,
    }
    assert refund["discount_taken_back_fen"] == quote["discount_fen"]
    assert refund["refunded_fen"] == paid_for_unserved - kept_discount and refund["owed_fen"] == 0
    assert refund["prepayment_payment_ids"] == [done["payment"]["id"]]
    assert "重新计算" in refund["refund_terms"] and refund["refund_terms"] == quote["refund_terms"]

    ledger = await api.ledger(unit)
    assert ledger["balance_fen"] == 0 and ledger["owed_fen"] == 0 and ledger["prepaid_credit_fen"] == 0
    added = await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id) - untouched[0]
    new = ledger["entries"][-added:]
    kinds = Counter(e["kind"] for e in new)
    lines = 2 * len(unserved)  # service fee and parking per period
    kept_lines = 2 * len(kept)
    # Refunded: charge, discount and payment split reversed per line; kept: the discount reversed
    # and the take-back settled from the credit (a consuming and a settling entry) per line.
    assert kinds == {
        "reversal": 3 * lines + kept_lines,
        "credit_applied": 2 * kept_lines,
        "prepaid_credit": 1,
        "refund": 1,
    }
    assert all(e["reason"] == "物业服务合同终止，退还未到期预缴款" for e in new if e["kind"] in ("reversal", "refund"))
    [credit] = [e for e in new if e["kind"] == "prepaid_credit"]
    [paid_back] = [e for e in new if e["kind"] == "refund"]
    assert credit["amount_fen"] == -paid_for_unserved and paid_back["amount_fen"] == refund["refunded_fen"]
    assert paid_back["settles_entry_id"] == credit["id"] and paid_back["detail"] == {"method": "cash"}
    assert credit["detail"]["prepayment_payment_id"] == done["payment"]["id"]
    # What stays: the served and not-yet-refunded periods, paid in full (net paid plus the take-back).
    assert ledger_sum(ledger, "credit_applied", kept) == -kept_discount
    taken_back = sum(e["amount_fen"] for e in new if e["kind"] == "reversal" and e["period"] in set(refund["periods"]))
    assert taken_back == -refund["charges_reversed_fen"] + sum(p["discount_fen"] for p in unserved) + paid_for_unserved
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement"))
    assert statement["closing_balance_fen"] == 0 and statement["prepaid_credit_fen"] == 0
    assert [line["amount_fen"] for line in statement["lines"] if line["kind"] in ("prepaid_credit", "refund")] == [
        -paid_for_unserved,
        refund["refunded_fen"],
    ]
    # The payment, its receipt and its day's cash-up are as received.
    again = await api.ok(await api.get(f"/api/v1/payments/{done['payment']['id']}", Role.cashier))
    assert again == done["payment"]
    cash_up = await api.ok(await api.get(f"/api/v1/estates/{estate.id}/cash-up", Role.cashier))
    assert cash_up["reconciled"] is True and cash_up["received_fen"] == quote["net_fen"]
    assert await api.count(AuditEvent, AuditEvent.action == "prepayment.refund", AuditEvent.entity_id == str(unit)) == 1
    problem(await api.post(path, {"from_period": month(4), "reason": "再次退款"}), 422, "from_period")


async def test_refunded_periods_are_billed_again_and_can_be_prepaid_again(api: Api) -> None:
    estate = await prepay_estate(api, units=1)
    unit = estate.unit_ids[0]
    await prepay(api, unit, await get_quote(api, unit, 12))
    path = f"/api/v1/units/{unit}/prepayments/refund"
    await api.ok(await api.post(path, {"from_period": month(6), "reason": "合同终止", "method": "cash"}))
    owed_before = (await api.ledger(unit))["balance_fen"]

    # The refunded periods' charges were reversed: the billing run issues them again, once.
    billed = await api.bill(estate.id, month(6), TODAY.isoformat())
    assert (billed["charges_issued"], billed["charges_already_issued"]) == (2, 0)
    again = await api.bill(estate.id, month(6), TODAY.isoformat())
    assert (again["charges_issued"], again["charges_already_issued"]) == (0, 2)
    reissued = await api.count(LedgerEntry, LedgerEntry.unit_id == unit, col(LedgerEntry.dedupe_key).like("%#1"))
    assert reissued == 2
    assert (await api.ledger(unit))["balance_fen"] == owed_before + NEW_FEE + PARKING

    # A new prepayment starts after the last standing charge, and may cover the refunded periods.
    quote = await get_quote(api, unit, 6)
    assert quote["first_period"] == month(7)
    await prepay(api, unit, quote)
    # Re-issued: the billed month 6 and months 7–11 of the new prepayment (month 12 is a first issue).
    assert await api.count(LedgerEntry, LedgerEntry.unit_id == unit, col(LedgerEntry.dedupe_key).like("%#1")) == 12


async def test_quarterly_estate_prepays_whole_cycles(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings={"cycle_months": 3})
    unit = estate.unit_ids[0]
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", [{"min_months": 6, "percent_off": "5"}]))
    current = month(-((TODAY.month - 1) % 3))
    quote = await get_quote(api, unit, 6)
    assert quote["first_period"] == current and [p["period"] for p in quote["periods"]] == [current, month(3, current)]
    assert [p["gross_fen"] for p in quote["periods"]] == [60000, 60000]
    assert quote["discount_fen"] == 6000 and quote["net_fen"] == 114000
    problem(await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 4}), 422, "months")
    problem(
        await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 3, "first_period": month(1, current)}),
        422,
        "first_period",
    )
    await prepay(api, unit, quote)
    result = await api.bill(estate.id, month(3, current), TODAY.isoformat())
    assert result["charges_issued"] == 0 and result["charges_already_issued"] == 1


def test_month_helper() -> None:
    assert month(1, "2026-12") == "2027-01" and month(-1, "2026-01") == "2025-12"
    assert date.fromisoformat(first_day(THIS)) <= TODAY
