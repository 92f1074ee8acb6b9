"""What interrupts limitation besides a delivered letter and a payment: the owner's written
acknowledgement (with the signed copy kept as proof) and the company's legal filing."""

import enum
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class AcknowledgementKind(enum.StrEnum):
    written_confirmation = "written_confirmation"  # 欠费确认书 signed by the owner
    installment_plan = "installment_plan"  # the signed copy of a plan agreement


class Acknowledgement(SQLModel, table=True):
    """The owner's signed acknowledgement of the debt of some periods (诉讼时效规定 §14)."""

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int = Field(foreign_key="owner.id")
    kind: AcknowledgementKind = Field(sa_type=str_enum(AcknowledgementKind))
    signed_on: date
    periods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    plan_id: int | None = Field(default=None, foreign_key="installment_plan.id", index=True)
    note: str = Field(default="", max_length=500)
    proof_path: str = Field(max_length=300)
    proof_sha256: str = Field(max_length=64)
    proof_size: int
    proof_media_type: str = Field(max_length=60)
    idempotency_key: str = Field(max_length=100, unique=True)
    request_fingerprint: str = Field(max_length=64)
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class FilingKind(enum.StrEnum):
    suit = "suit"  # 起诉
    payment_order = "payment_order"  # 申请支付令


class FilingOutcome(enum.StrEnum):
    judgment = "judgment"  # 判决
    mediation = "mediation"  # 调解结案
    payment_order_issued = "payment_order_issued"  # 支付令生效
    objection = "objection"  # 债务人异议，支付令失效
    withdrawn = "withdrawn"  # 撤诉 / 撤回申请
    dismissed = "dismissed"  # 驳回 / 不予受理


class LegalFiling(SQLModel, table=True):
    """A suit or payment-order application against one owner for some periods (民法典 195(3))."""

    __tablename__ = "legal_filing"

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int = Field(foreign_key="owner.id")
    kind: FilingKind = Field(sa_type=str_enum(FilingKind))
    filed_on: date
    court: str = Field(max_length=200)
    case_no: str = Field(max_length=100)
    periods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    claimed_fen: int = Field(default=0, sa_type=BigInteger)
    outcome: FilingOutcome | None = Field(default=None, sa_type=str_enum(FilingOutcome))
    outcome_on: date | None = Field(default=None)
    outcome_note: str = Field(default="", max_length=500)
    idempotency_key: str = Field(max_length=100, unique=True)
    request_fingerprint: str = Field(max_length=64)
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
