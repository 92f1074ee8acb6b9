"""The printed receipt (收款收据) and the shared PDF renderer, checked on the PDF itself."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.models import Role
from feesvc.documents.render import render_html, write_pdf_many
from feesvc.formatting import amount_in_chinese_capitals
from feesvc.ledger.models import EntryKind
from feesvc.payments.models import Method
from feesvc.payments.receipt import _item_name, _lines, _Settled, cashier_name, receipt_context, receipt_pdf
from feesvc.payments.schemas import AllocationOut, PaymentOut
from tests.support import Api


async def pay(api: Api, unit_id: int, amount: int, **extra: Any) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "wechat", **extra}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=headers), 201)


async def billed_unit(api: Api, months: list[str], **settings: Any) -> int:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings=settings or None)
    for month in months:
        await api.bill(estate.id, month, f"{month}-01")
    return estate.unit_ids[0]


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "receipt.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdf_raw_text(pdf: bytes, tmp_path: Path) -> str:
    """The text in the order it was drawn: the void mark's rotated letters stay together (in the
    layout text they land wherever their slant puts them)."""
    path = tmp_path / "raw.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True, text=True).stdout


def compact(text: str) -> str:
    """Layout text without whitespace: letter-spaced titles and table columns come out spaced."""
    return re.sub(r"\s+", "", text)


def pdf_tool(tool: str, pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"{tool}.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout


async def test_receipt_shows_the_payment_with_credit(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    unit = await billed_unit(api, ["2026-01", "2026-02"])
    # 200 元 a month for two months, and 100 元 beyond that into prepaid credit.
    payment = await pay(api, unit, 50000, payer_name="张三", external_ref="WX4200001234202601150012")
    assert payment["prepaid_credit_fen"] == 10000

    pdf = await receipt_pdf(session, payment["id"])

    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    assert payment["receipt_number"] in text
    assert "收款收据" in flat
    assert "1栋101" in flat
    assert "2026年1月" in text and "2026年2月" in text
    assert "¥200.00" in text and "¥100.00" in text and "¥500.00" in text
    assert amount_in_chinese_capitals(50000) in flat  # 伍佰元整
    assert "大写" in flat
    assert "物业服务费" in flat and "预存物业费" in flat
    assert "微信" in text and "WX4200001234202601150012" in text
    assert "张三" in text
    assert "test-cashier" in text
    assert "扣回" in flat  # DOMAIN "Prepay discount": the take-back is stated on the receipt
    assert "作废" not in flat and "VOID" not in text
    # Receipt lines and total: the amount column adds up.
    amounts = [int(a.replace(".", "").replace(",", "")) for a in re.findall(r"¥([\d,]+\.\d\d)", text)]
    assert sum(amounts[:-1]) == amounts[-1] == 50000


async def test_receipt_fonts_are_embedded_cjk_without_type3(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    unit = await billed_unit(api, ["2026-01"])
    payment = await pay(api, unit, 20000)
    pdf = await receipt_pdf(session, payment["id"])

    rows = pdf_tool("pdffonts", pdf, tmp_path).splitlines()[2:]
    assert rows, "no fonts in the PDF"
    assert all("Noto-Sans-CJK-SC" in row for row in rows), rows
    assert not any("Type 3" in row for row in rows), rows
    # Columns: name, type, encoding, emb, sub, uni, object id: every font embedded, subset, with ToUnicode.
    assert all(row.split()[-5:-2] == ["yes", "yes", "yes"] for row in rows), rows
    info = pdf_tool("pdfinfo", pdf, tmp_path)
    assert re.search(r"Pages:\s+1\n", info)
    assert "595.276 x 419.528 pts" in info  # A5 landscape


async def test_voided_payment_prints_void_with_reason(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    unit = await billed_unit(api, ["2026-01"])
    payment = await pay(api, unit, 20000, method="cash")
    await api.ok(await api.post(f"/api/v1/payments/{payment['id']}/void", {"reason": "收错户，已退回"}), 200)

    pdf = await receipt_pdf(session, payment["id"])
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    assert "作废" in compact(pdf_raw_text(pdf, tmp_path)) and "VOID" in compact(pdf_raw_text(pdf, tmp_path))
    assert "收错户，已退回" in flat
    assert payment["receipt_number"] in text  # the number stays on the voided receipt
    assert "现金" in text
    assert "扣回" not in flat  # no credit, no prepay note


async def test_quarterly_charge_prints_its_months_and_owner_as_payer(
    api: Api, session: AsyncSession, tmp_path: Path
) -> None:
    unit = await billed_unit(api, ["2026-01"], cycle_months=3)
    payment = await pay(api, unit, 60000, method="alipay")  # no payer name given

    context = await receipt_context(session, payment["id"])
    assert context["payer"] == "业主0"  # the owner on the day of payment
    assert context["lines"] == [
        {"name": "物业服务费", "period": "2026-01", "period_end": "2026-03", "amount_fen": 60000}
    ]
    flat = compact(pdf_text(await receipt_pdf(session, payment["id"]), tmp_path))
    assert "2026年1月至2026年3月" in flat
    assert "支付宝" in flat and "业主0" in flat


async def test_traditional_chinese_estate(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    unit = await billed_unit(api, ["2026-01"], locale="zh_TW")
    payment = await pay(api, unit, 23456, method="bank_transfer")

    pdf = await receipt_pdf(session, payment["id"])
    flat = compact(pdf_text(pdf, tmp_path))
    assert "收款收據" in flat and "銀行轉帳" in flat
    assert "CN¥234.56" in flat  # outside the mainland a bare ¥ reads as yen
    assert amount_in_chinese_capitals(23456, traditional=True) in flat  # 貳佰參拾肆元伍角陸分
    assert "第1頁共1頁" in flat
    assert "Noto-Sans-CJK-TC" in pdf_tool("pdffonts", pdf, tmp_path)


async def test_english_estate_prints_late_fees_per_period_and_page_numbers(
    api: Api, session: AsyncSession, tmp_path: Path
) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="80.00", settings={**LATE_FEES, "locale": "en"})
    for period in ("2026-01", "2026-02"):
        await api.bill(estate.id, period, f"{period}-01")
    for as_of in ("2026-02-28", "2026-03-31"):
        await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": as_of}), 200)
    payment = await pay(api, estate.unit_ids[0], 40000, received_on="2026-04-01")

    pdf = await receipt_pdf(session, payment["id"])
    assert page_count(pdf, tmp_path) == 1
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    assert "Receipt" in text and "Page1of1" in flat and "WeChatPay" in flat
    # Two runs posted two late fees on each charge: one "Late fee" line per month.
    assert len(re.findall(r"Late fee\s+January 2026", text)) == 1
    assert len(re.findall(r"Late fee\s+February 2026", text)) == 1
    amounts = fen_amounts(text)
    assert sum(amounts[:-1]) == amounts[-1] == 40000


async def test_write_pdf_many_makes_one_file(api: Api, session: AsyncSession, tmp_path: Path) -> None:
    unit = await billed_unit(api, ["2026-01"])
    payment = await pay(api, unit, 20000)
    context = await receipt_context(session, payment["id"])
    numbers = [f"2026-{n:06d}" for n in (901, 902, 903)]

    write_pdf_many((("receipt.html", {**context, "receipt_number": n}) for n in numbers), tmp_path / "receipts.pdf")
    pdf = (tmp_path / "receipts.pdf").read_bytes()

    assert re.search(r"Pages:\s+3\n", pdf_tool("pdfinfo", pdf, tmp_path))
    text = pdf_text(pdf, tmp_path)
    assert [page for page in text.split("\f") if page.strip()] and all(n in text for n in numbers)
    # One font program per face for the whole file, not one per document.
    assert len(pdf_tool("pdffonts", pdf, tmp_path).splitlines()[2:]) == 2


def test_write_pdf_many_needs_a_document(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_pdf_many([], tmp_path / "none.pdf")


async def test_template_escapes_and_refuses_missing_values(api: Api, session: AsyncSession) -> None:
    unit = await billed_unit(api, ["2026-01"])
    payment = await pay(api, unit, 20000, payer_name="<b>王</b>")
    context = await receipt_context(session, payment["id"])

    html = render_html("receipt.html", context)
    assert "&lt;b&gt;王&lt;/b&gt;" in html and "<b>王</b>" not in html
    assert '<html lang="zh-CN">' in html and 'href="base.css"' in html
    with pytest.raises(UndefinedError):
        render_html("receipt.html", {k: v for k, v in context.items() if k != "payer"})


def test_item_name_fallbacks_andcashier_name() -> None:
    def allocation(kind: EntryKind, item: str | None) -> AllocationOut:
        return AllocationOut(entry_id=1, kind=kind, period="2026-01", item=item, amount_fen=100)

    assert _item_name(allocation(EntryKind.charge, "parking"), None, "zh_Hans") == "车位管理费"
    assert _item_name(allocation(EntryKind.charge, "garbage"), None, "zh_Hant") == "垃圾處理費"
    assert _item_name(allocation(EntryKind.late_fee, "service_fee"), None, "zh_Hans") == "违约金"
    assert _item_name(allocation(EntryKind.charge, "elevator"), None, "zh_Hans") == "elevator"
    assert _item_name(allocation(EntryKind.charge, None), None, "zh_Hans") == "其他费用"
    assert cashier_name("cashier:王芳#12") == "王芳"
    assert cashier_name("system:cli") == "cli"
    assert cashier_name("cashier:A#B") == "A#B"


async def test_receipt_route_serves_the_pdf_to_the_desk(api: Api) -> None:
    unit = await billed_unit(api, ["2026-01"])
    payment = await pay(api, unit, 20000)
    url = f"/api/v1/payments/{payment['id']}/receipt.pdf"

    response = await api.get(url, Role.cashier)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    filename = f"receipt-{payment['receipt_number']}.pdf"
    assert response.headers["content-disposition"] == f'inline; filename="{filename}"'
    assert response.content.startswith(b"%PDF")
    assert (await api.get("/api/v1/payments/999999999/receipt.pdf", Role.cashier)).status_code == 404
    assert (await api.client.get(url)).status_code == 401


def page_count(pdf: bytes, tmp_path: Path) -> int:
    match = re.search(r"Pages:\s+(\d+)\n", pdf_tool("pdfinfo", pdf, tmp_path))
    assert match, "pdfinfo gave no page count"
    return int(match.group(1))


def pages_of(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's layout text (pdftotext ends every page with a form feed)."""
    return [page for page in pdf_text(pdf, tmp_path).split("\f") if page.strip()]


LATE_FEES = {"due_day": 15, "grace_days": 0, "late_fee_daily_rate": "0.0003"}


async def long_arrears_unit(api: Api, months: int, runs_through: str) -> tuple[int, int]:
    """A unit billed ¥160 a month from 2024-01 for ``months`` months and never paid, with a late-fee
    run at every month end from 2024-01 to ``runs_through`` (YYYY-MM): one late-fee entry per
    charge per run, about ¥1.44 each. Returns the estate and the unit."""
    estate = await api.make_estate(units=1, rate="2.00", area="80.00", settings=LATE_FEES)
    periods = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    for period in periods:
        await api.bill(estate.id, period, f"{period}-01")
    year, month = 2024, 1
    while f"{year}-{month:02d}" <= runs_through:
        last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).isoformat()
        run = {"estate_id": estate.id, "as_of": last_day}
        await api.ok(await api.post("/api/v1/late-fee-runs", run), 200)
        year, month = year + month // 12, month % 12 + 1
    return estate.id, estate.unit_ids[0]


def fen_amounts(text: str) -> list[int]:
    return [int(a.replace(".", "").replace(",", "")) for a in re.findall(r"¥([\d,]+\.\d\d)", text)]


async def test_long_arrears_receipt_sums_late_fees_per_period_on_one_page(
    api: Api, session: AsyncSession, tmp_path: Path
) -> None:
    """Issue 14: a ¥1,000 receipt on a unit with long arrears ran to 11 A5 pages of ¥1.4x
    late-fee lines, one per month-end run."""
    _, unit = await long_arrears_unit(api, months=6, runs_through="2026-06")
    payment = await pay(api, unit, 100000, received_on="2026-07-01", payer_name="李四")

    late = [a for a in payment["allocations"] if a["kind"] == "late_fee"]
    per_period: dict[str, int] = {}
    for allocation in late:
        per_period[allocation["period"]] = per_period.get(allocation["period"], 0) + allocation["amount_fen"]
    entries_per_period = {p: sum(1 for a in late if a["period"] == p) for p in per_period}
    assert len(per_period) >= 4 and min(entries_per_period.values()) >= 24, entries_per_period
    assert max(a["amount_fen"] for a in late) < 150  # ¥1.4x at most each: the reproduction

    pdf = await receipt_pdf(session, payment["id"])
    assert page_count(pdf, tmp_path) == 1
    text = pdf_text(pdf, tmp_path)
    flat = compact(text)
    # One late-fee line per period, its amount the period's late fees summed.
    assert flat.count("违约金") == len(per_period)
    context = await receipt_context(session, payment["id"])
    fee_lines = {line["period"]: line["amount_fen"] for line in context["lines"] if line["name"] == "违约金"}
    assert fee_lines == per_period
    charges = [a for a in payment["allocations"] if a["kind"] == "charge"]
    assert [line["period"] for line in context["lines"]] == sorted([a["period"] for a in charges] + list(per_period))
    # Lines and total add up; the total in capitals, the footer and the page number are all there.
    amounts = fen_amounts(text)
    assert sum(amounts[:-1]) == amounts[-1] == 100000
    assert amount_in_chinese_capitals(100000) in flat  # 壹仟元整
    assert "微信" in flat and "收款人" in flat and "收款单位（盖章）" in flat and "李四" in flat
    assert "第1页共1页" in flat


async def test_a_payment_settling_years_continues_with_the_footer_on_the_last_page(
    api: Api, session: AsyncSession, tmp_path: Path
) -> None:
    months = 48
    estate = await api.make_estate(
        units=1, rate="2.00", area="80.00", effective_from="2022-01-01", owners_from="2022-01-01"
    )
    periods = [f"{2022 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    for period in periods:
        await api.bill(estate.id, period, f"{period}-01")
    payment = await pay(api, estate.unit_ids[0], months * 16000 + 5000, method="cash", received_on="2026-01-05")
    assert payment["prepaid_credit_fen"] == 5000

    pdf = await receipt_pdf(session, payment["id"])
    pages = pages_of(pdf, tmp_path)
    total = page_count(pdf, tmp_path)
    assert total == len(pages) > 1
    flats = [compact(page) for page in pages]
    for number, flat in enumerate(flats, start=1):
        assert f"第{number}页共{total}页" in flat
        assert payment["receipt_number"] in flat  # every page says which receipt it belongs to
        assert "收费项目" in flat and "所属期间" in flat  # the table's head repeats
    # The total, the payment method, the cashier and the stamp area: on the last page only.
    for word in ("合计人民币（大写）", "付款方式", "收款人", "收款单位（盖章）", "涂改无效"):
        assert [word in flat for flat in flats] == [False] * (total - 1) + [True], word
    # Every month once, in order, then the prepaid credit; the amounts add up across pages.
    whole = "".join(flats)
    labels = [f"{int(p[:4])}年{int(p[5:])}月" for p in periods]
    assert all(whole.count(label) == 1 for label in labels)
    assert [whole.index(label) for label in labels] == sorted(whole.index(label) for label in labels)
    assert "预存物业费" in flats[-1]
    amounts = fen_amounts("\n".join(pages))
    assert sum(amounts[:-1]) == amounts[-1] == months * 16000 + 5000
    assert amounts.count(16000) == months


def test_lines_group_items_per_period_and_sum_each_periods_late_fees() -> None:
    """Charges of one item and period add up, a period's late fees (of every item, corrections
    included, whatever their sign) are one line after its charges, periods run oldest first and
    the prepaid credit comes last."""

    def split(entry_id: int, kind: EntryKind, period: str, item: str, fen: int) -> AllocationOut:
        return AllocationOut(entry_id=entry_id, kind=kind, period=period, item=item, amount_fen=fen)

    late, charge = EntryKind.late_fee, EntryKind.charge
    allocations = [
        split(1, charge, "2026-02", "service_fee", 20000),
        split(2, late, "2026-01", "service_fee", 144),
        split(3, charge, "2026-01", "service_fee", 20000),
        split(4, late, "2026-01", "parking", 149),
        split(5, charge, "2026-01", "parking", 15000),
        split(6, late, "2026-01", "service_fee", -40),
        split(7, charge, "2026-01", "service_fee", 500),  # a second charge of the item and period (a sale's split)
        split(8, late, "2026-04", "service_fee", 300),  # a quarterly charge's late fee
        split(9, charge, "2026-04", "service_fee", 60000),
    ]
    out = PaymentOut(
        id=1,
        receipt_number="2026-000001",
        estate_id=1,
        unit_id=1,
        payer_name="",
        amount_fen=sum(a.amount_fen for a in allocations) + 700,
        currency="CNY",
        method=Method.cash,
        external_ref="",
        received_on=date(2026, 7, 1),
        cashier="cashier:王芳#1",
        allocations=allocations,
        prepaid_credit_fen=700,
        voided=False,
    )
    settled = {1: _Settled(1, "物业服务费"), 3: _Settled(1, "物业服务费"), 7: _Settled(1, "物业服务费")}
    settled |= {5: _Settled(1, "车位管理费"), 8: _Settled(3), 9: _Settled(3, "物业服务费")}

    assert [(x["name"], x["period"], x["period_end"], x["amount_fen"]) for x in _lines(out, settled, "zh_Hans")] == [
        ("物业服务费", "2026-01", None, 20500),
        ("车位管理费", "2026-01", None, 15000),
        ("违约金", "2026-01", None, 253),
        ("物业服务费", "2026-02", None, 20000),
        ("物业服务费", "2026-04", "2026-06", 60000),
        ("违约金", "2026-04", "2026-06", 300),
        ("预存物业费", None, None, 700),
    ]
