"""Issue 16, items 3 and 8: letters say only what the record shows, and say how to pay and dispute.

Each statement is checked both ways: it appears when its fact or setting is recorded and is absent
when it is not. Letters are read back from their PDF (pdftotext), messages as text.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from feesvc import formatting
from feesvc.letters.compliance import check_html, check_text, pdf_to_text
from feesvc.letters.content import (
    DisputeWays,
    FeeStandardLine,
    PaymentWays,
    PeriodLine,
    render_letter_html,
    render_letter_pdf,
    short_message,
)
from feesvc.letters.kinds import LetterKind
from feesvc.letters.models import Letter
from feesvc.letters.policy import paper_arrives_by
from feesvc.letters.recipients import Reach, reach
from feesvc.letters.runs import stored_context
from feesvc.registry.models import Channel, Owner
from tests.letters.test_letter_templates import KINDS, LOCALES, sample
from tests.letters.test_reminder_runs import estate_in_arrears, run
from tests.support import Api, problem

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

PAY = PaymentWays(
    desk_address="锦绣华苑 5 栋底商 101 物业服务中心",
    desk_hours="周一至周日 8:30-18:00",
    bank_account_name="锦绣华苑物业服务有限公司",
    bank_name="中国工商银行杭州文三路支行",
    bank_account_no="1202 0210 0910 0123 456",
)
DISPUTE = DisputeWays(contact="客服主管 李敏", complaint_channel="西湖区住房和城乡建设局物业科（0571-87001234）")
STANDARD = FeeStandardLine("物业服务费", "3.00 元/平方米·月", "前期物业服务合同 第5条", date(2024, 1, 1))
CLAUSE = "《前期物业服务合同》第十二条"


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(ctx: Any, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(render_letter_pdf(ctx))
    return flat(pdf_to_text(path))


# ---------------------------------------------------------------------------------------------
# How to pay and how to dispute: each statement exactly when recorded
# ---------------------------------------------------------------------------------------------

# The plan agreement is a contract form signed at the desk; its payment clauses are its own.
MONEY_KINDS = [k for k in KINDS if k not in (LetterKind.rectification_reply, LetterKind.plan_agreement)]


@needs_poppler
@pytest.mark.parametrize("kind", MONEY_KINDS, ids=str)
def test_how_to_pay_appears_exactly_when_recorded(kind: LetterKind, tmp_path: Path) -> None:
    bare = pdf_text(sample(kind, "zh_CN", owner_page_url=None), tmp_path)
    for absent in ("银行转账", "办公时间", "在线缴纳", "12020210", "http"):
        assert absent not in bare, (kind, absent)
    online = "https://pay.jxhy.example.cn/estate/JXHY"
    ctx = sample(kind, "zh_CN", owner_page_url=None, payment=replace(PAY, online_url=online))
    text = pdf_text(ctx, tmp_path)
    for present in ("银行转账", "锦绣华苑物业服务有限公司", "中国工商银行杭州文三路支行", "1202021009100123456"):
        assert present in text, (kind, present)
    assert flat(PAY.desk_hours) in text and flat(PAY.desk_address) in text
    assert "在线缴纳" in text and online in text
    assert check_html(render_letter_html(ctx)) == []


@needs_poppler
def test_final_demand_states_basis_dispute_and_arbitration_only_when_recorded(tmp_path: Path) -> None:
    plain = sample(LetterKind.final_demand, "zh_CN")
    text = pdf_text(plain, tmp_path)
    assert "仲裁" not in text and "收费依据" not in text and "违约金按" not in text
    assert "李敏" not in text and "住房和城乡建设局" not in text
    assert "如您对上述金额有异议" in text  # the service phone is on record: whom to call
    assert "提起诉讼" in text and flat(formatting.date_long(plain.deadline, "zh_CN")) in text  # type: ignore[arg-type]

    full = replace(plain, fee_standards=(STANDARD,), late_fee_clause=CLAUSE, dispute=replace(DISPUTE, arbitration=True))
    text = pdf_text(full, tmp_path)
    assert "或申请仲裁" in text
    assert "收费依据" in text and flat(STANDARD.rate_text) in text and STANDARD.decision_ref.replace(" ", "") in text
    assert "已于2024年1月1日公示" in text
    assert f"违约金按{CLAUSE}的约定计算" in text
    assert "李敏" in text and "西湖区住房和城乡建设局物业科" in text
    assert check_html(render_letter_html(full)) == []
    # The late-fee clause is the basis of late fees only: a demand without late fees does not cite it.
    no_late = tuple(PeriodLine(p.period, p.item_name, p.amount_fen) for p in plain.periods)
    text = pdf_text(replace(full, periods=no_late, total_fen=sum(p.amount_fen for p in no_late)), tmp_path)
    assert CLAUSE not in text and "收费依据" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_messages_link_to_payment_only_when_online_payment_is_set_up(locale: str) -> None:
    for kind in KINDS:
        bare = short_message(sample(kind, locale, owner_page_url=None))
        assert "http" not in bare and "在线" not in bare and "線上" not in bare and "online" not in bare, bare
        url = "https://pay.jxhy.example.cn/e/1"
        paid = short_message(sample(kind, locale, owner_page_url=None, payment=PaymentWays(online_url=url)))
        assert url in paid and check_text(paid) == []
    demand = sample(LetterKind.final_demand, locale)
    assert "仲裁" not in short_message(demand) and "arbitration" not in short_message(demand)
    with_clause = short_message(replace(demand, dispute=DisputeWays(arbitration=True)))
    assert "仲裁" in with_clause or "arbitration" in with_clause


# ---------------------------------------------------------------------------------------------
# Traditional letters: Traditional throughout, money as the estate chooses, never CN¥
# ---------------------------------------------------------------------------------------------

TABLE_KINDS = {
    LetterKind.pre_due_notice,
    LetterKind.friendly_reminder,
    LetterKind.formal_reminder,
    LetterKind.final_demand,
    LetterKind.explanation,
    LetterKind.plan_agreement,
}
SIMPLIFIED = "费业缴务请们这个为发说还时对应关资条约违续开门电区栋号铺锦绣华银户账"


@needs_poppler
@pytest.mark.parametrize("locale", ["zh_TW", "zh_HK"])
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_traditional_letters_convert_recorded_text_and_never_print_cn_yen(
    kind: LetterKind, locale: str, tmp_path: Path
) -> None:
    # What the record holds is Simplified: names, addresses, fee names, settings.
    simplified = sample(kind, "zh_CN")
    ctx = replace(
        simplified,
        locale=locale,
        payment=PAY,
        dispute=DISPUTE,
        fee_standards=(STANDARD,),
        late_fee_clause=CLAUSE,
        periods=tuple(replace(p, item_name="物业服务费（商铺）") for p in simplified.periods),
    )
    text = pdf_text(ctx, tmp_path)
    found = sorted({ch for ch in text if ch in SIMPLIFIED})
    assert not found, f"Simplified characters in a {locale} letter: {found}"
    assert "CN¥" not in text
    if kind is not LetterKind.rectification_reply:
        assert "人民幣" in text and formatting.money(ctx.total_fen, locale, "renminbi") in text
    if kind in TABLE_KINDS:
        assert "物業服務費（商鋪）" in text
    symbol = pdf_text(replace(ctx, money_style="symbol"), tmp_path)
    assert "CN¥" not in symbol
    if kind is not LetterKind.rectification_reply:
        assert formatting.money(ctx.total_fen, locale, "symbol") in symbol
    message = short_message(ctx)
    assert "CN¥" not in message and not {ch for ch in message if ch in SIMPLIFIED}, message


def test_money_styles() -> None:
    assert formatting.money(123456, "zh_TW", "renminbi") == "人民幣1,234.56元"
    assert formatting.money(123456, "zh_HK", "symbol") == "¥1,234.56"
    assert formatting.money(123456, "zh_CN", "renminbi") == "¥1,234.56"  # the mainland's own sign
    with pytest.raises(ValueError, match="money style"):
        formatting.money(1, "zh_TW", "yen")


# ---------------------------------------------------------------------------------------------
# Pre-due notices: on paper only when the paper arrives by the due date
# ---------------------------------------------------------------------------------------------


def test_paper_arrives_by_the_due_date_only_with_enough_lead_time() -> None:
    day = date(2026, 11, 28)
    assert paper_arrives_by(day, date(2026, 12, 3), 5)
    assert not paper_arrives_by(day, date(2026, 12, 1), 5)
    assert not paper_arrives_by(day, None, 0)


def test_a_late_pre_due_notice_goes_electronically_or_not_at_all() -> None:
    paper_with_phone = Owner(name="张伟", phone="13800000000", preferred_channel=Channel.paper)
    paper_only = Owner(name="李娜", preferred_channel=Channel.paper)
    email = Owner(name="王芳", email="w@example.test", preferred_channel=Channel.email)
    pre = LetterKind.pre_due_notice
    assert reach(pre, paper_with_phone, False, paper_in_time=True) == Reach("paper", None)
    assert reach(pre, paper_with_phone, False, paper_in_time=False) == Reach("sms", "sms")
    assert reach(pre, paper_only, False, paper_in_time=False) is None
    assert reach(pre, email, False, paper_in_time=False) == Reach("email", "email")
    # Other kinds are about overdue money: paper is never too late for them.
    assert reach(LetterKind.formal_reminder, paper_only, False, paper_in_time=False) == Reach("paper", None)


# ---------------------------------------------------------------------------------------------
# The reminder run: the unit's own fee names, the estate's settings, no statement link
# ---------------------------------------------------------------------------------------------

LETTER_SETTINGS = {
    "desk_hours": "周一至周日 8:30-18:00",
    "bank_account_name": "安居物业服务有限公司",
    "bank_name": "中国建设银行杭州分行",
    "bank_account_no": "3305 0161 6200 0000 1234",
    "dispute_contact": "客服主管 李敏",
    "complaint_channel": "西湖区住建局 0571-12345",
    "late_fee_clause": "《物业服务合同》第十二条",
    "arbitration_clause": True,
    "money_style": "symbol",
    "paper_lead_days": 3,
}


async def test_run_letters_name_the_units_own_fee_and_carry_the_estates_settings(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await estate_in_arrears(api)
    # A shop standard for the same item, recorded after the homes' one.
    shop = {
        "unit_use": "commercial",
        "item": "service_fee",
        "item_name": "物业服务费（商铺）",
        "basis": "per_m2_month",
        "rate": "6.00",
        "effective_from": "2024-01-01",
        "posted_on": "2024-01-01",
        "decision_kind": "contract",
        "decision_ref": "前期物业服务合同 第6条",
    }
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/fee-standards", shop))
    current = await api.ok(await api.get(f"/api/v1/estates/{estate.id}"))
    settings = {**current["settings"], **LETTER_SETTINGS}
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/settings", settings))

    await run(api, estate.id)
    async with sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.estate_id == estate.id))).scalars().all()
    assert letters
    for letter in letters:
        ctx = stored_context(letter.context)
        assert {p.item_name for p in ctx.periods} == {"物业服务费"}, letter.letter_no
        assert ctx.owner_page_url is None
        assert ctx.payment.bank_account_no == LETTER_SETTINGS["bank_account_no"] and ctx.payment.online_url == ""
        assert ctx.dispute.arbitration and ctx.money_style == "symbol"
        if ctx.kind is LetterKind.final_demand:
            assert [s.item_name for s in ctx.fee_standards] == ["物业服务费"]
            assert ctx.fee_standards[0].decision_ref == "前期物业服务合同 第5条"
            assert ctx.late_fee_clause == LETTER_SETTINGS["late_fee_clause"]
        else:
            assert ctx.fee_standards == ()


async def test_letter_settings_round_trip_and_bad_values_are_refused(api: Api) -> None:
    estate = await api.make_estate(units=1)
    current = await api.ok(await api.get(f"/api/v1/estates/{estate.id}"))
    defaults = current["settings"]
    assert defaults["online_payment_url"] == "" and defaults["arbitration_clause"] is False
    assert defaults["money_style"] == "renminbi" and defaults["paper_lead_days"] == 5
    body = {**defaults, **LETTER_SETTINGS, "online_payment_url": "https://pay.example.cn/e/7"}
    saved = await api.ok(await api.put(f"/api/v1/estates/{estate.id}/settings", body))
    assert {k: saved["settings"][k] for k in body} == body
    url = f"/api/v1/estates/{estate.id}/settings"
    for field, value in (
        ("online_payment_url", "http://pay.example.cn/e/7"),
        ("bank_account_no", "12ab"),
        ("money_style", "CN¥"),
        ("paper_lead_days", 31),
        ("desk_hours", "x" * 101),
    ):
        problem(await api.put(url, {**body, field: value}), (400, 422), field)
    problem(await api.put(url, {**body, "bank_account_name": ""}), (400, 422), "bank_account_name")
