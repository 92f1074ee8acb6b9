"""Every statement of fact in the evidence pack appears exactly when its fact is recorded (issue 16, 1).

DOMAIN.md "What documents may say". First the statement rules over plain facts, case by case; then
one unit's history built through the API and packs built at five dates of it, read back as text
(pdftotext, filing.json): before the demand was delivered, delivered with its deadline still to
come, the day after the deadline, and with a complaint open and the owner not satisfied and a plan
agreed. The dates are relative to a fixed offset from today's date, never to a calendar day.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import zipfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.evidence.facts import BasisFact, ComplaintFact, DefendantFact, DemandFact, Facts, PlanFact
from feesvc.evidence.statements import (
    complaint_statements,
    demand_sentence,
    demand_statements,
    payment_order_blocks,
    plan_statements,
    service_statements,
    to_supply,
)
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import propose_plan
from tests.support import Api

AS_OF = date(2026, 3, 20)
OLD_PHRASE = "被告投诉均已及时处理并经验收"
PROOF_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def demand(deadline: date | None, delivered_on: date | None, row: int = 1) -> DemandFact:
    return DemandFact(
        row=row,
        letter_no=f"L-{row}",
        kind="催告函" if deadline else "催缴通知",
        issued_on=date(2026, 2, 1),
        deadline=deadline,
        periods=("2025-12", "2026-01", "2026-02"),
        delivered_on=delivered_on,
        channel="EMS 特快专递" if delivered_on else "",
        tracking_no="EA1CN" if delivered_on else "",
        proof=f"demands/proofs/p{row}.pdf" if delivered_on else "",
    )


def complaint(state: str, satisfied: bool | None, number: int = 1) -> ComplaintFact:
    return ComplaintFact(number, "漏水", date(2026, 1, 5), state, satisfied)  # type: ignore[arg-type]


FACTS = Facts(
    as_of=AS_OF,
    defendants=(DefendantFact("业主0", True, None),),
    claimed_periods=("2025-12", "2026-01", "2026-02"),
    service_periods=("2026-01",),
    service_kinds=("保洁",),
    demands=(),
    complaints=(),
    plans=(),
    basis=(
        BasisFact("物业服务费", "2.00", date(2024, 1, 1), "contract", "合同约定", "前期物业服务合同", date(2024, 1, 1)),
    ),
)


def texts(statements: list[Any]) -> str:
    return "\n".join(s.text for s in statements)


def test_demand_statements_follow_delivery_and_deadline() -> None:
    # No demand at all, or one issued and never delivered: nothing is said to have been demanded.
    for demands in ((), (demand(date(2026, 3, 1), None),)):
        facts = replace(FACTS, demands=demands)
        assert demand_sentence(facts) == "被告至今未缴纳。"
        assert texts(demand_statements(facts)) == "记录中没有已送达被告本人的催缴文书"
        assert any("没有已送达" in r for r in payment_order_blocks(facts))
        assert any("送达的催缴文书及送达凭证" in x for x in to_supply(facts))
    # Delivered; the deadline is the pack date itself: not yet passed.
    facts = replace(FACTS, demands=(demand(AS_OF, date(2026, 3, 6)),))
    sentence = demand_sentence(facts)
    assert sentence == f"经原告催告（催告函L-1于2026-03-06送达，所限缴款期限{AS_OF}尚未届满），被告至今未缴纳。"
    said = demand_statements(facts)
    assert "已届满" not in texts(said) and f"所限缴款期限{AS_OF}尚未届满" in said[-1].text
    assert said[0].cites == ("04_demands.pdf 序号1", "demands/letters.pdf", "demands/proofs/p1.pdf")
    assert any("尚未届满" in r for r in payment_order_blocks(facts))
    assert not any("催缴文书及送达凭证" in x for x in to_supply(facts))
    # The day after the deadline: "在合理期限内仍未缴纳", and nothing about demands blocks the order.
    facts = replace(FACTS, demands=(demand(AS_OF - timedelta(days=1), date(2026, 3, 6)),))
    assert demand_sentence(facts).startswith("经原告催告（催告函L-1于2026-03-06送达，限2026-03-19前缴纳）")
    assert demand_sentence(facts).endswith("被告在合理期限内仍未缴纳。")
    assert "已届满，截至2026-03-20被告仍未缴纳" in texts(demand_statements(facts))
    assert payment_order_blocks(facts) == []
    # A delivered reminder without a deadline is a demand, but no reasonable period has run.
    facts = replace(FACTS, demands=(demand(None, date(2026, 3, 6)),))
    assert demand_sentence(facts) == "经原告催告（催缴通知L-1于2026-03-06送达），被告至今未缴纳。"
    assert "均未载明缴款期限" in texts(demand_statements(facts))
    assert any("未载明缴款期限" in r for r in payment_order_blocks(facts))
    # A demand that did not name every claimed period says which it left out.
    partial = replace(demand(AS_OF - timedelta(days=1), date(2026, 3, 6)), periods=("2025-12",))
    facts = replace(FACTS, demands=(partial,))
    assert "限2026-03-19前缴纳；该催告未涉及2026年1月至2026年2月）" in demand_sentence(facts)
    assert "催缴2025年12月欠费）于2026-03-06" in texts(demand_statements(facts))


def test_complaint_statements_follow_their_state() -> None:
    none = complaint_statements(FACTS)
    assert texts(none) == "截至2026-03-20记录中没有被告的投诉"
    resolved = replace(FACTS, complaints=(complaint("resolved", True), complaint("resolved", True, 2)))
    said = complaint_statements(resolved)
    assert texts(said) == "被告的2件投诉均已处理完毕并经被告验收满意"
    assert said[0].cites == ("05_service_record.pdf 投诉1", "05_service_record.pdf 投诉2")
    assert payment_order_blocks(resolved) == ["记录中没有已送达被申请人的催缴文书，不能证明已催告"]
    cases = {
        ("open", None): "尚未办结",
        ("open", False): "尚未办结，被告验收不满意",
        ("closed", False): "已关闭，被告验收不满意",
        ("closed", None): "已关闭，未经被告验收",
    }
    for (state, satisfied), words in cases.items():
        facts = replace(FACTS, complaints=(complaint("resolved", True), complaint(state, satisfied, 2)))
        said = texts(complaint_statements(facts))
        assert "均已处理完毕" not in said and words in said, (state, satisfied)
        assert "被告于2026-01-05提出的漏水投诉已处理完毕并经被告验收满意" in said
        blocks = payment_order_blocks(facts)
        assert any("存在争议" in r for r in blocks) == (state == "open" or satisfied is False), (state, satisfied)


def test_what_the_record_lacks_is_to_be_supplied() -> None:
    missing = to_supply(FACTS)
    assert "物业服务合同文本（记录中只登记了合同名称「前期物业服务合同」）" in missing
    assert any(x.startswith("被告的房屋权属证明") for x in missing)
    assert not any(x.startswith("被告的房屋权属证明") for x in to_supply(replace(FACTS, title_document="x.pdf")))
    assert not any(x.startswith("物业服务合同文本") for x in to_supply(replace(FACTS, contract_document="c.pdf")))
    assert any("公示的证明" in x and "2024-01-01" in x for x in missing)
    assert "2025年12月、2026年2月的物业服务记录（记录中没有这些月份的服务记录）" in missing
    assert not any("分期还款协议" in x for x in missing)
    assert texts(service_statements(FACTS)) == "原告在2026年1月（主张期间3个月中的1个月）有保洁服务记录"
    both = replace(FACTS, service_kinds=("保洁", "维修"))
    assert "有保洁、维修服务记录" in texts(service_statements(both))
    assert texts(service_statements(replace(FACTS, service_periods=()))) == "记录中没有主张期间的物业服务记录"
    # A plan agreed: the acknowledgement is stated, its signed copy is to be supplied; a proposal only is neither.
    agreed = replace(FACTS, plans=(PlanFact(7, date(2026, 2, 10), ("2025-12",)),))
    assert "被告于2026-02-10同意分期还款协议（#7）" in texts(plan_statements(agreed))
    assert "分期还款协议（#7）的签字原件（记录中只登记了签署日期2026-02-10）" in to_supply(agreed)
    proposed = replace(FACTS, plans=(PlanFact(7, None, ("2025-12",)),))
    assert "未经被告签署" in texts(plan_statements(proposed))
    assert not any("分期还款协议" in x for x in to_supply(proposed))
    # No address for service: to be supplied, and no payment order.
    gone = replace(FACTS, defendants=(DefendantFact("业主0", False, date(2025, 12, 31)),))
    assert any("送达地址" in x and "2025-12-31" in x for x in to_supply(gone))
    assert any("无法送达" in r for r in payment_order_blocks(gone))


# --- the pack, read back ------------------------------------------------------------------------


async def pdf_text(data: bytes, tmp: Path, name: str) -> str:
    """The PDF's text with all white space removed (table cells wrap sentences over lines)."""
    path = tmp / name.replace("/", "_")
    path.write_bytes(data)
    process = await asyncio.create_subprocess_exec("pdftotext", str(path), "-", stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return re.sub(r"\s+", "", out.decode())


def months_back(today: date, n: int) -> str:
    year, month = divmod(today.year * 12 + today.month - 1 - n, 12)
    return f"{year}-{month + 1:02d}"


def at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+08:00"


async def test_each_statement_of_the_pack_appears_exactly_when_its_fact_is_recorded(
    api: Api, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    today = business_today()
    issued = today - timedelta(days=40)  # the final demand's date; its deadline is 15 days later
    estate = await api.make_estate(
        units=1,
        rate="2.00",
        settings={"due_day": 1},
        effective_from=f"{months_back(today, 9)}-01",
        owners_from=f"{months_back(today, 9)}-01",
    )
    unit = estate.unit_ids[0]
    policy = [
        {"stage": "friendly", "days_from_due": 15},
        {"stage": "formal", "days_from_due": 45},
        {"stage": "final_demand", "days_from_due": 90},
    ]
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/escalation-policy", policy))
    periods = [months_back(today, n) for n in (7, 6, 5)]
    for period in periods:
        await api.bill(estate.id, period, f"{period}-01")
    activity = {"period": periods[0], "kind": "cleaning_rounds", "count": 30}
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/service-activity", activity, Role.cashier))

    # A complaint fixed and accepted before the demand (an open one would pause the reminders);
    # a second one, after the deadline, that the owner rejects.
    async def complaint_with(opened: date, steps: list[dict[str, Any]]) -> None:
        body = {"category": "leak", "channel": "phone", "text": "卫生间渗水", "opened_at": at(opened, 9)}
        made = await api.ok(await api.post(f"/api/v1/units/{unit}/complaints", body, Role.cashier))
        for step in steps:
            await api.ok(await api.post(f"/api/v1/complaints/{made['id']}/steps", step, Role.cashier), 201)

    await complaint_with(
        issued - timedelta(days=10),
        [
            {"step": "plan_given", "at": at(issued - timedelta(days=10), 15)},
            {"step": "fixed", "at": at(issued - timedelta(days=8), 11)},
            {"step": "inspected", "at": at(issued - timedelta(days=5), 10), "satisfied": True},
        ],
    )
    await complaint_with(
        issued + timedelta(days=18),
        [
            {"step": "plan_given", "at": at(issued + timedelta(days=18), 15)},
            {"step": "fixed", "at": at(issued + timedelta(days=19), 11)},
            {"step": "inspected", "at": at(issued + timedelta(days=20), 10), "satisfied": False},
        ],
    )

    # The final demand, delivered the next day by EMS.
    run = await api.ok(
        await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": issued.isoformat()}), 200
    )
    assert run["letters_by_kind"].get("final_demand") == 1, run
    [letter] = await api.ok(await api.get(f"/api/v1/units/{unit}/letters"))
    deadline = date.fromisoformat(letter["deadline"])
    assert deadline == issued + timedelta(days=15)
    delivered = await api.client.post(
        f"/api/v1/letters/{letter['id']}/deliveries",
        data={"channel": "ems", "delivered_on": (issued + timedelta(days=1)).isoformat(), "tracking_no": "EA9CN"},
        files={"proof": ("ems.pdf", PROOF_PDF + uuid.uuid4().hex.encode(), "application/pdf")},
        headers=api.headers(Role.manager),
    )
    assert delivered.status_code == 201, delivered.text

    # A plan for the oldest month, proposed after the deadline and agreed two days later.
    ledger = await api.ledger(unit)
    oldest = next(e["id"] for e in ledger["entries"] if e["kind"] == "charge" and e["period"] == periods[0])
    proposed_on = issued + timedelta(days=17)
    async with sessions() as s:
        plan = await propose_plan(
            s,
            COMMAND_LINE,
            PlanCreate(
                unit_id=unit,
                installments=3,
                first_due=proposed_on + timedelta(days=15),
                late_fee_treatment=LateFeeTreatment.freeze,
                charge_ids=[oldest],
            ),
            proposed_on,
        )
    agreed_on = issued + timedelta(days=19)
    await api.ok(
        await api.post(f"/api/v1/installment-plans/{plan.id}/agree", {"agreed_on": agreed_on.isoformat()}), 200
    )

    async def pack(as_of: date) -> tuple[dict[str, Any], dict[str, str]]:
        response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": as_of.isoformat()})
        assert response.status_code == 200, response.text
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            filing = json.loads(archive.read("filing.json"))
            names = [
                "01_evidence_list.pdf",
                "02_parties_and_basis.pdf",
                "04_demands.pdf",
                "05_service_record.pdf",
                "07_plans_and_case.pdf",
            ]
            read = {name: await pdf_text(archive.read(name), tmp_path, f"{as_of}-{name}") for name in names}
        return filing, read

    lapsed = f"所限缴款期限{deadline}已届满"
    pending = f"所限缴款期限{deadline}尚未届满"
    all_accepted = "被告的1件投诉均已处理完毕并经被告验收满意"
    rejected = "尚未办结，被告验收不满意"
    signed_copy = f"分期还款协议（#{plan.id}）的签字原件"
    # (pack date, demand delivered, deadline passed, all complaints accepted, a complaint rejected, plan agreed)
    dates = [
        (issued, False, False, True, False, False),
        (deadline, True, False, True, False, False),
        (deadline + timedelta(days=1), True, True, True, False, False),
        (issued + timedelta(days=21), True, True, False, True, True),
    ]
    for as_of, was_delivered, passed, accepted, was_rejected, has_plan in dates:
        filing, read = await pack(as_of)
        listed, demands, service = read["01_evidence_list.pdf"], read["04_demands.pdf"], read["05_service_record.pdf"]
        facts = filing["facts_and_reasons"]["text"]
        statements = [s["text"] for s in filing["facts_and_reasons"].get("statements", [])]
        supply = filing["to_be_supplied"]
        order = filing["payment_order"]
        where = as_of.isoformat()

        assert ("经原告催告" in facts) is was_delivered, where
        assert ("在合理期限内仍未缴纳" in facts) is passed, where
        assert (f"催告函{letter['letter_no']}于" in facts) is was_delivered, where
        assert (f"所限缴款期限{deadline}尚未届满），被告至今未缴纳" in facts) is (was_delivered and not passed), where
        for text in (listed, demands):
            assert (lapsed in text) is passed, where
            assert (pending in text) is (was_delivered and not passed), where
            assert ("记录中没有已送达被告本人的催缴文书" in text) is (not was_delivered), where
            assert ("EMS特快专递送达被告，单号EA9CN" in text) is was_delivered, where
        assert any(lapsed in s for s in statements) is passed
        assert any("催缴文书及送达凭证" in x for x in supply) is (not was_delivered), where
        delivered_statement = next(
            (s for s in filing["facts_and_reasons"]["statements"] if "送达被告" in s["text"]), None
        )
        if was_delivered:
            assert delivered_statement is not None and "04_demands.pdf 序号1" in delivered_statement["cites"]
            assert any(c.startswith("demands/proofs/") for c in delivered_statement["cites"])

        # Complaints: accepted by the owner, or one open with the owner not satisfied.
        for text in (listed, service):
            assert (all_accepted in text) is accepted, where
            assert (rejected in text) is was_rejected, where
            assert OLD_PHRASE not in text
        assert (all_accepted in facts) is accepted, where

        # The payment order: only after the deadline, and not while a complaint is open.
        assert order["eligible"] is (passed and not was_rejected), (where, order)
        if not was_delivered:
            assert any("没有已送达" in r for r in order["reasons"])
        elif not passed:
            assert any(f"{deadline}尚未届满" in r for r in order["reasons"])
        if was_rejected:
            assert any("投诉尚未办结" in r for r in order["reasons"])

        # What the record lacks, listed, never implied.
        assert any(x.startswith("物业服务合同文本") for x in supply) and any("公示的证明" in x for x in supply)
        assert "收费标准已依法公示" not in facts and "原告依约提供物业服务" not in facts
        assert "待补充事项" in listed and "物业服务合同文本" in listed
        assert any(signed_copy in x for x in supply) is has_plan, where
        assert (signed_copy in listed) is has_plan, where
        assert any(f"被告于{agreed_on}同意分期还款协议" in s for s in statements) is has_plan, where
        for text in (listed, read["07_plans_and_case.pdf"]):
            assert (f"被告于{agreed_on}同意分期还款协议（#{plan.id}）" in text) is has_plan, where
        # The fee standard's basis and posting date as recorded; the posting itself is not asserted.
        parties = read["02_parties_and_basis.pdf"]
        assert "依据登记为合同约定" in parties and "登记的公示日期为" in parties
        assert "已于所列公示日期公示" not in parties
        # Service records: the one month recorded is stated, the two others are to be supplied.
        assert (
            "（主张期间3个月中的1个月）有保洁服务记录" in listed
            and "安保" not in listed
            and any("的物业服务记录（记录中没有" in x for x in supply)
        )
