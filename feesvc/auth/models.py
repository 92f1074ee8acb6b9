import enum
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class Role(enum.StrEnum):
    cashier = "cashier"
    manager = "manager"
    owner = "owner"
    system = "system"


class TokenKind(enum.StrEnum):
    api = "api"  # made on the command line; lives until revoked
    sign_in = "sign_in"  # an owner's short-lived access token from sign-in (feesvc.signin)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is kept, the secret is shown once at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: Role = Field(sa_type=str_enum(Role))
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    kind: TokenKind = Field(default=TokenKind.api, sa_type=str_enum(TokenKind))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # A sign-in token's session (feesvc.signin): revoking the token ends the session.
    session_id: int | None = Field(default=None, foreign_key="signin_session.id", index=True)
