"""Issue 16 item 6: a written acknowledgement (with its signed copy) and a legal filing (with its
outcome) recorded as interruptions, per owner, retry-safe and audited; a hardship owner's letter
interrupts on delivery, and the reminder run gives every owner with a period nearing expiry an
interrupting letter (a hardship owner the gentle offer)."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlmodel import col, select

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.evidence.document import F_LIMITATION
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.letters.models import Letter
from tests.limitation.test_watch import due_dates, listed, sale_in_2023, watch
from tests.sale_support import sold_unit
from tests.support import Api, problem
from tests.test_sale_evidence import pack_of, pdf_text

SIGNED = b"%PDF-1.4\n% signed acknowledgement of arrears\n%%EOF\n"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def acknowledge(api: Api, fields: dict[str, Any], headers: dict[str, str], proof: bytes = SIGNED) -> Any:
    return await api.client.post(
        "/api/v1/limitation/acknowledgements",
        data={k: str(v) for k, v in fields.items()},
        files={"proof": ("signed.pdf", proof)},
        headers={**api.headers(Role.manager), **headers},
    )


async def events(api: Api, unit_id: int, owner_id: int) -> list[tuple[str, str, date, str]]:
    async with api.sessions() as s:
        rows = await s.execute(
            select(LimitationEvent).where(LimitationEvent.unit_id == unit_id, LimitationEvent.owner_id == owner_id)
        )
        return sorted((e.period, e.kind.value, e.occurred_on, e.source) for e in rows.scalars())


async def test_a_signed_acknowledgement_restarts_its_owners_clock_only(api: Api) -> None:
    sale = await sale_in_2023(api)
    dues = await due_dates(api, sale.unit_id)
    last_day = dues[(sale.seller_id, "2023-06")] + relativedelta(years=3)
    signed_on = last_day - timedelta(days=10)
    fields = {"unit_id": sale.unit_id, "owner_id": sale.seller_id, "signed_on": signed_on, "periods": "2023-06"}
    headers = key()
    response = await acknowledge(api, fields, headers)
    ack = await api.ok(response, 201)
    assert response.headers["Idempotent-Replayed"] == "false"
    assert ack["kind"] == "written_confirmation" and ack["periods"] == ["2023-06"] and len(ack["proof_sha256"]) == 64

    # A retry answers the first; the same key for another request is refused.
    again = await acknowledge(api, fields, headers)
    assert (await api.ok(again, 201))["id"] == ack["id"] and again.headers["Idempotent-Replayed"] == "true"
    problem(await acknowledge(api, {**fields, "periods": "2023-06,2023-07"}, headers), 409)

    seller = await events(api, sale.unit_id, sale.seller_id)
    assert seller == [("2023-06", "acknowledgement", signed_on, f"acknowledgement #{ack['id']}")]
    assert await events(api, sale.unit_id, sale.buyer_id) == []
    audits = [col(AuditEvent.action) == "limitation.acknowledgement", col(AuditEvent.entity_id) == str(ack["id"])]
    assert await api.count(AuditEvent, *audits) == 1

    # The seller's period no longer expires on its old last day; the watch shows why, with the proof.
    assert listed(await watch(api, sale.estate.id, last_day)) == {}
    report = await watch(api, sale.estate.id, signed_on + relativedelta(years=3), within=0)
    (period,) = report["accounts"][0]["periods"]
    assert period["last_interruption"]["kind"] == "acknowledgement"
    assert period["last_interruption"]["proof"] == f"signed copy sha256 {ack['proof_sha256']}"


async def test_an_acknowledgement_is_refused_for_what_the_record_does_not_hold(api: Api) -> None:
    sale = await sale_in_2023(api)
    base = {"unit_id": sale.unit_id, "owner_id": sale.seller_id, "signed_on": "2026-01-05", "periods": "2023-06"}
    # The buyer was never charged 2023-06; the seller never 2023-09.
    problem(await acknowledge(api, {**base, "owner_id": sale.buyer_id}, key()), 422, "periods")
    problem(await acknowledge(api, {**base, "periods": "2023-09"}, key()), 422, "periods")
    problem(await acknowledge(api, {**base, "periods": "June"}, key()), 400, "periods")
    problem(await acknowledge(api, {**base, "periods": "2023-13"}, key()), 422, "periods")
    problem(await acknowledge(api, base, key(), proof=b"not a scan"), 422, "proof")
    problem(await acknowledge(api, {**base, "signed_on": "2999-01-01"}, key()), 422, "signed_on")
    missing = await api.client.post(
        "/api/v1/limitation/acknowledgements",
        data=base,
        files={"proof": ("signed.pdf", SIGNED)},
        headers=api.headers(Role.manager),
    )
    problem(missing, 400, "Idempotency-Key")
    cashier = await api.client.post(
        "/api/v1/limitation/acknowledgements",
        data=base,
        files={"proof": ("signed.pdf", SIGNED)},
        headers={**api.headers(Role.cashier), **key()},
    )
    problem(cashier, 403)
    assert (
        await api.count(
            LimitationEvent,
            LimitationEvent.unit_id == sale.unit_id,
            LimitationEvent.kind == InterruptionKind.acknowledgement,
        )
        == 0
    )


async def test_a_filing_and_its_outcome_interrupt_for_the_owner_sued(api: Api) -> None:
    sale = await sale_in_2023(api)
    body = {
        "unit_id": sale.unit_id,
        "owner_id": sale.buyer_id,
        "kind": "payment_order",
        "filed_on": "2026-03-02",
        "court": "上海市徐汇区人民法院",
        "case_no": "(2026)沪0104民督123号",
        "periods": ["2023-09", "2023-10"],
        "claimed_fen": 50000,
    }
    headers = key()
    filing = await api.ok(await api.post("/api/v1/limitation/filings", body, headers=headers), 201)
    again = await api.post("/api/v1/limitation/filings", body, headers=headers)
    assert (await api.ok(again, 201))["id"] == filing["id"] and again.headers["Idempotent-Replayed"] == "true"
    problem(
        await api.post("/api/v1/limitation/filings", {**body, "case_no": "(2026)沪0104民督124号"}, headers=headers), 409
    )
    problem(
        await api.post("/api/v1/limitation/filings", {**body, "periods": ["2023-06"]}, headers=key()), 422, "periods"
    )

    source = f"legal filing #{filing['id']} payment_order 上海市徐汇区人民法院 (2026)沪0104民督123号"
    assert await events(api, sale.unit_id, sale.buyer_id) == [
        ("2023-09", "legal_action", date(2026, 3, 2), source),
        ("2023-10", "legal_action", date(2026, 3, 2), source),
    ]
    assert await events(api, sale.unit_id, sale.seller_id) == []

    outcome = {"outcome": "objection", "outcome_on": "2026-03-20", "note": "债务人提出书面异议"}
    path = f"/api/v1/limitation/filings/{filing['id']}/outcome"
    ended = await api.ok(await api.post(path, outcome), 200)
    assert ended["outcome"] == "objection" and ended["outcome_on"] == "2026-03-20"
    await api.ok(await api.post(path, outcome), 200)  # a retry changes nothing
    problem(await api.post(path, {**outcome, "outcome": "judgment"}), 409, "outcome")
    problem(await api.post(f"/api/v1/limitation/filings/{filing['id'] + 99}/outcome", outcome), 404)
    found = [e for e in await events(api, sale.unit_id, sale.buyer_id) if e[2] == date(2026, 3, 20)]
    assert [e[0] for e in found] == ["2023-09", "2023-10"] and all(" ended " in e[3] for e in found)
    actions = col(AuditEvent.action).in_(["limitation.filing", "limitation.filing_outcome"])
    assert await api.count(AuditEvent, actions, col(AuditEvent.entity_id) == str(filing["id"])) == 2


async def hardship(api: Api, unit_id: int) -> None:
    case = await api.ok(await api.post(f"/api/v1/units/{unit_id}/arrears-case", None, Role.cashier))
    override = {"category": "hardship", "reason": "上门核实：业主失业，家庭困难"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", override))


async def deliver(api: Api, letter_id: int, on: date) -> None:
    form = {"channel": "ems", "delivered_on": on.isoformat(), "tracking_no": f"EA{letter_id:09d}CN"}
    response = await api.client.post(
        f"/api/v1/letters/{letter_id}/deliveries",
        data=form,
        files={"proof": ("proof.pdf", SIGNED)},
        headers=api.headers(Role.manager),
    )
    await api.ok(response)


async def test_a_hardship_owner_gets_an_interrupting_offer_before_expiry(api: Api) -> None:
    """Hardship owners' letters recorded no interruption, and their periods expired quietly."""
    estate = await api.make_estate(units=2, effective_from="2020-01-01", owners_from="2020-01-01")
    for period in ("2023-06",):
        await api.bill(estate.id, period, f"{period}-01")
    unit, other = estate.unit_ids
    await hardship(api, unit)
    dues = await due_dates(api, unit)
    last_day = dues[(estate.owner_ids[0], "2023-06")] + relativedelta(years=3)
    as_of = last_day - timedelta(days=60)
    # A final demand went out to both owners earlier, so the stage (legal review) sends nothing more.
    run = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": as_of.isoformat()}), 200
    )
    assert run["needs_attention"] == []
    async with api.sessions() as s:
        letters = (await s.execute(select(Letter).where(col(Letter.estate_id) == estate.id))).scalars().all()
    by_unit = {letter.unit_id: letter for letter in letters}
    assert by_unit[unit].kind == "hardship_offer" and by_unit[unit].periods == ["2023-06"]
    assert by_unit[other].kind == "final_demand" and by_unit[other].periods == ["2023-06"]

    # A second run the same month issues nothing again: the letters are on their way.
    later = as_of + timedelta(days=5)
    rerun = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": later.isoformat()}), 200
    )
    assert sum(rerun["letters_by_kind"].values()) == 0

    # The hardship offer's delivery interrupts the hardship owner's clock.
    delivered = as_of + timedelta(days=3)
    await deliver(api, by_unit[unit].id or 0, delivered)
    assert [e[:3] for e in await events(api, unit, estate.owner_ids[0])] == [("2023-06", "demand_delivered", delivered)]
    report = listed(await watch(api, estate.id, last_day, within=0))
    assert estate.owner_ids[0] not in report and estate.owner_ids[1] in report

    # Undelivered, the other owner's notice is tried again once 30 days have passed.
    retry = as_of + timedelta(days=31)
    third = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": retry.isoformat()}), 200
    )
    assert third["letters_by_kind"] == {"final_demand": 1}


async def test_an_owner_on_hold_is_listed_for_attention_not_left_to_expire(api: Api) -> None:
    estate = await api.make_estate(units=1, effective_from="2020-01-01", owners_from="2020-01-01")
    await api.bill(estate.id, "2023-06", "2023-06-01")
    unit = estate.unit_ids[0]
    dues = await due_dates(api, unit)
    as_of = dues[(estate.owner_ids[0], "2023-06")] + relativedelta(years=3) - timedelta(days=20)
    hold = {"reason": "业主长期出国，待联系", "starts_on": "2020-01-01"}
    await api.ok(await api.post(f"/api/v1/units/{unit}/reminder-holds", hold))
    run = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": as_of.isoformat()}), 200
    )
    assert sum(run["letters_by_kind"].values()) == 0
    (attention,) = run["needs_attention"]
    assert (
        attention["unit_id"] == unit
        and "limitation of owner" in attention["reason"]
        and "2023-06" in attention["reason"]
    )
    assert "manual hold" in attention["reason"]


def test_the_packs_limitation_table_names_acknowledgements_and_filings() -> None:
    """The pack's limitation analysis quotes what the record holds: a written confirmation (not a
    signed plan), the filing with its court and case number, the end of the proceedings."""
    from feesvc.evidence.limitation_table import _kind_text, _source_text

    ack, filed = "acknowledgement #7", "legal filing #3 payment_order 上海市徐汇区人民法院 (2026)沪0104民督123号"
    assert _kind_text(InterruptionKind.acknowledgement, ack) == "债务承认（书面确认）"
    assert _source_text(ack, {}) == "书面确认 #7（业主签署件存档）"
    assert _kind_text(InterruptionKind.legal_action, filed) == "申请支付令"
    assert _source_text(filed, {}) == "上海市徐汇区人民法院 (2026)沪0104民督123号（登记#3）"
    ended = "legal filing #3 ended 上海市徐汇区人民法院 (2026)沪0104民督123号"
    assert _kind_text(InterruptionKind.legal_action, ended) == "诉讼程序终结（时效重新计算）"
    assert _kind_text(InterruptionKind.acknowledgement, "installment plan #2") == "债务承认（签署分期协议）"


async def test_the_pack_of_each_owner_shows_their_acknowledgement_or_filing(api: Api, tmp_path: Path) -> None:
    """Both recorded interruptions appear in the pack's limitation analysis, each in its own owner's."""
    sale = await sold_unit(api)  # the seller owes 2026-06, the buyer 2026-09 and 2026-10
    fields = {"unit_id": sale.unit_id, "owner_id": sale.seller_id, "signed_on": "2026-11-02", "periods": "2026-06"}
    ack = await api.ok(await acknowledge(api, fields, key()), 201)
    body = {
        "unit_id": sale.unit_id,
        "owner_id": sale.buyer_id,
        "kind": "suit",
        "filed_on": "2026-11-16",
        "court": "上海市徐汇区人民法院",
        "case_no": "(2026)沪0104民初5678号",
        "periods": ["2026-09"],
    }
    await api.ok(await api.post("/api/v1/limitation/filings", body, headers=key()), 201)

    seller_files = await pack_of(api, sale, sale.seller_id)
    [june] = json.loads(seller_files["filing.json"])["limitation"]
    assert [(i["on"], i["kind"]) for i in june["interruptions"]] == [("2026-11-02", "债务承认（书面确认）")]
    seller_text = await pdf_text(seller_files[F_LIMITATION], tmp_path, "seller.pdf")
    assert "书面确认" in seller_text and f"#{ack['id']}" in seller_text and "民初5678" not in seller_text

    buyer_files = await pack_of(api, sale, sale.buyer_id)
    rows = {r["period"]: r for r in json.loads(buyer_files["filing.json"])["limitation"]}
    assert [i["kind"] for i in rows["2026-09"]["interruptions"]] == ["起诉"]
    assert rows["2026-10"]["interruptions"] == []
    buyer_text = await pdf_text(buyer_files[F_LIMITATION], tmp_path, "buyer.pdf")
    flat = "".join(buyer_text.split())  # the cell wraps the case number
    assert "沪0104民初5678号（登记#" in flat and "书面确认" not in flat
    assert "(2026)沪0104民初5678号" in rows["2026-09"]["interruptions"][0]["source"]
