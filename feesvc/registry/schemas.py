from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from feesvc.registry.models import AllocationOrder, Channel, LateFeeCap, UnitUse
from feesvc.schemas import AreaText, Body, Name, RateText

Locale = Annotated[str, msgspec.Meta(pattern=r"^(zh_CN|zh_TW|zh_HK|en)$")]
Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class EstateSettings(Body, omit_defaults=False):
    cycle_months: Annotated[int, msgspec.Meta(ge=1, le=12)] = 1
    due_day: Annotated[int, msgspec.Meta(ge=1, le=28)] = 1
    grace_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0
    late_fee_daily_rate: RateText = "0.0003"
    late_fee_cap: LateFeeCap = LateFeeCap.principal
    late_fee_cap_fen: Annotated[int, msgspec.Meta(ge=0)] | None = None
    late_fee_starts_on: date | None = None
    prepay_cap_months: Annotated[int, msgspec.Meta(ge=0, le=36)] = 12
    service_contract_ends_on: date | None = None  # null: the contract has no end date
    vacancy_rule_enabled: bool = False
    vacancy_payable_ratio: RateText = "1"
    vacancy_min_months: Annotated[int, msgspec.Meta(ge=0, le=60)] = 6
    allocation_order: AllocationOrder = AllocationOrder.principal_first
    plan_break_restores_waived: bool = True
    final_demand_days: Annotated[int, msgspec.Meta(ge=7, le=90)] = 15
    locale: Locale = "zh_CN"


class EstateCreate(Body):
    code: Code
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    company_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: str = ""
    service_phone: str = ""
    settings: EstateSettings = msgspec.field(default_factory=EstateSettings)


class EstateOut(msgspec.Struct):
    id: int
    code: str
    name: str
    company_name: str
    address: str
    service_phone: str
    settings: EstateSettings


class BuildingCreate(Body):
    name: Name


class BuildingOut(msgspec.Struct):
    id: int
    estate_id: int
    name: str


class UnitCreate(Body):
    building_id: int
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    floor_area_m2: AreaText
    use: UnitUse = UnitUse.residential


class UnitOut(msgspec.Struct):
    id: int
    estate_id: int
    building_id: int
    building: str
    number: str
    floor_area_m2: Decimal
    use: UnitUse


class OwnerCreate(Body):
    name: Name
    phone: Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 -]{5,20}$")] | None = None
    id_number: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{6,20}$")] | None = None
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$", max_length=200)] | None = None
    postal_address: Annotated[str, msgspec.Meta(max_length=400)] = ""
    preferred_channel: Channel = Channel.paper
    locale: Locale | None = None


class OwnerOut(msgspec.Struct):
    """An owner as every API response shows them: personal numbers masked."""

    id: int
    name: str
    phone: str
    id_number: str
    email: str
    preferred_channel: Channel
    locale: str | None


class OwnershipCreate(Body):
    owner_id: int
    starts_on: date


class OwnershipOut(msgspec.Struct):
    id: int
    unit_id: int
    owner_id: int
    starts_on: date
    ends_on: date | None


class VacancyNoticeCreate(Body):
    starts_on: date
    notified_on: date
    ends_on: date | None = None
    reference: Annotated[str, msgspec.Meta(max_length=200)] = ""


class VacancyNoticeOut(msgspec.Struct):
    id: int
    unit_id: int
    starts_on: date
    ends_on: date | None
    notified_on: date
    reference: str
