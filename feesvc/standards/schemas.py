from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from feesvc.registry.models import UnitUse
from feesvc.schemas import END, Body, DailyRateText, Line, RateText
from feesvc.standards.models import Basis, DecisionKind


class FeeStandardCreate(Body):
    unit_use: UnitUse
    item: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,39}" + END, examples=["service_fee"])]
    item_name: Annotated[Line, msgspec.Meta(min_length=1, max_length=100, examples=["物业服务费"])]
    basis: Basis
    rate: RateText
    effective_from: date
    posted_on: date
    decision_kind: DecisionKind
    decision_ref: Annotated[Line, msgspec.Meta(min_length=2, max_length=400)]
    ends_on: date | None = None
    late_fee_daily_rate: DailyRateText | None = None


class FeeStandardOut(msgspec.Struct):
    id: int
    estate_id: int
    unit_use: UnitUse
    item: str
    item_name: str
    basis: Basis
    rate: Decimal
    effective_from: date
    ends_on: date | None
    posted_on: date
    decision_kind: DecisionKind
    decision_ref: str
    late_fee_daily_rate: Decimal | None
