"""Every sentence the shipped letters say, for the letter check's model to learn what a lawful letter
sounds like (tests/corpus/README.md, "The letter check's model").

Each kind of letter in each locale is rendered as HTML from one sample context with every optional
part present (payment ways, the dispute route with arbitration, a prepay offer, a service summary,
a plan, each belief an explanation answers, a rectification's steps), plus its short message; the
sentences are read back as the check reads them. The figures differ from letter to letter in a run,
but the n-grams the model reads of the prose do not.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from feesvc.db import BUSINESS_TZ
from feesvc.letters.compliance import html_to_text, split_sentences
from feesvc.letters.content import (
    BELIEFS,
    ComplaintInfo,
    DisputeWays,
    LetterContext,
    PaymentWays,
    PeriodLine,
    PlanTerms,
    PrepayOffer,
    RectificationStep,
    demand_deadline,
    render_letter_html,
    short_message,
)
from feesvc.letters.kinds import LetterKind
from feesvc.rules.installments import schedule

LOCALES: Final = ("zh_CN", "zh_TW", "zh_HK", "en")
_ISSUED: Final = date(2026, 11, 22)
_MONTHLY_FEN: Final = 26850
_NAMES: Final = {
    "zh_CN": ("锦绣华苑物业服务有限公司", "锦绣华苑", "张伟", "3栋 1502", "物业服务费",
              "卫生间天花板渗水。", "更换排水管接头"),
    "zh_TW": ("錦繡華苑物業服務有限公司", "錦繡華苑", "陳美玲", "3棟 1502", "物業管理費",
              "浴室天花板滲水。", "更換排水管接頭"),
    "en": ("Jinxiu Garden Property Services", "Jinxiu Garden", "David Miller", "Block 3, 1502", "Service fee",
           "The bathroom ceiling leaks.", "Replace the drain joint"),
}  # fmt: skip


def _context(kind: LetterKind, locale: str, belief: str | None = None) -> LetterContext:
    company, estate, owner, unit, item, complaint, step = _NAMES.get(locale, _NAMES["zh_TW"])
    periods = tuple(PeriodLine(f"2026-{m:02d}", item, _MONTHLY_FEN, 2417) for m in range(3, 9))
    fields: dict[str, Any] = {
        "kind": kind,
        "locale": locale,
        "letter_no": "JXHY-2026-11-000001",
        "issued_on": _ISSUED,
        "company": company,
        "estate": estate,
        "estate_address": estate,
        "service_phone": "0571-8888 6666",
        "owner_name": owner,
        "postal_address": unit,
        "unit_label": unit,
        "periods": periods,
        "total_fen": sum(line.total_fen for line in periods),
        "owner_page_url": "https://fees.example.cn/owner/",
        "due_on": date(2026, 12, 10),
        "deadline": demand_deadline(_ISSUED),
        "service_summary": (("保洁", 30), ("维修", 15)),
        "prepay_offer": PrepayOffer(months=6, percent_off=Decimal("5"), saving_fen=8055),
        "belief": belief,
        "payment": PaymentWays(
            desk_address=estate, desk_hours="8:30-18:00", bank_account_name=company, bank_name="ICBC",
            bank_account_no="1202 0000 0000 0000", online_url="https://fees.example.cn/pay",
        ),
        "dispute": DisputeWays(contact=owner, complaint_channel="0571-8888 6666", arbitration=True),
    }  # fmt: skip
    if kind in (LetterKind.hardship_offer, LetterKind.plan_agreement):
        principal = sum(line.amount_fen for line in periods)
        fields["plan"] = PlanTerms(installments=tuple(schedule(principal, 3, date(2026, 12, 15))), grace_days=10)
    if kind is LetterKind.rectification_reply:
        opened = datetime(2026, 11, 21, 19, 40, tzinfo=BUSINESS_TZ)
        fields["complaint"] = ComplaintInfo(opened, "leak", complaint, (RectificationStep(opened, step),))
    return LetterContext(**fields)


def letter_sentences() -> list[str]:
    """The distinct sentences of every shipped letter kind, locale and belief, and of their short messages."""
    seen: dict[str, None] = {}
    for locale in LOCALES:
        for kind in LetterKind:
            for belief in BELIEFS if kind is LetterKind.explanation else (None,):
                ctx = _context(kind, locale, belief)
                text = html_to_text(render_letter_html(ctx)) + "\n" + short_message(ctx)
                seen.update(dict.fromkeys(split_sentences(text)))
    return list(seen)
