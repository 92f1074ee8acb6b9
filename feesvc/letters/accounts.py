"""The accounts a reminder run reads: each owner's open debts at a unit, and who the owners are.

An account is an owner at a unit (DOMAIN.md, "Change of owner"): the ledger's charges and late fees
still open, by the owner each entry carries (the owner of the period), read in one query as the
ledger stands at the moment of the run, so nobody who has paid gets a reminder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import func
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.letters.policy import Position
from feesvc.registry.models import Building, Owner, Ownership, Unit
from feesvc.registry.service import ownership_covering

OWNER_BATCH = 10_000  # unit ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766
# An owner's account at a unit: (unit id, owner id). None: debts written before entries carried
# their owner, until they are given the unit's current owner (give_orphans_the_current_owner).
Account = tuple[int, int | None]


@dataclass
class Debt:
    period: str | None
    item: str | None
    kind: str
    open_fen: int
    due: date
    charge_id: int  # the charge itself, or the charge a late fee accrued on


@dataclass
class UnitFacts:
    """One account's open debts at a unit (its owner's, not the unit's)."""

    unit_id: int
    owner_id: int | None
    building: str
    building_id: int
    number: str
    debts: list[Debt] = field(default_factory=list)

    def owes_principal(self, as_of: date) -> bool:
        return any(d.kind == EntryKind.charge and d.due < as_of and d.open_fen > 0 for d in self.debts)

    def position(self, as_of: date) -> Position:
        overdue = [d for d in self.debts if d.due < as_of]
        upcoming = [d.due for d in self.debts if d.due >= as_of]
        return Position(
            unit_id=self.unit_id,
            oldest_overdue_due=min((d.due for d in overdue), default=None),
            overdue_fen=sum(d.open_fen for d in overdue),
            next_unpaid_due=min(upcoming, default=None),
        )


async def unit_debts(session: AsyncSession, estate_id: int, as_of: date) -> dict[Account, UnitFacts]:
    """Every account of the estate with something open on its charges and late fees, in one query:
    the debts of each unit by the owner each entry carries (the owner of the period)."""
    settling = aliased(LedgerEntry)
    settled = (
        select(settling.settles_entry_id.label("entry_id"), func.sum(settling.amount_fen).label("fen"))  # type: ignore[union-attr]
        .where(settling.estate_id == estate_id, col(settling.settles_entry_id).is_not(None))
        .group_by(col(settling.settles_entry_id))
        .subquery()
    )
    charge = aliased(LedgerEntry)
    open_fen = LedgerEntry.amount_fen + func.coalesce(settled.c.fen, 0)
    rows = await session.execute(
        select_columns(
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            col(LedgerEntry.period),
            col(LedgerEntry.item),
            col(LedgerEntry.kind),
            open_fen,
            func.coalesce(charge.due_date, LedgerEntry.due_date),
            func.coalesce(LedgerEntry.basis_entry_id, LedgerEntry.id),
        )
        .outerjoin(settled, settled.c.entry_id == LedgerEntry.id)
        .outerjoin(charge, col(charge.id) == LedgerEntry.basis_entry_id)
        .where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS), open_fen > 0)
    )
    units = {
        unit_id: (building, building_id, number)
        for unit_id, building, building_id, number in (
            await session.execute(
                select(Unit.id, Building.name, Building.id, Unit.number)
                .join(Building, col(Building.id) == Unit.building_id)
                .where(Unit.estate_id == estate_id)
            )
        ).all()
        if unit_id is not None and building_id is not None
    }
    accounts: dict[Account, UnitFacts] = {}
    for unit_id, owner_id, period, item, kind, fen, due, charge_id in rows.all():
        if due is not None and unit_id in units:
            facts = accounts.get((unit_id, owner_id))
            if facts is None:
                facts = accounts[(unit_id, owner_id)] = UnitFacts(unit_id, owner_id, *units[unit_id])
            facts.debts.append(Debt(period, item, kind, int(fen), due, int(charge_id)))
    return accounts


@dataclass
class Owners:
    """The owners of the accounts that reached a stage, and which of them still own their unit."""

    by_id: dict[int, Owner] = field(default_factory=dict)
    # (unit, owner) whose ownership has not ended before the run's day: current (or future) owners.
    owning: set[tuple[int, int]] = field(default_factory=set)

    def former(self, unit_id: int, owner_id: int) -> bool:
        return (unit_id, owner_id) not in self.owning


async def owners_of(session: AsyncSession, unit_ids: Sequence[int], on: date) -> Owners:
    """Every owner of these units, past and present: only the units that reached a stage, a fifth of
    a large estate's, so a tenth of the time of reading every owner (a sold unit adds a row)."""
    owners = Owners()
    for start in range(0, len(unit_ids), OWNER_BATCH):  # databases cap the parameters of one query
        rows = await session.execute(
            select(col(Ownership.unit_id), col(Ownership.ends_on), Owner)
            .join(Owner, col(Owner.id) == Ownership.owner_id)
            .where(col(Ownership.unit_id).in_(unit_ids[start : start + OWNER_BATCH]))
        )
        for unit_id, ends_on, owner in rows.all():
            assert owner.id is not None
            owners.by_id[owner.id] = owner
            if ends_on is None or ends_on >= on:
                owners.owning.add((unit_id, owner.id))
    return owners


async def _current_owner_ids(session: AsyncSession, unit_ids: Sequence[int], on: date) -> dict[int, int]:
    owners: dict[int, int] = {}
    for start in range(0, len(unit_ids), OWNER_BATCH):
        rows = await session.execute(
            select(Ownership.unit_id, Ownership.owner_id).where(
                col(Ownership.unit_id).in_(unit_ids[start : start + OWNER_BATCH]), ownership_covering(on)
            )
        )
        owners.update((unit_id, owner_id) for unit_id, owner_id in rows.all())
    return owners


async def give_orphans_the_current_owner(session: AsyncSession, accounts: dict[Account, UnitFacts], on: date) -> None:
    """Debts whose entries carry no owner (written before they did) are the current owner's. Rare:
    one query for the few units that have them, none otherwise."""
    orphans = [account for account in accounts if account[1] is None]
    if not orphans:
        return
    current = await _current_owner_ids(session, [unit_id for unit_id, _ in orphans], on)
    for unit_id, _ in orphans:
        owner_id = current.get(unit_id)
        if owner_id is None:
            continue  # no owner on record: the run reports it as such
        facts = accounts.pop((unit_id, None))
        into = accounts.setdefault((unit_id, owner_id), replace(facts, owner_id=owner_id, debts=[]))
        into.debts.extend(facts.debts)
