from __future__ import annotations

import uuid
from datetime import date, timedelta

from feesvc.auth.models import Role
from feesvc.db import business_today
from tests.support import Api, problem


async def _history(api: Api):  # type: ignore[no-untyped-def]
    estate = await api.make_estate(units=2, rate="2.35", area="89.57", settings={"due_day": 15})
    unit = estate.unit_ids[0]
    for month in ("2025-10", "2025-11", "2025-12", "2026-01"):
        await api.bill(estate.id, month, f"{month}-01")
    body = {"unit_id": unit, "amount_fen": 30000, "method": "wechat"}
    await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))
    return estate, unit


async def test_statement_explains_each_charge_and_payment(api: Api) -> None:
    _, unit = await _history(api)
    statement = await api.ok(
        await api.get(f"/api/v1/units/{unit}/statement", params={"from": "2025-11-01", "to": str(business_today())})
    )  # up to today: the payment was made today
    assert statement["opening_balance_fen"] == 21049  # October's charge, before the range
    charges = [line for line in statement["lines"] if line["kind"] == "charge"]
    assert [c["period"] for c in charges] == ["2025-11", "2025-12", "2026-01"]
    first = charges[0]
    assert first["description"] == "物业服务费 2025年11月"
    assert first["calculation"] == "89.57平方米 × 2.35元/平方米·月 × 1个月 = ¥210.49"
    assert first["fee_basis"]["decision_ref"] == "前期物业服务合同 第5条"
    assert first["fee_basis"]["posted_on"] == "2024-01-01"
    [payment] = [line for line in statement["lines"] if line["kind"] == "payment"]
    assert payment["amount_fen"] == -30000 and payment["description"].startswith("缴费（微信）收据 ")
    assert [(s["period"], s["amount_fen"]) for s in payment["settles"]] == [("2025-10", 21049), ("2025-11", 8951)]
    assert statement["closing_balance_fen"] == 4 * 21049 - 30000
    assert statement["totals_text"]["closing"] == "¥541.96"


async def test_statement_reconciles_with_the_ledger_at_any_date(api: Api) -> None:
    _, unit = await _history(api)
    day = date(2025, 9, 25)
    while day <= date(2026, 2, 10):
        iso = day.isoformat()
        statement = await api.ok(
            await api.get(f"/api/v1/units/{unit}/statement", params={"as_of": iso, "from": "2025-01-01", "to": iso})
        )
        ledger = await api.ledger(unit, iso)
        assert statement["closing_balance_fen"] == ledger["balance_fen"]
        assert (
            statement["opening_balance_fen"] + sum(line["amount_fen"] for line in statement["lines"])
            == (statement["closing_balance_fen"])
        )
        assert statement["owed_fen"] == ledger["owed_fen"]
        assert statement["owed_fen"] - statement["prepaid_credit_fen"] == statement["closing_balance_fen"]
        assert sum(b["amount_fen"] for b in statement["overdue_by_age"]) == ledger["overdue_fen"]
        day += timedelta(days=9)


async def test_statement_balances_with_late_fees_and_credit_agree_with_the_ledger(api: Api) -> None:
    """The statement works out what is open from the entries it shows; the ledger asks the database."""
    estate = await api.make_estate(
        units=2, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    )
    unit, other = estate.unit_ids
    for month in ("2026-01", "2026-02"):
        await api.bill(estate.id, month, f"{month}-01")
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-03-31"}), 200)
    for target, amount in ((unit, 25000), (other, 60000)):  # a part payment; an overpayment leaves credit
        body = {"unit_id": target, "amount_fen": amount, "method": "cash"}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=headers))
    for target in (unit, other):
        for day in ("2026-02-10", "2026-03-31", "2026-06-30", "2027-06-30"):
            params = {"as_of": day, "from": "2026-01-01", "to": day}
            statement = await api.ok(await api.get(f"/api/v1/units/{target}/statement", params=params))
            ledger = await api.ledger(target, day)
            assert statement["owed_fen"] == ledger["owed_fen"]
            assert statement["overdue_fen"] == ledger["overdue_fen"]
            assert statement["prepaid_credit_fen"] == ledger["prepaid_credit_fen"]
            assert statement["owed_fen"] - statement["prepaid_credit_fen"] == statement["closing_balance_fen"]
    later = {"as_of": "2027-06-30", "from": "2026-01-01"}  # after the payments, made today
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params=later))
    assert any(line["kind"] == "late_fee" for line in statement["lines"])
    assert statement["owed_fen"] > 0 and statement["overdue_fen"] > 0 and statement["prepaid_credit_fen"] == 0
    statement = await api.ok(await api.get(f"/api/v1/units/{other}/statement", params=later))
    assert statement["prepaid_credit_fen"] > 0 and statement["owed_fen"] == 0


async def test_overdue_amounts_are_aged(api: Api) -> None:
    _, unit = await _history(api)
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params={"as_of": "2026-02-20"}))
    ages = {b["bucket"]: b["amount_fen"] for b in statement["overdue_by_age"]}
    # The payment came later: Oct (due 10-15: 128 days) and Nov (97) are 91-180, Dec (67) and Jan (36) 31-90.
    assert ages == {"0-30": 0, "31-90": 2 * 21049, "91-180": 2 * 21049, "181-365": 0, ">365": 0}


async def test_owner_reads_own_statement_only(api: Api) -> None:
    estate, unit = await _history(api)
    mine = await api.owner_token(estate.owner_ids[0])
    theirs = await api.owner_token(estate.owner_ids[1])
    await api.ok(await api.get(f"/api/v1/units/{unit}/statement", mine))
    problem(await api.get(f"/api/v1/units/{unit}/statement", theirs), (403, 404))
    problem(
        await api.get(f"/api/v1/units/{unit}/statement", params={"from": "2026-02-01", "to": "2026-01-01"}), 422, "from"
    )


async def test_statement_shows_the_service_summary(api: Api) -> None:
    estate, unit = await _history(api)
    for kind, count in (("cleaning_rounds", 30), ("repairs_done", 15)):
        await api.ok(
            await api.post(
                f"/api/v1/estates/{estate.id}/service-activity", {"period": "2025-12", "kind": kind, "count": count}
            )
        )
    statement = await api.ok(
        await api.get(f"/api/v1/units/{unit}/statement", params={"from": "2025-10-01", "to": "2026-01-31"})
    )
    assert [(s["period"], s["label"], s["count"]) for s in statement["service_summary"]] == [
        ("2025-12", "保洁", 30),
        ("2025-12", "维修", 15),
    ]


async def test_a_former_owner_sees_only_their_own_time(api: Api) -> None:
    estate, unit = await _history(api)
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "新业主"}))
    sale = {"owner_id": buyer["id"], "starts_on": "2025-12-01"}
    await api.ok(await api.post(f"/api/v1/units/{unit}/ownerships", sale))
    seller = await api.owner_token(estate.owner_ids[0])
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", seller,
                                           params={"from": "2025-01-01", "to": "2026-06-30"}))
    assert statement["period_to"] == "2025-11-30"
    assert statement["owner_name"] == "业主0"
    assert all(line["date"] <= "2025-11-30" for line in statement["lines"])
