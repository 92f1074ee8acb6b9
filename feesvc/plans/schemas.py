"""Wire types of installment plans (分期)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

from feesvc.attention import UnitReport
from feesvc.plans.models import LateFeeTreatment, PlanState
from feesvc.rules.installments import Frequency
from feesvc.schemas import Body, Count, Id, LongId, MultilineText, Reason


class PlanCreate(Body):
    unit_id: Id
    # How many installments; the rules (2 … 60) decide, so the refusal names this field.
    installments: Count
    first_due: date
    late_fee_treatment: LateFeeTreatment
    # Omitted: every overdue charge of the owner's account that no other plan covers.
    charge_ids: Annotated[list[LongId], msgspec.Meta(max_length=600)] | None = None
    frequency: Frequency = Frequency.monthly
    note: Annotated[MultilineText, msgspec.Meta(max_length=500)] = ""
    # Whose account: a plan takes only that owner's charges (a seller's plan their periods before
    # the sale). Default: the unit's current owner.
    owner_id: Id | None = None


class PlanAgree(Body):
    # The day the owner signed (default today).
    agreed_on: date | None = None


class PlanCancel(Body):
    reason: Reason


class PlanReviewCreate(Body):
    estate_id: Id
    as_of: date | None = None


class InstallmentStatus(enum.StrEnum):
    paid = "paid"
    due = "due"
    late = "late"


class InstallmentOut(msgspec.Struct):
    number: int
    due_date: date
    amount_fen: int
    paid_fen: int
    status: InstallmentStatus


class CoveredChargeOut(msgspec.Struct):
    entry_id: int
    period: str
    item: str | None
    due_date: date | None
    principal_fen: int  # open principal when the plan was proposed
    open_fen: int  # still unpaid as of the view date


class PlanOut(msgspec.Struct):
    id: int
    estate_id: int
    unit_id: int
    owner_id: int | None
    state: PlanState
    installments: int
    frequency: Frequency
    first_due: date
    late_fee_treatment: LateFeeTreatment
    total_fen: int
    paid_fen: int
    as_of: date
    note: str
    created_by: str
    created_at: datetime
    agreed_on: date | None
    ended_on: date | None
    end_reason: str | None
    periods: list[str]
    charges: list[CoveredChargeOut]
    schedule: list[InstallmentOut]


class PlanReview(msgspec.Struct):
    estate_id: int
    as_of: date
    plans_reviewed: int
    completed: list[int]
    broken: list[int]
    late_fees_waived_fen: int
    late_fees_restored_fen: int
    # Plans a review had broken that the ledger now shows were kept (a backdated installment).
    reinstated: list[int] = msgspec.field(default_factory=list)
    # Plans the review could not handle (each rolled back, the others reviewed): somebody must look.
    needs_attention: list[UnitReport] = msgspec.field(default_factory=list)
