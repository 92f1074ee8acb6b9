"""Complaints, the steps taken on them, and service activity counts.

A complaint row carries the latest time of each step so lists and reports need no joins; the
``complaint_step`` log keeps every step (an owner may reject a fix and inspect a second one) and
is append-only.
"""

import enum
from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class ComplaintCategory(enum.StrEnum):
    cleaning = "cleaning"
    security = "security"
    elevator = "elevator"
    repair = "repair"
    leak = "leak"
    parking = "parking"
    noise = "noise"
    greenery = "greenery"
    other = "other"


class ComplaintChannel(enum.StrEnum):
    phone = "phone"
    desk = "desk"
    app = "app"
    wechat = "wechat"
    visit = "visit"


class StepKind(enum.StrEnum):
    plan_given = "plan_given"  # the owner has the rectification plan (due within 24 h)
    fixed = "fixed"
    inspected = "inspected"  # the owner inspected the fix and gave a verdict
    follow_up = "follow_up"
    closed = "closed"  # closed by staff without (or despite) the owner's verdict


class ActivityKind(enum.StrEnum):
    cleaning_rounds = "cleaning_rounds"
    repairs_done = "repairs_done"
    security_patrols = "security_patrols"
    greenery = "greenery"
    other = "other"


# How a person reads each kind, in statements and letters.
ACTIVITY_LABELS: dict[str, dict[ActivityKind, str]] = {
    "zh": {
        ActivityKind.cleaning_rounds: "保洁",
        ActivityKind.repairs_done: "维修",
        ActivityKind.security_patrols: "安保巡逻",
        ActivityKind.greenery: "绿化养护",
        ActivityKind.other: "其他服务",
    },
    "en": {
        ActivityKind.cleaning_rounds: "cleaning rounds",
        ActivityKind.repairs_done: "repairs",
        ActivityKind.security_patrols: "security patrols",
        ActivityKind.greenery: "greenery care",
        ActivityKind.other: "other services",
    },
}


class Complaint(SQLModel, table=True):
    __table_args__ = (Index("ix_complaint_unit_opened", "unit_id", "opened_at"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    # The owner on the day it was filed: a later owner neither sees it nor inherits it.
    owner_id: int | None = Field(default=None, foreign_key="owner.id", index=True)
    category: ComplaintCategory = Field(sa_type=str_enum(ComplaintCategory))
    channel: ComplaintChannel = Field(sa_type=str_enum(ComplaintChannel))
    text: str = Field(max_length=2000)
    responsible: str = Field(default="", max_length=100)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    plan_due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    plan_given_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    fixed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    inspected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    owner_satisfied: bool | None = Field(default=None)  # the verdict of the latest inspection
    follow_up_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    filed_by: str = Field(max_length=120)
    idempotency_key: str | None = Field(default=None, max_length=100, unique=True)  # a retry's key, if sent
    request_fingerprint: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ComplaintStep(SQLModel, table=True):
    __tablename__ = "complaint_step"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    kind: StepKind = Field(sa_type=str_enum(StepKind))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    satisfied: bool | None = Field(default=None)
    note: str = Field(default="", max_length=1000)
    actor: str = Field(max_length=120)
    idempotency_key: str | None = Field(default=None, max_length=100, unique=True)  # a retry's key, if sent
    request_fingerprint: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ServiceActivity(SQLModel, table=True):
    """What the service did in a month (cleaning rounds, repairs …), for statements and letters.

    Rows add up; a wrong figure is corrected by a negative row with a note, not by an update.
    """

    __tablename__ = "service_activity"
    __table_args__ = (Index("ix_service_activity_estate_period", "estate_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id")
    building_id: int | None = Field(default=None, foreign_key="building.id")  # None: the whole estate
    period: str = Field(max_length=7)
    kind: ActivityKind = Field(sa_type=str_enum(ActivityKind))
    count: int
    note: str = Field(default="", max_length=500)
    actor: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
