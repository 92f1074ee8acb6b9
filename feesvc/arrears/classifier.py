"""Why is this owner not paying? A transparent, rule-based arrears cause classifier.

The training material's "三维分析" sorts non-paying owners into three causes, each with its own
playbook (DOMAIN.md, "Why owners don't pay"): hardship 经济困难型, service dissatisfaction 服务不满型
and misunderstanding 认知偏差型; ``unknown`` when the case gives no usable reason.

How a case is read (deterministic; every piece of evidence becomes a ``Signal`` saying where it came from):

1. Staff notes are normalised (Traditional → Simplified with the explicit character map below,
   lower case, full-width → half-width; every step keeps string length, so a match position in
   the normalised text is the same position in the original and quotes stay verbatim).
2. Each note is cut into sentences and clauses. Every clause gets a speaker: the owner (or the
   owner's family), staff (explaining, informing), a third party (neighbour, tenant) or plain
   narration. The owner's own quoted words weigh most, staff explanations least.
3. Lexicon rules per cause (Simplified, Traditional via the map, English) fire on sentences.
   A rule's weight is scaled by the speaker, by contrast ("但/主要是/but/mainly" weights what
   follows, concedes what precedes; "不是A，是B"), and by age. A negated match ("不是没钱",
   "not … lost his job") does not fire. Denials ("不是钱的事", "money is not the issue",
   "服务没意见") stop a cause from being the main one without erasing its evidence.
4. Complaints that are open, or closed with the owner unsatisfied, are dissatisfaction signals;
   one closed to the owner's satisfaction is not a reason by itself.
5. The payment pattern (paying later and later, partial payments, paid regularly then stopped)
   adds weak hardship evidence, and a recorded vacancy corroborates an owner's vacancy claim,
   but neither can decide a case on its own: vacancy is never a reason by itself, and a case
   whose notes and complaints say nothing is ``unknown``.
6. The top cause wins, unless the owner denied it as the reason; a second cause the owner
   clearly raised becomes ``secondary``. Confidence comes from the margin between the scores.

Amounts stay integer fen; the only floats here are rule weights, scores and the confidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Public types
# ---------------------------------------------------------------------------------------------


class Category(StrEnum):
    HARDSHIP = "hardship"
    SERVICE_DISSATISFACTION = "service_dissatisfaction"
    MISUNDERSTANDING = "misunderstanding"
    UNKNOWN = "unknown"


#: The three causes, in tie-break order: on equal scores the gentler playbook wins, because
#: treating a hardship case as anything else (reminders, legal course) does the most harm.
CAUSES: Final[tuple[Category, ...]] = (
    Category.HARDSHIP,
    Category.SERVICE_DISSATISFACTION,
    Category.MISUNDERSTANDING,
)


class Belief(StrEnum):
    """The mistaken belief behind a misunderstanding; the letter system picks its letter by it."""

    VACANCY = "vacancy"  # "an empty home is exempt"
    UNUSED_SERVICE = "unused_service"  # "I never use the lift, so I don't pay for it"
    PUBLIC_REVENUE = "public_revenue"  # "advertising income should offset my fee"
    NO_CONTRACT = "no_contract"  # "I never signed with this company"
    DEVELOPER_PROMISE = "developer_promise"  # "the developer promised free fees"
    TENANT_PAYS = "tenant_pays"  # "my tenant should pay"
    FEE_INCREASE_WITHOUT_VOTE = "fee_increase_without_vote"  # "it rose without a vote: I pay nothing"
    FEE_START = "fee_start"  # "the fee starts when I move in / get the certificate"
    OTHER_FUNDS = "other_funds"  # "I paid the maintenance fund, that covers it"


class Origin(StrEnum):
    """Where a signal comes from. Only notes and complaints can decide a case."""

    NOTE = "note"
    COMPLAINT = "complaint"
    PAYMENT_HISTORY = "payment_history"
    UNIT = "unit"


COMPLAINT_CATEGORIES: Final = frozenset(
    {"cleaning", "security", "elevator", "repair", "leak", "parking", "noise", "greenery", "other"}
)
COMPLAINT_STATUSES: Final = frozenset({"open", "closed"})
LOCALES: Final = frozenset({"zh_CN", "zh_TW", "en"})


@dataclass(frozen=True)
class Note:
    on: date
    text: str  # without the leading date

    @property
    def source(self) -> str:
        return f"note {self.on.isoformat()}"


@dataclass(frozen=True)
class Complaint:
    opened: date
    closed: date | None
    category: str
    status: str  # "open" | "closed"
    owner_satisfied: bool | None
    text: str

    @property
    def source(self) -> str:
        return f"complaint {self.opened.isoformat()} {self.category}"


@dataclass(frozen=True)
class PaymentEntry:
    period: str  # "YYYY-MM"
    paid_on: date | None  # None: unpaid, amount_fen is what was billed
    amount_fen: int

    @property
    def period_start(self) -> date:
        return _period_start(self.period)


@dataclass(frozen=True)
class CaseFacts:
    id: str
    locale: str
    vacant: bool
    area_m2: Decimal
    amount_fen: int
    months_overdue: int
    first_unpaid_period: str
    payment_history: tuple[PaymentEntry, ...] | None  # None: the record had no history
    notes: tuple[Note, ...]
    complaints: tuple[Complaint, ...]


@dataclass(frozen=True)
class Signal:
    """One piece of evidence. ``quote`` is verbatim input text when ``verbatim`` is true
    (a substring of the note or complaint named by ``source``), else a description built
    from structured fields."""

    cause: Category
    weight: float  # 0 for a denial ("*.denied"): it ranks the causes, it adds no evidence
    origin: Origin
    source: str  # "note 2025-06-19", "complaint 2025-03-11 repair", "payment_history", "unit"
    quote: str
    rule: str  # e.g. "hardship.illness_or_accident", "misunderstanding.vacancy"
    verbatim: bool
    belief: Belief | None = None
    denial: bool = False  # the owner said this cause is not (the main) reason


@dataclass(frozen=True)
class Approach:
    code: str
    summary: str
    actions: tuple[str, ...]
    pause_reminders: bool
    legal_escalation: bool  # may this case go down the legal route (催告函, suit, 支付令) now?
    belief: Belief | None = None
    legal_basis: str | None = None


@dataclass(frozen=True)
class Classification:
    category: Category
    secondary: Category | None  # never UNKNOWN, never equal to category
    confidence: float  # in [0, 1]
    signals: tuple[Signal, ...]  # strongest first
    approach: Approach
    scores: tuple[tuple[Category, float], ...]  # per cause, in CAUSES order


class CaseFormatError(ValueError):
    """A case record that cannot be read; ``field`` is a path such as ``complaints[1].opened``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Reading a record
# ---------------------------------------------------------------------------------------------

_PERIOD_RE: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_DATE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_AREA_RE: Final = re.compile(r"\d+\.\d{2}")
_NOTE_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\s+(.*))?", re.DOTALL)


def case_facts_from_record(record: object) -> CaseFacts:
    """Validate one decoded JSON case record (FORMAT.md) and turn it into ``CaseFacts``.

    Raises ``CaseFormatError`` naming the first bad field. Unknown keys are ignored, and so is
    ``expected``: the classifier never sees the answer key.
    """
    rec = _as_mapping(record, "record")
    case_id = _field(rec, "id", _as_id)
    locale = _field(rec, "locale", _as_locale)
    unit = _field(rec, "unit", _as_mapping)
    arrears = _field(rec, "arrears", _as_mapping)
    history = rec.get("payment_history")  # optional: the key may be missing
    return CaseFacts(
        id=case_id,
        locale=locale,
        vacant=_field(unit, "unit.vacant", _as_bool),
        area_m2=_field(unit, "unit.area_m2", _as_area),
        amount_fen=_field(arrears, "arrears.amount_fen", _as_int),
        months_overdue=_field(arrears, "arrears.months_overdue", _as_int),
        first_unpaid_period=_field(arrears, "arrears.first_unpaid_period", _as_period),
        payment_history=None if history is None else _payment_history(history),
        notes=tuple(_note(item, f"notes[{i}]") for i, item in enumerate(_field(rec, "notes", _as_list))),
        complaints=tuple(
            _complaint(item, f"complaints[{i}]") for i, item in enumerate(_field(rec, "complaints", _as_list))
        ),
    )


def _payment_history(value: object) -> tuple[PaymentEntry, ...]:
    entries = []
    for i, item in enumerate(_as_list(value, "payment_history")):
        entry = _as_mapping(item, f"payment_history[{i}]")
        paid_on = _field(entry, f"payment_history[{i}].paid_on", _as_optional_date)
        entries.append(
            PaymentEntry(
                period=_field(entry, f"payment_history[{i}].period", _as_period),
                paid_on=paid_on,
                amount_fen=_field(entry, f"payment_history[{i}].amount_fen", _as_int),
            )
        )
    return tuple(entries)


def _note(value: object, path: str) -> Note:
    text = _as_str(value, path)
    match = _NOTE_RE.fullmatch(text)
    if match is None:
        raise CaseFormatError(path, "must be 'YYYY-MM-DD <text>'")
    return Note(on=_as_date(match.group(1), path), text=match.group(2) or "")


def _complaint(value: object, path: str) -> Complaint:
    rec = _as_mapping(value, path)
    return Complaint(
        opened=_field(rec, f"{path}.opened", _as_date),
        closed=_field(rec, f"{path}.closed", _as_optional_date),
        category=_field(rec, f"{path}.category", _as_complaint_category),
        status=_field(rec, f"{path}.status", _as_complaint_status),
        owner_satisfied=_field(rec, f"{path}.owner_satisfied", _as_optional_bool),
        text=_field(rec, f"{path}.text", _as_str),
    )


def _field(rec: Mapping[str, Any], path: str, convert: Callable[[object, str], T]) -> T:
    """The value at ``path`` (its last component is the key in ``rec``), checked by ``convert``."""
    key = path.rsplit(".", 1)[-1]
    if key not in rec:
        raise CaseFormatError(path, "required field is missing")
    return convert(rec[key], path)


def _as_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CaseFormatError(path, f"must be an object, not {_json_type(value)}")
    return value


def _as_list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise CaseFormatError(path, f"must be a list, not {_json_type(value)}")
    return value


def _as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise CaseFormatError(path, f"must be a string, not {_json_type(value)}")
    return value


def _as_id(value: object, path: str) -> str:
    text = _as_str(value, path)
    if not text.strip():
        raise CaseFormatError(path, "must not be empty")
    return text


def _as_locale(value: object, path: str) -> str:
    return _as_choice(value, path, LOCALES)


def _as_complaint_category(value: object, path: str) -> str:
    return _as_choice(value, path, COMPLAINT_CATEGORIES)


def _as_complaint_status(value: object, path: str) -> str:
    return _as_choice(value, path, COMPLAINT_STATUSES)


def _as_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise CaseFormatError(path, f"must be true or false, not {_json_type(value)}")
    return value


def _as_optional_bool(value: object, path: str) -> bool | None:
    return None if value is None else _as_bool(value, path)


def _as_int(value: object, path: str) -> int:
    # bool is an int subclass in Python, but true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaseFormatError(path, f"must be an integer, not {_json_type(value)}")
    if value < 0:
        raise CaseFormatError(path, "must not be negative")
    return value


def _as_choice(value: object, path: str, choices: frozenset[str]) -> str:
    text = _as_str(value, path)
    if text not in choices:
        raise CaseFormatError(path, f"must be one of {', '.join(sorted(choices))}, not {text!r}")
    return text


def _as_date(value: object, path: str) -> date:
    text = _as_str(value, path)
    try:
        # fromisoformat alone would also take "20250619"; the format says YYYY-MM-DD.
        if _DATE_RE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise CaseFormatError(path, f"must be a date YYYY-MM-DD, not {text!r}")


def _as_optional_date(value: object, path: str) -> date | None:
    return None if value is None else _as_date(value, path)


def _as_period(value: object, path: str) -> str:
    text = _as_str(value, path)
    if _PERIOD_RE.fullmatch(text) is None:
        raise CaseFormatError(path, f"must be a period YYYY-MM, not {text!r}")
    return text


def _as_area(value: object, path: str) -> Decimal:
    text = _as_str(value, path)
    try:
        area = Decimal(text) if _AREA_RE.fullmatch(text) else None
    except InvalidOperation:
        area = None
    if area is None or area <= 0:
        raise CaseFormatError(path, f"must be a positive decimal with 2 places such as '89.50', not {text!r}")
    return area


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _period_start(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


# ---------------------------------------------------------------------------------------------
# Text normalisation: Traditional → Simplified, case, width. Always length-preserving.
# ---------------------------------------------------------------------------------------------

# Each token is "<traditional><simplified>". Written out by hand (no conversion library): the
# characters of the lexicons below and the everyday words of fee, repair and family matters.
T2S_PAIRS: Final = """
這这 們们 來来 時时 會会 個个 為为 爲为 裡里 裏里 還还 過过 將将 與与 對对 從从 後后 於于 麼么 嗎吗
說说 話话 講讲 問问 題题 認认 識识 讓让 應应 該该 當当 開开 關关 見见 覺觉 聽听 請请 謝谢 誰谁 幾几
點点 萬万 兩两 無无 沒没 並并 卻却 雖虽 總总 種种 樣样 長长 現现 實实 際际 況况 處处 邊边 間间 頭头
號号 區区 層层 單单 樓楼 門门 戶户 電电 燈灯 壞坏 滲渗 發发 髮发 黴霉 濕湿 牆墙 頂顶 線线 網网 鎖锁
鑰钥 車车 輛辆 庫库 場场 園园 綠绿 蒼苍 蠅蝇 髒脏 潔洁 淨净 掃扫 聲声 響响 鬧闹 衛卫 監监 攝摄 錄录
竊窃 盜盗 劃划 搶抢 闖闯 擋挡 圍围 欄栏 壓压 業业 費费 繳缴 錢钱 給给 帳账 賬账 結结 貨货 廠厂 虧亏
損损 賠赔 償偿 營营 運运 濟济 經经 難难 緊紧 湊凑 籌筹 寬宽 緩缓 續续 債债 貸贷 銀银 醫医 藥药 療疗
術术 診诊 斷断 禍祸 傷伤 喪丧 護护 顧顾 復复 風风 癱瘫 瘓痪 腦脑 臟脏 腫肿 職职 員员 資资 險险 簽签
約约 買买 賣卖 證证 權权 產产 諾诺 贈赠 擔担 負负 責责 漲涨 價价 調调 議议 決决 選选 廣广 維维 進进
裝装 飾饰 訴诉 辦办 憑凭 攤摊 務务 態态 惡恶 爛烂 罵骂 隨随 鄰邻 陽阳 臺台 遲迟 趕赶 盡尽 計计 談谈
論论 誤误 紀纪 記记 舊旧 換换 舉举 獲获 報报 備备 標标 準准 減减 語语 氣气 據据 確确 狀状 須须 規规
則则 條条 專专 項项 廳厅 設设 遊游 戲戏 縫缝 針针 詢询 訪访 貼贴 掛挂 驗验 執执 齊齐 質质 爭争 訟讼
審审 勞劳 動动 隊队 罰罚 檔档 撥拨 擱搁 剛刚 貧贫 窮穷 艱艰 暫暂 書书 讀读 課课 試试 補补 習习 歡欢
樂乐 鐘钟 鐵铁 興兴 聯联 繫系 係系 國国 較较 幫帮 親亲 養养 歲岁 兒儿 媽妈 爺爷 婦妇 學学 夠够 餘余
雙双 絕绝 愛爱 著着 麵面 隻只 乾干 幹干 雜杂 亂乱 闆板 滅灭 積积 測测 檢检 體体 導导 頓顿 繼继 歸归
屬属 額额 銷销 屆届 滿满 敗败 閉闭 週周 轉转 靈灵 錯错 極极 嚴严 順顺 遞递 郵邮 稅税 碼码 臨临 離离
僅仅 殘残 領领 輕轻 鬆松 東东 蓋盖 塊块 傳传 訊讯 飯饭 飲饮 聞闻 蟲虫 樹树 葉叶 劇剧 幣币 廢废 遺遗
賴赖 棄弃 歷历 曆历 嘆叹 僱雇 訂订 購购 簡简 閒闲 閑闲 協协 惱恼 擾扰 噸吨 黃黄 陳陈 趙赵 劉刘
張张 馬马 孫孙 鄭郑 吳吴 楊杨 羅罗 許许 鍾钟 鬥斗 熱热 鍋锅 貓猫 雞鸡 魚鱼 鳥鸟 灣湾
"""


def _build_t2s() -> dict[int, str]:
    table: dict[int, str] = {}
    for token in T2S_PAIRS.split():
        table[ord(token[0])] = token[1]
    return table


T2S: Final[Mapping[int, str]] = _build_t2s()


def normalise_text(text: str) -> str:
    """Simplified, lower-case, half-width text of exactly the same length as ``text``.

    Same length is the point: a match at position i..j in the result is the same span in the
    original, so signals can quote the owner verbatim.
    """
    out = []
    for ch in text.translate(T2S):
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII (，：！？ＡＢ１) → half-width
            ch = chr(code - 0xFEE0)
        elif ch == "\u3000":
            ch = " "
        lower = ch.lower()
        out.append(lower if len(lower) == 1 else ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Lexicons
#
# Patterns run on normalised text (Simplified, lower case, half-width punctuation), one sentence
# at a time. Two conventions keep them readable:
#   …   one character of the same clause other than a negator: "电梯…{0,6}坏" matches 电梯又坏了
#       and 电梯三天两头坏, not 电梯没坏 or "电梯，灯坏了" (another clause);
#   \b  an ASCII word boundary: patterns compile with re.ASCII, because with Unicode \w a CJK
#       character counts as a letter and "拿到一个offer" would have no boundary before "offer".
# A rule's alternatives are given as separate strings and joined with "|".
# ---------------------------------------------------------------------------------------------

_GAP: Final = "[^,:、没不]"


def _compile(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives).replace("…", _GAP), re.ASCII)


@dataclass(frozen=True)
class Rule:
    name: str
    cause: Category
    weight: float
    pattern: re.Pattern[str]
    requires: re.Pattern[str] | None = None  # must also match somewhere in the same sentence
    belief: Belief | None = None
    denial: bool = False  # the owner says this cause is not (the main) reason
    negatable: bool = True  # skip a match with a negator right before it ("不是没钱")


def _rule(
    cause: Category,
    name: str,
    weight: float,
    *alternatives: str,
    requires: tuple[str, ...] = (),
    belief: Belief | None = None,
    negatable: bool = True,
) -> Rule:
    return Rule(
        name=f"{cause.value}.{name}",
        cause=cause,
        weight=weight,
        pattern=_compile(*alternatives),
        requires=_compile(*requires) if requires else None,
        belief=belief,
        negatable=negatable,
    )


def _denial(cause: Category, *alternatives: str) -> Rule:
    # Weight 0: a denial ranks the causes ("手头是紧一点，但主要不是钱的事" concedes hardship and
    # puts it second); it does not erase evidence. The ranking is applied in _decide.
    return Rule(
        name=f"{cause.value}.denied",
        cause=cause,
        weight=0.0,
        pattern=_compile(*alternatives),
        denial=True,
        negatable=False,
    )


_H = Category.HARDSHIP
_S = Category.SERVICE_DISSATISFACTION
_M = Category.MISUNDERSTANDING

# Weights: 3 = the cause stated outright, 2 = a strong sign, 1.5 = a typical sign, < 1 = a hint.
HARDSHIP_RULES: Final[tuple[Rule, ...]] = (
    _rule(
        _H,
        "job_loss",
        3.0,
        r"失业|下岗|被裁|裁员|被辞|辞退|资遣|无薪假|丢了工作|工作(?:丢|没)了|停薪|停工|停产",
        r"\blaid off\b|\bunemploy\w*|\blost (?:his|her|my|their|the) job\b|\bout of work\b|\bredundan\w+",
        r"\b(?:contract|job) (?:ended|was terminated)\b|\bnot renewed\b",
    ),
    _rule(
        _H,
        "job_search",
        2.0,
        r"找工作|找事做|找活|打零工|面试|入职|没上班|(?:没|还没)找到…{0,4}工作",
        r"\boffer\b|\binterview\w*|\blooking for (?:a )?(?:job|work)\b|\bjob[- ]hunting\b",
    ),
    _rule(
        _H,
        "income_unpaid",
        3.0,
        r"(?:退休工资|退休金|养老金|工资|工钱|薪水|薪资|工程款|货款|(?<!欠)款)…{0,10}"
        r"(?:没(?:有)?(?:打|发|到|结|给|拿到)|拖欠|欠着|压着|不给|收不回|结不了|拿不到)",
        r"没(?:发|拿到|结)…{0,3}(?:工资|工钱|薪水)|拖欠工资|欠薪|只发基本工资|(?:一分(?:钱)?|一直)没结|劳动监察|讨薪",
        r"\bowes? (?:him|her|me|them|us)\b.{0,40}\b(?:salary|wages?|pay)\b|\bunpaid (?:salary|wages)\b",
        r"\b(?:salary|wages|pension) (?:has |have |was |were )?(?:not|never) (?:been )?paid\b",
        r"\bpension (?:is |was )?(?:late|delayed)\b|\bhas(?:n't| not) (?:been )?paid (?:him|her|me|them)\b",
    ),
    _rule(
        _H,
        "illness_or_accident",
        3.0,
        r"住院|化疗|放疗|手术|开刀|中风|癌|肿瘤|重病|大病|病危|病重|重症|透析|瘫痪|车祸|被车撞|骨折",
        r"去世|过世|病故|丧事|下不了床|复健|看护|护工|陪护|生病|病倒|(?<![a-z])icu(?![a-z])",
        r"\bhospital\w*|\bsurgery\b|\bchemo\w*|\bcancer\b|\bstroke\b|\baccident\b|\bseriously ill\b",
        r"\billness\b|\bpassed away\b|\bfuneral\b|\bmedical (?:bills|costs|treatment)\b",
    ),
    _rule(_H, "family_emergency", 2.0, r"出了事|家里出事|离婚", r"\bfamily emergency\b|\bdivorce\b"),
    _rule(
        _H,
        "business_failure",
        3.0,
        r"(?:生意|买卖|店|厂|公司|门面|档口)…{0,8}(?:亏|倒闭|关了|关门|停了|黄了|倒了|不开了|做不下去|破产|失败)",
        r"(?<!吃)亏了|亏本|亏损|倒闭|破产|没回本|资金链|周转不(?:开|灵|过来)|生意(?:不好|难做|很差|惨淡)",
        r"\bbusiness (?:failed|closed|collapsed|went under)\b|\bbankrupt\w*|\blost (?:a lot of )?money\b",
    ),
    _rule(
        _H,
        "debt_pressure",
        2.0,
        r"借(?!口)(?:钱|遍|了|的|款)|找…{0,6}借|(?:房贷|车贷|贷款)…{0,6}(?:断|还不上|逾期|压)|断供|银行…{0,6}催",
        r"外债|欠债",
        r"\bin debt\b|\bmortgage\b|\bborrow\w*",
    ),
    _rule(
        _H,
        "money_tight",
        2.0,
        r"凑不(?:出|齐|够)|拿不出|交不起|缴不起|付不起|没钱|没(?:有|了)?收入|手头…{0,3}紧",
        r"经济困难|生活困难|有困难|揭不开锅|低保|收入…{0,4}(?:减少|少了|下降|锐减|断了)",
        r"\bcan(?:'t|not) afford\b|\bshort of (?:money|cash)\b|\btight on money\b|\bstruggling\b|\bno income\b",
    ),
    _rule(
        _H,
        "awaiting_money",
        2.0,
        r"(?:工资|工钱|钞票|钱|工程款|货款|补助|补贴|理赔|赔偿|赔款|退休金|养老金|奖金)…{0,6}"
        r"(?:到|下来|结了|发了|批下来|拿到|到账|到位).{0,14}(?:交|缴|补|结|还|付)",
        r"等.{0,6}(?:找到工作|入职|卖掉|卖了|官司|判下来)|卖掉.{0,12}(?:结清|交|缴|还|补)",
        r"\bonce (?:he|she|i|they) (?:has|have|gets?) (?:an? )?(?:income|job|salary)\b",
        r"\bwhen (?:the |his |her |my )?(?:salary|wages|pension|insurance)\b",
    ),
    _rule(
        _H,
        "asks_for_time",
        1.5,
        r"分期|分(?:两|二|三|几|[2-9])(?:次|期)|先(?:交|缴|补|还)…{0,5}(?:一部分|一个月|一点|两百|一半|部分)",
        r"每(?:个)?月先(?:交|缴)|慢慢(?:补|还|交)|宽限|缓(?:一缓|缓|缴|交)|晚(?:一)?点(?:交|缴|再交)",
        r"往后(?:放|推|拖)|能不能(?:晚|等|缓)|再等等|(?:交|缴)一部分",
        r"\binstal(?:l)?ments?\b|\bpayment plan\b|\bmore time\b|\bpay (?:it )?in parts\b|\bpartial payment\b",
        r"\bextension\b",
    ),
    _rule(
        _H,
        "acknowledges_debt",
        0.75,
        r"不是故意|不好意思|一定(?:交|补|还|缴)|物业费(?:他|她|我)?认|认这个账|不会赖|不是不(?:想|愿意)(?:交|缴)",
        r"第一个来交|\bnot (?:trying to )?avoid\w*\b",
    ),
    _denial(
        _H,
        r"不是没钱|不是钱的(?:事|问题)|不是因为钱|不差(?:钱|这点钱|这几个钱)|不缺(?:钱|这点|这几个)",
        r"(?:交|缴|付)得起|钱不是问题",
        r"\bnot (?:about|because of) (?:the )?money\b|\bmoney (?:is not|isn't) the (?:issue|problem)\b",
        r"\bnot a money (?:issue|problem)\b|\bcan (?:easily )?afford\b",
    ),
)

# "… fixed / rectified / explained" as the owner's condition for paying.
_FIX: Final = r"(?:(?:修|修剪|修复|维修|整改|处理|解决|管|换|清理|清运|打扫|抓)(?:好|了|完|到位)|说法|答复|整改方案)"
_SERVICE_NOUN_EN: Final = (
    r"\b(?:camera|cctv|security|guard|gate|door|lift|elevator|leak\w*|roof|clean\w*|rubbish|garbage"
    r"|trash|noise|parking|repair\w*|fix\w*|broken)\b"
)

SERVICE_RULES: Final[tuple[Rule, ...]] = (
    _rule(
        _S,
        "pay_when_fixed",
        3.0,
        _FIX + r".{0,14}?(?:交|缴|补|谈|来找|再说)",
        r"不(?:给)?(?:修|解决|整改|处理|管|换|清).{0,16}?(?:不|不会|别想)(?:交|缴|付)",
        r"\bpay\b.{0,30}\b(?:when|once|after)\b.{0,40}\b(?:fixed|repaired|resolved|sorted|cleaned)\b",
        negatable=False,
    ),
    _rule(
        _S,
        "pay_when_fixed",
        3.0,
        r"\b(?:won't|will not|wont|refuses? to|not going to) pay\b.{0,12}\b(?:until|unless)\b",
        requires=(_SERVICE_NOUN_EN,),
        negatable=False,
    ),
    _rule(
        _S,
        "refuses_to_fund_poor_service",
        2.5,
        r"不想(?:再)?把钱(?:交|缴)给|还好意思(?:来)?收|还要物业干(?:什么|啥)|要物业(?:有|干)(?:什么|啥)用",
        r"交了也白交|白交钱|就当…{0,3}(?:捐|白给|打水漂|喂)",
        r"\bpaying for\b.{0,30}\b(?:doesn't|does not|don't) exist\b",
        negatable=False,
    ),
    _rule(
        _S,
        "demands_redress",
        1.5,
        r"(?:给|讨|要|有)个说法|道歉(?:没用|有什么用)",
        r"\bwritten answer\b|\bexplains? why\b|\bcompensat\w*",
    ),
    _rule(
        _S,
        "poor_service",
        1.5,
        r"(?:服务|卫生|环境|保洁|绿化|管理|安保)…{0,3}(?:太|很|真|也太|特别|非常)?(?:差|烂|不行|不到位|糟|脏)",
        r"服务也就(?:那|这)样|什么服务|脏乱差|对…{0,8}不满",
        r"(?:物业|你们|保安|警卫|管理处|管委会|管理中心|客服)…{0,4}"
        r"(?:不管(?!怎|多|如何|什么|是)|不理|不处理|不闻不问|没反应|没回应)",
        r"不做事|不干活|不作为|不负责|没人(?:管|修|清|处理)|没人来(?:修|处理|看|管)|没下文|踢皮球|推来推去|推卸|敷衍",
        r"态度…{0,3}(?:恶劣|差|不好|蛮横)|只收钱",
        r"一阵风|只能劝导|管不了|不管不问|连个电话都没|(?:修|处理|解决|漏|坏)…{0,6}拖了",
        r"\b(?:poor|terrible|bad|awful) service\b|\b(?:nobody|no one) (?:checks|cares|came|fixed|responds)\b",
        r"\bnever (?:fixed|repaired)\b|\bignored\b|\bdo(?:es)? nothing\b",
        negatable=False,
    ),
    _rule(
        _S,
        "escalation_threat",
        1.5,
        r"投诉…{0,4}(?:好几次|多次|几次|了也|也没用|没用|无数次)",
        r"(?:去|到|找)(?:住建|房管局|街道|消协|媒体|电视台)|12345|曝光",
        r"\bcomplain\w* (?:to|again)\b|\b(?:several|many) complaints\b",
    ),
    _rule(
        _S,
        "facility_problem",
        1.5,
        r"漏水|渗水|漏雨|又漏|漏成|发霉|墙皮|积水|返水",
        r"(?:电梯|门禁|单元门|大门|灯|监控|摄像头|门锁|对讲|水泵|滑梯|道闸)…{0,6}"
        r"(?:坏|停|不亮|故障|卡住|卡了|失灵|没修|不修|没录|不录|开裂|敞着)",
        r"报修…{0,8}(?:没人|很久|好久|没修|没来|不来)",
        r"\bleak\w*|\b(?:broken|out of order|not working)\b|\bmou?ld\w*\b",
        r"\b(?:hasn't|haven't|has not|have not) (?:been )?(?:fixed|repaired|worked)\b",
        r"\b(?:camera|cctv)\b.{0,20}\b(?:off|not recording|broken|down)\b",
    ),
    _rule(
        _S,
        "security_problem",
        1.5,
        r"(?:谁都|随便|外来|陌生)…{0,6}(?:能进|进|放行)|外来车|被(?:划|偷|盗|撬)|失窃",
        r"(?:保安|警卫)…{0,8}(?:没看见|没看到|不管|收…{0,3}好处|睡觉|不在)",
        r"\bstrangers?\b.{0,30}\b(?:walk|come|get)s? in\b|\bstolen\b|\btheft\b|\bbreak-?ins?\b",
        r"\bguards?\b.{0,20}\b(?:asleep|sleeping|absent|never there)\b",
    ),
    _rule(
        _S,
        "environment_problem",
        1.5,
        r"臭|苍蝇|蚊子|老鼠|蟑螂|垃圾…{0,6}(?:没人清|没人收|满了|溢|不清|没清|没运|堆)|没修剪|杂草|噪音|吵得|扰民",
        r"\bdirty\b|\bsmell\w*|\bstink\w*|\brubbish\b|\bgarbage\b|\bnois[ey]\w*|\bpests?\b|\brats?\b",
    ),
    _rule(
        _S,
        "parking_problem",
        1.5,
        r"车位…{0,8}(?:被占|占用|停不了|问题)|占(?:用|着)…{0,4}车位|停满|乱停|消防通道|地库…{0,6}(?:乱|管好)",
        r"\bparking\b.{0,20}\b(?:taken|blocked|chaos|occupied)\b",
    ),
    _denial(
        _S,
        r"服务…{0,4}(?:没意见|没有意见|挺好|还行|不错|没问题)|不是服务的问题|(?:修不修|服务|投诉)…{0,4}(?:是一回事|是两回事|另说)",
        r"\bno complaints? about the service\b|\bservice is (?:fine|good|ok)\b|\bnot about the service\b",
    ),
)

_VACANT: Final = (
    r"空(?:房|置|着|屋)|没人住|没住(?:过|人)|一直没住|没入住|未入住|水电(?:都)?(?:没开|是零|为零|没用)",
    r"\bvacant\b|\bempty\b|\b(?:nobody|no one) lives\b|\bunoccupied\b|\bnot living (?:there|in it)\b",
    r"\b(?:don't|doesn't|do not|does not|never|haven't|hasn't) (?:even )?live[ds]? (?:there|in it)\b",
)
# "an empty home should not be billed", not merely "I'll pay later"
_NOT_LIABLE: Final = (
    r"不该|不应|不用|免|凭(?:什么|啥)|收什么|为(?:什么|啥)要?(?:交|缴|收)|没享受",
    r"\bshould(?:n't| not)\b|\bexempt\b|\bwhy (?:should|would|do|does)\b|\bno need\b|\bfree\b",
)
_OFFSET: Final = (r"抵|扣|分给|分到|冲|够|返还|\boffset\b|\bcovers?\b|\bdeduct\w*|\bshared?\b|\binstead\b",)

MISUNDERSTANDING_RULES: Final[tuple[Rule, ...]] = (
    _rule(_M, "vacancy", 3.0, *_VACANT, requires=_NOT_LIABLE, belief=Belief.VACANCY),
    _rule(
        _M,
        "vacancy",
        1.5,
        r"等…{0,4}(?:有人住|住进|回来住|住人|入住).{0,8}(?:再|才)(?:交|缴|说)",
        belief=Belief.VACANCY,
    ),
    _rule(
        _M,
        "unused_service",
        2.0,
        r"没享受…{0,4}服务|(?:没|不)(?:坐|用|使用)(?:过)?…{0,4}(?:电梯|会所|泳池)|一次都没(?:坐|用)|一楼|一层|底楼",
        r"\bnever use[sd]?\b|\b(?:don't|do not|doesn't) use\b",
        requires=(*_NOT_LIABLE, r"摊|扣|\bpay\b"),
        belief=Belief.UNUSED_SERVICE,
        negatable=False,
    ),
    _rule(
        _M,
        "unused_service",
        1.5,
        r"(?:扣掉|扣除|减掉|减去)…{0,8}(?:电梯|绿化|保洁|那部分|这部分)",
        belief=Belief.UNUSED_SERVICE,
    ),
    _rule(
        _M,
        "public_revenue",
        3.0,
        r"广告|公共收益|公共收入|停车(?:费)?收入|场地(?:费|租金)|租金收入",
        r"\b(?:advertising|advert|ad|public|common[- ]area|parking) (?:revenue|income|money)\b",
        requires=_OFFSET,
        belief=Belief.PUBLIC_REVENUE,
    ),
    _rule(
        _M,
        "no_contract",
        3.0,
        r"没签(?:过)?(?:任何)?(?:合同|合约|协议|字)|(?:跟|和|与)(?:你们|这家|物业|新)…{0,8}没签",
        r"不(?:承认|认)(?:这家|你们|新的?)(?:公司|物业)",
        r"(?:换|选|聘|请)…{0,10}(?:没同意|没经过我|不是我选)|(?:别人|开发商|他们)(?:选|找|请|定|签)的",
        r"\bnever signed\b|\b(?:didn't|did not) sign\b|\bno contract with\b|\bnot my choice\b",
        belief=Belief.NO_CONTRACT,
        negatable=False,
    ),
    _rule(
        _M,
        "developer_promise",
        3.0,
        r"(?:送|免|赠送|赠)…{0,2}(?:[一二两三四五1-5]年|[0-9一二两三四五六七八九十]+个月)?(?:的)?物业费",
        r"物业费…{0,6}(?:全免|免了|免费|包了)|(?:开发商|售楼处|售楼|置业顾问|销售)…{0,8}(?:承诺|答应|送|免|保证)",
        r"\bdeveloper\b.{0,60}\b(?:promised|would pay|covers?|free)\b|\bfree\b.{0,40}\bdeveloper\b",
        r"\bfree (?:property|management|service) fees?\b",
        belief=Belief.DEVELOPER_PROMISE,
    ),
    _rule(
        _M,
        "developer_promise",
        1.5,
        r"找开发商|开发商(?:的事|负责|承担)|\b(?:ask|go to|talk to) the developer\b",
        belief=Belief.DEVELOPER_PROMISE,
    ),
    _rule(
        _M,
        "tenant_pays",
        3.0,
        r"(?:租客|租户|房客|承租人)…{0,10}(?:承担|负责|交|缴|付|要)|谁住谁(?:交|缴|付)|(?:让|叫|去|你们)…{0,3}找(?:租客|租户|房客)",
        r"\btenants?\b.{0,20}\b(?:should|will|must|is supposed to) pay\b|\bask the tenant\b",
        belief=Belief.TENANT_PAYS,
    ),
    _rule(_M, "tenant_pays", 1.5, r"房租…{0,6}包含…{0,3}物业费", belief=Belief.TENANT_PAYS),
    _rule(
        _M,
        "fee_increase_without_vote",
        3.0,
        r"(?:涨|上调|调价|提价|提高).{0,20}(?:没(?:有)?(?:开|经过|投票|表决|通过|同意|征求)|业主大会|投票|表决)",
        r"没(?:有)?(?:投票|表决|开业主大会).{0,6}(?:涨|调)|恢复原价|退还多收|多收的",
        r"\b(?:raised|increased|hiked|went up)\b.{0,30}\bwithout\b.{0,20}\b(?:vote|consent|meeting|agreement)\b",
        belief=Belief.FEE_INCREASE_WITHOUT_VOTE,
        negatable=False,
    ),
    _rule(
        _M,
        "fee_start",
        3.0,
        r"(?:从|自)…{0,6}(?:搬进来|住进来|入住|搬来|交房|收房|拿钥匙)…{0,8}(?:算|开始|交|缴)",
        r"(?:搬进来|住进来|入住)(?:那天|以后|之后)…{0,6}(?:开始|算|才)|没(?:搬|住)进来.{0,12}(?:凭|算|交|缴)",
        r"(?:房产证|产权证|不动产权?证|证)…{0,8}(?:没办|没下来|办下来|下来|办好).{0,12}(?:交|缴|算|再)",
        r"还不算我的|只认…{0,8}(?:以后|之后)",
        r"\bha(?:ve|s)(?:n't| not) (?:yet )?moved in\b|\bfrom the day (?:i|he|she|we) mov\w+",
        r"\btitle deed\b|\bproperty certificate\b",
        belief=Belief.FEE_START,
        negatable=False,
    ),
    _rule(
        _M,
        "fee_start",
        3.0,
        r"(?:没|未|还没)(?:收房|交房|拿(?:到)?钥匙|办(?:理)?入住)",
        requires=_NOT_LIABLE,
        belief=Belief.FEE_START,
    ),
    _rule(
        _M,
        "other_funds",
        3.0,
        r"维修(?:基金|资金)|大修基金|公维金|专项维修|停车费|车位费|暖气费|取暖费|水电费",
        r"\b(?:maintenance|sinking|repair) fund\b|\bthe fund\b",
        requires=(
            r"包含|包括|里面|就是|抵|扣|一回事|一样|覆盖|不用(?:再)?(?:交|缴)",
            r"\bcovers?\b|\bcovered\b|\bsame thing\b|\bdeduct\w*|\binclud\w*",
        ),
        belief=Belief.OTHER_FUNDS,
    ),
)

# Applied to the text of complaints that count (open, or closed unsatisfied): a problem that
# keeps coming back is a stronger grievance than a one-off.
COMPLAINT_TEXT_RULES: Final[tuple[Rule, ...]] = (
    _rule(
        _S,
        "recurring_problem",
        0.5,
        r"又|还是|第[二三四五两2-9]次|再次|至今|到现在|根本没|\bagain\b|\bstill\b|\bsecond time\b",
        negatable=False,
    ),
)

NOTE_RULES: Final[tuple[Rule, ...]] = HARDSHIP_RULES + SERVICE_RULES + MISUNDERSTANDING_RULES

# ---------------------------------------------------------------------------------------------
# Reading a note: sentences, clauses, speakers, quotes, contrast
# ---------------------------------------------------------------------------------------------


class Speaker(StrEnum):
    OWNER = "owner"  # the owner or the owner's family, explicitly
    NARRATION = "narration"  # staff reporting what happened, no explicit speaker
    THIRD_PARTY = "third_party"  # neighbour, tenant
    STAFF = "staff"  # staff explaining or informing


SPEAKER_WEIGHT: Final[Mapping[Speaker, float]] = {
    Speaker.OWNER: 1.0,
    Speaker.NARRATION: 0.9,
    Speaker.THIRD_PARTY: 0.5,
    Speaker.STAFF: 0.3,  # the staff's own explanation says little about the owner's reason
}
QUOTED_FACTOR: Final = 1.25  # the owner's words, verbatim
EMPHASIS_FACTOR: Final = 1.5  # after "但/主要是/but/mainly"
CONCESSION_FACTOR: Final = 0.75  # before it: conceded, still present, not the main point
STALE_AFTER: Final = timedelta(days=365)
STALE_FACTOR: Final = 0.5

_SENTENCE_END: Final = re.compile(r"[。!?;\n]+|(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bdr)\.(?=\s|$|['\"”’])", re.ASCII)
_CLAUSE_END: Final = re.compile(r"[,:、]")
_QUOTE_SPANS: Final = re.compile(r"“[^”]*”?|「[^」]*」?|『[^』]*』?|\"[^\"]*\"|(?<!\w)'.+?'(?!\w)", re.ASCII)
_CLAUSE_LEAD: Final = re.compile(r"[\s“”「」『』\"'(（]*")
_STAFF_CUE: Final = re.compile(
    r"(?:向|告知|已告知|说明|解释|经核实|核实|工程部|工程人员|维修工|管家|前台|客服|项目经理|主管|我们|我司"
    r"|explained\b|informed\b|told (?:him|her|the owner)\b|we\b|staff\b|engineering\b)"
)
_THIRD_PARTY_CUE: Final = re.compile(r"(?:邻居|租客|租户|房客|中介|the tenant\b|tenant\b|neighbou?rs?\b)")
_OWNER_CUE: Final = re.compile(
    r"(?:业主|户主|他|她|老[^\W\d_a-z]|[^\W\d_a-z]{1,3}(?:先生|女士|太太|小姐|阿姨|大爷|大妈|师傅)"
    r"|(?:the )?owner\b|he\b|she\b|mr\b|mrs\b|ms\b)"
)
_CONTRAST: Final = re.compile(
    r"但是|但(?!凡)|可是|不过|然而|而是|主要是|关键是|最主要|真正的?原因是"
    r"|\bbut\b|\bhowever\b|\bmainly\b|\bthe (?:main|real) (?:reason|issue|problem|thing)\b",
    re.ASCII,
)
_ZH_NEGATED: Final = re.compile(r"(?:(?<!要)不是|并非|没有|没|不|未)$")
_EN_NEGATED: Final = re.compile(r"(?:n't|\bnot|\bno|\bnever|\bwithout)\s+(?:\w+\s+)?$", re.ASCII)


@dataclass(frozen=True)
class _Clause:
    start: int
    end: int
    speaker: Speaker


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    clauses: tuple[_Clause, ...]
    markers: tuple[int, ...]  # contrast marker positions

    def clause_at(self, pos: int) -> _Clause:
        for clause in self.clauses:
            if clause.start <= pos < clause.end:
                return clause
        return self.clauses[-1]

    def contrast_factor(self, pos: int) -> float:
        if any(marker > pos for marker in self.markers):
            return CONCESSION_FACTOR
        if self.markers:
            return EMPHASIS_FACTOR
        return 1.0


@dataclass(frozen=True)
class _Text:
    """One note (or complaint) text, normalised and cut up."""

    original: str
    norm: str
    sentences: tuple[_Sentence, ...]
    quoted: tuple[tuple[int, int], ...]

    def is_quoted(self, pos: int) -> bool:
        return any(start < pos < end for start, end in self.quoted)


def _analyse(original: str) -> _Text:
    norm = normalise_text(original)
    quoted = tuple((m.start(), m.end()) for m in _QUOTE_SPANS.finditer(norm))
    sentences = tuple(_sentence(norm, start, end, quoted) for start, end in _spans(norm, _SENTENCE_END, 0, len(norm)))
    return _Text(original, norm, sentences, quoted)


def _spans(text: str, separator: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """Non-empty pieces of text[start:end] between separators (separators stay with the piece
    before them, so a quote never loses its closing mark)."""
    spans, begin = [], start
    for match in separator.finditer(text, start, end):
        if match.end() > begin:
            spans.append((begin, match.end()))
        begin = match.end()
    if begin < end:
        spans.append((begin, end))
    return [(a, b) for a, b in spans if text[a:b].strip(" ,:、。!?;.\n")]


def _sentence(norm: str, start: int, end: int, quoted: tuple[tuple[int, int], ...]) -> _Sentence:
    clauses: list[_Clause] = []
    markers = [m.start() for m in _CONTRAST.finditer(norm, start, end)]
    speaker, seen_negation = Speaker.NARRATION, False
    for c_start, c_end in _spans(norm, _CLAUSE_END, start, end):
        lead = _CLAUSE_LEAD.match(norm, c_start)
        head = lead.end() if lead else c_start
        inside_quote = any(q_start < head < q_end for q_start, q_end in quoted)
        if not inside_quote:  # inside a quote the speaker is whoever is being quoted
            speaker = _speaker_cue(norm, head) or speaker
        # "不是A，是B": a clause opening with 是 after a denial is the real point.
        if seen_negation and norm.startswith("是", head):
            markers.append(head)
        seen_negation = seen_negation or "不是" in norm[c_start:c_end]
        clauses.append(_Clause(c_start, c_end, speaker))
    if not clauses:
        clauses.append(_Clause(start, end, speaker))
    return _Sentence(start, end, tuple(clauses), tuple(sorted(markers)))


def _speaker_cue(norm: str, pos: int) -> Speaker | None:
    # Staff first: "向朱先生出示…" is staff speaking to the owner, not the owner.
    for cue, speaker in (
        (_STAFF_CUE, Speaker.STAFF),
        (_THIRD_PARTY_CUE, Speaker.THIRD_PARTY),
        (_OWNER_CUE, Speaker.OWNER),
    ):
        if cue.match(norm, pos):
            return speaker
    return None


def _is_negated(norm: str, sentence: _Sentence, pos: int) -> bool:
    before = norm[max(sentence.start, pos - 20) : pos]
    return bool(_ZH_NEGATED.search(before) or _EN_NEGATED.search(before))


def _quote_span(text: _Text, sentence: _Sentence, start: int, end: int) -> str:
    """The clauses spanning [start, end), cut to the owner's quoted words when the match lies
    inside a quotation, trimmed of punctuation and quote marks."""
    begin = sentence.clause_at(start).start
    finish = sentence.clause_at(max(start, end - 1)).end
    for q_start, q_end in text.quoted:
        if q_start < start and end <= q_end:
            begin, finish = max(begin, q_start + 1), min(finish, q_end)
    return text.original[begin:finish].strip(" \t\n,，:：、。.!！?？;；“”「」『』\"'()（）")


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


def _text_signals(original: str, origin: Origin, source: str, rules: Sequence[Rule], age_factor: float) -> list[Signal]:
    """The strongest firing of each rule in one text (a rule repeated in one note counts once)."""
    text = _analyse(original)
    best: dict[str, Signal] = {}
    for sentence in text.sentences:
        for rule in rules:
            signal = _fire(rule, text, sentence, origin, source, age_factor)
            if signal is not None and (rule.name not in best or signal.weight > best[rule.name].weight):
                best[rule.name] = signal
    return list(best.values())


def _fire(
    rule: Rule, text: _Text, sentence: _Sentence, origin: Origin, source: str, age_factor: float
) -> Signal | None:
    """The rule's signal in this sentence, or None. Only the first firing counts."""
    match = _first_match(rule.pattern, rule, text, sentence)
    required = None if rule.requires is None else _first_match(rule.requires, rule, text, sentence)
    if match is None or (rule.requires is not None and required is None):
        return None
    start, end = match.start(), match.end()
    if required is not None:  # quote both halves of a paired rule ("空着" … "凭什么收钱")
        start, end = min(start, required.start()), max(end, required.end())
    weight = rule.weight * _speaker_factor(text, sentence, match.start())
    weight *= sentence.contrast_factor(match.start()) * age_factor
    return Signal(
        cause=rule.cause,
        weight=round(weight, 3),
        origin=origin,
        source=source,
        quote=_quote_span(text, sentence, start, end),
        rule=rule.name,
        verbatim=True,
        belief=rule.belief,
        denial=rule.denial,
    )


def _first_match(pattern: re.Pattern[str], rule: Rule, text: _Text, sentence: _Sentence) -> re.Match[str] | None:
    """The first match in the sentence that no negator cancels ("空置房不免" is no exemption claim)."""
    for match in pattern.finditer(text.norm, sentence.start, sentence.end):
        if not (rule.negatable and _is_negated(text.norm, sentence, match.start())):
            return match
    return None


def _speaker_factor(text: _Text, sentence: _Sentence, pos: int) -> float:
    speaker = sentence.clause_at(pos).speaker
    if text.is_quoted(pos) and speaker in (Speaker.OWNER, Speaker.NARRATION):
        return QUOTED_FACTOR
    return SPEAKER_WEIGHT[speaker]


def _age_factor(on: date, as_of: date) -> float:
    return STALE_FACTOR if as_of - on > STALE_AFTER else 1.0


def _note_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    signals: list[Signal] = []
    for note in facts.notes:
        if note.on <= as_of:  # a note written after the as-of date is not known yet
            signals += _text_signals(note.text, Origin.NOTE, note.source, NOTE_RULES, _age_factor(note.on, as_of))
    return signals


def _complaint_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    signals: list[Signal] = []
    for complaint in facts.complaints:
        if complaint.opened > as_of:
            continue
        closed_by_then = complaint.status == "closed" and (complaint.closed is None or complaint.closed <= as_of)
        if closed_by_then and complaint.owner_satisfied is not False:
            continue  # fixed to the owner's satisfaction (or no verdict): not a reason by itself
        state, weight = ("closed, owner not satisfied", 1.5) if closed_by_then else ("open", 2.0)
        age = _age_factor(complaint.opened, as_of)
        signals.append(
            Signal(
                cause=Category.SERVICE_DISSATISFACTION,
                weight=weight * age,
                origin=Origin.COMPLAINT,
                source=complaint.source,
                quote=f"{complaint.source}: {state}",
                rule=f"service_dissatisfaction.complaint_{'unsatisfied' if closed_by_then else 'open'}",
                verbatim=False,
            )
        )
        signals += _text_signals(complaint.text, Origin.COMPLAINT, complaint.source, COMPLAINT_TEXT_RULES, age)
    return signals


def _payment_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    if not facts.payment_history:
        return []
    # A payment made after the as-of date had not been made yet.
    history = [
        entry if entry.paid_on is None or entry.paid_on <= as_of else PaymentEntry(entry.period, None, entry.amount_fen)
        for entry in facts.payment_history
    ]
    found = (_later_and_later(history), _partial_payments(history), _regular_then_stopped(history))
    return [signal for signal in found if signal is not None]


def _payment_signal(rule: str, weight: float, description: str) -> Signal:
    return Signal(
        cause=Category.HARDSHIP,
        weight=weight,
        origin=Origin.PAYMENT_HISTORY,
        source="payment_history",
        quote=description,
        rule=f"hardship.{rule}",
        verbatim=False,
    )


def _single_payments(history: Sequence[PaymentEntry]) -> list[tuple[PaymentEntry, int]]:
    """Paid entries with their delay in days after the period began. Entries paid together with
    others (a year at once, a catch-up) say nothing about when this period was paid."""
    paid_on_count: dict[date, int] = {}
    for entry in history:
        if entry.paid_on is not None:
            paid_on_count[entry.paid_on] = paid_on_count.get(entry.paid_on, 0) + 1
    return [
        (entry, (entry.paid_on - entry.period_start).days)
        for entry in history
        if entry.paid_on is not None and paid_on_count[entry.paid_on] == 1
    ]


def _later_and_later(history: Sequence[PaymentEntry]) -> Signal | None:
    singles = _single_payments(history)
    run = 1
    while run < len(singles) and singles[-run - 1][1] < singles[-run][1]:
        run += 1
    last_delay = singles[-1][1] if singles else 0
    if run < 3 or last_delay <= 31:  # three rising delays, the last one past the month
        return None
    tail = singles[-run:]
    delays = "→".join(str(delay) for _, delay in tail)
    return _payment_signal(
        "paying_later_and_later",
        1.0,
        f"payment_history {tail[0][0].period}..{tail[-1][0].period}: paid {delays} days after each period began",
    )


def _partial_payments(history: Sequence[PaymentEntry]) -> Signal | None:
    """A paid amount below both neighbours' amounts. A rate change moves every later amount
    together, so it is not a dip; a partial payment is."""
    partial = []
    for i, entry in enumerate(history):
        if entry.paid_on is None:
            continue
        neighbours = [history[j].amount_fen for j in (i - 1, i + 1) if 0 <= j < len(history)]
        if neighbours and all(entry.amount_fen < amount for amount in neighbours):
            partial.append(f"{entry.period} paid {entry.amount_fen} of {max(neighbours)} fen")
    if not partial:
        return None
    return _payment_signal("partial_payment", 1.0, f"payment_history partial: {'; '.join(partial)}")


def _regular_then_stopped(history: Sequence[PaymentEntry]) -> Signal | None:
    """Six on-time payments, then nothing for at least two periods: something changed."""
    paid_at = [i for i, entry in enumerate(history) if entry.paid_on is not None]
    if not paid_at:
        return None
    paid, unpaid = history[: paid_at[-1] + 1], history[paid_at[-1] + 1 :]
    recent = paid[-6:]
    on_time = all(
        entry.paid_on is not None and 0 <= (entry.paid_on - entry.period_start).days <= 31 for entry in recent
    )
    if len(recent) < 6 or not on_time or len(unpaid) < 2:
        return None
    return _payment_signal(
        "stopped_after_regular_payments",
        0.5,
        f"payment_history: paid on time through {paid[-1].period}, nothing since {unpaid[0].period}",
    )


def _vacancy_signal(facts: CaseFacts, signals: Sequence[Signal]) -> list[Signal]:
    """A recorded vacancy backs up an owner's vacancy claim. It is never a reason by itself."""
    claimed = any(signal.belief is Belief.VACANCY and signal.weight > 0 for signal in signals)
    if not (facts.vacant and claimed):
        return []
    return [
        Signal(
            cause=Category.MISUNDERSTANDING,
            weight=0.5,
            origin=Origin.UNIT,
            source="unit",
            quote="unit recorded as vacant (backs the owner's claim that an empty home is exempt)",
            rule="misunderstanding.vacancy_recorded",
            verbatim=False,
            belief=Belief.VACANCY,
        )
    ]


# ---------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------

MIN_PRIMARY_SCORE: Final = 1.0  # below this a cause is not a usable signal
MIN_SECONDARY_SCORE: Final = 1.5
DECIDING_ORIGINS: Final = frozenset({Origin.NOTE, Origin.COMPLAINT})


def classify(facts: CaseFacts, today: date | None = None) -> Classification:
    """Classify one case as of ``today``.

    ``today`` defaults to the case's latest dated event, never the wall clock, so the same
    input always gives the same answer. Notes, complaints and payments dated after ``today``
    are ignored: the case is read as it stood on that day.
    """
    as_of = today or _latest_event(facts)
    signals = _note_signals(facts, as_of) + _complaint_signals(facts, as_of) + _payment_signals(facts, as_of)
    signals += _vacancy_signal(facts, signals)
    scores = _scores(signals)
    category, secondary = _decide(scores, signals)
    return Classification(
        category=category,
        secondary=secondary,
        confidence=_confidence(category, scores),
        signals=tuple(sorted(signals, key=lambda s: (-s.weight, s.source, s.rule))),
        approach=approach_for(category, _belief(signals) if category is Category.MISUNDERSTANDING else None),
        scores=tuple((cause, round(scores[cause], 3)) for cause in CAUSES),
    )


def _latest_event(facts: CaseFacts) -> date:
    dates = [note.on for note in facts.notes]
    dates += [d for complaint in facts.complaints for d in (complaint.opened, complaint.closed) if d is not None]
    dates += [entry.paid_on for entry in facts.payment_history or () if entry.paid_on is not None]
    return max(dates, default=date.max)


def _scores(signals: Iterable[Signal]) -> dict[Category, float]:
    totals = dict.fromkeys(CAUSES, 0.0)
    for signal in signals:
        totals[signal.cause] += signal.weight
    return {cause: max(0.0, total) for cause, total in totals.items()}


def _has_evidence(cause: Category, signals: Iterable[Signal], origins: frozenset[Origin]) -> bool:
    return any(s.cause is cause and s.weight > 0 and s.origin in origins for s in signals)


def _decide(scores: Mapping[Category, float], signals: Sequence[Signal]) -> tuple[Category, Category | None]:
    ranked = sorted(CAUSES, key=lambda cause: (-scores[cause], CAUSES.index(cause)))
    usable = [
        cause
        for cause in ranked
        if scores[cause] >= MIN_PRIMARY_SCORE and _has_evidence(cause, signals, DECIDING_ORIGINS)
    ]
    if not usable:
        return Category.UNKNOWN, None
    # The owner ranks the causes: one they explicitly denied ("不是钱的事") is not the main one
    # while another cause is on the table.
    denied = {s.cause for s in signals if s.denial}
    primary = next((cause for cause in usable if cause not in denied), usable[0])
    # A second cause counts only if the owner raised it in a note: "clearly present".
    secondary = next(
        (
            cause
            for cause in ranked
            if cause is not primary
            and scores[cause] >= MIN_SECONDARY_SCORE
            and _has_evidence(cause, signals, frozenset({Origin.NOTE}))
        ),
        None,
    )
    return primary, secondary


def _confidence(category: Category, scores: Mapping[Category, float]) -> float:
    """Strength of the winning evidence times the margin over the runner-up.

    strength = own / (own + MIN_PRIMARY_SCORE) saturates towards 1 with more evidence;
    margin = (own - runner_up) / own is 1 when nothing else is present and 0 on a tie (or when
    the owner's ranking overrode a higher score); it maps to a factor 0.5..1. For ``unknown``
    it is how little evidence there is for any cause: 1.0 when there is none at all.
    """
    top = max(scores.values())
    if category is Category.UNKNOWN:
        return round(MIN_PRIMARY_SCORE / (MIN_PRIMARY_SCORE + top), 2)
    own = scores[category]
    runner_up = max(score for cause, score in scores.items() if cause is not category)
    margin = max(0.0, own - runner_up) / own
    return round(own / (own + MIN_PRIMARY_SCORE) * (0.5 + 0.5 * margin), 2)


def _belief(signals: Iterable[Signal]) -> Belief | None:
    totals: dict[Belief, float] = {}
    for signal in signals:
        if signal.belief is not None and signal.cause is Category.MISUNDERSTANDING:
            totals[signal.belief] = totals.get(signal.belief, 0.0) + signal.weight
    if not totals:
        return None
    order = list(Belief)
    return max(totals, key=lambda belief: (totals[belief], -order.index(belief)))


# ---------------------------------------------------------------------------------------------
# What to do: DOMAIN.md's playbook per cause
# ---------------------------------------------------------------------------------------------

# belief → (legal basis, the point the explanation letter makes)
BELIEF_EXPLANATIONS: Final[Mapping[Belief, tuple[str, str]]] = {
    Belief.VACANCY: (
        "民法典 944(1)",
        "not using the service does not exempt an owner; a vacant home pays unless the estate has a "
        "vacancy reduction and a vacancy notice was filed",
    ),
    Belief.UNUSED_SERVICE: (
        "民法典 944(1)",
        "the fee pays for the estate's shared services as a whole; not using one of them (the lift, the "
        "clubhouse) does not reduce it",
    ),
    Belief.PUBLIC_REVENUE: (
        "民法典 282",
        "income from shared parts (advertising, parking) belongs to all owners after reasonable costs; "
        "the owners' assembly decides its use and it does not offset one owner's fee",
    ),
    Belief.NO_CONTRACT: (
        "民法典 939, 280",
        "a service contract concluded by the owners' committee after the owners' assembly chose the "
        "company (or the developer's preliminary contract) binds every owner, signed or not",
    ),
    Belief.DEVELOPER_PROMISE: (
        "民法典 465(2)",
        "a sales promise binds the developer, not the service company; the owner can claim it from the "
        "developer, and the fee stays due",
    ),
    Belief.TENANT_PAYS: (
        "物业管理条例 41(1)",
        "an owner may agree that the tenant pays, but the owner stays jointly liable for the fee",
    ),
    Belief.FEE_INCREASE_WITHOUT_VOTE: (
        "民法典 943, 278",
        "a disputed increase is raised with the owners' assembly or the price authority; the fee at the "
        "undisputed rate stays due meanwhile",
    ),
    Belief.FEE_START: (
        "物业管理条例 41(2); 民法典 939",
        "the fee starts at handover or transfer of the home under the service contract, not at move-in "
        "or when the property certificate is issued",
    ),
    Belief.OTHER_FUNDS: (
        "民法典 281",
        "the special maintenance fund (专项维修资金) belongs to the owners and pays only for major repairs "
        "of shared parts; it is not the monthly service fee",
    ),
}


def approach_for(category: Category, belief: Belief | None = None) -> Approach:
    """The playbook for a category; for a misunderstanding, tailored to the belief."""
    if category is Category.HARDSHIP:
        return Approach(
            code="installment_plan",
            summary="Talk first and offer an installment plan; no legal escalation.",
            actions=(
                "Call or visit the owner to talk first; record the situation (job, illness, business) in the case.",
                "Propose a 3-installment plan (分期还款协议) for the overdue periods, late fees (违约金) waived "
                "while the plan is kept; a manager approves it.",
                "Once the plan is signed, stop reminders for the covered periods.",
                "Do not escalate: no 催告函, lawsuit or payment order while the owner engages.",
            ),
            pause_reminders=True,
            legal_escalation=False,
        )
    if category is Category.SERVICE_DISSATISFACTION:
        return Approach(
            code="rectify_first",
            summary="Verify and fix the service problem, let the owner inspect, then talk about paying.",
            actions=(
                "Verify the owner's complaint on site at once (respond within 15 minutes, feedback within 24 hours).",
                "Send the owner a rectification plan with dates within 24 hours.",
                "Fix it, then invite the owner to inspect the result and record the verdict on the complaint.",
                "Pause payment reminders until the owner has inspected the fix; only then discuss paying.",
            ),
            pause_reminders=True,
            legal_escalation=False,
        )
    if category is Category.MISUNDERSTANDING:
        basis, point = BELIEF_EXPLANATIONS[belief] if belief else ("", "")
        letter = (
            f"Send the explanation letter for '{belief.value}' citing {basis}: {point}; add a comparable case."
            if belief
            else "Send an explanation letter stating the rule behind the fee, with a comparable case."
        )
        return Approach(
            code="explain_rule",
            summary="Explain the rule the owner has wrong, then follow the normal reminder course.",
            actions=(
                "Call the owner: repeat their claim back, clarify the facts calmly.",
                letter,
                "Then follow the normal reminder course.",
            ),
            pause_reminders=False,
            legal_escalation=True,
            belief=belief,
            legal_basis=basis or None,
        )
    return Approach(
        code="standard_reminders",
        summary="No stated reason: standard reminder course, and find out why.",
        actions=(
            "Reach the owner and ask why they have not paid; record their own words in the note.",
            "Follow the standard reminder course, each reminder delivered provably (EMS tracking, SMS record).",
            "Before any suit, send a 催告函 with amount, periods and a deadline (民法典 944(2)).",
        ),
        pause_reminders=False,
        legal_escalation=True,
    )


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def classification_as_dict(case_id: str, result: Classification) -> dict[str, Any]:
    """The JSON shape printed by ``feesvc classify``."""
    approach = result.approach
    return {
        "id": case_id,
        "category": result.category.value,
        "secondary": None if result.secondary is None else result.secondary.value,
        "confidence": result.confidence,
        "signals": [
            {
                "cause": s.cause.value,
                "weight": round(s.weight, 2),
                "source": s.source,
                "quote": s.quote,
                "rule": s.rule,
                "verbatim": s.verbatim,
                **({"belief": s.belief.value} if s.belief else {}),
            }
            for s in result.signals
        ],
        "approach": {
            "code": approach.code,
            "summary": approach.summary,
            "actions": list(approach.actions),
            "belief": None if approach.belief is None else approach.belief.value,
            "legal_basis": approach.legal_basis,
            "pause_reminders": approach.pause_reminders,
            "legal_escalation": approach.legal_escalation,
        },
    }
