"""The providers' daily bill files, read into lines. Plain functions over bytes: no database.

* WeChat Pay's trade bill (交易账单, ``GET /v3/bill/tradebill``, UTF-8 CSV, gzip when asked): a header
  row (交易时间,公众账号ID,商户号,…,微信订单号,商户订单号,…,交易状态,…,订单金额,…), one row per
  payment or refund, each value prefixed with a backtick, then the summary header
  (总交易单数,…) and its row. Amounts are yuan. Older bills name the amount 总金额.
* Alipay's account bill (账务明细, ``bill_type=signcustomer``; a zip of the detail CSV and its
  summary, GBK): ``#`` lines around a header row (账务流水号,业务流水号,商户订单号,商品名称,发生时间,
  对方账号,收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注), values padded with
  tabs. 业务流水号 is the Alipay trade number of a payment.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from feesvc.db import BUSINESS_TZ
from feesvc.online.provider import yuan_to_fen


class BillError(ValueError):
    """The file is not the bill it should be; the message says where."""


@dataclass(frozen=True)
class BillLine:
    line: int  # the file's line number, for the person who opens it
    transaction_id: str
    out_trade_no: str
    kind: str  # payment, refund, fee or other (a withdrawal, a transfer)
    amount_fen: int  # positive in, negative out
    at: datetime | None  # the provider's time (Beijing)


@dataclass(frozen=True)
class Bill:
    day: date | None  # the bill's day as the file states it (None if it does not)
    lines: list[BillLine]


def _text(content: bytes, encodings: tuple[str, ...]) -> str:
    for encoding in encodings:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BillError(f"the file is not text in {' or '.join(encodings)}")


def _time(value: str, line: int) -> datetime:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BUSINESS_TZ)
    except ValueError as error:
        raise BillError(f"line {line}: {value!r} is not a time YYYY-MM-DD HH:MM:SS") from error


def _fen(value: str, line: int, column: str) -> int:
    try:
        return yuan_to_fen(value or "0", column)
    except ValueError as error:
        raise BillError(f"line {line}: {error}") from error


def parse_wechat_trade_bill(content: bytes) -> Bill:
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    rows = list(csv.reader(io.StringIO(_text(content, ("utf-8-sig",)))))
    if not rows or not rows[0] or rows[0][0].strip() != "交易时间":
        raise BillError("line 1: not a WeChat Pay trade bill (its header starts with 交易时间)")
    header = [h.strip() for h in rows[0]]
    amount_column = next((c for c in ("订单金额", "应结订单金额", "总金额") if c in header), None)
    needed = ("微信订单号", "商户订单号", "交易状态")
    missing = [c for c in needed if c not in header] + ([] if amount_column else ["订单金额"])
    if missing:
        raise BillError(f"line 1: the header lacks {', '.join(missing)}")
    at = {name: header.index(name) for name in (*needed, "交易时间")}
    refund_column = header.index("退款金额") if "退款金额" in header else None
    lines: list[BillLine] = []
    counted: int | None = None
    for number, row in enumerate(rows[1:], start=2):
        values = [v.strip().removeprefix("`") for v in row]
        if not values or not any(values):
            continue
        if values[0] == "总交易单数":
            summary = rows[number] if number < len(rows) else []
            first = summary[0].strip().removeprefix("`") if summary else ""
            if not first.isdigit():
                raise BillError(f"line {number + 1}: the summary row should start with 总交易单数, a count")
            counted = int(first)
            break
        if len(values) < len(header):
            raise BillError(f"line {number}: {len(values)} values where the header has {len(header)}")
        status = values[at["交易状态"]]
        if status == "SUCCESS":
            kind, amount = "payment", _fen(values[header.index(amount_column)], number, amount_column)  # type: ignore[arg-type]
        else:  # REFUND, REVOKED: money going back
            refunded = values[refund_column] if refund_column is not None else values[header.index(amount_column)]  # type: ignore[arg-type]
            kind, amount = "refund", -_fen(refunded, number, "退款金额")
        lines.append(
            BillLine(
                number,
                values[at["微信订单号"]],
                values[at["商户订单号"]],
                kind,
                amount,
                _time(values[at["交易时间"]], number),
            )
        )
    if counted is not None and counted != len(lines):
        raise BillError(
            f"the bill counts {counted} transactions (总交易单数) but lists {len(lines)}: the file is cut short"
        )
    days = {line.at.date() for line in lines if line.at is not None}
    return Bill(day=min(days) if len(days) == 1 else None, lines=lines)


_START = re.compile(r"起始日期[：:]\s*\[(\d{4})\D(\d{1,2})\D(\d{1,2})")


def _alipay_detail(content: bytes) -> bytes:
    """The detail CSV of Alipay's download (a zip of the detail and its summary), or the file as given."""
    if not content.startswith(b"PK"):
        return content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            member = archive.read(name)
            if "账务流水号".encode("gbk") in member or "账务流水号".encode() in member:
                return member
    raise BillError("the archive holds no account bill (账务明细) CSV")


def _column(header: list[str], *names: str) -> int:
    for i, h in enumerate(header):
        if any(h.startswith(n) for n in names):
            return i
    raise BillError(f"the header lacks {names[0]}")


def parse_alipay_account_bill(content: bytes) -> Bill:
    text = _text(_alipay_detail(content), ("utf-8-sig", "gb18030"))
    day: date | None = None
    header: list[str] | None = None
    lines: list[BillLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("#") or not raw.strip():
            found = _START.search(raw)
            if found:
                day = date(*(int(g) for g in found.groups()))
            continue
        values = [v.strip() for v in next(csv.reader([raw]))]
        if header is None:
            if not values or values[0] != "账务流水号":
                raise BillError(f"line {number}: not an Alipay account bill (its header starts with 账务流水号)")
            header = values
            trade, order = _column(header, "业务流水号"), _column(header, "商户订单号")
            when, business = _column(header, "发生时间"), _column(header, "业务类型")
            income, expense = _column(header, "收入金额"), _column(header, "支出金额")
            continue
        if len(values) < len(header):
            raise BillError(f"line {number}: {len(values)} values where the header has {len(header)}")
        into = _fen(values[income], number, "收入金额")
        out = abs(_fen(values[expense], number, "支出金额"))
        kind_text = values[business]
        if into > 0:
            kind = "payment"
        elif "退款" in kind_text:
            kind = "refund"
        elif any(word in kind_text for word in ("收费", "服务费", "手续费")):
            kind = "fee"
        else:
            kind = "other"
        lines.append(BillLine(number, values[trade], values[order], kind, into - out, _time(values[when], number)))
    if header is None:
        raise BillError("no header row: not an Alipay account bill (账务明细)")
    if day is None:
        days = {line.at.date() for line in lines if line.at is not None}
        day = min(days) if len(days) == 1 else None
    return Bill(day=day, lines=lines)
