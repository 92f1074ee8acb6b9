from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from feesvc.arrears.classifier import Belief
from feesvc.arrears.models import ActionState, CaseStatus, Cause, Claim, ContactKind
from feesvc.schemas import Body, Line, MultilineText, Reason

NoteText = Annotated[
    MultilineText, msgspec.Meta(min_length=1, max_length=2000, description="may quote the owner verbatim")
]
Person = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]


class NoteCreate(Body):
    kind: ContactKind
    text: NoteText
    noted_on: date | None = None  # default: today
    claim: Claim | None = None  # hardship declaration, dispute or vacancy claim made in this contact
    author: Person | None = None  # who spoke to the owner, if not the one recording it


class NoteOut(msgspec.Struct):
    id: int
    case_id: int
    kind: ContactKind
    noted_on: date
    text: str
    claim: Claim | None
    author: str


class StatusChange(Body):
    status: CaseStatus
    reason: Reason


class OverrideCreate(Body):
    category: Cause
    reason: Reason
    secondary: Cause | None = None
    # For a misunderstanding: which belief the explanation letter answers (default: the classifier's).
    belief: Belief | None = None


class ActionDone(Body):
    note: Annotated[MultilineText, msgspec.Meta(max_length=500)] = ""


class ActionOut(msgspec.Struct):
    id: int
    seq: int
    code: str
    text: str
    due_on: date | None
    pauses_reminders: bool
    state: ActionState
    source: str  # "classification" or "override"
    done_at: datetime | None
    done_note: str


class EffectiveCause(msgspec.Struct):
    category: Cause
    secondary: Cause | None
    source: str  # "override" or "classification"
    source_id: int


class ClassificationOut(msgspec.Struct):
    id: int
    category: Cause
    secondary: Cause | None
    confidence: float
    as_of: date
    signals: list[dict[str, Any]]
    approach: dict[str, Any]
    scores: dict[str, float]
    facts: dict[str, Any]
    classifier_version: str
    created_by: str
    created_at: datetime


class OverrideOut(msgspec.Struct):
    id: int
    category: Cause
    secondary: Cause | None
    belief: str | None
    reason: str
    classification_id: int | None
    created_by: str
    created_at: datetime


class CauseHistoryOut(msgspec.Struct):
    case_id: int
    effective: EffectiveCause | None  # the latest override, else the latest classification
    latest: ClassificationOut | None
    history: list[ClassificationOut]  # newest first
    overrides: list[OverrideOut]  # newest first
    actions: list[ActionOut]  # the current plan


class CaseOut(msgspec.Struct):
    id: int
    estate_id: int
    unit_id: int
    owner_id: int | None
    status: CaseStatus
    status_reason: str
    opened_at: datetime
    overdue_fen: int
    months_overdue: int
    effective: EffectiveCause | None
    reminder_pause_reason: str | None
    notes: list[NoteOut]
    actions: list[ActionOut]
