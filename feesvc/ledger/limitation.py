"""Events that interrupt the limitation period (诉讼时效, 民法典 188/195) of a unit's billing periods.

An event is one owner's: the owner of the periods it concerns (DOMAIN.md, "Change of owner"). A
demand delivered to the buyer interrupts nothing for the seller, a plan the buyer signs
acknowledges the buyer's debt only. Read them per owner with :func:`owner_limitation_events`.
"""

import enum
from datetime import date, datetime

from sqlalchemy import Column, Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

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
    # Whose periods: the owner the letter reached, who signed the plan, whose account paid. None
    # only for an event migrated from before owners were recorded on a unit with no owner on record.
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    period: str = Field(max_length=7)
    kind: InterruptionKind = Field(sa_type=str_enum(InterruptionKind))
    occurred_on: date
    source: str = Field(max_length=200)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


async def owner_limitation_events(
    session: AsyncSession, unit_id: int, owner_id: int, as_of: date | None = None
) -> list[LimitationEvent]:
    """The events that interrupted the limitation of ``owner_id``'s periods at the unit, up to
    ``as_of`` (all without it), in the order they occurred. Another owner's events of the same
    unit (the buyer's, for a seller), even of the same period, are not among them."""
    query = select(LimitationEvent).where(LimitationEvent.unit_id == unit_id, LimitationEvent.owner_id == owner_id)
    if as_of is not None:
        query = query.where(col(LimitationEvent.occurred_on) <= as_of)
    query = query.order_by(col(LimitationEvent.occurred_on), col(LimitationEvent.id))
    return list((await session.execute(query)).scalars())
