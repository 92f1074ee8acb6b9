"""The words of the evidence pack: Chinese labels of the recorded codes, dates, money and periods as a
mainland court reads them. No database, no documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from feesvc.db import BUSINESS_TZ
from feesvc.evidence.limitation import LimitationStatus
from feesvc.formatting import period_label
from feesvc.ledger.limitation import InterruptionKind
from feesvc.letters.kinds import LetterKind
from feesvc.service_records.models import ActivityKind

PACK_LOCALE: Final = "zh_CN"


_CN_NUM: Final = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (evidence numbers 证据一 …)."""
    if n < 10:
        return _CN_NUM[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_NUM[tens]) + "十" + (_CN_NUM[ones] if ones else "")


KIND_WORDS: Final = {
    LetterKind.payment_notice: "缴费须知",
    LetterKind.pre_due_notice: "缴费提醒",
    LetterKind.friendly_reminder: "温馨提示（催缴）",
    LetterKind.formal_reminder: "催缴通知",
    LetterKind.final_demand: "催告函",
    LetterKind.hardship_offer: "分期缴费方案",
    LetterKind.explanation: "情况说明函",
    LetterKind.rectification_reply: "整改回复函",
    LetterKind.plan_agreement: "分期缴费协议",
}
LETTER_CHANNELS: Final = {"paper": "纸质信函", "sms": "短信", "wechat": "微信", "email": "电子邮件"}
DELIVERY_CHANNELS: Final = {
    "ems": "EMS 特快专递",
    "registered_mail": "挂号信",
    "hand": "当面送达（签收）",
    "sms": "短信",
    "wechat": "微信",
    "email": "电子邮件",
}
INTERRUPTIONS: Final = {
    InterruptionKind.demand_delivered: "催告送达",
    InterruptionKind.acknowledgement: "债务承认（签署分期协议）",
    InterruptionKind.part_payment: "部分履行（部分缴费）",
    InterruptionKind.legal_action: "起诉／仲裁／申请支付令",
}
STATUSES: Final = {
    LimitationStatus.ok: "正常",
    LimitationStatus.expiring: "即将届满",
    LimitationStatus.expired: "已届满",
}
IGNORED: Final = {
    "before_due": "早于缴费期限，时效尚未起算",
    "after_as_of": "晚于基准日",
    "after_expiry": "时效届满后发生，不能使时效中断",
}
PLAN_STATES: Final = {
    "proposed": "已提出（未签署）",
    "active": "履行中",
    "completed": "已履行完毕",
    "broken": "未按期履行，已终止",
    "cancelled": "已取消",
}
TREATMENTS: Final = {
    "freeze": "分期期间违约金暂停计算",
    "waive_on_completion": "按期履行完毕后免除违约金",
    "waive_now": "签署时免除已产生的违约金",
}
INSTALLMENT_STATUS: Final = {"paid": "已付", "due": "未到期", "late": "逾期未付"}
CAUSES: Final = {
    "hardship": "经济困难型",
    "service_dissatisfaction": "服务不满型",
    "misunderstanding": "认知偏差型",
    "unknown": "原因未明",
}
CASE_STATUSES: Final = {"open": "处理中", "paused": "暂停催缴", "resolved": "已结案", "legal_review": "法务审查"}
CONTACTS: Final = {"call": "电话", "visit": "上门", "sms": "短信", "wechat": "微信", "desk": "前台", "letter": "信函"}
CLAIMS: Final = {"hardship": "称经济困难", "dispute": "对收费或服务有异议", "vacancy": "称房屋空置"}
COMPLAINT_CATEGORIES: Final = {
    "cleaning": "保洁",
    "security": "安保",
    "elevator": "电梯",
    "repair": "维修",
    "leak": "漏水",
    "parking": "停车",
    "noise": "噪音",
    "greenery": "绿化",
    "other": "其他",
}
COMPLAINT_CHANNELS: Final = {"phone": "电话", "desk": "前台", "app": "App", "wechat": "微信", "visit": "上门"}
STEPS: Final = {
    "plan_given": "提供整改方案",
    "fixed": "整改完成",
    "inspected": "业主验收",
    "follow_up": "回访",
    "closed": "关闭",
}
DECISIONS: Final = {
    "contract": "合同约定",
    "owners_vote": "业主大会决定",
    "government_price": "政府指导价",
    "filing": "价格备案",
}
BASES: Final = {"per_m2_month": "按建筑面积（元/平方米·月）", "fixed_month": "按户（元/月）"}
USES: Final = {"residential": "住宅", "commercial": "商业", "parking": "车位"}
ACTIVITY_ORDER: Final = tuple(ActivityKind)


def day_text(d: date | None) -> str:
    return d.isoformat() if d else "—"


def moment_text(moment: datetime | None) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def yuan(fen: int) -> str:
    """Plain yuan text for JSON: 12345 → "123.45"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def periods_text(periods: Sequence[str]) -> str:
    """ "2022年12月至2023年03月、2023年06月": consecutive months joined into ranges."""
    months = sorted(set(periods))
    if not months:
        return "—"
    runs: list[list[str]] = [[months[0]]]
    for month in months[1:]:
        year, number = (int(x) for x in runs[-1][-1].split("-"))
        following = f"{year + number // 12}-{number % 12 + 1:02d}"
        if month == following:
            runs[-1].append(month)
        else:
            runs.append([month])
    parts = []
    for run in runs:
        first = period_label(run[0], PACK_LOCALE)
        parts.append(first if len(run) == 1 else f"{first}至{period_label(run[-1], PACK_LOCALE)}")
    return "、".join(parts)
