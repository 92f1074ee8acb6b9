"""The words of the letters outside their templates, per script: ``hans`` (zh_CN), ``hant``
(zh_TW and zh_HK share the Traditional text) and ``en``: labels, titles, the explanation letters'
topics and legal basis, complaint categories, service labels and the plans' late-fee wording."""

from __future__ import annotations

from typing import Final

from feesvc import formatting
from feesvc.letters.content.model import BELIEFS, LetterContext
from feesvc.letters.kinds import LetterKind


def script_of(locale: str) -> str:
    loc = formatting.normalize_locale(locale)
    if loc == "en":
        return "en"
    return "hant" if loc in ("zh_TW", "zh_HK") else "hans"


LABELS: Final[dict[str, dict[str, str]]] = {
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
        "statement": "扫码查看账单、在线缴费",
        "statement_only": "查看账单明细",
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
        "statement": "掃碼查閱帳單、線上繳費",
        "statement_only": "查閱帳單明細",
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
        "statement": "Your statement and online payment (scan the code)",
        "statement_only": "Your statement",
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

TITLES: Final[dict[str, dict[LetterKind, str]]] = {
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
BELIEF_WORDS: Final[dict[str, dict[str, tuple[str, str, str]]]] = {
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

COMPLAINT_CATEGORIES: Final[dict[str, dict[str, str]]] = {
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
SERVICE_LABELS_HANT: Final = {
    "保洁": "清潔",
    "维修": "維修",
    "安保巡逻": "保安巡邏",
    "绿化养护": "綠化養護",
    "其他服务": "其他服務",
    "电梯维保": "電梯維保",
    "巡检": "巡檢",
}

SERVICE_LABELS_EN: Final = {
    "保洁": "cleaning rounds",
    "维修": "repairs",
    "安保巡逻": "security patrols",
    "绿化养护": "greenery care",
    "其他服务": "other services",
    "电梯维保": "lift maintenance visits",
    "巡检": "inspections",
}

LATE_FEE_TEXTS: Final[dict[str, dict[str, str]]] = {
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
    script = script_of(ctx.locale)
    if ctx.kind is LetterKind.explanation and ctx.belief in BELIEFS:
        return BELIEF_WORDS[script][ctx.belief][0]
    return TITLES[script][ctx.kind]
