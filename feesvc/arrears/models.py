"""Arrears cases: contact notes, classifications, manager overrides and the next actions.

Notes, classifications and overrides are append-only (triggers refuse UPDATE and DELETE), so the
history of what staff heard, what the classifier said and what a manager decided is kept. Cases
and actions change state; every change is audit-logged.
"""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Float
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class CaseStatus(enum.StrEnum):
    open = "open"
    paused = "paused"  # a manager's hold: no reminders while it lasts
    resolved = "resolved"
    legal_review = "legal_review"


class ContactKind(enum.StrEnum):
    call = "call"
    visit = "visit"
    sms = "sms"
    wechat = "wechat"
    desk = "desk"
    letter = "letter"


class Claim(enum.StrEnum):
    """What the owner put forward in this contact, when staff mark it."""

    hardship = "hardship"  # a hardship declaration (lost job, illness …)
    dispute = "dispute"  # disputes the charge or the service
    vacancy = "vacancy"  # says the home stands empty


class Cause(enum.StrEnum):
    """The classifier's categories, as stored (its enum is the classifier's to change)."""

    hardship = "hardship"
    service_dissatisfaction = "service_dissatisfaction"
    misunderstanding = "misunderstanding"
    unknown = "unknown"


class ActionState(enum.StrEnum):
    open = "open"
    done = "done"
    superseded = "superseded"  # a later classification or override changed the plan


class ArrearsCase(SQLModel, table=True):
    __tablename__ = "arrears_case"

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # The owner when the case was opened: notes and complaints of a previous owner do not count.
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    status: CaseStatus = Field(sa_type=str_enum(CaseStatus))
    status_reason: str = Field(default="", max_length=500)
    opened_by: str = Field(max_length=120)
    opened_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class ArrearsNote(SQLModel, table=True):
    """A dated contact with the owner; ``text`` may quote the owner word for word."""

    __tablename__ = "arrears_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="arrears_case.id", index=True)
    kind: ContactKind = Field(sa_type=str_enum(ContactKind))
    noted_on: date
    text: str = Field(max_length=2000)
    claim: Claim | None = Field(default=None, sa_type=str_enum(Claim))
    author: str = Field(max_length=100)
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ArrearsClassification(SQLModel, table=True):
    """One run of the classifier on the case as it stood on ``as_of``."""

    __tablename__ = "arrears_classification"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="arrears_case.id", index=True)
    category: Cause = Field(sa_type=str_enum(Cause))
    secondary: Cause | None = Field(default=None, sa_type=str_enum(Cause))
    confidence: float = Field(sa_type=Float)
    as_of: date
    signals: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    approach: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    scores: dict[str, float] = Field(sa_column=Column(JSON, nullable=False))
    # What the classifier was given (amounts, periods, which notes and complaints), for review.
    facts: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    classifier_version: str = Field(max_length=40)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ArrearsOverride(SQLModel, table=True):
    """A manager's decision on the cause; the classifications it overrode stay as they were."""

    __tablename__ = "arrears_override"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="arrears_case.id", index=True)
    category: Cause = Field(sa_type=str_enum(Cause))
    secondary: Cause | None = Field(default=None, sa_type=str_enum(Cause))
    belief: str | None = Field(default=None, max_length=40)
    reason: str = Field(max_length=500)
    classification_id: int | None = Field(default=None, foreign_key="arrears_classification.id")
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ArrearsAction(SQLModel, table=True):
    """A next step of the suggested approach, with its due date."""

    __tablename__ = "arrears_action"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="arrears_case.id", index=True)
    classification_id: int | None = Field(default=None, foreign_key="arrears_classification.id")
    override_id: int | None = Field(default=None, foreign_key="arrears_override.id")
    # "category|secondary|belief" of the decision behind it: an unchanged decision keeps its actions.
    basis: str = Field(max_length=100)
    seq: int
    code: str = Field(max_length=40)
    text: str = Field(max_length=500)
    due_on: date | None = Field(default=None)  # None: a standing instruction, not a task
    pauses_reminders: bool = Field(default=False)
    state: ActionState = Field(sa_type=str_enum(ActionState))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    done_by: str | None = Field(default=None, max_length=120)
    done_note: str = Field(default="", max_length=500)
