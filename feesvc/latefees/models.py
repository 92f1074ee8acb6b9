from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import DecimalText, UTCDateTime, utcnow


class CourtRate(SQLModel, table=True):
    """An annual rate a court would likely allow (e.g. 1-year LPR × 1.3), from a date, per estate."""

    __tablename__ = "court_rate"
    __table_args__ = (UniqueConstraint("estate_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    effective_from: date
    annual_rate: Decimal = Field(sa_type=DecimalText)
    basis: str = Field(max_length=200)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
