"""What the pages show, read through the services the API uses, as the signed-in owner: their
own account's periods of each unit they own or owned (DOMAIN "Change of owner")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc import formatting
from feesvc.auth.principal import Principal
from feesvc.billing.rules import due_date
from feesvc.errors import NotFound
from feesvc.files import FileStore
from feesvc.letters import service as letters
from feesvc.letters.models import Letter
from feesvc.payments import lookup, owners
from feesvc.payments.schemas import PaymentOut
from feesvc.payoff.schemas import Payoff
from feesvc.payoff.service import unit_payoff
from feesvc.registry.masking import masking_for
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import can_read_unit
from feesvc.service_records import service as complaints
from feesvc.service_records.models import Complaint
from feesvc.service_records.schemas import ComplaintCreate
from feesvc.statements.schemas import Statement
from feesvc.statements.service import build_statement, default_range


@dataclass(frozen=True)
class Reader:
    """The signed-in owner: who, in which language, and the estate's way of writing renminbi."""

    principal: Principal
    owner_id: int
    name: str
    locale: str
    money_style: str


@dataclass(frozen=True)
class OwnedUnit:
    unit_id: int
    estate: Estate
    building: str
    number: str
    floor_area_m2: str
    starts_on: date
    ends_on: date | None  # None: owns it still

    @property
    def current(self) -> bool:
        return self.ends_on is None


@dataclass(frozen=True)
class UnitCard:
    """The home page's card of one unit: what pays the owner's account off today, what of it is
    overdue, and the next due date."""

    unit: OwnedUnit
    payoff: Payoff
    overdue_fen: int
    next_due: date | None
    days_to_due: int | None


async def owned_units(session: AsyncSession, owner_id: int) -> list[OwnedUnit]:
    """Every unit the owner owns or owned, current ones first, then by estate, building and number."""
    query = (
        select(Ownership, Unit, Building, Estate)
        .join(Unit, col(Unit.id) == Ownership.unit_id)
        .join(Building, col(Building.id) == Unit.building_id)
        .join(Estate, col(Estate.id) == Unit.estate_id)
        .where(Ownership.owner_id == owner_id)
        .order_by(col(Ownership.starts_on))
    )
    spans: dict[int, OwnedUnit] = {}
    for ownership, unit, building, estate in await session.execute(query):
        assert unit.id is not None
        # A unit owned twice (sold and bought back): from the first handover to the last one's end.
        earlier = spans.get(unit.id)
        spans[unit.id] = OwnedUnit(
            unit.id,
            estate,
            building.name,
            unit.number,
            f"{unit.floor_area_m2}",
            earlier.starts_on if earlier else ownership.starts_on,
            ownership.ends_on,
        )
    return sorted(spans.values(), key=lambda u: (not u.current, u.estate.id or 0, u.building, u.number))


async def reader(session: AsyncSession, principal: Principal, units: list[OwnedUnit]) -> Reader:
    """The owner's language (their own setting, else their current estate's) and money style."""
    assert principal.owner_id is not None  # the session middleware lets only owner tokens in
    owner = await session.get(Owner, principal.owner_id)
    if owner is None:
        raise NotFound("owner not found")
    estate = units[0].estate if units else None
    locale = formatting.normalize_locale(owner.locale or (estate.locale if estate else "zh_CN"))
    return Reader(principal, principal.owner_id, owner.name, locale, estate.money_style if estate else "renminbi")


def _next_cycle_due(estate: Estate, today: date) -> date:
    """The due date of the first billing cycle falling due after ``today`` (cycles start in January)."""
    start = date(today.year, 1, 1)
    while due_date(start, estate.due_day) <= today:
        start += relativedelta(months=estate.cycle_months)
    return due_date(start, estate.due_day)


async def unit_card(session: AsyncSession, unit: OwnedUnit, owner_id: int, today: date) -> UnitCard:
    payoff = await unit_payoff(session, unit.unit_id, today, owner_id)
    overdue = sum(line.total_fen for line in payoff.lines if line.due_date is not None and line.due_date < today)
    upcoming = [line.due_date for line in payoff.lines if line.due_date is not None and line.due_date >= today]
    next_due = min(upcoming) if upcoming else _next_cycle_due(unit.estate, today) if unit.current else None
    return UnitCard(unit, payoff, overdue, next_due, (next_due - today).days if next_due else None)


def find_unit(units: list[OwnedUnit], unit_id: int) -> OwnedUnit:
    """One of the owner's units; any other id is not found (an owner cannot probe others' ids)."""
    for unit in units:
        if unit.unit_id == unit_id:
            return unit
    raise NotFound(f"unit {unit_id} is not one of yours")


async def statement(session: AsyncSession, who: Reader, unit: OwnedUnit, today: date) -> Statement:
    """The owner's statement of the last twelve months, as the API builds it, in their language."""
    await can_read_unit(session, who.principal, unit.unit_id)
    start, end = default_range(today)
    return await build_statement(
        session, unit.unit_id, today, start, end, owner_id=who.owner_id, with_payoff=True, locale=who.locale
    )


async def payments(session: AsyncSession, who: Reader, page: int, page_size: int) -> tuple[list[PaymentOut], int]:
    """One page of the owner's payments, newest first (``GET /owners/me/payments``); audited."""
    ids, total = await owners.owner_payment_ids(session, who.owner_id, (page - 1) * page_size, page_size)
    masking = masking_for(who.principal)
    items = [payment.masked(masking) for payment in await lookup.payments_out(session, ids)]
    await owners.audit_read(session, who.principal, "payments.list", "owner", who.owner_id)
    return items, total


async def owner_letters(session: AsyncSession, who: Reader, units: list[OwnedUnit]) -> list[Letter]:
    """The letters addressed to the owner's own account, newest first."""
    found = [
        letter
        for unit in units
        for letter in await letters.unit_letters(session, unit.unit_id)
        if letter.owner_id == who.owner_id
    ]
    return sorted(found, key=lambda x: (x.issued_on, x.id or 0), reverse=True)


async def letter_pdf(session: AsyncSession, who: Reader, letter_id: int, files: FileStore) -> tuple[Letter, bytes]:
    """The letter as issued, if it is addressed to the owner (any other id: not found)."""
    mine = await session.get(Letter, letter_id)
    if mine is None or mine.owner_id != who.owner_id:
        raise NotFound(f"letter {letter_id} is not yours")
    letter, _, pdf = await letters.letter_pdf(session, letter_id, files)
    return letter, pdf


async def my_complaints(session: AsyncSession, who: Reader, unit: OwnedUnit) -> list[Complaint]:
    """What the owner reported for the unit, newest first (``GET /units/{id}/complaints``)."""
    return list(reversed(await complaints.unit_complaints(session, who.principal, unit.unit_id)))


async def file_complaint(
    session: AsyncSession, who: Reader, unit: OwnedUnit, data: ComplaintCreate, now: datetime, form_key: str
) -> Complaint:
    """File through the complaint workflow (its 24-hour clock starts now). The form's own key is the
    request's Idempotency-Key: the same form sent twice (a double tap, a retry after a lost answer)
    files one complaint."""
    return await complaints.file_complaint(session, who.principal, unit.unit_id, data, now, form_key)
