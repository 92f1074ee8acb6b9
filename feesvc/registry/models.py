"""Registry tables. Decimal columns are exact text; money is integer fen."""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, ColumnElement, Index, UniqueConstraint, func, literal
from sqlmodel import Field, SQLModel

from feesvc.db import DecimalText, UTCDateTime, str_enum, utcnow
from feesvc.rules.late_fees import LateFeeCap as LateFeeCap  # the estate form's cap; re-exported
from feesvc.rules.proration import SaleProration as SaleProration  # the estate form's setting; re-exported


class UnitUse(enum.StrEnum):
    residential = "residential"
    commercial = "commercial"
    parking = "parking"


class AllocationOrder(enum.StrEnum):
    """Within one debt: does a payment clear the principal or its late fee first (DOMAIN ledger rule 5)."""

    principal_first = "principal_first"
    late_fee_first = "late_fee_first"


class Channel(enum.StrEnum):
    paper = "paper"
    sms = "sms"
    wechat = "wechat"
    email = "email"


class Estate(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    company_name: str = Field(max_length=200)
    address: str = Field(default="", max_length=400)
    service_phone: str = Field(default="", max_length=40)
    locale: str = Field(default="zh_CN", max_length=8)
    # Billing: a cycle of 1, 3, 6 or 12 months starting in January; charges fall due on due_day
    # of the cycle's first month.
    cycle_months: int = Field(default=1)
    due_day: int = Field(default=1)
    grace_days: int = Field(default=0)
    # Late-fee policy (the contract's 违约金); fee standards may override the daily rate.
    late_fee_daily_rate: Decimal = Field(default=Decimal("0.0003"), sa_type=DecimalText)
    late_fee_cap: LateFeeCap = Field(default=LateFeeCap.principal, sa_type=str_enum(LateFeeCap))
    late_fee_cap_fen: int | None = Field(default=None)
    late_fee_starts_on: date | None = Field(default=None)
    prepay_cap_months: int = Field(default=12)
    # The service contract's last day (None: no end); a prepayment never runs past it (杭州 §55).
    service_contract_ends_on: date | None = Field(default=None)
    # Vacancy rule (local regulation): off unless the estate's city provides one.
    vacancy_rule_enabled: bool = Field(default=False)
    vacancy_payable_ratio: Decimal = Field(default=Decimal("1"), sa_type=DecimalText)
    vacancy_min_months: int = Field(default=6)
    # A final demand gives the owner at least this many days to pay (民法典 944(2): a reasonable period).
    final_demand_days: int = Field(default=15)
    # When a plan breaks, do late fees it waived come back? (A local or contractual choice.)
    plan_break_restores_waived: bool = Field(default=True)
    allocation_order: AllocationOrder = Field(
        default=AllocationOrder.principal_first, sa_type=str_enum(AllocationOrder)
    )
    # A period split by a handover (过户): each owner charged for their days, or the owner on the
    # period's first day charged the whole period (DOMAIN.md "Change of owner"; rules.proration).
    sale_proration: SaleProration = Field(default=SaleProration.by_days, sa_type=str_enum(SaleProration))
    # What letters tell owners (DOMAIN.md "What documents may say"); each is printed only when set.
    # How to pay: the service desk and its hours, the estate's bank account, and the online payment
    # page once the estate has online payment (empty: none, and no letter mentions paying online).
    desk_address: str = Field(default="", max_length=400)
    desk_hours: str = Field(default="", max_length=100)
    bank_account_name: str = Field(default="", max_length=200)
    bank_name: str = Field(default="", max_length=200)
    bank_account_no: str = Field(default="", max_length=40)
    online_payment_url: str = Field(default="", max_length=300)
    # How to dispute: whom to contact at the company, and the outside complaint channel.
    dispute_contact: str = Field(default="", max_length=200)
    complaint_channel: str = Field(default="", max_length=200)
    # The service contract: its late-fee clause ("《物业服务合同》第十二条"), and whether it has an
    # arbitration clause (only then may a final demand name arbitration).
    late_fee_clause: str = Field(default="", max_length=200)
    arbitration_clause: bool = Field(default=False)
    # Traditional letters write renminbi as 人民幣…元 or ¥ (formatting.MONEY_STYLES), never "CN¥".
    money_style: str = Field(default="renminbi", max_length=16)
    # Days a paper letter takes to reach an owner: a pre-due notice goes on paper only if it arrives
    # by the due date.
    paper_lead_days: int = Field(default=5)
    # Fapiao data (feesvc.fapiao): the 税收分类编码 and VAT rate of what the estate invoices, and the
    # category's short name printed as *物业管理服务*物业服务费. Defaults for a general taxpayer; the
    # company's tax adviser confirms them (README "Fapiao data").
    fapiao_tax_code: str = Field(default="3040801010000000000", max_length=19)
    fapiao_tax_rate: Decimal = Field(default=Decimal("0.06"), sa_type=DecimalText)
    fapiao_category: str = Field(default="物业管理服务", max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Building(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("estate_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    name: str = Field(max_length=100)


class Unit(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("building_id", "number"),
        # What ledger entries refer to: their unit and, with it, the unit's own estate.
        Index("uq_unit_id_estate_id", "id", "estate_id", unique=True),
        # The unit search: an estate's units in their listed order (building, number), and by
        # number prefix across the estate (text_pattern_ops: PostgreSQL uses it for LIKE 'x%'
        # whatever the database's collation; SQLite compares binary, so a range serves).
        Index("ix_unit_estate_building_number", "estate_id", "building_id", "number"),
        Index("ix_unit_estate_number", "estate_id", "number", postgresql_ops={"number": "text_pattern_ops"}),
        # The search's in_arrears filter: an estate's units whose earliest open debt is past due.
        Index("ix_unit_estate_earliest_open_due", "estate_id", "earliest_open_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    number: str = Field(max_length=40)
    floor_area_m2: Decimal = Field(sa_type=DecimalText)
    use: UnitUse = Field(sa_type=str_enum(UnitUse))
    # Raised by every transaction that locks the unit to write its ledger (ledger.service.lock_units),
    # so a payment allocated from a read without the lock can be written only if nothing changed.
    ledger_version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # The unit's position (feesvc.rules.position): kept by the ledger's writers in the transaction of
    # every entry they append (feesvc.ledger.position), checked by `feesvc ledger check-positions`.
    balance_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    earliest_open_due: date | None = Field(default=None)


class Owner(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=40)
    id_number: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=200)
    postal_address: str = Field(default="", max_length=400)
    preferred_channel: Channel = Field(default=Channel.paper, sa_type=str_enum(Channel))
    locale: str | None = Field(default=None, max_length=8)


def phone_last4(phone: ColumnElement[str]) -> ColumnElement[str]:
    """The last 4 characters of a phone without spaces and dashes, as SQL. Literals, not bound
    parameters: the unit search's condition must be the very expression ``ix_owner_phone_last4``
    indexes, or neither database uses the index."""

    def inline(value: str | int) -> ColumnElement[Any]:
        return literal(value, literal_execute=True)

    digits = func.replace(func.replace(phone, inline(" "), inline("")), inline("-"), inline(""))
    return func.substr(digits, func.length(digits) - inline(3))


# The unit search by the owner's phone (?owner_phone_last4=): a few owners of 100,000, found at once.
Index("ix_owner_phone_last4", phone_last4(Owner.__table__.c.phone))  # type: ignore[attr-defined]


class Ownership(SQLModel, table=True):
    """Who owned a unit from when to when; arrears stay with the owner of the period."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    owner_id: int = Field(foreign_key="owner.id", index=True)
    starts_on: date
    ends_on: date | None = Field(default=None)


class VacancyNotice(SQLModel, table=True):
    """An owner's written notice that a unit stands empty, the basis of the vacancy rule."""

    __tablename__ = "vacancy_notice"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    starts_on: date
    ends_on: date | None = Field(default=None)
    notified_on: date
    reference: str = Field(default="", max_length=200)
