"""Owners sign in to the API with a code sent to their phone, or an invitation link; managers invite."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers, requires
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.auth.service import PrincipalCache
from feesvc.errors import InvalidInput, problem
from feesvc.registry.masking import mask_phone
from feesvc.registry.service import get_owner
from feesvc.schemas import PathId
from feesvc.signin import service
from feesvc.signin.models import InvitedBy
from feesvc.signin.ratelimit import TooManyAttempts
from feesvc.signin.schemas import CodeRequest, CodeRequested, InvitationOut, RefreshRequest, SignInRequest, TokensOut

owners = requires(Role.owner)
NO_STORE = {"Cache-Control": "no-store"}
CODE_REQUESTED = "if the number is on record, a code is on its way by SMS; it works once, within 5 minutes"


def too_many_attempts(request: Request[Any, Any, Any], exc: TooManyAttempts) -> Response[dict[str, Any]]:
    return problem(request, 429, exc.title, exc.detail, headers={"Retry-After": str(exc.retry_after)})


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def tokens_out(tokens: service.Tokens, now: datetime) -> Response[TokensOut]:
    body = TokensOut(
        access_token=tokens.access_token,
        token_type="Bearer",
        expires_in=int((tokens.access_expires_at - now).total_seconds()),
        expires_at=tokens.access_expires_at,
        refresh_token=tokens.refresh_token,
        refresh_expires_at=tokens.refresh_expires_at,
        owner_id=tokens.owner_id,
    )
    return Response(body, status_code=200, headers=NO_STORE)


class SignInController(Controller):
    path = "/api/v1"
    tags = ["sign-in"]
    exception_handlers = {TooManyAttempts: too_many_attempts}

    @post("/sign-in/code", status_code=202, opt={"answers": (429,)})
    async def request_code(self, request: Request[Any, Any, Any], state: State, data: CodeRequest) -> CodeRequested:
        """Send a one-time sign-in code by SMS to the phone number on record. The answer is the same
        whether or not the number is on record. At most 5 codes an hour a number (20 an address)."""
        async with state.database.session() as db:
            await service.request_code(db, data.phone, client_address(request), state.clock())
        return CodeRequested(CODE_REQUESTED)

    @post("/sign-in", status_code=200, opt={"answers": (401, 429)})
    async def sign_in(self, request: Request[Any, Any, Any], state: State, data: SignInRequest) -> Response[TokensOut]:
        """Sign in with ``phone`` and the ``code`` sent to it, or with ``invitation`` (the link's
        secret): an access token for 15 minutes and a refresh token for 30 days. A code works once,
        within 5 minutes and 5 guesses; at most 10 sign-ins an hour a number (30 an address)."""
        now = state.clock()
        async with state.database.session() as db:
            if data.invitation is not None and data.phone is None and data.code is None:
                tokens = await service.sign_in_with_invitation(db, data.invitation, client_address(request), now)
            elif data.invitation is None and data.phone is not None and data.code is not None:
                tokens = await service.sign_in_with_code(db, data.phone, data.code, client_address(request), now)
            else:
                raise InvalidInput(
                    "send either phone and code, or invitation alone",
                    field="code" if data.phone is not None and data.code is None else "invitation",
                )
        return tokens_out(tokens, now)

    @post("/sign-in/refresh", status_code=200, opt={"answers": (401,)})
    async def refresh(self, request: Request[Any, Any, Any], state: State, data: RefreshRequest) -> Response[TokensOut]:
        """Swap a refresh token for a new access token and refresh token. Each refresh token works
        once: using one again revokes every token of that sign-in."""
        now = state.clock()
        cache: PrincipalCache = state.principal_cache
        async with state.database.session() as db:
            tokens = await service.refresh_tokens(db, data.refresh_token, client_address(request), now, cache)
        return tokens_out(tokens, now)

    @post("/sign-out", guards=[owners], status_code=204)
    async def sign_out(self, db: AsyncSession, state: State, principal: Principal) -> None:
        """End the sign-in of the calling access token: it and its refresh token stop working at once."""
        await service.sign_out(db, principal, state.clock(), state.principal_cache)

    @post("/owners/{owner_id:int}/invitations", guards=[managers])
    async def invite(
        self, db: AsyncSession, state: State, principal: Principal, owner_id: PathId
    ) -> Response[InvitationOut]:
        """Invite an owner to sign in: a link by SMS to the phone on record, working once within 7
        days. Sending it again within 10 minutes answers the same invitation and sends nothing
        (``Idempotent-Replayed: true``). The owner needs a phone number on record."""
        base_url = state.settings.server.public_base_url
        invitation, created = await service.invite_owner(
            db, principal, owner_id, InvitedBy.manager, state.clock(), base_url
        )
        owner = await get_owner(db, owner_id)
        await db.commit()
        assert invitation.id is not None
        body = InvitationOut(
            id=invitation.id,
            owner_id=owner_id,
            invited_by=InvitedBy(invitation.invited_by),
            sent_to=mask_phone(owner.phone),
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )
        return Response(body, status_code=201, headers={"Idempotent-Replayed": "false" if created else "true"})
