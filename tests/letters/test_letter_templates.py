"""The letters: every kind in every locale renders to a PDF that says what it must, embeds its fonts
and passes the compliance check; so do the raw templates and the short messages."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from feesvc import formatting
from feesvc.db import BUSINESS_TZ
from feesvc.documents.render import LETTERS_DIR
from feesvc.letters.compliance import check_html, check_text, pdf_to_text, strip_template_tags
from feesvc.letters.content import (
    BELIEFS,
    SHORT_MESSAGE_MAX,
    ComplaintInfo,
    LetterContext,
    PeriodLine,
    PlanTerms,
    PrepayOffer,
    RectificationStep,
    demand_deadline,
    email_subject,
    letter_title,
    render_letter_html,
    render_letter_pdf,
    short_message,
    write_letters_pdf,
)
from feesvc.letters.kinds import LetterKind, template_for
from feesvc.rules.installments import schedule

LOCALES = ("zh_CN", "zh_TW", "zh_HK", "en")
KINDS = tuple(LetterKind)
ISSUED = date(2026, 11, 22)

# ---------------------------------------------------------------------------------------------
# Sample letters
# ---------------------------------------------------------------------------------------------

_PARTIES: dict[str, dict[str, str]] = {
    "zh_CN": {
        "company": "锦绣华苑物业服务有限公司",
        "estate": "锦绣华苑",
        "estate_address": "杭州市西湖区文三路 188 号",
        "owner_name": "张伟",
        "postal_address": "杭州市西湖区文三路 188 号锦绣华苑 3 栋 1502 室",
        "unit_label": "3栋 1502",
        "service": "物业服务费",
        "parking": "车位管理费",
    },
    "zh_TW": {
        "company": "錦繡華苑物業服務有限公司",
        "estate": "錦繡華苑",
        "estate_address": "杭州市西湖區文三路 188 號",
        "owner_name": "陳美玲",
        "postal_address": "杭州市西湖區文三路 188 號錦繡華苑 3 棟 1502 室",
        "unit_label": "3棟 1502",
        "service": "物業管理費",
        "parking": "車位管理費",
    },
    "en": {
        "company": "Jinxiu Garden Property Services Co., Ltd.",
        "estate": "Jinxiu Garden 锦绣华苑",
        "estate_address": "188 Wensan Road, Xihu District, Hangzhou",
        "owner_name": "David Miller",
        "postal_address": "Flat 1502, Block 3, 188 Wensan Road, Xihu District, Hangzhou",
        "unit_label": "Block 3, 1502",
        "service": "Property service fee",
        "parking": "Parking management fee",
    },
}
_PARTIES["zh_HK"] = _PARTIES["zh_TW"]

_SERVICE = (("保洁", 30), ("维修", 15), ("安保巡逻", 120), ("绿化养护", 8))
_STEPS: dict[str, tuple[tuple[datetime, str], ...]] = {
    "zh_CN": (
        (datetime(2026, 11, 22, 16, 0, tzinfo=BUSINESS_TZ), "维修主管到府上和楼道现场查看渗水位置，拍照记录"),
        (datetime(2026, 11, 23, 9, 0, tzinfo=BUSINESS_TZ), "打开楼上的公共管道检修口，更换老化的排水管接头"),
        (datetime(2026, 11, 24, 14, 0, tzinfo=BUSINESS_TZ), "修补并重新粉刷 1502 卫生间顶部受潮的墙面"),
        (datetime(2026, 11, 26, 10, 0, tzinfo=BUSINESS_TZ), "连续观察 48 小时确认不再渗水，请您一起查看"),
    ),
    "zh_TW": (
        (datetime(2026, 11, 22, 16, 0, tzinfo=BUSINESS_TZ), "維修主管到府上及樓道現場查看滲水位置，拍照記錄"),
        (datetime(2026, 11, 23, 9, 0, tzinfo=BUSINESS_TZ), "打開上層公共管道檢修口，更換老化的排水管接頭"),
        (datetime(2026, 11, 24, 14, 0, tzinfo=BUSINESS_TZ), "修補並重新粉刷浴室頂部受潮的牆面"),
        (datetime(2026, 11, 26, 10, 0, tzinfo=BUSINESS_TZ), "連續觀察 48 小時確認不再滲水，請您一起查看"),
    ),
    "en": (
        (
            datetime(2026, 11, 22, 16, 0, tzinfo=BUSINESS_TZ),
            "Our maintenance supervisor inspects the leak in your home and the stairwell",
        ),
        (
            datetime(2026, 11, 23, 9, 0, tzinfo=BUSINESS_TZ),
            "Open the shared pipe duct above and replace the worn drain joint",
        ),
        (datetime(2026, 11, 24, 14, 0, tzinfo=BUSINESS_TZ), "Repair and repaint the damp bathroom ceiling"),
        (
            datetime(2026, 11, 26, 10, 0, tzinfo=BUSINESS_TZ),
            "Check for 48 hours that the leak has stopped; inspect it with us",
        ),
    ),
}
_STEPS["zh_HK"] = _STEPS["zh_TW"]
_COMPLAINT_TEXT = {
    "zh_CN": "卫生间天花板渗水，报修两次都没人来处理。",
    "zh_TW": "浴室天花板滲水，報修兩次都沒有人處理。",
    "en": "Water is leaking through the bathroom ceiling; I reported it twice and nobody came.",
}
_COMPLAINT_TEXT["zh_HK"] = _COMPLAINT_TEXT["zh_TW"]

MONTHLY_FEN = 26850  # 89.50 m² × ¥3.00


def periods_for(locale: str, months: int = 6, late: bool = True, parking: bool = True) -> tuple[PeriodLine, ...]:
    names = _PARTIES[locale]
    lines = []
    for index in range(months):
        period = f"2026-{index + 3:02d}"
        late_fee = (months - index) * 2417 if late else 0
        lines.append(PeriodLine(period, names["service"], MONTHLY_FEN, late_fee))
    if parking:
        lines.append(PeriodLine("2026-07", names["parking"], 15000, 1800 if late else 0))
        lines.append(PeriodLine("2026-08", names["parking"], 15000, 900 if late else 0))
    return tuple(lines)


def sample(kind: LetterKind, locale: str = "zh_CN", **overrides: Any) -> LetterContext:
    """A realistic letter of ``kind``: 6 months of service fee and 2 of parking open, with late fees."""
    names = _PARTIES.get(locale, _PARTIES["en"])
    periods = periods_for(locale) if locale in _PARTIES else periods_for("en")
    fields: dict[str, Any] = {
        "kind": kind,
        "locale": locale,
        "letter_no": f"JXHY-2026-11-{KINDS.index(kind) + 1:06d}",
        "issued_on": ISSUED,
        "company": names["company"],
        "estate": names["estate"],
        "estate_address": names["estate_address"],
        "service_phone": "0571-8888 6666",
        "owner_name": names["owner_name"],
        "postal_address": names["postal_address"],
        "unit_label": names["unit_label"],
        "periods": periods,
        "total_fen": sum(line.total_fen for line in periods),
        "owner_page_url": "https://fees.jxhy.example.cn/owner/",
        "owner_page_pays_online": True,
    }
    offer = PrepayOffer(months=6, percent_off=Decimal("5"), saving_fen=8055)
    if kind is LetterKind.payment_notice:
        fields["periods"] = (PeriodLine("2026-12", names["service"], MONTHLY_FEN),)
        fields["due_on"] = date(2026, 12, 10)
        fields["prepay_offer"] = offer
    elif kind is LetterKind.pre_due_notice:
        fields["periods"] = (PeriodLine("2026-12", names["service"], MONTHLY_FEN),)
        fields["due_on"] = date(2026, 12, 1)
        fields["prepay_offer"] = offer
    elif kind is LetterKind.friendly_reminder:
        fields["periods"] = periods_for(locale, months=1, late=False, parking=False)
        fields["service_summary"] = _SERVICE
        fields["prepay_offer"] = offer
    elif kind is LetterKind.final_demand:
        fields["deadline"] = demand_deadline(ISSUED)
    elif kind in (LetterKind.hardship_offer, LetterKind.plan_agreement):
        principal = sum(line.amount_fen for line in periods)
        installments = tuple(schedule(principal, 3, date(2026, 12, 15)))
        fields["plan"] = PlanTerms(installments=installments, late_fee_treatment="waive_on_completion", grace_days=10)
    elif kind is LetterKind.explanation:
        fields["belief"] = "vacancy"
    elif kind is LetterKind.rectification_reply:
        fields["complaint"] = ComplaintInfo(
            opened=datetime(2026, 11, 21, 19, 40, tzinfo=BUSINESS_TZ),
            category="leak",
            text=_COMPLAINT_TEXT[locale],
            steps=tuple(RectificationStep(at, action) for at, action in _STEPS[locale]),
            contact="Li Min, customer service manager" if locale == "en" else "客服主管 李敏",
        )
    fields.update(overrides)
    totals = sum(line.total_fen for line in fields["periods"])
    if "total_fen" not in overrides:
        fields["total_fen"] = totals
    return LetterContext(**fields)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def pdf_tool(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [tool, *args, str(path), *(["-"] if tool == "pdftotext" else [])], check=True, capture_output=True, text=True
    ).stdout


def read_back(pdf: bytes, tmp_path: Path) -> str:
    """The letter's text as the compliance check reads a PDF: `pdftotext -layout`, with the lines a
    paragraph wrapped joined again (a sentence split at a line end would lose its negation)."""
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    return pdf_to_text(path)


def squeeze(text: str) -> str:
    """Text without any whitespace: `pdftotext -layout` spaces and wraps lines as it likes."""
    return re.sub(r"\s+", "", text)


def assert_contains(text: str, *needles: str) -> None:
    flat = squeeze(text)
    missing = [needle for needle in needles if squeeze(needle) not in flat]
    assert not missing, f"missing {missing} in:\n{text}"


SEALS = {"zh_CN": "（盖章）", "zh_TW": "（蓋章）", "zh_HK": "（蓋章）", "en": "(company seal)"}
CAPITAL_LABEL = {"zh_CN": "大写", "zh_TW": "大寫", "zh_HK": "大寫", "en": "大写"}
LEGAL_WORDS = {
    "zh_CN": ("诉讼", "仲裁"),
    "zh_TW": ("訴訟", "仲裁"),
    "zh_HK": ("訴訟", "仲裁"),
    "en": ("lawsuit", "arbitration"),
}
# Simplified-only characters that must not appear in a Traditional letter's own wording.
SIMPLIFIED_ONLY = "费业缴务请们这个为发说还时对应关资费条约违续开门电"

ARTICLES: dict[str, dict[str, str]] = {
    "vacancy": {"zh_CN": "第九百四十四条", "zh_TW": "第九百四十四條", "en": "Article 944"},
    "unused_service": {"zh_CN": "第九百四十四条", "zh_TW": "第九百四十四條", "en": "Article 944"},
    "public_revenue": {"zh_CN": "第二百八十二条", "zh_TW": "第二百八十二條", "en": "Article 282"},
    "no_contract": {"zh_CN": "第九百三十九条", "zh_TW": "第九百三十九條", "en": "Article 939"},
    "developer_promise": {"zh_CN": "第四百六十五条", "zh_TW": "第四百六十五條", "en": "Article 465"},
    "tenant_pays": {"zh_CN": "第四十一条", "zh_TW": "第四十一條", "en": "Article 41"},
    "fee_increase_without_vote": {"zh_CN": "第九百四十三条", "zh_TW": "第九百四十三條", "en": "Articles 943 and 278"},
    "fee_start": {"zh_CN": "第四十一条", "zh_TW": "第四十一條", "en": "Article 41"},
    "other_funds": {"zh_CN": "第二百八十一条", "zh_TW": "第二百八十一條", "en": "Article 281"},
}


def key_content(ctx: LetterContext) -> list[str]:
    """What the letter of ``ctx`` must show, as it prints."""
    loc = ctx.locale
    money = lambda fen: formatting.money(fen, loc, ctx.money_style)  # noqa: E731
    # Table cells: bare figures under a 人民幣元 heading in Traditional letters that write 人民幣.
    cell = lambda fen: formatting.money(fen, loc, "figures" if ctx.money_style == "renminbi" else ctx.money_style)  # noqa: E731
    day = lambda d: formatting.date_long(d, loc)  # noqa: E731
    label = lambda p: formatting.period_label(p, loc)  # noqa: E731
    needles = [ctx.owner_name, ctx.unit_label, ctx.letter_no, day(ctx.issued_on), letter_title(ctx)]
    kind = ctx.kind
    if kind is not LetterKind.plan_agreement:
        needles.append(SEALS[loc])
    table_kinds = {
        LetterKind.pre_due_notice,
        LetterKind.friendly_reminder,
        LetterKind.formal_reminder,
        LetterKind.final_demand,
        LetterKind.explanation,
        LetterKind.plan_agreement,
    }
    if kind in table_kinds:
        needles += [label(line.period) for line in ctx.periods]
        needles += [line.item_name for line in ctx.periods]
        needles += [cell(line.amount_fen) for line in ctx.periods]
    if kind is not LetterKind.rectification_reply:
        needles.append(money(ctx.total_fen))
    if kind is LetterKind.payment_notice:
        needles += [label(ctx.periods[0].period), day(ctx.due_on)] if ctx.due_on else [label(ctx.periods[0].period)]
    if kind is LetterKind.pre_due_notice and ctx.due_on:
        needles.append(day(ctx.due_on))
    if kind is LetterKind.friendly_reminder:
        needles += [str(count) for _, count in ctx.service_summary]
    if ctx.prepay_offer and kind is not LetterKind.final_demand:
        needles.append(money(ctx.prepay_offer.saving_fen))
    if kind is LetterKind.final_demand:
        assert ctx.deadline is not None
        # Arbitration is named only under the contract's arbitration clause.
        needles += [day(ctx.deadline), CAPITAL_LABEL[loc], *LEGAL_WORDS[loc][: 2 if ctx.dispute.arbitration else 1]]
        needles.append(formatting.amount_in_chinese_capitals(ctx.total_fen, traditional=loc in ("zh_TW", "zh_HK")))
    if kind in (LetterKind.hardship_offer, LetterKind.plan_agreement):
        assert ctx.plan is not None
        for item in ctx.plan.installments:
            needles += [day(item.due_date), cell(item.amount_fen)]
        needles.append(money(ctx.plan.total_fen))
        months = sorted({line.period for line in ctx.periods})
        needles += [label(months[0]), label(months[-1])]
    if kind is LetterKind.plan_agreement:
        assert ctx.plan is not None
        traditional = loc in ("zh_TW", "zh_HK")
        needles.append(formatting.amount_in_chinese_capitals(ctx.total_fen, traditional=traditional))
        needles.append(formatting.amount_in_chinese_capitals(ctx.plan.total_fen, traditional=traditional))
        needles += {"zh_CN": ["甲方", "乙方", "签字", "盖章"], "en": ["Party A", "Party B", "Signature", "Seal"]}.get(
            loc, ["甲方", "乙方", "簽名", "蓋章"]
        )
    if kind is LetterKind.explanation:
        assert ctx.belief is not None
        needles.append(ARTICLES[ctx.belief]["zh_TW" if loc == "zh_HK" else loc])
    if kind is LetterKind.rectification_reply:
        assert ctx.complaint is not None
        needles.append(ctx.complaint.text)
        # A table cell may wrap, and -layout interleaves its lines with the next cell's: check the start.
        needles += [step.action[:24] for step in ctx.complaint.steps]
        needles += [day(step.at.astimezone(BUSINESS_TZ).date()) for step in ctx.complaint.steps]
    return needles


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------

LETTER_TEMPLATES = sorted(LETTERS_DIR.glob("letter_*.html"))


def test_every_kind_has_its_template() -> None:
    names = {path.name for path in LETTER_TEMPLATES}
    assert {template_for(kind) for kind in LetterKind} <= names


@pytest.mark.parametrize("path", LETTER_TEMPLATES, ids=lambda p: p.name)
def test_template_source_passes_the_compliance_check(path: Path) -> None:
    source = strip_template_tags(path.read_text(encoding="utf-8"))
    assert check_html(source) == []


# ---------------------------------------------------------------------------------------------
# Every kind in every locale: rendered, read back, checked
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_letter_pdf_says_what_it_must_and_nothing_forbidden(kind: LetterKind, locale: str, tmp_path: Path) -> None:
    ctx = sample(kind, locale)
    pdf = render_letter_pdf(ctx)
    text = pdf_tool("pdftotext", pdf, tmp_path, "-layout")
    assert_contains(text, *key_content(ctx))
    assert check_text(read_back(pdf, tmp_path)) == []
    if locale in ("zh_TW", "zh_HK"):
        found = sorted({ch for ch in text if ch in SIMPLIFIED_ONLY})
        assert not found, f"Simplified characters in a Traditional letter: {found}"
    if kind is LetterKind.final_demand:
        # The demand states amount, periods, deadline and the legal route: no offer, no link.
        assert ctx.owner_page_url not in text
        assert all(word not in text for word in ("预缴", "預繳", "Prepay", "折"))
    if kind is LetterKind.rectification_reply:
        # No amounts while the complaint is being fixed.
        assert "¥" not in text


@pytest.mark.parametrize("locale", ("zh_CN", "zh_TW", "en"))
@pytest.mark.parametrize("belief", BELIEFS)
def test_explanation_cites_the_article_for_each_belief(belief: str, locale: str, tmp_path: Path) -> None:
    ctx = sample(LetterKind.explanation, locale, belief=belief)
    pdf = render_letter_pdf(ctx)
    text = pdf_tool("pdftotext", pdf, tmp_path, "-layout")
    amount = formatting.money(ctx.total_fen, locale, ctx.money_style)
    assert_contains(text, ARTICLES[belief][locale], ctx.owner_name, amount)
    assert check_text(read_back(pdf, tmp_path)) == []


def test_vacancy_letter_promises_never_to_cut_utilities_and_passes() -> None:
    # The one place a letter mentions cutting water or power: to say we never will.
    sentences = {
        "zh_CN": "我们永远不会用停水、停电的方式催缴物业费，法律不允许，我们也从来不这样做。",
        "zh_TW": "我們永遠不會用停水、停電的方式催繳管理費，法律不允許，我們也從來不這樣做。",
        "en": "we will never cut off your water or electricity to collect a fee.",
    }
    for locale, sentence in sentences.items():
        assert check_text(sentence) == []
        assert squeeze(sentence) in squeeze(
            re.sub(r"<[^>]+>", "", render_letter_html(sample(LetterKind.explanation, locale)))
        ), locale


@pytest.mark.parametrize("locale", ("zh_CN", "zh_TW", "zh_HK", "en"))
def test_fonts_are_embedded_noto_cjk_without_type3(locale: str, tmp_path: Path) -> None:
    pdf = render_letter_pdf(sample(LetterKind.final_demand, locale))
    rows = pdf_tool("pdffonts", pdf, tmp_path).splitlines()[2:]
    assert rows
    assert all(row.split()[-5] == "yes" for row in rows), rows  # the "emb" column
    assert not any("Type 3" in row for row in rows), rows
    assert any("NotoSansCJK" in row.replace("-", "") for row in rows), rows
    if locale == "zh_TW":
        assert any("CJK-TC" in row or "CJKTC" in row for row in rows), rows


def test_html_carries_the_language_tag() -> None:
    assert '<html lang="zh-TW">' in render_letter_html(sample(LetterKind.friendly_reminder, "zh_TW"))
    assert '<html lang="en">' in render_letter_html(sample(LetterKind.friendly_reminder, "en"))


def test_friendly_reminder_for_an_owner_who_is_up_to_date(tmp_path: Path) -> None:
    ctx = sample(LetterKind.friendly_reminder, "zh_CN", periods=(), total_fen=0)
    pdf = render_letter_pdf(ctx)
    text = pdf_tool("pdftotext", pdf, tmp_path, "-layout")
    assert_contains(text, "已经全部缴清", "保洁30次", "九五折", ctx.owner_page_url)
    assert "¥0.00" not in text
    assert check_text(read_back(pdf, tmp_path)) == []


def test_final_demand_without_late_fees_and_a_single_period(tmp_path: Path) -> None:
    periods = (PeriodLine("2026-09", "物业服务费", 26850),)
    ctx = sample(LetterKind.final_demand, "zh_CN", periods=periods, total_fen=26850)
    text = pdf_tool("pdftotext", render_letter_pdf(ctx), tmp_path, "-layout")
    assert_contains(text, "2026年9月", "¥268.50", "贰佰陆拾捌元伍角", "2026年12月7日")
    assert "违约金" not in text


def test_plan_agreement_with_agreed_wording_and_no_grace(tmp_path: Path) -> None:
    base = sample(LetterKind.plan_agreement, "zh_CN")
    assert base.plan is not None
    plan = replace(base.plan, late_fee_treatment="分期期间违约金暂停计算，按期缴清后由项目经理审批免除。", grace_days=0)
    text = pdf_tool("pdftotext", render_letter_pdf(replace(base, plan=plan)), tmp_path, "-layout")
    assert_contains(text, "分期期间违约金暂停计算，按期缴清后由项目经理审批免除。", "到期仍未足额缴纳")


# ---------------------------------------------------------------------------------------------
# The combined print file
# ---------------------------------------------------------------------------------------------


def in_print_order(contexts: list[LetterContext], text: str) -> bool:
    """Every letter's number is in the print file's text, in the order of ``contexts``."""
    positions = [squeeze(text).find(ctx.letter_no) for ctx in contexts]
    return all(p >= 0 for p in positions) and positions == sorted(positions)


def test_write_letters_pdf_keeps_the_order(tmp_path: Path) -> None:
    contexts = [
        sample(kind, locale, letter_no=f"JXHY-2026-11-{i:06d}")
        for i, (kind, locale) in enumerate(
            (kind, locale)
            for kind in (LetterKind.final_demand, LetterKind.friendly_reminder)
            for locale in ("en", "zh_CN", "zh_TW")
        )
    ]
    target = tmp_path / "print.pdf"
    write_letters_pdf(contexts, target)
    pdf = target.read_bytes()
    text = pdf_tool("pdftotext", pdf, tmp_path, "-layout")
    assert in_print_order(contexts, text)
    assert "Pages:           6" in pdf_tool("pdfinfo", pdf, tmp_path)
    # One chunk is written in one piece: one font program per face for the whole file.
    assert len(pdf_tool("pdffonts", pdf, tmp_path).splitlines()[2:]) == 4  # SC and TC, regular and bold


def test_write_letters_pdf_in_chunks_joins_the_same_pages_in_order(tmp_path: Path) -> None:
    # Seven letters in chunks of two: four chunks, rendered by the process pool and joined with pdfunite.
    contexts = [
        sample(kind, locale, letter_no=f"JXHY-2026-11-{i:06d}")
        for i, (kind, locale) in enumerate(
            [
                (LetterKind.final_demand, "zh_CN"),
                (LetterKind.plan_agreement, "en"),  # two pages
                (LetterKind.friendly_reminder, "zh_TW"),
                (LetterKind.explanation, "zh_HK"),  # two pages
                (LetterKind.formal_reminder, "en"),
                (LetterKind.hardship_offer, "zh_CN"),
                (LetterKind.pre_due_notice, "zh_TW"),
            ]
        )
    ]
    whole, chunked = tmp_path / "whole.pdf", tmp_path / "chunked.pdf"
    write_letters_pdf(contexts, whole)
    write_letters_pdf(contexts, chunked, chunk_size=2)

    texts = [pdf_tool("pdftotext", path.read_bytes(), tmp_path, "-layout") for path in (whole, chunked)]
    assert in_print_order(contexts, texts[1])
    # Page for page the same letters, page numbers included ("1 / 2" stays per letter).
    assert [squeeze(page) for page in texts[1].split("\f")] == [squeeze(page) for page in texts[0].split("\f")]
    assert "Pages:           9" in pdf_tool("pdfinfo", chunked.read_bytes(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf" and p.name != "letter.pdf") == [
        "chunked.pdf",
        "whole.pdf",
    ]  # no chunk files left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_write_letters_pdf_needs_a_letter(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_letters_pdf([], tmp_path / "print.pdf")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Short messages and e-mail subjects
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_short_message_fits_and_passes(kind: LetterKind, locale: str) -> None:
    ctx = sample(kind, locale)
    text = short_message(ctx)
    assert len(text) <= SHORT_MESSAGE_MAX, (len(text), text)
    assert check_text(text) == []
    assert ctx.owner_page_url in text
    assert ctx.owner_name in text
    if kind is LetterKind.final_demand:
        assert ctx.deadline is not None
        assert formatting.date_long(ctx.deadline, locale) in text
        assert formatting.money(ctx.total_fen, locale, ctx.money_style) in text
        assert (LEGAL_WORDS[locale][1] in text) is ctx.dispute.arbitration


def test_short_message_drops_details_for_long_names_and_refuses_absurd_links() -> None:
    long_company = "锦绣华苑物业服务有限公司杭州西湖分公司第三项目部客户服务中心" * 2
    ctx = sample(LetterKind.formal_reminder, "zh_CN", company=long_company)
    text = short_message(ctx)
    assert len(text) <= SHORT_MESSAGE_MAX and ctx.owner_page_url in text
    with pytest.raises(ValueError, match="owner page link too long"):
        short_message(sample(LetterKind.formal_reminder, "zh_CN", owner_page_url="https://x.example.cn/" + "a" * 220))


def test_email_subject_names_the_letter() -> None:
    ctx = sample(LetterKind.final_demand, "zh_CN")
    assert email_subject(ctx) == "催告函｜锦绣华苑 3栋 1502（JXHY-2026-11-000005）"
    en = sample(LetterKind.explanation, "en", belief="public_revenue")
    assert email_subject(en).startswith("About Shared-Area Income and Your Fee – ")


# ---------------------------------------------------------------------------------------------
# The context refuses letters that would be wrong
# ---------------------------------------------------------------------------------------------


def test_context_checks() -> None:
    with pytest.raises(ValueError, match="deadline"):
        sample(LetterKind.final_demand, deadline=None)
    with pytest.raises(ValueError, match="deadline"):
        sample(LetterKind.final_demand, deadline=ISSUED)
    with pytest.raises(ValueError, match="total_fen"):
        sample(LetterKind.formal_reminder, total_fen=1)
    with pytest.raises(ValueError, match="belief"):
        sample(LetterKind.explanation, belief="free_parking")
    with pytest.raises(ValueError, match="plan"):
        sample(LetterKind.plan_agreement, plan=None)
    with pytest.raises(ValueError, match="complaint"):
        sample(LetterKind.rectification_reply, complaint=None)
    with pytest.raises(ValueError, match="due_on"):
        sample(LetterKind.pre_due_notice, due_on=None)
    with pytest.raises(ValueError, match="unsupported locale"):
        sample(LetterKind.formal_reminder, locale="fr")
    # The brief's name for the belief is accepted too.
    assert sample(LetterKind.explanation, belief="fee_rise_without_vote").belief == "fee_increase_without_vote"
    assert sample(LetterKind.formal_reminder, locale="zh-Hant").locale == "zh_TW"
    assert demand_deadline(ISSUED) == date(2026, 12, 7)


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_context_survives_storage_as_json(kind: LetterKind) -> None:
    # The reminder run stores each letter's context (msgspec) to print it again later, unchanged.
    ctx = sample(kind, "zh_TW")
    stored = json.loads(json.dumps(msgspec.to_builtins(ctx)))
    again = msgspec.convert(stored, LetterContext)
    assert again == ctx
    assert render_letter_html(again) == render_letter_html(ctx)


# ---------------------------------------------------------------------------------------------
# Speed (printed, not asserted): targets ≥ 20 letters/s batched, < 300 ms for one letter
# ---------------------------------------------------------------------------------------------


def test_render_speed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one_page = (
        LetterKind.friendly_reminder,
        LetterKind.pre_due_notice,
        LetterKind.final_demand,
        LetterKind.hardship_offer,
        LetterKind.rectification_reply,
        LetterKind.formal_reminder,
    )
    contexts = [
        sample(one_page[i % len(one_page)], "zh_CN", owner_name=f"业主{i:02d}", letter_no=f"JXHY-2026-11-{i:06d}")
        for i in range(50)
    ]
    render_letter_pdf(contexts[0])  # warm-up: imports, fonts, templates
    write_letters_pdf(contexts[:3], tmp_path / "warm.pdf")
    wall, cpu = time.perf_counter(), time.process_time()
    write_letters_pdf(contexts, tmp_path / "print.pdf")
    pdf = (tmp_path / "print.pdf").read_bytes()
    batch_wall, batch_cpu = time.perf_counter() - wall, time.process_time() - cpu
    singles = []
    for ctx in contexts[:5]:
        wall, cpu = time.perf_counter(), time.process_time()
        render_letter_pdf(ctx)
        singles.append((time.perf_counter() - wall, time.process_time() - cpu))
    single_wall = sorted(w for w, _ in singles)[len(singles) // 2]
    single_cpu = sorted(c for _, c in singles)[len(singles) // 2]
    with capsys.disabled():
        print(
            f"\nletters: 50 in one file {batch_wall:.2f} s wall = {50 / batch_wall:.1f} letters/s "
            f"({batch_cpu:.2f} s CPU = {50 / batch_cpu:.1f} letters/s, {len(pdf) // 1024} KiB); "
            f"one letter {single_wall * 1000:.0f} ms wall, {single_cpu * 1000:.0f} ms CPU (median of 5)"
        )
