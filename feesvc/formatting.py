"""Locale formatting for every text a person reads: receipts, notices, UI.

Money is integer fen throughout; rates and areas are ``Decimal``.  Nothing in
this module ever goes through ``float``.

Decisions (kept here so the tests and the receipts agree):

* Supported locales are ``SUPPORTED_LOCALES``; every public function accepts
  any spelling ``normalize_locale`` understands ("zh-CN", "zh_cn", "en-US").
* ``en`` is rendered with CLDR ``en_GB`` data: day-month-year dates
  ("22 November 2026") cannot be misread by readers used to Chinese
  year-month-day order, unlike the US month-first form.
* Money uses CLDR as is.  zh_CN gets "¥1,234.50"; zh_TW, zh_HK and en get
  "CN¥1,234.50".  Outside the mainland a bare "¥" reads as yen (and "$" is the
  local dollar), so the CLDR "CN¥" is the unambiguous choice there; no custom
  pattern is imposed.  Negatives carry an ASCII minus: "-¥1,234.50".
  Letters in Traditional Chinese never print "CN¥", which no Chinese reader writes: the estate
  chooses ``style`` (``MONEY_STYLES``): "renminbi" → "人民幣1,234.50元", "symbol" → "¥1,234.50".
  zh_CN and en ignore the style.
* Capitals (大写金额) follow the PBoC rules for filling in bills
  (《正确填写票据和结算凭证的基本规定》):
    - "整" is written only when the amount ends at 元 (no 角, no 分).  The PBoC
      allows but does not require 整 after 角; its own example
      (¥1,409.50 → 壹仟肆佰零玖元伍角) omits it, and so do we.
    - A zero 角 followed by a non-zero 分 always gets 零 (壹拾元零伍分).
    - Where the rules make 零 optional (a zero 元 or 万 digit next to the unit
      word, e.g. ¥1,680.32 or ¥107,000.53), it is omitted: 零 is written only
      for zeros that no unit word (万/亿/元) already stands for.  So
      壹仟陆佰捌拾元叁角贰分 and 壹拾万柒仟元伍角叁分, but 壹拾万零伍元整.
    - 拾 always carries its digit (壹拾元整), as banks require.
    - ``traditional=True`` swaps in 貳 參 陸 萬 億 負 but keeps 元 (not 圓):
      the amounts are renminbi on mainland receipts, where 元 is the norm.
* Bare "zh" and "zh-Hans" mean zh_CN, "zh-Hant" means zh_TW; zh-SG, zh-MO and
  script/region mismatches (zh-Hant-CN) are refused rather than guessed.
* Rates: zh uses the coarsest exact fraction (百分之/千分之/万分之, falling
  back to 万分之 with 点), which is how contracts word daily late fees;
  zh_TW/zh_HK write 萬 and 點.  A zero rate reads "零 (0%/日)".
* Areas always show at least two decimals (surveyed areas are to 0.01 m²) and
  never hide extra digits.  The unit word follows CLDR: 平方米 for zh_CN and
  zh_HK, 平方公尺 for zh_TW, "m²" for en.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Final

from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal

__all__ = [
    "MAX_CAPITALS_FEN",
    "MONEY_STYLES",
    "SUPPORTED_LOCALES",
    "amount_in_chinese_capitals",
    "area_text",
    "date_long",
    "money",
    "normalize_locale",
    "period_label",
    "rate_text",
]

SUPPORTED_LOCALES: Final = ("zh_CN", "zh_TW", "zh_HK", "en")

# Our locale → the full CLDR identifier Babel should use for it.
_BABEL_LOCALE: Final[dict[str, str]] = {
    "zh_CN": "zh_Hans_CN",
    "zh_TW": "zh_Hant_TW",
    "zh_HK": "zh_Hant_HK",
    "en": "en_GB",
}

# Chinese tags as (script, region); None means "not given".
_ZH_TAGS: Final[dict[tuple[str | None, str | None], str]] = {
    (None, None): "zh_CN",
    ("hans", None): "zh_CN",
    (None, "cn"): "zh_CN",
    ("hans", "cn"): "zh_CN",
    ("hant", None): "zh_TW",
    (None, "tw"): "zh_TW",
    ("hant", "tw"): "zh_TW",
    (None, "hk"): "zh_HK",
    ("hant", "hk"): "zh_HK",
}

_TRADITIONAL: Final = frozenset({"zh_TW", "zh_HK"})


# ---------------------------------------------------------------------------
# Locales
# ---------------------------------------------------------------------------


def normalize_locale(value: str) -> str:
    """Map a locale spelling ("zh-CN", "zh_cn", "en-US", "zh_CN.UTF-8") to one
    of ``SUPPORTED_LOCALES``; raise ValueError for anything else."""
    if not isinstance(value, str):
        raise TypeError(f"locale must be str, not {type(value).__name__}")
    # POSIX locales carry ".UTF-8" / "@euro" suffixes that say nothing about
    # language or region.
    tag = re.split(r"[.@]", value.strip(), maxsplit=1)[0]
    parts = [p.lower() for p in tag.replace("-", "_").split("_")]
    if not parts or not parts[0]:
        raise ValueError(f"unsupported locale: {value!r}")
    language, subtags = parts[0], parts[1:]
    if language == "en" and all(p.isalnum() for p in subtags):
        # One English variant serves every English reader.
        return "en"
    if language == "zh":
        script, region = _split_script_region(subtags, value)
        try:
            return _ZH_TAGS[(script, region)]
        except KeyError:
            pass
    raise ValueError(f"unsupported locale: {value!r}")


def _split_script_region(subtags: list[str], original: str) -> tuple[str | None, str | None]:
    script: str | None = None
    region: str | None = None
    rest = list(subtags)
    if rest and len(rest[0]) == 4 and rest[0].isalpha():
        script = rest.pop(0)
    if rest and len(rest[0]) == 2 and rest[0].isalpha():
        region = rest.pop(0)
    if rest:
        raise ValueError(f"unsupported locale: {original!r}")
    return script, region


def _babel_locale(locale: str) -> str:
    return _BABEL_LOCALE[normalize_locale(locale)]


def _is_chinese(locale: str) -> bool:
    return locale.startswith("zh")


# ---------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------


def _require_fen(fen: int) -> None:
    # bool is an int subclass and float sneaks in from JSON; both are bugs here.
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")


#: How Traditional Chinese letters write renminbi, as the estate chooses (``money(style=…)``).
MONEY_STYLES: Final = ("renminbi", "symbol")


def money(fen: int, locale: str, style: str | None = None) -> str:
    """CNY amount for display: zh_CN "¥1,234.50", zh_TW/zh_HK/en "CN¥1,234.50".

    ``style`` (Traditional Chinese only): "renminbi" → "人民幣1,234.50元", "symbol" → "¥1,234.50",
    "figures" → "1,234.50" (table cells under a heading that says 人民幣元)."""
    _require_fen(fen)
    if style is not None:
        if style not in (*MONEY_STYLES, "figures"):
            raise ValueError(f"money style must be one of {', '.join(MONEY_STYLES)}, not {style!r}")
        if normalize_locale(locale) in _TRADITIONAL:
            return _traditional_money(fen, locale, style)
    return _money(fen, locale)


@lru_cache(maxsize=65_536)
def _traditional_money(fen: int, locale: str, style: str) -> str:
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, len(str(abs(fen))) + 2)
        figures = format_decimal(Decimal(abs(fen)).scaleb(-2), "#,##0.00", locale=_babel_locale(locale))
    sign = "-" if fen < 0 else ""
    if style == "figures":  # a table cell under a heading that names the currency
        return f"{sign}{figures}"
    return f"人民幣{sign}{figures}元" if style == "renminbi" else f"{sign}¥{figures}"


# Pure and called for every amount on every statement line: Babel's formatting is the cost.
@lru_cache(maxsize=65_536)
def _money(fen: int, locale: str) -> str:
    babel_locale = _babel_locale(locale)
    # Both scaleb and Babel's quantize work at the context precision (28
    # digits by default); widen it locally so no amount is rounded or refused.
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, len(str(abs(fen))) + 2)
        yuan = Decimal(fen).scaleb(-2)
        return format_currency(yuan, "CNY", locale=babel_locale)


# ---------------------------------------------------------------------------
# 大写金额
# ---------------------------------------------------------------------------

# Largest amount we print in capitals: 9,999,999,999,999.99 yuan.
MAX_CAPITALS_FEN: Final = 10**15 - 1

_SIMPLIFIED_DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
_TRADITIONAL_DIGITS: Final = "零壹貳參肆伍陸柒捌玖"
_SMALL_UNITS: Final = ("", "拾", "佰", "仟")  # within one 4-digit section


def amount_in_chinese_capitals(fen: int, traditional: bool = False) -> str:
    """大写金额 per the PBoC rules, e.g. 123456 → "壹仟贰佰叁拾肆元伍角陆分"."""
    _require_fen(fen)
    if abs(fen) > MAX_CAPITALS_FEN:
        raise ValueError(f"amount too large for capitals: {fen} fen (max {MAX_CAPITALS_FEN})")
    text = _capitals_unsigned(abs(fen))
    if fen < 0:
        text = "负" + text
    if traditional:
        text = _to_traditional_capitals(text)
    return text


def _capitals_unsigned(fen: int) -> str:
    if fen == 0:
        return "零元整"
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    text = _integer_capitals(yuan) + "元" if yuan else ""
    if jiao:
        text += _SIMPLIFIED_DIGITS[jiao] + "角"
    elif fen_digit and yuan:
        # PBoC: a zero 角 before a non-zero 分 must be written as 零.
        text += "零"
    if fen_digit:
        text += _SIMPLIFIED_DIGITS[fen_digit] + "分"
    if not cents:
        text += "整"
    return text


def _integer_capitals(n: int) -> str:
    """Capitals for 0 < n < 10**16, without 元."""
    # 亿 and 万 split the number; 零 is needed when the lower part does not
    # fill the position just below the unit word (壹拾万零伍, 壹亿零壹仟).
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            text = _integer_capitals(high) + unit
            if low:
                if low < size // 10:
                    text += "零"
                text += _integer_capitals(low)
            return text
    return _section_capitals(n)


def _section_capitals(n: int) -> str:
    """Capitals for 0 < n < 10000; inner zero runs collapse to one 零."""
    text = ""
    pending_zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += _SIMPLIFIED_DIGITS[digit] + _SMALL_UNITS[position]
    return text


_TO_TRADITIONAL: Final = str.maketrans(
    {
        _SIMPLIFIED_DIGITS[i]: _TRADITIONAL_DIGITS[i]
        for i in range(10)
        if _SIMPLIFIED_DIGITS[i] != _TRADITIONAL_DIGITS[i]
    }
    | {"万": "萬", "亿": "億", "负": "負"}
)


def _to_traditional_capitals(text: str) -> str:
    return text.translate(_TO_TRADITIONAL)


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

_PERIOD_RE: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


@lru_cache(maxsize=16_384)  # Babel's formatting is the cost; a statement prints dozens of dates
def date_long(d: date, locale: str) -> str:
    """Long date: zh "2026年11月22日", en "22 November 2026"."""
    return format_date(d, "long", locale=_babel_locale(locale))


def period_label(period: str, locale: str) -> str:
    """Billing period "2026-11" → zh "2026年11月", en "November 2026"."""
    return _period_label(period, locale)


# Pure, and every charge on a statement has one: Babel's skeleton formatting is the cost.
@lru_cache(maxsize=16_384)
def _period_label(period: str, locale: str) -> str:
    match = _PERIOD_RE.fullmatch(period)
    if match is None:
        raise ValueError(f"period must look like 'YYYY-MM': {period!r}")
    first_day = date(int(match.group(1)), int(match.group(2)), 1)
    return format_skeleton("yMMMM", first_day, locale=_babel_locale(locale))


# ---------------------------------------------------------------------------
# Rates and areas
# ---------------------------------------------------------------------------

_LOWER_DIGITS: Final = "零一二三四五六七八九"
_LOWER_UNITS: Final = ("", "十", "百", "千")
_FRACTION_WORDS: Final = ((100, "百分之"), (1000, "千分之"), (10000, "万分之"))
_TO_TRADITIONAL_LOWER: Final = str.maketrans({"万": "萬", "点": "點"})


def _shift(value: Decimal, places: int) -> Decimal:
    # Moving the exponent by hand is exact; arithmetic would round at the
    # context precision.
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # callers reject NaN and infinity
    return Decimal((sign, digits, exponent + places))


def _plain(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: 0.0300 → "0.03"."""
    if value == 0:
        return "0"
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _require_non_negative_finite(value: Decimal, what: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} must be a finite, non-negative Decimal: {value}")


def rate_text(rate: Decimal, locale: str) -> str:
    """Daily late-fee rate: 0.0003 → zh "万分之三 (0.03%/日)", en "0.03% per day"."""
    _require_non_negative_finite(rate, "rate")
    if rate > 1:
        raise ValueError(f"daily rate above 100% is not plausible: {rate}")
    # Keyed on the exact text: equal Decimals may print differently.
    return _rate_text(str(rate), locale)


@lru_cache(maxsize=4_096)
def _rate_text(rate_digits: str, locale: str) -> str:
    rate = Decimal(rate_digits)
    loc = normalize_locale(locale)
    percent = _plain(_shift(rate, 2))
    if not _is_chinese(loc):
        return f"{percent}% per day"
    words = _chinese_fraction(rate)
    if loc in _TRADITIONAL:
        words = words.translate(_TO_TRADITIONAL_LOWER)
    return f"{words} ({percent}%/日)"


def _chinese_fraction(rate: Decimal) -> str:
    if rate == 0:
        return "零"
    for denominator, word in _FRACTION_WORDS:
        numerator = _shift(rate, len(str(denominator)) - 1)
        if numerator == numerator.to_integral_value():
            return word + _lower_number(int(numerator))
    # Finer than 1/10000: keep 万分之 and spell the decimals (万分之三点五).
    integer_text, _, decimals = _plain(_shift(rate, 4)).partition(".")
    integer_part = int(integer_text)
    head = _lower_number(integer_part) if integer_part else "零"
    return "万分之" + head + "点" + "".join(_LOWER_DIGITS[int(c)] for c in decimals)


def _lower_number(n: int) -> str:
    """Everyday numerals for 0 < n < 10000: 3 → 三, 15 → 十五, 105 → 一百零五."""
    text = ""
    pending_zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += _LOWER_DIGITS[digit] + _LOWER_UNITS[position]
    # Spoken Chinese says 十五, not 一十五, when 十 leads.
    if 10 <= n < 20:
        text = text[1:]
    return text


_AREA_UNITS: Final[dict[str, str]] = {
    "zh_CN": "平方米",
    "zh_TW": "平方公尺",
    "zh_HK": "平方米",
    "en": " m²",
}


def area_text(area: Decimal, locale: str) -> str:
    """Floor area: en "89.50 m²", zh_CN "89.50平方米"."""
    _require_non_negative_finite(area, "area")
    # Keyed on the exact text: 89.50 and 89.500 are equal Decimals but print differently.
    return _area_text(str(area), locale)


# Pure, and every per-m² charge on a statement shows the area: Babel's formatting is the cost.
@lru_cache(maxsize=16_384)
def _area_text(area_digits: str, locale: str) -> str:
    area = Decimal(area_digits)
    loc = normalize_locale(locale)
    number = format_decimal(
        area.copy_abs(),  # exact, and turns Decimal("-0") into "0.00"
        format="#,##0.00",
        locale=_BABEL_LOCALE[loc],
        # Show every digit the caller gave; rounding would misstate the area.
        decimal_quantization=False,
    )
    return number + _AREA_UNITS[loc]
