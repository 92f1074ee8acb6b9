"""Managers list and revoke API tokens. New tokens are made on the command line only
(``feesvc token create``): a secret is shown once, to whoever runs the server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth import service
from feesvc.auth.guards import managers
from feesvc.auth.models import ApiToken, Role, TokenKind
from feesvc.auth.principal import Principal
from feesvc.schemas import INT4_MAX, PathId


class TokenOut(msgspec.Struct):
    """A token as listed: never its secret (only a hash is stored), and no last-use time (not recorded).
    ``kind``: ``api`` (made on the command line, lives until revoked) or ``sign_in`` (an owner's
    access token from signing in, until ``expires_at``; revoking it ends that sign-in)."""

    id: int
    role: Role
    name: str
    owner_id: int | None
    created_at: datetime
    revoked_at: datetime | None
    kind: TokenKind
    expires_at: datetime | None


def token_out(token: ApiToken) -> TokenOut:
    assert token.id is not None
    return TokenOut(
        token.id,
        Role(token.role),
        token.name,
        token.owner_id,
        token.created_at,
        token.revoked_at,
        TokenKind(token.kind),
        token.expires_at,
    )


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]

    @get("/", guards=[managers])
    async def list_tokens(
        self,
        db: AsyncSession,
        role: Role | None = None,
        include_revoked: bool = True,
        kind: TokenKind | None = None,
        owner_id: Annotated[int | None, Parameter(ge=1, le=INT4_MAX)] = None,
    ) -> list[TokenOut]:
        """Every API token, oldest first: id, kind, role, name, owner, created, expiry, revoked
        (``include_revoked=false``: only tokens that still work). Managers only."""
        return [token_out(t) for t in await service.list_tokens(db, include_revoked, role, kind, owner_id)]

    @post("/{token_id:int}/revoke", guards=[managers], status_code=200)
    async def revoke(self, db: AsyncSession, state: State, principal: Principal, token_id: PathId) -> TokenOut:
        """Revoke a token: it stops working at once on this server process (other worker processes
        within 30 s); an owner's sign-in token ends its sign-in (its refresh token too). Revoking a
        revoked token answers the same. Managers only; audited."""
        token = await service.revoke_token(db, principal, token_id)
        cache: service.PrincipalCache = state.principal_cache
        cache.forget_token(token)
        return token_out(token)
