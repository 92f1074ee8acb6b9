"""At the sale (issue 15 item 3, DOMAIN.md "Change of owner", "Prepay discount").

Recording a transfer settles what belongs to whom in one transaction: the seller's prepaid periods
after the handover and the seller's unused credit are refunded to the seller (the discount of the
unserved periods taken back), or moved to the buyer's account when the seller's written consent is
recorded; the buyer gets the payment notice (缴费须知). A retry changes nothing. The settlement
certificate (物业费结清证明) states what the owner owes for their own periods, and never asks the
buyer to pay it.

The scenario is tests/sale_support.sold_unit: 100 m² at 2.50 元 (25,000 fen a month), the seller
owns since 2020, 2026-06 is billed, the buyer owns from 2026-08-01, 2026-09 and 2026-10 are billed.
Here the seller prepays 6 months (2026-07 to 2026-12, 5 % off) on 2026-06-01, before 2026-06 is due.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import open_debits, open_entries
from feesvc.letters.compliance import check_pdf
from feesvc.letters.models import Letter
from feesvc.payments.models import Method
from feesvc.prepay import service as prepay
from feesvc.prepay.schemas import PrepaymentCreate, QuoteCreate
from feesvc.sales.models import SettlementCertificate
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, Estate, problem
from tests.test_receipt import compact, pdf_text

MONTHLY = 25000
TIERS = [{"min_months": 6, "percent_off": "5"}, {"min_months": 12, "percent_off": "10"}]
CONSENT = {"reference": "卖方书面同意书（2026-07-28，第3号）", "signed_on": "2026-07-28"}


async def prepay_six_months(api: Api, estate: Estate, unit_id: int) -> None:
    """The seller prepays 2026-07 … 2026-12 on 2026-06-01 (2026-06 is billed, not yet overdue)."""
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", TIERS))
    day = date(2026, 6, 1)
    async with api.sessions() as s:
        quote = await prepay.quote_for_unit(s, COMMAND_LINE, unit_id, QuoteCreate(months=6), day)
    assert (quote.first_period, quote.gross_fen, quote.discount_fen) == ("2026-07", 6 * MONTHLY, 7500)
    async with api.sessions() as s:
        data = PrepaymentCreate(months=6, method=Method.wechat, expected_net_fen=quote.net_fen)
        await prepay.record_prepayment(s, COMMAND_LINE, unit_id, data, uuid.uuid4().hex, day)


async def pay(api: Api, unit_id: int, amount: int, received_on: str) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "cash", "received_on": received_on}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=headers))


async def overpays_june(api: Api, estate: Estate, unit_id: int) -> None:
    """The seller pays 30,000 fen on 2026-06-10: 2026-06 and 5,000 fen of prepaid credit."""
    await pay(api, unit_id, 30000, "2026-06-10")


async def pays_june(api: Api, estate: Estate, unit_id: int) -> None:
    await pay(api, unit_id, MONTHLY, "2026-06-10")


async def entries(api: Api, unit_id: int, *where: Any) -> list[LedgerEntry]:
    async with api.sessions() as s:
        query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id, *where).order_by(col(LedgerEntry.id))
        return list((await s.execute(query)).scalars())


async def open_by_owner(api: Api, unit_id: int) -> dict[tuple[str, int | None], int]:
    """What is open on the unit's charges per (period, owner)."""
    async with api.sessions() as s:
        debits = await open_debits(s, unit_id)
    out: dict[tuple[str, int | None], int] = {}
    for d in debits:
        if d.open_fen:
            out[(d.period or "", d.owner_id)] = out.get((d.period or "", d.owner_id), 0) + d.open_fen
    return out


async def credit_by_owner(api: Api, unit_id: int) -> dict[int | None, int]:
    async with api.sessions() as s:
        credits = await open_entries(s, unit_id, frozenset({EntryKind.prepaid_credit}))
    out: dict[int | None, int] = {}
    for credit, open_fen in credits:
        if open_fen:
            out[credit.owner_id] = out.get(credit.owner_id, 0) - open_fen
    return out


async def test_without_consent_the_sellers_unserved_prepaid_periods_are_refunded_to_the_seller(api: Api) -> None:
    sold = await sold_unit(api, before_sale=prepay_six_months)
    settled = sold.transfer["settlement"]
    # 2026-08 … 2026-12 were prepaid by the seller and are the buyer's: their 5 × 23,750 fen come back,
    # less the kept 2026-07's discount (1 month earns no tier: 1,250 fen taken back).
    assert settled["seller_id"] == sold.seller_id and settled["buyer_id"] == sold.buyer_id
    assert settled["handover"] == "2026-08-01"
    assert settled["periods"] == ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
    assert settled["charges_reversed_fen"] == 5 * MONTHLY
    assert settled["discount_taken_back_fen"] == 7500
    assert settled["refunded_fen"] == 5 * 23750 - 1250 == 117500
    assert settled["transferred_fen"] == 0 and settled["consent"] is None
    assert settled["owed_fen"] == 0

    refunds = await entries(api, sold.unit_id, LedgerEntry.kind == EntryKind.refund)
    assert sum(r.amount_fen for r in refunds) == 117500
    assert {r.owner_id for r in refunds} == {sold.seller_id}
    assert all("过户" in (r.reason or "") and r.actor for r in refunds)
    # The seller still owes 2026-06; the buyer's periods are billed to the buyer (not paid by the seller's money).
    assert await open_by_owner(api, sold.unit_id) == {
        ("2026-06", sold.seller_id): MONTHLY,
        ("2026-09", sold.buyer_id): MONTHLY,
        ("2026-10", sold.buyer_id): MONTHLY,
    }
    assert await credit_by_owner(api, sold.unit_id) == {}


async def test_with_the_sellers_written_consent_the_prepaid_periods_go_to_the_buyers_account(api: Api) -> None:
    sold = await sold_unit(api, before_sale=prepay_six_months, transfer={"seller_consent": CONSENT})
    settled = sold.transfer["settlement"]
    assert settled["consent"] == CONSENT
    assert settled["refunded_fen"] == 0 and settled["transferred_fen"] == 117500
    assert settled["discount_taken_back_fen"] == 7500  # sold before served: the discount goes either way

    moved = await entries(api, sold.unit_id, col(LedgerEntry.reason).contains(CONSENT["reference"]))
    by_owner = {e.owner_id: e for e in moved}
    assert set(by_owner) == {sold.seller_id, sold.buyer_id}
    assert by_owner[sold.seller_id].amount_fen == 117500  # the seller's credit used up …
    assert by_owner[sold.buyer_id].kind == EntryKind.prepaid_credit and by_owner[sold.buyer_id].amount_fen == -117500
    assert await entries(api, sold.unit_id, LedgerEntry.kind == EntryKind.refund) == []
    # … and the buyer's credit paid the buyer's 2026-09 and 2026-10 as they were billed; the seller's
    # 2026-06 is not touched by it.
    assert await open_by_owner(api, sold.unit_id) == {("2026-06", sold.seller_id): MONTHLY}
    assert await credit_by_owner(api, sold.unit_id) == {sold.buyer_id: 117500 - 2 * MONTHLY}


async def test_the_sellers_unused_credit_is_refunded_or_transferred(api: Api) -> None:
    refunded = await sold_unit(api, before_sale=overpays_june)
    assert refunded.transfer["settlement"]["credit_fen"] == 5000
    assert refunded.transfer["settlement"]["refunded_fen"] == 5000
    assert refunded.transfer["settlement"]["periods"] == []
    [refund] = await entries(api, refunded.unit_id, LedgerEntry.kind == EntryKind.refund)
    assert (refund.owner_id, refund.amount_fen) == (refunded.seller_id, 5000)
    assert await credit_by_owner(api, refunded.unit_id) == {}

    moved = await sold_unit(api, before_sale=overpays_june, transfer={"seller_consent": CONSENT})
    assert moved.transfer["settlement"]["transferred_fen"] == 5000
    # The buyer's 5,000 fen went to 2026-09 when it was billed.
    assert await open_by_owner(api, moved.unit_id) == {
        ("2026-09", moved.buyer_id): MONTHLY - 5000,
        ("2026-10", moved.buyer_id): MONTHLY,
    }


async def test_retrying_the_same_transfer_changes_nothing(api: Api) -> None:
    sold = await sold_unit(api, before_sale=prepay_six_months, billed_after=())
    body = {"owner_id": sold.buyer_id, "starts_on": sold.handover}
    counts = (await _count(api, LedgerEntry, sold.unit_id), await _count(api, Letter, sold.unit_id))
    again = await api.post(f"/api/v1/units/{sold.unit_id}/ownerships", body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == sold.transfer
    assert (await _count(api, LedgerEntry, sold.unit_id), await _count(api, Letter, sold.unit_id)) == counts
    # The same transfer told differently (now with consent) is refused: it was settled already.
    problem(
        await api.post(f"/api/v1/units/{sold.unit_id}/ownerships", {**body, "seller_consent": CONSENT}),
        409,
        "seller_consent",
    )
    history = await api.ok(await api.get(f"/api/v1/units/{sold.unit_id}/ownerships"))
    assert [o["owner_id"] for o in history] == [sold.seller_id, sold.buyer_id]


async def _count(api: Api, model: Any, unit_id: int) -> int:
    async with api.sessions() as s:
        return int((await s.execute(select(func.count()).where(model.unit_id == unit_id))).scalar_one())


async def test_the_buyer_receives_the_payment_notice(api: Api, tmp_path: Path) -> None:
    sold = await sold_unit(api, before_sale=prepay_six_months)
    letter_id = sold.transfer["settlement"]["notice_letter_id"]
    listed = await api.ok(await api.get(f"/api/v1/units/{sold.unit_id}/letters", sold.buyer_token))
    [notice] = [x for x in listed if x["id"] == letter_id]
    assert notice["kind"] == "payment_notice" and notice["issued_on"]
    async with api.sessions() as s:
        letter = await s.get(Letter, letter_id)
        assert letter is not None and letter.owner_id == sold.buyer_id
    response = await api.get(f"/api/v1/letters/{letter_id}/letter.pdf", sold.buyer_token)
    assert response.status_code == 200
    text = compact(pdf_text(response.content, tmp_path, "notice.pdf"))
    assert "缴费须知" in text and "买受人王五" in text and "上海市徐汇区买家路9号" in text
    assert "业主0" not in text  # the seller is not named
    # When billing starts for the buyer, the fee standard and its posting, how to pay, the prepay offer.
    assert "2026年8月1日" in text
    assert "2.50" in text and "前期物业服务合同第5条" in text and "2020年1月1日" in text
    assert "物业服务中心" in text
    assert "预缴6个月" in text and "九五折" in text
    path = tmp_path / "notice.pdf"
    path.write_bytes(response.content)
    assert check_pdf(path) == []


async def test_the_settlement_certificate_lists_what_the_seller_owes_and_never_the_buyer(
    api: Api, tmp_path: Path
) -> None:
    sold = await sold_unit(api)
    url = f"/api/v1/units/{sold.unit_id}/settlement-certificate"
    response = await api.get(url, params={"owner_id": sold.seller_id})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = compact(pdf_text(response.content, tmp_path, "certificate.pdf"))
    assert "业主0" in text and "买受人王五" not in text
    assert "2026年7月31日" in text  # the seller's last day (the day before the handover)
    assert "2026年6月" in text and "¥250.00" in text and "2026年9月" not in text
    # The seller's debt is the seller's: the buyer is not asked to pay it.
    assert "受让人不承担" in text
    path = tmp_path / "certificate.pdf"
    path.write_bytes(response.content)
    assert check_pdf(path) == []

    # Kept as issued: the bytes and their hash; asking again (nothing changed) gives the same one.
    number = response.headers["X-Certificate-No"]
    async with api.sessions() as s:
        [kept] = (
            await s.execute(select(SettlementCertificate).where(SettlementCertificate.unit_id == sold.unit_id))
        ).scalars()
    assert kept.certificate_no == number and kept.sha256 == hashlib.sha256(response.content).hexdigest()
    assert (await api.get(url, params={"owner_id": sold.seller_id})).content == response.content
    stored = await api.get(f"/api/v1/settlement-certificates/{kept.id}/certificate.pdf")
    assert stored.status_code == 200 and stored.content == response.content

    # The buyer's own: 2026-09 and 2026-10, nothing of the seller's.
    buyer = await api.get(url, params={"owner_id": sold.buyer_id, "as_of": "2026-10-31"})
    text = compact(pdf_text(buyer.content, tmp_path, "buyer.pdf"))
    assert "买受人王五" in text and "业主0" not in text
    assert "2026年9月" in text and "2026年10月" in text and "2026年6月" not in text

    # Managers only; an owner of another unit is refused naming the field.
    problem(await api.get(url, Role.cashier, params={"owner_id": sold.seller_id}), 403)
    problem(await api.get(url, sold.seller_token, params={"owner_id": sold.seller_id}), 403)
    other = await api.ok(await api.post("/api/v1/owners", {"name": "路人甲"}))
    problem(await api.get(url, params={"owner_id": other["id"]}), 422, "owner_id")


async def test_an_owner_who_owes_nothing_gets_a_clean_certificate(api: Api, tmp_path: Path) -> None:
    sold: SoldUnit = await sold_unit(api, before_sale=pays_june)
    response = await api.get(
        f"/api/v1/units/{sold.unit_id}/settlement-certificate", params={"owner_id": sold.seller_id}
    )
    text = compact(pdf_text(response.content, tmp_path, "clean.pdf"))
    assert "物业费结清证明" in text and "已全部结清" in text and "2026年7月31日" in text
    assert "¥250.00" not in text


# Handover 2026-08-16 in a 31-day month: the seller's 15 days are 25,000 × 15 / 31 = 12,096.77 →
# 12,097 fen (half up); the buyer, the last owner, takes the rest: 12,903 fen.
SELLERS_AUGUST, BUYERS_AUGUST = 12097, 12903


async def test_a_sale_in_the_middle_of_a_prepaid_period_splits_it_between_the_owners(
    api: Api, tmp_path: Path
) -> None:
    """Handover 2026-08-16: the seller's prepaid 2026-08 is taken back with the later periods (it is
    not served whole to the seller) and issued again as the owners' shares; the seller's 15 days are
    paid at once from what the seller paid (at the full rate: the discount was for whole periods
    prepaid), the buyer's 16 days are the buyer's to pay; only the rest is refunded."""
    sold = await sold_unit(api, handover="2026-08-16", before_sale=prepay_six_months)
    settled = sold.transfer["settlement"]
    assert settled["periods"] == ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
    assert settled["charges_reversed_fen"] == 5 * MONTHLY
    # The whole discount goes with the periods taken back; the kept 2026-07 (1 month) earns no tier.
    assert settled["discount_taken_back_fen"] == 7500
    split = settled["split_period"]
    assert split["period"] == "2026-08"
    assert split["shares"] == [
        {"owner_id": sold.seller_id, "fen": SELLERS_AUGUST, "days": 15},
        {"owner_id": sold.buyer_id, "fen": BUYERS_AUGUST, "days": 16},
    ]
    assert split["paid_by_seller_fen"] == SELLERS_AUGUST
    assert settled["refunded_fen"] == 5 * 23750 - 1250 - SELLERS_AUGUST
    assert settled["owed_fen"] == 0
    assert await open_by_owner(api, sold.unit_id) == {
        ("2026-06", sold.seller_id): MONTHLY,
        ("2026-08", sold.buyer_id): BUYERS_AUGUST,
        ("2026-09", sold.buyer_id): MONTHLY,
        ("2026-10", sold.buyer_id): MONTHLY,
    }
    assert await credit_by_owner(api, sold.unit_id) == {}
    # The shares state their days and the rounding, as a billing run's split charge does.
    august = await entries(api, sold.unit_id, LedgerEntry.kind == EntryKind.charge, LedgerEntry.period == "2026-08")
    standing = [c for c in august if c.owner_id is not None and (c.detail or {}).get("owner_days")]
    assert sorted(((c.detail or {})["owner_days"], c.amount_fen) for c in standing) == [
        (15, SELLERS_AUGUST),
        (16, BUYERS_AUGUST),
    ]
    # Issued at the sale (recorded after the handover), both shares fall due no earlier than that
    # day: the period stood paid until then, so nobody is late for it before.
    recorded = max(c.effective_date for c in standing)
    assert all(c.due_date and c.due_date >= recorded for c in standing)
    assert all(c.due_date and c.due_date >= date(2026, 8, 16) for c in standing if c.owner_id == sold.buyer_id)
    # The buyer's payment notice says so: those 16 days, their amount and when they fall due.
    async with api.sessions() as s:
        notice = await s.get(Letter, settled["notice_letter_id"])
    assert notice is not None
    notice_pdf = await api.get(f"/api/v1/letters/{notice.id}/letter.pdf")
    notice_text = compact(pdf_text(notice_pdf.content, tmp_path, "notice.pdf"))
    assert "交房当期" in notice_text and "共16天" in notice_text and "¥129.03" in notice_text, notice_text
    # So a late-fee run on the day of the sale finds nothing late on 2026-08 for either owner.
    run = {"estate_id": sold.estate.id, "as_of": recorded.isoformat()}
    await api.ok(await api.post("/api/v1/late-fee-runs", run), 200)
    fees = await entries(api, sold.unit_id, LedgerEntry.kind == EntryKind.late_fee)
    august_ids = {c.id for c in standing}
    assert not [f for f in fees if f.basis_entry_id in august_ids]


async def test_a_mid_period_sale_with_the_sellers_consent_moves_only_what_the_seller_did_not_use(api: Api) -> None:
    sold = await sold_unit(
        api, handover="2026-08-16", before_sale=prepay_six_months, transfer={"seller_consent": CONSENT}
    )
    settled = sold.transfer["settlement"]
    assert settled["split_period"]["paid_by_seller_fen"] == SELLERS_AUGUST
    assert settled["refunded_fen"] == 0
    assert settled["transferred_fen"] == 5 * 23750 - 1250 - SELLERS_AUGUST
    # The moved credit is the buyer's: the runs billing 2026-09 and 2026-10 used it on the buyer's
    # own periods, the buyer's share of 2026-08 first; the seller's 2026-06 is still the seller's.
    left = settled["transferred_fen"] - BUYERS_AUGUST - 2 * MONTHLY
    assert await credit_by_owner(api, sold.unit_id) == {sold.buyer_id: left}
    assert await open_by_owner(api, sold.unit_id) == {("2026-06", sold.seller_id): MONTHLY}


async def test_a_mid_period_sale_on_a_period_prepaid_last_still_reprices_the_kept_periods(api: Api) -> None:
    """Prepaid 2026-07 … 2026-12, handed over 2026-12-16: only the split 2026-12 is taken back; the
    five whole months kept no longer reach the 6-month tier, so their discount is taken back too."""
    sold = await sold_unit(api, handover="2026-12-16", before_sale=prepay_six_months, billed_after=())
    settled = sold.transfer["settlement"]
    assert settled["periods"] == ["2026-12"]
    assert settled["discount_taken_back_fen"] == 7500
    sellers_december = 25000 * 15 // 31 + (1 if 25000 * 15 % 31 * 2 >= 31 else 0)
    assert settled["split_period"]["shares"][0] == {"owner_id": sold.seller_id, "fen": sellers_december, "days": 15}
    # Paid for 2026-12: 23,750; the kept five lose 5 × 1,250; the seller's 15 days of December.
    assert settled["refunded_fen"] == 23750 - 5 * 1250 - sellers_december
    assert await credit_by_owner(api, sold.unit_id) == {}


async def test_two_identical_transfers_at_once_settle_once(api: Api) -> None:
    sold = await sold_unit(api, before_sale=overpays_june, billed_after=())
    another = await api.ok(await api.post("/api/v1/owners", {"name": "第二买家"}))
    body = {"owner_id": another["id"], "starts_on": "2026-11-01"}
    answers = await api.post_at_once(f"/api/v1/units/{sold.unit_id}/ownerships", [body, body], Role.manager, [{}, {}])
    assert [a.status_code for a in answers] == [201, 201]
    assert sorted(a.headers["Idempotent-Replayed"] for a in answers) == ["false", "true"]
    assert answers[0].json() == answers[1].json()
    async with api.sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.unit_id == sold.unit_id))).scalars().all()
    assert sorted(x.owner_id for x in letters) == sorted([sold.buyer_id, another["id"]])


async def test_the_certificate_speaks_the_estates_language(api: Api, tmp_path: Path) -> None:
    """zh_TW and English estates get the certificate in their language, with the same facts: the
    seller's June owed by the seller alone, never asked of the buyer."""
    expected = {
        "zh_TW": ("物業費欠費情況說明", "受讓人不承擔", "2026年7月31日"),
        "en": ("Statement of Property Fees Outstanding", "the buyer of the home does not answer for them", "2026"),
    }
    for locale, (title, not_the_buyers, last_day) in expected.items():
        sold = await sold_unit(api, settings={"locale": locale})
        response = await api.get(
            f"/api/v1/units/{sold.unit_id}/settlement-certificate", params={"owner_id": sold.seller_id}
        )
        raw = pdf_text(response.content, tmp_path, f"certificate-{locale}.pdf")
        text = compact(raw) if locale != "en" else " ".join(raw.split())
        assert title in text and not_the_buyers in text and last_day in text, text
        assert "买受人王五" not in text
        if locale == "zh_TW":  # Traditional throughout: the record's names too, and money as the estate writes it
            assert "物業服務費" in text and "物业" not in text and "业主" not in text and "CN¥" not in text
        path = tmp_path / f"certificate-{locale}.pdf"
        path.write_bytes(response.content)
        assert check_pdf(path) == []


async def test_the_payment_notice_names_the_buyers_share_of_the_handovers_period(api: Api, tmp_path: Path) -> None:
    """2026-08 was billed whole to the seller before the sale of 2026-08-16 was recorded: the
    transfer issues the buyer's 16 days, and the buyer's notice names them, with their due date.
    A handover on a period's first day has no such share, and the notice says nothing of it."""
    expected = (("zh_CN", ("交房当期", "共16天", "¥129.03")), ("en", ("Your first days", "16 days", "129.03")))
    for locale, words in expected:
        sold = await sold_unit(
            api, handover="2026-08-16", billed_before=("2026-06", "2026-08"), settings={"locale": locale}
        )
        letter_id = sold.transfer["settlement"]["notice_letter_id"]
        pdf = (await api.get(f"/api/v1/letters/{letter_id}/letter.pdf")).content
        raw = pdf_text(pdf, tmp_path, f"notice-{locale}.pdf")
        text = compact(raw) if locale != "en" else " ".join(raw.split())
        assert all(word in text for word in words), text
        # Recorded after the handover, the share fell due before the notice: it says so, not "pay by" a past day.
        assert ("已于2026年8月16日到期" in text) if locale == "zh_CN" else ("fell due on 16 August 2026" in text), text
    whole = await sold_unit(api, billed_before=("2026-06", "2026-07"))
    letter_id = whole.transfer["settlement"]["notice_letter_id"]
    text = compact(pdf_text((await api.get(f"/api/v1/letters/{letter_id}/letter.pdf")).content, tmp_path, "whole.pdf"))
    assert "交房当期" not in text
