"""Sign-in tables. Secrets, codes and phone numbers are stored only as hashes."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class SignInMethod(enum.StrEnum):
    code = "code"
    invitation = "invitation"


class InvitedBy(enum.StrEnum):
    manager = "manager"
    ownership = "ownership"  # the system, when an ownership starts


class SignInSession(SQLModel, table=True):
    """One sign-in and everything issued from it: its access tokens (``api_token.session_id``) and
    its chain of refresh tokens, the family a reused refresh token revokes whole."""

    __tablename__ = "signin_session"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="owner.id", index=True)
    method: SignInMethod = Field(sa_type=str_enum(SignInMethod))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    revoked_because: str | None = Field(default=None, max_length=40)


class RefreshToken(SQLModel, table=True):
    """A refresh token: used once (rotation); a second use means it was stolen."""

    __tablename__ = "signin_refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="signin_session.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class SignInCode(SQLModel, table=True):
    """A one-time code sent by SMS: its salted hash, a few attempts, five minutes."""

    __tablename__ = "signin_code"
    __table_args__ = (Index("ix_signin_code_phone_created", "phone_hash", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="owner.id", index=True)
    phone_hash: str = Field(max_length=64)
    salt: str = Field(max_length=32)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    attempts: int = Field(default=0)
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Invitation(SQLModel, table=True):
    """An invitation link's secret (hash only), single-use, expiring."""

    __tablename__ = "signin_invitation"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="owner.id", index=True)
    secret_hash: str = Field(max_length=64, unique=True)
    invited_by: InvitedBy = Field(sa_type=str_enum(InvitedBy))
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class SignInRateCount(SQLModel, table=True):
    """Attempts counted per key (a phone's or an address's hash, per kind of attempt) and fixed
    window: one row a key and window, raised atomically, so every worker sees the same count."""

    __tablename__ = "signin_rate_count"

    bucket: str = Field(max_length=100, primary_key=True)
    window_start: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    count: int = Field(default=0)
