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
    # Filled in once the owner row exists.
    owner_id: int | None = None


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
