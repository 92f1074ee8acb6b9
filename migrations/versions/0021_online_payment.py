"""online payment: payment orders and notifications held for a cashier (issue 19 item 3)

Revision ID: 0021_online
Revises: 0019_signin
Create Date: 2026-12-07 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_online"
down_revision: str | None = "0019_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_order",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False, unique=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False),
        sa.Column("provider", sa.Enum("wechat", "alipay", name="provider", native_enum=False, length=24), nullable=False),
        sa.Column("channel", sa.Enum("jsapi", "native", "page", "wap", name="channel", native_enum=False, length=24), nullable=False),
        sa.Column("kind", sa.Enum("payoff", "debts", name="orderkind", native_enum=False, length=24), nullable=False),
        sa.Column("charge_ids", sa.JSON(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=127), nullable=False),
        sa.Column("state", sa.Enum("pending", "paid", "closed", name="orderstate", native_enum=False, length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False, unique=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("provider_ref", sa.String(length=2048), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
    )
    op.create_index("ix_payment_order_estate_id", "payment_order", ["estate_id"])
    op.create_index("ix_payment_order_unit_id", "payment_order", ["unit_id"])
    op.create_index("ix_payment_order_due", "payment_order", ["state", "expires_at"])
    op.create_table(
        "held_notification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("payment_order.id"), nullable=False),
        sa.Column("provider", sa.Enum("wechat", "alipay", name="provider", native_enum=False, length=24), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("state", sa.Enum("held", "posted", "dismissed", name="heldstate", native_enum=False, length=24), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=120), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("provider", "transaction_id"),
    )
    op.create_index("ix_held_notification_estate_id", "held_notification", ["estate_id"])


def downgrade() -> None:
    op.drop_index("ix_held_notification_estate_id", table_name="held_notification")
    op.drop_table("held_notification")
    op.drop_index("ix_payment_order_due", table_name="payment_order")
    op.drop_index("ix_payment_order_unit_id", table_name="payment_order")
    op.drop_index("ix_payment_order_estate_id", table_name="payment_order")
    op.drop_table("payment_order")
