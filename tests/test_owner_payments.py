"""Owners list their own payments and download their own receipts (issue 18 item 7), nothing else."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from tests.support import Api, problem
from tests.test_receipt import compact, pdf_text


async def pay(api: Api, unit_id: int, amount: int, received_on: str, payer: str | None = None) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "cash", "received_on": received_on}
    if payer is not None:
        body["payer_name"] = payer
    key = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=key))


async def test_a_seller_and_a_buyer_each_see_only_their_own_payments_and_receipts(api: Api, tmp_path: Path) -> None:
    estate = await api.make_estate(units=2, rate="2.00")
    unit, neighbour = estate.unit_ids
    seller_id, neighbour_id = estate.owner_ids
    for month in ("2025-01", "2025-02", "2025-03"):
        await api.bill(estate.id, month, f"{month}-01")
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买家王"}))
    sale = {"owner_id": buyer["id"], "starts_on": "2025-03-01"}
    await api.ok(await api.post(f"/api/v1/units/{unit}/ownerships", sale))
    sellers = [await pay(api, unit, 20000, "2025-01-15"), await pay(api, unit, 10000, "2025-02-10")]
    buyers = [await pay(api, unit, 20000, "2025-03-05", payer="买家王")]
    neighbours = [await pay(api, neighbour, 20000, "2025-01-20")]

    seller = await api.owner_token(seller_id)
    buyer_token = await api.owner_token(buyer["id"])
    listed = await api.ok(await api.get("/api/v1/owners/me/payments", seller))
    assert [p["id"] for p in listed["items"]] == [sellers[1]["id"], sellers[0]["id"]]  # newest first
    assert listed["total"] == 2 and listed["page"] == 1
    assert [p["id"] for p in (await api.ok(await api.get("/api/v1/owners/me/payments", buyer_token)))["items"]] == [
        buyers[0]["id"]
    ]
    # Pages: a stable order and the total on every page.
    first = await api.ok(await api.get("/api/v1/owners/me/payments", seller, params={"page_size": 1}))
    second = await api.ok(await api.get("/api/v1/owners/me/payments", seller, params={"page_size": 1, "page": 2}))
    assert [first["total"], second["total"]] == [2, 2]
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [sellers[1]["id"], sellers[0]["id"]]
    problem(await api.get("/api/v1/owners/me/payments", seller, params={"page_size": 0}), 400, "page_size")
    # Staff have no "me": the route is the owner's.
    problem(await api.get("/api/v1/owners/me/payments", Role.cashier), 403)

    # Receipts: their own payments' only; another's, the neighbour's or one that does not exist: 403.
    receipt = await api.get(f"/api/v1/payments/{sellers[0]['id']}/receipt.pdf", seller)
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    assert sellers[0]["receipt_number"] in compact(pdf_text(receipt.content, tmp_path))
    for payment in (buyers[0], neighbours[0]):
        problem(await api.get(f"/api/v1/payments/{payment['id']}/receipt.pdf", seller), 403)
    problem(await api.get(f"/api/v1/payments/{sellers[0]['id']}/receipt.pdf", buyer_token), 403)
    problem(await api.get("/api/v1/payments/987654321/receipt.pdf", seller), 403)
    assert (await api.get(f"/api/v1/payments/{buyers[0]['id']}/receipt.pdf", buyer_token)).status_code == 200
    neighbour_token = await api.owner_token(neighbour_id)
    assert (await api.ok(await api.get("/api/v1/owners/me/payments", neighbour_token)))["total"] == 1
    # The payment itself stays a desk route; an owner reads it through the list.
    problem(await api.get(f"/api/v1/payments/{sellers[0]['id']}", seller), 403)
    # System tokens print no receipts (they never did).
    problem(await api.get(f"/api/v1/payments/{sellers[0]['id']}/receipt.pdf", Role.system), 403)

    # Audited like other reads of personal data: who read which receipt, and each listing.
    receipts_read = await api.count(
        AuditEvent,
        AuditEvent.action == "payment.receipt",
        AuditEvent.entity_id == str(sellers[0]["id"]),
        AuditEvent.role == "owner",
    )
    assert receipts_read == 1
    listings = await api.count(AuditEvent, AuditEvent.action == "payments.list", AuditEvent.entity_id == str(seller_id))
    assert listings == 3


async def test_a_voided_payment_stays_listed_and_its_receipt_says_so(api: Api, tmp_path: Path) -> None:
    estate = await api.make_estate(units=1, rate="2.00")
    await api.bill(estate.id, "2025-01", "2025-01-01")
    payment = await pay(api, estate.unit_ids[0], 20000, "2025-01-15")
    await api.ok(await api.post(f"/api/v1/payments/{payment['id']}/void", {"reason": "收错户号"}), 200)
    owner = await api.owner_token(estate.owner_ids[0])
    [listed] = (await api.ok(await api.get("/api/v1/owners/me/payments", owner)))["items"]
    assert listed["id"] == payment["id"] and listed["voided"] is True
    receipt = await api.get(f"/api/v1/payments/{payment['id']}/receipt.pdf", owner)
    assert receipt.status_code == 200 and "作废" in compact(pdf_text(receipt.content, tmp_path))
