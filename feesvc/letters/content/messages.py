"""The short message (SMS, WeChat, e-mail body) and the e-mail subject of each kind, per script."""

from __future__ import annotations

from typing import Any, Final

from feesvc import formatting
from feesvc.letters.content.model import BELIEFS, SHORT_MESSAGE_MAX, LetterContext
from feesvc.letters.content.phrasing import (
    complaint_context,
    distinct_periods,
    money_text,
    percent_text,
    periods_text,
    service_items,
    service_text,
    zhe,
)
from feesvc.letters.content.traditional import for_display
from feesvc.letters.content.words import BELIEF_WORDS, letter_title, script_of
from feesvc.letters.kinds import LetterKind


def email_subject(ctx: LetterContext) -> str:
    """The e-mail subject: 物业服务费催缴通知｜锦绣华苑 3栋 1502（JXHY-2026-11-000123）."""
    title = letter_title(ctx)
    ctx = for_display(ctx)
    if ctx.locale == "en":
        return f"{title} – {ctx.estate} {ctx.unit_label} ({ctx.letter_no})"
    return f"{title}｜{ctx.estate} {ctx.unit_label}（{ctx.letter_no}）"


def short_message(ctx: LetterContext) -> str:
    """The SMS / WeChat / e-mail text of the same stage, at most ``SHORT_MESSAGE_MAX`` characters,
    ending with the estate's online payment link where it has one, else the link to the owner's pages
    where the letter is given it (offering payment there only where the estate takes it), and the
    service phone when there is room.

    Starts with the sender, 【company】. Long names or links drop the optional details first: the
    phone, then the longer wording, then the company name for the estate's, and at last the sender
    (for gateways that add the registered SMS signature themselves). Raises ValueError when even
    that does not fit: the link is too long for a short message."""
    candidates = _message_candidates(ctx)
    for text in candidates:
        if len(text) <= SHORT_MESSAGE_MAX:
            return text
    raise ValueError(
        f"no short message for {ctx.letter_no} fits {SHORT_MESSAGE_MAX} characters "
        f"(shortest is {len(candidates[-1])}): is the payment or owner page link too long?"
    )


def _message_candidates(ctx: LetterContext) -> list[str]:
    ctx = for_display(ctx)
    script = script_of(ctx.locale)
    loc = ctx.locale
    w = _message_words(ctx, script)
    m = _MESSAGES[script][ctx.kind]
    body_full = m["full"].format_map(w)
    body_short = m["short"].format_map(w)
    url = ctx.payment.online_url or ctx.owner_page_url or ""
    words = _MESSAGE_STATEMENT
    if ctx.payment.online_url:
        words = _MESSAGE_PAY
    elif ctx.owner_page_pays_online:
        words = _MESSAGE_LINK
    link = words[script].format(url=url) if url else ""
    phone = _MESSAGE_PHONE[script].format_map(w) if ctx.service_phone else ""
    prefix = f"【{ctx.company}】" if loc != "en" else f"[{ctx.company}] "
    out = [
        prefix + body_full + link + phone,
        prefix + body_full + link,
        prefix + body_short + link + phone,
        prefix + body_short + link,
    ]
    if loc != "en":
        out.append(f"【{ctx.estate}】" + body_short + link)
    else:
        out.append(f"[{ctx.estate}] " + body_short + link)
    # Last resort: no sender name (gateways that add the registered signature themselves).
    out.append(body_short + (" " + url if url else ""))
    return out


_MESSAGE_LINK: Final = {
    "hans": " 账单及缴费：{url}",
    "hant": " 帳單及繳費：{url}",
    "en": " Statement and payment: {url}",
}
_MESSAGE_STATEMENT: Final = {"hans": " 查看账单：{url}", "hant": " 查閱帳單：{url}", "en": " Your statement: {url}"}
_MESSAGE_PAY: Final = {"hans": " 在线缴纳：{url}", "hant": " 線上繳納：{url}", "en": " Pay online: {url}"}
# Ways to pay besides the desk, as the estate records them (the payment notice's message).
_MESSAGE_WAYS: Final = {
    "hans": {"bank": "，也可银行转账", "online": "，也可在线缴纳"},
    "hant": {"bank": "，也可銀行轉帳", "online": "，也可線上繳納"},
    "en": {"bank": " or by bank transfer", "online": " or online"},
}
# What may follow a final demand: suit, and arbitration only under the contract's clause.
_MESSAGE_LEGAL: Final = {
    "hans": ("提起诉讼", "起诉", "提起诉讼或申请仲裁", "起诉或申请仲裁"),
    "hant": ("提起訴訟", "起訴", "提起訴訟或申請仲裁", "起訴或申請仲裁"),
    "en": ("file suit", "sue", "file suit or apply for arbitration", "sue or apply for arbitration"),
}
_MESSAGE_PHONE: Final = {"hans": " 咨询电话{phone}", "hant": " 查詢電話{phone}", "en": " Phone {phone}"}


def _message_words(ctx: LetterContext, script: str) -> dict[str, Any]:
    loc = ctx.locale
    w: dict[str, Any] = {
        "name": ctx.owner_name,
        "estate": ctx.estate,
        "unit": ctx.unit_label,
        "amount": money_text(ctx.total_fen, loc, ctx.money_style),
        "periods": periods_text(ctx.periods, loc, limit=2, short=True),
        "phone": ctx.service_phone,
        "url": ctx.owner_page_url or "",
        "due": formatting.date_long(ctx.due_on, loc) if ctx.due_on else "",
        "deadline": formatting.date_long(ctx.deadline, loc) if ctx.deadline else "",
        "start": formatting.period_label(distinct_periods(ctx.periods)[0], loc) if ctx.periods else "",
        "service": service_text(service_items(ctx, script), script),
        "offer": "",
        "offer_short": "",
        "n": 0,
        "first_due": "",
        "first_amount": "",
        "plan_total": "",
        "topic": "",
        "basis": "",
        "category": "",
        "opened": "",
        "done_by": "",
        "ways": "",
        "legal": _MESSAGE_LEGAL[script][2 if ctx.dispute.arbitration else 0],
        "legal_short": _MESSAGE_LEGAL[script][3 if ctx.dispute.arbitration else 1],
    }
    if ctx.payment.has_bank:
        w["ways"] += _MESSAGE_WAYS[script]["bank"]
    if ctx.payment.online_url:
        w["ways"] += _MESSAGE_WAYS[script]["online"]
    offer = ctx.prepay_offer
    if offer is not None:
        if script == "en":
            w["offer"] = f" Prepay {offer.months} months and get {percent_text(offer.percent_off)} off."
        elif script == "hant":
            w["offer"] = f"預繳{offer.months}個月可享{zhe(offer.percent_off)}優惠。"
        else:
            w["offer"] = f"预缴{offer.months}个月可享{zhe(offer.percent_off)}优惠。"
        w["offer_short"] = w["offer"]
    if ctx.plan is not None:
        first = min(ctx.plan.installments, key=lambda i: (i.due_date, i.number))
        w["n"] = len(ctx.plan.installments)
        w["first_due"] = formatting.date_long(first.due_date, loc)
        w["first_amount"] = money_text(first.amount_fen, loc, ctx.money_style)
        w["plan_total"] = money_text(ctx.plan.total_fen, loc, ctx.money_style)
    if ctx.belief in BELIEFS:
        _, w["topic"], w["basis"] = BELIEF_WORDS[script][ctx.belief]
    if ctx.complaint is not None:
        info = complaint_context(ctx.complaint, loc, script)
        w["category"] = info["category"]
        w["opened"] = info["opened_day"]
        w["done_by"] = info["done_by"]
    return w


def _kind_messages(**by_kind: tuple[str, str]) -> dict[LetterKind, dict[str, str]]:
    return {LetterKind(kind): {"full": full, "short": short} for kind, (full, short) in by_kind.items()}


# Each kind: a full text and a short one (used when names or the link are long). The link and the
# phone number are added after the text.
_MESSAGES: Final[dict[str, dict[LetterKind, dict[str, str]]]] = {
    "hans": _kind_messages(
        payment_notice=(
            "{name}业主您好，欢迎入住{estate}！您家{unit}的物业服务费自{start}起计收，"
            "可到物业服务中心缴纳{ways}。{offer}缴费须知已寄给您。",
            "{name}业主您好，您家{unit}的物业服务费自{start}起计收，缴费须知已寄给您。",
        ),
        pre_due_notice=(
            "{name}业主您好，您家{unit}的物业服务费{amount}将于{due}到期，感谢您一直按时缴费！{offer}",
            "{name}业主您好，您家{unit}物业费{amount}将于{due}到期。{offer_short}",
        ),
        friendly_reminder=(
            "{name}业主您好，过去一个月我们为小区提供了{service}等服务。您家（{unit}）{periods}的物业费{amount}"
            "还未缴纳，方便时请缴一下，已缴请忽略，谢谢！",
            "{name}业主您好，您家（{unit}）{periods}的物业费{amount}还未缴纳，方便时请缴一下，已缴请忽略。",
        ),
        formal_reminder=(
            "{name}业主您好，您家（{unit}）{periods}的物业服务费等合计{amount}尚未缴纳，请您尽快缴纳。"
            "如有困难或疑问，欢迎来电，我们一起商量办法。",
            "{name}业主您好，您家（{unit}）{periods}的物业费等合计{amount}尚未缴纳，请尽快缴纳。",
        ),
        final_demand=(
            "催告函：{name}业主，您名下{estate}{unit}尚欠{periods}物业服务费及违约金合计{amount}，"
            "请于{deadline}前缴清；逾期未缴，本公司可依法{legal}。",
            "催告函：{name}业主，您名下{unit}欠费合计{amount}（{periods}），请于{deadline}前缴清；"
            "逾期未缴，本公司可依法{legal_short}。",
        ),
        hardship_offer=(
            "{name}业主您好，您家{unit}的物业费{amount}可以分{n}期缴纳，首期{first_due}缴{first_amount}。"
            "按约缴纳期间，我们不会就这些费用采取法律行动。详情请看来信或来电。",
            "{name}业主您好，您家{unit}的物业费可分{n}期缴纳，首期{first_due}缴{first_amount}。",
        ),
        explanation=(
            "{name}业主您好，关于{topic}，我们依据{basis}写了一份说明寄给您，"
            "讲清楚规定和处理办法。有任何疑问，欢迎随时来电或到物业服务中心面谈。",
            "{name}业主您好，关于{topic}的说明（依据{basis}）已寄给您，欢迎来电咨询。",
        ),
        rectification_reply=(
            "{name}业主您好，您{opened}反映的{category}问题，我们已制定整改计划，预计{done_by}前完成，"
            "完成后请您来现场查看效果。整改期间暂停缴费提醒。",
            "{name}业主您好，您反映的{category}问题预计{done_by}前整改完成，届时请您查看效果。",
        ),
        plan_agreement=(
            "{name}业主您好，您家{unit}的分期缴费协议已准备好：共{n}期，合计{plan_total}，"
            "首期{first_due}缴{first_amount}。请到物业服务中心签署。",
            "{name}业主您好，您家{unit}的分期缴费协议（共{n}期）已准备好，请到物业服务中心签署。",
        ),
    ),
    "hant": _kind_messages(
        payment_notice=(
            "{name}業主您好，歡迎入住{estate}！貴戶{unit}的物業管理費自{start}起計收，"
            "可到物業服務中心繳納{ways}。{offer}繳費須知已寄給您。",
            "{name}業主您好，貴戶{unit}的物業管理費自{start}起計收，繳費須知已寄給您。",
        ),
        pre_due_notice=(
            "{name}業主您好，貴戶{unit}的物業管理費{amount}將於{due}到期，感謝您一直準時繳費！{offer}",
            "{name}業主您好，貴戶{unit}管理費{amount}將於{due}到期。{offer_short}",
        ),
        friendly_reminder=(
            "{name}業主您好，過去一個月我們為社區提供了{service}等服務。貴戶（{unit}）{periods}的管理費{amount}"
            "尚未繳納，方便時請繳納，已繳請忽略，謝謝！",
            "{name}業主您好，貴戶（{unit}）{periods}的管理費{amount}尚未繳納，方便時請繳納，已繳請忽略。",
        ),
        formal_reminder=(
            "{name}業主您好，貴戶（{unit}）{periods}的物業管理費等合計{amount}尚未繳納，請您盡快繳納。"
            "如有困難或疑問，歡迎來電，我們一起商量辦法。",
            "{name}業主您好，貴戶（{unit}）{periods}的管理費等合計{amount}尚未繳納，請盡快繳納。",
        ),
        final_demand=(
            "催告函：{name}業主，您名下{estate}{unit}尚欠{periods}物業管理費及違約金合計{amount}，"
            "請於{deadline}前繳清；逾期未繳，本公司可依法{legal}。",
            "催告函：{name}業主，您名下{unit}欠費合計{amount}（{periods}），請於{deadline}前繳清；"
            "逾期未繳，本公司可依法{legal_short}。",
        ),
        hardship_offer=(
            "{name}業主您好，貴戶{unit}的管理費{amount}可以分{n}期繳納，首期{first_due}繳{first_amount}。"
            "按約繳納期間，我們不會就這些費用採取法律行動。詳情請看來信或來電。",
            "{name}業主您好，貴戶{unit}的管理費可分{n}期繳納，首期{first_due}繳{first_amount}。",
        ),
        explanation=(
            "{name}業主您好，關於{topic}，我們依據{basis}寫了一份說明寄給您，"
            "講清楚規定和處理辦法。如有任何疑問，歡迎隨時來電或到物業服務中心面談。",
            "{name}業主您好，關於{topic}的說明（依據{basis}）已寄給您，歡迎來電查詢。",
        ),
        rectification_reply=(
            "{name}業主您好，您{opened}反映的{category}問題，我們已訂好改善計劃，預計{done_by}前完成，"
            "完成後請您到現場查看效果。改善期間暫停繳費提醒。",
            "{name}業主您好，您反映的{category}問題預計{done_by}前改善完成，屆時請您查看效果。",
        ),
        plan_agreement=(
            "{name}業主您好，貴戶{unit}的分期繳費協議已準備好：共{n}期，合計{plan_total}，"
            "首期{first_due}繳{first_amount}。請到物業服務中心簽署。",
            "{name}業主您好，貴戶{unit}的分期繳費協議（共{n}期）已準備好，請到物業服務中心簽署。",
        ),
    ),
    "en": _kind_messages(
        payment_notice=(
            "Dear {name}, welcome to {estate}! The property fee for {unit} starts from {start}. "
            "Pay at the service centre{ways}.{offer} Our payment guide is in the post.",
            "Dear {name}, the property fee for {unit} starts from {start}; our payment guide is in the post.",
        ),
        pre_due_notice=(
            "Dear {name}, the property fee of {amount} for {unit} is due on {due}. "
            "Thank you for always paying on time!{offer}",
            "Dear {name}, the fee of {amount} for {unit} is due on {due}.{offer_short}",
        ),
        friendly_reminder=(
            "Dear {name}, over the past month we provided {service} and more. The fee of {amount} for {unit} "
            "({periods}) is still open; please pay when you can, or ignore this if you have paid. Thank you!",
            "Dear {name}, the fee of {amount} for {unit} ({periods}) is still open; please pay when you can.",
        ),
        formal_reminder=(
            "Dear {name}, {amount} for {unit} ({periods}) is unpaid. Please pay soon. "
            "If anything makes it hard, call us and we will find a way together.",
            "Dear {name}, {amount} for {unit} ({periods}) is unpaid. Please pay soon.",
        ),
        final_demand=(
            "Final demand: {name}, {amount} in property fees and late fees for {estate} {unit} ({periods}) "
            "is unpaid. Please pay by {deadline}; if unpaid, we may {legal}.",
            "Final demand: {name}, {amount} for {unit} ({periods}) is unpaid. Pay by {deadline}, "
            "or we may {legal_short}.",
        ),
        hardship_offer=(
            "Dear {name}, you can pay the {amount} for {unit} in {n} installments, the first "
            "{first_amount} on {first_due}. While you keep to it we take no legal action.",
            "Dear {name}, you can pay the fee for {unit} in {n} installments, the first on {first_due}.",
        ),
        explanation=(
            "Dear {name}, we have sent you a letter on {topic} ({basis}) explaining the rule and "
            "what we can do. Questions are welcome: call us or visit the service centre.",
            "Dear {name}, our letter on {topic} ({basis}) is in the post; call us with any questions.",
        ),
        rectification_reply=(
            "Dear {name}, we have a plan to fix the {category} problem you reported on {opened}, "
            "done by {done_by}; please come and inspect it then. Fee reminders are paused meanwhile.",
            "Dear {name}, the {category} problem you reported will be fixed by {done_by}; please inspect it then.",
        ),
        plan_agreement=(
            "Dear {name}, your installment agreement for {unit} is ready: {n} installments, {plan_total} "
            "in total, the first {first_amount} on {first_due}. Please sign it at the service centre.",
            "Dear {name}, your installment agreement for {unit} is ready; please sign it at the service centre.",
        ),
    ),
}
