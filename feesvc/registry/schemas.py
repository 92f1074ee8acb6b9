from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from feesvc.payments.models import Method
from feesvc.registry.models import AllocationOrder, Channel, LateFeeCap, SaleProration, UnitUse
from feesvc.sales.schemas import SaleSettlementOut, SellerConsent
from feesvc.schemas import END, FEN_HINT, INT4_MAX, AreaText, Body, DailyRateText, Id, Line, Name, ShareText

Locale = Annotated[str, msgspec.Meta(pattern=r"^(zh_CN|zh_TW|zh_HK|en)" + END, examples=["zh_CN"])]
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+" + END
EMAIL_OR_NONE = r"^([^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+)?" + END
BankAccountNo = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([0-9][0-9 ]{6,38}[0-9])?" + END,
        examples=["3301 0400 1234 5678 901"],
        extra={"send": "the account number: 8 to 40 digits, spaces allowed between them; empty for none"},
    ),
]
PaymentUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(https://[^\s\x00-\x1f\x7f]{4,292})?" + END,
        max_length=300,
        extra={"send": "an https:// address of the estate's online payment page, or empty while it has none"},
    ),
]
TaxCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{19}" + END,
        examples=["3040801010000000000"],
        extra={"send": "the 19-digit 税收分类编码, e.g. 3040801010000000000 (物业管理服务)"},
    ),
]
TaxRate = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^0(\.[0-9]{1,4})?" + END,
        examples=["0.06"],
        extra={"send": 'the VAT rate as a decimal below 1, e.g. "0.06" (6 %) or "0.03"'},
    ),
]
MoneyStyle = Annotated[str, msgspec.Meta(pattern=r"^(renminbi|symbol)" + END, examples=["renminbi"])]
Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}" + END, examples=["DEMO-JXHY"])]


class EstateSettings(Body, omit_defaults=False):
    cycle_months: Annotated[int, msgspec.Meta(ge=1, le=12)] = 1
    due_day: Annotated[int, msgspec.Meta(ge=1, le=28)] = 1
    grace_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0
    late_fee_daily_rate: DailyRateText = "0.0003"
    late_fee_cap: LateFeeCap = LateFeeCap.principal
    late_fee_cap_fen: Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX, extra={"send": FEN_HINT})] | None = None
    late_fee_starts_on: date | None = None
    # A change of the late-fee terms above (rate, grace days, cap, start) is a new version of the
    # terms from this date (default: the business day of the change), never a rewrite of the past.
    late_fee_terms_from: date | None = None
    prepay_cap_months: Annotated[int, msgspec.Meta(ge=0, le=36)] = 12
    service_contract_ends_on: date | None = None  # null: the contract has no end date
    vacancy_rule_enabled: bool = False
    vacancy_payable_ratio: ShareText = "1"
    vacancy_min_months: Annotated[int, msgspec.Meta(ge=0, le=60)] = 6
    allocation_order: AllocationOrder = AllocationOrder.principal_first
    plan_break_restores_waived: bool = True
    final_demand_days: Annotated[int, msgspec.Meta(ge=7, le=90)] = 15
    locale: Locale = "zh_CN"
    # A billing period split by a handover: charged to each owner by days, or whole to the owner
    # on the period's first day.
    sale_proration: SaleProration = SaleProration.by_days
    # What letters tell owners; each is printed only when set (DOMAIN.md "What documents may say").
    desk_address: Annotated[Line, msgspec.Meta(max_length=400)] = ""  # empty: the estate's address
    desk_hours: Annotated[Line, msgspec.Meta(max_length=100, examples=["周一至周日 8:30-18:00"])] = ""
    bank_account_name: Annotated[Line, msgspec.Meta(max_length=200)] = ""
    bank_name: Annotated[Line, msgspec.Meta(max_length=200)] = ""
    bank_account_no: BankAccountNo = ""
    # The estate's online payment page; empty (the default) while it has none: no letter then
    # mentions paying online.
    online_payment_url: PaymentUrl = ""
    dispute_contact: Annotated[Line, msgspec.Meta(max_length=200, examples=["客服主管 李敏 0571-88886666"])] = ""
    complaint_channel: Annotated[Line, msgspec.Meta(max_length=200, examples=["西湖区住建局 0571-12345"])] = ""
    late_fee_clause: Annotated[Line, msgspec.Meta(max_length=200, examples=["《物业服务合同》第十二条"])] = ""
    arbitration_clause: bool = False  # the service contract has one: a final demand may name arbitration
    money_style: MoneyStyle = "renminbi"  # Traditional letters: 人民幣1,234.50元, or ¥1,234.50
    paper_lead_days: Annotated[int, msgspec.Meta(ge=0, le=30)] = 5
    # Fapiao data: to be confirmed with the company's tax adviser (README "Fapiao data").
    fapiao_tax_code: TaxCode = "3040801010000000000"
    fapiao_tax_rate: TaxRate = "0.06"
    fapiao_category: Annotated[Line, msgspec.Meta(min_length=1, max_length=40, examples=["物业管理服务"])] = (
        "物业管理服务"
    )


class EstateCreate(Body):
    code: Code
    name: Annotated[Line, msgspec.Meta(min_length=1, max_length=200)]
    company_name: Annotated[Line, msgspec.Meta(min_length=1, max_length=200)]
    address: Annotated[Line, msgspec.Meta(max_length=400)] = ""
    service_phone: Annotated[Line, msgspec.Meta(max_length=40)] = ""
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
    building_id: Id
    number: Annotated[Line, msgspec.Meta(min_length=1, max_length=40)]
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


Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 -]{5,20}" + END, examples=["13800001234"])]
Email = Annotated[str, msgspec.Meta(pattern=EMAIL_PATTERN, max_length=200, examples=["owner@example.com"])]
PostalAddress = Annotated[Line, msgspec.Meta(max_length=400)]


class OwnerCreate(Body):
    name: Name
    phone: Phone | None = None
    id_number: (
        Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{6,20}" + END, examples=["110101198001010000"])] | None
    ) = None
    email: Email | None = None
    postal_address: PostalAddress = ""
    preferred_channel: Channel = Channel.paper
    locale: Locale | None = None


class OwnerContactUpdate(Body):
    """An owner's contact details, apart from the unit: where letters reach them (a seller no longer
    lives there). A field left out stays as it is; an empty phone, e-mail or address clears it."""

    phone: Annotated[str, msgspec.Meta(pattern=r"^(\+?[0-9 -]{5,20})?" + END, examples=["13800001234"])] | None = None
    email: (
        Annotated[str, msgspec.Meta(pattern=EMAIL_OR_NONE, max_length=200, examples=["owner@example.com"])] | None
    ) = None
    postal_address: PostalAddress | None = None
    preferred_channel: Channel | None = None
    locale: Locale | None = None


class OwnerOut(msgspec.Struct):
    """An owner as every API response shows them: masked as ``registry.masking`` says for the caller."""

    id: int
    name: str
    phone: str
    id_number: str
    email: str
    preferred_channel: Channel
    locale: str | None


class OwnerContactOut(OwnerOut):
    """An owner after a contact update: masked like ``OwnerOut``; the postal address itself appears in
    no response (registry.masking), only whether one is on file."""

    has_postal_address: bool


class OwnershipCreate(Body):
    owner_id: Id
    starts_on: date  # the handover date (交房/过户日期): the new owner owes from this day
    # A sale: the seller's written consent to move their prepaid periods and credit to the buyer's
    # account; without it they are refunded to the seller, by ``refund_method`` (feesvc.sales).
    seller_consent: SellerConsent | None = None
    refund_method: Method = Method.bank_transfer


class OwnershipOut(msgspec.Struct):
    id: int
    unit_id: int
    owner_id: int
    starts_on: date
    ends_on: date | None
    # What recording a sale settled (None: the unit's first owner, or a listing).
    settlement: SaleSettlementOut | None = None


class VacancyNoticeCreate(Body):
    starts_on: date
    notified_on: date
    ends_on: date | None = None
    reference: Annotated[Line, msgspec.Meta(max_length=200)] = ""


class VacancyNoticeOut(msgspec.Struct):
    id: int
    unit_id: int
    starts_on: date
    ends_on: date | None
    notified_on: date
    reference: str


class UnitOwnerBrief(msgspec.Struct):
    """A unit's current owner as the unit search shows them: masked for the caller (registry.masking)."""

    id: int
    name: str
    phone: str


class UnitCaseBrief(msgspec.Struct):
    """The unit's arrears case that is not resolved, and its effective cause (None: not classified)."""

    id: int
    status: str
    cause: str | None


class UnitFound(msgspec.Struct):
    id: int
    building_id: int
    building: str
    number: str
    use: UnitUse
    owner: UnitOwnerBrief | None  # None: no owner on record today
    balance_fen: int  # everything posted up to today: positive is owed, negative is held for the owner
    overdue_fen: int  # charges and late fees past their due date and still open
    arrears_case: UnitCaseBrief | None


class UnitSearchPage(msgspec.Struct):
    """One page of units in a stable order (building, then unit number); ``total`` counts every page."""

    items: list[UnitFound]
    total: int
    page: int
    page_size: int
    as_of: date
