"""The day's fapiao rows as an .xlsx workbook (feesvc.exports.sheet) and as CSV (UTF-8 with BOM,
which Excel opens as Chinese). Plain data in, bytes out."""

from __future__ import annotations

import csv
import io
from datetime import date

from feesvc.exports.sheet import Column, Kind, Table, workbook_bytes
from feesvc.fapiao.rules import BLUE, FapiaoRow

COLUMNS = (
    Column("类型", "Kind", width=8),
    Column("日期", "Day", Kind.date),
    Column("收据号", "Receipt", width=14),
    Column("购买方名称", "Buyer", width=14),
    Column("房屋", "Unit", width=14),
    Column("商品和服务名称", "Goods or service", width=26),
    Column("期间", "Periods", width=20),
    Column("税收分类编码", "Tax code", width=22),
    Column("税率", "Tax rate", Kind.rate, width=8),
    Column("价税合计", "Amount incl. tax", Kind.money),
    Column("金额", "Amount before tax", Kind.money),
    Column("税额", "Tax", Kind.money),
    Column("原收据号", "Original receipt", width=14),
    Column("原日期", "Original day", width=12),
    Column("备注", "Note", width=40),
)
KIND_NAMES = {BLUE: ("蓝字", "Invoice"), "red": ("红冲", "Red-letter correction")}


def _values(row: FapiaoRow, english: bool) -> list[object]:
    return [
        KIND_NAMES[row.kind][english],
        row.day,
        row.receipt_number,
        row.buyer_name,
        row.unit_label,
        row.goods_name,
        row.periods,
        row.tax_code,
        row.tax_rate,
        row.amount_fen,
        row.net_fen,
        row.tax_fen,
        row.original_receipt_number,
        row.original_day.isoformat() if row.original_day else "",
        row.note,
    ]


def xlsx(estate_name: str, day: date, rows: list[FapiaoRow], locale: str) -> bytes:
    english = locale.startswith("en")
    table = Table(
        "开票数据",
        "Fapiao data",
        COLUMNS,
        [_values(r, english) for r in rows],
        caption=[f"{estate_name} {day.isoformat()} 开票数据（税收分类编码和税率请与税务顾问确认）"],
    )
    return workbook_bytes([table], locale)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def csv_bytes(rows: list[FapiaoRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    headers = []
    for column in COLUMNS:
        headers += column.headers(False)
    writer.writerow(headers)
    for row in rows:
        cells: list[str] = []
        for column, value in zip(COLUMNS, _values(row, False), strict=True):
            if column.kind == Kind.money:
                cells += [_yuan(int(value)), str(value)]  # type: ignore[call-overload]
            elif isinstance(value, date):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")
