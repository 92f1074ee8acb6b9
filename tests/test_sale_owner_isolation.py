"""Who sees what after a sale (issue 15 item 5): an owner token reads its own ownership's periods,
payments, receipts, letters and documents only, the seller's and the buyer's alike.

The routes are not named here: every operation of the app's OpenAPI document an owner token can
call is called with the seller's and with the buyer's token on the same sold unit, with every id
the unit has (the other owner's included), as JSON and as a PDF. Whatever answers must carry
nothing of the other owner: not their name, phone, ID number or address, nor their payments,
receipts, letters, complaints, plans, ledger entries or periods. A route added later without
scoping to the token's owner fails here the day it is added.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from httpx import Response
from sqlalchemy import select

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.models import LedgerEntry
from feesvc.letters.models import Letter
from feesvc.plans.models import InstallmentPlan
from feesvc.registry.models import Estate as EstateRow
from feesvc.registry.models import Owner
from feesvc.sales.models import SettlementCertificate
from feesvc.service_records.models import Complaint
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, Estate, problem
from tests.test_input_every_route import OpenApi, valid
from tests.test_receipt import compact, pdf_text

AS_OF = "2026-11-30"  # every route that takes a day reads this one: nothing depends on today
SELLER_PAYS, BUYER_PAYS = 26111, 20202  # distinctive amounts: 2026-06 and 1,111 of credit; part of 2026-09
SELLER_PAYS_LATER = 3333
SELLER_COMPLAINT, BUYER_COMPLAINT = "卖方反映楼道漏水", "买方反映电梯噪音"
PDF = {"Accept": "application/pdf"}
NEXT_YEAR = business_today().year + 1
# Route parameters that are not ids of the unit's records: what to send.
NOT_IDS = {"as_of": AS_OF, "day": AS_OF}


@dataclass
class Account:
    """What belongs to one owner of the sold unit: none of it may reach the other owner."""

    owner_id: int
    token: str
    texts: set[str] = field(default_factory=set)  # name, phone, ID number, address, receipt and letter numbers …
    entry_ids: set[int] = field(default_factory=set)
    payment_ids: set[int] = field(default_factory=set)
    letter_ids: set[int] = field(default_factory=set)
    complaint_ids: set[int] = field(default_factory=set)
    plan_ids: set[int] = field(default_factory=set)
    periods: set[str] = field(default_factory=set)
    amounts: set[int] = field(default_factory=set)  # what was paid into the account


async def pay(api: Api, unit_id: int, owner_id: int, amount_fen: int, received_on: str) -> Any:
    """A desk payment into ``owner_id``'s account: named in the body where the desk takes an account,
    else by the day (the owner on ``received_on``)."""
    body: dict[str, Any] = {"unit_id": unit_id, "amount_fen": amount_fen, "method": "cash", "received_on": received_on}
    openapi = OpenApi(api.client.app)
    schema = openapi.body(openapi.document["paths"]["/api/v1/payments"]["post"])
    assert schema is not None
    if "owner_id" in openapi.resolve(schema[1]).get("properties", {}):
        body["owner_id"] = owner_id
    key = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=key))


async def complain(api: Api, unit_id: int, token: str, text: str) -> Any:
    body = {"category": "leak", "text": text}
    return await api.ok(await api.post(f"/api/v1/units/{unit_id}/complaints", body, token))


async def remind(api: Api, estate_id: int, as_of: str) -> Any:
    return await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate_id, "as_of": as_of}), 200)


async def sale_with_history(api: Api) -> tuple[SoldUnit, dict[str, list[int]]]:
    """The sold unit with a record of every kind on each side: the seller got a reminder for 2026-06,
    complained, and paid 2026-06 and 1,111 fen more before the handover, and pays again after it; the
    buyer complains, pays part of 2026-09 and gets a reminder for what is left of it."""
    runs: list[int] = []

    async def seller_time(_: Api, estate: Estate, unit_id: int) -> None:
        seller = await api.owner_token(estate.owner_ids[0])
        runs.append((await remind(api, estate.id, "2026-07-10"))["run_id"])
        await complain(api, estate.unit_ids[0], seller, SELLER_COMPLAINT)
        await pay(api, estate.unit_ids[0], estate.owner_ids[0], SELLER_PAYS, "2026-07-20")

    sold = await sold_unit(api, before_sale=seller_time)
    await complain(api, sold.unit_id, sold.buyer_token, BUYER_COMPLAINT)
    # The seller pays again after the sale: into their own account where the desk takes one (its
    # receipt must not name the buyer), else, as the day says, the buyer's.
    await pay(api, sold.unit_id, sold.seller_id, SELLER_PAYS_LATER, "2026-09-10")
    await pay(api, sold.unit_id, sold.buyer_id, BUYER_PAYS, "2026-09-20")
    runs.append((await remind(api, sold.estate.id, "2026-10-20"))["run_id"])
    return sold, {"run_id": runs}


async def accounts(api: Api, sold: SoldUnit) -> dict[int, Account]:
    """Each owner's records of the unit, read from the database as they are stored."""
    made = {
        sold.seller_id: Account(sold.seller_id, sold.seller_token),
        sold.buyer_id: Account(sold.buyer_id, sold.buyer_token),
    }
    async with api.sessions() as s:
        for owner_id, account in made.items():
            owner = await s.get(Owner, owner_id)
            assert owner is not None
            account.texts |= {v for v in (owner.name, owner.phone, owner.id_number, owner.postal_address) if v}
        for entry in (await s.execute(select(LedgerEntry).where(LedgerEntry.unit_id == sold.unit_id))).scalars():
            assert entry.owner_id in made, "every entry of the sold unit is one of its owners'"
            account = made[entry.owner_id]
            account.entry_ids.add(entry.id or 0)
            if entry.payment_id is not None:
                account.payment_ids.add(entry.payment_id)
            if entry.period is not None:
                account.periods.add(entry.period)
        for letter in (await s.execute(select(Letter).where(Letter.unit_id == sold.unit_id))).scalars():
            assert letter.owner_id in made, "every letter of the sold unit is to one of its owners"
            made[letter.owner_id].letter_ids.add(letter.id or 0)
            made[letter.owner_id].texts.add(letter.letter_no)
        for complaint in (await s.execute(select(Complaint).where(Complaint.unit_id == sold.unit_id))).scalars():
            assert complaint.owner_id in made
            made[complaint.owner_id].complaint_ids.add(complaint.id or 0)
            made[complaint.owner_id].texts.add(complaint.text)
        for plan in (await s.execute(select(InstallmentPlan).where(InstallmentPlan.unit_id == sold.unit_id))).scalars():
            assert plan.owner_id in made
            made[plan.owner_id].plan_ids.add(plan.id or 0)
    for account in made.values():
        for payment_id in account.payment_ids:
            payment = await api.ok(await api.get(f"/api/v1/payments/{payment_id}"))
            account.texts.add(payment["receipt_number"])
            account.amounts.add(payment["amount_fen"])
    return made


# --- what an answer may carry ------------------------------------------------------------------

# JSON keys whose values are ids of one kind of record.
ENTRY_KEYS = {"entry_id", "entry_ids", "charge_id", "settles_entry_id", "basis_entry_id", "reverses_entry_id"}
RECORD_PATHS = (("/letters", "letter_ids"), ("complaint", "complaint_ids"), ("installment-plans", "plan_ids"))
RANDOM_HEX = re.compile(r"[0-9a-f]{32}")  # request ids and idempotency keys


def _walk(value: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _walk(v, k)]
    if isinstance(value, list):
        return [pair for item in value for pair in _walk(item, key)]
    return [(key, value)]


def period_words(period: str) -> str:
    """A period as documents print it: 2026-06 → 2026年6月."""
    year, month = period.split("-")
    return f"{year}年{int(month)}月"


def leaks(text: str, body: Any, other: Account, path: str) -> list[str]:
    """What of ``other`` an answer carries: ``text`` is its JSON, or its PDF's words without spaces;
    ``body`` its decoded JSON (None for a PDF)."""
    text = RANDOM_HEX.sub("", text)
    found = [f"{t!r}" for t in other.texts if t in text or compact(t) in text]
    # A period, not a day of it (2026-09 or 2026年9月, not the seller's own payment of 2026-09-10).
    found += [f"period {p}" for p in other.periods if re.search(rf"{p}(?!-\d)|{period_words(p)}(?!\d)", text)]
    found += [f"amount {a}" for a in other.amounts if f"{a / 100:,.2f}" in text]
    theirs = {
        "owner_id": {other.owner_id},
        "payment_id": other.payment_ids,
        "amount_fen": other.amounts,
        **dict.fromkeys(ENTRY_KEYS, other.entry_ids),
        # An "id" is a letter's, a complaint's or a plan's on their routes.
        "id": {i for part, kind in RECORD_PATHS if part in path for i in getattr(other, kind)},
    }
    for key, value in _walk(body):
        if isinstance(value, int) and not isinstance(value, bool) and value in theirs.get(key, ()):
            found.append(f"{key}={value}")
    return found


# --- the routes ---------------------------------------------------------------------------------


def operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    """Every GET and POST of the OpenAPI document (PUT, PATCH and DELETE: none is an owner's)."""
    openapi = OpenApi(api.client.app)
    return list(openapi.operations(("get", "post")))


def fillings(path: str, ids: dict[str, list[int]]) -> list[str]:
    """``path`` with each parameter filled, once for every id of that name the unit has."""
    names = re.findall(r"\{(\w+)\}", path)
    for name in names:
        assert name in ids, f"{path}: no ids for {{{name}}}; add them to the test's world"
    return [
        re.sub(r"\{(\w+)\}", lambda m, chosen=dict(zip(names, combo, strict=True)): str(chosen[m.group(1)]), path)
        for combo in itertools.product(*(ids[n] for n in names))
    ]


def queries_of(operation: dict[str, Any], ids: dict[str, list[int]]) -> list[dict[str, str]]:
    """The query strings to send: the days (``NOT_IDS``) alone, then with each id an id parameter
    can take (an owner asking for the other owner's account by ``?owner_id=`` must not get it)."""
    query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    days = {name: NOT_IDS[name] for name in query if name in NOT_IDS}
    chosen = [name for name in query if name in ids]
    return [days] + [
        {**days, **{name: str(value) for name, value in zip(chosen, combo, strict=True)}}
        for combo in itertools.product(*(ids[name] for name in chosen))
        if chosen
    ]


async def answer_text(response: Response, tmp_path: Path) -> tuple[str, Any]:
    if response.headers.get("content-type", "").startswith("application/pdf"):
        return compact(pdf_text(response.content, tmp_path, "answer.pdf")), None
    return response.text, response.json() if response.content else None


async def world(api: Api, sold: SoldUnit, made: dict[int, Account], runs: list[int]) -> dict[str, list[int]]:
    """Every id a route of the sold unit can take: both owners' records, and ids for the staff's
    routes (their guards answer an owner before any id is looked up)."""
    case = await api.ok(await api.post(f"/api/v1/units/{sold.unit_id}/arrears-case", None, Role.cashier))
    both = list(made.values())
    certificate = await api.get(
        f"/api/v1/units/{sold.unit_id}/settlement-certificate", params={"owner_id": str(sold.seller_id)}
    )
    assert certificate.status_code == 200, certificate.text
    async with api.sessions() as s:
        estate = await s.get(EstateRow, sold.estate.id)
        assert estate is not None
        query = select(SettlementCertificate.id).where(SettlementCertificate.unit_id == sold.unit_id)
        certificate_ids = [i for (i,) in (await s.execute(query)).all() if i is not None]
    return {
        "unit_id": [sold.unit_id],
        "estate_id": [sold.estate.id],
        "owner_id": [sold.seller_id, sold.buyer_id],
        "payment_id": sorted(i for a in both for i in a.payment_ids),
        "letter_id": sorted(i for a in both for i in a.letter_ids),
        "complaint_id": sorted(i for a in both for i in a.complaint_ids),
        "plan_id": sorted(i for a in both for i in a.plan_ids),
        "entry_id": sorted(i for a in both for i in a.entry_ids),
        "run_id": runs,
        "case_id": [case["id"]],
        "action_id": [1],
        "token_id": [1],
        "certificate_id": certificate_ids,
        "filing_id": [1],  # a legal filing is staff work: an owner is refused before any id is read
        "line_id": [1],  # bank lines and held notifications: staff work too
        "held_id": [1],
        # Payment orders need an estate with online payment set up; tests/test_online.py holds an
        # owner to their own orders. Here: an id no order has, refused alike to both owners.
        "order_id": [1],
    }


async def test_seller_and_buyer_each_read_only_their_own_on_every_owner_route(api: Api, tmp_path: Path) -> None:
    sold, extra = await sale_with_history(api)
    # The buyer's plan for what is left of their own periods (plans fall due next year or later).
    plan_body = {"unit_id": sold.unit_id, "installments": 3, "first_due": f"{NEXT_YEAR}-01-31"}
    await api.ok(await api.post("/api/v1/installment-plans", {**plan_body, "late_fee_treatment": "freeze"}), 201)
    made = await accounts(api, sold)
    seller, buyer = made[sold.seller_id], made[sold.buyer_id]
    # The history is what the test needs: each side has a record of every kind.
    for account in (seller, buyer):
        assert account.payment_ids and account.letter_ids and account.complaint_ids and account.entry_ids
    assert buyer.plan_ids and "2026-06" in seller.periods and {"2026-09", "2026-10"} <= buyer.periods
    ids = await world(api, sold, made, extra["run_id"])
    openapi = OpenApi(api.client.app)

    answered: dict[tuple[str, str, int], int] = {}
    for method, path, operation in operations(api):
        for url in fillings(path, ids):
            for me, other in ((seller, buyer), (buyer, seller)):
                tries: list[Response] = []
                for query in queries_of(operation, ids):
                    if method == "get":
                        tries += [await api.get(url, me.token, params=query, headers=h) for h in ({}, PDF)]
                        continue
                    probe = await api.post(url, {}, me.token, params=query)
                    if probe.status_code in (401, 403):
                        tries.append(probe)
                    else:  # an owner may call it: with a body it takes
                        body = openapi.body(operation)
                        payload = valid(openapi, body[1]) if body else None
                        tries.append(await api.post(url, payload, me.token, params=query))
                answered[(method, url, me.owner_id)] = tries[0].status_code  # without ids in the query
                for response in tries:
                    where = f"{method.upper()} {response.url} as owner {me.owner_id}"
                    assert response.status_code < 500, f"{where}: {response.text}"
                    if response.status_code >= 300:
                        continue
                    text, body_json = await answer_text(response, tmp_path)
                    found = leaks(text, body_json, other, path)
                    assert not found, f"{where} shows the other owner's {found}"

    # The walk read what each owner has: these answered, so the checks above saw their contents.
    for account in (seller, buyer):
        unit = f"/api/v1/units/{sold.unit_id}"
        for url in (f"{unit}/ledger", f"{unit}/statement", f"{unit}/payoff", f"{unit}/letters", f"{unit}/complaints"):
            assert answered[("get", url, account.owner_id)] == 200, url
        assert answered[("get", "/api/v1/owners/me/payments", account.owner_id)] == 200
        for payment_id in account.payment_ids:
            assert answered[("get", f"/api/v1/payments/{payment_id}/receipt.pdf", account.owner_id)] == 200
        for letter_id in account.letter_ids:
            assert answered[("get", f"/api/v1/letters/{letter_id}/letter.pdf", account.owner_id)] == 200
        for complaint_id in account.complaint_ids:
            assert answered[("get", f"/api/v1/complaints/{complaint_id}", account.owner_id)] == 200
    for plan_id in buyer.plan_ids:
        assert answered[("get", f"/api/v1/installment-plans/{plan_id}", buyer.owner_id)] == 200
    # And what they answered is all of the owner's own: every letter, complaint and entry of theirs
    # (as they stand after the walk: the buyer filed a complaint in it).
    for account in (await accounts(api, sold)).values():
        unit = f"/api/v1/units/{sold.unit_id}"
        letters = await api.ok(await api.get(f"{unit}/letters", account.token))
        assert {letter["id"] for letter in letters} == account.letter_ids
        complaints = await api.ok(await api.get(f"{unit}/complaints", account.token))
        assert {complaint["id"] for complaint in complaints} == account.complaint_ids
        # To this day: the sale refunded the seller's credit on the day it was recorded.
        ledger = await api.ok(await api.get(f"{unit}/ledger", account.token))
        assert {entry["id"] for entry in ledger["entries"]} == account.entry_ids
        paid = await api.ok(await api.get("/api/v1/owners/me/payments", account.token))
        assert {payment["id"] for payment in paid["items"]} == account.payment_ids
    # The other owner's documents and records: refused, as one that does not exist is (403: an
    # owner learns nothing of ids not theirs).
    for me, other in ((seller, buyer), (buyer, seller)):
        refused = [
            *(f"/api/v1/payments/{i}/receipt.pdf" for i in other.payment_ids),
            *(f"/api/v1/letters/{i}/letter.pdf" for i in other.letter_ids),
            *(f"/api/v1/complaints/{i}" for i in other.complaint_ids),
            *(f"/api/v1/installment-plans/{i}" for i in other.plan_ids),
        ]
        for url in refused:
            assert answered[("get", url, me.owner_id)] == 403, url
    for missing in (
        "/payments/987654321/receipt.pdf",
        "/letters/987654321/letter.pdf",
        "/complaints/987654321",
        "/installment-plans/987654321",
    ):
        problem(await api.get(f"/api/v1{missing}", seller.token), 403)


async def test_a_receipt_names_the_owner_whose_account_was_paid_when_a_sale_is_recorded_late(
    api: Api, tmp_path: Path
) -> None:
    """The seller paid on 2026-07-20; the sale, recorded afterwards, hands the unit over on 2026-07-01.
    The receipt names the seller (whose account the payment went into), not the owner on the day."""
    estate = await api.make_estate(units=1, effective_from="2020-01-01", owners_from="2020-01-01")
    unit, seller_id = estate.unit_ids[0], estate.owner_ids[0]
    await api.bill(estate.id, "2026-06", "2026-06-01")
    payment = await pay(api, unit, seller_id, 25000, "2026-07-20")
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买受人赵六"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-07-01"})
    )
    url = f"/api/v1/payments/{payment['id']}/receipt.pdf"

    for reader, name in ((Role.manager, "业主0"), (await api.owner_token(seller_id), "业*0")):
        text = compact(pdf_text((await api.get(url, reader)).content, tmp_path))
        assert f"交款人：{name}" in text and "赵六" not in text
    problem(await api.get(url, await api.owner_token(buyer["id"])), 403)
