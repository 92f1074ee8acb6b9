from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from feesvc.schemas import Body, Id, Line, MultilineText, Period
from feesvc.service_records.models import ActivityKind, ComplaintCategory, ComplaintChannel, StepKind

UtcTime = Annotated[datetime, msgspec.Meta(tz=True, description="a time with its zone, e.g. 2026-11-20T09:30:00+08:00")]
ComplaintText = Annotated[MultilineText, msgspec.Meta(min_length=1, max_length=2000)]
Person = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]
StepNote = Annotated[MultilineText, msgspec.Meta(max_length=1000)]


class ComplaintCreate(Body):
    """A complaint or service request. Owners file their own from the app or WeChat; staff record
    the ones taken by phone, at the desk or on a visit, and may give when it came in."""

    category: ComplaintCategory
    text: ComplaintText
    channel: ComplaintChannel | None = None
    opened_at: UtcTime | None = None
    responsible: Person | None = None


class RectificationAction(Body):
    """One dated step of a rectification plan: what we do, and when."""

    at: UtcTime
    action: Annotated[Line, msgspec.Meta(max_length=200)] = ""  # required in substance: checked by the service


class ComplaintStepCreate(Body):
    step: StepKind
    # A plan given with its dated steps sends the owner the rectification reply (整改答复函),
    # inviting them to inspect the result at ``inspect_at`` (default: the last step).
    actions: Annotated[list[RectificationAction], msgspec.Meta(max_length=20)] = []
    inspect_at: UtcTime | None = None
    at: UtcTime | None = None  # default: now
    satisfied: bool | None = None  # the owner's verdict; required for "inspected"
    note: StepNote = ""
    responsible: Person | None = None  # hand the complaint to someone else with this step


class ComplaintStepOut(msgspec.Struct):
    kind: StepKind
    at: datetime
    satisfied: bool | None
    note: str


ComplaintStatus = Literal["open", "resolved", "closed"]


class ComplaintOut(msgspec.Struct):
    id: int
    estate_id: int
    unit_id: int
    owner_id: int | None
    category: ComplaintCategory
    channel: ComplaintChannel
    text: str
    responsible: str
    # open until the owner inspects the fix and is satisfied (resolved) or staff close it (closed)
    status: ComplaintStatus
    # the rectification plan is past its 24-hour due time and still not given
    overdue: bool
    opened_at: datetime
    plan_due_at: datetime
    plan_given_at: datetime | None
    plan_on_time: bool | None  # None until a plan is given
    fixed_at: datetime | None
    inspected_at: datetime | None
    owner_satisfied: bool | None
    follow_up_at: datetime | None
    closed_at: datetime | None
    steps: list[ComplaintStepOut]


class ServiceActivityCreate(Body):
    period: Period
    kind: ActivityKind
    # A negative count corrects an earlier figure and needs a note saying so.
    count: Annotated[int, msgspec.Meta(ge=-100_000, le=100_000)]
    building_id: Id | None = None
    note: Annotated[MultilineText, msgspec.Meta(max_length=500)] = ""


class ServiceActivityOut(msgspec.Struct):
    id: int
    estate_id: int
    building_id: int | None
    period: str
    kind: ActivityKind
    count: int
    note: str


class KindTotal(msgspec.Struct):
    kind: ActivityKind
    count: int


class BuildingSummary(msgspec.Struct):
    building_id: int
    building: str
    totals: list[KindTotal]  # this building's own activity


class ServiceSummaryOut(msgspec.Struct):
    estate_id: int
    period: str
    totals: list[KindTotal]  # everything done in the estate that month
    estate_wide: list[KindTotal]  # activity not tied to one building
    buildings: list[BuildingSummary]
