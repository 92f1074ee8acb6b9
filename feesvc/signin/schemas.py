"""Sign-in wire types: every text bounded by its pattern, secrets by their exact shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from feesvc.registry.schemas import Phone
from feesvc.schemas import END, Body
from feesvc.signin.models import InvitedBy

# 32 random bytes in URL-safe base64 are 43 characters.
SECRET_BODY = r"[A-Za-z0-9_-]{43}" + END
Code = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{6}" + END,
        examples=["123456"],
        extra={"send": "the 6-digit code the SMS gave, e.g. 123456"},
    ),
]
InvitationSecret = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^fsi_" + SECRET_BODY,
        examples=["fsi_" + "A" * 43],
        extra={"send": "the secret at the end of the invitation link: fsi_ and 43 characters"},
    ),
]
RefreshSecret = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^fsr_" + SECRET_BODY,
        examples=["fsr_" + "A" * 43],
        extra={"send": "the refresh_token sign-in gave: fsr_ and 43 characters"},
    ),
]


class CodeRequest(Body):
    phone: Phone


class SignInRequest(Body):
    """Either ``phone`` with the ``code`` sent to it, or ``invitation`` (the link's secret)."""

    phone: Phone | None = None
    code: Code | None = None
    invitation: InvitationSecret | None = None


class RefreshRequest(Body):
    refresh_token: RefreshSecret


class CodeRequested(msgspec.Struct):
    detail: str


class TokensOut(msgspec.Struct):
    """``access_token`` is a bearer token for the API (an owner's, for ``owner_id``) until
    ``expires_at``; ``refresh_token`` makes new ones once, until ``refresh_expires_at``."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    owner_id: int


class InvitationOut(msgspec.Struct):
    """An invitation as sent: never its secret (the owner gets it by SMS; only a hash is kept)."""

    id: int
    owner_id: int
    invited_by: InvitedBy
    sent_to: str  # the phone, masked
    created_at: datetime
    expires_at: datetime
