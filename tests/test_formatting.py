"""Tests for feesvc.formatting: fixed examples per locale plus property tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from babel.numbers import parse_decimal
from hypothesis import given
from hypothesis import strategies as st

from feesvc.formatting import (
    MAX_CAPITALS_FEN,
    SUPPORTED_LOCALES,
    amount_in_chinese_capitals,
    area_text,
    date_long,
    money,
    normalize_locale,
    period_label,
    rate_text,
)

# ---------------------------------------------------------------------------
# normalize_locale
# ---------------------------------------------------------------------------


def test_supported_locales_are_exactly_the_four() -> None:
    assert SUPPORTED_LOCALES == ("zh_CN", "zh_TW", "zh_HK", "en")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zh_CN", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_cn", "zh_CN"),
        ("ZH-cn", "zh_CN"),
        (" zh_CN ", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh_TW", "zh_TW"),
        ("zh-tw", "zh_TW"),
        ("zh-Hant", "zh_TW"),
        ("zh-Hant-TW", "zh_TW"),
        ("zh_HK", "zh_HK"),
        ("zh-hk", "zh_HK"),
        ("zh-Hant-HK", "zh_HK"),
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("en_US.UTF-8", "en"),
    ],
)
def test_normalize_locale_accepts_common_spellings(raw: str, expected: str) -> None:
    assert normalize_locale(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "  ",
        "fr",
        "ja-JP",
        "de_DE",
        "zh-SG",
        "zh_MO",
        "zh-Hans-TW",
        "zh-Hant-CN",
        "zh-",
        "english",
        "zh_CN_x",
    ],
)
def test_normalize_locale_rejects_unsupported(raw: str) -> None:
    with pytest.raises(ValueError, match="unsupported locale"):
        normalize_locale(raw)


# ---------------------------------------------------------------------------
# money
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "locale", "expected"),
    [
        (123450, "zh_CN", "¥1,234.50"),
        (123450, "zh_TW", "CN¥1,234.50"),
        (123450, "zh_HK", "CN¥1,234.50"),
        (123450, "en", "CN¥1,234.50"),
        (-123450, "zh_CN", "-¥1,234.50"),
        (-123450, "zh_TW", "-CN¥1,234.50"),
        (-123450, "en", "-CN¥1,234.50"),
        (0, "zh_CN", "¥0.00"),
        (1, "zh_CN", "¥0.01"),
        (-5, "zh_HK", "-CN¥0.05"),
        (100, "en", "CN¥1.00"),
        (999_999_999_999_999, "zh_CN", "¥9,999,999,999,999.99"),
        # Beyond the default 28-digit decimal context: must stay exact.
        (10**40 + 1, "zh_CN", "¥100,000,000,000,000,000,000,000,000,000,000,000,000.01"),
        (123450, "zh-CN", "¥1,234.50"),
        (123450, "en-US", "CN¥1,234.50"),
    ],
)
def test_money(fen: int, locale: str, expected: str) -> None:
    assert money(fen, locale) == expected


@pytest.mark.parametrize("bad", [1.5, True, Decimal("1"), "100"])
def test_money_rejects_non_int(bad: object) -> None:
    with pytest.raises(TypeError):
        money(bad, "zh_CN")  # type: ignore[arg-type]


def test_money_rejects_unsupported_locale() -> None:
    with pytest.raises(ValueError, match="unsupported locale"):
        money(100, "fr_FR")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_zh_cn_round_trips_through_babel(fen: int) -> None:
    text = money(fen, "zh_CN")
    assert text.count("¥") == 1
    parsed = parse_decimal(text.replace("¥", ""), locale="zh_CN", strict=True)
    assert parsed == Decimal(fen) / 100
    assert parsed * 100 == fen


# ---------------------------------------------------------------------------
# amount_in_chinese_capitals
# ---------------------------------------------------------------------------

CAPITALS_EXAMPLES = [
    (0, "零元整"),
    (1, "壹分"),
    (5, "伍分"),
    (50, "伍角"),
    (56, "伍角陆分"),
    (100, "壹元整"),
    (1000, "壹拾元整"),
    (1050, "壹拾元伍角"),
    (1005, "壹拾元零伍分"),
    (1100, "壹拾壹元整"),
    (12_000, "壹佰贰拾元整"),
    (120_000, "壹仟贰佰元整"),
    (123_456, "壹仟贰佰叁拾肆元伍角陆分"),
    # Examples from the PBoC bill-filling rules:
    (140_950, "壹仟肆佰零玖元伍角"),
    (600_714, "陆仟零柒元壹角肆分"),
    (168_032, "壹仟陆佰捌拾元叁角贰分"),
    (10_700_053, "壹拾万柒仟元伍角叁分"),
    (1_640_902, "壹万陆仟肆佰零玖元零贰分"),
    (32_504, "叁佰贰拾伍元零肆分"),
    # Zero handling around 万 and 亿:
    (10_000_500, "壹拾万零伍元整"),
    (100_000_000, "壹佰万元整"),
    (100_100_000, "壹佰万壹仟元整"),
    (100_010_000, "壹佰万零壹佰元整"),
    (1_000_100_000, "壹仟万壹仟元整"),
    (1_000_010_000, "壹仟万零壹佰元整"),
    (10_000_000_000, "壹亿元整"),
    (10_000_100_000, "壹亿零壹仟元整"),
    (10_001_000_000, "壹亿零壹万元整"),
    (10_010_000_000, "壹亿零壹拾万元整"),
    (10_100_000_000, "壹亿零壹佰万元整"),
    (11_000_000_000, "壹亿壹仟万元整"),
    (10_000_000_100, "壹亿零壹元整"),
    (100_000_000_000_000, "壹万亿元整"),
    (100_010_000_000_000, "壹万零壹亿元整"),
    (100_000_000_000_100, "壹万亿零壹元整"),
    (
        MAX_CAPITALS_FEN,
        "玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
    (-123_456, "负壹仟贰佰叁拾肆元伍角陆分"),
    (-5, "负伍分"),
]


@pytest.mark.parametrize(("fen", "expected"), CAPITALS_EXAMPLES)
def test_capitals_examples(fen: int, expected: str) -> None:
    assert amount_in_chinese_capitals(fen) == expected


@pytest.mark.parametrize(
    ("fen", "expected"),
    [
        (123_456, "壹仟貳佰參拾肆元伍角陸分"),
        (10_000_500, "壹拾萬零伍元整"),
        (10_000_100_000, "壹億零壹仟元整"),
        (100_000_000_000_000, "壹萬億元整"),
        (-3_200, "負參拾貳元整"),
        (0, "零元整"),
    ],
)
def test_capitals_traditional_examples(fen: int, expected: str) -> None:
    assert amount_in_chinese_capitals(fen, traditional=True) == expected


@pytest.mark.parametrize("fen", [MAX_CAPITALS_FEN + 1, -(MAX_CAPITALS_FEN + 1), 10**20])
def test_capitals_reject_out_of_range(fen: int) -> None:
    with pytest.raises(ValueError, match="too large"):
        amount_in_chinese_capitals(fen)


@pytest.mark.parametrize("bad", [12.5, False, Decimal("12.50")])
def test_capitals_reject_non_int(bad: object) -> None:
    with pytest.raises(TypeError):
        amount_in_chinese_capitals(bad)  # type: ignore[arg-type]


def test_max_capitals_is_the_documented_limit() -> None:
    assert MAX_CAPITALS_FEN == 999_999_999_999_999  # 9,999,999,999,999.99 yuan


# An independent reader for capitals: walks the text left to right the way a
# cashier would, so it shares no code or structure with the writer.
_DIGIT_VALUE = {
    "零": 0, "壹": 1, "贰": 2, "貳": 2, "叁": 3, "參": 3, "肆": 4,
    "伍": 5, "陆": 6, "陸": 6, "柒": 7, "捌": 8, "玖": 9,
}  # fmt: skip
_SMALL_UNIT_VALUE = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capitals(text: str) -> int:
    sign = 1
    if text[0] in "负負":
        sign = -1
        text = text[1:]
    if text.endswith("整"):
        text = text[:-1]
    yi = wan = section = digit = 0
    yuan = jiao = fen = 0
    for ch in text:
        if ch in _DIGIT_VALUE:
            digit = _DIGIT_VALUE[ch]
        elif ch in _SMALL_UNIT_VALUE:
            assert digit, f"unit {ch} without a digit in {text}"
            section += digit * _SMALL_UNIT_VALUE[ch]
            digit = 0
        elif ch in "万萬":
            wan = (section + digit) * 10_000
            section = digit = 0
        elif ch in "亿億":
            yi = (wan + section + digit) * 100_000_000
            wan = section = digit = 0
        elif ch == "元":
            yuan = yi + wan + section + digit
            yi = wan = section = digit = 0
        elif ch == "角":
            jiao, digit = digit, 0
        elif ch == "分":
            fen, digit = digit, 0
        else:
            raise AssertionError(f"unexpected character {ch!r} in {text}")
    return sign * (yuan * 100 + jiao * 10 + fen)


def test_parser_reads_known_examples() -> None:
    # The reader itself must be right before it can judge the writer.
    assert parse_capitals("壹仟贰佰叁拾肆元伍角陆分") == 123_456
    assert parse_capitals("壹万零壹亿元整") == 100_010_000_000_000
    assert parse_capitals("负伍分") == -5
    assert parse_capitals("零元整") == 0


SIMPLIFIED_CHARS = set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整负")
TRADITIONAL_CHARS = set("零壹貳參肆伍陸柒捌玖拾佰仟萬億元角分整負")
fen_in_range = st.integers(min_value=0, max_value=MAX_CAPITALS_FEN)
fen_up_to_1e13 = st.integers(min_value=0, max_value=10**13)


@given(st.one_of(fen_up_to_1e13, fen_in_range))
def test_capitals_parse_back(fen: int) -> None:
    assert parse_capitals(amount_in_chinese_capitals(fen)) == fen
    assert parse_capitals(amount_in_chinese_capitals(fen, traditional=True)) == fen
    if fen:
        assert parse_capitals(amount_in_chinese_capitals(-fen)) == -fen


@given(st.integers(min_value=-MAX_CAPITALS_FEN, max_value=MAX_CAPITALS_FEN))
def test_capitals_use_only_allowed_characters(fen: int) -> None:
    assert set(amount_in_chinese_capitals(fen)) <= SIMPLIFIED_CHARS
    assert set(amount_in_chinese_capitals(fen, traditional=True)) <= TRADITIONAL_CHARS


@given(fen_in_range)
def test_capitals_follow_pboc_layout(fen: int) -> None:
    text = amount_in_chinese_capitals(fen)
    yuan, cents = divmod(fen, 100)
    # 整 exactly when the amount ends at 元.
    assert text.endswith("整") == (cents == 0)
    assert text.count("整") == (1 if cents == 0 else 0)
    # 元 is written whenever there are whole yuan (or the amount is zero).
    assert ("元" in text) == (yuan > 0 or fen == 0)
    if fen == 0:
        return
    # Zero runs collapse, and 零 never leads or sits before a unit word.
    assert "零零" not in text
    assert not text.startswith("零")
    for unit in "万亿元角分整":
        assert "零" + unit not in text
    # Banking style: every 拾 carries its digit (壹拾, never bare 拾).
    for i, ch in enumerate(text):
        if ch in "拾佰仟":
            assert i > 0
            assert text[i - 1] in "壹贰叁肆伍陆柒捌玖"
    # A zero 角 between whole yuan and a non-zero 分 is written as 零.
    if yuan and cents and cents < 10:
        assert text.endswith("元零" + text[-2] + "分")


@given(fen_in_range)
def test_capitals_traditional_is_a_character_swap(fen: int) -> None:
    swap = str.maketrans("贰叁陆万亿", "貳參陸萬億")
    simplified = amount_in_chinese_capitals(fen)
    assert amount_in_chinese_capitals(fen, traditional=True) == simplified.translate(swap)


# ---------------------------------------------------------------------------
# Dates and periods
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh_CN", "2026年11月22日"),
        ("zh_TW", "2026年11月22日"),
        ("zh_HK", "2026年11月22日"),
        ("en", "22 November 2026"),
        ("en-US", "22 November 2026"),
    ],
)
def test_date_long(locale: str, expected: str) -> None:
    assert date_long(date(2026, 11, 22), locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("zh_CN", "2026年1月5日"), ("zh_TW", "2026年1月5日"), ("en", "5 January 2026")],
)
def test_date_long_single_digit_day_and_month(locale: str, expected: str) -> None:
    assert date_long(date(2026, 1, 5), locale) == expected


@pytest.mark.parametrize(
    ("period", "locale", "expected"),
    [
        ("2026-11", "zh_CN", "2026年11月"),
        ("2026-11", "zh_TW", "2026年11月"),
        ("2026-11", "zh_HK", "2026年11月"),
        ("2026-11", "en", "November 2026"),
        ("2026-01", "zh_CN", "2026年1月"),
        ("2026-01", "en", "January 2026"),
        ("1999-12", "en-GB", "December 1999"),
    ],
)
def test_period_label(period: str, locale: str, expected: str) -> None:
    assert period_label(period, locale) == expected


@pytest.mark.parametrize(
    "bad", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", "", " 2026-11"]
)
def test_period_label_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_label(bad, "zh_CN")


# ---------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "locale", "expected"),
    [
        ("0.0003", "zh_CN", "万分之三 (0.03%/日)"),
        ("0.0003", "zh_TW", "萬分之三 (0.03%/日)"),
        ("0.0003", "zh_HK", "萬分之三 (0.03%/日)"),
        ("0.0003", "en", "0.03% per day"),
        ("0.000300", "zh_CN", "万分之三 (0.03%/日)"),
        ("3E-4", "en", "0.03% per day"),
        ("0.0005", "zh_CN", "万分之五 (0.05%/日)"),
        ("0.001", "zh_CN", "千分之一 (0.1%/日)"),
        ("0.001", "en", "0.1% per day"),
        ("0.01", "zh_CN", "百分之一 (1%/日)"),
        ("0.1", "zh_CN", "百分之十 (10%/日)"),
        ("0.0015", "zh_CN", "万分之十五 (0.15%/日)"),
        ("0.0105", "zh_CN", "万分之一百零五 (1.05%/日)"),
        ("0.00035", "zh_CN", "万分之三点五 (0.035%/日)"),
        ("0.00035", "zh_TW", "萬分之三點五 (0.035%/日)"),
        ("0.00035", "en", "0.035% per day"),
        ("0.00001", "zh_CN", "万分之零点一 (0.001%/日)"),
        ("0", "zh_CN", "零 (0%/日)"),
        ("0", "en", "0% per day"),
        ("1", "zh_CN", "百分之一百 (100%/日)"),
        ("1", "en", "100% per day"),
        # More digits than the default 28-digit context: still exact.
        ("0.000123456789012345678901234567891", "en", "0.0123456789012345678901234567891% per day"),
    ],
)
def test_rate_text(rate: str, locale: str, expected: str) -> None:
    assert rate_text(Decimal(rate), locale) == expected


@pytest.mark.parametrize("bad", ["-0.0003", "1.0001", "NaN", "Infinity"])
def test_rate_text_rejects_implausible(bad: str) -> None:
    with pytest.raises(ValueError):
        rate_text(Decimal(bad), "zh_CN")


def test_rate_text_rejects_float() -> None:
    with pytest.raises(TypeError):
        rate_text(0.0003, "zh_CN")  # type: ignore[arg-type]


@given(st.decimals(min_value=0, max_value=1, places=8, allow_nan=False, allow_infinity=False))
def test_rate_text_en_percent_is_exact(rate: Decimal) -> None:
    text = rate_text(rate, "en")
    assert text.endswith("% per day")
    number = text.removesuffix("% per day")
    assert Decimal(number) == rate * 100
    # Plain digits, trailing zeros stripped: "0.03", never "3E-2" or "0.0300".
    assert "E" not in number
    assert not (("." in number) and number.endswith(("0", ".")))


# ---------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "locale", "expected"),
    [
        ("89.50", "zh_CN", "89.50平方米"),
        ("89.5", "zh_CN", "89.50平方米"),
        ("89.50", "zh_HK", "89.50平方米"),
        ("89.50", "zh_TW", "89.50平方公尺"),
        ("89.50", "en", "89.50 m²"),
        ("89", "en", "89.00 m²"),
        ("1289.555", "zh_CN", "1,289.555平方米"),
        ("12345.6", "en", "12,345.60 m²"),
        ("0", "zh_CN", "0.00平方米"),
        ("-0", "en", "0.00 m²"),
    ],
)
def test_area_text(area: str, locale: str, expected: str) -> None:
    assert area_text(Decimal(area), locale) == expected


@pytest.mark.parametrize("bad", ["-1", "NaN", "Infinity"])
def test_area_text_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        area_text(Decimal(bad), "zh_CN")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_function_accepts_every_supported_locale(locale: str) -> None:
    assert money(1, locale).endswith("0.01")
    assert "2026" in date_long(date(2026, 11, 22), locale)
    assert "2026" in period_label("2026-11", locale)
    assert "0.03%" in rate_text(Decimal("0.0003"), locale)
    assert area_text(Decimal("1"), locale).startswith("1.00")
