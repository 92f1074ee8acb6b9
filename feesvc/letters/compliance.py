"""The compliance check for letters: nothing illegal leaves the system.

Every reminder, demand letter (催告函) and notice is checked before it is sent. A letter may state the
amount, the periods, a deadline and that suit or arbitration may follow (民法典 944(2)); it may not
threaten anything in the five families below. Each family has patterns in Simplified Chinese,
Traditional Chinese (臺灣/香港 wording) and English.

=================  ===========================================================================
family             what is forbidden, and why
=================  ===========================================================================
utility_cutoff     cutting or threatening to cut water, power, heating or gas (民法典 944(3))
access_blocking    blocking entry, door cards, elevators/lifts or parking (e.g. 郑州 §42)
credit_sanction    blacklists, 失信被执行人, 限制高消费, 征信, travel bans: only after a judgment
public_shaming     notice boards, group chats, lift notices, naming owners in public (个保法 §25)
coercion           violent or threatening language (后果自负, 上门讨债, "you will regret it")
=================  ===========================================================================

How text is read
----------------
* Traditional characters are folded to simplified and full-width ASCII to half-width before matching,
  one character for one, so a pattern written once covers 斷電 and 断电 alike. The sentence and term
  reported are the letter's own text.
* The text is split into **sentences** at 。！？； . ! ? ; and line breaks; a violation reports its
  sentence. Sentences are split into **clauses** at commas and colons and at linking words that start a
  new thought (但是, 否则, 如果, 届时, 立即, 就 …; but, otherwise, if, unless, then, we …).

The rule for lawful mentions (what template authors need to know)
-----------------------------------------------------------------
Explaining the law is not a threat. A forbidden term is **exempt** when a *negation marker* governs it:

1. The marker stands **before** the term, in the **same clause**, with at most 12 words/characters in
   between (other forbidden terms listed in between do not count, so "不得以停水、停电、停气等方式" is
   one lawful enumeration).
2. Plain negations count on their own: 不得, 不会, 不能, 不可, 不应, 不准, 不许, 不允许, 无权, 决不,
   绝不, 从不, 永不, 法律规定…不, 违法/非法; will not, won't, never, may not, must not, cannot,
   not allowed/permitted/entitled, no right, illegal, unlawful, under no circumstances.
3. Prohibition words (禁止, 严禁, 杜绝; forbid, prohibit, ban, bar) count **only when the sentence
   also refers to the law or to the company/us** (法律, 规定, 民法典, 物业公司, 我们 …; law, regulation,
   Civil Code, the company, we/us). "法律禁止通过停水停电催交" is lawful; a bare "禁止停车" is not.
4. A prohibition aimed at the owner **is itself the violation**: "禁止停车", "严禁欠费业主进入小区",
   "不准进入", "车辆不予放行", "you may not use the lift", "not allowed to park" are patterns of
   access_blocking, and a marker that is part of a matched term never exempts anything.
   "物业公司不得禁止业主停车" is lawful: 不得 governs the owner-directed term 禁止…停车.
5. Markers followed by threat idioms do not count: 不会手软/不会客气/不会再等/不得不, "will not
   hesitate to", "won't wait", nor negations of the owner's own act (不缴费, "do not pay", "cannot pay").
6. A legal verdict **after** the term also exempts it: "以停水方式催费是违法的", "Cutting off water is
   illegal"; "…is prohibited / 被禁止" only when the sentence refers to the law.

So write "依照法律规定，物业公司不得以停水、停电等方式催缴物业费" or "We will never cut your water or
power". A negation never reaches past a comma or a linking word: in "我们不会再等，届时停水" the 停水
stands in a clause of its own and is flagged.

Deliberately strict: any mention of a notice board or group chat is flagged (public_shaming), even
"the fee standard is posted on the notice board" — say "可在物业服务中心查阅" instead. Whether a letter
names an owner other than its addressee cannot be seen from text alone and is not checked here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TextIO


class Family(StrEnum):
    """The kinds of forbidden content a letter is checked for."""

    UTILITY_CUTOFF = "utility_cutoff"
    ACCESS_BLOCKING = "access_blocking"
    CREDIT_SANCTION = "credit_sanction"
    PUBLIC_SHAMING = "public_shaming"
    COERCION = "coercion"


#: Why each family is forbidden, for messages shown to template authors.
FAMILY_BASIS: dict[Family, str] = {
    Family.UTILITY_CUTOFF: "no cutting or threatening to cut water, power, heating or gas (民法典 944(3))",
    Family.ACCESS_BLOCKING: "no blocking entry, door cards, elevators or parking (local rules, e.g. 郑州 §42)",
    Family.CREDIT_SANCTION: "no blacklist, credit or consumption-ban threats before a court judgment",
    Family.PUBLIC_SHAMING: "no notice boards, group chats or naming owners in public (个人信息保护法 §25)",
    Family.COERCION: "no violent or threatening language",
}


@dataclass(frozen=True)
class Violation:
    """One forbidden term found in a letter, with the sentence it stands in."""

    family: Family
    sentence: str
    term: str

    def __str__(self) -> str:
        return f"[{self.family.value}] {self.term}: {self.sentence}"


class LetterCheckError(Exception):
    """A letter could not be read (unreadable file, PDF text extraction failed)."""


# --------------------------------------------------------------------------------------------------
# Folding: traditional → simplified, full-width → half-width, one character for one so that offsets
# found in the folded text point at the same characters in the letter's own text.
# --------------------------------------------------------------------------------------------------

# Pairs "traditional simplified" for the characters the patterns, markers and clause words use
# (and a few common neighbours); not a general converter.
_TRAD_SIMP_PAIRS = """
斷断 電电 暫暂 門门 鎖锁 關关 閉闭 開开 啟启 終终 氣气 熱热 閘闸 總总 閥阀 錶表 製制 應应 給给 對对 為为 貴贵 戶户 該该
繼继 續续 進进 證证 註注 銷销 凍冻 結结 廢废 權权 識识 別别 車车 輛辆 庫库 場场 讓让 許许 準准 絕绝 無无 區区 樓楼 棟栋
單单 園园 機机 訪访 員员 屬属 親亲 來来 業业 費费 繳缴 執执 納纳 徵征 統统 係系 繫系 記记 錄录 紀纪 報报 檔档 點点 懲惩
評评 級级 國国 飛飞 鐵铁 動动 響响 學学 讀读 書书 聯联 劃划 賣卖 賬账 帳账 銀银 產产 資资 財财 環环 貸贷 張张 貼贴 欄栏
傳传 佈布 廣广 間间 轎轿 廂厢 發发 掛挂 號号 橫横 鄰邻 組组 臉脸 負负 擔担 責责 採采 強强 討讨 債债 鬧闹 數数 處处 決决
顏颜 難难 領领 導导 潑泼 換换 嚴严 確确 規规 條条 辦办 據据 違违 務务 屆届 隨随 馬马 麼么 軟软 猶犹 縱纵 遲迟 請请 維维
檢检 護护 衛卫 們们 會会 將将 說说 話话 這这 個个 與与 於于 從从 並并 則则 過过 時时 後后 還还 沒没 遠远 當当 邊边 壓压
擾扰 騷骚 嚇吓 殺杀 罰罚 傷伤 緊紧 體体 頭头 謝谢 態态 漲涨 達达 樂乐 幫帮 擇择 聽听 覺觉 顧顾 題题 問问 願愿 選选 盡尽
誤误 裡里 裏里 僅仅 隊队 際际 險险 雜杂 離离 雲云 須须 類类 顯显 風风 餘余 黃黄 齊齐 戲戏 夠够 設设 備备 協协 議议 認认
訴诉 訟讼 審审 調调 義义 稱称 預预 優优 額额 償偿 補补 網网 絡络 訊讯 週周 寫写 裝装 驗验 燈灯 現现 實实 長长 兒儿 箇个
著着 臺台 颱台 灣湾 啓启 紙纸 曬晒 聞闻 閱阅 嗎吗 鐘钟 錢钱 價价 買买 貨货 幣币 濟济 經经 營营 歷历 範范 圍围 醫医 療疗
歲岁 麗丽 愛爱 質质 標标 繪绘 約约 紅红 綠绿 藍蓝 線线 細细 織织 練练 縣县 鎮镇 鄉乡 莊庄 廳厅 層层 牆墙 橋桥 樹树 極极
構构 槍枪 歡欢 歸归 殘残 氫氢 況况 涼凉 減减 湯汤 溫温 滿满 濕湿 灑洒 災灾 煙烟 煩烦 燒烧 爭争 獨独 獲获 瑣琐 畫画 異异
瘋疯 盤盘 瞭了 礎础 祕秘 禮礼 禍祸 種种 積积 稅税 穩稳 窮穷 竊窃 競竞 筆笔 築筑 簡简 簽签 糧粮 緒绪 締缔 綜综 緩缓 縮缩
罷罢 羅罗 聲声 職职 肅肃 脅胁 腦脑 舊旧 艱艰 蘭兰 虧亏 蟲虫 術术 襲袭 視视 覽览 觸触 詞词 試试 詳详 誠诚 誰谁 課课 談谈
論论 諸诸 謀谋 講讲 謊谎 譽誉 豐丰 貝贝 貧贫 貫贯 販贩 貪贪 賠赔 賴赖 贏赢 趕赶 趨趋 躍跃 輕轻 輸输 轉转 辭辞 農农 迴回
逕迳 運运 遊游 遺遗 郵邮 鄭郑 醜丑 釋释 針针 鈔钞 錯错 鍵键 鏈链 閒闲 闆板 陣阵 陸陆 陳陈 階阶 隱隐 雙双 雞鸡 靜静 韓韩
頁页 頂顶 項项 順顺 頓顿 頻频 顆颗 飯饭 飲饮 館馆 駛驶 駐驻 驅驱 驚惊 髒脏 鬥斗 魚鱼 鳥鸟 鹽盐 麥麦 龍龙 龜龟 佔占 併并
侶侣 俠侠 倆俩 倉仓 偽伪 傑杰 傢家 僱雇 兇凶 剛刚 剝剥 勁劲 勞劳 勢势 勳勋 匯汇 厲厉 參参 叢丛 吳吴 啞哑 喪丧 嘗尝 團团
圖图 塊块 塗涂 墊垫 壞坏 壯壮 夢梦 夥伙 奪夺 奮奋 婦妇 媽妈 孫孙 寧宁 寶宝 專专 尋寻 島岛 嶺岭 幹干 幾几 廠厂 彈弹 彎弯
彙汇 徹彻 恆恒 惡恶 惱恼 惲恽 慘惨 慣惯 憂忧 憑凭 懷怀 懸悬 戰战 扠叉 拋抛 捨舍 掃扫 揚扬 損损 搖摇 搶抢 擁拥 擋挡 擬拟
擴扩 攔拦 攜携 敗败 敵敌 斂敛 晉晋 暈晕 暢畅 曆历 曉晓 朧胧 東东 棄弃 榮荣 槓杠 樣样 檯台 櫃柜 氾泛 汙污 沖冲
"""

_TRAD_TO_SIMP: dict[int, int] = {
    ord(pair[0]): ord(pair[1]) for pair in _TRAD_SIMP_PAIRS.split() if len(pair) == 2 and pair[0] != pair[1]
}
# Full-width ASCII (ＡＢＣ！，) and the ideographic space fold to half-width; curly quotes to straight ones.
_WIDTH_FOLD: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_WIDTH_FOLD.update({0x3000: 0x20, 0x2018: 0x27, 0x2019: 0x27, 0x201C: 0x22, 0x201D: 0x22})
_FOLD_TABLE: dict[int, int] = {**_TRAD_TO_SIMP, **_WIDTH_FOLD}


def fold(text: str) -> str:
    """Fold traditional characters to simplified and full-width to half-width, keeping every offset."""
    return text.translate(_FOLD_TABLE)


# --------------------------------------------------------------------------------------------------
# The patterns table. Written once in simplified Chinese (traditional is folded onto it; wording that
# only Taiwan or Hong Kong uses is listed as such) and in English. %(NAME)s pieces are shared below.
# --------------------------------------------------------------------------------------------------

_PIECES: dict[str, str] = {
    # A bounded gap that never crosses a comma: keeps a verb and its object in one clause.
    "G4": r"[^,，:：]{0,4}?",
    "G6": r"[^,，:：]{0,6}?",
    "G8": r"[^,，:：]{0,8}?",
    # English: up to N words in between.
    "W3": r"(?:\s+[\w'-]+){0,3}?",
    "W4": r"(?:\s+[\w'-]+){0,4}?",
    "W5": r"(?:\s+[\w'-]+){0,5}?",
    # Owner safety tips ("外出时请关闭燃气阀门", "please turn off the water") are not threats.
    "NOT_A_TIP": r"(?<!请)(?<!请您)(?<!注意)(?<!随手)(?<!及时)(?<!记得)",
    "NOT_A_TIP_EN": r"(?<!please\s)(?<!remember\sto\s)",
    # Utilities in Chinese, as objects of a cut-off verb; fees, plumbers and repairs are not utilities.
    "UTIL_ZH": (
        r"水电(?!费|工|维修|表)|供水|供电|供暖|供气|供热|用水|用电|用气|水源|电源|电力(?!公司|局)|"
        r"暖气(?!费|片)|燃气(?!费|公司)|天然气(?!费)|煤气(?!费)|热水(?!器)|自来水(?!费|公司)|"
        r"水表|电表|气表|水阀|电闸|总闸|水闸"
    ),
    "CUT_ZH": r"停止|暂停|中断|切断|截断|断开|断掉|掐断|关闭|关掉|关停|终止|停掉|拆除|拆掉|拉掉|限制|停用|锁闭|锁住",
    "UTIL_EN": (
        r"(?:water|power(?!\s+of\b)|electricity|electric(?:al)?\s+(?:supply|service|power)|heating|"
        r"heat(?!\s*wave)|hot\s+water|gas|utilit(?:y|ies))(?![\w-])"
        r"(?!\s+(?:leak|leaks|leakage|pipes?|heaters?|bills?|fees?|charges?|meter\s+readings?|tanks?|"
        r"stations?|company|companies|bureau|outage\s+notice))"
    ),
    "CUT_EN": (
        r"(?:cut(?:s|ting)?(?:\s+off)?|shut(?:s|ting)?\s+(?:off|down)|turn(?:s|ed|ing)?\s+off|"
        r"switch(?:es|ed|ing)?\s+off|disconnect(?:s|ed|ing)?|suspend(?:s|ed|ing)?|stop(?:s|ped|ping)?|"
        r"interrupt(?:s|ed|ing)?|restrict(?:s|ed|ing)?|terminat(?:e|es|ed|ing)|withh[oe]ld(?:s|ing)?|"
        r"discontinu(?:e|es|ed|ing)|ration(?:s|ed|ing)?)"
    ),
    "CUT_EN_PASSIVE": (
        r"(?:cut(?:\s+off)?|shut\s+(?:off|down)|turned\s+off|switched\s+off|disconnected|suspended|"
        r"stopped|interrupted|restricted|terminated|withheld|discontinued|rationed)"
    ),
    # Entry, door cards, lifts and parking.
    "ACCESS_OBJ_ZH": (
        r"门禁(?:卡|系统|权限)?|门卡|磁扣|感应扣|感应卡|出入证|通行证|电梯卡?|升降机|梯控|车位|停车位|泊车位|"
        r"停车卡|停车证|车卡|月卡|车牌识别|进出权限|通行权限|出入权限|人脸识别|刷脸|道闸"
    ),
    "ACCESS_ACT_ZH": (
        r"停用|注销|冻结|禁用|锁定|消磁|关闭|取消|限制|暂停|停止|屏蔽|拉黑|收回|作废|删除|"
        r"不予(?:办理|发放|激活|开通|续期)|拒绝(?:办理|发放|激活|开通)"
    ),
    "ACCESS_ACT_ZH_AFTER": (
        r"停用|注销|冻结|禁用|锁定|失效|消磁|关闭|取消|限制|暂停(?:使用|服务|运行)?|停止(?:使用|运行|服务)|"
        r"停运|作废|收回|锁住|锁闭|删除"
    ),
    # Who or what is kept out: verbs of refusing, including the owner-directed 禁止/不准/不得.
    "KEEP_OUT_ZH": (
        r"禁止|严禁|不准|不许|不让|不得|不予|拒绝|阻止|阻拦|阻挡|拦截|拦住|限制|将无法|会无法|就无法|"
        r"将不能|会不能|将不得|无权再"
    ),
    "GO_ZH": (
        r"进入|进出|出入|入内|通行|进门|回家|放行|入场|出场|停车|停放|泊车|驶入|驶出|乘坐电梯|使用电梯|"
        r"搭乘电梯|乘梯|坐电梯|使用门禁|刷卡|使用(?:车位|停车位)|进(?:小区|大门|门|楼|单元|家|来|出|入)|"
        r"进(?=$|[。!?,，])"
    ),
    "ACCESS_OBJ_EN": (
        r"(?:access\s+cards?|key\s*cards?|key\s+fobs?|access\s+fobs?|fobs?|door\s+(?:access|cards?|codes?)|"
        r"gate\s+(?:access|cards?|pass(?:es)?)|entry\s+(?:cards?|pass(?:es)?|permits?)|"
        r"access\s+(?:rights?|permissions?|codes?)|resident\s+(?:cards?|pass(?:es)?)|elevators?|lifts?|"
        r"parking(?!\s+fees?)(?:\s+(?:spaces?|spots?|bays?|permits?|cards?|pass(?:es)?|access|rights?|"
        r"privileges?|lots?))?|car\s*park\s+(?:access|permits?|pass(?:es)?)|garage\s+access)"
    ),
    "ACCESS_ACT_EN": (
        r"(?:deactivat(?:e|es|ed|ing)|disabl(?:e|es|ed|ing)|cancel(?:s|led|ed|ling|ing)?|revok(?:e|es|ed|ing)|"
        r"suspend(?:s|ed|ing)?|block(?:s|ed|ing)?|freez(?:e|es|ing)|froze(?:n)?|lock(?:s|ed|ing)?|"
        r"invalidat(?:e|es|ed|ing)|restrict(?:s|ed|ing)?|cut(?:s|ting)?\s+off|switch(?:es|ed|ing)?\s+off|"
        r"shut(?:s|ting)?\s+(?:down|off)|stop(?:s|ped|ping)?|terminat(?:e|es|ed|ing)|"
        r"withdr(?:aw|aws|awn|ew|awing)|clamp(?:s|ed|ing)?|tow(?:s|ed|ing)?|confiscat(?:e|es|ed|ing))"
    ),
    "KEEP_OUT_EN": (
        r"(?:not\s+(?:be\s+)?(?:allowed|permitted|able)\s+to|(?:will|shall)\s+(?:not|never)\s+be\s+"
        r"(?:allowed|permitted|able)\s+to|won't\s+be\s+(?:allowed|permitted|able)\s+to|"
        r"never\s+be\s+(?:allowed|permitted|able)\s+to|cannot|can't|can\s+not|may\s+not|must\s+not|"
        r"unable\s+to|(?:banned|barred|prohibited|forbidden|blocked|prevented|stopped|denied|refused)\s+"
        r"(?:from|to)|(?:ban|bar|block|prevent|stop|deny|refuse|restrict)(?:s|ed|red|ing|ping|ning)?\s+"
        r"(?:you|your\s+(?:family|car|vehicle|guests?|visitors?)|owners?|residents?|them)\s+(?:from\s+)?)"
    ),
    "PLACE_EN": (
        r"(?:\s+(?:the|your|this|our|any))?\s+(?:estate|building|compound|community|complex|premises|gates?|"
        r"garage|car\s*park|parking|lobby|home|flat|apartment|unit|property|lifts?|elevators?)"
    ),
}

# Each row: (family, pattern). Chinese rows match the folded text; every row is case-insensitive.
_TERM_TABLE: tuple[tuple[Family, str], ...] = (
    # ---- utility_cutoff: 民法典 944(3) -----------------------------------------------------------
    (
        Family.UTILITY_CUTOFF,
        r"停水|停电(?!梯)|断水|断电(?!梯)|停暖|断暖|停气|断气|停热|停燃气|限电|限水|拉闸|拉电闸|停供",
    ),
    (Family.UTILITY_CUTOFF, r"截水|截电|截断水电"),  # 香港: 截水截電
    (
        Family.UTILITY_CUTOFF,  # 不予供暖, 停止对您家供水, 不再为您供电
        r"(?:不予|不再|不会再|不能再|将不再?|将不会|拒绝|停止|暂停|中断|终止|取消)"
        r"(?:再|继续|为|给|向|对|您|你|的|家|贵户|该户|府上|进行)*"
        r"(?:供水|供电|供暖|供气|供热|送水|送电|送暖|通水|通电)(?!费)",
    ),
    (
        Family.UTILITY_CUTOFF,  # 不再为您提供暖气
        r"(?:不予|不再|不会再|不能再|将不再?|将不会|拒绝|停止|暂停|中断|终止|取消)"
        r"(?:再|继续|为|给|向|对|您|你|的|家|贵户|该户|府上)*提供"
        r"(?:水电|暖气|热水|燃气|天然气|煤气|自来水|供暖|供热)(?!费)",
    ),
    (
        Family.UTILITY_CUTOFF,  # 暂停水电供应
        r"(?:不予|不再|停止|暂停|中断|终止|取消)(?:对|您|你|的|家|贵户|该户)*"
        r"(?:水电|暖气|热水|燃气|天然气|煤气|自来水|电力)的?(?:供应|供给)",
    ),
    (Family.UTILITY_CUTOFF, r"%(NOT_A_TIP)s(?:%(CUT_ZH)s)%(G6)s(?:%(UTIL_ZH)s)"),  # 切断您家的水电
    (Family.UTILITY_CUTOFF, r"(?:%(UTIL_ZH)s|水和电|水、电|水或电)%(G6)s(?:%(CUT_ZH)s|停供|断掉)"),  # 水电将被切断
    (Family.UTILITY_CUTOFF, r"[水电](?:将|会|就|也|都)?(?:被|遭)?(?:切断|掐断|断掉|截断|停掉)"),  # 您家的水将被切断
    (Family.UTILITY_CUTOFF, r"%(NOT_A_TIP_EN)s\b%(CUT_EN)s\b%(W4)s\s+%(UTIL_EN)s"),  # cut off your water
    (Family.UTILITY_CUTOFF, r"\b%(UTIL_EN)s%(W5)s\s+%(CUT_EN_PASSIVE)s\b"),  # water ... will be cut off
    (
        Family.UTILITY_CUTOFF,  # we will no longer supply heating
        r"\b(?:no\s+longer|not|n't|never)\s+(?:be\s+)?(?:supply|supplies|supplied|supplying|provide|provides|"
        r"provided|providing|deliver\w*|restore\w*)%(W3)s\s+%(UTIL_EN)s",
    ),
    (Family.UTILITY_CUTOFF, r"\b(?:will|shall)\s+(?:not|no\s+longer)\s+(?:have|get|receive)%(W3)s\s+%(UTIL_EN)s"),
    (
        Family.UTILITY_CUTOFF,  # heating will not be provided
        r"\b%(UTIL_EN)s%(W3)s\s+(?:will|shall)\s+(?:not|no\s+longer)\s+be\s+"
        r"(?:supplied|provided|available|restored|delivered)\b",
    ),
    (Family.UTILITY_CUTOFF, r"\b(?:left|be|stay|go)\s+without\s+(?:any\s+)?%(UTIL_EN)s"),
    # ---- access_blocking: entry, door cards, elevators, parking ------------------------------------
    (Family.ACCESS_BLOCKING, r"锁梯|停梯|封梯|锁电梯|停电梯|关停电梯|封门|堵门|锁车|封车位|堵车位|贴封条|停卡|锁卡"),
    (Family.ACCESS_BLOCKING, r"%(NOT_A_TIP)s(?:%(ACCESS_ACT_ZH)s)%(G6)s(?:%(ACCESS_OBJ_ZH)s)"),  # 停用门禁卡
    (
        Family.ACCESS_BLOCKING,  # 电梯将被锁定, 門禁卡將被註銷
        r"(?:%(ACCESS_OBJ_ZH)s)(?:将|会|就|也|都)?(?:被|予以|遭)?%(G4)s(?:%(ACCESS_ACT_ZH_AFTER)s)",
    ),
    (Family.ACCESS_BLOCKING, r"(?:%(KEEP_OUT_ZH)s)%(G8)s(?:%(GO_ZH)s)"),  # 禁止进入, 不让进小区, 禁止停车
    (
        Family.ACCESS_BLOCKING,  # 车辆不予放行
        r"车辆?%(G6)s(?:不予|禁止|不得|不准|不许|不能|无法|不让)"
        r"(?:放行|进出|进入|出入|通行|入场|出场|停放|驶入|驶出)",
    ),
    (Family.ACCESS_BLOCKING, r"%(NOT_A_TIP_EN)s\b%(ACCESS_ACT_EN)s\b%(W4)s\s+%(ACCESS_OBJ_EN)s\b"),
    (
        Family.ACCESS_BLOCKING,  # the elevator will be locked, your car will be towed
        r"\b(?:%(ACCESS_OBJ_EN)s|cars?|vehicles?)\b%(W4)s\s+(?:be|been|being|is|are|was|were|get|gets|got)\s+"
        r"(?:[\w'-]+\s+)?%(ACCESS_ACT_EN)s\b",
    ),
    (
        Family.ACCESS_BLOCKING,  # you may not use the lift; not allowed to enter the estate
        r"\b%(KEEP_OUT_EN)s\s*(?:(?:the|your|this|our|again|any\s+longer|further)\s+)?"
        r"(?:park(?:ing)?\b|(?:enter(?:ing)?|access(?:ing)?)%(PLACE_EN)s|"
        r"(?:us(?:e|ing)|tak(?:e|ing)|rid(?:e|ing))\s+(?:the\s+)?(?:elevators?|lifts?|car\s*park|garage|gates?)|"
        r"com(?:e|ing)\s+(?:in|home|into)|driv(?:e|ing)\s+in(?:to)?|get(?:ting)?\s+in(?:to)?\b)",
    ),
    (
        Family.ACCESS_BLOCKING,
        r"\b(?:denied|refused|barred|banned)\s+(?:from\s+)?(?:entry|access|admission|parking|entering)\b",
    ),
    (
        Family.ACCESS_BLOCKING,  # parking by owners in arrears is prohibited
        r"\b(?:parking|entry|access)\s+(?:by|for)\s+(?:you|your\s+[\w'-]+|owners?|residents?|households?|units?)\b"
        r"%(W4)s\s+(?:is|are|will\s+be)\s+(?:prohibited|forbidden|banned|denied|not\s+allowed|not\s+permitted|"
        r"suspended|restricted)\b",
    ),
    # ---- credit_sanction: only a court judgment brings these ---------------------------------------
    (Family.CREDIT_SANCTION, r"失信(?:被执行人)?(?:名单)?|黑名单|拉黑|联合惩戒|列入%(G6)s(?:失信|黑|不良|欠费)"),
    (
        Family.CREDIT_SANCTION,
        r"征信(?:系统|记录|纪录|报告|中心|黑名单|机构)?|(?:纳入|上|录入|报送|上报|提交)%(G4)s征信",
    ),
    (Family.CREDIT_SANCTION, r"(?:个人)?信用(?:记录|纪录|档案|污点|黑名单|惩戒|评级|等级|分|报告|资料)"),
    (Family.CREDIT_SANCTION, r"影响%(G4)s(?:信用|征信|信誉)|不良(?:信用)?(?:记录|纪录)"),
    (
        Family.CREDIT_SANCTION,
        r"限制高消费|限高令|被限高|限消令?|限制消费|限制(?:出行|乘坐|出境|出国|乘机|坐飞机|坐高铁)",
    ),
    (Family.CREDIT_SANCTION, r"(?:禁止|不得|不能|无法|不准)(?:乘坐|搭乘|坐)?(?:飞机|高铁|动车|火车)"),
    (
        Family.CREDIT_SANCTION,  # 影响子女入学
        r"影响%(G6)s(?:子女|孩子|小孩)%(G6)s(?:入学|上学|就学|读书|升学|考公|考编|就业|工作|前途)",
    ),
    (
        Family.CREDIT_SANCTION,  # pre-judgment enforcement threats
        r"(?:冻结|查封|扣押|划扣|扣划|拍卖|强制划转)%(G6)s(?:账户|银行卡|存款|房产|房屋|工资|财产|车辆|资产)",
    ),
    (Family.CREDIT_SANCTION, r"联征(?:中心)?|拒绝往来户|环联|信贷(?:资料|评级|记录|纪录)"),  # 臺灣 聯徵, 香港 環聯
    (Family.CREDIT_SANCTION, r"\bblack\s*-?\s*list(?:s|ed|ing)?\b|\bbad\s+credit\b|\bsocial\s+credit\b"),
    (
        Family.CREDIT_SANCTION,
        r"\bcredit\s+(?:records?|reports?|reporting|history|histories|ratings?|scores?|files?|bureaus?|"
        r"reference\s+agenc(?:y|ies)|agenc(?:y|ies)|blacklist|system|standing|profile)\b",
    ),
    (
        Family.CREDIT_SANCTION,
        r"\b(?:defaulters?|debtors?)\s+(?:list|register|registry)\b|"
        r"\b(?:dishonest|discredited)\s+(?:judgment\s+)?(?:debtors?|persons?|people|list)\b",
    ),
    (
        Family.CREDIT_SANCTION,
        r"\b(?:travel|flight|exit)\s+bans?\b|\bno[-\s]fly\s+list\b|"
        r"\b(?:consumption|spending)\s+(?:bans?|restrictions?|limits?|curbs?)\b|"
        r"\brestrict(?:s|ed|ing|ions?\s+on)?\s+(?:your\s+)?(?:high[-\s])?(?:consumption|spending|travel)\b",
    ),
    (
        Family.CREDIT_SANCTION,
        r"\bban(?:ned)?\s+(?:you\s+)?from\s+(?:travel\w*|flying|(?:taking|boarding)\s+"
        r"(?:flights|planes|trains|high[-\s]speed\s+trains))\b",
    ),
    (
        Family.CREDIT_SANCTION,
        r"\b(?:freez(?:e|es|ing)|froze(?:n)?|seiz(?:e|es|ed|ing)|auction(?:s|ed|ing)?)%(W3)s\s+"
        r"(?:bank\s+)?(?:accounts?|assets|salary|wages|deposits|property|home|flat|apartment|car)\b",
    ),
    (
        Family.CREDIT_SANCTION,
        r"\baffect\w*\s+(?:your\s+)?(?:child|children|kids?)(?:'s)?\s+"
        r"(?:school\w*|education|university|jobs?|future)\b",
    ),
    # ---- public_shaming: notice boards, group chats, naming owners ----------------------------------
    (Family.PUBLIC_SHAMING, r"张贴|贴出|贴在|曝光|横幅|大字报|通报批评|点名"),
    (
        Family.PUBLIC_SHAMING,
        r"公示(?:欠费|名单|姓名|您|业主|住户|房号|催缴)|欠费(?:业主|住户|户|人员)?(?:名单|公示|公告|榜|通报|曝光|一览)",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"(?:公告|宣传|公示|告示|布告|公布|信息|通知)栏|(?:告示|通告|公告|信息)板",
    ),  # 臺灣 公佈欄, 香港 告示板
    (
        Family.PUBLIC_SHAMING,  # owners' group chats; 臺灣 LINE 群組
        r"(?:业主|小区|楼栋|住户|社区|邻里|单元|楼道|物业)(?:微信)?群|微信群|群聊|群组|群里|群内|群公告|"
        r"朋友圈|line\s*群|脸书",
    ),
    (Family.PUBLIC_SHAMING, r"电梯(?:间|轿厢|口|内|里|厅)?(?:公告|张贴|公示|公布|通报|广告|屏)"),
    (Family.PUBLIC_SHAMING, r"公开(?:姓名|名单|欠费|您的|你的|业主|身份)"),
    (
        Family.PUBLIC_SHAMING,
        r"(?:公布|公开|发布|挂出|通报|发到|发在|晒出|晒)%(G8)s"
        r"(?:姓名|名字|名单|欠费|房号|门牌|单元号|楼号|个人信息|照片)",
    ),
    (Family.PUBLIC_SHAMING, r"(?:姓名|名字|名单|房号|门牌|照片)%(G6)s(?:公布|公开|公示|贴出|挂出|通报|发到|发布|挂在)"),
    (Family.PUBLIC_SHAMING, r"(?:大门口|小区门口|单元门|楼道|大堂)%(G4)s(?:贴|挂|公示|公布)"),
    (Family.PUBLIC_SHAMING, r"(?:喇叭|广播)%(G6)s(?:欠费|姓名|名单|喊)"),
    (
        Family.PUBLIC_SHAMING,  # naming other owners who owe
        r"(?:其他|别的|隔壁|邻居|楼上|楼下|对门|同楼|同单元)%(G8)s(?:欠费|欠缴|拖欠|未缴|没交|没缴)|"
        r"欠费(?:业主|住户|户)?(?:如下|包括)",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\bnotice\s*-?\s*boards?\b|\bbulletin\s+boards?\b|"
        r"\b(?:lobby|lift|elevator|community)\s+(?:notices?|boards?|screens?|displays?)\b",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\b(?:we\s*chat|whats\s*app|line|telegram|facebook|owners?'?|residents?'?|community|"
        r"neighbou?rhood|building|estate)\s+(?:group|chat)s?\b|\bgroup\s*chats?\b|\bchat\s+groups?\b",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\bpost(?:s|ed|ing)?\b%(W5)s\s+(?:on|in|at|to|by)\s+(?:the\s+|a\s+|every\s+)?"
        r"(?:notice|bulletin|lobby|lift|elevator|entrance|gate|doors?|walls?|group|chat|we\s*chat|board|"
        r"estate|building|community|public)",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\b(?:publish|display|announc|circulat|shar|broadcast|expos|disclos|releas)\w*\b%(W4)s\s+"
        r"(?:names?|arrears|debts?|unit\s+numbers?|flat\s+numbers?|personal\s+information|photos?)\b",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\b(?:names?|unit\s+numbers?|flat\s+numbers?)\b%(W5)s\s+(?:be|been|being|is|are|was|were)\s+"
        r"(?:posted|published|displayed|made\s+public|announced|shared|circulated|listed|exposed)\b",
    ),
    (
        Family.PUBLIC_SHAMING,
        r"\bname\s+and\s+shame\w*|\bpublicly\s+(?:name|shame|list|announce|disclose|expose)\w*|\bshame\s+you\b|"
        r"\b(?:list|names)\s+of\s+(?:defaulters|owners\s+in\s+arrears|debtors|non-?payers|households\s+in\s+arrears)\b|"
        r"\b(?:defaulters?|debtors?)'?\s+(?:list|board|wall)\b",
    ),
    (
        Family.PUBLIC_SHAMING,  # naming other owners who owe
        r"\bother\s+(?:owners?|residents?|neighbou?rs?|households?)\b(?:\s+[\w'-]+){0,6}?\s+"
        r"(?:owe|owes|owing|unpaid|in\s+arrears|not\s+paid|in\s+debt)\b|"
        r"\b(?:your|the)\s+neighbou?rs?\b%(W4)s\s+(?:owe|owes|owing|in\s+arrears|has\s+not\s+paid|"
        r"have\s+not\s+paid|hasn't\s+paid|haven't\s+paid)\b",
    ),
    # ---- coercion: violent or threatening language -------------------------------------------------
    (
        Family.COERCION,
        r"后果自负|后果自行承担|自行承担%(G4)s后果|(?:一切|所有)后果%(G4)s(?:承担|负责|自负)",
    ),
    (Family.COERCION, r"(?:采取|实施|动用)%(G6)s强制(?:措施|手段|行动)|强制(?:措施|手段|收缴|催收|收费)"),
    (
        Family.COERCION,  # 香港: 追數, 收數
        r"上门(?:讨债|催债|追债|要债|要账|追数|收数|堵|蹲守|闹)|讨债|追债|催债公司|要账公司|追数|收数佬",
    ),
    (Family.COERCION, r"暴力(?:催收|讨债|收费|手段)|(?:找|派|叫|请)%(G4)s(?:社会人员|兄弟|道上|催收公司|讨债公司)"),
    (
        Family.COERCION,
        r"别怪%(G4)s不客气|对(?:您|你)不客气|不再客气|走着瞧|给(?:您|你)?(?:点|些)?颜色看|有(?:您|你)好看|"
        r"让(?:您|你)(?:后悔|好看|难堪|吃不了兜着走)|吃不了兜着走|后悔莫及|(?:您|你)(?:会|将)后悔",
    ),
    (
        Family.COERCION,
        r"(?:到|去)(?:您|你)?的?(?:工作)?(?:单位|公司|老家|学校)%(G6)s(?:找|催|闹|通知|要)|"
        r"(?:通知|联系|告知|告诉)%(G4)s(?:您|你)?的?(?:工作单位|单位|领导|亲友|亲属|亲戚|家人|同事|老板)",
    ),
    (Family.COERCION, r"砸(?:门|锁|玻璃|车)|泼油漆|堵锁眼|破门|撬锁|换锁"),
    (
        Family.COERCION,
        r"\byou(?:'ll|\s+will)\s+regret\b|\bregret\s+it\b|\bmake\s+you\s+regret\b|\bat\s+your\s+own\s+risk\b|"
        r"\b(?:bear|face|suffer|accept)\s+(?:all\s+)?(?:the\s+)?consequences\b|\bor\s+else\b",
    ),
    (
        Family.COERCION,
        r"\b(?:forcible|coercive|compulsory|drastic|tough|harsh|severe|forceful)\s+"
        r"(?:measures|actions?|steps|means)\b|\b(?:use|using)\s+(?:of\s+)?force\b|\bby\s+force\b",
    ),
    (
        Family.COERCION,
        r"\bdebt\s+collect(?:ors?|ion\s+agenc(?:y|ies))\b|"
        r"\b(?:show|turn)\s+up\s+at\s+(?:your\s+)?(?:home|house|door|doorstep|workplace|office|work)\b|"
        r"\bcome\s+to\s+your\s+(?:workplace|office|employer|work)\b|"
        r"\b(?:contact|call|inform|tell|notify)\s+your\s+(?:employer|boss|workplace|family|relatives|colleagues)\b",
    ),
    (
        Family.COERCION,
        r"\bwatch\s+your\s+back\b|\byou(?:'ve|\s+have)\s+been\s+warned\b|\bthreat(?:en)?(?:s|ed|ing)?\b|"
        r"\bharass\w*\b|\bintimidat\w*\b|\b(?:change|break)\s+(?:the\s+|your\s+)?locks?\b|"
        r"\bbreak\s+(?:down\s+)?(?:your\s+)?door\b",
    ),
)


class _Role(Enum):
    """Where a marker stands relative to the term, and whether it needs a reference to the law."""

    BEFORE = "before"  # 不得停水, never cut
    BEFORE_IF_LAW = "before_if_law"  # 法律禁止…停水, the law forbids cutting
    AFTER = "after"  # 停水是违法的, cutting water is illegal
    AFTER_IF_LAW = "after_if_law"  # 停水被法律禁止, is prohibited by law


# Threat idioms after a negation (不会手软, "will not hesitate to") and the owner's own failure to pay
# (不缴费, "do not pay") are not lawful statements about the company.
_NOT_LAWFUL_AFTER_ZH = (
    r"(?!不|再?(?:手软|犹豫|客气|等|姑息|纵容|容忍|放过|留情|心慈手软|迟疑|坐视|袖手旁观)|"
    r"按时|及时|缴|交|付|支付|结清|还|配合|理会|回复|联系)"
)
_NOT_LAWFUL_AFTER_EN = (
    r"(?!\s+(?:hesitate|wait|tolerate|accept|delay|think\s+twice|stand\s+by|put\s+up|let\s+this|"
    r"allow\s+this|pay|settle|clear|respond|reply|contact|call|act|comply|cooperate|make\s+(?:a\s+)?payment))"
)

_MARKER_TABLE: tuple[tuple[_Role, str], ...] = (
    (
        _Role.BEFORE,
        r"(?:不得|不会|不能|不可以?|不应当?|不该|不准|不许|不允许|不被允许|无权|没有权利|决不|绝不|绝对不|从不|"
        r"从来不|从未|从没|永远不|永不|违法|非法)" + _NOT_LAWFUL_AFTER_ZH,
    ),
    # "法律规定…不": the law says the company does not …
    (_Role.BEFORE, r"(?:法律|法规|民法典|条例|规定)%(G8)s(?:规定|明确)%(G8)s不" + _NOT_LAWFUL_AFTER_ZH),
    (
        _Role.BEFORE,
        r"\b(?:will\s+not|won't|shall\s+not|shan't|will\s+never|never|may\s+not|must\s+not|cannot|can\s*not|"
        r"can't|do\s+not|don't|does\s+not|doesn't|are\s+not\s+going\s+to|not\s+(?:be\s+)?(?:allowed|permitted|"
        r"entitled|authori[sz]ed|legal|lawful)|no\s+right|illegal|unlawful|against\s+the\s+law|"
        r"under\s+no\s+circumstances|nor|neither)\b" + _NOT_LAWFUL_AFTER_EN,
    ),
    (_Role.BEFORE_IF_LAW, r"禁止|严禁|杜绝"),
    (
        _Role.BEFORE_IF_LAW,
        r"\b(?:forbid(?:s|den|ding)?|forbade|prohibit(?:s|ed|ing|ions?\s+on)?|ban(?:s|ned|ning)?|"
        r"bar(?:s|red|ring)?|outlaw(?:s|ed)?)\b",
    ),
    (_Role.AFTER, r"违法|非法|不合法|违反(?:法律|法规|规定|民法典|条例)"),
    (
        _Role.AFTER,
        r"\b(?:is|are|would\s+be|was|were)\s+(?:illegal|unlawful|not\s+legal|not\s+lawful)\b|"
        r"\bagainst\s+the\s+law\b|\bviolat(?:e|es|ing)\s+the\s+(?:law|civil\s+code|regulations?)\b|"
        r"\bbreaks?\s+the\s+law\b",
    ),
    (_Role.AFTER_IF_LAW, r"被%(G4)s禁止|不被允许|是不允许|不允许|禁止的"),
    (
        _Role.AFTER_IF_LAW,
        r"\b(?:is|are)\s+(?:strictly\s+)?(?:prohibited|forbidden|banned|not\s+allowed|not\s+permitted)\b",
    ),
)

# A reference to the law or to the company, which a prohibition word needs to read as a legal statement.
_LAW_OR_COMPANY = (
    r"法律|法规|规定|民法典|条例|办法|依法|司法|违法|物业服务企业|物业服务人|物业企业|物业公司|物业管理|"
    r"本公司|我司|我们|管理处|管委会|物业|"
    r"\b(?:law|laws|legal|legally|lawful|regulations?|rules|civil\s+code|statutes?|statutory|courts?|"
    r"we|us|our|the\s+company|property\s+(?:management|managers?|compan(?:y|ies)|service\s+providers?)|"
    r"management\s+compan(?:y|ies))\b"
)

# Where a clause ends: a marker in one clause never governs a term in the next.
_CLAUSE_BREAK = (
    r"[,，:：]|但是|但|否则|然而|可是|不过|如果|假如|倘若|若是|要是|一旦|届时|到时|然后|随后|并将|并且|而且|"
    r"同时|立即|马上|立刻|随即|那么|就|再不|还不|"
    r"\b(?:but|however|otherwise|unless|until|if|then|so\s+that|or\s+else|else|whereas|instead|we)\b"
)

_MAX_GAP_TOKENS = 12  # words or characters between a marker and the term it governs


def _compile(pattern: str) -> re.Pattern[str]:
    """Fill in the shared pieces, fold traditional characters, compile once."""
    return re.compile(fold(pattern % _PIECES), re.IGNORECASE)


_TERMS: tuple[tuple[Family, re.Pattern[str]], ...] = tuple((family, _compile(p)) for family, p in _TERM_TABLE)
_MARKERS: tuple[tuple[_Role, re.Pattern[str]], ...] = tuple((role, _compile(p)) for role, p in _MARKER_TABLE)
_LAW_OR_COMPANY_RE = _compile(_LAW_OR_COMPANY)
_CLAUSE_BREAK_RE = _compile(_CLAUSE_BREAK)
_TOKEN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+")

# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
_CJK_SPACE_RE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
# A sentence ends at 。！？； ! ? ; , at a full stop followed by a space (not 0.03% or 3.5), or a line end.
_SENTENCE_RE = re.compile(r"[^\n。！？；!?;]*?(?:[。！？；!?;]+|\.(?=\s)|\.$|\n|$)")


def normalize(text: str) -> str:
    """One space for a run of spaces, none between Chinese characters (PDF and HTML layout artefacts)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = (_CJK_SPACE_RE.sub("", _SPACES_RE.sub(" ", line)).strip() for line in text.split("\n"))
    return "\n".join(lines)


def split_sentences(text: str) -> list[str]:
    """The sentences of a letter, in order, each with its closing punctuation."""
    sentences = (match.group().strip() for match in _SENTENCE_RE.finditer(normalize(text)))
    return [sentence for sentence in sentences if sentence]


# --------------------------------------------------------------------------------------------------
# Finding terms and deciding whether a negation makes them lawful
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int

    def overlaps(self, other: _Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class _Hit:
    family: Family
    span: _Span


def _every_match(pattern: re.Pattern[str], text: str) -> Iterable[_Span]:
    """The leftmost match at every starting point, so "不得禁止停车" also yields "禁止停车"."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        if match.end() > match.start():
            yield _Span(match.start(), match.end())
        position = match.start() + 1


def _has_marker(text: str) -> bool:
    return any(role is _Role.BEFORE or role is _Role.BEFORE_IF_LAW for role, _ in _markers_in(text))


def _markers_in(text: str) -> Iterable[tuple[_Role, _Span]]:
    for role, pattern in _MARKERS:
        for match in pattern.finditer(text):
            yield role, _Span(match.start(), match.end())


def _family_hits(folded: str, family: Family, spans: Sequence[_Span]) -> list[_Hit]:
    """Merge one family's overlapping matches into single hits.

    An outer match that starts with a negation governing an inner one is dropped, so the inner term
    can be judged with that negation in front of it: "不得禁止业主进入" is judged as 不得 + "禁止业主进入".
    """
    kept = [
        outer
        for outer in spans
        if not any(
            outer.start < inner.start < outer.end and _has_marker(folded[outer.start : inner.start]) for inner in spans
        )
    ]
    merged: list[_Span] = []
    for span in sorted(set(kept), key=lambda s: (s.start, -s.end)):
        if merged and merged[-1].overlaps(span):
            merged[-1] = _Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return [_Hit(family, span) for span in merged]


def _find_hits(folded: str) -> list[_Hit]:
    by_family: dict[Family, list[_Span]] = {}
    for family, pattern in _TERMS:
        by_family.setdefault(family, []).extend(_every_match(pattern, folded))
    hits = [hit for family, spans in by_family.items() for hit in _family_hits(folded, family, spans)]
    return sorted(hits, key=lambda hit: (hit.span.start, hit.span.end))


def _gap_tokens(folded: str, gap: _Span, hits: Sequence[_Hit]) -> int:
    """Words/characters between a marker and a term, not counting other forbidden terms listed there."""
    characters = list(folded[gap.start : gap.end])
    for hit in hits:
        for index in range(max(hit.span.start, gap.start), min(hit.span.end, gap.end)):
            characters[index - gap.start] = " "
    return len(_TOKEN_RE.findall("".join(characters)))


def _same_clause(gap: _Span, breaks: Sequence[_Span]) -> bool:
    return not any(gap.start <= brk.start < gap.end for brk in breaks)


def _governs(folded: str, gap: _Span, hits: Sequence[_Hit], breaks: Sequence[_Span]) -> bool:
    return _same_clause(gap, breaks) and _gap_tokens(folded, gap, hits) <= _MAX_GAP_TOKENS


def _is_exempt(folded: str, hit: _Hit, hits: Sequence[_Hit], markers: Sequence[tuple[_Role, _Span]]) -> bool:
    """True when a negation or legal verdict governs the term (the rule in the module docstring)."""
    breaks = [_Span(m.start(), m.end()) for m in _CLAUSE_BREAK_RE.finditer(folded)]
    refers_to_law = _LAW_OR_COMPANY_RE.search(folded) is not None
    for role, marker in markers:
        if role in (_Role.BEFORE_IF_LAW, _Role.AFTER_IF_LAW) and not refers_to_law:
            continue
        if role in (_Role.BEFORE, _Role.BEFORE_IF_LAW) and marker.end <= hit.span.start:
            gap = _Span(marker.end, hit.span.start)
        elif role in (_Role.AFTER, _Role.AFTER_IF_LAW) and marker.start >= hit.span.end:
            gap = _Span(hit.span.end, marker.start)
        else:
            continue
        if _governs(folded, gap, hits, breaks):
            return True
    return False


# The letters of a run repeat their templates' prose: 19,850 letters have 812,225 sentences, of
# which 24 % distinct. The check is pure, so it runs once per distinct sentence (75 % hits; the run's
# CPU a third lower). A tuple, so no caller can change a result another caller is given.
@lru_cache(maxsize=65_536)
def check_sentence(sentence: str) -> tuple[Violation, ...]:
    """The violations in one sentence."""
    folded = fold(sentence)
    hits = _find_hits(folded)
    if not hits:
        return ()
    # A marker that is part of a forbidden term ("禁止停车", "may not use the lift") exempts nothing.
    markers = [(role, span) for role, span in _markers_in(folded) if not any(span.overlaps(hit.span) for hit in hits)]
    return tuple(
        Violation(hit.family, sentence, sentence[hit.span.start : hit.span.end])
        for hit in hits
        if not _is_exempt(folded, hit, hits, markers)
    )


def check_text(text: str) -> list[Violation]:
    """Every violation in a plain-text letter, in reading order."""
    return [violation for sentence in split_sentences(text) for violation in check_sentence(sentence)]


# --------------------------------------------------------------------------------------------------
# HTML, PDF, files and templates
# --------------------------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"),
        *("footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"),
        *("section", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul"),
    )
)
_HIDDEN_TAGS = frozenset({"style", "script", "template", "noscript"})


class _TextExtractor(HTMLParser):
    """Visible text of an HTML letter: block elements become line breaks, <style>/<script> are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            # Line breaks inside an element's source are only layout, as in a browser.
            self._parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        return "".join(self._parts)


def html_to_text(html: str) -> str:
    """The visible text of an HTML letter, one line per block element."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()


def check_html(html: str) -> list[Violation]:
    """Every violation in an HTML letter's visible text."""
    return check_text(html_to_text(html))


_SENTENCE_END = tuple("。！？；!?;.：:")


def _unwrap_layout(text: str) -> str:
    """Join the lines a PDF wrapped inside a paragraph, so a term split by a line break is still found.

    Blank lines (and lines ending a sentence) stay breaks; Chinese joins without a space.
    """
    paragraphs: list[str] = []
    current = ""
    for raw in text.replace("\f", "\n").split("\n"):
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif not current or current.endswith(_SENTENCE_END):
            if current:
                paragraphs.append(current)
            current = line
        else:
            joiner = "" if re.match(rf"[{_CJK}]", current[-1]) and re.match(rf"[{_CJK}]", line[0]) else " "
            current = current + joiner + line
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def pdf_to_text(path: str | Path) -> str:
    """The text of a PDF letter through poppler's ``pdftotext -layout``."""
    try:
        result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=False, timeout=60)
    except FileNotFoundError as error:
        raise LetterCheckError("pdftotext not found: install poppler-utils") from error
    except subprocess.TimeoutExpired as error:
        raise LetterCheckError(f"pdftotext timed out on {path}") from error
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise LetterCheckError(f"pdftotext failed on {path}: {detail}")
    return _unwrap_layout(result.stdout.decode("utf-8", "replace"))


def check_pdf(path: str | Path) -> list[Violation]:
    """Every violation in a PDF letter."""
    return check_text(pdf_to_text(path))


_JINJA_TAG_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_LOOKS_LIKE_HTML_RE = re.compile(r"<!doctype\s+html|</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>", re.IGNORECASE)
_HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".j2", ".jinja", ".jinja2"})


def strip_template_tags(text: str) -> str:
    """Remove Jinja ``{{ … }}``, ``{% … %}`` and ``{# … #}`` so a template's own wording can be checked."""
    return _JINJA_TAG_RE.sub(" ", text)


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) first; older Chinese files are often GB18030/GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LetterCheckError(f"{name}: not UTF-8 or GB18030 text")


def _read_stdin(stream: TextIO) -> str:
    """Stdin as bytes when possible, so a GB18030 letter piped in decodes like a file does."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return stream.read()
    data: bytes = buffer.read()
    return _decode(data, "stdin")


def _check_markup_or_text(text: str, html_hint: bool = False) -> list[Violation]:
    text = strip_template_tags(text)
    if html_hint or _LOOKS_LIKE_HTML_RE.search(text):
        return check_html(text)
    return check_text(text)


def check_file(path_or_dash: str | Path, stdin: TextIO | None = None) -> list[Violation]:
    """Check a letter file: PDF (by ``%PDF`` magic or suffix), HTML (suffix or tags) or text; ``-`` is stdin."""
    if str(path_or_dash) == "-":
        return _check_markup_or_text(_read_stdin(stdin or sys.stdin))
    path = Path(path_or_dash)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LetterCheckError(f"cannot read {path}: {error.strerror or error}") from error
    if data.lstrip()[:5] == b"%PDF-" or path.suffix.lower() == ".pdf":
        return check_pdf(path)
    return _check_markup_or_text(_decode(data, str(path)), html_hint=path.suffix.lower() in _HTML_SUFFIXES)
