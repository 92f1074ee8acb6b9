"""Fake but well-formed people: Chinese names, mobile numbers and 18-character ID numbers.

Everything is drawn from the caller's ``random.Random``, so the same seed gives the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from feesvc.registry.models import Channel

# The most common surnames, roughly in order of frequency.
SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN_NAMES: Final = _words(
    """伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 秀英 秀兰 桂英 建华 志强 海燕 国强
    晓东 文静 子涵 浩然 欣怡 雨桐 思远 建国 玉兰 淑珍 俊杰 婷婷 宇航 立新 红梅 春生 丽华 永强 晓峰 美玲
    志明 佳琪 一鸣"""
)
MOBILE_PREFIXES: Final = _words(
    "130 131 132 135 136 137 138 139 150 151 152 155 156 157 158 159 166 176 177 180 181 182 185 186 187 188 189 199"
)
# Mostly local (Hangzhou districts), some from other provinces, as in any new estate.
REGION_CODES: Final = _words(
    "330102 330105 330106 330108 330109 330110 330106 330108 320102 340104 360102 410105 430102 510104 420106 370102"
)
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


@dataclass
class Person:
    name: str
    phone: str
    id_number: str
    email: str
    channel: Channel
    # The owner's language for letters (zh_HK, zh_TW, en); None: the estate's.
    locale: str | None = None
    # Filled in once the owner row exists.
    owner_id: int | None = None

    @property
    def writes(self) -> str:
        """The language staff write this owner's contact notes in: zh_CN, zh_TW or en."""
        if self.locale in ("zh_HK", "zh_TW"):
            return "zh_TW"
        return "en" if self.locale == "en" else "zh_CN"

    def called(self, title: str) -> str:
        """How staff refer to the owner in a note: 王先生, 陳太太, Ms. Laura Walker."""
        if self.writes == "en":
            return f"{title} {self.name}"
        return self.name[0] + title


def id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def fake_id_number(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 48))
    first17 = f"{rng.choice(REGION_CODES)}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
    return first17 + id_check_digit(first17)


def fake_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def fake_person(rng: random.Random) -> Person:
    roll = rng.random()
    channel = Channel.wechat if roll < 0.5 else Channel.sms if roll < 0.8 else Channel.paper
    email = ""
    if rng.random() < 0.2:
        email = f"{rng.randrange(10**7, 3 * 10**9)}@{rng.choice(('qq.com', '163.com', '126.com'))}"
        if rng.random() < 0.3:
            channel = Channel.email
    return Person(fake_name(rng), fake_mobile(rng), fake_id_number(rng), email, channel)


# Owners from Hong Kong and Taiwan: names in Traditional characters; the 港澳台居民居住证 number
# has the same 18-character layout as a resident ID, with region 810000 (HK) or 830000 (TW).
TRADITIONAL_SURNAMES: Final = (
    "陳黃林張李王吳劉蔡楊鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾彭游詹胡施沈余盧梁趙顏柯翁魏孫戴"
)
TRADITIONAL_GIVEN_NAMES: Final = _words(
    "家豪 志明 俊傑 建宏 美玲 淑芬 雅婷 怡君 詩涵 宗翰 冠宇 嘉欣 永強 偉倫 家偉 秀英 惠珍 麗華 子軒 佩珊 嘉慧 國榮"
)
FOREIGN_GIVEN_NAMES: Final = _words(
    "Daniel Laura Michael Sarah James Emma Thomas Anna David Sophie Mark Julia Peter Claire"
)
FOREIGN_SURNAMES: Final = _words(
    "Hughes Walker Smith Tanaka Kim Rahman Novak Rossi Dubois Andersson Fischer Moreau Evans"
)


def fake_hk_tw_person(rng: random.Random) -> Person:
    """An owner from Hong Kong or Taiwan, living in Hangzhou or abroad; letters in Traditional Chinese."""
    hong_kong = rng.random() < 0.5
    born = date(1955, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    first17 = f"{'810000' if hong_kong else '830000'}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
    if hong_kong:
        phone = f"+852 {rng.choice('569')}{rng.randrange(1000):03d} {rng.randrange(10000):04d}"
    else:
        phone = f"+886 9{rng.randrange(100):02d} {rng.randrange(1000):03d} {rng.randrange(1000):03d}"
    name = rng.choice(TRADITIONAL_SURNAMES) + rng.choice(TRADITIONAL_GIVEN_NAMES)
    email = f"{rng.randrange(10**6, 10**8)}@{rng.choice(('gmail.com', 'yahoo.com.hk', 'hotmail.com'))}"
    channel = Channel.wechat if rng.random() < 0.6 else Channel.email
    return Person(name, phone, first17 + id_check_digit(first17), email, channel, "zh_HK" if hong_kong else "zh_TW")


def fake_foreign_person(rng: random.Random) -> Person:
    """A foreign owner (a teacher, an engineer posted to Hangzhou); passport number, letters in English."""
    given, family = rng.choice(FOREIGN_GIVEN_NAMES), rng.choice(FOREIGN_SURNAMES)
    passport = f"{rng.choice('CEGKPSX')}{rng.choice('ABHKLMNR')}{rng.randrange(10**6, 10**7)}"
    email = f"{given.lower()}.{family.lower()}@{rng.choice(('gmail.com', 'outlook.com', 'proton.me'))}"
    return Person(f"{given} {family}", fake_mobile(rng), passport, email, Channel.email, "en")
