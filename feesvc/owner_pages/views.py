"""The pages' Jinja2 environment: templates and stylesheet from this package, money and dates
through ``feesvc.formatting`` (Babel), the record's own text in the reader's script."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.dates import format_time
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Response

from feesvc import formatting
from feesvc.db import BUSINESS_TZ
from feesvc.documents.render import html_lang
from feesvc.letters.content.traditional import traditional

STATIC_DIR: Final = Path(__file__).parent / "static"
HTML: Final = "text/html"  # Litestar adds the charset (utf-8)


def _money(fen: int, locale: str, style: str | None = None) -> str:
    # Traditional pages write renminbi as the estate does on its letters (人民幣…元 or ¥), never "CN¥".
    return formatting.money(fen, locale, style if locale in ("zh_TW", "zh_HK") else None)


def _period_label(period: str | None, locale: str) -> str:
    return formatting.period_label(period, locale) if period else ""


def _date_long(day: date | None, locale: str) -> str:
    return formatting.date_long(day, locale) if day else ""


_CLOCK_LOCALES: Final = {"zh_CN": "zh_Hans_CN", "zh_TW": "zh_Hant_TW", "zh_HK": "zh_Hant_HK", "en": "en_GB"}


def _when(moment: datetime, locale: str) -> str:
    """A time on the estate's clock: "2026年12月7日 19:30", "7 December 2026, 19:30"."""
    local = moment.astimezone(BUSINESS_TZ)
    clock = format_time(local, "HH:mm", locale=_CLOCK_LOCALES[locale])
    day = formatting.date_long(local.date(), locale)
    return f"{day}, {clock}" if locale == "en" else f"{day} {clock}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("feesvc.owner_pages", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money,
        date_long=_date_long,
        when=_when,
        period_label=_period_label,
        tr=traditional,  # the record's text (names, fee names, what an owner wrote) in zh_TW/zh_HK
    )
    return env


def page(template: str, context: dict[str, Any], status_code: int = 200) -> Response[str]:
    """A page as HTML; never cached by the browser or a proxy (it is personal)."""
    locale = context["locale"]
    html = environment().get_template(template).render(lang=html_lang(locale), **context)
    return Response(
        html,
        status_code=status_code,
        media_type=HTML,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"},
    )


@cache
def asset(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()
