"""Sign-in: one-time codes and invitations by SMS through the outbox, access and refresh tokens.

Every outcome is audited with the phone masked (feesvc.registry.masking) and never a code or a
secret. A refusal commits what it counted (attempts, rate-limit windows, the audit row) before it
is raised, so a failed guess is never undone by the error that reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.models import ApiToken, Role, TokenKind
from feesvc.auth.principal import Principal
from feesvc.auth.service import TOKEN_PREFIX, PrincipalCache, hash_token
from feesvc.errors import DomainError, InvalidInput
from feesvc.letters.models import OutboxMessage, OutboxStatus
from feesvc.registry.masking import mask_phone
from feesvc.registry.models import Owner, phone_last4
from feesvc.registry.service import get_owner
from feesvc.signin import rules
from feesvc.signin.models import (
    Invitation,
    InvitedBy,
    RefreshToken,
    SignInCode,
    SignInMethod,
    SignInSession,
)
from feesvc.signin.ratelimit import count_attempt, forget_old_counts, over_limit
from feesvc.signin.texts import owner_locale, text

# Who acts for a sign-in whose owner is not known yet (an unknown phone, a bad invitation).
SIGN_IN_DESK = Principal(role=Role.system, name="sign-in")
REFRESH_FAILED = "sign_in.refresh_fail"


class SignInFailed(DomainError):
    status_code = 401
    title = "Sign-in failed"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    owner_id: int
    session_id: int
    token_id: int


@dataclass(frozen=True)
class OwnerInvite:
    """Invite the owner an ownership starts for: when, and the server's address for the link."""

    now: datetime
    base_url: str


async def invite_new_owner(session: AsyncSession, actor: Principal, owner_id: int, invite: OwnerInvite) -> None:
    """The system's invitation when an ownership starts (in the caller's transaction): to an owner
    with a phone number on record; one without is invited by a manager once it is recorded."""
    owner = await get_owner(session, owner_id, field="owner_id")
    if rules.normalize_phone(owner.phone):
        await invite_owner(session, actor, owner_id, InvitedBy.ownership, invite.now, invite.base_url)


def owner_principal(owner_id: int) -> Principal:
    return Principal(role=Role.owner, name=f"owner {owner_id}", owner_id=owner_id)


# --- invitations -------------------------------------------------------------------------------


async def invite_owner(
    session: AsyncSession,
    actor: Principal,
    owner_id: int,
    invited_by: InvitedBy,
    now: datetime,
    base_url: str,
) -> tuple[Invitation, bool]:
    """Send ``owner_id`` an invitation link by SMS (through the outbox), in the caller's
    transaction; returns it and whether it is new. A manager's invitation repeated within a few
    minutes is the same one (a retried request sends no second SMS)."""
    owner = await get_owner(session, owner_id, field="owner_id")
    if not rules.normalize_phone(owner.phone):
        raise InvalidInput(
            f"owner {owner_id} has no phone number on record: record one (PATCH /api/v1/owners/{owner_id}) first",
            field="phone",
        )
    recent = (
        await session.execute(
            select(Invitation)
            .where(
                Invitation.owner_id == owner_id,
                Invitation.invited_by == invited_by,
                col(Invitation.used_at).is_(None),
                col(Invitation.created_at) > now - rules.INVITATION_RETRY_WINDOW,
            )
            .order_by(col(Invitation.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if recent is not None:
        return recent, False
    secret = rules.new_secret(rules.INVITATION_PREFIX)
    invitation = Invitation(
        owner_id=owner_id,
        secret_hash=hash_token(secret),
        invited_by=invited_by,
        actor=actor.label,
        created_at=now,
        expires_at=now + rules.INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    locale = owner_locale(owner.locale)
    link = f"{base_url.rstrip('/')}/owner/invitation/{secret}"
    days = rules.INVITATION_LIFETIME.days
    _queue_sms(
        session,
        owner.phone,
        text(locale, "invitation_subject"),
        text(locale, "invitation_sms", link=link, days=days),
        f"signin:invitation:{invitation.id}",
        now,
    )
    await record_audit(
        session,
        actor,
        "sign_in.invite",
        "owner",
        owner_id,
        {"invitation_id": invitation.id, "by": invited_by.value, "phone": mask_phone(owner.phone)},
    )
    return invitation, True


def _queue_sms(session: AsyncSession, phone: str, subject: str, body: str, dedupe_key: str, now: datetime) -> None:
    session.add(
        OutboxMessage(
            letter_id=None,
            channel="sms",
            recipient=phone,
            subject=subject,
            body=body,
            status=OutboxStatus.pending,
            dedupe_key=dedupe_key,
            created_at=now,
        )
    )


async def sign_in_with_invitation(session: AsyncSession, secret: str, address: str, now: datetime) -> Tokens:
    await _count(session, rules.SIGN_INS_PER_ADDRESS, rules.address_hash(address), now, {"address": address})
    invitation = (
        await session.execute(select(Invitation).where(Invitation.secret_hash == hash_token(secret)))
    ).scalar_one_or_none()
    claimed = invitation is not None and await _claim(
        session,
        update(Invitation).where(
            col(Invitation.id) == invitation.id,
            col(Invitation.used_at).is_(None),
            col(Invitation.expires_at) > now,
        ),
        now,
    )
    if invitation is None or not claimed:
        reason = "unknown" if invitation is None else "used" if invitation.used_at else "expired"
        actor = SIGN_IN_DESK if invitation is None else owner_principal(invitation.owner_id)
        entity_id = "-" if invitation is None else invitation.owner_id
        detail: dict[str, Any] = {"method": "invitation", "reason": reason, "address": address}
        if invitation is not None:
            detail["invitation_id"] = invitation.id
        await _refuse(session, actor, "owner" if invitation else "sign_in", entity_id, detail)
        raise SignInFailed("the invitation link is invalid, used or expired; sign in with your phone and a code")
    assert invitation is not None
    return await _start_session(
        session, invitation.owner_id, SignInMethod.invitation, now, {"invitation_id": invitation.id, "address": address}
    )


# --- one-time codes ----------------------------------------------------------------------------


async def owners_with_phone(session: AsyncSession, phone: str) -> list[Owner]:
    """Owners whose phone on record is ``phone`` (found by its last 4 digits' index)."""
    wanted = rules.normalize_phone(phone)
    if len(wanted) < 4:
        return []
    query = select(Owner).where(phone_last4(Owner.__table__.c.phone) == wanted[-4:])  # type: ignore[attr-defined]
    return [o for o in (await session.execute(query)).scalars() if rules.normalize_phone(o.phone) == wanted]


async def request_code(session: AsyncSession, phone: str, address: str, now: datetime) -> None:
    """Send a code to ``phone`` if exactly one owner has it on record. The caller answers the same
    whatever happened, so nobody learns from it whether a number is on record."""
    masked = mask_phone(phone)
    digest = rules.phone_hash(phone)
    await forget_old_counts(session, now)
    await _count(session, rules.CODES_PER_ADDRESS, rules.address_hash(address), now, {"address": address})
    await _count(session, rules.CODES_PER_PHONE, digest, now, {"phone": masked, "address": address})
    owners = await owners_with_phone(session, phone)
    if len(owners) != 1:
        # Several owners on one number (a family): which account is meant cannot be told, so they
        # are invited one by one instead (the invitation is per owner).
        detail = {"phone": masked, "owners_on_record": len(owners), "address": address}
        await record_audit(session, SIGN_IN_DESK, "sign_in.code_not_sent", "sign_in", "-", detail)
        await session.commit()
        return
    owner = owners[0]
    assert owner.id is not None
    code, salt = rules.new_code(), rules.new_salt()
    row = SignInCode(
        owner_id=owner.id,
        phone_hash=digest,
        salt=salt,
        code_hash=rules.code_hash(code, salt),
        created_at=now,
        expires_at=now + rules.CODE_LIFETIME,
    )
    session.add(row)
    await session.flush()
    locale = owner_locale(owner.locale)
    minutes = int(rules.CODE_LIFETIME.total_seconds() // 60)
    _queue_sms(
        session,
        owner.phone,
        text(locale, "code_subject"),
        text(locale, "code_sms", code=code, minutes=minutes),
        f"signin:code:{row.id}",
        now,
    )
    detail = {"code_id": row.id, "phone": masked, "address": address}
    await record_audit(session, owner_principal(owner.id), "sign_in.code_sent", "owner", owner.id, detail)
    await session.commit()


async def sign_in_with_code(session: AsyncSession, phone: str, code: str, address: str, now: datetime) -> Tokens:
    """The latest code sent to ``phone`` signs its owner in, once, within its lifetime and attempts."""
    masked = mask_phone(phone)
    digest = rules.phone_hash(phone)
    await _count(session, rules.SIGN_INS_PER_ADDRESS, rules.address_hash(address), now, {"address": address})
    await _count(session, rules.SIGN_INS_PER_PHONE, digest, now, {"phone": masked, "address": address})
    latest = (
        await session.execute(
            select(SignInCode).where(SignInCode.phone_hash == digest).order_by(col(SignInCode.id).desc()).limit(1)
        )
    ).scalar_one_or_none()
    reason = _code_refusal(latest, code, now)
    if latest is not None and reason in (None, "wrong"):
        # Every guess at a live code spends one of its attempts, atomically: parallel guesses
        # cannot get past the limit, and a replay finds the code used.
        matched = reason is None
        spent = await _claim(
            session,
            update(SignInCode)
            .where(
                col(SignInCode.id) == latest.id,
                col(SignInCode.used_at).is_(None),
                col(SignInCode.attempts) < rules.CODE_ATTEMPTS,
            )
            .values(attempts=col(SignInCode.attempts) + 1, **({"used_at": now} if matched else {})),
            now,
            stamp_used=False,
        )
        if not spent:
            reason = "used_or_locked"  # by a request at the same moment
        elif matched:
            signed_in = {"code_id": latest.id, "phone": masked, "address": address}
            return await _start_session(session, latest.owner_id, SignInMethod.code, now, signed_in)
    detail: dict[str, Any] = {"method": "code", "reason": reason, "phone": masked, "address": address}
    if latest is None:
        await _refuse(session, SIGN_IN_DESK, "sign_in", "-", detail)
    else:
        detail["code_id"] = latest.id
        await _refuse(session, owner_principal(latest.owner_id), "owner", latest.owner_id, detail)
    raise SignInFailed("the code is wrong, used or expired: ask for a new code", field="code")


def _code_refusal(latest: SignInCode | None, code: str, now: datetime) -> str | None:
    """Why ``code`` does not sign in with ``latest`` (None: it does, if its attempt is granted)."""
    if latest is None:
        return "no_code"
    if latest.used_at is not None:
        return "used"
    if now >= latest.expires_at:
        return "expired"
    if latest.attempts >= rules.CODE_ATTEMPTS:
        return "locked"
    if not rules.is_code_shaped(code) or not rules.code_matches(code, latest.salt, latest.code_hash):
        return "wrong"
    return None


# --- tokens ------------------------------------------------------------------------------------


async def _start_session(
    session: AsyncSession, owner_id: int, method: SignInMethod, now: datetime, detail: dict[str, Any]
) -> Tokens:
    started = SignInSession(owner_id=owner_id, method=method, created_at=now)
    session.add(started)
    await session.flush()
    assert started.id is not None
    tokens = await _issue(session, started, now)
    audit = {"method": method.value, "session_id": started.id, "token_id": tokens.token_id, **detail}
    await record_audit(session, owner_principal(owner_id), "sign_in", "owner", owner_id, audit)
    await session.commit()
    return tokens


async def _issue(session: AsyncSession, signed_in: SignInSession, now: datetime) -> Tokens:
    """A new access token and refresh token for the session."""
    assert signed_in.id is not None
    access_secret = TOKEN_PREFIX + rules.new_secret("")
    access = ApiToken(
        name=f"sign-in owner {signed_in.owner_id}",
        role=Role.owner,
        owner_id=signed_in.owner_id,
        token_hash=hash_token(access_secret),
        created_at=now,
        kind=TokenKind.sign_in,
        expires_at=now + rules.ACCESS_LIFETIME,
        session_id=signed_in.id,
    )
    refresh_secret = rules.new_secret(rules.REFRESH_PREFIX)
    refresh = RefreshToken(
        session_id=signed_in.id,
        token_hash=hash_token(refresh_secret),
        created_at=now,
        expires_at=now + rules.REFRESH_LIFETIME,
    )
    session.add_all([access, refresh])
    await session.flush()
    assert access.id is not None and access.expires_at is not None
    owner_id, session_id = signed_in.owner_id, signed_in.id
    return Tokens(access_secret, access.expires_at, refresh_secret, refresh.expires_at, owner_id, session_id, access.id)


async def refresh_tokens(
    session: AsyncSession, secret: str, address: str, now: datetime, cache: PrincipalCache
) -> Tokens:
    """Swap a refresh token for new tokens. Each is used once: a second use means someone else
    holds a copy, and the whole session (every token from that sign-in) is revoked."""
    row = (
        await session.execute(select(RefreshToken).where(RefreshToken.token_hash == hash_token(secret)))
    ).scalar_one_or_none()
    signed_in = None if row is None else await session.get(SignInSession, row.session_id)
    if row is None or signed_in is None:
        unknown = {"reason": "unknown", "address": address}
        await _refuse(session, SIGN_IN_DESK, "sign_in", "-", unknown, REFRESH_FAILED)
        raise SignInFailed("the refresh token is unknown: sign in again", field="refresh_token")
    actor = owner_principal(signed_in.owner_id)
    detail: dict[str, Any] = {"session_id": signed_in.id, "address": address}

    async def refuse(reason: str, action: str = REFRESH_FAILED) -> None:
        await _refuse(session, actor, "owner", signed_in.owner_id, {**detail, "reason": reason}, action)

    if signed_in.revoked_at is not None:
        await refuse("signed_out")
        raise SignInFailed("this sign-in has ended: sign in again", field="refresh_token")
    claimed = await _claim(
        session,
        update(RefreshToken).where(
            col(RefreshToken.id) == row.id, col(RefreshToken.used_at).is_(None), col(RefreshToken.expires_at) > now
        ),
        now,
    )
    if not claimed:
        if row.used_at is not None or now < row.expires_at:
            await end_session(session, signed_in, now, "refresh_reused", cache)
            await refuse("reused", "sign_in.refresh_reused")
            raise SignInFailed(
                "the refresh token was already used: every token of this sign-in is revoked", field="refresh_token"
            )
        await refuse("expired")
        raise SignInFailed("the refresh token has expired: sign in again", field="refresh_token")
    tokens = await _issue(session, signed_in, now)
    issued = {**detail, "token_id": tokens.token_id}
    await record_audit(session, actor, "sign_in.refresh", "owner", signed_in.owner_id, issued)
    await session.commit()
    return tokens


async def sign_out(session: AsyncSession, principal: Principal, now: datetime, cache: PrincipalCache) -> None:
    """End the session the caller's token belongs to: its access and refresh tokens stop at once."""
    token = None if principal.token_id is None else await session.get(ApiToken, principal.token_id)
    if token is None or token.session_id is None:
        raise InvalidInput(
            "this token was not made by signing in; staff revoke it (POST /api/v1/tokens/{id}/revoke)",
            field="Authorization",
        )
    signed_in = await session.get(SignInSession, token.session_id)
    assert signed_in is not None
    await end_session(session, signed_in, now, "signed_out", cache)
    await record_audit(session, principal, "sign_out", "owner", signed_in.owner_id, {"session_id": signed_in.id})
    await session.commit()


async def end_session(
    session: AsyncSession, signed_in: SignInSession, now: datetime, because: str, cache: PrincipalCache | None
) -> None:
    """Revoke the session with its access tokens and unused refresh tokens (in the caller's
    transaction); this process's cache forgets them at once."""
    if signed_in.revoked_at is None:
        signed_in.revoked_at = now
        signed_in.revoked_because = because
    await session.execute(
        update(ApiToken)
        .where(col(ApiToken.session_id) == signed_in.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.session_id) == signed_in.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    if cache is not None and signed_in.id is not None:
        cache.forget_session(signed_in.id)


# --- helpers -----------------------------------------------------------------------------------


async def _claim(session: AsyncSession, statement: Any, now: datetime, *, stamp_used: bool = True) -> bool:
    """Run a conditional UPDATE (``stamp_used``: setting ``used_at``); whether it changed its row."""
    if stamp_used:
        statement = statement.values(used_at=now)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


async def _count(session: AsyncSession, limit: rules.Limit, key: str, now: datetime, detail: dict[str, Any]) -> None:
    """Count an attempt; past the limit, audit the first refusal of the window and refuse (429)."""
    count = await count_attempt(session, limit, key, now)
    refusal = over_limit(limit, count, now)
    if refusal is None:
        return
    if count == limit.count + 1:
        audit = {**detail, "limit": limit.kind, "retry_after": refusal.retry_after}
        await record_audit(session, SIGN_IN_DESK, "sign_in.rate_limited", "sign_in", "-", audit)
    await session.commit()
    raise refusal


async def _refuse(
    session: AsyncSession,
    actor: Principal,
    entity: str,
    entity_id: object,
    detail: dict[str, Any],
    action: str = "sign_in.fail",
) -> None:
    await record_audit(session, actor, action, entity, entity_id, detail)
    await session.commit()
