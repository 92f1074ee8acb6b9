"""Strict input (issue 14 item 6): money is JSON integer fen, ids are JSON integers in the database's
range, text carries no control characters; on every route, path and query included."""

from __future__ import annotations

import json
import uuid

import pytest
from httpx import Response

from feesvc.auth.models import Role
from feesvc.ledger.models import LedgerEntry
from feesvc.payments.models import Payment, Receipt
from tests.support import Api, Estate, problem

FEN_HINT = "integer fen: 12345 means ¥123.45"


async def post_raw(api: Api, path: str, body: str, role: Role = Role.cashier) -> Response:
    """POST ``body`` exactly as written: json= would turn 1e3 into 1000.0 and "100" stays a string."""
    headers = api.headers(role, {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
    return await api.client.post(path, content=body.encode(), headers=headers)


async def billed(api: Api) -> Estate:
    estate = await api.make_estate(units=1)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    return estate


async def nothing_paid(api: Api, estate: Estate) -> None:
    assert await api.count(Payment, Payment.estate_id == estate.id) == 0
    assert await api.count(Receipt, Receipt.estate_id == estate.id) == 0
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id, LedgerEntry.payment_id.is_not(None)) == 0


@pytest.mark.parametrize("amount", ['"100.00"', '"100"', '"1e3"', "100.00", "1e3", "1E2", "100.5", "-0.0"])
async def test_money_is_a_json_integer_of_fen(api: Api, amount: str) -> None:
    estate = await billed(api)
    body = f'{{"unit_id": {estate.unit_ids[0]}, "amount_fen": {amount}, "method": "cash"}}'
    refused = problem(await post_raw(api, "/api/v1/payments", body), 400, "amount_fen")
    assert FEN_HINT in refused["detail"], refused
    assert any(FEN_HINT in e["message"] for e in refused["errors"] if e["field"] == "amount_fen"), refused
    await nothing_paid(api, estate)


@pytest.mark.parametrize("unit_id", ['"{unit}"', "{unit}.0", "2147483648", str(2**63), str(2**64), "-1", "0"])
async def test_a_body_id_is_a_json_integer_in_the_database_range(api: Api, unit_id: str) -> None:
    estate = await billed(api)
    body = f'{{"unit_id": {unit_id.format(unit=estate.unit_ids[0])}, "amount_fen": 100, "method": "cash"}}'
    problem(await post_raw(api, "/api/v1/payments", body), 400, "unit_id")
    await nothing_paid(api, estate)


@pytest.mark.parametrize("field", ["external_ref", "payer_name"])
@pytest.mark.parametrize("text", ["a\u0000b", "\u0001", "张三\u001b[31m", "a\u007f", "a\u0085", "a\nb", "张三\n", "\t"])
async def test_single_line_text_refuses_control_characters(api: Api, field: str, text: str) -> None:
    estate = await billed(api)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash", field: text}
    problem(await post_raw(api, "/api/v1/payments", json.dumps(body)), 400, field)
    await nothing_paid(api, estate)


async def test_a_lone_surrogate_is_refused_not_stored(api: Api) -> None:
    estate = await billed(api)
    body = f'{{"unit_id": {estate.unit_ids[0]}, "amount_fen": 100, "method": "cash", "payer_name": "a\\ud800"}}'
    problem(await post_raw(api, "/api/v1/payments", body), 400)
    await nothing_paid(api, estate)


async def test_ordinary_text_and_multi_line_notes_still_pass(api: Api) -> None:
    estate = await billed(api)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash", "payer_name": "王 小明 (代缴)"}
    payment = await api.ok(await post_raw(api, "/api/v1/payments", json.dumps(body)), 201)
    # Stored as typed: a manager reads the whole name (a cashier's response masks it).
    stored = await api.ok(await api.get(f"/api/v1/payments/{payment['id']}"))
    assert stored["payer_name"] == "王 小明 (代缴)"
    text = "厨房漏水。\n楼上 1202 的管道。\r\n\t请尽快处理"
    complaint = await api.ok(
        await api.post(f"/api/v1/units/{estate.unit_ids[0]}/complaints", {"category": "repair", "text": text})
    )
    assert complaint["text"] == text


@pytest.mark.parametrize(
    "segment", ["2147483648", str(2**63), str(2**64), "%D9%A3", "+1", "-1", "0", "1_0", "%201", "1e3", "1.0"]
)
async def test_a_path_id_that_cannot_name_a_record_is_not_found(api: Api, segment: str) -> None:
    problem(await api.get(f"/api/v1/units/{segment}/ledger"), 404)
    problem(await api.get(f"/api/v1/payments/{segment}"), 404)
    problem(await api.post(f"/api/v1/payments/{segment}/void", {"reason": "录错了金额"}), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "1e2"}, "page_size"),
        ({"page_size": "10.0"}, "page_size"),
        ({"page_size": "١٠"}, "page_size"),
        ({"page": str(2**63)}, "page"),
        ({"page": "2147483648"}, "page"),
        ({"page": "007"}, "page"),
    ],
)
async def test_query_integers_are_plain_digits_in_range(api: Api, params: dict[str, str], field: str) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.get(f"/api/v1/estates/{estate.id}/units", params=params), 400, field)


@pytest.mark.parametrize("period", ["2026-11\n", "2026-11\u0000", "٢٠٢٦-11"])
async def test_patterned_text_refuses_a_trailing_newline_and_other_digits(api: Api, period: str) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": period}), 400, "period")
    problem(await api.get(f"/api/v1/estates/{estate.id}/service-summary", params={"period": period}), 400, "period")


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
async def test_dates_fall_within_the_years_every_route_takes(api: Api, day: str) -> None:
    estate = await billed(api)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash", "received_on": day}
    problem(await post_raw(api, "/api/v1/payments", json.dumps(body)), 400, "received_on")
    await nothing_paid(api, estate)
    unit = estate.unit_ids[0]
    problem(await api.get(f"/api/v1/units/{unit}/ledger", params={"as_of": day}), 400, "as_of")
    problem(await api.get(f"/api/v1/units/{unit}/statement", params={"from": day}), 400, "from")
    stamp = f"{day}T09:30:00+08:00"
    complaint = {"category": "repair", "text": "漏水", "opened_at": stamp}
    problem(await api.post(f"/api/v1/units/{unit}/complaints", complaint), 400, "opened_at")


async def test_a_time_is_a_string_not_a_number(api: Api) -> None:
    estate = await api.make_estate(units=1)
    complaint = {"category": "repair", "text": "漏水", "opened_at": 0}
    problem(await api.post(f"/api/v1/units/{estate.unit_ids[0]}/complaints", complaint), 400, "opened_at")


@pytest.mark.parametrize("period", ["0000-01", "1899-12", "3000-01", "9999-12"])
async def test_periods_fall_within_the_same_years(api: Api, period: str) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": period}), 400, "period")
    path = f"/api/v1/estates/{estate.id}/reports/collection-rate"
    problem(await api.get(path, params={"period": period}), 400, "period")


async def test_json_nested_deep_is_refused_not_a_server_error(api: Api) -> None:
    estate = await billed(api)
    deep = "[" * 10_000 + "]" * 10_000
    for body in (deep, f'{{"unit_id": {estate.unit_ids[0]}, "amount_fen": 100, "method": "cash", "x": {deep}}}'):
        problem(await post_raw(api, "/api/v1/payments", body), 400)
    await nothing_paid(api, estate)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None])
async def test_a_json_body_needs_the_json_content_type(api: Api, content_type: str | None) -> None:
    estate = await billed(api)
    body = json.dumps({"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash"}).encode()
    headers = api.headers(Role.cashier, {"Idempotency-Key": uuid.uuid4().hex})
    if content_type:
        headers["Content-Type"] = content_type
    problem(await api.client.post("/api/v1/payments", content=body, headers=headers), 415)
    await nothing_paid(api, estate)
    headers["Content-Type"] = "application/json; charset=utf-8"
    await api.ok(await api.client.post("/api/v1/payments", content=body, headers=headers), 201)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"late_fee_daily_rate": "2.80"}, "late_fee_daily_rate"),
        ({"late_fee_daily_rate": "999999.99999999"}, "late_fee_daily_rate"),
        ({"late_fee_daily_rate": "0.011"}, "late_fee_daily_rate"),
        ({"late_fee_daily_rate": 0.0003}, "late_fee_daily_rate"),
        ({"vacancy_payable_ratio": "1.5"}, "vacancy_payable_ratio"),
        ({"late_fee_cap_fen": 3_000_000_000}, "late_fee_cap_fen"),
    ],
)
async def test_estate_settings_keep_rates_and_caps_within_the_domain(
    api: Api, change: dict[str, object], field: str
) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.put(f"/api/v1/estates/{estate.id}/settings", change), 400, field)
    code = "X" + uuid.uuid4().hex[:8]
    new = {"code": code, "name": "小区", "company_name": "物业", "settings": change}
    problem(await api.post("/api/v1/estates", new), 400, field)
    assert (await api.ok(await api.get(f"/api/v1/estates/{estate.id}")))["settings"]["late_fee_daily_rate"] == "0.0003"


async def test_the_highest_daily_rate_and_the_longest_address_are_taken(api: Api) -> None:
    estate = await api.make_estate(units=1)
    updated = await api.ok(await api.put(f"/api/v1/estates/{estate.id}/settings", {"late_fee_daily_rate": "0.01"}))
    assert updated["settings"]["late_fee_daily_rate"] == "0.01"
    code = "X" + uuid.uuid4().hex[:8]
    long = {"code": code, "name": "小区", "company_name": "物业", "address": "路" * 400}
    await api.ok(await api.post("/api/v1/estates", long))
    problem(await api.post("/api/v1/estates", {**long, "code": code + "b", "address": "路" * 401}), 400, "address")
    problem(await api.post("/api/v1/estates", {**long, "code": code + "c", "address": "路" * 5_000}), 400, "address")


async def test_a_void_reason_fits_the_reversal_entries(api: Api) -> None:
    estate = await billed(api)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash"}
    payment = await api.ok(await post_raw(api, "/api/v1/payments", json.dumps(body)), 201)
    void = f"/api/v1/payments/{payment['id']}/void"
    problem(await api.post(void, {"reason": "录" * 495}), 400, "reason")
    problem(await api.post(void, {"reason": "录" * 461}), 400, "reason")
    assert (await api.ok(await api.post(void, {"reason": "录" * 460}), 200))["voided"]
