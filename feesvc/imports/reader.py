"""Reading an upload: the rows of an .xlsx (its first sheet that is not the notes) or a .csv
(UTF-8, with or without BOM, else GB18030 as Excel saves it on Chinese Windows), as cell text."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from feesvc.imports.rules import Refused

NOTES = ("说明", "Notes")


@dataclass
class Sheet:
    name: str
    header: list[str]
    rows: list[list[str]]  # rows[i] is spreadsheet row i + 2 (the header is row 1)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel stores numbers as doubles: the shortest text that reads back the same (89.5, 1234.56).
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def read(filename: str, content: bytes) -> Sheet:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _xlsx(content)
    if name.endswith(".csv"):
        return _csv(content)
    raise Refused("只接受 .xlsx 或 .csv 文件", "send an .xlsx or .csv file")


def _xlsx(content: bytes) -> Sheet:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError):
        raise Refused("无法读取该 .xlsx 文件", "the file is not a readable .xlsx workbook") from None
    sheets = [ws for ws in book.worksheets if ws.title not in NOTES]
    if not sheets:
        raise Refused("工作簿中没有数据表", "the workbook has no data sheet")
    ws = sheets[0]
    rows = [[_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    book.close()
    return _sheet(ws.title, rows)


def _csv(content: bytes) -> Sheet:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise Refused("CSV 文件应为 UTF-8 或 GB18030 编码", "the CSV is neither UTF-8 nor GB18030") from None
    return _sheet("csv", [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))])


def _sheet(name: str, rows: list[list[str]]) -> Sheet:
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise Refused("文件为空", "the file is empty")
    return Sheet(name, rows[0], rows[1:])
