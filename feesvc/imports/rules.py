"""Row rules of the imports: plain functions over cell text. Each refuses a value with its reason in
Chinese and English (:class:`Refused`); nothing here reads the database or imports a model."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# A mainland mobile number: 11 digits from 13x to 19x, optionally written with +86 / spaces / dashes.
_MOBILE = re.compile(r"1[3-9]\d{9}")
_INTERNATIONAL = re.compile(r"\+[1-9]\d{6,14}")  # E.164: a country code and at most 15 digits
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
USES = {
    "residential": "residential",
    "住宅": "residential",
    "commercial": "commercial",
    "商业": "commercial",
    "商铺": "commercial",
    "parking": "parking",
    "车位": "parking",
}
CHANNELS = {
    "paper": "paper",
    "纸质": "paper",
    "sms": "sms",
    "短信": "sms",
    "wechat": "wechat",
    "微信": "wechat",
    "email": "email",
    "邮件": "email",
    "电子邮件": "email",
}


class Refused(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class Problem:
    """One refused cell (or row, column ""): where it is and why, in both languages."""

    sheet: str
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str
    zh: str
    en: str


def required(text: str) -> str:
    value = text.strip()
    if not value:
        raise Refused("必填，不能为空", "required: this cell is empty")
    return value


def positive_area(text: str) -> Decimal:
    """A floor area in m²: a positive decimal with at most 4 places."""
    try:
        value = Decimal(required(text))
    except InvalidOperation:
        raise Refused("面积应为正数，如 89.50", "the area is not a number: send e.g. 89.50") from None
    if not value.is_finite() or value <= 0:
        raise Refused("面积应为正数，如 89.50", "the area must be a positive decimal, e.g. 89.50")
    if value.as_tuple().exponent < -4:  # type: ignore[operator]
        raise Refused("面积最多四位小数", "the area has more than 4 decimal places")
    return value


def same_phone(text: str) -> str:
    """A phone number as imports compare it: without spaces and dashes, a mainland number without +86."""
    digits = re.sub(r"[\s-]", "", text.strip())
    return digits.removeprefix("+86").removeprefix("0086")


def mobile(text: str) -> str:
    """A mainland mobile number, kept as its 11 digits; or, written with its country code, a number
    from outside the mainland (an owner from Hong Kong, Macau, Taiwan or abroad: +852 5123 4567),
    kept as + and its digits."""
    digits = same_phone(required(text))
    if digits.startswith("+"):
        if not _INTERNATIONAL.fullmatch(digits):
            raise Refused(
                "境外号码应写为 +国家或地区代码 号码，如 +852 5123 4567",
                "a number from outside the mainland needs its country code: send e.g. +852 5123 4567",
            )
        return digits
    if not _MOBILE.fullmatch(digits):
        raise Refused("手机号应为11位中国大陆手机号码", "not a mainland mobile number (11 digits, 13x-19x)")
    return digits


def yuan_to_fen(text: str, *, positive: bool = True) -> int:
    """An amount in yuan (元) as whole fen: at most two decimal places, never through a float."""
    raw = required(text).replace(",", "").replace("¥", "").replace("￥", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Refused("金额应为数字，如 1234.50", "the amount is not a number: send yuan, e.g. 1234.50") from None
    if not value.is_finite():
        raise Refused("金额应为数字，如 1234.50", "the amount is not a number: send yuan, e.g. 1234.50")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise Refused("金额须精确到分（最多两位小数）", "the amount is not whole fen (at most 2 decimal places)")
    if positive and fen <= 0:
        raise Refused("金额应大于0", "the amount must be greater than 0")
    return int(fen)


def day(text: str) -> date:
    try:
        return date.fromisoformat(required(text)[:10])
    except ValueError:
        raise Refused("日期格式应为 YYYY-MM-DD", "not a date: send YYYY-MM-DD") from None


def optional_day(text: str) -> date | None:
    return day(text) if text.strip() else None


def past_period(text: str, today: date) -> str:
    """A billing period YYYY-MM that has begun by ``today`` (an opening balance is never in the future)."""
    match = _PERIOD.fullmatch(required(text))
    if not match or not 1 <= int(match[2]) <= 12 or not 1900 <= int(match[1]) <= 2999:
        raise Refused("期间格式应为 YYYY-MM", "not a billing period: send YYYY-MM")
    if date(int(match[1]), int(match[2]), 1) > today:
        raise Refused("期间在未来，期初欠费只能是已开始的期间", "the period is in the future")
    return match[0]


def not_future(value: date, today: date) -> date:
    if value > today:
        raise Refused("日期在未来", "the date is in the future")
    return value


def choice(text: str, names: dict[str, str], what_zh: str, what_en: str) -> str:
    value = text.strip()
    if not value:
        return next(iter(names.values()))
    if value.lower() not in names and value not in names:
        allowed = "、".join(names)
        raise Refused(
            f"{what_zh}应为：{allowed}", f"unknown {what_en}: send one of {', '.join(sorted(set(names.values())))}"
        )
    return names.get(value.lower(), names.get(value, ""))


def overlapping(spans: Sequence[tuple[date, date | None]]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of spans [start, end] (both days included, as ownerships keep them) that
    share a day; an open end runs for ever."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    found = []
    for a_pos, i in enumerate(order):
        end_i = spans[i][1]
        for j in order[a_pos + 1 :]:
            start_j, _ = spans[j]
            if end_i is not None and start_j > end_i:
                break
            found.append((min(i, j), max(i, j)))
    return found


def unit_use(text: str) -> str:
    return choice(text, USES, "用途", "use")


def channel(text: str) -> str:
    return choice(text, CHANNELS, "通知方式", "channel")


def past_day(text: str, today: date) -> date:
    return not_future(day(text), today)
