"""The evidence pack (证据包) of a unit with four years of arrears and a mixed history.

The history is built the way staff build it, through the API (and the plan services where the API
refuses past dates): 48 months billed with back-dated issue dates, partial payments, a plan agreed
and broken, a complaint fixed and inspected, a case classified and overridden, service activity,
reminder runs and a final demand delivered by EMS with a PDF proof, late fees accrued with court
rates set. The pack is then opened and checked file by file.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.evidence.limitation import LimitationStatus
from feesvc.evidence.manifest import sha256, verify_pack
from feesvc.formatting import money, period_label
from feesvc.ledger.models import EntryKind
from feesvc.ledger.service import balance, open_debits
from feesvc.letters.models import DeliveryRecord
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import propose_plan
from tests.support import Api, Estate, problem

TODAY = business_today()
MONTHS = 48
ID_NUMBER = "110101198001010000"  # 业主0 of Api.make_estate
TRACKING_NO = "EA204518867CN"
ROOT = Path(__file__).resolve().parents[1]

# A one-page PDF, as a scanned EMS receipt would arrive (only its bytes matter here).
PROOF_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def month(n: int) -> str:
    """The n-th billed month, 0 = 47 months before the current one, 47 = the current month."""
    first = TODAY.replace(day=1)
    back = MONTHS - 1 - n
    year, mon = divmod(first.year * 12 + first.month - 1 - back, 12)
    return f"{year}-{mon + 1:02d}"


def day(n: int, dom: int) -> date:
    return date.fromisoformat(f"{month(n)}-{dom:02d}")


@dataclass
class History:
    estate: Estate
    unit: int
    paid_up_unit: int
    owner: int
    charges: dict[str, int]  # period → charge id of the unit
    proof_path: Path


async def pay(api: Api, unit_id: int, fen: int, on: date, **extra: Any) -> Any:
    body = {"unit_id": unit_id, "amount_fen": fen, "method": "wechat", "received_on": on.isoformat(), **extra}
    return await api.ok(
        await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex})
    )


async def build_history(api: Api, sessions: async_sessionmaker[AsyncSession]) -> History:
    """Four years of a unit's arrears with everything an evidence pack shows (see the module doc)."""
    estate = await api.make_estate(
        units=2,
        rate="2.50",
        area="100.00",  # 250 元 a month
        settings={"due_day": 1, "grace_days": 5, "late_fee_daily_rate": "0.0008", "late_fee_cap": "principal"},
        effective_from=f"{month(0)}-01",
        owners_from=f"{month(0)}-01",
    )
    unit, paid_up = estate.unit_ids
    await api.ok(
        await api.put(
            f"/api/v1/estates/{estate.id}/escalation-policy",
            [
                {"stage": "friendly", "days_from_due": 15},
                {"stage": "formal", "days_from_due": 45},
                {"stage": "final_demand", "days_from_due": 90},
            ],
        )
    )
    for rate, since in (("0.0474", month(0)), ("0.0390", month(24))):
        body = {"effective_from": f"{since}-01", "annual_rate": rate, "basis": f"1年期LPR × 1.3（{since}）"}
        await api.ok(await api.post(f"/api/v1/estates/{estate.id}/court-rates", body))
    for n in range(MONTHS):
        await api.bill(estate.id, month(n), f"{month(n)}-01")
    ledger = await api.ledger(unit)
    charges = {e["period"]: e["id"] for e in ledger["entries"] if e["kind"] == "charge"}

    # Payments: month 0 paid late in full, month 1 in part, then month 20 in part.
    await pay(api, unit, 25000, day(1, 10))
    await pay(api, unit, 10000, day(2, 12))
    await pay(api, unit, 8000, day(21, 3), designation={"entry_ids": [charges[month(20)]]})

    # Service activity in a few months; a complaint fixed within days and inspected by the owner.
    for n in (20, 21, 44):
        for kind, count in (("cleaning_rounds", 30), ("repairs_done", 12), ("security_patrols", 62)):
            activity = {"period": month(n), "kind": kind, "count": count}
            await api.ok(await api.post(f"/api/v1/estates/{estate.id}/service-activity", activity, Role.cashier))
    complaint = await api.ok(
        await api.post(
            f"/api/v1/units/{unit}/complaints",
            {
                "category": "leak",
                "channel": "phone",
                "text": "卫生间顶棚渗水，楼上管道可能破裂",
                "opened_at": f"{day(19, 3).isoformat()}T09:30:00+08:00",
                "responsible": "维修主管 王强",
            },
            Role.cashier,
        )
    )
    for step in (
        {"step": "plan_given", "at": f"{day(19, 3).isoformat()}T15:00:00+08:00", "note": "次日上门更换楼上排水管"},
        {"step": "fixed", "at": f"{day(19, 5).isoformat()}T11:00:00+08:00", "note": "已更换排水管并修补顶棚"},
        {
            "step": "inspected",
            "at": f"{day(19, 8).isoformat()}T10:00:00+08:00",
            "satisfied": True,
            "note": "业主验收，无渗水",
        },
    ):
        await api.ok(await api.post(f"/api/v1/complaints/{complaint['id']}/steps", step, Role.cashier), 201)

    # A plan for months 14–16, agreed, first installment paid, the second missed: broken.
    proposed_on = day(30, 5)
    async with sessions() as s:
        plan = await propose_plan(
            s,
            COMMAND_LINE,
            PlanCreate(
                unit_id=unit,
                installments=3,
                first_due=proposed_on + timedelta(days=15),
                late_fee_treatment=LateFeeTreatment.freeze,
                charge_ids=[charges[month(n)] for n in (14, 15, 16)],
                note="业主称资金周转困难，分三期",
            ),
            proposed_on,
        )
    agreed = await api.ok(
        await api.post(
            f"/api/v1/installment-plans/{plan.id}/agree", {"agreed_on": (proposed_on + timedelta(days=5)).isoformat()}
        ),
        200,
    )
    first = agreed["schedule"][0]
    await pay(
        api,
        unit,
        first["amount_fen"],
        date.fromisoformat(first["due_date"]),
        designation={"entry_ids": [charges[month(14)]]},
    )
    second_due = date.fromisoformat(agreed["schedule"][1]["due_date"])
    review = await api.ok(
        await api.post(
            "/api/v1/installment-plans/review",
            {"estate_id": estate.id, "as_of": (second_due + timedelta(days=6)).isoformat()},
        ),
        200,
    )
    assert review["broken"] == [plan.id]

    # Reminders: an old run (not delivered) and a final demand ten days ago, delivered by EMS; its
    # fifteen days to pay have not run out yet (so no payment order: tests/test_evidence_statements.py
    # builds one the day after a deadline).
    old_run = {"estate_id": estate.id, "as_of": day(33, 20).isoformat()}
    await api.ok(await api.post("/api/v1/reminder-runs", old_run), 200)
    run = await api.ok(
        await api.post(
            "/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": (TODAY - timedelta(days=10)).isoformat()}
        ),
        200,
    )
    assert run["letters_by_kind"].get("final_demand"), run
    letters = await api.ok(await api.get(f"/api/v1/units/{unit}/letters"))
    final = next(x for x in letters if x["kind"] == "final_demand" and x["issued_on"] == run["as_of"])
    delivered = await api.client.post(
        f"/api/v1/letters/{final['id']}/deliveries",
        data={
            "channel": "ems",
            "delivered_on": (TODAY - timedelta(days=7)).isoformat(),
            "tracking_no": TRACKING_NO,
            "signer": "本人",
        },
        files={"proof": ("ems-receipt.pdf", PROOF_PDF, "application/pdf")},
        headers=api.headers(Role.manager),
    )
    assert delivered.status_code == 201, delivered.text

    # Late fees to today; one partly waived. The case: classified, then a manager's override.
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": TODAY.isoformat()}), 200)
    ledger = await api.ledger(unit)
    fee = next(e for e in ledger["entries"] if e["kind"] == "late_fee" and e["basis_entry_id"] == charges[month(30)])
    waiver = {"reason": "经理批准减免部分违约金", "amount_fen": 1000}
    await api.ok(await api.post(f"/api/v1/late-fees/{fee['id']}/waivers", waiver))
    case = await api.ok(await api.post(f"/api/v1/units/{unit}/arrears-case", {}, Role.cashier))
    note = {
        "kind": "call",
        "text": "业主称顶棚漏水没修好之前不交物业费",
        "claim": "dispute",
        "noted_on": day(19, 4).isoformat(),
    }
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/notes", note, Role.cashier))
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/classify", {}, Role.cashier))
    override = {"category": "misunderstanding", "reason": "漏水已修复并经业主验收，业主仍以此为由拒缴"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", override))

    # The other unit pays everything it owes: no arrears.
    async with sessions() as s:
        owed = await balance(s, paid_up)
        proof = (await s.execute(select(DeliveryRecord).where(DeliveryRecord.letter_id == final["id"]))).scalar_one()
    await pay(api, paid_up, owed, TODAY)
    return History(estate, unit, paid_up, estate.owner_ids[0], charges, Path(proof.proof_path))


async def pdf_text(data: bytes, tmp: Path, name: str) -> str:
    path = tmp / name.replace("/", "_")
    path.write_bytes(data)
    process = await asyncio.create_subprocess_exec(
        "pdftotext", "-layout", str(path), "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode()


def verify_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feesvc.evidence.manifest", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def rezip(source: bytes, target: Path, change: dict[str, bytes | None]) -> None:
    """A copy of the pack with files replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                continue
            new.writestr(info, old.read(info.filename))
        for name, data in change.items():
            if data is not None:
                new.writestr(name, data)


async def test_the_evidence_pack_of_four_years_of_arrears(
    api: Api, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    history = await build_history(api, sessions)
    unit = history.unit
    response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": TODAY.isoformat()})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"evidence-unit-{unit}-{TODAY.isoformat()}.zip" in disposition
    pack = response.content
    if keep := os.environ.get("FEESVC_KEEP_EVIDENCE_PACK"):  # to look at the documents: pdftoppm -png -r 60
        await asyncio.to_thread(Path(keep).write_bytes, pack)

    # Every file is in the manifest with its hash; nothing else is in the ZIP.
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for path, entry in listed.items():
        assert sha256(files[path]) == entry["sha256"] and len(files[path]) == entry["size"], path
    documents = [
        "01_evidence_list.pdf",
        "02_parties_and_basis.pdf",
        "03_arrears.pdf",
        "04_demands.pdf",
        "05_service_record.pdf",
        "06_limitation.pdf",
        "07_plans_and_case.pdf",
    ]
    proofs = [name for name in files if name.startswith("demands/proofs/")]
    assert set(documents) | {"demands/letters.pdf", "filing.json", "ledger_snapshot.json"} <= set(files)
    assert len(proofs) == 1 and files[proofs[0]] == PROOF_PDF
    assert manifest["ledger_snapshot"]["sha256"] == sha256(files["ledger_snapshot.json"])
    assert manifest["as_of"] == TODAY.isoformat() and manifest["generated_by"].startswith("manager:")
    snapshot = json.loads(files["ledger_snapshot.json"])["entries"]
    assert [e["id"] for e in snapshot] == sorted(e["id"] for e in snapshot)
    assert {"id", "kind", "amount_fen", "effective_date", "settles_entry_id"} <= set(snapshot[0])

    texts = {name: await pdf_text(files[name], tmp_path, name) for name in [*documents, "demands/letters.pdf"]}
    # The owner's full ID number is in 02 and nowhere else; other documents may name the owner.
    assert ID_NUMBER in texts["02_parties_and_basis.pdf"] and "13800000000" in texts["02_parties_and_basis.pdf"]
    assert [name for name, text in texts.items() if ID_NUMBER in text] == ["02_parties_and_basis.pdf"]
    parties = texts["02_parties_and_basis.pdf"]
    assert "安居物业服务有限公司" in parties and "前期物业服务合同" in parties

    # 03: each period, its calculation and the totals, which agree with the ledger.
    async with sessions() as s:
        debits = await open_debits(s, unit, TODAY)
    principal = sum(d.open_fen for d in debits if d.kind == EntryKind.charge and d.debt_due < TODAY)
    filing = json.loads(files["filing.json"])
    claims = filing["claims"]
    assert claims["principal"]["fen"] == principal
    arrears = texts["03_arrears.pdf"]
    assert "100.00平方米 × 2.50元/平方米·月 × 1个月 = ¥250.00" in arrears
    for n in (1, 2, 20, 30, 46):
        assert period_label(month(n), "zh_CN") in arrears
    assert money(principal, "zh_CN") in arrears
    assert money(claims["late_fee_contract"]["fen"], "zh_CN") in arrears
    assert money(claims["late_fee_court_likely"]["fen"], "zh_CN") in arrears
    assert claims["late_fee_court_likely"]["fen"] < claims["late_fee_contract"]["fen"]

    # 04: the letters with the delivery and its tracking number; the letters rendered as issued.
    assert TRACKING_NO in texts["04_demands.pdf"] and "催告函" in texts["04_demands.pdf"]
    assert "demands/proofs/" in texts["04_demands.pdf"] and "SHA-256" in texts["04_demands.pdf"]
    assert "业主0" in texts["demands/letters.pdf"] and "1栋 101" in texts["demands/letters.pdf"]

    # 05 and 07: the complaint with the owner's verdict; the broken plan and the override.
    assert "业主满意" in texts["05_service_record.pdf"] and "卫生间顶棚渗水" in texts["05_service_record.pdf"]
    assert "未按期履行，已终止" in texts["07_plans_and_case.pdf"] and "认知偏差型" in texts["07_plans_and_case.pdf"]

    # 06: the old periods, past limitation, in the table of their own (a demand delivered after
    # expiry changes nothing); the recent ones restarted by that demand.
    by_period = {p["period"]: p for p in filing["limitation"]}
    assert by_period[month(3)]["status"] == LimitationStatus.expired
    assert by_period[month(30)]["status"] == LimitationStatus.ok
    limitation = texts["06_limitation.pdf"]
    split = limitation.index("二、诉讼时效已届满的期间")
    assert period_label(month(3), "zh_CN") in limitation[split:]
    assert period_label(month(3), "zh_CN") not in limitation[:split].split("一、时效期间内的欠费")[1]
    assert period_label(month(30), "zh_CN") in limitation[:split]
    assert "时效届满后发生" in limitation[split:]
    assert month(3) in claims["expired_periods"] and month(30) not in claims["expired_periods"]
    excluded = claims["excluding_expired"]["principal"]["fen"]
    assert 0 < excluded < principal

    # 01: numbered items pointing at the files and their pages.
    evidence_list = texts["01_evidence_list.pdf"]
    for number in ("证据一", "证据二", "证据五", "证据八"):
        assert number in evidence_list
    assert "03_arrears.pdf" in evidence_list and "第1" in evidence_list

    # filing.json: the complaint form's fields and the payment order.
    assert filing["plaintiff"]["name"] == "安居物业服务有限公司"
    assert filing["defendants"][0]["id_number"] == ID_NUMBER and filing["defendants"][0]["name"] == "业主0"
    assert filing["cause_of_action"] == "物业服务合同纠纷"
    assert claims["total_contract"]["fen"] == principal + claims["late_fee_contract"]["fen"]
    periods = claims["principal_by_period"]
    assert periods[0]["charges"][0]["calculation"].endswith("= ¥250.00")
    assert sum(p["open_fen"] for p in periods) == principal
    facts = filing["facts_and_reasons"]
    delivered = [x for d in facts["demands"] for x in d["delivered"]]
    assert [x["tracking_no"] for x in delivered] == [TRACKING_NO]
    assert facts["fee_standards"][0]["posted_on"] == f"{month(0)}-01"
    deadline = (TODAY + timedelta(days=5)).isoformat()
    assert "经原告催告" in facts["text"] and f"所限缴款期限{deadline}尚未届满" in facts["text"]
    assert "在合理期限内仍未缴纳" not in facts["text"]
    order = filing["payment_order"]
    assert order["eligible"] is False and order["reasons"] == [
        f"催告所限缴款期限{deadline}尚未届满，债务尚不能认定为到期未履行"
    ], order

    # verify: passes on the pack, fails naming the file on a changed byte, a removed and an added file.
    good = tmp_path / "pack.zip"
    good.write_bytes(pack)
    result = verify_cli(good)
    assert result.returncode == 0 and "OK" in result.stdout, result.stdout + result.stderr
    assert verify_pack(pack).ok
    changed = bytearray(files["03_arrears.pdf"])
    changed[len(changed) // 2] ^= 0x01
    cases: dict[str, dict[str, bytes | None]] = {
        "changed: 03_arrears.pdf": {"03_arrears.pdf": bytes(changed)},
        "missing: 05_service_record.pdf": {"05_service_record.pdf": None},
        "added: notes.txt": {"notes.txt": b"added later"},
    }
    for index, (expected, change) in enumerate(cases.items()):
        tampered = tmp_path / f"tampered-{index}.zip"
        rezip(pack, tampered, change)
        result = verify_cli(tampered)
        assert result.returncode == 1 and expected in result.stdout, result.stdout


async def test_who_may_build_a_pack_and_when_there_is_nothing_to_claim(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=2, rate="2.00", settings={"due_day": 1})
    owed, clear = estate.unit_ids
    for n in (2, 1):
        await api.bill(estate.id, month(MONTHS - 1 - n), f"{month(MONTHS - 1 - n)}-01")
    async with sessions() as s:
        owed_fen = await balance(s, clear)
    await pay(api, clear, owed_fen, TODAY)
    path = f"/api/v1/units/{owed}/evidence-packs"
    owner = await api.owner_token(estate.owner_ids[0])
    problem(await api.post(path, {}, owner), 403)
    problem(await api.post(path, {}, Role.cashier), 403)
    body = problem(await api.post(f"/api/v1/units/{clear}/evidence-packs", {}), (409, 422))
    assert "no arrears" in body["detail"]
    problem(await api.post("/api/v1/units/987654/evidence-packs", {}), 404)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    problem(await api.post(path, {"as_of": tomorrow}), 422, "as_of")
    ok = await api.post(path, None)  # no body: as of today
    assert ok.status_code == 200 and ok.content[:2] == b"PK"


async def test_a_changed_proof_file_or_an_open_complaint_shows_in_the_pack(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=1, rate="2.00", settings={"due_day": 1})
    unit = estate.unit_ids[0]
    for n in (2, 1, 0):
        await api.bill(estate.id, month(MONTHS - 1 - n), f"{month(MONTHS - 1 - n)}-01")
    await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}), 200)
    [letter] = await api.ok(await api.get(f"/api/v1/units/{unit}/letters"))
    delivered = await api.client.post(
        f"/api/v1/letters/{letter['id']}/deliveries",
        data={"channel": "hand", "delivered_on": TODAY.isoformat(), "signer": "业主0"},
        files={"proof": ("receipt.pdf", PROOF_PDF + b"%" + uuid.uuid4().hex.encode(), "application/pdf")},
        headers=api.headers(Role.manager),
    )
    assert delivered.status_code == 201, delivered.text
    await api.ok(
        await api.post(
            f"/api/v1/units/{unit}/complaints", {"category": "elevator", "text": "电梯经常停运"}, Role.cashier
        )
    )
    response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {})
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        filing = json.loads(archive.read("filing.json"))
    order = filing["payment_order"]
    assert order["eligible"] is False and any("投诉尚未办结" in reason for reason in order["reasons"])

    # The stored proof no longer matches the hash recorded with it: no pack.
    async with sessions() as s:
        record = (
            await s.execute(select(DeliveryRecord).where(col(DeliveryRecord.letter_id) == letter["id"]))
        ).scalar_one()
    proof = Path(record.proof_path)
    original = await asyncio.to_thread(proof.read_bytes)
    try:
        await asyncio.to_thread(proof.write_bytes, original + b"tampered")
        body = problem(await api.post(f"/api/v1/units/{unit}/evidence-packs", {}), 409)
        assert letter["letter_no"] in body["detail"] and "SHA-256" in body["detail"]
    finally:
        await asyncio.to_thread(proof.write_bytes, original)
