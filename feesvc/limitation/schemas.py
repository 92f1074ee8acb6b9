from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile

from feesvc.limitation.models import AcknowledgementKind, FilingKind, FilingOutcome
from feesvc.schemas import Body, Fen, Id, Line, MultilineText, Period

Periods = Annotated[list[Period], msgspec.Meta(min_length=1, max_length=600, examples=[["2023-01", "2023-02"]])]
Court = Annotated[Line, msgspec.Meta(min_length=2, max_length=80)]
CaseNo = Annotated[Line, msgspec.Meta(min_length=2, max_length=60)]
Note = Annotated[MultilineText, msgspec.Meta(max_length=500)]
PeriodList = Annotated[
    Line,
    msgspec.Meta(
        min_length=7, max_length=4800, extra={"send": "months as YYYY-MM separated by commas, e.g. 2023-01,2023-02"}
    ),
]


class AcknowledgementForm(msgspec.Struct):
    """A signed written acknowledgement of the debt of some periods, with the signed copy (PDF, JPEG
    or PNG). ``periods`` is a comma-separated list, e.g. "2023-01,2023-02"."""

    unit_id: Id
    owner_id: Id
    signed_on: date
    periods: PeriodList
    proof: UploadFile
    note: Note = ""


class SignedCopyForm(msgspec.Struct):
    """The signed copy of a plan agreement (PDF, JPEG or PNG); a proposed plan is agreed on ``signed_on``."""

    signed_on: date
    proof: UploadFile


class AcknowledgementOut(msgspec.Struct):
    id: int
    unit_id: int
    owner_id: int
    kind: AcknowledgementKind
    signed_on: date
    periods: list[str]
    plan_id: int | None
    proof_sha256: str
    proof_size: int
    proof_media_type: str
    recorded_by: str


class FilingCreate(Body):
    unit_id: Id
    owner_id: Id
    kind: FilingKind
    filed_on: date
    court: Court
    case_no: CaseNo
    periods: Periods
    claimed_fen: Fen = 0


class FilingOutcomeCreate(Body):
    outcome: FilingOutcome
    outcome_on: date
    note: Note = ""


class FilingOut(msgspec.Struct):
    id: int
    unit_id: int
    owner_id: int
    kind: FilingKind
    filed_on: date
    court: str
    case_no: str
    periods: list[str]
    claimed_fen: int
    outcome: FilingOutcome | None
    outcome_on: date | None
    outcome_note: str
    recorded_by: str


class InterruptionOut(msgspec.Struct):
    kind: str  # demand_delivered | acknowledgement | part_payment | legal_action
    on: date
    source: str  # the record it comes from: "letter …", "acknowledgement #3", "legal filing #2", "payment #9"
    proof: str  # what proves it: the delivery (channel, tracking no, file hash), the signed copy's hash …


class WatchedPeriodOut(msgspec.Struct):
    period: str
    due_date: date
    principal_fen: int
    late_fee_fen: int
    clock_start: date
    expires_on: date  # the last day a claim is in time
    days_left: int
    last_interruption: InterruptionOut | None
    # An interrupting letter naming the period issued in the last 30 days, not yet proven delivered.
    notice_in_flight: str | None


class AccountWatchOut(msgspec.Struct):
    unit_id: int
    unit_label: str
    owner_id: int
    owner_name: str
    current_owner: bool
    periods: list[WatchedPeriodOut]
    expired_periods: list[str]


class LimitationWatchOut(msgspec.Struct):
    estate_id: int
    as_of: date
    within_days: int
    accounts: list[AccountWatchOut]
