"""Reading an upload: the rows of an .xlsx (its first sheet that is not the notes) or a .csv
(UTF-8, with or without BOM, else GB18030 as Excel saves it on Chinese Windows), as cell text."""

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
    # The rows as stored, not as the file's dimension record says (some writers leave it wrong).
    ws.reset_dimensions()

    def rows() -> Iterator[list[str]]:
        try:
            for row in ws.iter_rows(values_only=True):
                yield [_text(v) for v in row]
        finally:
            book.close()

    return _sheet(ws.title, rows())


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
    return _sheet("csv", ([c.strip() for c in row] for row in csv.reader(text)))


def _sheet(name: str, rows: Iterator[list[str]]) -> Sheet:
    header = next(rows, None)
    if header is None:
        raise Refused("文件为空", "the file is empty")
    return Sheet(name, header, rows)
