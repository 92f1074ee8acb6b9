import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class PlanState(enum.StrEnum):
    proposed = "proposed"
    active = "active"
    completed = "completed"
    broken = "broken"
    cancelled = "cancelled"


class LateFeeTreatment(enum.StrEnum):
    freeze = "freeze"
    waive_on_completion = "waive_on_completion"
    waive_now = "waive_now"


class InstallmentPlan(SQLModel, table=True):
    __tablename__ = "installment_plan"

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    state: PlanState = Field(sa_type=str_enum(PlanState))
    installments: int
    frequency: str = Field(max_length=16)
    first_due: date
    late_fee_treatment: LateFeeTreatment = Field(sa_type=str_enum(LateFeeTreatment))
    total_fen: int = Field(sa_type=BigInteger)
    note: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    agreed_on: date | None = Field(default=None)
    ended_on: date | None = Field(default=None)
    end_reason: str | None = Field(default=None, max_length=500)


class PlanCharge(SQLModel, table=True):
    """A charge a plan covers; a charge is in at most one active plan (checked by the service)."""

    __tablename__ = "plan_charge"
    __table_args__ = (UniqueConstraint("plan_id", "entry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="installment_plan.id", index=True)
    entry_id: int = Field(sa_type=BigInteger, foreign_key="ledger_entry.id", index=True)
    period: str = Field(max_length=7)
    principal_fen: int = Field(sa_type=BigInteger)


class Installment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="installment_plan.id", index=True)
    number: int
    due_date: date
    amount_fen: int = Field(sa_type=BigInteger)
