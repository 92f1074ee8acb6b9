from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from feesvc.auth.service import PrincipalCache


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer fsv_…`` → the token's principal in ``request.user``."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        state = connection.app.state
        cache: PrincipalCache = state.principal_cache
        principal = await cache.principal_for(state.database.sessions, token.strip())
        if principal is None:
            raise NotAuthorizedException(
                "the token is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
            )
        return AuthenticationResult(user=principal, auth=token)
