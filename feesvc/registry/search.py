"""The unit search: find an estate's units by number, building, arrears or the owner's phone.

The filters pick units through indexes (ix_unit_estate_building_number, ix_unit_estate_number,
ix_owner_phone_last4; for arrears ix_unit_estate_earliest_open_due over the unit's position, which
the ledger's writers keep: feesvc.ledger.position) and the page is read in one
stable order: building, unit number, id. The figures shown (balance, overdue, owner, case) are
read for the page's units only, in a few statements for all of them, whatever the estate's size
(the owner with the page itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.arrears.decisions import effective_decision
from feesvc.arrears.models import ArrearsCase
from feesvc.arrears.service import ACTIVE
from feesvc.auth.principal import Principal
from feesvc.db import is_postgres
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import open_debits_by_unit
from feesvc.registry.masking import masking_for
from feesvc.registry.models import Building, Owner, Ownership, Unit, UnitUse, phone_last4
from feesvc.registry.schemas import UnitCaseBrief, UnitFound, UnitOwnerBrief, UnitSearchPage
from feesvc.registry.service import get_estate, ownership_covering

_UNIT = Unit.__table__  # type: ignore[attr-defined]
_BUILDING = Building.__table__  # type: ignore[attr-defined]
_OWNER = Owner.__table__  # type: ignore[attr-defined]
_OWNERSHIP = Ownership.__table__  # type: ignore[attr-defined]
_ENTRY = LedgerEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UnitQuery:
    q: str | None = None  # the start of a unit number, e.g. "12" finds 1201 and 1202
    building: str | None = None  # a building's name, exactly
    in_arrears: bool | None = None  # True: a debt past due today still open (any owner's); False: none
    owner_phone_last4: str | None = None  # the current owner's phone ends with these 4 digits
    page: int = 1
    page_size: int = 20


def _number_starts_with(prefix: str, postgres: bool) -> ColumnElement[bool]:
    """``unit.number`` starts with ``prefix``, as a range the estate-number index serves: byte order
    on both databases (SQLite compares binary; on PostgreSQL the text_pattern_ops operators), so a
    bound parameter keeps the index usable in a generic plan, where ``LIKE 'x%'`` would not."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else prefix + "\U0010ffff"
    number = _UNIT.c.number
    if postgres:
        return and_(number.op("~>=~")(prefix), number.op("~<~")(after))
    return and_(number >= prefix, number < after)


def _in_arrears(today: date) -> ColumnElement[bool]:
    """The unit has a debt past due today and still open, any owner's (feesvc.rules.position): its
    stored position, kept by the ledger's writers, through ``ix_unit_estate_earliest_open_due``."""
    return _UNIT.c.earliest_open_due < today


def _conditions(
    estate_id: int, query: UnitQuery, building_id: int | None, today: date, postgres: bool
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_UNIT.c.estate_id == estate_id]
    if building_id is not None:
        conditions.append(_UNIT.c.building_id == building_id)
    if query.q:
        prefixes = sorted({query.q, query.q.upper()})  # "b1" finds B1-02 as well
        conditions.append(or_(*(_number_starts_with(p, postgres) for p in prefixes)))
    if query.owner_phone_last4:
        phone_matches = (
            sa_select(_OWNERSHIP.c.unit_id)
            .join(_OWNER, _OWNER.c.id == _OWNERSHIP.c.owner_id)
            .where(phone_last4(_OWNER.c.phone) == query.owner_phone_last4, ownership_covering(today))
        )
        conditions.append(_UNIT.c.id.in_(phone_matches))
    if query.in_arrears is True:
        conditions.append(_in_arrears(today))
    elif query.in_arrears is False:
        conditions.append(or_(_UNIT.c.earliest_open_due.is_(None), ~_in_arrears(today)))
    return conditions


def _page(conditions: list[ColumnElement[bool]], query: UnitQuery, today: date) -> Select[Any]:
    """The page's units with their building and today's owner (an outer join: a unit may have none)."""
    return (
        sa_select(
            _UNIT.c.id,
            _UNIT.c.building_id,
            _BUILDING.c.name.label("building"),
            _UNIT.c.number,
            _UNIT.c.use,
            _OWNER.c.id.label("owner_id"),
            _OWNER.c.name.label("owner_name"),
            _OWNER.c.phone.label("owner_phone"),
        )
        .join(_BUILDING, _BUILDING.c.id == _UNIT.c.building_id)
        .outerjoin(_OWNERSHIP, and_(_OWNERSHIP.c.unit_id == _UNIT.c.id, ownership_covering(today)))
        .outerjoin(_OWNER, _OWNER.c.id == _OWNERSHIP.c.owner_id)
        .where(*conditions)
        .order_by(_UNIT.c.building_id, _UNIT.c.number, _UNIT.c.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )


async def search_units(
    session: AsyncSession, principal: Principal, estate_id: int, query: UnitQuery, today: date
) -> UnitSearchPage:
    empty = UnitSearchPage(items=[], total=0, page=query.page, page_size=query.page_size, as_of=today)
    building_id = None
    if query.building is not None:
        found = sa_select(_BUILDING.c.id).where(_BUILDING.c.estate_id == estate_id, _BUILDING.c.name == query.building)
        building_id = (await session.execute(found)).scalar_one_or_none()
        if building_id is None:  # no such building here: nothing matches (404 if the estate is missing)
            await get_estate(session, estate_id)
            return empty
    conditions = _conditions(estate_id, query, building_id, today, is_postgres(session))
    total = int((await session.execute(sa_select(func.count()).select_from(_UNIT).where(*conditions))).scalar_one())
    if total == 0:  # only now is it worth a statement to tell a missing estate (404) from no match
        await get_estate(session, estate_id)
        return empty
    rows = (await session.execute(_page(conditions, query, today))).all()
    figures = await _figures(session, [row.id for row in rows], today)
    masking = masking_for(principal)
    items = [
        UnitFound(
            id=row.id,
            building_id=row.building_id,
            building=row.building,
            number=row.number,
            use=UnitUse(row.use),
            owner=None
            if row.owner_id is None
            else UnitOwnerBrief(
                id=row.owner_id, name=masking.name(row.owner_name), phone=masking.phone(row.owner_phone)
            ),
            balance_fen=figures.balances.get(row.id, 0),
            overdue_fen=figures.overdue.get(row.id, 0),
            arrears_case=figures.cases.get(row.id),
        )
        for row in rows
    ]
    return UnitSearchPage(items=items, total=total, page=query.page, page_size=query.page_size, as_of=today)


@dataclass
class _Figures:
    balances: dict[int, int]
    overdue: dict[int, int]
    cases: dict[int, UnitCaseBrief]


async def _figures(session: AsyncSession, unit_ids: list[int], today: date) -> _Figures:
    """Balance, overdue and open case of the page's units: a statement each, for all of them."""
    if not unit_ids:
        return _Figures({}, {}, {})
    balance_rows = await session.execute(
        sa_select(_ENTRY.c.unit_id, func.sum(_ENTRY.c.amount_fen))
        .where(_ENTRY.c.unit_id.in_(unit_ids), _ENTRY.c.effective_date <= today)
        .group_by(_ENTRY.c.unit_id)
    )
    balances = {unit_id: int(total) for unit_id, total in balance_rows}
    overdue = {
        unit_id: sum(d.open_fen for d in debits if d.debt_due < today)
        for unit_id, debits in (await open_debits_by_unit(session, unit_ids, today)).items()
    }
    cases: dict[int, UnitCaseBrief] = {}
    # A sold unit may have a case per owner (the seller's, the buyer's): the latest one is shown.
    active = await session.execute(
        sa_select(ArrearsCase)
        .where(
            ArrearsCase.unit_id.in_(unit_ids),  # type: ignore[attr-defined]
            ArrearsCase.status.in_(ACTIVE),  # type: ignore[attr-defined]
        )
        .order_by(ArrearsCase.id)  # type: ignore[arg-type]
    )
    for arrears_case in active.scalars():
        assert arrears_case.id is not None
        decision = await effective_decision(session, arrears_case)
        cause = None if decision is None else decision.category.value
        cases[arrears_case.unit_id] = UnitCaseBrief(id=arrears_case.id, status=arrears_case.status, cause=cause)
    return _Figures(balances, overdue, cases)
