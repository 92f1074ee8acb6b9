"""Refusals a person can act on (issue 18 item 5): each names the field and says what to send, the
format or the allowed values, and an owner reads money in yuan, in their own language."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from feesvc.auth.models import Role
from feesvc.db import business_today
from tests.support import Api, problem


def _messages(body: dict[str, Any], field: str) -> str:
    return " ".join(e["message"] for e in body.get("errors", []) if e["field"] == field)


@pytest.mark.parametrize("day", ["2026-13-01", "11/30/2026", "yesterday", "2026-02-30"])
async def test_a_body_date_that_is_not_one_says_yyyy_mm_dd(api: Api, day: str) -> None:
    estate = await api.make_estate(units=1)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash", "received_on": day}
    refusal = problem(await api.post("/api/v1/payments", body, Role.cashier), 400, "received_on")
    said = _messages(refusal, "received_on")
    assert "YYYY-MM-DD" in said and "RFC3339" not in refusal["detail"], refusal
    assert "YYYY-MM-DD" in refusal["detail"]


async def test_a_query_date_that_is_not_one_says_yyyy_mm_dd(api: Api) -> None:
    estate = await api.make_estate(units=1)
    refusal = problem(await api.get(f"/api/v1/units/{estate.unit_ids[0]}/ledger?as_of=31.12.2026"), 400, "as_of")
    assert "YYYY-MM-DD" in _messages(refusal, "as_of") and "RFC3339" not in refusal["detail"], refusal


async def test_a_time_that_is_not_one_says_what_to_send(api: Api) -> None:
    estate = await api.make_estate(units=1)
    path = f"/api/v1/units/{estate.unit_ids[0]}/complaints"
    body = {"category": "repair", "text": "来电投诉", "channel": "phone"}
    for when in ("yesterday morning", "2026-11-30 09:30", "2026-11-30T09:30:00"):
        refusal = problem(await api.post(path, {**body, "opened_at": when}), 400, "opened_at")
        said = _messages(refusal, "opened_at")
        assert "RFC3339" not in said and "2026-11-30T09:30:00+08:00" in said, refusal


@pytest.mark.parametrize("period", ["2026-1", "26-01", "2026/01"])
async def test_a_period_says_yyyy_mm_in_a_body_and_in_a_query(api: Api, period: str) -> None:
    estate = await api.make_estate(units=1)
    run = problem(await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": period}), 400, "period")
    path = f"/api/v1/estates/{estate.id}/reports/collection-rate"
    report = problem(await api.get(path, params={"period": period}), 400, "period")
    for refusal in (run, report):
        said = _messages(refusal, "period")
        assert "YYYY-MM" in said and "regex" not in refusal["detail"] and "(?!" not in refusal["detail"], refusal


async def test_a_query_parameter_left_out_is_named(api: Api) -> None:
    estate = await api.make_estate(units=1)
    refusal = problem(await api.get(f"/api/v1/estates/{estate.id}/reports/collection-rate"), 400, "period")
    assert "YYYY-MM" in _messages(refusal, "period"), refusal


async def test_a_header_left_out_is_named(api: Api) -> None:
    estate = await api.make_estate(units=1)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash"}
    response = await api.client.post(
        "/api/v1/payments", json=body, headers={"Authorization": f"Bearer {api.tokens[Role.cashier]}"}
    )
    refusal = problem(response, 400, "Idempotency-Key")
    said = _messages(refusal, "Idempotency-Key")
    assert said.startswith("required; send") and "once per payment" in said, refusal


async def test_an_enum_value_lists_the_allowed_values(api: Api) -> None:
    estate = await api.make_estate(units=1)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "微信", "received_on": "2026-01-05"}
    refusal = problem(await api.post("/api/v1/payments", body, Role.cashier), 400, "method")
    said = _messages(refusal, "method")
    for value in ("cash", "wechat", "alipay", "bank_transfer", "card"):
        assert value in said, refusal
    assert "微信" in said  # what was sent, so the person sees which value is meant


async def test_a_literal_value_lists_the_allowed_values(api: Api) -> None:
    estate = await api.make_estate(units=1)
    body = {"unit_id": estate.unit_ids[0], "amount_fen": 100, "method": "cash", "currency": "USD"}
    refusal = problem(await api.post("/api/v1/payments", body, Role.cashier), 400, "currency")
    assert '"CNY"' in _messages(refusal, "currency"), refusal


async def _overdue_unit(api: Api, owner_locale: str | None) -> tuple[int, str]:
    """A unit with one charge long overdue (2024-01 at 2.50 × 100 m²: 25,000 fen) and an owner
    token; the owner's locale is ``owner_locale`` (None: the estate's, zh_CN)."""
    estate = await api.make_estate(units=1)
    await api.bill(estate.id, "2024-01", "2024-01-01")
    owner_id = estate.owner_ids[0]
    if owner_locale is not None:
        async with api.sessions() as s:
            from feesvc.registry.models import Owner

            owner = await s.get(Owner, owner_id)
            assert owner is not None
            owner.locale = owner_locale
            await s.commit()
    return estate.unit_ids[0], await api.owner_token(owner_id)


@pytest.mark.parametrize(
    ("locale", "money", "words"),
    [
        (None, "¥250.00", "逾期"),
        ("zh_CN", "¥250.00", "逾期"),
        ("zh_TW", "人民幣250.00元", "逾期"),  # the estate's money style (default 人民幣…元), never CN¥
        ("en", "CN¥250.00", "overdue"),
    ],
)
async def test_an_owner_reads_overdue_money_in_yuan_in_their_language(
    api: Api, locale: str | None, money: str, words: str
) -> None:
    unit, token = await _overdue_unit(api, locale)
    refusal = problem(await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 6}, token), 422)
    text = refusal["detail"] + " ".join(e["message"] for e in refusal.get("errors", []))
    assert money in text and words in text, refusal
    assert "fen" not in text and "25000" not in text, refusal


async def test_staff_read_overdue_money_in_yuan_too(api: Api) -> None:
    unit, _ = await _overdue_unit(api, None)
    refusal = problem(await api.post(f"/api/v1/units/{unit}/prepayments/quote", {"months": 6}, Role.cashier), 422)
    assert "¥250.00 overdue" in refusal["detail"] and "fen" not in refusal["detail"], refusal


async def test_a_late_fee_rerun_after_a_rate_change_is_answered(api: Api) -> None:
    """The issue's 409 "conflicts with data already recorded": a run, a change of the daily rate
    from the same day, and the run again as of that day. The rerun brings the day's fee to the new
    rate (up, then down with a correction); a third run posts nothing."""
    settings = {"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    estate = await api.make_estate(units=2, rate="2.00", area="100.00", settings=settings)
    today = business_today()
    long_ago = today - timedelta(days=200)
    period = f"{long_ago:%Y-%m}"
    await api.bill(estate.id, period, date(long_ago.year, long_ago.month, 1).isoformat())

    async def run() -> dict[str, Any]:
        response = await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": today.isoformat()})
        return dict(await api.ok(response, 200))

    async def change_rate(rate: str) -> None:
        path = f"/api/v1/estates/{estate.id}/late-fee-terms"
        body = {"effective_from": today.isoformat(), "daily_rate": rate, "basis": "业主大会决议", "grace_days": 10}
        await api.ok(await api.post(path, {**body, "cap": "principal"}))

    first = await run()
    assert first["late_fees_posted"] == 2
    await change_rate("0.0005")
    raised = await run()
    assert raised["posted_fen"] == 2 * (20000 * 5 // 10000 - 20000 * 3 // 10000), raised  # today's day, 10 − 6 fen
    assert (await run())["late_fees_posted"] == 0
    # A second version from the same day is refused with a reason, not a database conflict.
    path = f"/api/v1/estates/{estate.id}/late-fee-terms"
    body = {"effective_from": today.isoformat(), "daily_rate": "0.0001", "basis": "更正", "grace_days": 10}
    again = problem(await api.post(path, {**body, "cap": "principal"}), 409, "effective_from")
    assert "conflicts with data already recorded" not in again["detail"], again
