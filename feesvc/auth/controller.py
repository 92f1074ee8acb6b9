"""Managers list and revoke API tokens. New tokens are made on the command line only
(``feesvc token create``): a secret is shown once, to whoever runs the server."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth import service
from feesvc.auth.guards import managers
from feesvc.auth.models import ApiToken, Role
from feesvc.auth.principal import Principal
from feesvc.schemas import PathId


class TokenOut(msgspec.Struct):
    """A token as listed: never its secret (only a hash is stored), and no last-use time (not recorded)."""

    id: int
    role: Role
    name: str
    owner_id: int | None
    created_at: datetime
    revoked_at: datetime | None


def token_out(token: ApiToken) -> TokenOut:
    assert token.id is not None
    return TokenOut(token.id, Role(token.role), token.name, token.owner_id, token.created_at, token.revoked_at)


class TokenController(Controller):
    path = "/api/v1/tokens"
    tags = ["tokens"]

    @get("/", guards=[managers])
    async def list_tokens(
        self, db: AsyncSession, role: Role | None = None, include_revoked: bool = True
    ) -> list[TokenOut]:
        """Every API token, oldest first: id, role, name, owner, created, revoked. Managers only."""
        return [token_out(t) for t in await service.list_tokens(db, include_revoked, role)]

    @post("/{token_id:int}/revoke", guards=[managers], status_code=200)
    async def revoke(self, db: AsyncSession, state: State, principal: Principal, token_id: PathId) -> TokenOut:
        """Revoke a token: it stops working at once on this server process (other worker processes
        within 30 s). Revoking a revoked token answers the same. Managers only; audited."""
        token = await service.revoke_token(db, principal, token_id)
        cache: service.PrincipalCache = state.principal_cache
        cache.forget(token.token_hash)
        return token_out(token)
