"""Arrears cases through the API: notes and complaints in the database → classification → the
next actions, the reminder pause, manager overrides beside the classification history."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.arrears.models import ArrearsClassification, ArrearsOverride
from feesvc.arrears.pauses import reminder_pause_reason
from feesvc.arrears.service import effective_cause
from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.db import business_today
from tests.support import Api, Estate, problem

MONTHS = ["2026-07", "2026-08", "2026-09", "2026-10"]  # 4 × 250 元 (100 m² at 2.50) overdue


async def arrears_estate(api: Api, units: int = 1) -> Estate:
    estate = await api.make_estate(units=units, rate="2.50", area="100.00")
    for month in MONTHS:
        await api.bill(estate.id, month, f"{month}-01")
    return estate


async def open_case(api: Api, unit_id: int) -> Any:
    return await api.ok(await api.post(f"/api/v1/units/{unit_id}/arrears-case", None, Role.cashier))


async def note(api: Api, case_id: int, text: str, kind: str = "call", **extra: Any) -> Any:
    body = {"kind": kind, "text": text, **extra}
    return await api.ok(await api.post(f"/api/v1/arrears-cases/{case_id}/notes", body, Role.cashier))


async def classify(api: Api, case_id: int) -> Any:
    return await api.ok(await api.post(f"/api/v1/arrears-cases/{case_id}/classify", None, Role.cashier))


async def case_with_notes(api: Api, *texts: str) -> tuple[Estate, Any, Any]:
    estate = await arrears_estate(api)
    case = await open_case(api, estate.unit_ids[0])
    for text in texts:
        await note(api, case["id"], text)
    return estate, case, await classify(api, case["id"])


def codes(result: Any) -> list[str]:
    return [a["code"] for a in result["actions"] if a["state"] != "superseded"]


def action(result: Any, code: str) -> Any:
    return next(a for a in result["actions"] if a["code"] == code)


def days(n: int) -> str:
    return (business_today() + timedelta(days=n)).isoformat()


async def pause(api: Api, unit_id: int, as_of: date | None = None) -> str | None:
    async with api.sessions() as session:
        return await reminder_pause_reason(session, unit_id, as_of or business_today())


async def cause(api: Api, unit_id: int) -> str | None:
    async with api.sessions() as session:
        return await effective_cause(session, unit_id)


async def test_case_opens_once_per_unit_and_only_for_arrears(api: Api) -> None:
    estate = await arrears_estate(api, units=1)
    unit = estate.unit_ids[0]
    opened = await api.post(f"/api/v1/units/{unit}/arrears-case", None, Role.cashier)
    again = await api.post(f"/api/v1/units/{unit}/arrears-case", None, Role.manager)
    assert (opened.status_code, again.status_code) == (201, 200)
    case = opened.json()
    assert again.json()["id"] == case["id"]
    assert case["status"] == "open" and case["owner_id"] == estate.owner_ids[0]
    assert case["overdue_fen"] == 100000 and case["months_overdue"] == 4
    assert case["effective"] is None and case["actions"] == []
    fetched = await api.ok(await api.get(f"/api/v1/units/{unit}/arrears-case", Role.cashier))
    assert fetched["id"] == case["id"]

    paid_up = await api.make_estate(units=1)
    problem(await api.post(f"/api/v1/units/{paid_up.unit_ids[0]}/arrears-case", None, Role.cashier), 409, "unit_id")
    problem(await api.get(f"/api/v1/units/{paid_up.unit_ids[0]}/arrears-case", Role.cashier), 404)
    problem(await api.post("/api/v1/units/999999/arrears-case", None, Role.cashier), 404)

    owner = await api.owner_token(estate.owner_ids[0])
    problem(await api.get(f"/api/v1/units/{unit}/arrears-case", owner), 403)
    problem(await api.post(f"/api/v1/units/{unit}/arrears-case", None, owner), 403)
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", {"kind": "call", "text": "x"}, owner), 403)

    written = await note(api, case["id"], "业主说下周来交", kind="desk", claim="dispute", author="前台小王")
    assert written["author"] == "前台小王" and written["noted_on"] == business_today().isoformat()
    body = {"kind": "call", "text": "x", "noted_on": days(1)}
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", body, Role.cashier), 422, "noted_on")
    body = {"kind": "fax", "text": "x"}
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", body, Role.cashier), 400, "kind")


async def test_hardship_in_simplified_chinese_gets_an_installment_offer_and_no_legal_route(api: Api) -> None:
    estate, case, result = await case_with_notes(api, "电话沟通，业主说上个月被公司裁员了，现在没收入，想分三期交。")
    latest = result["latest"]
    assert latest["category"] == "hardship" and latest["secondary"] is None
    assert 0 < latest["confidence"] <= 1
    assert {s["rule"] for s in latest["signals"]} >= {"hardship.job_loss", "hardship.asks_for_time"}
    assert latest["facts"]["amount_fen"] == 100000 and latest["facts"]["months_overdue"] == 4
    assert latest["facts"]["first_unpaid_period"] == "2026-07"
    assert latest["facts"]["history_periods"] == MONTHS
    assert latest["approach"]["legal_escalation"] is False and latest["classifier_version"]
    assert result["effective"] == {
        "category": "hardship",
        "secondary": None,
        "source": "classification",
        "source_id": latest["id"],
    }

    assert codes(result) == ["talk_first", "propose_installment_plan", "no_legal_escalation"]
    plan = action(result, "propose_installment_plan")
    assert plan["due_on"] == days(3) and plan["pauses_reminders"] is True
    assert "3-installment" in plan["text"] and "waived" in plan["text"]
    assert action(result, "no_legal_escalation")["due_on"] is None

    unit = estate.unit_ids[0]
    assert await cause(api, unit) == "hardship"
    reason = await pause(api, unit)
    assert reason is not None and "propose_installment_plan" in reason and f"case #{case['id']}" in reason
    legal = {"status": "legal_review", "reason": "欠费四个月"}
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/status", legal), 409, "status")

    # Once the plan has been proposed, reminders may go again (the plan itself then covers them).
    done = await api.post(f"/api/v1/arrears-actions/{plan['id']}/done", {"note": "已提出分期方案"}, Role.cashier)
    assert (await api.ok(done, 200))["state"] == "done"
    problem(await api.post(f"/api/v1/arrears-actions/{plan['id']}/done", {}, Role.cashier), 409)
    assert await pause(api, unit) is None

    # Re-classifying the same situation keeps the plan and its progress.
    again = await classify(api, case["id"])
    assert len(again["history"]) == 2 and action(again, "propose_installment_plan")["state"] == "done"


async def test_hardship_in_traditional_chinese(api: Api) -> None:
    _, _, result = await case_with_notes(
        api,
        "已電話提醒",
        "業主太太接的電話，說先生上個月中風住院，醫藥費花了很多，物業費一定會補，希望能寬限到年底。",
    )
    assert result["latest"]["category"] == "hardship"
    assert "propose_installment_plan" in codes(result)


async def test_english_vacancy_claim_gets_the_944_explanation_letter(api: Api) -> None:
    estate = await arrears_estate(api)
    unit = estate.unit_ids[0]
    notice = {"starts_on": "2026-06-01", "notified_on": "2026-06-01", "reference": "owner letter"}
    await api.ok(await api.post(f"/api/v1/units/{unit}/vacancy-notices", notice, Role.cashier))
    case = await open_case(api, unit)
    await note(
        api,
        case["id"],
        "Owner says the flat is vacant, nobody lives there, so he should not have to pay.",
        claim="vacancy",
    )
    result = await classify(api, case["id"])
    latest = result["latest"]
    assert latest["category"] == "misunderstanding" and latest["approach"]["belief"] == "vacancy"
    assert latest["facts"]["vacant"] is True
    assert "misunderstanding.vacancy_recorded" in {s["rule"] for s in latest["signals"]}
    assert codes(result) == ["clarify_facts", "explanation_letter", "normal_course"]
    letter = action(result, "explanation_letter")
    assert "'vacancy'" in letter["text"] and "民法典 944" in letter["text"] and letter["due_on"] == days(3)
    assert await pause(api, unit) is None  # explain, then the normal course: no pause


async def test_public_revenue_belief_cites_article_282(api: Api) -> None:
    _, _, result = await case_with_notes(api, "业主说小区电梯广告收入那么多，应该拿来抵物业费，抵完再说。")
    assert result["latest"]["category"] == "misunderstanding"
    assert "民法典 282" in action(result, "explanation_letter")["text"]


async def test_a_belief_in_the_owners_own_words_gets_its_explanation_and_the_normal_course(api: Api) -> None:
    # Issue 17: "the fee is bundled into another payment" was not in the old keyword lists.
    estate, _, result = await case_with_notes(api, "业主坚持说物业费已经包含在每月的车位管理费里了，我们这是重复收费。")
    latest = result["latest"]
    assert latest["category"] == "misunderstanding" and latest["approach"]["belief"] == "other_funds"
    assert codes(result) == ["clarify_facts", "explanation_letter", "normal_course"]
    assert "民法典 281" in action(result, "explanation_letter")["text"]
    assert await cause(api, estate.unit_ids[0]) == "misunderstanding"
    assert await pause(api, estate.unit_ids[0]) is None  # explain, then the normal reminder course


async def test_negation_not_money_but_service_is_dissatisfaction(api: Api) -> None:
    estate, case, result = await case_with_notes(
        api, "上门催缴，业主原话：“不是没钱，是服务太差，电梯坏了一个月没人修。”"
    )
    latest = result["latest"]
    assert latest["category"] == "service_dissatisfaction" and latest["secondary"] is None
    rules = {s["rule"] for s in latest["signals"]}
    assert "hardship.denied" in rules and "hardship.money_tight" not in rules
    assert codes(result) == [
        "record_complaint",
        "rectification_plan",
        "invite_inspection",
        "discuss_payment_after_inspection",
    ]
    assert action(result, "rectification_plan")["due_on"] == days(1)
    assert action(result, "record_complaint")["due_on"] == days(0)

    # No complaint on file yet: reminders wait for it; once filed, the complaint holds them.
    unit = estate.unit_ids[0]
    reason = await pause(api, unit)
    assert reason is not None and "record_complaint" in reason
    filed = await api.ok(
        await api.post(
            f"/api/v1/units/{unit}/complaints", {"category": "elevator", "text": "电梯坏了一个月"}, Role.cashier
        )
    )
    assert await pause(api, unit) == f"open complaint #{filed['id']} (elevator) not yet inspected by the owner"
    legal = {"status": "legal_review", "reason": "拒不缴费"}
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/status", legal), 409, "status")


async def test_open_complaint_alone_is_dissatisfaction_and_pauses_until_a_satisfied_inspection(api: Api) -> None:
    estate = await arrears_estate(api)
    unit = estate.unit_ids[0]
    owner = await api.owner_token(estate.owner_ids[0])
    complaint = await api.ok(
        await api.post(f"/api/v1/units/{unit}/complaints", {"category": "leak", "text": "楼上漏水到我家"}, owner)
    )
    case = await open_case(api, unit)
    result = await classify(api, case["id"])
    assert result["latest"]["category"] == "service_dissatisfaction"
    assert result["latest"]["facts"]["complaint_ids"] == [complaint["id"]]
    verify = action(result, "verify_complaint")
    assert f"#{complaint['id']}" in verify["text"] and verify["due_on"] == days(0)
    assert action(result, "rectification_plan")["due_on"] in (days(0), days(1))

    held = f"open complaint #{complaint['id']} (leak) not yet inspected by the owner"
    assert await pause(api, unit) == held
    assert (await api.ok(await api.get(f"/api/v1/arrears-cases/{case['id']}", Role.cashier)))[
        "reminder_pause_reason"
    ] == held
    assert await pause(api, unit, business_today() - timedelta(days=1)) is None  # not filed yet then

    steps = f"/api/v1/complaints/{complaint['id']}/steps"
    await api.ok(await api.post(steps, {"step": "plan_given"}, Role.cashier))
    await api.ok(await api.post(steps, {"step": "fixed"}, Role.cashier))
    await api.ok(await api.post(steps, {"step": "inspected", "satisfied": False}, Role.cashier))
    reason = await pause(api, unit)
    assert reason is not None and "not satisfied" in reason
    await api.ok(await api.post(steps, {"step": "fixed"}, Role.cashier))
    await api.ok(await api.post(steps, {"step": "inspected", "satisfied": True}, Role.cashier))
    assert await pause(api, unit) is None

    # Fixed to the owner's satisfaction, the complaint is no reason any more: the plan changes.
    again = await classify(api, case["id"])
    assert again["latest"]["category"] == "unknown"
    assert codes(again) == ["ask_reason", "standard_reminders", "demand_before_suit"]
    assert [h["category"] for h in again["history"]] == ["unknown", "service_dissatisfaction"]


async def test_conflicting_signals_rank_what_the_owner_ranks_first(api: Api) -> None:
    _, _, result = await case_with_notes(
        api, "业主说手头是紧一点，但主要不是钱的事，楼道漏水三个月没人修，修好了再交。"
    )
    latest = result["latest"]
    assert (latest["category"], latest["secondary"]) == ("service_dissatisfaction", "hardship")
    assert (
        latest["scores"]["hardship"] > 0 and latest["scores"]["service_dissatisfaction"] > latest["scores"]["hardship"]
    )
    assert codes(result)[-1] == "secondary_hardship"
    assert result["effective"]["secondary"] == "hardship"


async def test_contact_attempts_only_are_unknown_with_the_standard_course(api: Api) -> None:
    estate, case, result = await case_with_notes(api, "无人接听", "已电话提醒", "Owner said 'ok, got it' and hung up.")
    assert result["latest"]["category"] == "unknown" and result["latest"]["signals"] == []
    assert codes(result) == ["ask_reason", "standard_reminders", "demand_before_suit"]
    assert await pause(api, estate.unit_ids[0]) is None
    legal = {"status": "legal_review", "reason": "多次联系无果，移交法务"}
    moved = await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/status", legal), 200)
    assert moved["status"] == "legal_review" and moved["status_reason"] == legal["reason"]


async def test_manager_hold_pauses_reminders(api: Api) -> None:
    estate, case, _ = await case_with_notes(api, "无人接听")
    unit = estate.unit_ids[0]
    url = f"/api/v1/arrears-cases/{case['id']}/status"
    hold = {"status": "paused", "reason": "业委会协调中，暂缓催缴"}
    problem(await api.post(url, hold, Role.cashier), 403)
    problem(await api.post(url, {"status": "paused"}), 400, "reason")
    paused = await api.ok(await api.post(url, hold), 200)
    assert paused["status"] == "paused"
    assert await pause(api, unit) == f"case #{case['id']} paused by manager hold: 业委会协调中，暂缓催缴"
    problem(await api.post(url, hold), 409, "status")
    await api.ok(await api.post(url, {"status": "open", "reason": "协调结束"}), 200)
    assert await pause(api, unit) is None

    resolved = await api.ok(await api.post(url, {"status": "resolved", "reason": "已全部结清"}), 200)
    assert resolved["status"] == "resolved" and all(a["state"] != "open" for a in resolved["actions"])
    problem(await api.post(f"/api/v1/arrears-cases/{case['id']}/classify", None, Role.cashier), 409)
    problem(
        await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", {"kind": "call", "text": "x"}, Role.cashier), 409
    )
    assert await cause(api, unit) is None  # no open case
    reopened = await open_case(api, unit)
    assert reopened["id"] != case["id"]


async def test_override_is_validated_audited_and_kept_beside_the_history(api: Api) -> None:
    estate, case, result = await case_with_notes(api, "业主说最近失业了，没钱交。")
    unit, case_id = estate.unit_ids[0], case["id"]
    classified = result["latest"]
    assert classified["category"] == "hardship"
    url = f"/api/v1/arrears-cases/{case_id}/override"

    def overrides() -> Any:
        return api.count(ArrearsOverride, ArrearsOverride.case_id == case_id)

    def audited() -> Any:
        return api.count(AuditEvent, AuditEvent.action == "arrears_case.override", AuditEvent.entity_id == str(case_id))

    problem(await api.post(url, {"category": "laziness", "reason": "业主态度差"}), 400, "category")
    problem(await api.post(url, {"category": "misunderstanding"}), 400, "reason")
    problem(await api.post(url, {"category": "misunderstanding", "reason": "   "}), 422, "reason")
    problem(
        await api.post(url, {"category": "hardship", "secondary": "hardship", "reason": "核实过"}), 422, "secondary"
    )
    problem(await api.post(url, {"category": "hardship", "secondary": "unknown", "reason": "核实过"}), 422, "secondary")
    problem(await api.post(url, {"category": "hardship", "belief": "vacancy", "reason": "核实过"}), 422, "belief")
    problem(await api.post(url, {"category": "misunderstanding", "reason": "核实过"}, Role.cashier), 403)
    assert await overrides() == 0 and await audited() == 0

    talked = action(result, "talk_first")
    await api.ok(await api.post(f"/api/v1/arrears-actions/{talked['id']}/done", {}, Role.cashier), 200)

    reason = "上门核实：业主有稳定收入，坚持认为空置房不用交"
    body = {"category": "misunderstanding", "belief": "vacancy", "reason": reason}
    after = await api.ok(await api.post(url, body))
    assert after["effective"]["category"] == "misunderstanding" and after["effective"]["source"] == "override"
    assert after["latest"] == classified and [h["id"] for h in after["history"]] == [classified["id"]]
    [kept] = after["overrides"]
    assert kept["reason"] == reason and kept["classification_id"] == classified["id"] and kept["belief"] == "vacancy"
    assert codes(after) == ["clarify_facts", "explanation_letter", "normal_course"]
    assert all(a["source"] == "override" for a in after["actions"])
    assert await overrides() == 1 and await audited() == 1
    assert await cause(api, unit) == "misunderstanding"
    assert await pause(api, unit) is None  # the hardship plan's hold went with it

    # A later classification joins the history; the manager's decision still stands.
    await note(api, case_id, "业主又说公司还没发工资。")
    later = await classify(api, case_id)
    assert len(later["history"]) == 2 and later["latest"]["category"] == "hardship"
    assert later["effective"]["source"] == "override" and await cause(api, unit) == "misunderstanding"
    shown = await api.ok(await api.get(f"/api/v1/arrears-cases/{case_id}/classify", Role.cashier))
    assert shown == later
    assert (await api.ok(await api.get(f"/api/v1/arrears-cases/{case_id}/classifications", Role.cashier))) == later


async def test_classifications_are_append_only(api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    _, case, result = await case_with_notes(api, "无人接听")
    row_id = result["latest"]["id"]
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(
                update(ArrearsClassification).where(ArrearsClassification.id == row_id).values(category="hardship")
            )
            await session.commit()
        await session.rollback()
    assert await api.count(ArrearsClassification, ArrearsClassification.case_id == case["id"]) == 1


async def test_a_case_for_the_next_owner_ignores_the_previous_owners_notes(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.50", area="100.00")
    unit = estate.unit_ids[0]
    for month in MONTHS[:2]:
        await api.bill(estate.id, month, f"{month}-01")
    seller_case = await open_case(api, unit)
    assert seller_case["owner_id"] == estate.owner_ids[0]
    await note(api, seller_case["id"], "业主说失业了，交不起。")
    assert (await classify(api, seller_case["id"]))["latest"]["category"] == "hardship"
    resolve = {"status": "resolved", "reason": "房屋已过户，卖方欠费另行追缴"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{seller_case['id']}/status", resolve), 200)

    buyer = await api.ok(await api.post("/api/v1/owners", {"name": f"买家{uuid.uuid4().hex[:4]}"}))
    sale = {"owner_id": buyer["id"], "starts_on": "2026-09-01"}
    await api.ok(await api.post(f"/api/v1/units/{unit}/ownerships", sale))
    for month in MONTHS[2:]:
        await api.bill(estate.id, month, f"{month}-01")
    buyer_case = await open_case(api, unit)
    assert buyer_case["owner_id"] == buyer["id"]
    fresh = await classify(api, buyer_case["id"])
    assert fresh["latest"]["category"] == "unknown" and fresh["latest"]["facts"]["note_ids"] == []
