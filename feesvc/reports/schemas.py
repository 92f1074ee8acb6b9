"""Wire types of the management reports. Money is integer fen; rates are exact decimal strings."""

from __future__ import annotations

from datetime import date

import msgspec


class AgeBucketOut(msgspec.Struct):
    label: str  # "0-30", "31-90", "91-180", "181-365", ">365" (days past the due date)
    overdue_fen: int
    units: int  # units with something overdue in this bucket (a unit may sit in several)


class OwnersBucketOut(msgspec.Struct):
    label: str
    overdue_fen: int
    accounts: int  # owners' accounts (unit, owner) with something overdue in this bucket


class OwnersPart(msgspec.Struct):
    """What one kind of owner owes: the units' current owners, or former owners (sellers) apart."""

    overdue_fen: int
    accounts: int  # owners' accounts (unit, owner) with something overdue
    buckets: list[OwnersBucketOut]


class AgingRow(msgspec.Struct):
    building_id: int | None  # None on the estate's row
    name: str
    units_total: int
    units_overdue: int
    overdue_fen: int
    buckets: list[AgeBucketOut]
    # overdue_fen split by owner: current_owners + former_owners = overdue_fen, bucket by bucket.
    current_owners: OwnersPart
    former_owners: OwnersPart  # owners who no longer own the unit on as_of (a sale): shown apart


class AgingReport(msgspec.Struct):
    estate_id: int
    estate_name: str
    as_of: date
    estate: AgingRow
    buildings: list[AgingRow]


class OldArrears(msgspec.Struct):
    """清欠: charges of earlier periods that were overdue and open when the period began."""

    open_at_start_fen: int
    units_at_start: int
    collected_fen: int  # collected on them from the period's first day to its last (or as_of)
    relieved_fen: int  # prepay discounts and waivers on them in that window (not collected)
    corrected_fen: int  # reversed or adjusted charges in that window (not collected)
    open_at_end_fen: int
    units_cleared: int  # of units_at_start, those with nothing of it left open at the window's end
    rate: str | None  # collected ÷ open at start, 4 decimals
    # The part owed by former owners (owners who no longer own the unit on as_of), shown apart;
    # each is included in the figure above it.
    former_owners_open_at_start_fen: int
    former_owners_accounts_at_start: int  # (unit, former owner) accounts owing any of it
    former_owners_collected_fen: int
    former_owners_open_at_end_fen: int


class CollectionRate(msgspec.Struct):
    estate_id: int
    period: str
    period_label: str
    as_of: date
    # Charges of the period: billed = charged − corrections = collected + discount + waived + outstanding.
    charged_fen: int
    corrections_fen: int
    billed_fen: int
    collected_fen: int
    discount_fen: int
    waived_fen: int
    outstanding_fen: int
    outstanding_former_owners_fen: int  # of outstanding_fen, owed by owners who no longer own the unit
    rate_by_amount: str | None  # collected ÷ billed, 4 decimals; None when nothing was billed
    units_billed: int
    units_settled: int  # units whose charges of the period are fully settled
    rate_by_households: str | None
    old_arrears: OldArrears


class MonthlyPoint(msgspec.Struct):
    period: str
    period_label: str
    as_of: date
    billed_fen: int
    collected_fen: int
    rate_by_amount: str | None
    units_billed: int
    units_settled: int
    rate_by_households: str | None
    old_arrears_open_at_start_fen: int
    old_arrears_collected_fen: int


class MonthlySeries(msgspec.Struct):
    estate_id: int
    period_from: str
    period_to: str
    # None: each month is measured at its own last day (capped at today), the 当期收缴率.
    as_of: date | None
    points: list[MonthlyPoint]


class CauseRow(msgspec.Struct):
    cause: str  # hardship, service_dissatisfaction, misunderstanding, unknown, unclassified
    label: str
    overdue_fen: int
    units: int


class ArrearsByCause(msgspec.Struct):
    estate_id: int
    as_of: date
    overdue_fen: int  # = the causes' overdue + former_owners_fen
    units: int  # a unit whose current and former owners both owe counts on both lines
    causes: list[CauseRow]  # what current owners owe, by the cause of the unit's open case
    former_owners_fen: int  # what former owners (sellers) owe, apart from the causes
    former_owners_units: int
