"""Fapiao data: the day's payments as invoicing rows (per item paid for, with tax code and rate),
and a voided payment as a red-letter correction (红冲) row referencing the original."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from feesvc.auth.models import Role
from feesvc.exports.sheet import XLSX
from feesvc.fapiao.rules import PaidPayment, Part, TaxTerms, blue_rows, red_rows, split_tax
from feesvc.payments.models import PaymentVoid
from tests.support import Api, problem

DAY = "2026-03-05"


async def pay(api: Api, unit_id: int, amount: int, on: str = DAY) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "bank_transfer", "received_on": on}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers=headers), 201)


async def fapiao(api: Api, estate_id: int, day: str, role: Role | str = Role.cashier, **kw: Any) -> Any:
    return await api.get(f"/api/v1/estates/{estate_id}/fapiao", role, params={"date": day}, **kw)


async def test_the_days_rows_sum_to_its_payments_and_a_void_is_a_red_letter_row(api: Api) -> None:
    estate = await api.make_estate(units=2)
    for month in ("2026-01", "2026-02"):
        await api.bill(estate.id, month, f"{month}-01")
    first = await pay(api, estate.unit_ids[0], 25_000)
    second = await pay(api, estate.unit_ids[1], 60_000)  # two months and 100.00 ahead
    await pay(api, estate.unit_ids[1], 1_000, on="2026-03-06")  # another day: not in this day's rows
    day = await api.ok(await fapiao(api, estate.id, DAY), 200)
    assert (day["payments"], day["voids"], day["received_fen"], day["corrected_fen"]) == (2, 0, 85_000, 0)
    rows = day["rows"]
    assert sum(r["amount_fen"] for r in rows) == first["amount_fen"] + second["amount_fen"]
    assert all(r["net_fen"] + r["tax_fen"] == r["amount_fen"] for r in rows)
    assert all((r["tax_code"], r["tax_rate"], r["kind"]) == ("3040801010000000000", "0.06", "blue") for r in rows)
    by_receipt = {(r["receipt_number"], r["goods_name"]): r for r in rows}
    one = by_receipt[(first["receipt_number"], "*物业管理服务*物业服务费")]
    assert (one["amount_fen"], one["tax_fen"], one["periods"], one["buyer_name"]) == (25_000, 1_415, "2026-01", "业主0")
    two = by_receipt[(second["receipt_number"], "*物业管理服务*物业服务费")]
    assert (two["amount_fen"], two["periods"]) == (50_000, "2026-01 至 2026-02")
    assert by_receipt[(second["receipt_number"], "*物业管理服务*预收物业服务费")]["amount_fen"] == 10_000

    await api.ok(await api.post(f"/api/v1/payments/{first['id']}/void", {"reason": "收错户"}), 200)
    async with api.sessions() as s:
        from sqlmodel import select

        voided_on = (
            await s.execute(select(PaymentVoid.voided_on).where(PaymentVoid.payment_id == first["id"]))
        ).scalar_one()
    corrected = await api.ok(await fapiao(api, estate.id, voided_on.isoformat()), 200)
    [red] = [r for r in corrected["rows"] if r["kind"] == "red"]
    assert (red["amount_fen"], red["tax_fen"], red["net_fen"]) == (-25_000, -1_415, -23_585)
    assert (red["original_receipt_number"], red["original_day"]) == (first["receipt_number"], DAY)
    assert "红冲" in red["note"] and "收错户" in red["note"]
    assert corrected["corrected_fen"] == -25_000
    # The original day still shows the payment as received (it was invoiced that day).
    assert (await api.ok(await fapiao(api, estate.id, DAY), 200))["received_fen"] == 85_000


async def test_the_days_rows_as_csv_and_xlsx_with_the_estates_tax_settings(api: Api) -> None:
    estate = await api.make_estate(
        units=1, settings={"fapiao_tax_rate": "0.03", "fapiao_tax_code": "3040801010000000000"}
    )
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await pay(api, estate.unit_ids[0], 25_000)
    response = await fapiao(api, estate.id, DAY, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert header[:3] == ["类型", "日期", "收据号"] and len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert (row["税率"], row["价税合计（元）"], row["税额（分）"], row["类型"]) == ("0.03", "250.00", "728", "蓝字")
    xlsx = await fapiao(api, estate.id, DAY, role=Role.manager, headers={"Accept": XLSX})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert "开票数据" in str(values[0][0]) and values[1][0] == "类型"
    assert values[2][9] == 250
    problem(await api.get(f"/api/v1/estates/{estate.id}/fapiao", Role.cashier), 400, "date")
    problem(await fapiao(api, estate.id, "2026-02-30"), 400, "date")
    owner = await api.owner_token(estate.owner_ids[0])
    problem(await fapiao(api, estate.id, DAY, role=owner), 403)
    problem(await api.put(f"/api/v1/estates/{estate.id}/settings", {"fapiao_tax_rate": "6"}), 400, "fapiao_tax_rate")


def test_tax_split_and_red_rows_on_plain_data() -> None:
    assert split_tax(10_600, Decimal("0.06")) == (10_000, 600)
    assert split_tax(1, Decimal("0.06")) == (1, 0)
    assert split_tax(9, Decimal("0.06")) == (8, 1)  # 0.509… fen rounds half-up to 1
    terms = TaxTerms("3040801010000000000", Decimal("0.06"), "物业管理服务")
    paid = PaidPayment(
        7,
        "2026-000007",
        date(2026, 3, 5),
        "张三",
        "1栋 101",
        40_100,
        (
            Part("物业服务费", "2026-01", 25_000),
            Part("违约金", "2026-01", 100),
            Part("物业服务费", "2026-02", 15_000),
        ),
    )
    blue = blue_rows(paid, terms)
    assert [(r.goods_name, r.amount_fen, r.periods) for r in blue] == [
        ("*物业管理服务*物业服务费", 40_000, "2026-01 至 2026-02"),
        ("*物业管理服务*违约金", 100, "2026-01"),
    ]
    red = red_rows(paid, terms, date(2026, 3, 9), "重复收款")
    assert [r.amount_fen for r in red] == [-40_000, -100]
    assert [r.tax_fen for r in red] == [-r.tax_fen for r in blue]
    assert all(r.original_receipt_number == "2026-000007" and r.day == date(2026, 3, 9) for r in red)


async def test_fapiao_export_command(api: Api, database_url: str, tmp_path: Any) -> None:
    import asyncio
    import os

    from click.testing import CliRunner

    from feesvc.cli import cli
    from feesvc.settings import get_settings

    estate = await api.make_estate(units=1)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await pay(api, estate.unit_ids[0], 25_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = database_url

    def run(out: str) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                cli, ["fapiao", "export", "--estate", estate.code, "--date", DAY, "--out", out], env=env
            )
        finally:
            get_settings.cache_clear()

    for name in ("day.xlsx", "day.csv"):
        result = await asyncio.to_thread(run, str(tmp_path / name))
        assert result.exit_code == 0 and "1 rows" in result.output, result.output
    assert "250.00" in (tmp_path / "day.csv").read_text(encoding="utf-8-sig")
    bad = await asyncio.to_thread(run, str(tmp_path / "day.pdf"))
    assert bad.exit_code == 2
