"""Evidence packs of a sold unit (issue 15, item 6): a pack is for one owner's periods.

The seller (业主0, no contact address on record) owes 2026-06; the buyer (买受人王五, a postal
address) owes 2026-09 and 2026-10 (tests/sale_support). A demand is delivered to the buyer. The
seller's pack must hold the seller's facts only: its ledger extract, demands, delivery proofs,
limitation analysis and filing data; its address for service is the seller's contact address,
never the sold unit.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.ledger.models import LedgerEntry
from feesvc.letters.models import Letter
from feesvc.registry.models import Owner
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem

AS_OF = "2026-11-30"  # after every period of the sold unit is due; fixed, never today's date
DELIVERED_ON = "2026-11-20"
BUYER = "买受人王五"
BUYER_ID_NUMBER = "110101199001019999"
BUYER_ADDRESS = "上海市徐汇区买家路9号"
SELLER = "业主0"
SELLER_ID_NUMBER = "110101198001010000"
SELLER_ADDRESS = "北京市朝阳区卖家街1号"

# A one-page PDF, as a scanned signed receipt would arrive (only its bytes matter here).
PROOF_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


async def pack_of(api: Api, sold: SoldUnit, owner_id: int | None) -> dict[str, bytes]:
    body: dict[str, Any] = {"as_of": AS_OF}
    if owner_id is not None:
        body["owner_id"] = owner_id
    response = await api.post(f"/api/v1/units/{sold.unit_id}/evidence-packs", body)
    assert response.status_code == 200, response.text
    if keep := os.environ.get("FEESVC_KEEP_EVIDENCE_PACK"):  # to look at the documents: pdftoppm -png -r 60
        await asyncio.to_thread(Path(f"{keep}-{owner_id}.zip").write_bytes, response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def pdf_text(data: bytes, tmp: Path, name: str) -> str:
    path = tmp / name.replace("/", "_")
    path.write_bytes(data)
    process = await asyncio.create_subprocess_exec(
        "pdftotext", "-layout", str(path), "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode()


async def texts_of(files: dict[str, bytes], tmp: Path) -> dict[str, str]:
    return {name: await pdf_text(data, tmp, name) for name, data in files.items() if name.endswith(".pdf")}


async def deliver_a_demand_to_the_buyer(api: Api, sold: SoldUnit, sessions: async_sessionmaker[AsyncSession]) -> Letter:
    """A reminder run, then the letter addressed to the buyer delivered by hand with a signed receipt."""
    await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": sold.estate.id, "as_of": "2026-11-16"}), 200)
    async with sessions() as s:
        letters = list((await s.execute(select(Letter).where(Letter.unit_id == sold.unit_id))).scalars())
    # The reminder run's letter (the sale also gave the buyer a payment notice, not a demand).
    to_buyer = [x for x in letters if x.owner_id == sold.buyer_id and x.run_id is not None]
    assert to_buyer, [(x.letter_no, x.owner_id, x.periods) for x in letters]
    letter = to_buyer[-1]
    delivered = await api.client.post(
        f"/api/v1/letters/{letter.id}/deliveries",
        data={"channel": "hand", "delivered_on": DELIVERED_ON, "signer": BUYER},
        files={"proof": ("receipt.pdf", PROOF_PDF, "application/pdf")},
        headers=api.headers(Role.manager),
    )
    assert delivered.status_code == 201, delivered.text
    return letter


async def test_a_unit_with_arrears_of_two_owners_needs_the_owner_named(api: Api) -> None:
    sold = await sold_unit(api)
    path = f"/api/v1/units/{sold.unit_id}/evidence-packs"
    body = problem(await api.post(path, {"as_of": AS_OF}), 409, "owner_id")
    # The owners with arrears are listed, each with what they owe, so the user can choose.
    assert str(sold.seller_id) in body["detail"] and str(sold.buyer_id) in body["detail"]
    assert "2026-06" in body["detail"] and "2026-09" in body["detail"]
    # An owner who owes nothing on the unit (never an owner of it) has no pack to build.
    stranger = await api.ok(await api.post("/api/v1/owners", {"name": "路人甲"}))
    problem(await api.post(path, {"as_of": AS_OF, "owner_id": stranger["id"]}), 409, "owner_id")
    problem(await api.post(path, {"as_of": AS_OF, "owner_id": 0}), 400, "owner_id")


async def test_the_sellers_pack_holds_the_sellers_periods_and_ledger_entries_only(
    api: Api, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Reproduction: "The seller's evidence pack carries the buyer's ledger entries"."""
    sold = await sold_unit(api)
    # The buyer pays part of the buyer's own October: the buyer's payment is no fact of the seller's.
    await api.ok(
        await api.post(
            "/api/v1/payments",
            {"unit_id": sold.unit_id, "amount_fen": 10000, "method": "wechat", "received_on": "2026-10-20"},
            Role.cashier,
            headers={"Idempotency-Key": "sale-evidence-buyer-payment"},
        )
    )
    files = await pack_of(api, sold, sold.seller_id)
    filing = json.loads(files["filing.json"])
    claims = filing["claims"]
    assert [p["period"] for p in claims["principal_by_period"]] == ["2026-06"]
    assert claims["principal"]["fen"] == 25000
    assert [d["name"] for d in filing["defendants"]] == [SELLER]
    assert [p["period"] for p in filing["limitation"]] == ["2026-06"]

    async with sessions() as s:
        owners = dict(
            (
                await s.execute(
                    select(col(LedgerEntry.id), col(LedgerEntry.owner_id)).where(LedgerEntry.unit_id == sold.unit_id)
                )
            ).all()
        )
    snapshot = json.loads(files["ledger_snapshot.json"])["entries"]
    assert snapshot and {owners[e["id"]] for e in snapshot} == {sold.seller_id}
    assert not any(e["period"] in ("2026-09", "2026-10") for e in snapshot)
    manifest = json.loads(files["manifest.json"])
    assert manifest["owner_id"] == sold.seller_id and manifest["ledger_snapshot"]["entries"] == len(snapshot)

    texts = await texts_of(files, tmp_path)
    for name, text in texts.items():
        assert BUYER not in text and BUYER_ID_NUMBER not in text and BUYER_ADDRESS not in text, name
        assert "2026年09月" not in text and "2026年10月" not in text, name
    parties = texts["02_parties_and_basis.pdf"]
    assert SELLER in parties and "2020-01-01" in parties and "2026-07-31" in parties  # the seller's ownership

    # The buyer's pack, the other way round: the buyer's periods, never the seller's.
    buyer_files = await pack_of(api, sold, sold.buyer_id)
    buyer_filing = json.loads(buyer_files["filing.json"])
    assert [p["period"] for p in buyer_filing["claims"]["principal_by_period"]] == ["2026-09", "2026-10"]
    assert buyer_filing["claims"]["principal"]["fen"] == 50000 - 10000
    buyer_snapshot = json.loads(buyer_files["ledger_snapshot.json"])["entries"]
    assert {owners[e["id"]] for e in buyer_snapshot} == {sold.buyer_id}
    buyer_texts = await texts_of(buyer_files, tmp_path)
    assert all(SELLER_ID_NUMBER not in text and "2026年06月" not in text for text in buyer_texts.values())


async def test_a_demand_delivered_to_the_buyer_is_no_demand_on_the_seller(
    api: Api, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Reproduction: "the seller's evidence pack says 经原告催告 on the strength of a letter the seller
    never received"."""
    sold = await sold_unit(api)
    letter = await deliver_a_demand_to_the_buyer(api, sold, sessions)

    files = await pack_of(api, sold, sold.seller_id)
    filing = json.loads(files["filing.json"])
    facts = filing["facts_and_reasons"]
    assert "经原告催告" not in facts["text"] and facts["demands"] == []
    [june] = filing["limitation"]
    assert june["period"] == "2026-06" and june["interruptions"] == []  # the clock runs from the due date
    assert "demands/letters.pdf" not in files and not any(name.startswith("demands/proofs/") for name in files)
    texts = await texts_of(files, tmp_path)
    assert all(letter.letter_no not in text for text in texts.values())
    assert all(DELIVERED_ON not in text for text in texts.values())
    # What the record lacks is said so: there is no delivered demand to the seller.
    assert any("催告" in item for item in filing["to_be_supplied"])

    # The buyer's pack has the letter, its proof and the interruption of the buyer's periods.
    buyer_files = await pack_of(api, sold, sold.buyer_id)
    buyer_filing = json.loads(buyer_files["filing.json"])
    assert "经原告催告" in buyer_filing["facts_and_reasons"]["text"]
    assert [d["letter_no"] for d in buyer_filing["facts_and_reasons"]["demands"]] == [letter.letter_no]
    assert any(name.startswith("demands/proofs/") for name in buyer_files)
    for row in buyer_filing["limitation"]:
        assert [i["on"] for i in row["interruptions"]] == [DELIVERED_ON], row


async def test_the_address_for_service_is_the_owners_contact_address_never_the_sold_unit(
    api: Api, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Reproduction: "The seller's payment-order sheet gives the sold unit as the seller's address for service"."""
    sold = await sold_unit(api)
    unit = await api.ok(await api.get(f"/api/v1/units/{sold.unit_id}"))
    unit_number = str(unit["number"])

    # The seller has a phone but no contact address: no payment order, the address is to be supplied.
    files = await pack_of(api, sold, sold.seller_id)
    filing = json.loads(files["filing.json"])
    [defendant] = filing["defendants"]
    assert defendant["name"] == SELLER and not defendant["address"]
    order = filing["payment_order"]
    assert order["eligible"] is False and any("送达地址" in reason for reason in order["reasons"]), order
    assert any("送达地址" in item and SELLER in item for item in filing["to_be_supplied"])
    parties = (await texts_of(files, tmp_path))["02_parties_and_basis.pdf"]
    address_line = next(line for line in parties.splitlines() if "送达地址" in line)
    assert "待补充" in address_line and unit_number not in address_line

    # With the seller's contact address on record (the owner contact route is another helper's
    # part; here the record is written as that route would), the pack serves the seller there.
    async with sessions() as s:
        seller = await s.get(Owner, sold.seller_id)
        assert seller is not None
        seller.postal_address = SELLER_ADDRESS
        await s.commit()
    files = await pack_of(api, sold, sold.seller_id)
    filing = json.loads(files["filing.json"])
    assert filing["defendants"][0]["address"] == SELLER_ADDRESS
    # The address no longer stands in the way of a payment order; the missing demand does (issue 16:
    # it needs a demand delivered to the seller whose deadline has passed).
    order = filing["payment_order"]
    assert order["eligible"] is False, order
    assert order["reasons"] == ["记录中没有已送达被申请人的催缴文书，不能证明已催告"], order
    assert not any("送达地址" in item for item in filing["to_be_supplied"])
    parties = (await texts_of(files, tmp_path))["02_parties_and_basis.pdf"]
    assert SELLER_ADDRESS in parties

    # The buyer, the current owner, is served at the buyer's own contact address.
    buyer = json.loads((await pack_of(api, sold, sold.buyer_id))["filing.json"])
    assert buyer["defendants"][0]["address"] == BUYER_ADDRESS
    assert not any("送达地址" in reason for reason in buyer["payment_order"]["reasons"])


async def test_complaints_and_cases_of_the_other_owner_stay_out_of_the_pack(api: Api, tmp_path: Path) -> None:
    sold = await sold_unit(api)
    # The buyer complains after moving in; the complaint is the buyer's, not the seller's.
    await api.ok(
        await api.post(
            f"/api/v1/units/{sold.unit_id}/complaints",
            {"category": "elevator", "text": "买受人反映电梯停运", "opened_at": "2026-09-10T09:00:00+08:00"},
            Role.cashier,
        )
    )
    files = await pack_of(api, sold, sold.seller_id)
    filing = json.loads(files["filing.json"])
    assert not any("投诉尚未办结" in reason for reason in filing["payment_order"]["reasons"])
    service = (await texts_of(files, tmp_path))["05_service_record.pdf"]
    assert "买受人反映电梯停运" not in service

    buyer = await pack_of(api, sold, sold.buyer_id)
    buyer_filing = json.loads(buyer["filing.json"])
    assert any("投诉尚未办结" in reason for reason in buyer_filing["payment_order"]["reasons"])
    assert "买受人反映电梯停运" in (await texts_of(buyer, tmp_path))["05_service_record.pdf"]
