from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from feesvc.payoff.schemas import OtherOwner, Payoff


class FeeBasis(msgspec.Struct):
    """The fee standard a charge was computed from, and the decision behind it (民法典 943)."""

    fee_standard_id: int
    item_name: str
    basis: str
    rate: Decimal
    effective_from: date
    posted_on: date
    decision_kind: str
    decision_ref: str


class Settled(msgspec.Struct):
    entry_id: int
    kind: str
    period: str | None
    item: str | None
    amount_fen: int


class StatementLine(msgspec.Struct):
    date: dt.date
    kind: str
    description: str
    amount_fen: int
    amount_text: str
    balance_after_fen: int
    entry_ids: list[int]
    period: str | None = None
    due_date: dt.date | None = None
    calculation: str | None = None
    fee_basis: FeeBasis | None = None
    settles: list[Settled] = msgspec.field(default_factory=list)
    payment_id: int | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None


class AgeBucket(msgspec.Struct):
    bucket: str
    amount_fen: int


class ServiceSummaryItem(msgspec.Struct):
    period: str
    kind: str
    label: str
    count: int


class StatementUnit(msgspec.Struct):
    id: int
    estate: str
    company: str
    building: str
    number: str
    floor_area_m2: Decimal
    use: str


class Statement(msgspec.Struct):
    unit: StatementUnit
    owner_name: str | None
    locale: str
    as_of: date
    period_from: date
    period_to: date
    opening_balance_fen: int
    lines: list[StatementLine]
    closing_balance_fen: int
    owed_fen: int
    overdue_fen: int
    prepaid_credit_fen: int
    overdue_by_age: list[AgeBucket]
    service_summary: list[ServiceSummaryItem]
    totals_text: dict[str, str]
    # What pays the account's owner (``owner_id``) off on ``as_of``, late fee accrued to that day
    # included; None for a day after today.
    payoff: Payoff | None = None
    owner_id: int | None = None  # whose account this is (``owner_name``)
    # Staff only: the unit's other owners with something owed or held on their own account, apart
    # (a seller's arrears on the buyer's statement); never in the totals above, never for an owner.
    other_owners: list[OtherOwner] = msgspec.field(default_factory=list)
