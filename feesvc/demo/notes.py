"""What staff wrote down when they talked to owners in arrears: the demo's contact notes.

Pure data and pure functions. Each story is a short run of dated notes in the style of real
collection notes (who was reached, how, what the owner said, often in their own words), in the
language staff use with that owner: Simplified Chinese, Traditional Chinese for owners from Hong
Kong and Taiwan, English for foreign owners. The arrears classifier reads them as it reads any
staff note; nothing here tells it the answer.

Placeholders: ``{who}`` the owner as staff call them (王先生), ``{surname}``, ``{p}`` the problem the owner
complained about, ``{fix}`` what fixing it means, ``{area}`` the home's area, ``{rate}`` the
fee rate, ``{vote}`` the owners' vote that raised it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from feesvc.arrears.models import Claim, ContactKind

CALL, VISIT, SMS, WECHAT, DESK, LETTER = (
    ContactKind.call,
    ContactKind.visit,
    ContactKind.sms,
    ContactKind.wechat,
    ContactKind.desk,
    ContactKind.letter,
)
HARDSHIP, DISPUTE, VACANCY = Claim.hardship, Claim.dispute, Claim.vacancy


@dataclass(frozen=True)
class Line:
    kind: ContactKind
    text: str
    claim: Claim | None = None


@dataclass(frozen=True)
class DraftNote:
    on: date
    kind: ContactKind
    text: str
    claim: Claim | None
    author: str


# Who talks to owners: the housekeepers (管家) of each estate, customer service and the desk.
AUTHORS: Final = ("管家-李娜", "管家-孙浩", "客服-王芳", "客服-陈晓燕", "前台-周敏", "收费员-郑磊")

# ---------------------------------------------------------------------------------------------
# Owners who cannot pay (经济困难型)
# ---------------------------------------------------------------------------------------------

HARDSHIP_STORIES: Final[dict[str, tuple[tuple[Line, ...], ...]]] = {
    "zh_CN": (
        (
            Line(
                CALL,
                "电话催缴，{who}说公司去年底裁员，自己也在名单里，现在还在到处找工作，问物业费能不能缓一缓。",
                HARDSHIP,
            ),
            Line(DESK, "{who}来前台，说这个月面试了两家，还没有结果，物业费一定补上，不是故意拖。"),
            Line(WECHAT, "管家微信回访，{who}说下个月入职，第一个月工资发了先补两个月。"),
        ),
        (
            Line(VISIT, "上门催缴，业主家属开门，说{who}今年查出肿瘤，在浙一住院化疗，家里开销很大。", HARDSHIP),
            Line(CALL, "{who}爱人来电，说医药费已经花了十几万，问欠的物业费能不能分期，每个月先交一点。"),
            Line(CALL, "电话联系，{who}说等单位的大病补助批下来就先补一部分，请我们先别在门上贴催缴单。"),
        ),
        (
            Line(CALL, "电话催缴，{who}说在四季青开的服装档口今年关了，压了一批货卖不出去，资金周转不开。", HARDSHIP),
            Line(DESK, "{who}来物业中心，说手头实在紧，想分三期把欠的物业费交了，问违约金能不能免。"),
        ),
        (
            Line(CALL, "电话无人接听。"),
            Line(VISIT, "上门，{who}说在工地上干活，包工头拖欠了半年工钱，到现在一分没结。", HARDSHIP),
            Line(DESK, "{who}说已经去劳动监察大队投诉了，问能不能每个月先交两百，剩下的等工钱拿到了一起结。"),
        ),
        (
            Line(VISIT, "上门催缴，{who}说老母亲年初中风瘫痪在床，自己辞了工作在家照顾，家里没有收入。", HARDSHIP),
            Line(CALL, "{who}说物业费他认，就是眼下真凑不出来，等老房子卖掉了一次性结清。"),
        ),
        (
            Line(
                CALL,
                "电话催缴，{who}说开的小饭馆上半年关门了，装修和设备的钱都没回本，两口子现在都在找事做。",
                HARDSHIP,
            ),
            Line(DESK, "{who}来前台，说爱人在跑货运，问先交一个月行不行，剩下的慢慢补。前台答复需请示主管。"),
            Line(CALL, "电话回访，{who}说这个月收入还是不稳定，请求再宽限一个月。"),
        ),
        (
            Line(CALL, "电话催缴，{who}说单位从去年底开始只发基本工资，房贷已经断了两期，银行天天打电话。", HARDSHIP),
            Line(WECHAT, "{who}微信回复：先把房贷续上，物业费往后放一放，最晚年底补齐，不会赖账。"),
        ),
    ),
    "zh_TW": (
        (
            Line(CALL, "電話催繳，{who}說公司去年裁員，他也被裁了，現在還在找工作，問管理費能不能晚一點繳。", HARDSHIP),
            Line(WECHAT, "微信聯繫，{who}說下個月有一個面試，找到工作後會先繳一部分。"),
        ),
        (
            Line(
                CALL,
                "電話催繳，{surname}太太接聽，說先生十月中風住院，現在轉到復健病房，白天她自己顧，晚上請看護。",
                HARDSHIP,
            ),
            Line(
                DESK, "{surname}太太來管理中心，說看護費一個月就好幾萬，孩子都在外地幫不上忙，問欠的管理費能不能分期。"
            ),
            Line(CALL, "再次電話聯繫，{surname}太太說下個月保險理賠下來會先繳一部分。"),
        ),
    ),
    "en": (
        (
            Line(
                CALL,
                "Called the owner, {who}. His teaching contract at the international school ended in the summer "
                "and was not renewed; he is looking for work and asked whether the arrears can be paid in "
                "installments.",
                HARDSHIP,
            ),
            Line(WECHAT, "WeChat follow-up. {who} said he has a second-round interview next week and will update us."),
        ),
        (
            Line(
                CALL,
                "Spoke to {who}. Her design studio closed in the spring and she is short of cash; she asked for "
                "more time.",
                HARDSHIP,
            ),
            Line(
                LETTER, "Owner emailed: she can pay part of the arrears next month and the rest once she has an income."
            ),
        ),
    ),
}

# ---------------------------------------------------------------------------------------------
# Owners who will not pay for a service they find poor (服务不满型)
# ---------------------------------------------------------------------------------------------

# Incident category → (the problem, what fixing it means), per language.
PROBLEMS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "zh_CN": {
        "leak": ("天花板漏水", "漏水修好"),
        "elevator": ("电梯老是坏", "电梯修好"),
        "cleaning": ("楼道卫生", "楼道卫生整改到位"),
        "security": ("门禁坏了外人随便进", "门禁修好"),
        "parking": ("地库积水泡车", "地库积水处理好"),
        "noise": ("夜里装修噪音", "噪音的事处理好"),
        "repair": ("外墙渗水", "外墙渗水修好"),
    },
    "zh_TW": {
        "leak": ("天花板漏水", "漏水修好"),
        "elevator": ("電梯老是壞", "電梯修好"),
        "cleaning": ("樓道衛生", "樓道衛生整改到位"),
        "security": ("門禁壞了外人隨便進", "門禁修好"),
        "parking": ("地庫積水泡車", "地庫積水處理好"),
        "noise": ("夜裡裝修噪音", "噪音的事處理好"),
        "repair": ("外牆滲水", "外牆滲水修好"),
    },
    "en": {
        "leak": ("leak in the ceiling", "leak"),
        "elevator": ("broken lift", "lift"),
        "cleaning": ("dirty stairwell", "cleaning"),
        "security": ("broken entrance gate", "gate"),
        "parking": ("flooded car park", "car park flooding"),
        "noise": ("night-time renovation noise", "noise"),
        "repair": ("water coming through the outer wall", "outer wall repair"),
    },
}

DISSATISFIED_STORIES: Final[dict[str, tuple[tuple[Line, ...], ...]]] = {
    "zh_CN": (
        (
            Line(CALL, "电话催缴，{who}原话：“不是没钱，是你们服务太差了，{p}报修多少次都没人管。”", DISPUTE),
            Line(VISIT, "上门沟通，{who}说{fix}那天就来交，一天都不拖。"),
        ),
        (
            Line(CALL, "电话催缴，{who}说{p}的事投诉好几次了都没下文，再不处理就打12345。", DISPUTE),
            Line(WECHAT, "管家微信回访，{who}表示没看到整改方案之前物业费先不交。"),
            Line(CALL, "电话回访，{who}说{fix}了再来谈物业费。"),
        ),
        (
            Line(DESK, "{who}来前台，说{p}拖了几个月，交了物业费也是白交。", DISPUTE),
            Line(CALL, "电话催缴，{who}说：“{fix}之前，物业费一分不交。”"),
        ),
        (
            Line(VISIT, "上门催缴，{who}情绪激动，说{p}的问题物业根本不管，还好意思来收钱。", DISPUTE),
            Line(CALL, "物业已派人上门查看，{who}说等处理好、验收了再谈物业费。"),
        ),
    ),
    "zh_TW": (
        (
            Line(
                CALL, "電話催繳，{who}說{p}報修兩個月，管理處只派人來拍照就沒下文，不想再把錢繳給不做事的人。", DISPUTE
            ),
            Line(WECHAT, "{who}表示{fix}之後，欠的管理費會一次繳清。"),
        ),
    ),
    "en": (
        (
            Line(DESK, "{who} told the front desk that she will not pay until the {fix} is fixed.", DISPUTE),
            Line(
                CALL,
                "Called {who}. She has complained several times about the {p} and nobody came: "
                "'I'm paying for a service that doesn't exist.'",
            ),
            Line(CALL, "{who} repeated that money is not the issue; she wants a written answer about the {fix} first."),
        ),
    ),
}

# ---------------------------------------------------------------------------------------------
# Owners who believe they need not pay (认知偏差型); every one of them left the home empty
# ---------------------------------------------------------------------------------------------

VACANCY_EXPLAINED: Final = {
    # 锦绣花园 has no vacancy reduction; 海棠湾 bills a home vacant for 6 months at 60%.
    False: "向{who}说明民法典第944条：空置房同样需要缴纳物业费，{who}不认可。",
    True: "向{who}说明本小区空置满6个月按60%收取，已经按减免后的金额出账，{who}坚持空置房应该全免。",
}

MISUNDERSTANDING_STORIES: Final[dict[str, tuple[tuple[Line, ...], ...]]] = {
    "zh_CN": (
        (
            Line(CALL, "电话催缴，{who}说房子一直空着，水电都没开：“没人住凭什么收物业费？”", VACANCY),
            Line(CALL, "{explained}"),
            Line(CALL, "{who}表示等有人住进去了再交。"),
        ),
        (
            Line(CALL, "电话催缴，{who}说房子买来一直空着，空置房不用交物业费。", VACANCY),
            Line(
                VISIT,
                "上门沟通，{who}说电梯里、大门口都是广告：“小区广告费、停车收入那么多，够抵物业费了吧，还找我要？”",
            ),
            Line(CALL, "说明公共收益归全体业主，使用由业主大会决定，不能抵扣个人物业费，{who}不认可。"),
        ),
        (
            Line(CALL, "电话催缴，{who}说物业合同是开发商签的，自己没签过任何合同，不认这家物业。"),
            Line(VISIT, "上门出示前期物业服务合同和公示材料，{who}说房子空着也没享受服务，凭什么收钱。", VACANCY),
        ),
    ),
    "zh_TW": (
        (
            Line(CALL, "電話催繳，{who}人在外地，說：「房子根本沒人住，水電都是零，管理費當然免啊。」", VACANCY),
            Line(LETTER, "寄送催繳函，{who}回信表示空屋本來就不該繳，等回來住了再說。"),
        ),
    ),
    "en": (
        (
            Line(
                CALL,
                "Called the owner, {who}. He says the flat is empty and nobody lives there, so he should not have "
                "to pay the service fee.",
                VACANCY,
            ),
            Line(
                LETTER,
                "Owner replied by email that the advertising income from the lifts should offset his fee, and asked "
                "for the explanation in English.",
            ),
        ),
    ),
}

# 锦绣花园's owners voted a rate rise in the middle of the history; some owners say there was no vote.
FEE_RISE_STORY: Final = (
    Line(CALL, "电话催缴，{who}说物业费从2.2涨到2.5，没开过业主大会：“没投票就涨价，那我一分都不交。”", DISPUTE),
    Line(VISIT, "向{who}出示{vote}和公示材料，{who}说从来没人通知过投票，房子也一直空着。"),
    Line(CALL, "{who}表示除非恢复原价并退还多收的部分，否则不会交。"),
)

# ---------------------------------------------------------------------------------------------
# No reason given: only attempts to reach the owner (原因不明)
# ---------------------------------------------------------------------------------------------

ATTEMPTS: Final[dict[str, tuple[Line, ...]]] = {
    "zh_CN": (
        Line(CALL, "无人接听"),
        Line(CALL, "已电话提醒"),
        Line(SMS, "发送短信催缴通知。"),
        Line(VISIT, "上门，家中无人，已留催缴通知单。"),
        Line(CALL, "电话打通，业主说“知道了”后挂断。"),
        Line(CALL, "电话无人接听，已发短信。"),
    ),
    "zh_TW": (
        Line(CALL, "無人接聽。"),
        Line(CALL, "已電話提醒。"),
        Line(CALL, "業主說最近比較忙，過幾天會處理。"),
    ),
    "en": (
        Line(CALL, "Left voicemail."),
        Line(WECHAT, "Sent WeChat reminder; message read, no reply."),
        Line(CALL, "Called again, no answer; sent a reminder by email."),
    ),
}

SELLER_STORY: Final = (
    Line(CALL, "原业主已于{sold_on}将房屋出售，新业主按期缴费。电话联系原业主，无人接听。"),
    Line(LETTER, "按原业主登记的地址寄出欠费明细（EMS）。"),
    Line(CALL, "原业主电话打通，说“知道了，过几天处理”。"),
)


# ---------------------------------------------------------------------------------------------
# Writing a case's notes
# ---------------------------------------------------------------------------------------------


def spread_dates(rng: random.Random, first: date, last: date, count: int) -> list[date]:
    """``count`` dates from ``first`` to ``last``, in order, roughly evenly spread."""
    if last <= first:
        return [last] * count
    span = (last - first).days
    step = span / count
    days = [first + timedelta(days=int(step * n + rng.random() * step * 0.8)) for n in range(count)]
    return sorted(min(d, last) for d in days)


def pick_story(rng: random.Random, stories: tuple[tuple[Line, ...], ...]) -> tuple[Line, ...]:
    return stories[rng.randrange(len(stories))]


def contact_attempts(rng: random.Random, language: str, count: int) -> tuple[Line, ...]:
    pool = ATTEMPTS[language]
    picked = sorted(rng.sample(range(len(pool)), min(count, len(pool))))
    return tuple(pool[i] for i in picked)


def write_notes(
    rng: random.Random, lines: tuple[Line, ...], first: date, last: date, values: dict[str, str]
) -> list[DraftNote]:
    """The story's lines, dated between ``first`` and ``last``, filled in, each with its author."""
    author = rng.choice(AUTHORS)
    notes = []
    for day, line in zip(spread_dates(rng, first, last, len(lines)), lines, strict=True):
        # Mostly the unit's housekeeper; now and then whoever was at the desk.
        who_wrote = author if line.kind is not ContactKind.desk else rng.choice(AUTHORS[4:])
        notes.append(DraftNote(day, line.kind, line.text.format(**values), line.claim, who_wrote))
    return notes
