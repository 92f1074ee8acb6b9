"""The owner's pay page: the amount, a CSRF-protected form that makes the order, then WeChat Pay's QR
code (drawn here with segno) or a redirect to Alipay's page.

The owner is the holder of the ``feesvc_session`` cookie (HttpOnly; its value is an owner token's
secret), looked up with the app's principal cache. The form's CSRF token is an HMAC of a fixed label
under that secret: only a page served to the cookie's holder can carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.auth.service import PrincipalCache
from feesvc.db import BUSINESS_TZ, Database, business_today
from feesvc.errors import DomainError, Forbidden, NotFound
from feesvc.formatting import money, normalize_locale
from feesvc.online.credentials import CredentialsError, estate_credentials
from feesvc.online.models import PayChannel, Provider
from feesvc.online.orders import create_order
from feesvc.online.schemas import PaymentOrderCreate
from feesvc.online.words import words_for
from feesvc.payoff.service import unit_payoff
from feesvc.registry.models import Building, Owner
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.settings import Settings

OWNER_PAY_PATH = "/owner/pay"
SESSION_COOKIE = "feesvc_session"
# What each provider's button makes on a phone: WeChat Pay's QR code, Alipay's mobile-website page.
PAGE_CHANNELS = {Provider.wechat: PayChannel.native, Provider.alipay: PayChannel.wap}
LANG = {"zh_CN": "zh-CN", "zh_TW": "zh-TW", "en": "en"}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
    )


def csrf_token(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), b"feesvc owner pay form", hashlib.sha256).hexdigest()


class PageError(Exception):
    def __init__(self, status: int, word: str) -> None:
        self.status = status
        self.word = word


async def _owner(request: Request[Any, Any, Any]) -> tuple[Principal, str]:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        raise PageError(401, "sign_in")
    state = request.app.state
    cache: PrincipalCache = state.principal_cache
    principal = await cache.principal_for(state.database.sessions, secret)
    if principal is None or principal.role is not Role.owner or principal.owner_id is None:
        raise PageError(401, "sign_in")
    return principal, secret


def _page(locale: str, status: int = 200, **values: Any) -> Response[str]:
    html = _environment().get_template("pay.html").render(w=words_for(locale), lang=LANG.get(locale, "zh-CN"), **values)
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"},
    )


class OwnerPayPage(Controller):
    path = OWNER_PAY_PATH
    include_in_schema = False

    @get("/")
    async def show(self, request: Request[Any, Any, Any], unit: int | None = None) -> Response[str]:
        locale = "zh_CN"
        try:
            principal, secret = await _owner(request)
            database: Database = request.app.state.database
            settings: Settings = request.app.state.settings
            async with database.session() as session:
                locale = await _locale(session, principal)
                if unit is None:
                    raise PageError(404, "not_yours")
                unit_row, label = await _unit(session, principal, unit)
                payoff = await unit_payoff(session, unit, business_today(), principal.owner_id)
            providers = _providers(settings, unit_row.estate_id)
        except PageError as error:
            return _page(locale, error.status, error=words_for(locale)[error.word])
        if payoff.total_fen <= 0:
            return _page(locale, unit_label=label, nothing_owed=True)
        return _page(
            locale,
            unit_label=label,
            unit_id=unit,
            amount=money(payoff.total_fen, locale),
            providers=[p.value for p in providers],
            action=OWNER_PAY_PATH,
            csrf=csrf_token(secret),
            key=secrets.token_hex(16),  # one order per page shown: a resubmitted form makes no second order
        )

    @post("/", status_code=200)
    async def pay(self, request: Request[Any, Any, Any]) -> Response[Any]:
        locale = "zh_CN"
        try:
            principal, secret = await _owner(request)
            database: Database = request.app.state.database
            settings: Settings = request.app.state.settings
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
            async with database.session() as session:
                locale = await _locale(session, principal)
                if not hmac.compare_digest(form.get("csrf", ""), csrf_token(secret)):
                    raise PageError(403, "bad_form")
                unit_text, key = form.get("unit", ""), form.get("key", "")
                if not unit_text.isdigit() or len(key) != 32 or form.get("provider") not in ("wechat", "alipay"):
                    raise PageError(400, "bad_form")
                provider = Provider(form["provider"])
                _, label = await _unit(session, principal, int(unit_text))
                # Alipay's page sends the payer back here afterwards.
                back = f"{settings.server.public_base_url.rstrip('/')}{OWNER_PAY_PATH}?unit={unit_text}"
                data = PaymentOrderCreate(
                    unit_id=int(unit_text),
                    provider=provider,
                    channel=PAGE_CHANNELS[provider],
                    return_url=back if provider is Provider.alipay else None,
                )
                order, _ = await create_order(session, settings, principal, data, key, business_today())
        except PageError as error:
            return _page(locale, error.status, error=words_for(locale)[error.word])
        except DomainError as error:
            return _page(locale, error.status_code, error=error.detail)
        if "pay_url" in order.pay:
            return Redirect(order.pay["pay_url"], status_code=303)
        qr = segno.make(order.pay.get("code_url", ""), error="m")
        return _page(
            locale,
            unit_label=label,
            amount=money(order.amount_fen, locale),
            qr_svg=qr.svg_inline(scale=6, omitsize=True),
            order_no=order.out_trade_no,
            expires=_time(order.expires_at),
        )


async def _locale(session: Any, principal: Principal) -> str:
    owner = await session.get(Owner, principal.owner_id)
    try:
        return normalize_locale((owner.locale if owner is not None else None) or "zh_CN")
    except ValueError:
        return "zh_CN"


async def _unit(session: Any, principal: Principal, unit_id: int) -> tuple[Any, str]:
    try:
        unit, building = await get_unit(session, unit_id)
        await can_read_unit(session, principal, unit_id)
    except (NotFound, Forbidden) as error:
        raise PageError(403, "not_yours") from error
    label = f"{building.name}{unit.number}" if isinstance(building, Building) else unit.number
    return unit, label


def _providers(settings: Settings, estate_id: int) -> list[Provider]:
    try:
        found = estate_credentials(estate_id, settings)
    except CredentialsError:
        return []
    return [] if found is None else found.providers()


def _time(at: datetime) -> str:
    return at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
