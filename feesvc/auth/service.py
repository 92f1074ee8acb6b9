from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.models import ApiToken, Role
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import InvalidInput, NotFound
from feesvc.registry.models import Owner

TOKEN_PREFIX = "fsv_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    session: AsyncSession, actor: Principal, role: Role, name: str, owner_id: int | None = None
) -> tuple[str, ApiToken]:
    """Store a new token's hash and return the secret, which is never stored or shown again."""
    if role is Role.owner:
        if owner_id is None:
            raise InvalidInput("an owner token needs the owner it belongs to", field="owner_id")
        if await session.get(Owner, owner_id) is None:
            raise NotFound(f"owner {owner_id} does not exist", field="owner_id")
    elif owner_id is not None:
        raise InvalidInput("only owner tokens carry an owner", field="owner_id")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, owner_id=owner_id, token_hash=hash_token(secret))
    session.add(token)
    await session.flush()
    await record_audit(session, actor, "token.create", "api_token", token.id, {"role": role.value, "name": name})
    await session.commit()
    return secret, token


async def list_tokens(session: AsyncSession, include_revoked: bool = True, role: Role | None = None) -> list[ApiToken]:
    """Tokens oldest first. Only hashes are stored, so no listing can show a secret."""
    query = select(ApiToken).order_by(col(ApiToken.id))
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    if role is not None:
        query = query.where(ApiToken.role == role)
    return list((await session.execute(query)).scalars())


async def revoke_token(session: AsyncSession, actor: Principal, token_id: int) -> ApiToken:
    """Revoke a token; revoking it again changes nothing and answers the same (safe to retry)."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} does not exist", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await record_audit(
            session, actor, "token.revoke", "api_token", token_id, {"role": token.role, "name": token.name}
        )
        await session.commit()
    return token


class PrincipalCache:
    """Token → principal for a short while, so a request costs no extra query for its token.

    A revoked token stops working within ``ttl_seconds``.
    """

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    async def principal_for(self, sessions: async_sessionmaker[AsyncSession], token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self.ttl_seconds:
            return hit[1]
        query = select(ApiToken).where(ApiToken.token_hash == digest, col(ApiToken.revoked_at).is_(None))
        async with sessions() as session:  # only on a miss: a cached token costs no connection
            row = (await session.execute(query)).scalar_one_or_none()
        principal = (
            None
            if row is None
            else Principal(role=Role(row.role), name=row.name, token_id=row.id, owner_id=row.owner_id)
        )
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (now, principal)
        return principal

    def forget(self, token_hash: str) -> None:
        """Drop a token at once (this process; other workers within ``ttl_seconds``)."""
        self._entries.pop(token_hash, None)
