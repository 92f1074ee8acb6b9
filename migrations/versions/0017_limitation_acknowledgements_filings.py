"""limitation: written acknowledgements (with their signed copy) and legal filings

Both interrupt limitation (民法典 195; 诉讼时效规定 §8–14) and write limitation events for their
owner; these tables keep what the events rest on: the signed copy's file and hash, the court and
case number, and the outcome of the proceedings.

Revision ID: 0017_limitation
Revises: 0016_content
Create Date: 2026-12-07 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_limitation"
down_revision: str | None = "0016_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "acknowledgement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "written_confirmation", "installment_plan", name="acknowledgementkind", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("installment_plan.id"), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("proof_path", sa.String(300), nullable=False),
        sa.Column("proof_sha256", sa.String(64), nullable=False),
        sa.Column("proof_size", sa.Integer(), nullable=False),
        sa.Column("proof_media_type", sa.String(60), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(120), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index("ix_acknowledgement_estate_id", "acknowledgement", ["estate_id"])
    op.create_index("ix_acknowledgement_unit_id", "acknowledgement", ["unit_id"])
    op.create_index("ix_acknowledgement_plan_id", "acknowledgement", ["plan_id"])
    op.create_table(
        "legal_filing",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("estate_id", sa.Integer(), sa.ForeignKey("estate.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("owner.id"), nullable=False),
        sa.Column(
            "kind", sa.Enum("suit", "payment_order", name="filingkind", native_enum=False, length=24), nullable=False
        ),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("court", sa.String(200), nullable=False),
        sa.Column("case_no", sa.String(100), nullable=False),
        sa.Column("periods", sa.JSON(), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "judgment",
                "mediation",
                "payment_order_issued",
                "objection",
                "withdrawn",
                "dismissed",
                name="filingoutcome",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("outcome_on", sa.Date(), nullable=True),
        sa.Column("outcome_note", sa.String(500), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(120), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index("ix_legal_filing_estate_id", "legal_filing", ["estate_id"])
    op.create_index("ix_legal_filing_unit_id", "legal_filing", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_legal_filing_unit_id", table_name="legal_filing")
    op.drop_index("ix_legal_filing_estate_id", table_name="legal_filing")
    op.drop_table("legal_filing")
    op.drop_index("ix_acknowledgement_plan_id", table_name="acknowledgement")
    op.drop_index("ix_acknowledgement_unit_id", table_name="acknowledgement")
    op.drop_index("ix_acknowledgement_estate_id", table_name="acknowledgement")
    op.drop_table("acknowledgement")
