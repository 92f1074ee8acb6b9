from __future__ import annotations

from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from feesvc.auth.models import Role
from feesvc.auth.service import PrincipalCache

#: The owner's pages (feesvc.owner_pages) are signed in by this HttpOnly cookie, whose value is an
#: owner token's secret; the API keeps its bearer header.
OWNER_PAGES: Final = "/owner"
SESSION_COOKIE: Final = "feesvc_session"


class SignInRequired(NotAuthorizedException):
    """A page under ``/owner/`` without a valid owner session: the pages answer it with a redirect
    to the sign-in page, not a 401 body a browser would show as text."""


def is_owner_page(path: str) -> bool:
    return path == OWNER_PAGES or path.startswith(OWNER_PAGES + "/")


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer fsv_…`` → the token's principal in ``request.user``; under ``/owner/``
    the ``feesvc_session`` cookie of an owner token instead."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        state = connection.app.state
        cache: PrincipalCache = state.principal_cache
        if is_owner_page(connection.scope["path"]):
            secret = connection.cookies.get(SESSION_COOKIE, "").strip()
            owner = await cache.principal_for(state.database.sessions, secret) if secret else None
            if owner is None or owner.role is not Role.owner:
                raise SignInRequired("sign in to see your pages")
            return AuthenticationResult(user=owner, auth=secret)
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        principal = await cache.principal_for(state.database.sessions, token.strip())
        if principal is None:
            raise NotAuthorizedException("the token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"})
        return AuthenticationResult(user=principal, auth=token)
