"""Events that interrupt the limitation period (诉讼时效, 民法典 188/195) of a unit's billing periods."""

import enum
from datetime import date, datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class InterruptionKind(enum.StrEnum):
    acknowledgement = "acknowledgement"  # a signed plan or written acknowledgement (诉讼时效规定 §14)
    demand_delivered = "demand_delivered"  # a delivered demand letter
    part_payment = "part_payment"
    legal_action = "legal_action"  # suit, arbitration or payment-order application


class LimitationEvent(SQLModel, table=True):
    __tablename__ = "limitation_event"
    __table_args__ = (Index("ix_limitation_event_unit_period", "unit_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    period: str = Field(max_length=7)
    kind: InterruptionKind = Field(sa_type=str_enum(InterruptionKind))
    occurred_on: date
    source: str = Field(max_length=200)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
