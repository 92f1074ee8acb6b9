"""Masking as one rule (issue 18 item 4): every route, every role.

The rule itself is ``feesvc/registry/masking.py``; these tests hold every route that can carry an
owner's name, phone, ID number, e-mail or address to it, for every role.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.registry.masking import NameView, mask_email, mask_id_number, mask_name, mask_phone
from tests.support import Api
from tests.test_receipt import compact, pdf_text

# --- the rule ---------------------------------------------------------------------------------


def test_short_phones_and_ids_mask_more_never_reveal_more() -> None:
    # The reproductions: a 7-digit phone came back whole, "AB123456" as "AB1*3456".
    assert mask_phone("5551234") == "*******"
    assert mask_id_number("AB123456") == "********"
    # Long values: at most the last 4 digits of a phone, the first and last 2 of an ID number.
    assert mask_phone("13800001234") == "*******1234"
    assert mask_phone("+86 138-0000-1234") == "*********1234"  # separators dropped, country code masked
    assert mask_phone("01012345678") == "*******5678"
    assert mask_phone("87654321") == "*******1"  # 7 stay hidden, so 1 shows
    assert mask_phone("12345") == "*****"
    assert mask_id_number("110101199003071234") == "11**************34"
    assert mask_id_number("E12345678") == "*********"  # a passport: 9 characters, none shown
    assert mask_id_number("AB1234567C") == "A********C"
    assert mask_id_number("") == "" and mask_phone("") == ""
    for value in ("5551234", "13800001234", "+86 138-0000-1234", "123456789012345678901"):
        masked = mask_phone(value)
        shown = len(masked) - masked.count("*")
        assert shown <= 4 and masked.count("*") >= min(7, len(masked))
    for value in ("AB123456", "110101199003071234", "X" * 40, "ABCDEFGHIJK"):
        masked = mask_id_number(value)
        shown = len(masked) - masked.count("*")
        assert shown <= 4 and masked.count("*") >= min(8, len(value))
    assert mask_email("ouyang@example.com") == "o***@example.com"


def test_names_show_what_each_role_needs() -> None:
    assert mask_name("欧阳明华", NameView.whole) == "欧阳明华"
    assert mask_name("欧阳明华", NameView.confirm) == "欧**华"
    assert mask_name("张伟明", NameView.confirm) == "张*明"
    assert mask_name("李娜", NameView.confirm) == "李*"  # a two-character name keeps only its surname
    assert mask_name("王", NameView.confirm) == "*"
    assert mask_name("欧阳明华", NameView.hidden) == "****"


# --- every route, every role ------------------------------------------------------------------

NAME = "欧阳明华"
PHONE = "139 5708 6429"
ID_NUMBER = "11010519900307923X"
EMAIL = "ouyang.minghua@example.com"
ADDRESS = "北京市朝阳区幸福路88号"
TODAY = business_today()
LATEST_DUE = TODAY - timedelta(days=21)

# The letters sent to the owner are printed as issued (name and postal address): see masking.py.
LETTER_DOCUMENTS = ("/letter.pdf", "/print.pdf")


def _windows(value: str, width: int) -> set[str]:
    return {value[i : i + width] for i in range(len(value) - width + 1)}


PHONE_DIGITS = re.sub(r"\D", "", PHONE)
PHONE_LEAKS = _windows(PHONE_DIGITS, 5)
RANDOM_HEX = re.compile(r"[0-9a-f]{32}")  # any 5 digits in a row of the phone is more than its last 4
ID_LEAKS = _windows(ID_NUMBER, 5)
NAME_LEAKS = _windows(NAME, 2)  # two characters of the name together reveal more than 欧**华
CONFIRM = mask_name(NAME, NameView.confirm)


def months_back(n: int) -> str:
    first = LATEST_DUE.replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}"


async def _world(api: Api) -> dict[str, Any]:
    """An estate with one owner whose data is distinctive, and a record of every kind about them."""
    estate = await api.make_estate(units=1, rate="2.00", settings={"due_day": min(LATEST_DUE.day, 28)})
    unit = await api.ok(
        await api.post("/api/v1/units", {"building_id": estate.building_id, "number": "808", "floor_area_m2": "90.00"})
    )
    owner = await api.ok(
        await api.post(
            "/api/v1/owners",
            {"name": NAME, "phone": PHONE, "id_number": ID_NUMBER, "email": EMAIL, "postal_address": ADDRESS},
        )
    )
    await api.ok(
        await api.post(f"/api/v1/units/{unit['id']}/ownerships", {"owner_id": owner["id"], "starts_on": "2024-01-01"})
    )
    for n in (3, 2, 1, 0):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    payments = []
    for payer in (NAME, None):  # named by the cashier, and left to the receipt to name the owner
        body = {"unit_id": unit["id"], "amount_fen": 5000, "method": "cash", "payer_name": payer}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        payments.append(await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=key)))
    case = await api.ok(await api.post(f"/api/v1/units/{unit['id']}/arrears-case", None, Role.cashier))
    note = {"kind": "call", "text": "业主说下月缴"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", note, Role.cashier))
    plan = await api.ok(
        await api.post(
            "/api/v1/installment-plans",
            {
                "unit_id": unit["id"],
                "installments": 3,
                "first_due": f"{TODAY.year + 1}-01-31",
                "late_fee_treatment": "freeze",
            },
        ),
        201,
    )
    run = await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}), 200)
    letters = await api.ok(await api.get(f"/api/v1/units/{unit['id']}/letters"))
    assert letters, run
    complaint = await api.ok(
        await api.post(f"/api/v1/units/{unit['id']}/complaints", {"category": "leak", "text": "漏水"}, Role.cashier)
    )
    certificate = await api.get(f"/api/v1/units/{unit['id']}/settlement-certificate", params={"owner_id": owner["id"]})
    filing = {
        "unit_id": unit["id"],
        "owner_id": owner["id"],
        "kind": "payment_order",
        "filed_on": TODAY.isoformat(),
        "court": "某区人民法院",
        "case_no": "(2026)某0101民督1号",
        "periods": [months_back(3)],
    }
    filing_key = {"Idempotency-Key": uuid.uuid4().hex}
    filed = await api.ok(await api.post("/api/v1/limitation/filings", filing, headers=filing_key), 201)
    return {
        "estate_id": estate.id,
        "unit_id": unit["id"],
        "certificate_id": int(certificate.headers["X-Certificate-Id"]),
        "owner_id": owner["id"],
        "payment_id": payments[1]["id"],
        "payment_ids": [p["id"] for p in payments],
        "case_id": case["id"],
        "plan_id": plan["id"],
        "letter_id": letters[0]["id"],
        "run_id": run["run_id"],
        "complaint_id": complaint["id"],
        "filing_id": filed["id"],
        "order_id": 1,  # no payment order (no online payment set up here): every reader is refused
        "other_owner_id": estate.owner_ids[0],
    }


def _fill(path: str, ids: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"route {path}: no test value for {{{name}}}; add one to _world"
        return str(ids[name])

    return re.sub(r"\{(\w+):\w+\}", value, path)


def _check(text: str, where: str, names: str, letter_document: bool) -> None:
    """``names``: "whole", "confirm" or "none": the most of the name ``text`` may show."""
    # Request ids and idempotency keys are random hex: five of the phone's digits turn up in one
    # now and then, and that is no leak.
    text = RANDOM_HEX.sub("", text)
    for leak in PHONE_LEAKS:
        assert leak not in text, f"{where}: phone digits {leak}"
    for leak in ID_LEAKS:
        assert leak not in text, f"{where}: ID number characters {leak}"
    assert EMAIL.split("@")[0] not in text, f"{where}: e-mail"
    if letter_document:
        return
    assert "幸福路" not in text, f"{where}: postal address"
    if names == "whole":
        return
    for leak in NAME_LEAKS:
        assert leak not in text, f"{where}: name characters {leak}"
    if names == "none":
        assert CONFIRM not in text, f"{where}: the masked name"


async def test_every_route_masks_for_every_role(api: Api, tmp_path: Path) -> None:
    ids = await _world(api)
    me = await api.owner_token(ids["owner_id"])
    other = await api.owner_token(ids["other_owner_id"])
    # What each caller may see of the name (registry/masking.py); the owner's own statement: whole.
    readers: list[tuple[str, Role | str, str]] = [
        ("manager", Role.manager, "whole"),
        ("cashier", Role.cashier, "confirm"),
        ("system", Role.system, "none"),
        ("owner", me, "confirm"),
        ("another owner", other, "none"),
    ]
    gets = sorted(
        {
            route.path
            for route in api.client.app.routes
            if route.path.startswith("/api/v1/") and "GET" in getattr(route, "methods", ())
        }
    )
    assert len(gets) > 30
    seen: dict[tuple[str, str], int] = {}
    for path in gets:
        url = _fill(path, ids)
        variants = [{}]
        if path.endswith("/statement"):
            variants.append({"Accept": "application/pdf"})
        for label, role, names in readers:
            for headers in variants:
                response = await api.get(url, role, headers=headers)
                seen[(path, label)] = response.status_code
                assert response.status_code < 500, f"{label} GET {url}: {response.text}"
                is_pdf = response.headers.get("content-type", "").startswith("application/pdf")
                text = compact(pdf_text(response.content, tmp_path)) if is_pdf else response.text
                allowed = names
                if path.endswith("/statement") and label == "owner":
                    allowed = "whole"  # the owner's own statement names them, as it always has
                _check(text, f"{label} GET {url} {headers}", allowed, path.endswith(LETTER_DOCUMENTS))

    # The routes that carry personal data answered, so the checks above saw it.
    statement = "/api/v1/units/{unit_id:int}/statement"
    for label in ("manager", "cashier", "owner"):
        assert seen[(statement, label)] == 200
    for label in ("manager", "cashier"):
        assert seen[("/api/v1/owners/{owner_id:int}", label)] == 200
        assert seen[("/api/v1/payments/{payment_id:int}", label)] == 200
    assert seen[("/api/v1/payments/{payment_id:int}/receipt.pdf", "owner")] == 200
    assert seen[("/api/v1/payments/{payment_id:int}/receipt.pdf", "another owner")] == 403
    assert seen[("/api/v1/owners/me/payments", "owner")] == 200


async def test_names_are_the_same_on_owner_records_statements_payments_and_receipts(api: Api, tmp_path: Path) -> None:
    ids = await _world(api)
    me = await api.owner_token(ids["owner_id"])
    unit, owner_id, named, unnamed = ids["unit_id"], ids["owner_id"], *ids["payment_ids"]
    expected = {Role.manager: NAME, Role.cashier: CONFIRM}
    for role, name in expected.items():
        record = await api.ok(await api.get(f"/api/v1/owners/{owner_id}", role))
        assert (record["name"], record["phone"], record["id_number"]) == (name, "*******6429", "11**************3X")
        assert record["email"] == "o***@example.com"
        statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", role))
        assert statement["owner_name"] == name
        payment = await api.ok(await api.get(f"/api/v1/payments/{named}", role))
        assert payment["payer_name"] == name
        receipt = await api.get(f"/api/v1/payments/{unnamed}/receipt.pdf", role)
        assert name in compact(pdf_text(receipt.content, tmp_path))
        pdf = await api.get(f"/api/v1/units/{unit}/statement", role, headers={"Accept": "application/pdf"})
        assert name in compact(pdf_text(pdf.content, tmp_path))
    system = await api.ok(await api.get(f"/api/v1/owners/{owner_id}", Role.system))
    assert system["name"] == "****"
    # The owner: their own statement names them whole (as it always has); payments, the cashier's view.
    assert (await api.ok(await api.get(f"/api/v1/units/{unit}/statement", me)))["owner_name"] == NAME
    mine = await api.ok(await api.get("/api/v1/owners/me/payments", me))
    assert {p["payer_name"] for p in mine["items"]} == {CONFIRM, ""}
    # Recording a payment answers with the same masking as reading it.
    body = {"unit_id": unit, "amount_fen": 100, "method": "cash", "payer_name": NAME}
    made = await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert (await api.ok(made))["payer_name"] == CONFIRM
