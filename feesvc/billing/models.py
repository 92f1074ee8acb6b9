from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, utcnow


class BillingRun(SQLModel, table=True):
    __tablename__ = "billing_run"
    __table_args__ = (UniqueConstraint("estate_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    period: str = Field(max_length=7)
    actor: str = Field(max_length=120)
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    charges_issued: int = Field(default=0)
    credit_applied_fen: int = Field(default=0)
