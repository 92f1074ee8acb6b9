"""Issue 16 item 7: the letters that existed but were never issued. A proposed plan's agreement
goes to its owner; its signed copy, uploaded, is the proof of the owner's acknowledgement."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.letters.content import render_letter_pdf
from feesvc.letters.models import Letter
from feesvc.letters.runs import context_of
from feesvc.limitation.models import Acknowledgement
from tests.support import Api, problem
from tests.test_plans import NEXT_YEAR, billed, propose
from tests.test_service_records import complain, iso

SIGNED = b"%PDF-1.4\n% the plan agreement, signed by both parties\n%%EOF\n"


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


async def upload(api: Api, plan_id: int, signed_on: str, key: str, proof: bytes = SIGNED) -> object:
    return await api.client.post(
        f"/api/v1/installment-plans/{plan_id}/signed-copy",
        data={"signed_on": signed_on},
        files={"proof": ("agreement-signed.pdf", proof)},
        headers={**api.headers(Role.manager), "Idempotency-Key": key},
    )


async def test_a_proposed_plan_sends_its_agreement_and_the_signed_copy_is_the_acknowledgement(
    api: Api, tmp_path: Path
) -> None:
    estate = await billed(api, ["2026-01", "2026-02"])
    unit = estate.unit_ids[0]
    plan = await propose(api, unit)
    async with api.sessions() as s:
        (letter,) = (
            await s.execute(select(Letter).where(Letter.unit_id == unit, Letter.kind == "plan_agreement"))
        ).scalars()
    assert letter.owner_id == estate.owner_ids[0] and letter.run_id is None
    # Numbered as every letter of the estate is (letters.issued): its code, the year, the sequence.
    assert re.fullmatch(rf"{re.escape(estate.code)}-\d{{4}}-HJ\d{{6}}", letter.letter_no), letter.letter_no
    assert letter.periods == ["2026-01", "2026-02"] and letter.total_fen == plan["total_fen"] == 40000
    ctx = context_of(letter)
    assert ctx.plan is not None
    assert [(i.due_date.isoformat(), i.amount_fen) for i in ctx.plan.installments] == [
        (i["due_date"], i["amount_fen"]) for i in plan["schedule"]
    ]
    pdf = render_letter_pdf(ctx)
    (tmp_path / "agreement.pdf").write_bytes(pdf)
    text = pdf_text(pdf, tmp_path)
    assert "分期缴纳协议" in text and "物业服务费" in text and f"{NEXT_YEAR}" in text

    # Proposing again is another plan, but the agreement of this one is never issued twice.
    async with api.sessions() as s:
        assert (
            await s.execute(select(Letter.id).where(Letter.dedupe_key == f"{unit}:plan_agreement:{plan['id']}"))
        ).all()

    # The signed copy: the plan is agreed on the day it was signed, the copy kept as the proof.
    key = uuid.uuid4().hex
    signed_on = business_today().isoformat()  # not before the proposal, not in the future
    response = await upload(api, plan["id"], signed_on, key)
    ack = await api.ok(response, 201)
    assert (
        ack["kind"] == "installment_plan" and ack["plan_id"] == plan["id"] and ack["periods"] == ["2026-01", "2026-02"]
    )
    again = await upload(api, plan["id"], signed_on, key)
    assert (await api.ok(again, 201))["id"] == ack["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert (await api.ok(await api.get(f"/api/v1/installment-plans/{plan['id']}")))["state"] == "active"
    async with api.sessions() as s:
        events = (
            (
                await s.execute(
                    select(LimitationEvent).where(LimitationEvent.unit_id == unit).order_by(col(LimitationEvent.period))
                )
            )
            .scalars()
            .all()
        )
        kept = (await s.execute(select(Acknowledgement).where(Acknowledgement.plan_id == plan["id"]))).scalars().all()
    # One acknowledgement per period, from the agreement (not a second one from the upload).
    assert [(e.period, e.kind, e.occurred_on.isoformat()) for e in events] == [
        ("2026-01", InterruptionKind.acknowledgement, signed_on),
        ("2026-02", InterruptionKind.acknowledgement, signed_on),
    ]
    assert len(kept) == 1 and await asyncio.to_thread(Path(kept[0].proof_path).read_bytes) == SIGNED

    # Another day, another file: refused, the agreement stands as signed.
    earlier = (business_today() - timedelta(days=1)).isoformat()
    problem(await upload(api, plan["id"], earlier, uuid.uuid4().hex), 409, "signed_on")
    problem(await upload(api, plan["id"], signed_on, uuid.uuid4().hex, proof=b"GIF89a"), 422, "proof")


async def test_a_rectification_plan_with_its_steps_sends_the_owner_the_reply(api: Api, tmp_path: Path) -> None:
    estate = await api.make_estate(units=1)
    unit, owner = estate.unit_ids[0], estate.owner_ids[0]
    now = datetime.now(UTC)
    complaint = await complain(
        api,
        unit,
        channel="phone",
        opened_at=iso(now - timedelta(hours=3)),
        category="leak",
        text="卫生间顶棚漏水",
        responsible="客服主管 李敏",
    )
    path = f"/api/v1/complaints/{complaint['id']}/steps"
    actions = [
        {"at": iso(now + timedelta(hours=20)), "action": "上门查明楼上排水管渗漏点"},
        {"at": iso(now + timedelta(hours=44)), "action": "更换楼上排水管并做防水"},
    ]
    inspect = iso(now + timedelta(hours=68))
    # The plan's actions belong to the plan step only; an inspection time needs them.
    problem(await api.post(path, {"step": "fixed", "actions": actions}, Role.cashier), 422, "actions")
    problem(await api.post(path, {"step": "plan_given", "inspect_at": inspect}, Role.cashier), 422, "actions")
    late = [{"at": iso(now - timedelta(hours=5)), "action": "x"}]
    problem(await api.post(path, {"step": "plan_given", "actions": late}, Role.cashier), 422, "actions")
    blank = [{"at": iso(now + timedelta(hours=5)), "action": " "}]
    problem(await api.post(path, {"step": "plan_given", "actions": blank}, Role.cashier), 422, "actions")

    body = {"step": "plan_given", "actions": actions, "inspect_at": inspect, "note": "次日上门"}
    await api.ok(await api.post(path, body, Role.cashier), 201)
    async with api.sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.unit_id == unit))).scalars().all()
    (letter,) = [x for x in letters if x.kind == "rectification_reply"]
    assert letter.owner_id == owner and letter.periods == [] and letter.total_fen == 0
    assert re.fullmatch(r".+-\d{4}-HJ\d{6}", letter.letter_no) and "rectification" not in letter.letter_no
    assert letter.dedupe_key.endswith(f":{complaint['id']}:1")
    ctx = context_of(letter)
    assert ctx.complaint is not None and [s.action for s in ctx.complaint.steps] == [a["action"] for a in actions]
    text = pdf_text(render_letter_pdf(ctx), tmp_path)
    assert "更换楼上排水管并做防水" in text and "卫生间顶棚漏水" in text

    # A plan without dated steps sends nothing; a revised plan with steps sends a second reply.
    await api.ok(await api.post(path, {"step": "plan_given", "note": "改为周末施工"}, Role.cashier), 201)
    revised = {"step": "plan_given", "actions": [{"at": iso(now + timedelta(hours=90)), "action": "周六上午施工"}]}
    await api.ok(await api.post(path, revised, Role.cashier), 201)
    async with api.sessions() as s:
        numbers = (
            (
                await s.execute(
                    select(Letter.dedupe_key).where(Letter.unit_id == unit, Letter.kind == "rectification_reply")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(key.rsplit(":", 1)[1] for key in numbers) == ["1", "3"]  # the first plan given, and the third step


async def test_a_first_owner_handed_the_keys_gets_the_payment_notice(api: Api, tmp_path: Path) -> None:
    """The payment notice went to a buyer at a sale only; a first owner (交房) is a new owner too.
    An owner of an estate already in service, put on record long after their start, gets none."""
    estate = await api.make_estate(units=1)  # its first owner since 2024-01-01: on record, no notice
    async with api.sessions() as s:
        assert (await s.execute(select(Letter.id).where(Letter.unit_id == estate.unit_ids[0]))).all() == []
    unit = await api.ok(
        await api.post("/api/v1/units", {"building_id": estate.building_id, "number": "901", "floor_area_m2": "88.00"})
    )
    owner = await api.ok(
        await api.post(
            "/api/v1/owners", {"name": "首位业主", "phone": "13700001111", "id_number": "110101199202020022"}
        )
    )
    handover = business_today() + timedelta(days=3)
    body = {"owner_id": owner["id"], "starts_on": handover.isoformat()}
    await api.ok(await api.post(f"/api/v1/units/{unit['id']}/ownerships", body))
    await api.ok(await api.post(f"/api/v1/units/{unit['id']}/ownerships", body))  # a retry issues nothing more
    async with api.sessions() as s:
        (letter,) = (await s.execute(select(Letter).where(Letter.unit_id == unit["id"]))).scalars().all()
    assert letter.kind == "payment_notice" and letter.owner_id == owner["id"]
    ctx = context_of(letter)
    assert ctx.billing_starts_on == handover
    text = pdf_text(render_letter_pdf(ctx), tmp_path)
    assert "缴费须知" in text and "首位业主" in text
