"""Aging of overdue debt, and the SQL the other reports take overdue debits and former owners from.

Aging
    Overdue = open charges and late fees whose debt fell due before ``as_of``, exactly as the
    unit ledger's ``overdue_fen`` counts it (a late fee ages with the charge it accrued on), so the
    estate's total equals the sum of the unit ledgers. Buckets are ``statements.service.AGE_BUCKETS``.

By owner (a sold unit, DOMAIN.md "Change of owner")
    Every debit carries the owner of its period. An owner who no longer owns the unit on the day
    a report is read (a seller) is a *former owner*: the aging shows what current owners and what
    former owners owe apart (``current_owners`` + ``former_owners`` = the row's total, bucket by
    bucket), counted in owners' accounts (unit, owner); the collection rate shows the former
    owners' part of the outstanding and of the old arrears. The same queries, one more column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Subquery, and_, case, cast, func
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.registry.models import Building, Estate, Ownership, Unit
from feesvc.registry.service import ownership_covering
from feesvc.reports.common import int_or_zero
from feesvc.reports.schemas import AgeBucketOut, AgingReport, AgingRow, OwnersBucketOut, OwnersPart
from feesvc.statements.service import AGE_BUCKETS


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
    # As bigint: PostgreSQL's sum of bigints is numeric, which made every debit's open amount (and
    # each sum over them) numeric arithmetic: a fifth of the aging query's time.
    settled = cast(func.sum(col(s.amount_fen)), BigInteger)
    return (
        select(col(s.settles_entry_id).label("target_id"), settled.label("settled"))
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
        v = [int_or_zero(x) for x in cells]
        accounts, former_accounts, former_fen = v[2 * size], v[2 * size + 1], v[2 * size + 2]
        former_cells = v[2 * size + 3 : 3 * size + 3]
        former_counts = v[3 * size + 3 : 4 * size + 3]
        account_counts = v[4 * size + 3 : 5 * size + 3]
        overdue_by_building[building_id] = _BuildingAging(
            units=int_or_zero(units),
            fen=int_or_zero(fen),
            cells=[[v[i], v[size + i]] for i in range(size)],
            current=_Part(
                fen=int_or_zero(fen) - former_fen,
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
        rows.append(_aging_row(building_id, name, int_or_zero(units_total), found))
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
