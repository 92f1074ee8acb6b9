import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import DecimalText, str_enum
from feesvc.registry.models import UnitUse


class Basis(enum.StrEnum):
    per_m2_month = "per_m2_month"
    fixed_month = "fixed_month"


class DecisionKind(enum.StrEnum):
    contract = "contract"
    owners_vote = "owners_vote"
    government_price = "government_price"
    filing = "filing"


class FeeStandard(SQLModel, table=True):
    """Effective-dated and never rewritten: a new standard is a new row from its start date."""

    __tablename__ = "fee_standard"

    __table_args__ = (UniqueConstraint("estate_id", "unit_use", "item", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_use: UnitUse = Field(sa_type=str_enum(UnitUse))
    item: str = Field(max_length=40)
    item_name: str = Field(max_length=100)
    basis: Basis = Field(sa_type=str_enum(Basis))
    rate: Decimal = Field(sa_type=DecimalText)
    effective_from: date
    ends_on: date | None = Field(default=None)
    posted_on: date
    decision_kind: DecisionKind = Field(sa_type=str_enum(DecisionKind))
    decision_ref: str = Field(max_length=400)
    late_fee_daily_rate: Decimal | None = Field(default=None, sa_type=DecimalText)
