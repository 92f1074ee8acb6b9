"""Reading an upload: the rows of an .xlsx (its first sheet that is not the notes) or a .csv
(UTF-8, with or without BOM, else GB18030 as Excel saves it on Chinese Windows), as cell text, one
row at a time."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from feesvc.imports.rules import Refused

NOTES = ("说明", "Notes")


@dataclass
class Sheet:
    """The header and, once, the rows after it (row i of ``rows`` is spreadsheet row i + 2): rows are
    read as they are used, so a file of millions of lines is never held as cell text."""

    name: str
    header: list[str]
    rows: Iterator[list[str]]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel stores every number as a double: 101.0 is the unit 101, 89.5 reads back as 89.5
        # (the shortest text that gives the same double), 1234.56 as 1234.56.
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return str(value).strip()


def read(filename: str, content: bytes) -> Sheet:
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _xlsx(content)
    if name.endswith(".csv"):
        return _csv(content)
    raise Refused("只接受 .xlsx 或 .csv 文件", "send an .xlsx or .csv file")


def _xlsx(content: bytes) -> Sheet:
    """The first sheet that is not the notes, read by calamine (Rust): openpyxl's reader took some
    200 µs a row, a minute for a 100,000-unit registry; calamine takes a few µs."""
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = [name for name in book.sheet_names if name not in NOTES]
        if not names:
            raise Refused("工作簿中没有数据表", "the workbook has no data sheet")
        sheet = book.get_sheet_by_name(names[0])
    except CalamineError:
        raise Refused("无法读取该 .xlsx 文件", "the file is not a readable .xlsx workbook") from None
    return _sheet(names[0], ([_text(v) for v in row] for row in sheet.iter_rows()))


def _encoding(content: bytes) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as UTF-8, else GB18030; checked a
    chunk at a time, so a large file is not held twice as text."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(content), 1 << 20):
                decoder.decode(content[start : start + (1 << 20)])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise Refused("CSV 文件应为 UTF-8 或 GB18030 编码", "the CSV is neither UTF-8 nor GB18030")


def _csv(content: bytes) -> Sheet:
    text = io.TextIOWrapper(io.BytesIO(content), encoding=_encoding(content), newline="")
    return _sheet("csv", csv.reader(text))  # cells as written: each rule strips what it reads


def _sheet(name: str, rows: Iterator[list[str]]) -> Sheet:
    header = next(rows, None)
    if header is None:
        raise Refused("文件为空", "the file is empty")
    return Sheet(name, header, rows)
