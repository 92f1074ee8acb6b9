"""Forms posted from the pages: the fields checked by the API's own schema, and each form's own key.

Cross-site request forgery is refused before a form reaches a handler, by one mechanism for every
form under ``/owner/`` (sign-in, requests, pay): Litestar's CSRF middleware on the owner pages'
router (``feesvc.signin.pages.owner_pages``). A page carries the token of the ``feesvc_csrf``
cookie (HttpOnly, SameSite=Lax, signed with the server's CSRF secret) in ``_csrf_token``; a post
whose field does not match its cookie is refused (403, the "form expired" page). The session
cookie is SameSite too, which already keeps most cross-site posts from carrying it.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request
from litestar.utils.scope.state import ScopeState

from feesvc.errors import FieldError, InvalidInput

T = TypeVar("T")

# Litestar's CSRF middleware reads the token from this field of a posted form.
CSRF_FIELD: Final = "_csrf_token"
# A form's own key, made when the page is shown: the Idempotency-Key of what it files.
FORM_KEY_FIELD: Final = "form_key"
_FORM_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,100}")


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The token a page's forms carry: the CSRF middleware's for this request's cookie."""
    return str(ScopeState.from_scope(request.scope).csrf_token)


def new_form_key() -> str:
    return secrets.token_urlsafe(24)


def form_key(fields: dict[str, str]) -> str:
    """The form's key as sent; a form without one (or a made-up one) is refused."""
    key = fields.pop(FORM_KEY_FIELD, "")
    if not _FORM_KEY.fullmatch(key):
        raise InvalidInput("the form has no key: reload the page and send it again", field=FORM_KEY_FIELD)
    return key


async def posted_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The urlencoded form's fields (the last value of each); its CSRF token was checked on the way in."""
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}


def decode_form(fields: dict[str, str], into: type[T]) -> T:
    """The fields as ``into`` (a ``feesvc.schemas.Body``): the same bounds the API holds them to.
    Refused: InvalidInput naming the field (``$.text`` → ``text``)."""
    try:
        return msgspec.convert(fields, into, strict=False)
    except msgspec.ValidationError as error:
        message = str(error)
        where = message.rpartition("$.")[2].split("`")[0] if "$." in message else ""
        raise InvalidInput(message, errors=[FieldError(where, message)]) from error
