"""Reading a bank statement file into its credit lines: a CSV export through its bank's column
mapping, or an ISO 20022 camt.053 (BankToCustomerStatement) XML file. Plain functions over bytes:
nothing here reads the database or imports a model. Every problem is collected with its line and
column (in Chinese and English) and the caller writes nothing when there is any.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from feesvc.banking.mappings import OPTIONAL, BankMapping

CSV_FORMAT, CAMT_FORMAT = "csv", "camt.053"
# Text limits of the bank line's columns: longer is refused, never cut.
LIMITS = {"payer_name": 200, "payer_account": 60, "reference": 300, "transaction_id": 100}
MAX_FEN = 10**11  # as a payment takes (feesvc.schemas.PositiveFen)
HEADER_SEARCH_ROWS = 30  # title lines banks put above the header
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DATE = re.compile(r"(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})")
_TOTAL_ROW = ("合计", "总计", "本页合计", "累计")


@dataclass(frozen=True)
class StatementLine:
    """One credit to the estate's account."""

    line_no: int  # the CSV row (the file's first row is 1) or the camt.053 entry (first Ntry is 1)
    booked_on: date
    amount_fen: int
    payer_name: str
    payer_account: str
    reference: str
    txn_id: str  # the bank's own id of the transaction; "" when the file gives none


@dataclass(frozen=True)
class Problem:
    line: int  # 0: the file as a whole
    column: str
    zh: str
    en: str


@dataclass
class Statement:
    file_format: str
    lines: list[StatementLine] = field(default_factory=list)
    debits: int = 0  # debits, reversals and pending entries: not credits, left alone
    problems: list[Problem] = field(default_factory=list)


class _Refused(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def is_camt(filename: str, content: bytes) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return filename.lower().endswith(".xml") or head.startswith(b"<")


def read_statement(filename: str, content: bytes, mapping: BankMapping | None, today: date) -> Statement:
    """The file's credit lines, or its problems. A CSV needs its bank's mapping; camt.053 none."""
    if is_camt(filename, content):
        return _camt(content, today)
    if mapping is None:
        statement = Statement(CSV_FORMAT)
        statement.problems.append(
            Problem(0, "", "CSV 文件需要指定银行（列映射）", "a CSV needs its bank (--bank / bank)")
        )
        return statement
    return _csv(content, mapping, today)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def amount_fen(text: str) -> int:
    """A positive amount in yuan (commas and ¥ allowed) as whole fen, never through a float."""
    raw = text.strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    if not raw:
        raise _Refused("金额为空", "the amount is empty")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _Refused(
            f"金额不是数字：{text.strip()[:30]}", f"the amount is not a number: {text.strip()[:30]!r}"
        ) from None
    if not value.is_finite():
        raise _Refused("金额不是数字", "the amount is not a number")
    if value < 0:
        raise _Refused(
            "金额为负数：金额应为正数，收支方向在借贷标志列",
            "a negative amount: send amounts positive, the direction in its own column",
        )
    fen = value * 100
    if fen != fen.to_integral_value():
        raise _Refused("金额须精确到分（最多两位小数）", "the amount is not whole fen (at most 2 decimal places)")
    if fen == 0:
        raise _Refused("金额为零", "the amount is zero")
    if fen > MAX_FEN:
        raise _Refused("金额过大", f"the amount is above {MAX_FEN // 100} yuan")
    return int(fen)


def booking_date(text: str, today: date) -> date:
    match = _DATE.match(text.strip())
    try:
        if match is None:
            raise ValueError
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _Refused(f"日期无法识别：{text.strip()[:30]}", "not a date: send YYYY-MM-DD (or YYYYMMDD)") from None
    if day.year < 1900:
        raise _Refused("日期早于1900年", "the date is before 1900")
    if day > today:
        raise _Refused("日期在未来", f"the date {day} is in the future")
    return day


def text_value(name: str, text: str) -> str:
    value = text.strip()
    if _CONTROL.search(value):
        raise _Refused("含有控制字符", "the cell holds control characters")
    if name in LIMITS and len(value) > LIMITS[name]:
        raise _Refused(f"超过{LIMITS[name]}个字符", f"longer than {LIMITS[name]} characters")
    return value


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 as Excel saves it on Chinese Windows."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _Refused("文件编码应为 UTF-8 或 GB18030", "the file is neither UTF-8 nor GB18030 text")


def _header(rows: list[list[str]], mapping: BankMapping) -> tuple[int, dict[str, int]] | None:
    """The header row's index and each field's column, from the first row that has every field the
    mapping requires."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [c.strip() for c in row]
        found: dict[str, int] = {}
        for name in mapping.fields:
            for header in mapping.columns[name]:
                if header in cells:
                    found[name] = cells.index(header)
                    break
        if all(name in found for name in mapping.fields if name not in OPTIONAL):
            return index, found
    return None


def _csv(content: bytes, mapping: BankMapping, today: date) -> Statement:
    statement = Statement(CSV_FORMAT)
    try:
        text = decode(content)
    except _Refused as refused:
        statement.problems.append(Problem(0, "", refused.zh, refused.en))
        return statement
    rows = list(csv.reader(io.StringIO(text)))
    located = _header(rows, mapping)
    if located is None:
        wanted = "、".join(mapping.columns[f][0] for f in mapping.fields if f not in OPTIONAL)
        statement.problems.append(
            Problem(
                0,
                "",
                f"找不到表头（{wanted}）：请确认银行（列映射 {mapping.name}）",
                f"no header row with {wanted} in the first {HEADER_SEARCH_ROWS} rows: is bank {mapping.name!r} right?",
            )
        )
        return statement
    header_index, columns = located
    headers = {name: rows[header_index][i].strip() for name, i in columns.items()}
    for index in range(header_index + 1, len(rows)):
        row = [c.strip() for c in rows[index]]
        if not any(row) or any(c.startswith(_TOTAL_ROW) for c in row[:3]):
            continue
        cells = {name: row[i] if i < len(row) else "" for name, i in columns.items()}
        line = _csv_line(index + 1, cells, mapping, headers, statement, today)
        if line is not None:
            statement.lines.append(line)
    return statement


def _csv_line(
    line_no: int,
    cells: dict[str, str],
    mapping: BankMapping,
    headers: dict[str, str],
    statement: Statement,
    today: date,
) -> StatementLine | None:
    """A row as a credit line; None for a debit (counted) or a row with problems (recorded)."""
    problems_before = len(statement.problems)

    def refuse(name: str, refused: _Refused) -> None:
        statement.problems.append(Problem(line_no, headers[name], refused.zh, refused.en))

    texts: dict[str, str] = {}
    for name in ("payer_name", "payer_account", "reference", "transaction_id"):
        try:
            texts[name] = text_value(name, cells.get(name, ""))
        except _Refused as refused:
            refuse(name, refused)
    credit = _is_credit(cells, mapping, line_no, headers, statement)
    if credit is False:
        statement.debits += 1
    if not credit:
        return None
    day: date | None = None
    amount: int | None = None
    try:
        day = booking_date(cells["date"], today)
    except _Refused as refused:
        refuse("date", refused)
    amount_column = "credit_amount" if mapping.split_amounts else "amount"
    try:
        amount = amount_fen(cells[amount_column])
    except _Refused as refused:
        refuse(amount_column, refused)
    if len(statement.problems) > problems_before or day is None or amount is None:
        return None
    return StatementLine(
        line_no,
        day,
        amount,
        texts.get("payer_name", ""),
        texts.get("payer_account", ""),
        texts.get("reference", ""),
        texts.get("transaction_id", ""),
    )


def _is_credit(
    cells: dict[str, str], mapping: BankMapping, line_no: int, headers: dict[str, str], statement: Statement
) -> bool | None:
    """Whether the row is a credit (None: it cannot be told; the problem is recorded)."""
    if mapping.split_amounts:
        credit, debit = cells["credit_amount"], cells.get("debit_amount", "")
        if credit and _nonzero(credit):
            return True
        if debit:
            return False
        statement.problems.append(
            Problem(line_no, headers["credit_amount"], "贷方与借方金额均为空", "neither a credit nor a debit amount")
        )
        return None
    direction = cells["direction"].upper()
    if not direction:
        statement.problems.append(Problem(line_no, headers["direction"], "借贷标志为空", "the direction is empty"))
        return None
    return direction in mapping.credit_values


def _nonzero(text: str) -> bool:
    try:
        return Decimal(text.replace(",", "")) != 0
    except InvalidOperation:
        return True  # not a number: the amount's own check names it


# ---------------------------------------------------------------------------------------------
# camt.053
# ---------------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, *path: str) -> Element | None:
    """The first descendant along ``path`` by local names (any camt.053 version's namespace)."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: Element, name: str) -> Iterator[Element]:
    return (c for c in element if _local(c.tag) == name)


def _text(element: Element | None, *path: str) -> str:
    found = _child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _camt(content: bytes, today: date) -> Statement:
    statement = Statement(CAMT_FORMAT)
    try:
        # No DTD at all (so no entity, internal or external, and no entity expansion bomb).
        root = SafeElementTree.fromstring(content, forbid_dtd=True)
    except DefusedXmlException:
        statement.problems.append(
            Problem(0, "", "XML 含有 DTD 或实体声明，已拒绝", "the XML declares a DTD or entities: refused")
        )
        return statement
    except ParseError as error:
        line = error.position[0] if error.position else 0
        statement.problems.append(Problem(line, "", "XML 格式错误", f"not well-formed XML: {error}"))
        return statement
    report = _child(root, "BkToCstmrStmt")
    if _local(root.tag) != "Document" or report is None:
        statement.problems.append(
            Problem(0, "", "不是 camt.053 对账单（缺少 BkToCstmrStmt）", "not a camt.053 statement (no BkToCstmrStmt)")
        )
        return statement
    number = 0
    for stmt in _children(report, "Stmt"):
        for entry in _children(stmt, "Ntry"):
            number += 1
            _entry(statement, entry, number, today)
    return statement


def _entry(statement: Statement, entry: Element, number: int, today: date) -> None:
    status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
    reversal = _text(entry, "RvslInd").lower() == "true"
    if _text(entry, "CdtDbtInd") != "CRDT" or reversal or status != "BOOK":
        statement.debits += 1
        return
    where = f"Ntry[{number}]"
    problems_before = len(statement.problems)

    def refuse(column: str, refused: _Refused) -> None:
        statement.problems.append(Problem(number, f"{where}/{column}", refused.zh, refused.en))

    day: date | None = None
    day_text = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm") or _text(entry, "ValDt", "Dt")
    try:
        day = booking_date(day_text, today)
    except _Refused as refused:
        refuse("BookgDt", refused)
    details: list[Element | None] = [d for n in _children(entry, "NtryDtls") for d in _children(n, "TxDtls")]
    details = details or [None]
    for index, tx in enumerate(details, start=1):
        # Explicit None tests: an element without children is falsy.
        amount_element = _child(tx, "Amt")
        if amount_element is None:
            amount_element = _child(tx, "AmtDtls", "TxAmt", "Amt")
        if amount_element is None and len(details) == 1:
            amount_element = _child(entry, "Amt")
        column = "Amt" if len(details) == 1 else f"TxDtls[{index}]/Amt"
        if amount_element is None:
            refuse(column, _Refused("缺少金额", "no amount"))
            continue
        currency = amount_element.get("Ccy", "")
        if currency != "CNY":
            refuse(
                column, _Refused(f"币种为 {currency or '空'}，只接受人民币", f"currency {currency or 'none'}: only CNY")
            )
            continue
        try:
            fen = amount_fen(amount_element.text or "")
        except _Refused as refused:
            refuse(column, refused)
            continue
        txn = (
            _text(tx, "Refs", "AcctSvcrRef")
            or _text(tx, "Refs", "TxId")
            or _text(entry, "AcctSvcrRef") + (f"/{index}" if len(details) > 1 and _text(entry, "AcctSvcrRef") else "")
        )
        end_to_end = _text(tx, "Refs", "EndToEndId")
        if not txn and end_to_end and end_to_end != "NOTPROVIDED":
            txn = end_to_end
        payer = _text(tx, "RltdPties", "Dbtr", "Nm") or _text(tx, "RltdPties", "Dbtr", "Pty", "Nm")
        account = _text(tx, "RltdPties", "DbtrAcct", "Id", "IBAN") or _text(
            tx, "RltdPties", "DbtrAcct", "Id", "Othr", "Id"
        )
        remittance = _child(tx, "RmtInf")
        reference = " ".join(_text(u) for u in _children(remittance, "Ustrd")) if remittance is not None else ""
        reference = reference or _text(remittance, "Strd", "CdtrRefInf", "Ref") or _text(entry, "AddtlNtryInf")
        texts = {"payer_name": payer, "payer_account": account, "reference": reference, "transaction_id": txn}
        for name, value in texts.items():
            try:
                texts[name] = text_value(name, value)
            except _Refused as refused:
                refuse(name, refused)
        if len(statement.problems) > problems_before or day is None:
            continue
        statement.lines.append(
            StatementLine(
                number,
                day,
                fen,
                texts["payer_name"],
                texts["payer_account"],
                texts["reference"],
                texts["transaction_id"],
            )
        )


def line_keys(estate_id: int, lines: list[StatementLine]) -> list[str]:
    """Each line's key: the bank's transaction id hashed with the estate (the same id twice is one
    transfer, in one file or in two), or, when the file gives none, a hash of the payer's account,
    the date, the amount, the reference and how many such lines came before it in the file (two
    identical transfers on a day are two payments; the same file imported again gives the same keys).
    The key is also the payment's idempotency key."""
    seen: dict[tuple[object, ...], int] = {}
    keys = []
    for line in lines:
        if line.txn_id:
            parts: tuple[object, ...] = (estate_id, "txn", line.txn_id)
        else:
            what = (estate_id, "line", line.payer_account, line.booked_on.isoformat(), line.amount_fen, line.reference)
            seen[what] = seen.get(what, 0) + 1
            parts = (*what, seen[what])
        digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
        keys.append(f"bank-{digest}")
    return keys
