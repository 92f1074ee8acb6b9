"""The owners' sign-in pages: server-rendered HTML, no JavaScript, forms protected against CSRF.

A successful sign-in sets the ``feesvc_session`` cookie (HttpOnly, SameSite=Lax, Secure when the
server's public address is https) to an access token's secret and sends the owner to ``/owner/``;
the auth middleware reads that cookie under ``/owner/`` only (feesvc.auth.middleware).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, PackageLoader
from litestar import Controller, Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, State
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.middleware import OWNER_PAGES, SESSION_COOKIE, OwnerSignInRequired
from feesvc.auth.principal import Principal
from feesvc.registry.schemas import Phone
from feesvc.settings import Settings
from feesvc.signin import rules, service
from feesvc.signin.controller import client_address
from feesvc.signin.ratelimit import TooManyAttempts
from feesvc.signin.texts import TEXTS, html_lang, request_locale

SIGN_IN_PAGE = "/owner/sign-in"
HOME = OWNER_PAGES
# Paths the auth middleware lets through without a session.
PUBLIC_PAGES = ["^/owner/sign-in", "^/owner/invitation/"]
CSRF_COOKIE = "feesvc_csrf"
LANGUAGES = (("zh_CN", "简体中文"), ("zh_TW", "繁體中文"), ("en", "English"))

_templates = Environment(loader=PackageLoader("feesvc.signin", "templates"), autoescape=True)


def is_https(settings: Settings) -> bool:
    return settings.server.public_base_url.lower().startswith("https://")


def owner_pages(settings: Settings, *controllers: type[Controller]) -> Router:
    """The pages under ``/owner/`` (these and ``controllers``), their forms checked by Litestar's
    CSRF middleware. Only here: the API takes bearer tokens, which a browser never sends by itself,
    and its requests pay nothing for the check."""
    csrf = CSRFConfig(
        secret=csrf_secret(settings),
        cookie_name=CSRF_COOKIE,
        cookie_path=OWNER_PAGES,
        cookie_secure=is_https(settings),
        cookie_httponly=True,  # the forms carry the token; no script needs to read it
        cookie_samesite="lax",
    )
    return Router(
        path="/owner",
        route_handlers=[OwnerSignInPages, *controllers],
        middleware=[DefineMiddleware(CSRFMiddleware, config=csrf)],
        include_in_schema=False,
    )


def csrf_secret(settings: Settings) -> str:
    """``FEESVC_CSRF_SECRET``, or one made once and kept beside the files, which every worker reads:
    written whole to a file of its own, then linked into place, so that workers starting together
    agree on the first one linked."""
    if settings.server.csrf_secret:
        return settings.server.csrf_secret
    path = Path(settings.server.files_dir) / "csrf-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"csrf-secret.{secrets.token_hex(8)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another worker's came first
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


def session_cookie(settings: Settings, tokens: service.Tokens, now: datetime) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=tokens.access_token,
        path=OWNER_PAGES,
        max_age=int((tokens.access_expires_at - now).total_seconds()),
        httponly=True,
        secure=is_https(settings),
        samesite="lax",
    )


def page(
    request: Request[Any, Any, Any],
    template: str,
    locale: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response[str]:
    html = _templates.get_template(template).render(
        t=TEXTS[locale],
        locale=locale,
        html_lang=html_lang(locale),
        languages=LANGUAGES,
        here=SIGN_IN_PAGE,
        csrf_token=ScopeState.from_scope(request.scope).csrf_token,
        **values,
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", **(headers or {})},
    )


def is_phone(value: str) -> bool:
    """Whether a form's phone is one the API's ``phone`` field takes."""
    try:
        msgspec.convert(value, Phone)
    except msgspec.ValidationError:
        return False
    return True


def locale_of(request: Request[Any, Any, Any], chosen: str | None = None) -> str:
    return request_locale(chosen or request.query_params.get("lang"), request.headers.get("accept-language"))


def too_many(
    request: Request[Any, Any, Any], template: str, locale: str, exc: TooManyAttempts, phone: str
) -> Response[str]:
    minutes = max(1, -(-exc.retry_after // 60))
    error = TEXTS[locale]["too_many"].format(minutes=minutes)
    headers = {"Retry-After": str(exc.retry_after)}
    return page(request, template, locale, 429, headers, error=error, phone=phone)


def sign_in_required(request: Request[Any, Any, Any], exc: OwnerSignInRequired) -> Response[Any]:
    """An owner page without a working session: to the sign-in page, the stale cookie dropped."""
    expired = SESSION_COOKIE in request.cookies
    redirect = Redirect(SIGN_IN_PAGE + ("?expired=1" if expired else ""), status_code=303)
    redirect.delete_cookie(SESSION_COOKIE, path=OWNER_PAGES)
    return redirect


class OwnerSignInPages(Controller):
    path = "/"

    @get("/sign-in")
    async def phone_form(self, request: Request[Any, Any, Any]) -> Response[str]:
        locale = locale_of(request)
        t = TEXTS[locale]
        params = request.query_params
        note = t["signed_out"] if "signed_out" in params else t["expired"] if "expired" in params else None
        return page(request, "phone.html.j2", locale, note=note, phone="")

    @post("/sign-in/code")
    async def send_code(self, request: Request[Any, Any, Any], state: State) -> Response[str]:
        form = await request.form()
        locale = locale_of(request, str(form.get("lang") or ""))
        phone = str(form.get("phone") or "").strip()
        if not is_phone(phone):
            return page(request, "phone.html.j2", locale, 400, error=TEXTS[locale]["bad_phone"], phone="")
        try:
            async with state.database.session() as db:
                await service.request_code(db, phone, client_address(request), state.clock())
        except TooManyAttempts as exc:
            return too_many(request, "phone.html.j2", locale, exc, phone)
        minutes = int(rules.CODE_LIFETIME.total_seconds() // 60)
        return page(
            request, "code.html.j2", locale, note=TEXTS[locale]["code_sent"].format(minutes=minutes), phone=phone
        )

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any], state: State) -> Response[Any]:
        form = await request.form()
        locale = locale_of(request, str(form.get("lang") or ""))
        phone = str(form.get("phone") or "").strip()
        code = str(form.get("code") or "").strip()
        if not is_phone(phone):
            return page(request, "phone.html.j2", locale, 400, error=TEXTS[locale]["bad_phone"], phone="")
        now = state.clock()
        try:
            async with state.database.session() as db:
                tokens = await service.sign_in_with_code(db, phone, code, client_address(request), now)
        except TooManyAttempts as exc:
            return too_many(request, "code.html.j2", locale, exc, phone)
        except service.SignInFailed:
            return page(request, "code.html.j2", locale, 401, error=TEXTS[locale]["bad_code"], phone=phone)
        return self._signed_in(state, tokens, now)

    @get("/invitation/{secret:str}")
    async def invitation(self, request: Request[Any, Any, Any], state: State, secret: str) -> Response[Any]:
        """The link an invitation SMS carries: it signs the owner in once and opens their page."""
        locale = locale_of(request)
        now = state.clock()
        try:
            async with state.database.session() as db:
                tokens = await service.sign_in_with_invitation(db, secret, client_address(request), now)
        except TooManyAttempts as exc:
            return too_many(request, "message.html.j2", locale, exc, "")
        except service.SignInFailed:
            return page(request, "message.html.j2", locale, 401, error=TEXTS[locale]["invitation_bad"])
        return self._signed_in(state, tokens, now)

    @post("/sign-out")
    async def sign_out(self, db: AsyncSession, state: State, principal: Principal) -> Response[Any]:
        await service.sign_out(db, principal, state.clock(), state.principal_cache)
        redirect = Redirect(SIGN_IN_PAGE + "?signed_out=1", status_code=303)
        redirect.delete_cookie(SESSION_COOKIE, path=OWNER_PAGES)
        return redirect

    @staticmethod
    def _signed_in(state: State, tokens: service.Tokens, now: datetime) -> Response[Any]:
        return Redirect(HOME, status_code=303, cookies=[session_cookie(state.settings, tokens, now)])
