"""Complaints (owners file their own; the 24-hour rectification clock) and monthly service activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.service_records.models import Complaint, ComplaintStep, ServiceActivity
from feesvc.service_records.service import service_summary
from tests.support import Api, problem


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def complain(api: Api, unit_id: int, role: Role | str = Role.cashier, **body: Any) -> Any:
    payload = {"category": "leak", "text": "卫生间天花板漏水", **body}
    return await api.ok(await api.post(f"/api/v1/units/{unit_id}/complaints", payload, role))


async def step(api: Api, complaint_id: int, kind: str, role: Role | str = Role.cashier, **body: Any) -> Any:
    return await api.post(f"/api/v1/complaints/{complaint_id}/steps", {"step": kind, **body}, role)


async def test_owner_files_for_own_unit_only_and_reads_only_own_complaints(api: Api) -> None:
    estate = await api.make_estate(units=2)
    mine, theirs = estate.unit_ids
    owner = await api.owner_token(estate.owner_ids[0])

    filed = await complain(api, mine, owner, category="elevator", text="3号电梯又停了，老人上不了楼")
    assert filed["channel"] == "app" and filed["owner_id"] == estate.owner_ids[0]
    assert filed["status"] == "open" and filed["overdue"] is False and filed["plan_on_time"] is None
    assert parse(filed["plan_due_at"]) - parse(filed["opened_at"]) == timedelta(hours=24)

    # Another owner's unit: refused, and nothing written.
    body = {"category": "noise", "text": "楼上装修太吵"}
    problem(await api.post(f"/api/v1/units/{theirs}/complaints", body, owner), 403)
    problem(await api.get(f"/api/v1/units/{theirs}/complaints", owner), 403)
    problem(await api.post("/api/v1/units/999999/complaints", body, owner), 403)
    assert await api.count(Complaint, Complaint.unit_id == theirs) == 0

    # Owners file from the app or WeChat, timed on arrival; the desk records the rest.
    problem(await api.post(f"/api/v1/units/{mine}/complaints", {**body, "channel": "desk"}, owner), 422, "channel")
    problem(
        await api.post(f"/api/v1/units/{mine}/complaints", {**body, "opened_at": iso(datetime.now(UTC))}, owner),
        422,
        "opened_at",
    )
    problem(await api.post(f"/api/v1/units/{mine}/complaints", {**body, "category": "weather"}, owner), 400, "category")
    problem(await api.post(f"/api/v1/units/{mine}/complaints", {**body, "text": "   "}, Role.cashier), 422, "text")

    staff_filed = await complain(api, theirs, Role.cashier, channel="phone", text="Lobby door lock broken")
    assert staff_filed["channel"] == "phone"
    problem(await api.get(f"/api/v1/complaints/{staff_filed['id']}", owner), 403)
    problem(await step(api, filed["id"], "plan_given", owner), 403)  # steps are staff work

    listed = await api.ok(await api.get(f"/api/v1/units/{mine}/complaints", owner))
    assert [c["id"] for c in listed] == [filed["id"]]
    assert (await api.ok(await api.get(f"/api/v1/complaints/{filed['id']}", owner)))["text"].startswith("3号电梯")


async def test_a_former_owner_neither_files_nor_reads_the_next_owners_complaints(api: Api) -> None:
    estate = await api.make_estate(units=1)
    unit = estate.unit_ids[0]
    seller = await api.owner_token(estate.owner_ids[0])
    old = await complain(api, unit, seller, category="cleaning", text="楼道垃圾三天没人清")
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "新业主", "phone": "13900001111"}))
    await api.ok(
        await api.post(
            f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": business_today().isoformat()}
        )
    )
    buyer_token = await api.owner_token(buyer["id"])
    new = await complain(api, unit, buyer_token, category="parking", text="车位被外来车占了")

    problem(await api.post(f"/api/v1/units/{unit}/complaints", {"category": "other", "text": "x"}, seller), 403)
    seen_by_seller = await api.ok(await api.get(f"/api/v1/units/{unit}/complaints", seller))
    seen_by_buyer = await api.ok(await api.get(f"/api/v1/units/{unit}/complaints", buyer_token))
    assert [c["id"] for c in seen_by_seller] == [old["id"]]
    assert [c["id"] for c in seen_by_buyer] == [new["id"]]
    staff_view = await api.ok(await api.get(f"/api/v1/units/{unit}/complaints", Role.cashier))
    assert {c["id"] for c in staff_view} == {old["id"], new["id"]}


async def test_the_24_hour_clock_and_the_steps_to_a_satisfied_inspection(api: Api) -> None:
    estate = await api.make_estate(units=1)
    unit = estate.unit_ids[0]
    now = datetime.now(UTC)

    late = await complain(
        api, unit, channel="phone", opened_at=iso(now - timedelta(hours=30)), responsible="维修班王师傅"
    )
    fresh = await complain(api, unit, channel="desk", opened_at=iso(now - timedelta(hours=2)))
    assert late["overdue"] is True and late["status"] == "open" and late["responsible"] == "维修班王师傅"
    assert fresh["overdue"] is False
    problem(
        await api.post(
            f"/api/v1/units/{unit}/complaints",
            {"category": "leak", "text": "x", "opened_at": iso(now + timedelta(hours=1))},
            Role.cashier,
        ),
        422,
        "opened_at",
    )

    # A late plan ends the overdue state but is remembered as late; a timely one as on time.
    late = await api.ok(await step(api, late["id"], "plan_given", note="明天上午换管"), 201)
    assert late["overdue"] is False and late["plan_on_time"] is False
    fresh = await api.ok(await step(api, fresh["id"], "plan_given"), 201)
    assert fresh["plan_on_time"] is True

    complaint_id = fresh["id"]
    problem(await step(api, complaint_id, "inspected", satisfied=True), 409, "step")  # nothing fixed yet
    problem(await step(api, complaint_id, "fixed", at=iso(now - timedelta(hours=5))), 422, "at")  # before opening
    problem(await step(api, complaint_id, "fixed", satisfied=True), 422, "satisfied")
    await api.ok(await step(api, complaint_id, "fixed", note="已更换水管"), 201)
    problem(await step(api, complaint_id, "inspected"), 422, "satisfied")
    rejected = await api.ok(await step(api, complaint_id, "inspected", satisfied=False, note="还在渗水"), 201)
    assert rejected["status"] == "open" and rejected["owner_satisfied"] is False

    await api.ok(await step(api, complaint_id, "fixed", note="重新做了防水"), 201)
    resolved = await api.ok(await step(api, complaint_id, "inspected", satisfied=True, responsible="客服李姐"), 201)
    assert resolved["status"] == "resolved" and resolved["closed_at"] == resolved["inspected_at"]
    assert resolved["responsible"] == "客服李姐"
    problem(await step(api, complaint_id, "fixed"), 409, "step")
    followed = await api.ok(await step(api, complaint_id, "follow_up", note="回访：业主满意"), 201)
    assert [s["kind"] for s in followed["steps"]] == [
        "plan_given",
        "fixed",
        "inspected",
        "fixed",
        "inspected",
        "follow_up",
    ]
    assert [s["satisfied"] for s in followed["steps"] if s["kind"] == "inspected"] == [False, True]
    assert await api.count(ComplaintStep, ComplaintStep.complaint_id == complaint_id) == 6

    # Staff may close without the owner's satisfaction, but must say why.
    problem(await step(api, late["id"], "closed"), 422, "note")
    closed = await api.ok(await step(api, late["id"], "closed", note="业主拒绝入户，无法维修"), 201)
    assert closed["status"] == "closed" and closed["owner_satisfied"] is None
    assert await api.count(AuditEvent, AuditEvent.entity == "complaint", AuditEvent.entity_id == str(late["id"])) == 3
    problem(await step(api, 999999, "fixed"), 404)


async def test_service_activity_summary_per_estate_and_building(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=1)
    other = await api.make_estate(units=1)
    second = await api.ok(await api.post(f"/api/v1/estates/{estate.id}/buildings", {"name": "2栋"}))
    period = business_today().strftime("%Y-%m")
    url = f"/api/v1/estates/{estate.id}/service-activity"

    async def record(kind: str, count: int, building_id: int | None = None, **extra: Any) -> Any:
        body = {"period": period, "kind": kind, "count": count, "building_id": building_id, **extra}
        return await api.post(url, body, Role.cashier)

    await api.ok(await record("cleaning_rounds", 30))
    await api.ok(await record("cleaning_rounds", 4, estate.building_id))
    await api.ok(await record("repairs_done", 10, estate.building_id))
    await api.ok(await record("repairs_done", 5, second["id"]))
    await api.ok(await record("security_patrols", 60, second["id"]))

    problem(await record("repairs_done", 1, other.building_id), 422, "building_id")
    problem(await record("repairs_done", 1, 999999), 404, "building_id")
    problem(await record("repairs_done", 0), 422, "count")
    problem(await record("repairs_done", -1, second["id"]), 422, "note")
    problem(await record("repairs_done", -6, second["id"], note="多录了"), 422, "count")
    problem(await record("parties", 1), 400, "kind")
    future = (business_today().replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
    problem(await api.post(url, {"period": future, "kind": "greenery", "count": 3}, Role.cashier), 422, "period")
    problem(
        await api.post(
            url, {"period": period, "kind": "greenery", "count": 3}, await api.owner_token(estate.owner_ids[0])
        ),
        403,
    )
    await api.ok(await record("security_patrols", -2, second["id"], note="重复录入两次巡逻"))

    summary = await api.ok(
        await api.get(f"/api/v1/estates/{estate.id}/service-summary", Role.cashier, params={"period": period})
    )
    assert summary["totals"] == [
        {"kind": "cleaning_rounds", "count": 34},
        {"kind": "repairs_done", "count": 15},
        {"kind": "security_patrols", "count": 58},
    ]
    assert summary["estate_wide"] == [{"kind": "cleaning_rounds", "count": 30}]
    by_building = {b["building"]: b["totals"] for b in summary["buildings"]}
    assert by_building == {
        "1栋": [{"kind": "cleaning_rounds", "count": 4}, {"kind": "repairs_done", "count": 10}],
        "2栋": [{"kind": "repairs_done", "count": 5}, {"kind": "security_patrols", "count": 58}],
    }
    problem(
        await api.get(f"/api/v1/estates/{estate.id}/service-summary", Role.cashier, params={"period": "2026-13"}), 400
    )
    assert await api.count(ServiceActivity, ServiceActivity.estate_id == estate.id) == 6

    # What a letter to an owner in building 1 shows: the estate-wide work plus their building's.
    async with sessions() as session:
        for_building = await service_summary(session, estate.id, estate.building_id, period)
        whole = await service_summary(session, estate.id, None, period)
        empty = await service_summary(session, other.id, None, period)
    assert [(t.kind.value, t.count) for t in for_building] == [("cleaning_rounds", 34), ("repairs_done", 10)]
    assert [(t.kind.value, t.count) for t in whole] == [
        ("cleaning_rounds", 34),
        ("repairs_done", 15),
        ("security_patrols", 58),
    ]
    assert empty == []


async def test_a_retried_complaint_or_step_with_its_key_records_nothing_more(api: Api) -> None:
    """Issue 16's follow-up: an owner's phone sends a complaint again when the answer is lost; staff
    record "fixed" from the field twice. With an Idempotency-Key, the retry answers the first record;
    the same key with another request is refused; two sent at once make one."""
    estate = await api.make_estate(units=1)
    [unit] = estate.unit_ids
    owner = await api.owner_token(estate.owner_ids[0])
    body = {"category": "elevator", "text": "3号电梯又停了"}
    key = {"Idempotency-Key": "complaint-retry-0001"}
    first = await api.ok(await api.post(f"/api/v1/units/{unit}/complaints", body, owner, headers=key))
    again = await api.ok(await api.post(f"/api/v1/units/{unit}/complaints", body, owner, headers=key))
    assert again["id"] == first["id"]
    assert await api.count(Complaint, Complaint.unit_id == unit) == 1
    other = {**body, "text": "楼道灯坏了"}
    problem(await api.post(f"/api/v1/units/{unit}/complaints", other, owner, headers=key), 409, "Idempotency-Key")

    # Two at once with one key: one complaint.
    at_once = {"Idempotency-Key": "complaint-retry-0002"}
    answers = await api.post_at_once(f"/api/v1/units/{unit}/complaints", [other, other], owner, [at_once, at_once])
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert await api.count(Complaint, Complaint.unit_id == unit) == 2

    # A step sent twice with its key: one step; the fix is not refused as a second one.
    fixed = {"step": "fixed", "note": "更换了门机板"}
    step_key = {"Idempotency-Key": "step-retry-00000001"}
    path = f"/api/v1/complaints/{first['id']}/steps"
    done = await api.ok(await api.post(path, fixed, Role.cashier, headers=step_key))
    retried = await api.ok(await api.post(path, fixed, Role.cashier, headers=step_key))
    assert retried["fixed_at"] == done["fixed_at"]
    assert await api.count(ComplaintStep, ComplaintStep.complaint_id == first["id"]) == 1
    # Without a key a second "fixed" is what it says: another fix (a repair can be redone).
    await api.ok(await api.post(path, fixed, Role.cashier))
    assert await api.count(ComplaintStep, ComplaintStep.complaint_id == first["id"]) == 2
