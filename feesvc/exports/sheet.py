"""Typed worksheets: dates as dates, money as yuan with two decimals beside the exact fen, a frozen
header row and a sums row. Plain data in, workbook bytes out; nothing here reads the database."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from feesvc.formatting import normalize_locale

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

YUAN_FORMAT = "#,##0.00"
FEN_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
RATE_FORMAT = "0.00%"
COUNT_FORMAT = "0"


class Kind(StrEnum):
    text = "text"
    date = "date"
    number = "number"  # a whole number summed in the sums row (units, payments)
    money = "money"  # integer fen: two cells, yuan (fen ÷ 100, two decimals) and the fen themselves
    rate = "rate"  # an exact decimal fraction shown as a percentage; never summed


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    kind: Kind = Kind.text
    width: int = 12
    summed: bool = True  # counts and money only

    def headers(self, english: bool) -> list[str]:
        name = self.en if english else self.zh
        if self.kind == Kind.money:
            return [f"{name} (yuan)", f"{name} (fen)"] if english else [f"{name}（元）", f"{name}（分）"]
        return [name]


@dataclass
class Table:
    """One worksheet: ``rows`` hold one value per column (fen as int for money, Decimal for a rate)."""

    zh: str
    en: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    sums: bool = True
    # Lines above the header (what the sheet is, as of when): plain text, one cell each.
    caption: list[str] = field(default_factory=list)


def english(locale: str) -> bool:
    """Headers in English only when the estate's language is English; Chinese otherwise."""
    return normalize_locale(locale).startswith("en")


def workbook_bytes(tables: Sequence[Table], locale: str) -> bytes:
    """The tables as one .xlsx. Write-only mode: rows stream out, so a 100,000-unit report stays small."""
    book = Workbook(write_only=True)
    en = english(locale)
    for table in tables:
        _write(book.create_sheet((table.en if en else table.zh)[:31]), table, en)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write(sheet: WriteOnlyWorksheet, table: Table, en: bool) -> None:
    headers = [h for c in table.columns for h in c.headers(en)]
    widths = [c.width for c in table.columns for _ in c.headers(en)]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(width, len(headers[index - 1]) * 2 + 2)
    header_row = len(table.caption) + 1
    # Frozen below the header: the names stay in view however far the accountant scrolls.
    sheet.freeze_panes = f"A{header_row + 1}"
    for line in table.caption:
        sheet.append([line])
    bold = Font(bold=True)
    sheet.append([_cell(sheet, h, font=bold, align=Alignment(horizontal="center")) for h in headers])
    totals: list[int] = [0] * len(table.columns)
    for row in table.rows:
        cells: list[Any] = []
        for i, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            cells += _typed(sheet, column, value)
            if column.kind in (Kind.money, Kind.number) and value is not None:
                totals[i] += int(value)
        sheet.append(cells)
    if not table.sums:
        return
    label = "Total" if en else "合计"
    cells = []
    for i, column in enumerate(table.columns):
        if i == 0:
            cells.append(_cell(sheet, label, font=bold))
            if column.kind == Kind.money:
                cells.append(None)
        elif column.kind in (Kind.money, Kind.number) and column.summed:
            cells += _typed(sheet, column, totals[i], bold)
        else:
            cells += [None] * len(column.headers(en))
    sheet.append(cells)


def _cell(
    sheet: WriteOnlyWorksheet,
    value: Any,
    fmt: str | None = None,
    font: Font | None = None,
    align: Alignment | None = None,
) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if fmt:
        cell.number_format = fmt
    if font:
        cell.font = font
    if align:
        cell.alignment = align
    return cell


def _typed(sheet: WriteOnlyWorksheet, column: Column, value: Any, font: Font | None = None) -> list[Any]:
    if value is None:
        return [None] * (2 if column.kind == Kind.money else 1)
    match column.kind:
        case Kind.money:
            fen = int(value)
            # The yuan exactly (a Decimal, no float arithmetic here); the fen beside it are the figure.
            return [_cell(sheet, Decimal(fen) / 100, YUAN_FORMAT, font), _cell(sheet, fen, FEN_FORMAT, font)]
        case Kind.number:
            return [_cell(sheet, int(value), COUNT_FORMAT, font)]
        case Kind.date:
            if not isinstance(value, date):
                raise TypeError(f"{column.en}: a date column takes dates, not {type(value).__name__}")
            return [_cell(sheet, value, DATE_FORMAT, font)]
        case Kind.rate:
            return [_cell(sheet, Decimal(value), RATE_FORMAT, font)]
        case _:
            return [_cell(sheet, str(value), font=font)]
