"""What a letter says: plain data in (``LetterContext``), a printed letter, a short message and an
e-mail subject out.

The reminder run builds one ``LetterContext`` per owner from the ledger (no ORM objects reach this
module) and calls ``write_letters_pdf`` for the print file, ``render_letter_pdf`` for one letter and
``short_message`` / ``email_subject`` for SMS, WeChat and e-mail of the same stage.

Where the words live:

* The prose of each kind is in its template, ``letters/letter_<kind>.html`` (Simplified, Traditional
  and English side by side), so the whole letter can be read, reviewed and compliance-checked in one
  file. ``letters/letter_base.html`` is the layout (letterhead, addressee, reference, date, closing,
  seal); ``letters/letter_macros.html`` holds the pieces several kinds share (amounts table,
  prepay offer, how to pay).
* Labels, titles and the short messages are here, per script: ``hans`` (zh_CN), ``hant`` (zh_TW and
  zh_HK share the Traditional text) and ``en``.
* Money and dates go through the Babel-backed filters and ``feesvc.formatting``: never formatted by hand.

Rules the letters keep (DOMAIN.md "Reminders and letters"): a letter goes to the owner only and
names nobody else; nothing threatens utilities, access, credit or public naming; the final demand
(催告函) says the amount, the periods, the deadline and that suit or arbitration may follow, and
nothing else. ``feesvc.letters.compliance`` checks every template and every rendered letter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from babel.dates import format_skeleton, format_time

from feesvc import formatting
from feesvc.db import BUSINESS_TZ
from feesvc.documents.render import CHUNK_DOCUMENTS, render_html, render_pdf, write_pdf_many
from feesvc.letters.kinds import LetterKind, template_for
from feesvc.rules.installments import Installment

__all__ = [
    "BELIEFS",
    "DEFAULT_DEMAND_DAYS",
    "LETTER_STYLESHEETS",
    "SHORT_MESSAGE_MAX",
    "ComplaintInfo",
    "FeeStandardLine",
    "Installment",
    "LetterContext",
    "PeriodLine",
    "PlanTerms",
    "PrepayOffer",
    "RectificationStep",
    "demand_deadline",
    "email_subject",
    "letter_title",
    "render_letter_html",
    "render_letter_pdf",
    "short_message",
    "template_context",
    "write_letters_pdf",
]

#: Days between a final demand and its deadline when the estate sets none (DOMAIN.md: ≥ N days).
DEFAULT_DEMAND_DAYS: Final = 15

#: The letters' own layout (``letters/letter.css``), parsed once per process and applied after base.css.
LETTER_STYLESHEETS: Final = ("letter.css",)

#: Longest short message, in characters (a Chinese character counts one, as SMS gateways bill it).
SHORT_MESSAGE_MAX: Final = 200

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodLine:
    """One open charge: its billing period "YYYY-MM", item, open principal and late fee shown."""

    period: str
    item_name: str
    amount_fen: int
    late_fee_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.late_fee_fen


@dataclass(frozen=True)
class PrepayOffer:
    """The estate's prepay tier offered in a letter: prepay ``months`` months for ``percent_off`` %
    off; ``saving_fen`` is what that saves this owner at the current monthly fee."""

    months: int
    percent_off: Decimal
    saving_fen: int


@dataclass(frozen=True)
class FeeStandardLine:
    """A fee standard as a payment notice states it: the item, its rate with its unit as printed
    ("2.50 元/平方米·月"), what it rests on (contract clause, owners' vote …) and when it was posted."""

    item_name: str
    rate_text: str
    decision_ref: str
    posted_on: date


#: Standard wordings of the late-fee treatment of a plan (``feesvc.plans.models.LateFeeTreatment``).
LATE_FEE_TREATMENTS: Final = ("freeze", "waive_on_completion", "waive_now")


@dataclass(frozen=True)
class PlanTerms:
    """An installment plan as the letters show it.

    ``installments``: the schedule (``feesvc.rules.installments.schedule`` gives it).
    ``late_fee_treatment``: one of ``LATE_FEE_TREATMENTS`` (the standard wording is printed, with
    the late fees of the covered periods), or the agreed wording itself, in the letter's language.
    ``grace_days``: how late an installment may be before the plan ends (the estate's setting).
    ``waived_fees_return``: whether waived late fees come back when the plan ends early.
    """

    installments: tuple[Installment, ...]
    late_fee_treatment: str = "waive_on_completion"
    grace_days: int = 0
    waived_fees_return: bool = True

    @property
    def total_fen(self) -> int:
        return sum(installment.amount_fen for installment in self.installments)


@dataclass(frozen=True)
class RectificationStep:
    """One step of a rectification plan: when and what we do.

    Times are datetimes, never bare dates: letter contexts are stored with msgspec, which cannot
    tell a date from a datetime in a ``date | datetime`` field. An aware datetime prints on the
    estate's clock (``BUSINESS_TZ``), a naive one as it is."""

    at: datetime
    action: str


@dataclass(frozen=True)
class ComplaintInfo:
    """The complaint a rectification reply answers.

    ``category``: a ``ComplaintCategory`` value ("elevator", "leak", …; printed in the letter's
    language) or a label of your own. ``text``: what the owner reported, as recorded.
    ``inspect_at``: when we invite the owner to inspect the result (default: the last step).
    ``contact``: who follows it up, e.g. "客服主管 李敏" (staff only; never another owner).
    """

    opened: datetime
    category: str
    text: str
    steps: tuple[RectificationStep, ...]
    inspect_at: datetime | None = None
    contact: str = ""


#: The misunderstandings an explanation letter answers: the classifier's ``Belief`` values.
BELIEFS: Final = (
    "vacancy",
    "unused_service",
    "public_revenue",
    "no_contract",
    "developer_promise",
    "tenant_pays",
    "fee_increase_without_vote",
    "fee_start",
    "other_funds",
)
_BELIEF_ALIASES: Final = {"fee_rise_without_vote": "fee_increase_without_vote"}


@dataclass(frozen=True)
class LetterContext:
    """Everything one letter shows. Plain data: strings, ints (fen), dates, tuples.

    ``periods`` are the lines of the amounts table and ``total_fen`` their sum (principal plus the
    late fees shown); a letter whose table does not add up is refused. Kind-specific fields:
    ``due_on`` (pre-due notice), ``deadline`` (final demand: ``demand_deadline``), ``plan``
    (hardship offer, plan agreement), ``belief`` (explanation), ``complaint`` (rectification
    reply). ``service_summary`` and ``prepay_offer`` are shown where the kind has room for them.
    """

    kind: LetterKind
    locale: str
    letter_no: str
    issued_on: date
    company: str
    estate: str
    estate_address: str
    service_phone: str
    owner_name: str
    postal_address: str
    unit_label: str
    periods: tuple[PeriodLine, ...]
    total_fen: int
    due_on: date | None = None
    deadline: date | None = None
    service_summary: tuple[tuple[str, int], ...] = ()
    prepay_offer: PrepayOffer | None = None
    plan: PlanTerms | None = None
    belief: str | None = None
    complaint: ComplaintInfo | None = None
    statement_url: str = ""
    # Payment notice (缴费须知) of a new owner: the day billing starts for them (the handover date)
    # and the fee standards in force, with their posting (DOMAIN.md "Change of owner").
    billing_starts_on: date | None = None
    fee_standards: tuple[FeeStandardLine, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LetterKind(self.kind))
        object.__setattr__(self, "locale", formatting.normalize_locale(self.locale))
        if self.belief is not None:
            object.__setattr__(self, "belief", _BELIEF_ALIASES.get(self.belief, self.belief))
        _validate(self)


def _refuse(field_name: str, message: str) -> ValueError:
    return ValueError(f"{field_name}: {message}")


def _validate(ctx: LetterContext) -> None:
    for name in ("letter_no", "company", "estate", "owner_name", "unit_label"):
        if not str(getattr(ctx, name)).strip():
            raise _refuse(name, "must not be empty")
    shown = sum(line.total_fen for line in ctx.periods)
    if ctx.periods and shown != ctx.total_fen:
        raise _refuse("total_fen", f"{ctx.total_fen} fen, but the periods shown add up to {shown} fen")
    if ctx.total_fen < 0:
        raise _refuse("total_fen", "must not be negative")
    kind = ctx.kind
    if kind is LetterKind.pre_due_notice and ctx.due_on is None:
        raise _refuse("due_on", "a pre-due notice needs the due date")
    if kind is LetterKind.final_demand:
        if ctx.deadline is None:
            raise _refuse("deadline", "a final demand needs a deadline")
        if ctx.deadline <= ctx.issued_on:
            raise _refuse("deadline", "must be after the day the demand is issued")
        if not ctx.periods or ctx.total_fen <= 0:
            raise _refuse("periods", "a final demand states the periods and the amount owed")
    if kind in (LetterKind.hardship_offer, LetterKind.plan_agreement):
        if ctx.plan is None or not ctx.plan.installments:
            raise _refuse("plan", f"a {kind.value} letter needs the plan's installments")
        if ctx.plan.grace_days < 0:
            raise _refuse("plan.grace_days", "must not be negative")
    if kind is LetterKind.explanation and ctx.belief not in BELIEFS:
        raise _refuse("belief", f"must be one of {', '.join(BELIEFS)}, not {ctx.belief!r}")
    if kind is LetterKind.rectification_reply and (ctx.complaint is None or not ctx.complaint.steps):
        raise _refuse("complaint", "a rectification reply needs the complaint and the plan's steps")
    if ctx.prepay_offer is not None and (ctx.prepay_offer.months < 1 or not 0 < ctx.prepay_offer.percent_off < 100):
        raise _refuse("prepay_offer", "months ≥ 1 and 0 < percent_off < 100")


def demand_deadline(issued_on: date, days: int = DEFAULT_DEMAND_DAYS) -> date:
    """The deadline of a final demand issued on ``issued_on``: ``days`` (the estate's setting) later."""
    if days < 1:
        raise ValueError(f"a final demand gives at least one day, not {days}")
    return issued_on + timedelta(days=days)


# ---------------------------------------------------------------------------------------------
# Words, per script
# ---------------------------------------------------------------------------------------------


def _script(locale: str) -> str:
    loc = formatting.normalize_locale(locale)
    if loc == "en":
        return "en"
    return "hant" if loc in ("zh_TW", "zh_HK") else "hans"


_LABELS: Final[dict[str, dict[str, str]]] = {
    "hans": {
        "colon": "：",
        "letter_no": "编号",
        "date": "日期",
        "to": "收件人",
        "address": "地址",
        "unit": "房屋",
        "phone": "服务电话",
        "addressee_suffix": "业主",
        "salutation": "尊敬的{name}业主：",
        "salutation_formal": "{name}业主：",
        "greeting": "您好！",
        "period": "所属期间",
        "item": "收费项目",
        "principal": "应缴金额",
        "late_fee": "违约金",
        "subtotal": "小计",
        "amount": "金额",
        "total": "合计",
        "capitals": "合计人民币（大写）",
        "installment_no": "期次",
        "installment_due": "缴费日期",
        "installment_amount": "金额",
        "installment_total": "分期合计",
        "installment_ordinal": "第{n}期",
        "step_when": "时间",
        "step_action": "整改内容",
        "closing_1": "此致",
        "closing_2": "敬礼！",
        "wish_1": "祝您和家人",
        "wish_2": "生活愉快、万事顺心！",
        "so_notified": "特此函告。",
        "seal": "（盖章）",
        "statement": "在线查看账单明细",
        "page_hint": "如您已缴纳，请忽略本函，并感谢您的支持。",
        "party_a": "甲方（物业服务人）",
        "party_b": "乙方（业主）",
        "postal": "通讯地址",
        "sign_a": "甲方",
        "sign_b": "乙方",
        "sign_seal": "盖章",
        "sign_rep": "经办人",
        "sign_name": "签字",
        "sign_phone": "联系电话",
        "sign_date": "日期",
        "count_unit": "次",
    },
    "hant": {
        "colon": "：",
        "letter_no": "編號",
        "date": "日期",
        "to": "收件人",
        "address": "地址",
        "unit": "房屋",
        "phone": "服務電話",
        "addressee_suffix": "業主",
        "salutation": "{name}業主您好：",
        "salutation_formal": "{name}業主 台鑒：",
        "greeting": "",
        "period": "所屬期間",
        "item": "收費項目",
        "principal": "應繳金額",
        "late_fee": "違約金",
        "subtotal": "小計",
        "amount": "金額",
        "total": "合計",
        "capitals": "合計人民幣（大寫）",
        "installment_no": "期數",
        "installment_due": "繳費日期",
        "installment_amount": "金額",
        "installment_total": "分期合計",
        "installment_ordinal": "第{n}期",
        "step_when": "時間",
        "step_action": "改善內容",
        "closing_1": "此致",
        "closing_2": "敬禮",
        "wish_1": "敬祝",
        "wish_2": "闔家平安",
        "so_notified": "特此函告。",
        "seal": "（蓋章）",
        "statement": "線上查閱帳單明細",
        "page_hint": "如您已繳納，請忽略本函，並感謝您的支持。",
        "party_a": "甲方（物業服務人）",
        "party_b": "乙方（業主）",
        "postal": "通訊地址",
        "sign_a": "甲方",
        "sign_b": "乙方",
        "sign_seal": "蓋章",
        "sign_rep": "經辦人",
        "sign_name": "簽名",
        "sign_phone": "聯絡電話",
        "sign_date": "日期",
        "count_unit": "次",
    },
    "en": {
        "colon": ": ",
        "letter_no": "Ref.",
        "date": "Date",
        "to": "To",
        "address": "Address",
        "unit": "Home",
        "phone": "Service phone",
        "addressee_suffix": "",
        "salutation": "Dear {name},",
        "salutation_formal": "Dear {name},",
        "greeting": "",
        "period": "Period",
        "item": "Item",
        "principal": "Amount due",
        "late_fee": "Late fee",
        "subtotal": "Subtotal",
        "amount": "Amount",
        "total": "Total",
        "capitals": "In words (大写)",
        "installment_no": "Installment",
        "installment_due": "Due date",
        "installment_amount": "Amount",
        "installment_total": "Plan total",
        "installment_ordinal": "No. {n}",
        "step_when": "When",
        "step_action": "What we will do",
        "closing_1": "Yours sincerely,",
        "closing_2": "",
        "wish_1": "With warm wishes,",
        "wish_2": "",
        "so_notified": "",
        "seal": "(company seal)",
        "statement": "Your statement online",
        "page_hint": "If you have already paid, please disregard this letter, and thank you.",
        "party_a": "Party A (property service provider)",
        "party_b": "Party B (owner)",
        "postal": "Postal address",
        "sign_a": "Party A",
        "sign_b": "Party B",
        "sign_seal": "Seal",
        "sign_rep": "Handled by",
        "sign_name": "Signature",
        "sign_phone": "Phone",
        "sign_date": "Date",
        "count_unit": "",
    },
}

_TITLES: Final[dict[str, dict[LetterKind, str]]] = {
    "hans": {
        LetterKind.payment_notice: "物业服务费缴费须知",
        LetterKind.pre_due_notice: "物业服务费缴费提示",
        LetterKind.friendly_reminder: "缴费温馨提示",
        LetterKind.formal_reminder: "物业服务费催缴通知",
        LetterKind.final_demand: "催告函",
        LetterKind.hardship_offer: "分期缴费建议书",
        LetterKind.explanation: "物业服务费说明",
        LetterKind.rectification_reply: "关于您反映问题的整改答复",
        LetterKind.plan_agreement: "物业服务费分期缴纳协议",
    },
    "hant": {
        LetterKind.payment_notice: "物業管理費繳費須知",
        LetterKind.pre_due_notice: "物業管理費繳費提示",
        LetterKind.friendly_reminder: "繳費溫馨提示",
        LetterKind.formal_reminder: "物業管理費催繳通知",
        LetterKind.final_demand: "催告函",
        LetterKind.hardship_offer: "分期繳費建議書",
        LetterKind.explanation: "物業管理費說明",
        LetterKind.rectification_reply: "關於您反映問題的改善答覆",
        LetterKind.plan_agreement: "物業管理費分期繳納協議",
    },
    "en": {
        LetterKind.payment_notice: "Property Fee: How and When to Pay",
        LetterKind.pre_due_notice: "Your Property Fee Is Due Soon",
        LetterKind.friendly_reminder: "A Friendly Reminder",
        LetterKind.formal_reminder: "Property Fee Reminder",
        LetterKind.final_demand: "Final Demand for Payment",
        LetterKind.hardship_offer: "An Installment Plan for You",
        LetterKind.explanation: "About Your Property Fee",
        LetterKind.rectification_reply: "Our Reply and Rectification Plan",
        LetterKind.plan_agreement: "Installment Payment Agreement",
    },
}

# Explanation letters: (title, topic for the short message, legal basis as printed).
_BELIEF_WORDS: Final[dict[str, dict[str, tuple[str, str, str]]]] = {
    "hans": {
        "vacancy": ("关于房屋空置期间物业服务费的说明", "空置房屋的物业费", "《民法典》第九百四十四条"),
        "unused_service": ("关于“没用到的服务也要交费吗”的说明", "未使用的服务项目", "《民法典》第九百四十四条"),
        "public_revenue": ("关于小区公共收益与物业服务费的说明", "公共收益与物业费", "《民法典》第二百八十二条"),
        "no_contract": ("关于物业服务合同效力的说明", "物业服务合同", "《民法典》第九百三十九条"),
        "developer_promise": ("关于开发商优惠承诺的说明", "开发商的承诺", "《民法典》第四百六十五条"),
        "tenant_pays": ("关于出租房屋物业服务费的说明", "出租房屋的物业费", "《物业管理条例》第四十一条"),
        "fee_increase_without_vote": (
            "关于物业服务费调整的说明",
            "物业费调整",
            "《民法典》第九百四十三条、第二百七十八条",
        ),
        "fee_start": ("关于物业服务费起算时间的说明", "物业费起算时间", "《物业管理条例》第四十一条"),
        "other_funds": ("关于专项维修资金与物业服务费的说明", "维修资金与物业费", "《民法典》第二百八十一条"),
    },
    "hant": {
        "vacancy": ("關於房屋空置期間物業管理費的說明", "空置房屋的管理費", "《民法典》第九百四十四條"),
        "unused_service": ("關於「沒用到的服務也要繳費嗎」的說明", "未使用的服務項目", "《民法典》第九百四十四條"),
        "public_revenue": ("關於社區公共收益與物業管理費的說明", "公共收益與管理費", "《民法典》第二百八十二條"),
        "no_contract": ("關於物業服務合同效力的說明", "物業服務合同", "《民法典》第九百三十九條"),
        "developer_promise": ("關於開發商優惠承諾的說明", "開發商的承諾", "《民法典》第四百六十五條"),
        "tenant_pays": ("關於出租房屋物業管理費的說明", "出租房屋的管理費", "《物業管理條例》第四十一條"),
        "fee_increase_without_vote": (
            "關於物業管理費調整的說明",
            "管理費調整",
            "《民法典》第九百四十三條、第二百七十八條",
        ),
        "fee_start": ("關於物業管理費起算時間的說明", "管理費起算時間", "《物業管理條例》第四十一條"),
        "other_funds": ("關於專項維修資金與物業管理費的說明", "維修資金與管理費", "《民法典》第二百八十一條"),
    },
    "en": {
        "vacancy": ("About the Fee for an Empty Home", "the fee for an empty home", "Civil Code, Article 944"),
        "unused_service": ("About Services You Do Not Use", "services you do not use", "Civil Code, Article 944"),
        "public_revenue": (
            "About Shared-Area Income and Your Fee",
            "shared-area income",
            "Civil Code, Article 282",
        ),
        "no_contract": ("About the Property Service Contract", "the service contract", "Civil Code, Article 939"),
        "developer_promise": ("About the Developer's Promise", "the developer's promise", "Civil Code, Article 465"),
        "tenant_pays": (
            "About the Fee for a Let Home",
            "the fee for a let home",
            "Property Management Regulations, Article 41",
        ),
        "fee_increase_without_vote": (
            "About the Change in the Fee",
            "the change in the fee",
            "Civil Code, Articles 943 and 278",
        ),
        "fee_start": (
            "About When the Fee Starts",
            "when the fee starts",
            "Property Management Regulations, Article 41",
        ),
        "other_funds": (
            "About the Maintenance Fund and Your Fee",
            "the maintenance fund",
            "Civil Code, Article 281",
        ),
    },
}

_COMPLAINT_CATEGORIES: Final[dict[str, dict[str, str]]] = {
    "hans": {
        "cleaning": "保洁",
        "security": "安保",
        "elevator": "电梯运行",
        "repair": "维修",
        "leak": "渗漏",
        "parking": "停车管理",
        "noise": "噪音",
        "greenery": "绿化",
        "other": "服务",
    },
    "hant": {
        "cleaning": "清潔",
        "security": "保安",
        "elevator": "電梯運行",
        "repair": "維修",
        "leak": "滲漏",
        "parking": "停車管理",
        "noise": "噪音",
        "greenery": "綠化",
        "other": "服務",
    },
    "en": {
        "cleaning": "cleaning",
        "security": "security",
        "elevator": "lift service",
        "repair": "repairs",
        "leak": "leak",
        "parking": "parking management",
        "noise": "noise",
        "greenery": "greenery",
        "other": "service",
    },
}

# Service-activity labels (feesvc.service_records.models.ACTIVITY_LABELS) may arrive in Simplified
# Chinese; Traditional and English letters print the known ones in their own language.
_SERVICE_LABELS_HANT: Final = {
    "保洁": "清潔",
    "维修": "維修",
    "安保巡逻": "保安巡邏",
    "绿化养护": "綠化養護",
    "其他服务": "其他服務",
    "电梯维保": "電梯維保",
    "巡检": "巡檢",
}

_SERVICE_LABELS_EN: Final = {
    "保洁": "cleaning rounds",
    "维修": "repairs",
    "安保巡逻": "security patrols",
    "绿化养护": "greenery care",
    "其他服务": "other services",
    "电梯维保": "lift maintenance visits",
    "巡检": "inspections",
}

_LATE_FEE_TEXTS: Final[dict[str, dict[str, str]]] = {
    "hans": {
        "freeze": "分期期间，上述费用的违约金暂停计算。",
        "waive_on_completion": "分期期间不再计算违约金；全部分期按时缴清后，上述已产生的违约金{late}全部免除。",
        "waive_now": "上述已产生的违约金{late}予以免除，分期期间也不再计算违约金。",
    },
    "hant": {
        "freeze": "分期期間，上述費用的違約金暫停計算。",
        "waive_on_completion": "分期期間不再計算違約金；全部分期按時繳清後，上述已產生的違約金{late}全數免除。",
        "waive_now": "上述已產生的違約金{late}予以免除，分期期間也不再計算違約金。",
    },
    "en": {
        "freeze": "While the plan runs, no further late fees are charged on these amounts.",
        "waive_on_completion": (
            "No late fees are charged while the plan runs, and once every installment is paid on time the "
            "late fees already charged{late} are waived in full."
        ),
        "waive_now": "The late fees already charged{late} are waived, and none are charged while the plan runs.",
    },
}


def letter_title(ctx: LetterContext) -> str:
    """The letter's heading in its language; explanation letters are titled by their topic."""
    script = _script(ctx.locale)
    if ctx.kind is LetterKind.explanation and ctx.belief in BELIEFS:
        return _BELIEF_WORDS[script][ctx.belief][0]
    return _TITLES[script][ctx.kind]


# ---------------------------------------------------------------------------------------------
# Formatting helpers (Babel underneath, through feesvc.formatting)
# ---------------------------------------------------------------------------------------------

_CN_DIGITS: Final = "零一二三四五六七八九"


def _zhe(percent_off: Decimal) -> str:
    """5 % off → "九五折", 10 % off → "九折", 12.5 % off → "八七五折" (how shops say it)."""
    rest = Decimal(100) - percent_off
    digits = format(rest.normalize(), "f").replace(".", "")
    digits = digits.rstrip("0") or "0"
    return "".join(_CN_DIGITS[int(d)] for d in digits) + "折"


def _percent(percent_off: Decimal) -> str:
    return format(percent_off.normalize(), "f") + "%"


def _money(fen: int, locale: str) -> str:
    return formatting.money(fen, locale)


_BABEL_LOCALES: Final = {"zh_CN": "zh_Hans_CN", "zh_TW": "zh_Hant_TW", "zh_HK": "zh_Hant_HK", "en": "en_GB"}


def _local(value: datetime) -> datetime:
    """Times print on the estate's clock: an aware datetime is converted to the business time zone,
    a naive one is taken to be local already."""
    return value.astimezone(BUSINESS_TZ) if value.tzinfo is not None else value


def _when(value: datetime, locale: str) -> str:
    """A day and time: "2026年11月23日 14:00", "23 November 2026, 14:00"."""
    value = _local(value)
    clock = format_time(value, "HH:mm", locale=_BABEL_LOCALES[locale])
    day = formatting.date_long(value.date(), locale)
    return f"{day}, {clock}" if locale == "en" else f"{day} {clock}"


def _distinct_periods(periods: Sequence[PeriodLine]) -> list[str]:
    return sorted({line.period for line in periods})


def _month_index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def _period_label_short(period: str, locale: str) -> str:
    """English short month for short messages, "Mar 2026"; Chinese labels are short already."""
    if locale != "en":
        return formatting.period_label(period, locale)
    first_day = date(int(period[:4]), int(period[5:7]), 1)
    return format_skeleton("yMMM", first_day, locale="en_GB")


def periods_text(periods: Sequence[PeriodLine], locale: str, *, limit: int = 3, short: bool = False) -> str:
    """The periods in words: "2025年1月至2025年6月", "2025年1月、2025年3月", "March 2025 to June 2025"…
    ``short``: "Mar 2025 to Jun 2025" in English (short messages)."""
    loc = formatting.normalize_locale(locale)
    months = _distinct_periods(periods)
    if not months:
        return ""
    labels = [_period_label_short(p, loc) if short else formatting.period_label(p, loc) for p in months]
    consecutive = all(_month_index(b) - _month_index(a) == 1 for a, b in pairwise(months))
    if len(months) == 1:
        return labels[0]
    if consecutive:
        joiner = " to " if loc == "en" else "至"
        return f"{labels[0]}{joiner}{labels[-1]}"
    if len(months) <= limit:
        return (", " if loc == "en" else "、").join(labels)
    shown = (", " if loc == "en" else "、").join(labels[:limit])
    if loc == "en":
        return f"{shown} and {len(months) - limit} more months"
    return f"{shown}等{len(months)}个月" if loc == "zh_CN" else f"{shown}等{len(months)}個月"


def _service_items(ctx: LetterContext, script: str) -> list[tuple[str, int]]:
    labels = {"hant": _SERVICE_LABELS_HANT, "en": _SERVICE_LABELS_EN}.get(script, {})
    return [(labels.get(label, label), count) for label, count in ctx.service_summary]


def _service_text(items: Sequence[tuple[str, int]], script: str) -> str:
    """The summary in a line: 保洁 30 次、维修 15 次 / 30 cleaning rounds, 15 repairs."""
    if script == "en":
        return ", ".join(f"{count} {label}" for label, count in items)
    return "、".join(f"{label} {count} 次" for label, count in items)


# ---------------------------------------------------------------------------------------------
# The template context
# ---------------------------------------------------------------------------------------------


def _offer_context(offer: PrepayOffer, locale: str) -> dict[str, Any]:
    return {
        "months": offer.months,
        "percent": _percent(offer.percent_off),
        "zhe": _zhe(offer.percent_off),
        "saving_fen": offer.saving_fen,
    }


def _late_fee_text(plan: PlanTerms, late_fees_fen: int, locale: str, script: str) -> str:
    texts = _LATE_FEE_TEXTS[script]
    if plan.late_fee_treatment not in texts:
        return plan.late_fee_treatment  # the agreed wording, as given
    amount = _money(late_fees_fen, locale)
    if late_fees_fen <= 0:
        late = ""
    elif script == "en":
        late = f" ({amount})"
    else:
        late = f"（{amount}）"
    return texts[plan.late_fee_treatment].format(late=late)


def _plan_context(plan: PlanTerms, late_fees_fen: int, locale: str, script: str) -> dict[str, Any]:
    ordered = sorted(plan.installments, key=lambda i: (i.due_date, i.number))
    return {
        "installments": ordered,
        "count": len(ordered),
        "first": ordered[0],
        "last": ordered[-1],
        "total_fen": plan.total_fen,
        "late_fee_text": _late_fee_text(plan, late_fees_fen, locale, script),
        "grace_days": plan.grace_days,
        "waived_fees_return": plan.waived_fees_return
        and plan.late_fee_treatment in ("waive_on_completion", "waive_now")
        and late_fees_fen > 0,
        "ordinal": [_LABELS[script]["installment_ordinal"].format(n=i.number) for i in ordered],
    }


def _complaint_context(complaint: ComplaintInfo, locale: str, script: str) -> dict[str, Any]:
    steps = sorted(complaint.steps, key=lambda s: _sort_key(s.at))
    inspect_at = complaint.inspect_at if complaint.inspect_at is not None else steps[-1].at
    category = _COMPLAINT_CATEGORIES[script].get(complaint.category, complaint.category)
    return {
        "opened": _when(complaint.opened, locale),
        "opened_day": formatting.date_long(_day(complaint.opened), locale),
        "category": category,
        "text": complaint.text.strip(),
        "steps": [{"when": _when(step.at, locale), "action": step.action} for step in steps],
        "done_by": formatting.date_long(_day(steps[-1].at), locale),
        "inspect_at": _when(inspect_at, locale),
        "contact": complaint.contact,
    }


def _day(value: datetime) -> date:
    return _local(value).date()


def _sort_key(value: datetime) -> datetime:
    """Steps in time order, every time on the estate's clock."""
    return _local(value).replace(tzinfo=None)


def template_context(ctx: LetterContext) -> dict[str, Any]:
    """What the letter templates receive: the context itself as ``letter`` plus derived values."""
    locale = ctx.locale
    script = _script(locale)
    principal = sum(line.amount_fen for line in ctx.periods)
    late_fees = sum(line.late_fee_fen for line in ctx.periods)
    service = _service_items(ctx, script)
    months = _distinct_periods(ctx.periods)
    return {
        "locale": locale,
        "script": script,
        "letter": ctx,
        "kind": ctx.kind.value,
        "t": _LABELS[script],
        "title": letter_title(ctx),
        "principal_fen": principal,
        "late_fees_fen": late_fees,
        "has_late_fees": late_fees > 0,
        "periods_text": periods_text(ctx.periods, locale),
        "first_period": months[0] if months else None,
        "month_count": len(months),
        "service": service,
        "service_text": _service_text(service, script),
        "offer": _offer_context(ctx.prepay_offer, locale) if ctx.prepay_offer else None,
        "plan": _plan_context(ctx.plan, late_fees, locale, script) if ctx.plan else None,
        "complaint": _complaint_context(ctx.complaint, locale, script) if ctx.complaint else None,
        "belief": ctx.belief,
        "basis": _BELIEF_WORDS[script][ctx.belief][2] if ctx.belief in BELIEFS else "",
    }


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_letter_html(ctx: LetterContext) -> str:
    """The letter as HTML (links ``base.css``: previews in a browser opened on ``letters/``)."""
    return render_html(template_for(ctx.kind), template_context(ctx))


def render_letter_pdf(ctx: LetterContext) -> bytes:
    """The letter as a PDF, fonts embedded."""
    return render_pdf(template_for(ctx.kind), template_context(ctx), LETTER_STYLESHEETS)


def write_letters_pdf(contexts: Iterable[LetterContext], target: Path, *, chunk_size: int = CHUNK_DOCUMENTS) -> None:
    """One combined print file at ``target``, the letters in the given order, each starting on a new
    page (rendered in chunks, on every CPU for a large run: ``feesvc.documents.render.write_pdf_many``)."""
    pages = ((template_for(c.kind), template_context(c)) for c in contexts)
    write_pdf_many(pages, target, LETTER_STYLESHEETS, chunk_size=chunk_size)


# ---------------------------------------------------------------------------------------------
# Short messages and e-mail subjects
# ---------------------------------------------------------------------------------------------


def email_subject(ctx: LetterContext) -> str:
    """The e-mail subject: 物业服务费催缴通知｜锦绣华苑 3栋 1502（JXHY-2026-11-000123）."""
    title = letter_title(ctx)
    if ctx.locale == "en":
        return f"{title} – {ctx.estate} {ctx.unit_label} ({ctx.letter_no})"
    return f"{title}｜{ctx.estate} {ctx.unit_label}（{ctx.letter_no}）"


def short_message(ctx: LetterContext) -> str:
    """The SMS / WeChat / e-mail text of the same stage, at most ``SHORT_MESSAGE_MAX`` characters,
    ending with the statement link (and the service phone when there is room).

    Starts with the sender, 【company】. Long names or links drop the optional details first: the
    phone, then the longer wording, then the company name for the estate's, and at last the sender
    (for gateways that add the registered SMS signature themselves). Raises ValueError when even
    that does not fit: the statement link is too long for a short message."""
    candidates = _message_candidates(ctx)
    for text in candidates:
        if len(text) <= SHORT_MESSAGE_MAX:
            return text
    raise ValueError(
        f"no short message for {ctx.letter_no} fits {SHORT_MESSAGE_MAX} characters "
        f"(shortest is {len(candidates[-1])}): is the statement link too long?"
    )


def _message_candidates(ctx: LetterContext) -> list[str]:
    script = _script(ctx.locale)
    loc = ctx.locale
    w = _message_words(ctx, script)
    m = _MESSAGES[script][ctx.kind]
    body_full = m["full"].format_map(w)
    body_short = m["short"].format_map(w)
    link = _MESSAGE_LINK[script].format_map(w) if ctx.statement_url else ""
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
    out.append(body_short + (" " + ctx.statement_url if ctx.statement_url else ""))
    return out


_MESSAGE_LINK: Final = {"hans": " 账单：{url}", "hant": " 帳單：{url}", "en": " Statement: {url}"}
_MESSAGE_PHONE: Final = {"hans": " 咨询电话{phone}", "hant": " 查詢電話{phone}", "en": " Phone {phone}"}


def _message_words(ctx: LetterContext, script: str) -> dict[str, Any]:
    loc = ctx.locale
    w: dict[str, Any] = {
        "name": ctx.owner_name,
        "estate": ctx.estate,
        "unit": ctx.unit_label,
        "amount": _money(ctx.total_fen, loc),
        "periods": periods_text(ctx.periods, loc, limit=2, short=True),
        "phone": ctx.service_phone,
        "url": ctx.statement_url,
        "due": formatting.date_long(ctx.due_on, loc) if ctx.due_on else "",
        "deadline": formatting.date_long(ctx.deadline, loc) if ctx.deadline else "",
        "start": formatting.period_label(_distinct_periods(ctx.periods)[0], loc) if ctx.periods else "",
        "service": _service_text(_service_items(ctx, script), script),
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
    }
    offer = ctx.prepay_offer
    if offer is not None:
        if script == "en":
            w["offer"] = f" Prepay {offer.months} months and get {_percent(offer.percent_off)} off."
        elif script == "hant":
            w["offer"] = f"預繳{offer.months}個月可享{_zhe(offer.percent_off)}優惠。"
        else:
            w["offer"] = f"预缴{offer.months}个月可享{_zhe(offer.percent_off)}优惠。"
        w["offer_short"] = w["offer"]
    if ctx.plan is not None:
        first = min(ctx.plan.installments, key=lambda i: (i.due_date, i.number))
        w["n"] = len(ctx.plan.installments)
        w["first_due"] = formatting.date_long(first.due_date, loc)
        w["first_amount"] = _money(first.amount_fen, loc)
        w["plan_total"] = _money(ctx.plan.total_fen, loc)
    if ctx.belief in BELIEFS:
        _, w["topic"], w["basis"] = _BELIEF_WORDS[script][ctx.belief]
    if ctx.complaint is not None:
        info = _complaint_context(ctx.complaint, loc, script)
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
            "可到物业服务中心或在线缴纳。{offer}缴费须知已寄给您，也可在线查看。",
            "{name}业主您好，您家{unit}的物业服务费自{start}起计收，缴费须知请在线查看。",
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
            "请于{deadline}前缴清；逾期未缴，本公司可依法提起诉讼或申请仲裁。",
            "催告函：{name}业主，您名下{unit}欠费合计{amount}（{periods}），请于{deadline}前缴清；"
            "逾期未缴，本公司可依法起诉或申请仲裁。",
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
            "可到物業服務中心或線上繳納。{offer}繳費須知已寄給您，也可線上查閱。",
            "{name}業主您好，貴戶{unit}的物業管理費自{start}起計收，繳費須知請線上查閱。",
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
            "請於{deadline}前繳清；逾期未繳，本公司可依法提起訴訟或申請仲裁。",
            "催告函：{name}業主，您名下{unit}欠費合計{amount}（{periods}），請於{deadline}前繳清；"
            "逾期未繳，本公司可依法起訴或申請仲裁。",
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
            "Pay at the service centre or online.{offer} Our payment guide is in the post and online.",
            "Dear {name}, the property fee for {unit} starts from {start}; see the payment guide online.",
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
            "is unpaid. Please pay by {deadline}; if unpaid, we may file suit or apply for arbitration.",
            "Final demand: {name}, {amount} for {unit} ({periods}) is unpaid. Pay by {deadline}, "
            "or we may sue or apply for arbitration.",
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
