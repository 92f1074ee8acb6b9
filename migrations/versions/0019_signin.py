"""owners sign in: invitations, one-time codes, sessions with refresh tokens, rate counts (issue 19, item 1)

``api_token`` gets its kind (``api``: made on the command line; ``sign_in``: an owner's access
token), an expiry and the sign-in session it belongs to. ``outbox_message.letter_id`` becomes
nullable: a sign-in code or invitation goes through the outbox as SMS without being a letter.

Revision ID: 0019_signin
Revises: 0022_bank
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_signin"
down_revision: str | None = "0022_bank"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "signin_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False, index=True),
        sa.Column("method", sa.String(length=24), nullable=False),
        _when("created_at", nullable=False),
        _when("revoked_at"),
        sa.Column("revoked_because", sa.String(length=40), nullable=True),
    )
    op.create_table(
        "signin_refresh_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("signin_session.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("used_at"),
    )
    op.create_table(
        "signin_code",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False, index=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("used_at"),
    )
    op.create_index("ix_signin_code_phone_created", "signin_code", ["phone_hash", "created_at"])
    op.create_table(
        "signin_invitation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False, index=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("used_at"),
    )
    op.create_table(
        "signin_rate_count",
        sa.Column("bucket", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
    )
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=24), nullable=False, server_default="api"))
        batch_op.add_column(_when("expires_at"))
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_api_token_session_id", "signin_session", ["session_id"], ["id"])
        batch_op.create_index("ix_api_token_session_id", ["session_id"])
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column("letter_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Messages that are no letter (sign-in SMS) cannot stay once letter_id is required again.
    op.execute("DELETE FROM outbox_message WHERE letter_id IS NULL")
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column("letter_id", existing_type=sa.Integer(), nullable=False)
    # Sign-in tokens go with the sessions they belong to.
    op.execute("DELETE FROM api_token WHERE session_id IS NOT NULL")
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.drop_index("ix_api_token_session_id")
        batch_op.drop_constraint("fk_api_token_session_id", type_="foreignkey")
        batch_op.drop_column("session_id")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("kind")
    op.drop_table("signin_rate_count")
    op.drop_table("signin_invitation")
    op.drop_index("ix_signin_code_phone_created", table_name="signin_code")
    op.drop_table("signin_code")
    op.drop_table("signin_refresh_token")
    op.drop_table("signin_session")
