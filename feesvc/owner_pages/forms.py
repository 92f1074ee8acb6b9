"""Forms posted from the pages: a token bound to the session, so another site cannot post on the
owner's behalf (CSRF), and the fields checked by the API's own schema.

The token is an HMAC of a fixed label under the session's secret (the HttpOnly cookie an attacker's
page can neither read nor set): it needs no server-side store and no secret setting, changes with
every sign-in, and a page on another origin cannot read it out of ours. The cookie itself is
SameSite (set at sign-in), which already keeps most cross-site posts from carrying it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request

from feesvc.auth.middleware import SESSION_COOKIE
from feesvc.errors import FieldError, Forbidden, InvalidInput

T = TypeVar("T")

CSRF_FIELD: Final = "csrf_token"
# A form's own key, made when the page is shown: the Idempotency-Key of what it files.
FORM_KEY_FIELD: Final = "form_key"
_FORM_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,100}")
_LABEL: Final = b"feesvc owner page form"


def csrf_for(session_secret: str) -> str:
    """The forms' token of the session whose cookie holds ``session_secret``."""
    return hmac.new(session_secret.encode(), _LABEL, hashlib.sha256).hexdigest()


def csrf_token(request: Request[Any, Any, Any]) -> str:
    return csrf_for(request.cookies.get(SESSION_COOKIE, ""))


def new_form_key() -> str:
    return secrets.token_urlsafe(24)


def form_key(fields: dict[str, str]) -> str:
    """The form's key as sent; a form without one (or a made-up one) is refused."""
    key = fields.pop(FORM_KEY_FIELD, "")
    if not _FORM_KEY.fullmatch(key):
        raise InvalidInput("the form has no key: reload the page and send it again", field=FORM_KEY_FIELD)
    return key


async def posted_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The urlencoded form's fields (the last value of each), after its CSRF token is checked."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if not hmac.compare_digest(fields.pop(CSRF_FIELD, ""), csrf_token(request)):
        raise Forbidden("the form's token is missing or does not match your session", field=CSRF_FIELD)
    return fields


def decode_form(fields: dict[str, str], into: type[T]) -> T:
    """The fields as ``into`` (a ``feesvc.schemas.Body``): the same bounds the API holds them to.
    Refused: InvalidInput naming the field (``$.text`` → ``text``)."""
    try:
        return msgspec.convert(fields, into, strict=False)
    except msgspec.ValidationError as error:
        message = str(error)
        where = message.rpartition("$.")[2].split("`")[0] if "$." in message else ""
        raise InvalidInput(message, errors=[FieldError(where, message)]) from error
