"""The printed receipt (收款收据) and the shared PDF renderer, checked on the PDF itself."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.models import Role
from feesvc.documents.render import render_html, write_pdf_many
from feesvc.formatting import amount_in_chinese_capitals
from feesvc.ledger.models import EntryKind
from feesvc.payments.receipt import _cashier_name, _item_name, receipt_context, receipt_pdf
from feesvc.payments.schemas import AllocationOut
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

    text = pdf_text(await receipt_pdf(session, payment["id"]), tmp_path)
    flat = compact(text)
    assert "作废" in flat and "VOID" in flat
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
    assert "Noto-Sans-CJK-TC" in pdf_tool("pdffonts", pdf, tmp_path)


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


def test_item_name_fallbacks_and_cashier_name() -> None:
    def allocation(kind: EntryKind, item: str | None) -> AllocationOut:
        return AllocationOut(entry_id=1, kind=kind, period="2026-01", item=item, amount_fen=100)

    assert _item_name(allocation(EntryKind.charge, "parking"), None, "zh_Hans") == "车位管理费"
    assert _item_name(allocation(EntryKind.charge, "garbage"), None, "zh_Hant") == "垃圾處理費"
    assert _item_name(allocation(EntryKind.late_fee, "service_fee"), None, "zh_Hans") == "违约金"
    assert _item_name(allocation(EntryKind.charge, "elevator"), None, "zh_Hans") == "elevator"
    assert _item_name(allocation(EntryKind.charge, None), None, "zh_Hans") == "其他费用"
    assert _cashier_name("cashier:王芳#12") == "王芳"
    assert _cashier_name("system:cli") == "cli"
    assert _cashier_name("cashier:A#B") == "A#B"


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
