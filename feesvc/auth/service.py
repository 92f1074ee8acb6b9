from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, or_, select

from feesvc.audit.service import record_audit
from feesvc.auth.models import ApiToken, Role, TokenKind
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import InvalidInput, NotFound
from feesvc.registry.models import Owner
from feesvc.signin.models import SignInSession

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


async def list_tokens(
    session: AsyncSession,
    include_revoked: bool = True,
    role: Role | None = None,
    kind: TokenKind | None = None,
    owner_id: int | None = None,
) -> list[ApiToken]:
    """Tokens oldest first. Only hashes are stored, so no listing can show a secret."""
    query = select(ApiToken).order_by(col(ApiToken.id))
    if not include_revoked:  # nor expired: neither works any more
        live = or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > utcnow())
        query = query.where(col(ApiToken.revoked_at).is_(None), live)
    if role is not None:
        query = query.where(ApiToken.role == role)
    if kind is not None:
        query = query.where(ApiToken.kind == kind)
    if owner_id is not None:
        query = query.where(ApiToken.owner_id == owner_id)
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
        if token.session_id is not None:
            await _end_sign_in_session(session, token.session_id, token.revoked_at)
        await session.commit()
    return token


async def _end_sign_in_session(session: AsyncSession, session_id: int, now: datetime) -> None:
    """Revoking an owner's sign-in token ends its sign-in: the refresh token cannot make new ones."""
    from feesvc.signin.service import end_session  # here: sign-in builds on this module

    signed_in = await session.get(SignInSession, session_id)
    if signed_in is not None:
        await end_session(session, signed_in, now, "revoked_by_staff", None)


class PrincipalCache:
    """Token → principal for a short while, so a request costs no extra query for its token.

    A revoked token stops working within ``ttl_seconds`` (at once on the process that revoked it);
    an expiring token (an owner's sign-in, feesvc.signin) stops at its expiry, by ``clock``.
    """

    def __init__(
        self, ttl_seconds: float = 30.0, max_entries: int = 10_000, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, _Cached] = {}

    async def principal_for(self, sessions: async_sessionmaker[AsyncSession], token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is None or now - hit.at >= self.ttl_seconds:
            hit = await self._load(sessions, digest, now)
        if hit.expires_at is not None and self.clock() >= hit.expires_at:
            return None
        return hit.principal

    async def _load(self, sessions: async_sessionmaker[AsyncSession], digest: str, now: float) -> _Cached:
        query = select(ApiToken).where(ApiToken.token_hash == digest, col(ApiToken.revoked_at).is_(None))
        async with sessions() as session:  # only on a miss: a cached token costs no connection
            row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            cached = _Cached(now, None, None, None)
        else:
            principal = Principal(role=Role(row.role), name=row.name, token_id=row.id, owner_id=row.owner_id)
            cached = _Cached(now, principal, row.expires_at, row.session_id)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = cached
        return cached

    def forget(self, token_hash: str) -> None:
        """Drop a token at once (this process; other workers within ``ttl_seconds``)."""
        self._entries.pop(token_hash, None)

    def forget_session(self, session_id: int) -> None:
        """Drop every token of a sign-in session (this process; other workers within ``ttl_seconds``)."""
        for digest in [d for d, c in self._entries.items() if c.session_id == session_id]:
            del self._entries[digest]

    def forget_token(self, token: ApiToken) -> None:
        """Drop a revoked token, and with a sign-in token every token of its session."""
        self.forget(token.token_hash)
        if token.session_id is not None:
            self.forget_session(token.session_id)


@dataclass(frozen=True)
class _Cached:
    at: float  # time.monotonic() when read from the database
    principal: Principal | None  # None: no such token, or revoked
    expires_at: datetime | None
    session_id: int | None
