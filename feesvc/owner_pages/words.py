"""The pages' words per script: ``hans`` (zh_CN, written here), ``hant`` (zh_TW, zh_HK: the same
words through the letters' OpenCC conversion, ``feesvc.letters.content.traditional``) and ``en``."""

from __future__ import annotations

from functools import cache
from typing import Final

from feesvc.letters.content.traditional import traditional

_HANS: Final = {
    "site": "业主服务",
    "colon": "：",
    "home": "我的房屋",
    "statement": "对账单",
    "receipts": "缴费记录",
    "letters": "通知函件",
    "payoff": "一次结清",
    "request": "报事报修",
    "owed_now": "目前应缴",
    "nothing_owed": "目前没有应缴费用，谢谢您！",
    "overdue": "其中已逾期",
    "next_due": "下次缴费日",
    "days_to_due": "距缴费日还有 {n} 天",
    "due_today": "今天是缴费日",
    "pay": "去缴费",
    "former": "已过户（{day}起），以下仅为您名下期间的费用",
    "prepaid_credit": "预存余额",
    "period_range": "{start} 至 {end}",
    "opening": "期初余额",
    "closing": "期末余额",
    "balance": "余额",
    "fee_basis": "收费标准",
    "posted_on": "公示日期",
    "paid_for": "本次缴费用于",
    "service_bill": "服务账单",
    "service_none": "本期间暂无服务记录。",
    "no_lines": "本期间没有账目。",
    "payoff_intro": "今天一次缴清以下金额，您名下的费用即全部结清（含截至今天的违约金）。",
    "principal": "本金",
    "late_fee_posted": "已计违约金",
    "late_fee_unposted": "截至今天未入账的违约金",
    "total": "合计",
    "due_date": "到期日",
    "receipt_no": "收据编号",
    "voided": "已作废",
    "download": "下载 PDF",
    "no_receipts": "暂无缴费记录。",
    "no_letters": "暂无通知函件。",
    "letter_no": "编号",
    "request_intro": "请告诉我们需要处理的问题。我们会在 24 小时内给您整改方案。",
    "category": "类别",
    "text": "问题描述",
    "send": "提交",
    "sent": "已收到您的反映，我们会在 {due} 前给您整改方案。",
    "my_requests": "我反映的问题",
    "no_requests": "暂无记录。",
    "opened_at": "提交时间",
    "plan_due": "方案期限",
    "status_open": "处理中",
    "status_resolved": "已解决",
    "status_closed": "已关闭",
    "plan_given": "已给出整改方案",
    "not_current": "您已不是该房屋的业主，不能为它报事报修。",
    "text_required": "请写下问题描述（最多 2000 字）。",
    "category_required": "请选择类别。",
    "not_found": "没有找到这个页面，或它不属于您。",
    "forbidden": "表单已过期，请刷新页面后重新提交。",
    "sent_before": "这份表单已经提交过。如需再反映一个问题，请在下面重新填写后提交。",
    "back": "返回",
    "more": "更多",
    "service_phone": "服务电话",
    "pay_title": "在线缴费",
    "pay_amount": "应缴金额",
    "pay_includes": "含截至今天的违约金；支付后即结清您名下本房屋的费用。",
    "pay_choose": "选择支付方式",
    "pay_wechat": "微信支付（扫码）",
    "pay_alipay": "支付宝",
    "pay_go": "去支付",
    "pay_not_set_up": "本小区尚未开通在线缴费，请到物业服务中心缴费。",
    "pay_choose_one": "请选择支付方式。",
    "pay_scan": "请用微信扫一扫下面的二维码完成支付",
    "pay_order": "订单号",
    "pay_expires": "请在此时间前完成支付：",
    "pay_paid_note": "支付成功后，收据会出现在“缴费记录”中。",
}

_EN: Final = {
    "site": "Owner services",
    "colon": ": ",
    "home": "My homes",
    "statement": "Statement",
    "receipts": "Payments",
    "letters": "Letters",
    "payoff": "Pay off",
    "request": "Report a problem",
    "owed_now": "Owed now",
    "nothing_owed": "Nothing is owed at the moment. Thank you!",
    "overdue": "of which overdue",
    "next_due": "Next due date",
    "days_to_due": "{n} days to the due date",
    "due_today": "Due today",
    "pay": "Pay now",
    "former": "Sold (from {day}): only the periods of your ownership are shown",
    "prepaid_credit": "Prepaid credit",
    "period_range": "{start} to {end}",
    "opening": "Opening balance",
    "closing": "Closing balance",
    "balance": "Balance",
    "fee_basis": "Fee standard",
    "posted_on": "posted",
    "paid_for": "This payment settled",
    "service_bill": "Service bill",
    "service_none": "No service activity recorded for this period.",
    "no_lines": "Nothing was recorded in this period.",
    "payoff_intro": "Paid today, this amount settles everything you owe, late fees to today included.",
    "principal": "Principal",
    "late_fee_posted": "Late fees posted",
    "late_fee_unposted": "Late fees to today, not yet posted",
    "total": "Total",
    "due_date": "Due",
    "receipt_no": "Receipt",
    "voided": "Voided",
    "download": "Download PDF",
    "no_receipts": "No payments yet.",
    "no_letters": "No letters yet.",
    "letter_no": "No.",
    "request_intro": "Tell us what needs fixing. We will give you a plan to fix it within 24 hours.",
    "category": "Category",
    "text": "What is wrong",
    "send": "Send",
    "sent": "Thank you, we have it. You will have our plan to fix it by {due}.",
    "my_requests": "My reports",
    "no_requests": "None yet.",
    "opened_at": "Sent",
    "plan_due": "Plan by",
    "status_open": "In progress",
    "status_resolved": "Resolved",
    "status_closed": "Closed",
    "plan_given": "Plan given",
    "not_current": "You no longer own this home, so you cannot report a problem for it.",
    "text_required": "Please say what is wrong (at most 2,000 characters).",
    "category_required": "Please choose a category.",
    "not_found": "This page does not exist, or it is not yours.",
    "forbidden": "The form has expired: reload the page and send it again.",
    "sent_before": "This form was sent already. To report another problem, fill it in again below.",
    "back": "Back",
    "more": "More",
    "service_phone": "Service phone",
    "pay_title": "Pay online",
    "pay_amount": "Amount due",
    "pay_includes": "Includes late fees up to today; paying it settles everything you owe on this home.",
    "pay_choose": "Pay with",
    "pay_wechat": "WeChat Pay (scan)",
    "pay_alipay": "Alipay",
    "pay_go": "Pay",
    "pay_not_set_up": "This estate does not take payments online yet: please pay at the service centre.",
    "pay_choose_one": "Please choose how to pay.",
    "pay_scan": "Scan the QR code below with WeChat to pay",
    "pay_order": "Order",
    "pay_expires": "Pay before:",
    "pay_paid_note": "Once paid, the receipt is listed under Payments.",
}

_METHODS: Final = {
    "hans": {"cash": "现金", "wechat": "微信", "alipay": "支付宝", "bank_transfer": "银行转账", "card": "银行卡"},
    "en": {"cash": "cash", "wechat": "WeChat", "alipay": "Alipay", "bank_transfer": "bank transfer", "card": "card"},
}


def script_for(locale: str) -> str:
    return "en" if locale == "en" else "hant" if locale in ("zh_TW", "zh_HK") else "hans"


# Taiwan's words where converting the characters is not enough (the letters say the same: 帳單, 改善計劃).
_TAIWAN_WORDS: Final = (
    ("賬", "帳"),
    ("整改方案", "改善計劃"),
    ("刷新頁面", "重新整理頁面"),
    ("在線", "線上"),
    ("掃一掃", "掃描"),
    ("小區", "社區"),
    ("“", "「"),
    ("”", "」"),
)


def _hant(text: str, locale: str) -> str:
    text = traditional(text, locale)
    for simplified_usage, taiwan in _TAIWAN_WORDS:
        text = text.replace(simplified_usage, taiwan)
    return text


@cache
def words(locale: str) -> dict[str, str]:
    """The pages' words in ``locale`` (one of ``formatting.SUPPORTED_LOCALES``)."""
    script = script_for(locale)
    if script == "en":
        return _EN
    if script == "hans":
        return _HANS
    return {key: _hant(text, locale) for key, text in _HANS.items()}


@cache
def methods(locale: str) -> dict[str, str]:
    script = script_for(locale)
    if script == "hant":
        return {key: _hant(text, locale) for key, text in _METHODS["hans"].items()}
    return _METHODS[script]
