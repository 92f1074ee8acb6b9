"""Issue 15 at the desk: a sold unit's accounts are its owners' (过户, DOMAIN.md "Change of owner").

The unit is ``tests.sale_support.sold_unit``'s: the seller owes 2026-06 (25,000 fen), the buyer owns
it from 2026-08-01 and owes 2026-09 and 2026-10 (25,000 fen each). A payment is for one owner's
account (the cashier chooses; default the owner on the day received): it settles that owner's
debts and the rest is that owner's prepaid credit; credit, its refunds, prepay eligibility and
installment plans are per owner too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import msgspec
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Payment
from feesvc.payments.prepare import fingerprint
from feesvc.payments.receipt import receipt_context
from feesvc.payments.schemas import PaymentCreate
from feesvc.plans.standing import plan_kept, plan_standings
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem

MONTHLY = 25_000
# A day after every period the sold unit bills, before any run of the real today.
RECEIVED = "2026-11-16"
PLANS = "/api/v1/installment-plans"
NEXT_YEAR = business_today().year + 1


def key() -> str:
    return uuid.uuid4().hex


async def pay(api: Api, unit_id: int, amount: int, **extra: Any) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "wechat", "received_on": RECEIVED, **extra}
    response = await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": key()})
    return await api.ok(response, 201)


async def entries(api: Api, unit_id: int, *where: Any) -> list[LedgerEntry]:
    async with api.sessions() as s:
        query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id, *where).order_by(col(LedgerEntry.id))
        return list((await s.execute(query)).scalars())


async def open_by_owner(api: Api, sale: SoldUnit) -> dict[int, dict[str, int]]:
    """Owner id → period → what is open on that period's charge, from the desk's unit view (an
    account the view does not list owes nothing)."""
    view = await api.ok(await api.get(f"/api/v1/units/{sale.unit_id}/desk", Role.cashier))
    accounts = {a["owner_id"]: a for a in [view["current_owner"], *view["other_owners"]]}
    assert set(accounts) <= {sale.buyer_id, sale.seller_id}
    return {
        owner: {d["period"]: d["open_fen"] for d in accounts[owner]["debts"] if d["kind"] == "charge"}
        if owner in accounts
        else {}
        for owner in (sale.buyer_id, sale.seller_id)
    }


async def credit_of(api: Api, sale: SoldUnit) -> dict[int, int]:
    view = await api.ok(await api.get(f"/api/v1/units/{sale.unit_id}/desk", Role.cashier))
    accounts = {a["owner_id"]: a for a in [view["current_owner"], *view["other_owners"]]}
    assert set(accounts) <= {sale.buyer_id, sale.seller_id}
    return {
        owner: accounts[owner]["prepaid_credit_fen"] if owner in accounts else 0
        for owner in (sale.buyer_id, sale.seller_id)
    }


async def payment_row(api: Api, payment_id: int) -> Payment:
    async with api.sessions() as s:
        payment = await s.get(Payment, payment_id)
        assert payment is not None
        return payment


# ---------------------------------------------------------------------------------------------------
# Payments: whose account


async def test_a_payment_by_the_seller_settles_the_sellers_period_and_the_rest_is_the_sellers_credit(
    api: Api,
) -> None:
    """Issue 15: "An undesignated payment by the seller settles the buyer's December charge and leaves
    the rest as the buyer's prepaid credit; the seller's debt does not move." """
    sale = await sold_unit(api)
    paid = await pay(api, sale.unit_id, 30_000, owner_id=sale.seller_id)
    assert [(a["period"], a["amount_fen"]) for a in paid["allocations"]] == [("2026-06", MONTHLY)]
    assert paid["prepaid_credit_fen"] == 5_000
    assert paid["owner_id"] == (await payment_row(api, paid["id"])).owner_id == sale.seller_id
    written = await entries(api, sale.unit_id, LedgerEntry.payment_id == paid["id"])
    assert {(e.kind, e.owner_id, e.amount_fen) for e in written} == {
        (EntryKind.payment, sale.seller_id, -MONTHLY),
        (EntryKind.prepaid_credit, sale.seller_id, -5_000),
    }
    assert await open_by_owner(api, sale) == {
        sale.buyer_id: {"2026-09": MONTHLY, "2026-10": MONTHLY},
        sale.seller_id: {},
    }
    assert await credit_of(api, sale) == {sale.buyer_id: 0, sale.seller_id: 5_000}


async def test_the_receipt_of_a_sellers_payment_names_the_seller_not_the_buyer(api: Api) -> None:
    sale = await sold_unit(api)
    sellers = await pay(api, sale.unit_id, MONTHLY, owner_id=sale.seller_id)
    buyers = await pay(api, sale.unit_id, MONTHLY)
    async with api.sessions() as s:
        assert (await receipt_context(s, sellers["id"]))["payer"] == "业主0"
        assert (await receipt_context(s, buyers["id"]))["payer"] == "买受人王五"
    read = await api.ok(await api.get(f"/api/v1/payments/{sellers['id']}", Role.cashier))
    assert read["owner_id"] == sale.seller_id and read["allocations"] == sellers["allocations"]


async def test_a_payment_is_for_the_owner_on_the_day_by_default_and_leaves_the_sellers_debt(api: Api) -> None:
    sale = await sold_unit(api)
    paid = await pay(api, sale.unit_id, 60_000)
    assert [(a["period"], a["amount_fen"]) for a in paid["allocations"]] == [("2026-09", MONTHLY), ("2026-10", MONTHLY)]
    assert paid["prepaid_credit_fen"] == 10_000
    assert (await payment_row(api, paid["id"])).owner_id == sale.buyer_id
    assert await open_by_owner(api, sale) == {sale.buyer_id: {}, sale.seller_id: {"2026-06": MONTHLY}}
    assert await credit_of(api, sale) == {sale.buyer_id: 10_000, sale.seller_id: 0}
    # Received before the handover, a payment is the seller's by default.
    before = await pay(api, sale.unit_id, 10_000, received_on="2026-07-20")
    assert [(a["period"], a["amount_fen"]) for a in before["allocations"]] == [("2026-06", 10_000)]
    assert (await payment_row(api, before["id"])).owner_id == sale.seller_id


async def test_a_payment_for_someone_who_never_owned_the_unit_is_refused(api: Api) -> None:
    sale = await sold_unit(api)
    stranger = await api.make_estate(units=1)
    for owner_id in (stranger.owner_ids[0], 2_000_000_000):
        body = {"unit_id": sale.unit_id, "amount_fen": 100, "method": "cash", "owner_id": owner_id}
        refused = await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": key()})
        problem(refused, 422, "owner_id")
    # The buyer owns the unit only from the handover: a payment received before it is not theirs.
    body = {"unit_id": sale.unit_id, "amount_fen": 100, "method": "cash", "owner_id": sale.buyer_id}
    early = await api.post(
        "/api/v1/payments", {**body, "received_on": "2026-07-01"}, Role.cashier, headers={"Idempotency-Key": key()}
    )
    problem(early, 422, "owner_id")
    assert await api.count(Payment, Payment.unit_id == sale.unit_id) == 0


async def test_the_account_is_part_of_the_idempotency_fingerprint(api: Api) -> None:
    sale = await sold_unit(api)
    headers = {"Idempotency-Key": key()}
    body = {"unit_id": sale.unit_id, "amount_fen": 1_000, "method": "cash", "received_on": RECEIVED}
    first = await api.post("/api/v1/payments", {**body, "owner_id": sale.seller_id}, Role.cashier, headers=headers)
    again = await api.post("/api/v1/payments", {**body, "owner_id": sale.seller_id}, Role.cashier, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    problem(await api.post("/api/v1/payments", body, Role.cashier, headers=headers), 409, "Idempotency-Key")
    other = {**body, "owner_id": sale.buyer_id}
    problem(await api.post("/api/v1/payments", other, Role.cashier, headers=headers), 409, "Idempotency-Key")
    assert await api.count(Payment, Payment.unit_id == sale.unit_id) == 1


def test_a_request_without_an_account_keeps_the_fingerprint_it_had_before_accounts() -> None:
    fields = {"unit_id": 7, "amount_fen": 100, "method": "cash", "received_on": "2026-11-16"}
    data = msgspec.convert(fields, PaymentCreate)
    before = {**fields, "currency": "CNY", "external_ref": "", "payer_name": None, "designation": None}
    # The field order of the request before owner_id was added.
    order = ["unit_id", "amount_fen", "method", "currency", "external_ref", "payer_name", "designation", "received_on"]
    earlier = json.dumps({k: before[k] for k in order}, separators=(",", ":"), ensure_ascii=False).encode()
    assert fingerprint(data) == hashlib.sha256(earlier).hexdigest()
    named = msgspec.convert({**fields, "owner_id": 3}, PaymentCreate)
    assert fingerprint(named) != fingerprint(data)


async def test_a_designated_debt_of_another_owner_is_settled_as_designated(api: Api) -> None:
    sale = await sold_unit(api)
    # The buyer pays the seller's period, saying so (民法典 560): the designation decides; the rest
    # goes to the buyer's own debts.
    paid = await pay(api, sale.unit_id, 30_000, designation={"periods": ["2026-06"]})
    assert [(a["period"], a["amount_fen"]) for a in paid["allocations"]] == [("2026-06", MONTHLY), ("2026-09", 5_000)]
    assert paid["prepaid_credit_fen"] == 0
    assert (await payment_row(api, paid["id"])).owner_id == sale.buyer_id
    assert await open_by_owner(api, sale) == {
        sale.buyer_id: {"2026-09": MONTHLY - 5_000, "2026-10": MONTHLY},
        sale.seller_id: {},
    }


# ---------------------------------------------------------------------------------------------------
# The desk's unit view


async def test_the_desk_lists_the_current_owners_debts_and_the_sellers_apart_with_names_masked(api: Api) -> None:
    sale = await sold_unit(api)
    view = await api.ok(await api.get(f"/api/v1/units/{sale.unit_id}/desk", Role.cashier))
    assert view["unit_id"] == sale.unit_id
    current = view["current_owner"]
    assert (current["owner_id"], current["owner_name"], current["owns_now"]) == (sale.buyer_id, "买***五", True)
    assert [(d["period"], d["open_fen"]) for d in current["debts"]] == [("2026-09", MONTHLY), ("2026-10", MONTHLY)]
    assert current["owed_fen"] == 2 * MONTHLY and current["overdue_fen"] == 2 * MONTHLY
    [seller] = view["other_owners"]
    assert (seller["owner_id"], seller["owner_name"], seller["owns_now"]) == (sale.seller_id, "业*0", False)
    assert [(d["period"], d["kind"], d["open_fen"]) for d in seller["debts"]] == [("2026-06", "charge", MONTHLY)]
    assert seller["owed_fen"] == seller["overdue_fen"] == MONTHLY
    # A manager reads the names whole; an owner does not use the desk.
    managed = await api.ok(await api.get(f"/api/v1/units/{sale.unit_id}/desk", Role.manager))
    assert managed["current_owner"]["owner_name"] == "买受人王五"
    assert managed["other_owners"][0]["owner_name"] == "业主0"
    problem(await api.get(f"/api/v1/units/{sale.unit_id}/desk", sale.buyer_token), 403)
    problem(await api.get("/api/v1/units/2000000000/desk", Role.cashier), 404)
    # Once the seller has paid and holds no credit, the seller's account is no longer listed.
    await pay(api, sale.unit_id, MONTHLY, owner_id=sale.seller_id)
    settled = await api.ok(await api.get(f"/api/v1/units/{sale.unit_id}/desk", Role.cashier))
    assert settled["other_owners"] == []


# ---------------------------------------------------------------------------------------------------
# Prepaid credit and its refunds


async def test_prepaid_credit_is_applied_only_to_its_owners_new_charges(api: Api) -> None:
    sale = await sold_unit(api)
    await pay(api, sale.unit_id, 30_000, owner_id=sale.seller_id)  # the seller's 5,000 credit
    await pay(api, sale.unit_id, 60_000)  # the buyer's 10,000 credit
    await api.bill(sale.estate.id, "2026-11", "2026-11-20")
    assert await open_by_owner(api, sale) == {sale.buyer_id: {"2026-11": MONTHLY - 10_000}, sale.seller_id: {}}
    assert await credit_of(api, sale) == {sale.buyer_id: 0, sale.seller_id: 5_000}
    applied = await entries(api, sale.unit_id, LedgerEntry.kind == EntryKind.credit_applied)
    assert {(e.owner_id, e.amount_fen) for e in applied} == {(sale.buyer_id, 10_000), (sale.buyer_id, -10_000)}


async def test_a_refund_of_credit_pays_back_one_owners_credit_to_that_owner(api: Api) -> None:
    sale = await sold_unit(api)
    await pay(api, sale.unit_id, 30_000, owner_id=sale.seller_id)  # the seller's 5,000 credit
    await pay(api, sale.unit_id, 60_000)  # the buyer's 10,000 credit
    path = f"/api/v1/units/{sale.unit_id}/refunds"
    body = {"amount_fen": 6_000, "reason": "卖方过户后退还预收款", "owner_id": sale.seller_id}
    problem(await api.post(path, body), 422, "amount_fen")
    stranger = await api.make_estate(units=1)
    problem(await api.post(path, {**body, "owner_id": stranger.owner_ids[0]}), 422, "owner_id")
    refunded = await api.ok(await api.post(path, {**body, "amount_fen": 5_000}))
    assert refunded == {
        "unit_id": sale.unit_id,
        "owner_id": sale.seller_id,
        "refunded_fen": 5_000,
        "prepaid_credit_left_fen": 0,
    }
    assert await credit_of(api, sale) == {sale.buyer_id: 10_000, sale.seller_id: 0}
    refunds = await entries(api, sale.unit_id, LedgerEntry.kind == EntryKind.refund)
    assert [(e.owner_id, e.amount_fen) for e in refunds] == [(sale.seller_id, 5_000)]
    # Without an owner, the refund is the current owner's.
    mine = await api.ok(await api.post(path, {"amount_fen": 4_000, "reason": "退还预收款"}))
    assert (mine["owner_id"], mine["prepaid_credit_left_fen"]) == (sale.buyer_id, 6_000)


# ---------------------------------------------------------------------------------------------------
# Prepayment


async def test_the_buyers_prepay_quote_is_not_refused_for_the_sellers_arrears(api: Api) -> None:
    """Issue 15: "the buyer's prepay quote is refused because of the seller's arrears"."""
    sale = await sold_unit(api)
    path = f"/api/v1/units/{sale.unit_id}/prepayments/quote"
    # The buyer's own overdue periods refuse it: nothing of the buyer's may be overdue.
    problem(await api.post(path, {"months": 3}, sale.buyer_token), 422, "overdue_fen")
    await pay(api, sale.unit_id, 2 * MONTHLY)  # the buyer pays 2026-09 and 2026-10; 2026-06 stays open
    quote = await api.ok(await api.post(path, {"months": 3}, sale.buyer_token), 200)
    assert quote["gross_fen"] == 3 * MONTHLY
    body = {"months": 3, "method": "wechat", "expected_net_fen": quote["net_fen"]}
    done = await api.ok(
        await api.post(
            f"/api/v1/units/{sale.unit_id}/prepayments", body, Role.cashier, headers={"Idempotency-Key": key()}
        ),
        201,
    )
    payment = done["payment"]
    assert (await payment_row(api, payment["id"])).owner_id == sale.buyer_id
    booked = await entries(api, sale.unit_id, LedgerEntry.payment_id == payment["id"])
    assert {e.owner_id for e in booked} == {sale.buyer_id}
    assert (await open_by_owner(api, sale))[sale.seller_id] == {"2026-06": MONTHLY}


# ---------------------------------------------------------------------------------------------------
# Installment plans


async def propose(api: Api, unit_id: int, **body: Any) -> Any:
    payload = {"unit_id": unit_id, "installments": 2, "first_due": f"{NEXT_YEAR}-01-31", "late_fee_treatment": "freeze"}
    return await api.post(PLANS, {**payload, **body})


async def test_a_plan_takes_only_one_owners_charges(api: Api) -> None:
    """Issue 15: "an installment plan takes every open charge of the unit, so the buyer would sign for
    the seller's periods"."""
    sale = await sold_unit(api)
    buyers = await api.ok(await propose(api, sale.unit_id), 201)
    assert (buyers["owner_id"], buyers["periods"], buyers["total_fen"]) == (
        sale.buyer_id,
        ["2026-09", "2026-10"],
        2 * MONTHLY,
    )
    sellers = await api.ok(await propose(api, sale.unit_id, owner_id=sale.seller_id), 201)
    assert (sellers["owner_id"], sellers["periods"], sellers["total_fen"]) == (sale.seller_id, ["2026-06"], MONTHLY)


async def test_a_plan_refuses_another_owners_charge_and_a_stranger(api: Api) -> None:
    sale = await sold_unit(api)
    [june] = [
        e for e in await entries(api, sale.unit_id, LedgerEntry.kind == EntryKind.charge) if e.period == "2026-06"
    ]
    refused = problem(await propose(api, sale.unit_id, charge_ids=[june.id]), 422, "charge_ids")
    assert "2026-06" in refused["detail"]
    stranger = await api.make_estate(units=1)
    problem(await propose(api, sale.unit_id, owner_id=stranger.owner_ids[0]), 422, "owner_id")
    # Named for the seller, the seller's charge is taken.
    taken = await api.ok(await propose(api, sale.unit_id, owner_id=sale.seller_id, charge_ids=[june.id]), 201)
    assert taken["periods"] == ["2026-06"]


async def test_a_plan_stands_on_its_owners_account_only(api: Api) -> None:
    sale = await sold_unit(api)
    plan = await api.ok(await propose(api, sale.unit_id, owner_id=sale.seller_id), 201)
    await api.ok(await api.post(f"{PLANS}/{plan['id']}/agree", {}), 200)
    # The buyer's payment settles the buyer's periods and pays nothing towards the seller's plan.
    await pay(api, sale.unit_id, 2 * MONTHLY)
    assert (await api.ok(await api.get(f"{PLANS}/{plan['id']}")))["paid_fen"] == 0
    await pay(api, sale.unit_id, 12_500, owner_id=sale.seller_id)
    read = await api.ok(await api.get(f"{PLANS}/{plan['id']}"))
    assert read["paid_fen"] == 12_500 and read["schedule"][0]["status"] == "paid"
    # Whether a plan is kept is asked of an owner's account: the seller keeps one, the buyer has none.
    today = business_today()
    async with api.sessions() as s:
        assert await plan_kept(s, sale.unit_id, today, owner_id=sale.seller_id)
        assert not await plan_kept(s, sale.unit_id, today, owner_id=sale.buyer_id)
        [standing] = await plan_standings(s, today, unit_id=sale.unit_id)
        assert (standing.owner_id, standing.standing.kept) == (sale.seller_id, True)


async def test_staff_read_one_owners_ledger_with_owner_id(api: Api) -> None:
    """The whole unit by default; with ``owner_id`` the seller's or the buyer's account alone, as the
    owner's own token reads it; an owner the unit never had is refused naming the field."""
    sale = await sold_unit(api)
    url = f"/api/v1/units/{sale.unit_id}/ledger"
    whole = await api.ok(await api.get(url, Role.cashier, params={"as_of": "2026-11-30"}))
    assert whole["owed_fen"] == 75000
    accounts = (
        (sale.seller_id, sale.seller_token, 25000, {"2026-06"}),
        (sale.buyer_id, sale.buyer_token, 50000, {"2026-09", "2026-10"}),
    )
    for owner_id, token, owed, periods in accounts:
        staff = await api.ok(await api.get(url, Role.cashier, params={"as_of": "2026-11-30", "owner_id": owner_id}))
        own = await api.ok(await api.get(url, token, params={"as_of": "2026-11-30"}))
        assert staff["owed_fen"] == own["owed_fen"] == owed
        assert [e["id"] for e in staff["entries"]] == [e["id"] for e in own["entries"]]
        assert {e["period"] for e in staff["entries"] if e["kind"] == "charge"} == periods
    stranger = await api.ok(await api.post("/api/v1/owners", {"name": "路人甲"}))
    problem(await api.get(url, Role.cashier, params={"owner_id": stranger["id"]}), 422, "owner_id")
