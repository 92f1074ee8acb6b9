"""Arrears cases on a sold unit (issue 15): a case is for one owner's account. The seller and the
buyer each have their own, with their own amount, periods and notes; pausing one pauses nobody else."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col

from feesvc.arrears.pauses import reminder_pause_reason
from feesvc.auth.models import Role
from feesvc.letters.models import Letter
from tests.sale_support import sold_unit
from tests.support import Api, problem


async def open_case(api: Api, unit_id: int, owner_id: int | None = None, status: int = 201) -> Any:
    params = {} if owner_id is None else {"owner_id": owner_id}
    response = await api.client.post(
        f"/api/v1/units/{unit_id}/arrears-case", params=params, headers=api.headers(Role.cashier)
    )
    return await api.ok(response, status)


async def classify(api: Api, case_id: int) -> Any:
    return await api.ok(await api.post(f"/api/v1/arrears-cases/{case_id}/classify", None, Role.cashier))


async def test_the_seller_and_the_buyer_each_have_a_case_with_their_own_facts(api: Api) -> None:
    sale = await sold_unit(api)
    seller_case = await open_case(api, sale.unit_id, sale.seller_id)
    assert (seller_case["owner_id"], seller_case["overdue_fen"], seller_case["months_overdue"]) == (
        sale.seller_id,
        25000,
        1,
    )
    # Without an owner: the current owner's account, since the buyer owes too.
    buyer_case = await open_case(api, sale.unit_id)
    assert buyer_case["id"] != seller_case["id"]
    assert (buyer_case["owner_id"], buyer_case["overdue_fen"], buyer_case["months_overdue"]) == (
        sale.buyer_id,
        50000,
        2,
    )
    assert (await open_case(api, sale.unit_id, sale.seller_id, status=200))["id"] == seller_case["id"]
    shown = await api.ok(
        await api.get(f"/api/v1/units/{sale.unit_id}/arrears-case", Role.cashier, params={"owner_id": sale.seller_id})
    )
    assert shown["id"] == seller_case["id"] and shown["overdue_fen"] == 25000

    await api.ok(
        await api.post(
            f"/api/v1/arrears-cases/{seller_case['id']}/notes",
            {"kind": "call", "text": "卖方说房子卖了，钱等过户款到了再交。"},
            Role.cashier,
        )
    )
    seller_facts = (await classify(api, seller_case["id"]))["latest"]["facts"]
    buyer_facts = (await classify(api, buyer_case["id"]))["latest"]["facts"]
    assert (seller_facts["amount_fen"], seller_facts["history_periods"]) == (25000, ["2026-06"])
    assert (buyer_facts["amount_fen"], buyer_facts["history_periods"]) == (50000, ["2026-09", "2026-10"])
    assert len(seller_facts["note_ids"]) == 1 and buyer_facts["note_ids"] == []

    # An owner with nothing overdue on this unit has no case to open.
    stranger = await api.ok(await api.post("/api/v1/owners", {"name": "路人甲"}))
    problem(
        await api.client.post(
            f"/api/v1/units/{sale.unit_id}/arrears-case",
            params={"owner_id": stranger["id"]},
            headers=api.headers(Role.cashier),
        ),
        409,
        "owner_id",
    )


async def test_a_hold_on_the_sellers_case_does_not_hold_the_buyers_reminders(api: Api) -> None:
    sale = await sold_unit(api)
    seller_case = await open_case(api, sale.unit_id, sale.seller_id)
    hold = {"status": "paused", "reason": "卖方在外地，经理批准暂缓"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{seller_case['id']}/status", hold), 200)
    async with api.sessions() as session:
        as_of = date(2026, 12, 1)
        assert "paused" in (await reminder_pause_reason(session, sale.unit_id, as_of, owner_id=sale.seller_id) or "")
        assert await reminder_pause_reason(session, sale.unit_id, as_of, owner_id=sale.buyer_id) is None

    body = {"estate_id": sale.estate.id, "as_of": "2026-12-01"}
    summary = await api.ok(await api.post("/api/v1/reminder-runs", body), 200)
    assert summary["letters_by_kind"] == {"final_demand": 1}
    assert summary["skipped_by_reason"] == {"case pause": 1} and summary["needs_attention"] == []
    reminders = (Letter.unit_id == sale.unit_id, col(Letter.run_id).is_not(None))
    assert await api.count(Letter, *reminders, Letter.owner_id == sale.buyer_id) == 1
    assert await api.count(Letter, *reminders, Letter.owner_id == sale.seller_id) == 0
