"""Management reports over the ledger: aging, collection rate (收缴率) and arrears by cause.

Every figure comes from ledger entries through the ledger's one rule: what is open on an entry is
its amount plus the amounts of the entries settling it. The work is done by aggregate queries in
the database (a few per report, whatever the number of units); Python only loops over buildings,
causes and months.

Aging
    Overdue = open charges and late fees whose debt fell due before ``as_of``, exactly as the
    unit ledger's ``overdue_fen`` counts it (a late fee ages with the charge it accrued on), so the
    estate's total equals the sum of the unit ledgers. Buckets are ``statements.service.AGE_BUCKETS``.

Collection rate, by amount and by households (DOMAIN.md: collected ÷ billed)
    Only charges (物业费 and other billed items) count; late fees are not in the rate.

    * billed: the charges of the period posted by ``as_of``, less corrections of them (a reversed
      charge or an adjustment was never owed);
    * collected: money the owner paid that settled those charges by ``as_of``: payment splits and
      prepaid credit applied (prepaid credit is money received, counted when it is applied to the
      charge), less voided payments and reversed applications;
    * discounts (预缴优惠) and waivers are *not* collected money: they are reported apart, and so
      billed = collected + discount + waived + outstanding, to the fen;
    * rate by amount = collected ÷ billed. Rate by households = units whose charges of the period
      are fully settled (by any means, a discount included) ÷ units billed; a unit whose charges
      were wholly reversed is in neither.

Old arrears (清欠), reported apart
    Charges of earlier periods, due before the period's first day: what was open on them at the end
    of the day before (units: those owing any of it), what was collected on them from the first to
    the last day of the period's month (up to ``as_of``; net of payments voided in that window, so
    it can be negative), and how many of those units have nothing of it left open. Amounts are sums
    over all such charges (what is open on a charge is never negative), so the monthly series can
    add them up from a few grouped rows instead of one pass over the ledger per month.

Monthly series
    Each month at its own last day (today for the current month), the 当期收缴率, or all months at
    one ``as_of``. Four queries whatever the number of months (at most ``MAX_MONTHS``).

By owner (a sold unit, DOMAIN.md "Change of owner")
    Every debit carries the owner of its period. An owner who no longer owns the unit on the day
    a report is read (a seller) is a *former owner*: the aging shows what current owners and what
    former owners owe apart (``current_owners`` + ``former_owners`` = the row's total, bucket by
    bucket), counted in owners' accounts (unit, owner); the collection rate shows the former
    owners' part of the outstanding and of the old arrears. The same queries, one more column.

Arrears by cause
    The aging's overdue amount per unit grouped by ``arrears.service.effective_cause`` (the cause
    of the unit's open case as it stands now); units with no open case or no decision are
    "unclassified". Only units with an open case are looked up one by one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import anyio.to_thread
from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, Subquery, and_, case, func, or_
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.arrears.models import ArrearsCase
from feesvc.arrears.service import ACTIVE, effective_cause
from feesvc.documents.render import render_pdf
from feesvc.errors import DomainError
from feesvc.formatting import date_long, normalize_locale, period_label
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.registry.models import Building, Estate, Ownership, Unit
from feesvc.registry.service import ownership_covering
from feesvc.reports.chart import ChartPoint, collection_chart
from feesvc.reports.schemas import (
    AgeBucketOut,
    AgingReport,
    AgingRow,
    ArrearsByCause,
    CauseRow,
    CollectionRate,
    MonthlyPoint,
    MonthlySeries,
    OldArrears,
    OwnersBucketOut,
    OwnersPart,
)
from feesvc.schemas import period_start
from feesvc.statements.service import AGE_BUCKETS

MAX_MONTHS: Final = 60
COLLECTING_KINDS: Final = (EntryKind.payment, EntryKind.credit_applied)
UNCLASSIFIED: Final = "unclassified"
CAUSES: Final = ("hardship", "service_dissatisfaction", "misunderstanding", "unknown", UNCLASSIFIED)
CAUSE_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "hardship": "经济困难型",
        "service_dissatisfaction": "服务不满型",
        "misunderstanding": "认知偏差型",
        "unknown": "原因不明",
        UNCLASSIFIED: "未分类",
    },
    "zh_Hant": {
        "hardship": "經濟困難型",
        "service_dissatisfaction": "服務不滿型",
        "misunderstanding": "認知偏差型",
        "unknown": "原因不明",
        UNCLASSIFIED: "未分類",
    },
    "en": {
        "hardship": "Hardship",
        "service_dissatisfaction": "Service dissatisfaction",
        "misunderstanding": "Misunderstanding",
        "unknown": "Unknown",
        UNCLASSIFIED: "Unclassified",
    },
}


class ReportInputError(DomainError):
    """Parameters each well formed that together cannot be answered (``from`` after ``to``, a
    series too long): a rule, so 422 naming the parameter, as the OpenAPI description says."""

    status_code = 422
    title = "Invalid input"


def script(locale: str) -> str:
    loc = normalize_locale(locale)
    return "en" if loc == "en" else "zh_Hant" if loc in ("zh_TW", "zh_HK") else "zh_Hans"


def rate(numerator: int, denominator: int) -> str | None:
    """numerator ÷ denominator as a 4-decimal string, half-up ("0.8333"); None for nothing billed."""
    if denominator == 0:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def month_end(period: str) -> date:
    start = period_start(period)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def months_between(first: str, last: str) -> list[str]:
    start, end = period_start(first), period_start(last)
    months = []
    while start <= end:
        months.append(f"{start:%Y-%m}")
        start += relativedelta(months=1)
    return months


def _n(value: Any) -> int:
    return int(value or 0)


# ---------------------------------------------------------------------------------------------
# Overdue debits (aging, by cause)
# ---------------------------------------------------------------------------------------------


def former_owner(unit_id: Any, owner_id: Any, on: date | ColumnElement[date]) -> ColumnElement[bool]:
    """SQL: the owner no longer owns the unit on ``on`` (a seller). An entry without an owner
    (recorded before entries carried one) is the unit's, so never a former owner's. An index lookup
    per row it is evaluated on (``ownership.unit_id``): callers evaluate it per owner's account
    (unit, owner), after grouping, not per ledger entry."""
    ownership = Ownership.__table__  # type: ignore[attr-defined]
    holds = (
        sa_select(ownership.c.id)
        .where(ownership.c.unit_id == unit_id, ownership.c.owner_id == owner_id, ownership_covering(on))
        .exists()
    )
    return and_(owner_id.is_not(None), ~holds)


def _settled_sums(estate_id: int, as_of: date) -> Subquery:
    """Per entry of the estate: the sum of the entries settling it, up to ``as_of``."""
    s = aliased(LedgerEntry, name="s")
    return (
        select(col(s.settles_entry_id).label("target_id"), func.sum(col(s.amount_fen)).label("settled"))
        .where(col(s.estate_id) == estate_id, col(s.settles_entry_id).is_not(None), col(s.effective_date) <= as_of)
        .group_by(col(s.settles_entry_id))
        .subquery("settled")
    )


def overdue_debits(estate_id: int, as_of: date) -> Subquery:
    """One row per overdue open charge or late fee: unit, building, its owner, due date of its debt,
    open fen.

    The same rule as ``ledger.service.open_debits`` and the ledger's ``overdue_fen``: a late fee's
    debt is the charge it accrued on; the debt is due on its due date (else its posting date).
    """
    debit = aliased(LedgerEntry, name="debit")
    basis = aliased(LedgerEntry, name="basis")
    settled = _settled_sums(estate_id, as_of)
    # Looked up for late fees only (CASE evaluates it lazily): no join over the whole ledger.
    basis_due = (
        select(func.coalesce(col(basis.due_date), col(basis.effective_date)))
        .where(col(basis.id) == col(debit.basis_entry_id))
        .scalar_subquery()
    )
    due = case(
        (col(debit.kind) == EntryKind.late_fee, basis_due),
        else_=func.coalesce(col(debit.due_date), col(debit.effective_date)),
    )
    open_fen = col(debit.amount_fen) + func.coalesce(settled.c.settled, 0)
    return (
        sa_select(
            col(debit.unit_id).label("unit_id"),
            col(Unit.building_id).label("building_id"),
            col(debit.owner_id).label("owner_id"),
            due.label("due"),
            open_fen.label("open_fen"),
        )
        .join(Unit, col(Unit.id) == col(debit.unit_id))
        .outerjoin(settled, settled.c.target_id == col(debit.id))
        .where(
            col(debit.estate_id) == estate_id,
            col(debit.kind).in_(DEBIT_KINDS),
            col(debit.effective_date) <= as_of,
            due < as_of,
            open_fen != 0,
        )
        .subquery("overdue")
    )


def _in_bucket(due: Any, as_of: date, low: int, high: int | None) -> ColumnElement[bool]:
    """Whether a due date is ``low``–``high`` days before ``as_of`` (the rule of ``age_bucket``)."""
    latest = due <= as_of - timedelta(days=low)
    return latest if high is None else and_(latest, due >= as_of - timedelta(days=high))


async def aging(session: AsyncSession, estate: Estate, as_of: date) -> AgingReport:
    assert estate.id is not None
    overdue = overdue_debits(estate.id, as_of)
    o = overdue.c
    # One pass over the overdue debits: per owner's account (unit, owner), the amount and number of
    # debits in each bucket; then per building, the sums, the units with anything in each bucket,
    # and the same for former owners' accounts (current owners' = the total less those).
    conditions = [_in_bucket(o.due, as_of, low, high) for low, high, _ in AGE_BUCKETS]
    per_account = (
        sa_select(
            o.building_id.label("building_id"),
            o.unit_id.label("unit_id"),
            # Of the grouped columns: once per account, not per debit.
            case((former_owner(o.unit_id, o.owner_id, as_of), 1), else_=0).label("former"),
            func.sum(o.open_fen).label("fen"),
            *(func.sum(case((cond, o.open_fen), else_=0)).label(f"fen_{i}") for i, cond in enumerate(conditions)),
            *(func.sum(case((cond, 1), else_=0)).label(f"n_{i}") for i, cond in enumerate(conditions)),
        )
        .group_by(o.building_id, o.unit_id, o.owner_id)
        .subquery("per_account")
    )
    a = per_account.c
    size = len(AGE_BUCKETS)
    former = a.former == 1
    by_building = await session.execute(
        sa_select(
            a.building_id,
            func.count(func.distinct(a.unit_id)),
            func.sum(a.fen),
            *(func.sum(a[f"fen_{i}"]) for i in range(size)),
            *(func.count(func.distinct(case((a[f"n_{i}"] > 0, a.unit_id)))) for i in range(size)),
            func.count(),
            func.sum(case((former, 1), else_=0)),
            func.sum(case((former, a.fen), else_=0)),
            *(func.sum(case((former, a[f"fen_{i}"]), else_=0)) for i in range(size)),
            *(func.sum(case((and_(former, a[f"n_{i}"] > 0), 1), else_=0)) for i in range(size)),
            *(func.sum(case((a[f"n_{i}"] > 0, 1), else_=0)) for i in range(size)),
        ).group_by(a.building_id)
    )
    overdue_by_building: dict[int | None, _BuildingAging] = {}
    for building_id, units, fen, *cells in by_building.all():
        v = [_n(x) for x in cells]
        accounts, former_accounts, former_fen = v[2 * size], v[2 * size + 1], v[2 * size + 2]
        former_cells = v[2 * size + 3 : 3 * size + 3]
        former_counts = v[3 * size + 3 : 4 * size + 3]
        account_counts = v[4 * size + 3 : 5 * size + 3]
        overdue_by_building[building_id] = _BuildingAging(
            units=_n(units),
            fen=_n(fen),
            cells=[[v[i], v[size + i]] for i in range(size)],
            current=_Part(
                fen=_n(fen) - former_fen,
                accounts=accounts - former_accounts,
                cells=[[v[i] - former_cells[i], account_counts[i] - former_counts[i]] for i in range(size)],
            ),
            former=_Part(former_fen, former_accounts, [[former_cells[i], former_counts[i]] for i in range(size)]),
        )
    buildings = await session.execute(
        select(col(Building.id), col(Building.name), func.count(col(Unit.id)))
        .outerjoin(Unit, col(Unit.building_id) == Building.id)
        .where(Building.estate_id == estate.id)
        .group_by(col(Building.id), col(Building.name))
        .order_by(col(Building.id))
    )

    rows: list[AgingRow] = []
    total = _BuildingAging.empty()
    for building_id, name, units_total in buildings.all():
        found = overdue_by_building.get(building_id, _BuildingAging.empty())
        rows.append(_aging_row(building_id, name, _n(units_total), found))
        # A unit is in one building, so per-building unit counts add up to the estate's.
        total = total.plus(found)
    estate_row = _aging_row(None, estate.name, sum(r.units_total for r in rows), total)
    return AgingReport(estate_id=estate.id, estate_name=estate.name, as_of=as_of, estate=estate_row, buildings=rows)


@dataclass(frozen=True)
class _Part:
    fen: int
    accounts: int
    cells: list[list[int]]  # per bucket: [fen, accounts]

    def plus(self, other: _Part) -> _Part:
        return _Part(self.fen + other.fen, self.accounts + other.accounts, _add_cells(self.cells, other.cells))

    def out(self) -> OwnersPart:
        return OwnersPart(
            overdue_fen=self.fen,
            accounts=self.accounts,
            buckets=[
                OwnersBucketOut(label, f, n) for (_, _, label), (f, n) in zip(AGE_BUCKETS, self.cells, strict=True)
            ],
        )


@dataclass(frozen=True)
class _BuildingAging:
    units: int
    fen: int
    cells: list[list[int]]  # per bucket: [fen, units]
    current: _Part
    former: _Part

    @staticmethod
    def empty() -> _BuildingAging:
        def zero() -> list[list[int]]:
            return [[0, 0] for _ in AGE_BUCKETS]

        return _BuildingAging(0, 0, zero(), _Part(0, 0, zero()), _Part(0, 0, zero()))

    def plus(self, other: _BuildingAging) -> _BuildingAging:
        return _BuildingAging(
            self.units + other.units,
            self.fen + other.fen,
            _add_cells(self.cells, other.cells),
            self.current.plus(other.current),
            self.former.plus(other.former),
        )


def _add_cells(one: list[list[int]], other: list[list[int]]) -> list[list[int]]:
    return [[a + b for a, b in zip(x, y, strict=True)] for x, y in zip(one, other, strict=True)]


def _aging_row(building_id: int | None, name: str, units_total: int, found: _BuildingAging) -> AgingRow:
    return AgingRow(
        building_id=building_id,
        name=name,
        units_total=units_total,
        units_overdue=found.units,
        overdue_fen=found.fen,
        buckets=[AgeBucketOut(label, f, u) for (_, _, label), (f, u) in zip(AGE_BUCKETS, found.cells, strict=True)],
        current_owners=found.current.out(),
        former_owners=found.former.out(),
    )


# ---------------------------------------------------------------------------------------------
# Collection rate
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settling:
    """A settling entry ``s`` joined to the charge ``c`` it settles and, for a reversal, the entry
    ``r`` it reverses. A reversal counts against what it reverses: a voided payment un-collects."""

    c: Any
    s: Any
    r: Any

    def of(self, *kinds: EntryKind) -> ColumnElement[bool]:
        return or_(
            col(self.s.kind).in_(kinds),
            and_(col(self.s.kind) == EntryKind.reversal, col(self.r.kind).in_(kinds)),
        )

    @property
    def collected(self) -> ColumnElement[bool]:
        return self.of(*COLLECTING_KINDS)

    @property
    def discount(self) -> ColumnElement[bool]:
        return self.of(EntryKind.discount)

    @property
    def waiver(self) -> ColumnElement[bool]:
        return self.of(EntryKind.waiver)

    @property
    def amount(self) -> Any:
        return col(self.s.amount_fen)

    @property
    def on(self) -> Any:
        return col(self.s.effective_date)

    def fen_if(self, condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, self.amount), else_=0)), 0)

    def grouped(self, *columns: Any, where: Any) -> Subquery:
        """Per settled charge: ``columns`` aggregated over its settling entries."""
        target = col(self.s.settles_entry_id)
        return (
            sa_select(target.label("target_id"), *columns)
            .join(self.c, col(self.c.id) == target)
            .outerjoin(self.r, col(self.r.id) == col(self.s.reverses_entry_id))
            .where(*where)
            .group_by(target)
            .subquery("settling")
        )


def _settling() -> _Settling:
    return _Settling(aliased(LedgerEntry, name="c"), aliased(LedgerEntry, name="s"), aliased(LedgerEntry, name="r"))


@dataclass(frozen=True)
class _Current:
    charged: int
    corrections: int
    collected: int
    discount: int
    waived: int
    outstanding: int
    units_billed: int
    units_settled: int
    outstanding_former: int = 0  # of outstanding, owed by owners who no longer own the unit

    @property
    def billed(self) -> int:
        return self.charged - self.corrections


async def _current(session: AsyncSession, estate_id: int, cutoffs: dict[str, date]) -> dict[str, _Current]:
    """Per period: its charges billed, collected, discounted, waived and open, and its units billed
    and settled, each period as it stood at the end of its own cutoff date. One query."""
    t = _settling()
    c = t.c
    cutoff = case(*((col(c.period) == period, day) for period, day in cutoffs.items()))
    charges = (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period).in_(list(cutoffs)),
        col(c.effective_date) <= cutoff,
    )
    settling = t.grouped(
        t.fen_if(t.collected).label("collected"),
        t.fen_if(t.discount).label("discount"),
        t.fen_if(t.waiver).label("waived"),
        func.sum(t.amount).label("settled"),
        where=(*charges, t.on <= cutoff),
    )
    settled = func.coalesce(settling.c.settled, 0)
    collected = func.coalesce(settling.c.collected, 0)
    discount = func.coalesce(settling.c.discount, 0)
    waived = func.coalesce(settling.c.waived, 0)
    per_charge = (
        sa_select(
            col(c.period).label("period"),
            # "+ 0": grouping on a plain unit_id tempts SQLite to read every charge of the estate
            # through the unit index instead of the period's through (estate, kind, period).
            (col(c.unit_id) + 0).label("unit_id"),
            col(c.amount_fen).label("amount"),
            collected.label("collected"),
            discount.label("discount"),
            waived.label("waived"),
            # Whatever else settles a charge corrects it: its reversal, an adjustment.
            (settled - collected - discount - waived).label("corrected"),
            (col(c.amount_fen) + settled).label("open_fen"),
            # Evaluated only where something is open: a lookup per open charge, not per charge.
            case(
                (
                    and_(col(c.amount_fen) + settled != 0, former_owner(col(c.unit_id), col(c.owner_id), cutoff)),
                    col(c.amount_fen) + settled,
                ),
                else_=0,
            ).label("former_open"),
        )
        .outerjoin(settling, settling.c.target_id == col(c.id))
        .where(*charges)
        .subquery("per_charge")
    )
    pc = per_charge.c
    per_unit = (
        sa_select(
            pc.period,
            func.sum(pc.former_open).label("former_open"),
            func.sum(pc.amount).label("amount"),
            func.sum(pc.collected).label("collected"),
            func.sum(pc.discount).label("discount"),
            func.sum(pc.waived).label("waived"),
            func.sum(pc.corrected).label("corrected"),
            func.sum(pc.open_fen).label("open_fen"),
            func.max(pc.open_fen).label("max_open"),
            func.sum(pc.amount + pc.corrected).label("net"),
        )
        .group_by(pc.period, pc.unit_id)
        .subquery("per_unit")
    )
    pu = per_unit.c
    rows = await session.execute(
        sa_select(
            pu.period,
            func.sum(pu.amount),
            func.sum(pu.corrected),
            func.sum(pu.collected),
            func.sum(pu.discount),
            func.sum(pu.waived),
            func.sum(pu.open_fen),
            # A unit whose charges were wholly reversed was not billed.
            func.sum(case((pu.net > 0, 1), else_=0)),
            func.sum(case((and_(pu.net > 0, pu.max_open <= 0), 1), else_=0)),
            func.sum(pu.former_open),
        ).group_by(pu.period)
    )
    found = {}
    for period, *figures in rows.all():
        (
            charged,
            corrected,
            collected_fen,
            discount_fen,
            waived_fen,
            open_fen,
            units_billed,
            units_settled,
            former_open,
        ) = (_n(v) for v in figures)
        found[period] = _Current(
            charged=charged,
            corrections=-corrected,
            collected=-collected_fen,
            discount=-discount_fen,
            waived=-waived_fen,
            outstanding=open_fen,
            units_billed=units_billed,
            units_settled=units_settled,
            outstanding_former=former_open,
        )
    return {period: found.get(period, _Current(0, 0, 0, 0, 0, 0, 0, 0)) for period in cutoffs}


def _old_charges(c: Any, estate_id: int, period: str, before: date) -> tuple[ColumnElement[bool], ...]:
    """Charges that were old arrears when ``period`` began: of an earlier period, due before its
    first day, posted by ``before`` (the day before, or as_of when that is earlier)."""
    return (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period) < period,
        col(c.effective_date) <= before,
        func.coalesce(col(c.due_date), col(c.effective_date)) < period_start(period),
    )


async def _old_arrears(session: AsyncSession, estate_id: int, period: str, as_of: date) -> OldArrears:
    """清欠: old arrears open at the period's start and what became of them from the period's first
    day to its last (or ``as_of``). Amounts are sums over all old charges (what is open on a charge
    is never negative); units are counted per unit."""
    start = period_start(period)
    before = min(start - timedelta(days=1), as_of)  # the state "at the period's start"
    window_end = min(month_end(period), as_of)  # before the start when as_of is: an empty window
    t = _settling()
    c = t.c
    charges = _old_charges(c, estate_id, period, before)
    in_window = and_(t.on >= start, t.on <= window_end)
    settling = t.grouped(
        t.fen_if(t.on <= before).label("before"),
        t.fen_if(and_(in_window, t.collected)).label("collected"),
        t.fen_if(and_(in_window, or_(t.discount, t.waiver))).label("relieved"),
        t.fen_if(in_window).label("during"),
        where=(*charges, t.on <= window_end),
    )
    per_charge = (
        sa_select(
            (col(c.unit_id) + 0).label("unit_id"),
            col(c.owner_id).label("owner_id"),
            (col(c.amount_fen) + func.coalesce(settling.c.before, 0)).label("open_start"),
            func.coalesce(settling.c.collected, 0).label("collected"),
            func.coalesce(settling.c.relieved, 0).label("relieved"),
            func.coalesce(settling.c.during, 0).label("during"),
        )
        .outerjoin(settling, settling.c.target_id == col(c.id))
        .where(*charges)
        .subquery("per_charge")
    )
    pc = per_charge.c
    # Per owner's account (unit, owner), then per unit: the units' figures as before, and the former
    # owners' accounts apart.
    per_account = (
        sa_select(
            pc.unit_id.label("unit_id"),
            case((former_owner(pc.unit_id, pc.owner_id, as_of), 1), else_=0).label("former"),
            func.sum(pc.open_start).label("open_start"),
            func.sum(pc.collected).label("collected"),
            func.sum(pc.relieved).label("relieved"),
            func.sum(pc.during).label("during"),
        )
        .group_by(pc.unit_id, pc.owner_id)
        .subquery("per_account")
    )
    pa = per_account.c
    former = pa.former == 1
    per_unit = (
        sa_select(
            func.sum(pa.open_start).label("open_start"),
            func.sum(pa.collected).label("collected"),
            func.sum(pa.relieved).label("relieved"),
            func.sum(pa.during).label("during"),
            func.sum(case((former, pa.open_start), else_=0)).label("former_open_start"),
            func.sum(case((and_(former, pa.open_start > 0), 1), else_=0)).label("former_accounts"),
            func.sum(case((former, pa.collected), else_=0)).label("former_collected"),
            func.sum(case((former, pa.during), else_=0)).label("former_during"),
        )
        .group_by(pa.unit_id)
        .subquery("per_unit")
    )
    pu = per_unit.c
    owing = pu.open_start > 0
    row = (
        await session.execute(
            sa_select(
                func.sum(pu.open_start),
                func.sum(pu.collected),
                func.sum(pu.relieved),
                func.sum(pu.during),
                func.sum(case((owing, 1), else_=0)),
                func.sum(case((and_(owing, pu.open_start + pu.during <= 0), 1), else_=0)),
                func.sum(pu.former_open_start),
                func.sum(pu.former_accounts),
                func.sum(pu.former_collected),
                func.sum(pu.former_during),
            )
        )
    ).one()
    (
        open_start,
        collected,
        relieved,
        during,
        units,
        cleared,
        former_open_start,
        former_accounts,
        former_collected,
        former_during,
    ) = (_n(v) for v in row)
    return OldArrears(
        open_at_start_fen=open_start,
        units_at_start=units,
        collected_fen=-collected,
        relieved_fen=-relieved,
        corrected_fen=-(during - collected - relieved),
        open_at_end_fen=open_start + during,
        units_cleared=cleared,
        rate=rate(-collected, open_start),
        former_owners_open_at_start_fen=former_open_start,
        former_owners_accounts_at_start=former_accounts,
        former_owners_collected_fen=-former_collected,
        former_owners_open_at_end_fen=former_open_start + former_during,
    )


def _yyyymm(day: date | str) -> int:
    if isinstance(day, str):  # a period, "2026-11"
        year, month = day.split("-")
        return int(year) * 100 + int(month)
    return day.year * 100 + day.month


async def _old_arrears_series(
    session: AsyncSession, estate_id: int, months: list[str], horizon: date
) -> dict[str, tuple[int, int]]:
    """Per month: (old arrears open at its start, collected on them during it), in two passes.

    Every date the figures compare against is a month's first day or ``horizon`` (the fixed as_of,
    else today: earlier months end before it). So the database sums amounts by the dates that
    matter (period, due date, posting date, settling date: few distinct values) up to the horizon,
    and Python adds those groups up per month by the months of those dates.
    """
    last = months[-1]
    t = _settling()
    c = t.c
    due = func.coalesce(col(c.due_date), col(c.effective_date))
    keys: tuple[Any, ...] = (
        col(c.period).label("period"),
        due.label("due"),
        col(c.effective_date).label("posted"),
    )
    # Superset of every month's old charges; the rest is decided per month below.
    charges = (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period) < last,
        col(c.effective_date) <= horizon,
        due < period_start(last),
    )
    # Labelled in a subquery and grouped by name (PostgreSQL would not match bound parameters).
    billed = sa_select(*keys, col(c.amount_fen).label("fen")).where(*charges).subquery("billed")
    b = billed.c
    charge_rows = await session.execute(
        sa_select(b.period, b.due, b.posted, func.sum(b.fen)).group_by(b.period, b.due, b.posted)
    )
    settling = (
        sa_select(
            *keys,
            t.on.label("day"),
            case((t.collected, 1), else_=0).label("collecting"),
            t.amount.label("fen"),
        )
        .select_from(t.s)
        .join(c, col(c.id) == col(t.s.settles_entry_id))
        .outerjoin(t.r, col(t.r.id) == col(t.s.reverses_entry_id))
        .where(*charges, t.on <= horizon)
        .subquery("settling")
    )
    g = settling.c
    settle_rows = await session.execute(
        sa_select(g.period, g.due, g.posted, g.day, g.collecting, func.sum(g.fen)).group_by(
            g.period, g.due, g.posted, g.day, g.collecting
        )
    )
    # (period, month due, month posted) → fen billed; and → [(month settled, collecting, fen)]
    billed_groups: dict[tuple[str, int, int], int] = {}
    for period, due_on, posted_on, fen in charge_rows.all():
        group = (period, _yyyymm(due_on), _yyyymm(posted_on))
        billed_groups[group] = billed_groups.get(group, 0) + _n(fen)
    settled_groups: dict[tuple[str, int, int], list[tuple[int, bool, int]]] = {}
    for period, due_on, posted_on, day, collecting, fen in settle_rows.all():
        group = (period, _yyyymm(due_on), _yyyymm(posted_on))
        settled_groups.setdefault(group, []).append((_yyyymm(day), bool(collecting), _n(fen)))
    result = {}
    for month in months:
        key = _yyyymm(month)
        open_start = collected = 0
        for group in billed_groups.keys() | settled_groups.keys():
            period, due_month, posted_month = group
            # Old for this month: an earlier period's charge, due and posted before the month began
            # (and, like every date counted here, on or before the horizon).
            if not (period < month and due_month < key and posted_month < key):
                continue
            open_start += billed_groups.get(group, 0)
            for settled_month, collecting, fen in settled_groups.get(group, []):
                if settled_month < key:
                    open_start += fen
                elif settled_month == key and collecting:
                    collected -= fen
        result[month] = (open_start, collected)
    return result


async def collection_rate(session: AsyncSession, estate: Estate, period: str, as_of: date) -> CollectionRate:
    assert estate.id is not None
    now = (await _current(session, estate.id, {period: as_of}))[period]
    return CollectionRate(
        estate_id=estate.id,
        period=period,
        period_label=period_label(period, estate.locale),
        as_of=as_of,
        charged_fen=now.charged,
        corrections_fen=now.corrections,
        billed_fen=now.billed,
        collected_fen=now.collected,
        discount_fen=now.discount,
        waived_fen=now.waived,
        outstanding_fen=now.outstanding,
        outstanding_former_owners_fen=now.outstanding_former,
        rate_by_amount=rate(now.collected, now.billed),
        units_billed=now.units_billed,
        units_settled=now.units_settled,
        rate_by_households=rate(now.units_settled, now.units_billed),
        old_arrears=await _old_arrears(session, estate.id, period, as_of),
    )


def check_range(period_from: str, period_to: str) -> list[str]:
    if period_from > period_to:
        raise ReportInputError(f"'from' ({period_from}) is after 'to' ({period_to})", field="from")
    months = months_between(period_from, period_to)
    if len(months) > MAX_MONTHS:
        raise ReportInputError(f"a series covers at most {MAX_MONTHS} months, not {len(months)}", field="to")
    return months


async def monthly_series(
    session: AsyncSession, estate: Estate, period_from: str, period_to: str, as_of: date | None, today: date
) -> MonthlySeries:
    """The collection rate month by month: each month at its own last day (capped at today), the
    当期收缴率, unless one ``as_of`` is given for all. Four queries, whatever the number of months."""
    assert estate.id is not None
    months = check_range(period_from, period_to)
    cutoffs = {month: as_of or min(month_end(month), today) for month in months}
    current = await _current(session, estate.id, cutoffs)
    old = await _old_arrears_series(session, estate.id, months, as_of or today)
    points = []
    for month in months:
        now = current[month]
        open_start, collected = old[month]
        points.append(
            MonthlyPoint(
                period=month,
                period_label=period_label(month, estate.locale),
                as_of=cutoffs[month],
                billed_fen=now.billed,
                collected_fen=now.collected,
                rate_by_amount=rate(now.collected, now.billed),
                units_billed=now.units_billed,
                units_settled=now.units_settled,
                rate_by_households=rate(now.units_settled, now.units_billed),
                old_arrears_open_at_start_fen=open_start,
                old_arrears_collected_fen=collected,
            )
        )
    return MonthlySeries(estate_id=estate.id, period_from=period_from, period_to=period_to, as_of=as_of, points=points)


# ---------------------------------------------------------------------------------------------
# Arrears by cause
# ---------------------------------------------------------------------------------------------


async def arrears_by_cause(session: AsyncSession, estate: Estate, as_of: date) -> ArrearsByCause:
    assert estate.id is not None
    overdue = overdue_debits(estate.id, as_of)
    # An open case is one owner's account's: (unit, owner); owner None only on a unit nobody owned.
    with_case = (
        select(ArrearsCase.unit_id, ArrearsCase.owner_id)
        .where(ArrearsCase.estate_id == estate.id, col(ArrearsCase.status).in_(ACTIVE))
        .distinct()
        .subquery("with_case")
    )
    # One pass: accounts with an open case one row each (few); all the others summed in one row;
    # and what former owners owe apart (a case groups the arrears of the account it is about).
    # Per owner's account first (whether a former owner's: once per account), then by case.
    accounts = (
        sa_select(
            overdue.c.unit_id.label("unit_id"),
            overdue.c.owner_id.label("owner_id"),
            case((former_owner(overdue.c.unit_id, overdue.c.owner_id, as_of), 1), else_=0).label("former"),
            func.sum(overdue.c.open_fen).label("open_fen"),
        )
        .group_by(overdue.c.unit_id, overdue.c.owner_id)
        .subquery("accounts")
    )
    a = accounts.c
    has_case = sa_select(with_case.c.unit_id).where(
        with_case.c.unit_id == a.unit_id, with_case.c.owner_id.is_not_distinct_from(a.owner_id)
    )
    # Labelled in a subquery and grouped by name (PostgreSQL would not match bound parameters).
    keyed = (
        sa_select(
            case((a.former == 1, None), (has_case.exists(), a.unit_id), else_=None).label("case_unit_id"),
            case((a.former == 1, None), else_=a.owner_id).label("case_owner_id"),
            a.former.label("former"),
            a.unit_id.label("unit_id"),
            a.open_fen.label("open_fen"),
        ).subquery("keyed")
    )
    k = keyed.c
    rows = await session.execute(
        sa_select(
            k.case_unit_id, k.case_owner_id, k.former, func.sum(k.open_fen), func.count(func.distinct(k.unit_id))
        ).group_by(k.case_unit_id, k.case_owner_id, k.former)
    )
    totals: dict[str, list[int]] = {cause: [0, 0] for cause in CAUSES}
    former_fen = former_units = 0
    for unit_id, owner_id, is_former, fen, units in rows.all():
        if is_former:
            former_fen += _n(fen)
            former_units += _n(units)
            continue
        cause = UNCLASSIFIED if unit_id is None else (await effective_cause(session, unit_id, owner_id) or UNCLASSIFIED)
        line = totals.setdefault(cause, [0, 0])
        line[0] += _n(fen)
        line[1] += _n(units)
    labels = CAUSE_LABELS[script(estate.locale)]
    return ArrearsByCause(
        estate_id=estate.id,
        as_of=as_of,
        overdue_fen=sum(fen for fen, _ in totals.values()) + former_fen,
        units=sum(n for _, n in totals.values()) + former_units,
        causes=[CauseRow(cause, labels.get(cause, cause), fen, n) for cause, (fen, n) in totals.items()],
        former_owners_fen=former_fen,
        former_owners_units=former_units,
    )


# ---------------------------------------------------------------------------------------------
# The printed monthly report (letters/report_collection.html)
# ---------------------------------------------------------------------------------------------

REPORT_TEMPLATE: Final = "report_collection.html"

REPORT_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "title": "物业费收缴率月度报表",
        "estate": "项目",
        "range": "统计期间",
        "range_sep": "至",
        "measured": "统计口径",
        "measured_month_end": "各月按当月月末（当期收缴率）",
        "measured_as_of": "截至{date}",
        "printed": "制表日期",
        "by_amount": "收缴率（按金额）",
        "by_households": "收缴率（按户数）",
        "month": "月份",
        "billed": "应收金额",
        "collected": "实收金额",
        "units": "应收户数",
        "rate_amount_short": "金额收缴率",
        "rate_households_short": "户数收缴率",
        "settled_units": "结清户数",
        "old_open": "月初往期欠费",
        "old_collected": "清欠收回",
        "total": "合计",
        "none": "—",
        "notes": (
            "口径说明：应收金额为当月计费的物业服务费等费用（已扣除冲正）；实收金额为缴费及预存款抵扣，"
            "预缴优惠与减免不计入实收；按户数收缴率为当月费用已全部结清的户数占应收户数的比例。"
            "清欠为往期欠费，单独列示，不计入当期收缴率。违约金不计入本表。"
        ),
    },
    "zh_Hant": {
        "title": "物業費收繳率月度報表",
        "estate": "項目",
        "range": "統計期間",
        "range_sep": "至",
        "measured": "統計口徑",
        "measured_month_end": "各月按當月月末（當期收繳率）",
        "measured_as_of": "截至{date}",
        "printed": "製表日期",
        "by_amount": "收繳率（按金額）",
        "by_households": "收繳率（按戶數）",
        "month": "月份",
        "billed": "應收金額",
        "collected": "實收金額",
        "units": "應收戶數",
        "rate_amount_short": "金額收繳率",
        "rate_households_short": "戶數收繳率",
        "settled_units": "結清戶數",
        "old_open": "月初往期欠費",
        "old_collected": "清欠收回",
        "total": "合計",
        "none": "—",
        "notes": (
            "口徑說明：應收金額為當月計費的物業服務費等費用（已扣除沖正）；實收金額為繳費及預存款抵扣，"
            "預繳優惠與減免不計入實收；按戶數收繳率為當月費用已全部結清的戶數佔應收戶數的比例。"
            "清欠為往期欠費，單獨列示，不計入當期收繳率。違約金不計入本表。"
        ),
    },
    "en": {
        "title": "Monthly collection rate",
        "estate": "Estate",
        "range": "Months",
        "range_sep": " – ",
        "measured": "Measured",
        "measured_month_end": "each month at its last day",
        "measured_as_of": "as of {date}",
        "printed": "Printed",
        "by_amount": "Rate by amount",
        "by_households": "Rate by households",
        "month": "Month",
        "billed": "Billed",
        "collected": "Collected",
        "units": "Units billed",
        "rate_amount_short": "Rate (amount)",
        "rate_households_short": "Rate (units)",
        "settled_units": "Units settled",
        "old_open": "Old arrears at start",
        "old_collected": "Old arrears collected",
        "total": "Total",
        "none": "—",
        "notes": (
            "Billed: the month's charges, net of reversals. Collected: payments and prepaid credit applied; "
            "prepay discounts and waivers are not collected money. Rate by households: units whose charges "
            "of the month are fully settled, of the units billed. Old arrears (earlier periods) are shown "
            "apart and are not in the month's rate. Late fees are not included."
        ),
    },
}


def _percent_text(value: str | None, none: str) -> str:
    if value is None:
        return none
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"


def collection_chart_svg(series: MonthlySeries, locale: str) -> str:
    t = REPORT_LABELS[script(locale)]
    points = [
        ChartPoint(
            p.period_label,
            None if p.rate_by_amount is None else Decimal(p.rate_by_amount),
            None if p.rate_by_households is None else Decimal(p.rate_by_households),
        )
        for p in series.points
    ]
    return collection_chart(points, t["by_amount"], t["by_households"], normalize_locale(locale), t["title"])


def monthly_report_context(estate: Estate, series: MonthlySeries, today: date) -> dict[str, Any]:
    """Plain data for ``letters/report_collection.html``."""
    locale = normalize_locale(estate.locale)
    t = REPORT_LABELS[script(locale)]
    billed = sum(p.billed_fen for p in series.points)
    collected = sum(p.collected_fen for p in series.points)
    units = sum(p.units_billed for p in series.points)
    settled = sum(p.units_settled for p in series.points)
    rows = [
        {
            "label": p.period_label,
            "billed_fen": p.billed_fen,
            "collected_fen": p.collected_fen,
            "by_amount": _percent_text(p.rate_by_amount, t["none"]),
            "units": p.units_billed,
            "settled": p.units_settled,
            "by_households": _percent_text(p.rate_by_households, t["none"]),
            "old_open_fen": p.old_arrears_open_at_start_fen,
            "old_collected_fen": p.old_arrears_collected_fen,
        }
        for p in series.points
    ]
    measured = (
        t["measured_month_end"]
        if series.as_of is None
        else t["measured_as_of"].format(date=date_long(series.as_of, locale))
    )
    return {
        "locale": locale,
        "t": t,
        "company_name": estate.company_name,
        "estate_name": estate.name,
        "range_text": period_label(series.period_from, locale)
        + t["range_sep"]
        + period_label(series.period_to, locale),
        "measured": measured,
        "printed_on": today,
        "chart_svg": collection_chart_svg(series, locale),
        "rows": rows,
        "total": {
            "billed_fen": billed,
            "collected_fen": collected,
            "by_amount": _percent_text(rate(collected, billed), t["none"]),
            "units": units,
            "settled": settled,
            "by_households": _percent_text(rate(settled, units), t["none"]),
            "old_collected_fen": sum(p.old_arrears_collected_fen for p in series.points),
        },
    }


async def monthly_report_pdf(estate: Estate, series: MonthlySeries, today: date) -> bytes:
    context = monthly_report_context(estate, series, today)
    # WeasyPrint is synchronous and CPU-bound: keep the event loop serving other requests meanwhile.
    return await anyio.to_thread.run_sync(render_pdf, REPORT_TEMPLATE, context)
