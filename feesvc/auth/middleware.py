from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from feesvc.auth.models import Role
from feesvc.auth.service import PrincipalCache

# The owner pages (HTML) authenticate with a cookie holding an owner's sign-in access token; every
# other route takes the bearer header only, so a browser's cookie can never act on the API.
OWNER_PAGES = "/owner/"
SESSION_COOKIE = "feesvc_session"


class OwnerSignInRequired(NotAuthorizedException):
    """An owner page without a working session cookie: the owner is sent to sign in (feesvc.signin)."""


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer fsv_…`` → the token's principal in ``request.user``; under
    ``/owner/``, the ``feesvc_session`` cookie instead."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        state = connection.app.state
        cache: PrincipalCache = state.principal_cache
        if connection.scope["path"].startswith(OWNER_PAGES):
            secret = connection.cookies.get(SESSION_COOKIE, "")
            owner = await cache.principal_for(state.database.sessions, secret) if secret else None
            if owner is None or owner.role is not Role.owner:
                raise OwnerSignInRequired("sign in first")
            return AuthenticationResult(user=owner, auth=secret)
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        principal = await cache.principal_for(state.database.sessions, token.strip())
        if principal is None:
            raise NotAuthorizedException(
                "the token is unknown, revoked or expired", headers={"WWW-Authenticate": "Bearer"}
            )
        return AuthenticationResult(user=principal, auth=token)
