"""What the evidence pack shows, read from the database once (``collect``), and which charges are
claimed.

A pack is for **one owner's periods** (DOMAIN.md "Change of owner": the defendant is the owner of the
periods claimed). Everything read is that owner's: the ledger entries of the owner's account (and any
entry settling, reversing or accruing on one of them), the letters addressed to the owner and their
delivery, the limitation events of the owner's periods, plans, cases and complaints of the owner,
and only the owner's own ownerships of the unit. A record made before entries carried an owner is the
owner's who held the unit on its day.

Which owner: the request names one (``owner_id``). Without a name the pack is for the only owner with
arrears on the unit; a unit with arrears of several owners is refused, listing them, so the user
chooses (a pack against the wrong defendant is worse than a question).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.models import ArrearsCase, ArrearsNote
from feesvc.arrears.schemas import CauseHistoryOut
from feesvc.arrears.views import cause_history
from feesvc.errors import Conflict
from feesvc.latefees.unit import UnitFeeTerms, unit_fee_terms
from feesvc.ledger.limitation import LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entries_as_of
from feesvc.letters.models import DeliveryRecord, Letter
from feesvc.payments.models import Payment, Receipt, receipt_number
from feesvc.plans.schemas import PlanOut
from feesvc.plans.service import unit_plans
from feesvc.registry.masking import mask_name
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import get_unit
from feesvc.service_records.models import Complaint, ComplaintStep, ServiceActivity
from feesvc.service_records.service import business_date, steps_of
from feesvc.standards.models import FeeStandard


@dataclass
class CaseRecord:
    case: ArrearsCase
    history: CauseHistoryOut
    notes: list[ArrearsNote]


@dataclass
class PackData:
    as_of: date
    owner_id: int | None  # the defendant: whose periods the pack claims (None: no owner recorded)
    estate: Estate
    unit: Unit
    building: Building
    ownerships: list[tuple[Ownership, Owner]]  # the defendant's own ownerships of the unit
    owners: dict[int, Owner]
    entries: list[LedgerEntry]
    standards: dict[int, FeeStandard]
    fee_terms: UnitFeeTerms  # the late-fee terms over time, court rates and plan freezes (latefees.unit)
    letters: list[Letter]
    deliveries: dict[int, list[DeliveryRecord]]
    events: list[LimitationEvent]
    plans: list[PlanOut]
    cases: list[CaseRecord]
    complaints: list[tuple[Complaint, list[ComplaintStep]]]
    activity: dict[str, dict[str, int]]  # period → activity kind → count
    receipts: dict[int, str]  # payment id → receipt number
    claimed_periods: list[str]


def claimed_charges(entries: Sequence[LedgerEntry], as_of: date) -> list[LedgerEntry]:
    """Charges overdue on ``as_of`` with principal or a posted late fee still open."""
    settled: dict[int, int] = defaultdict(int)
    late_open: dict[int, int] = defaultdict(int)
    for entry in entries:
        if entry.settles_entry_id is not None:
            settled[entry.settles_entry_id] += entry.amount_fen
    for entry in entries:
        if entry.kind == EntryKind.late_fee and entry.basis_entry_id is not None and entry.id is not None:
            late_open[entry.basis_entry_id] += entry.amount_fen + settled[entry.id]
    claimed = []
    for entry in entries:
        if entry.kind != EntryKind.charge or entry.id is None or entry.due_date is None or entry.due_date >= as_of:
            continue
        if entry.amount_fen + settled[entry.id] > 0 or late_open[entry.id] > 0:
            claimed.append(entry)
    return claimed


def period_of(entry: LedgerEntry) -> str:
    return entry.period or (entry.due_date or entry.effective_date).strftime("%Y-%m")


def owner_on(ownerships: Sequence[tuple[Ownership, Owner]], day: date) -> int | None:
    """Who held the unit on ``day`` (``None`` when nobody is recorded)."""
    for ownership, owner in ownerships:
        if ownership.starts_on <= day and (ownership.ends_on is None or ownership.ends_on >= day):
            return owner.id
    return None


def entry_owner(entry: LedgerEntry, ownerships: Sequence[tuple[Ownership, Owner]]) -> int | None:
    """The owner of an entry: the one it carries, else who held the unit when its period began."""
    if entry.owner_id is not None:
        return entry.owner_id
    day = date(int(entry.period[:4]), int(entry.period[5:7]), 1) if entry.period else entry.effective_date
    return owner_on(ownerships, day)


def owners_entries(
    entries: Sequence[LedgerEntry], owner_id: int | None, ownerships: Sequence[tuple[Ownership, Owner]]
) -> list[LedgerEntry]:
    """The entries of the owner's account, with every entry that settles, reverses or accrues on one
    of them (a payment from another account designated to the owner's debt is part of that debt's
    history); nothing else of the unit."""
    if owner_id is None:
        return list(entries)
    kept = {e.id for e in entries if entry_owner(e, ownerships) == owner_id}
    # Entries refer to earlier ones; two passes also catch a reversal of a settlement.
    for _ in range(2):
        for e in entries:
            if e.id not in kept and ({e.settles_entry_id, e.reverses_entry_id, e.basis_entry_id} & kept):
                kept.add(e.id)
    return [e for e in entries if e.id in kept]


def owners_events(events: Sequence[LimitationEvent], owner_id: int | None) -> list[LimitationEvent]:
    """The limitation events of the owner: each event records whose periods it interrupted (a demand
    delivered to the buyer interrupts nothing for the seller). An event without an owner (nobody on
    record for its period) stays with the periods it names."""
    if owner_id is None:
        return list(events)
    return [event for event in events if event.owner_id in (None, owner_id)]


def _whose(record_owner: int | None, ownerships: Sequence[tuple[Ownership, Owner]], day: date) -> int | None:
    return record_owner if record_owner is not None else owner_on(ownerships, day)


def _owners_with_arrears(
    claimed: Sequence[LedgerEntry], ownerships: Sequence[tuple[Ownership, Owner]]
) -> dict[int | None, list[str]]:
    """Owner → the periods of their claimed charges, in the order of their first period."""
    periods: dict[int | None, set[str]] = defaultdict(set)
    for entry in sorted(claimed, key=period_of):
        periods[entry_owner(entry, ownerships)].add(period_of(entry))
    return {owner: sorted(found) for owner, found in periods.items()}


async def _owner_names(
    session: AsyncSession, ownerships: Sequence[tuple[Ownership, Owner]], owner_ids: Sequence[int]
) -> dict[int, str]:
    """Masked names (a problem detail may end up in a log)."""
    known = {owner.id: owner.name for _, owner in ownerships if owner.id is not None}
    missing = [o for o in owner_ids if o not in known]
    if missing:
        for owner in (await session.execute(select(Owner).where(col(Owner.id).in_(missing)))).scalars():
            if owner.id is not None:
                known[owner.id] = owner.name
    return {o: mask_name(known[o]) for o in owner_ids if o in known}


async def collect(session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None = None) -> PackData:
    """Everything the pack shows for one owner's periods, read in one pass; refuses a unit (or an
    owner) with nothing overdue, and a unit with arrears of several owners when none is named."""
    unit, building = await get_unit(session, unit_id)
    assert unit.id is not None
    estate = await session.get(Estate, unit.estate_id)
    assert estate is not None and estate.id is not None
    unit_entries = await entries_as_of(session, unit.id, as_of)
    unit_claimed = claimed_charges(unit_entries, as_of)
    if not unit_claimed:
        raise Conflict(
            f"unit {unit_id} has no arrears on {as_of}: nothing overdue is open, so there is no claim to prove",
            field="unit_id",
        )
    unit_ownerships = [
        (row[0], row[1])
        for row in (
            await session.execute(
                select(Ownership, Owner)
                .join(Owner, col(Owner.id) == Ownership.owner_id)
                .where(Ownership.unit_id == unit.id)
                .order_by(col(Ownership.starts_on))
            )
        ).all()
    ]
    with_arrears = _owners_with_arrears(unit_claimed, unit_ownerships)
    if owner_id is None:
        if len(with_arrears) > 1:
            names = await _owner_names(session, unit_ownerships, [o for o in with_arrears if o is not None])
            listed = "; ".join(
                f"owner_id {owner} ({names.get(owner, '?') if owner is not None else 'no owner recorded'}): "
                + ", ".join(periods)
                for owner, periods in with_arrears.items()
            )
            raise Conflict(
                f"unit {unit_id} has arrears of {len(with_arrears)} owners on {as_of}; an evidence pack is for one "
                f"owner's periods: name the owner (owner_id). Owners with arrears: {listed}",
                field="owner_id",
            )
        owner_id = next(iter(with_arrears))
    elif owner_id not in with_arrears:
        raise Conflict(
            f"owner {owner_id} has no arrears on unit {unit_id} on {as_of}; owners with arrears: "
            + ", ".join(str(o) for o in with_arrears if o is not None),
            field="owner_id",
        )
    entries = owners_entries(unit_entries, owner_id, unit_ownerships)
    claimed = claimed_charges(entries, as_of)
    periods = sorted({period_of(e) for e in claimed})

    ownerships = [(o, w) for o, w in unit_ownerships if owner_id is None or w.id == owner_id]
    owners = {owner.id: owner for _, owner in ownerships if owner.id is not None}
    if owner_id is not None and owner_id not in owners:
        owner = await session.get(Owner, owner_id)
        if owner is not None:
            owners[owner_id] = owner

    standards = {
        s.id: s
        for s in (await session.execute(select(FeeStandard).where(FeeStandard.estate_id == estate.id))).scalars()
        if s.id is not None
    }
    letters = list(
        x
        for x in (
            await session.execute(
                select(Letter)
                .where(Letter.unit_id == unit.id, col(Letter.issued_on) <= as_of)
                .order_by(col(Letter.issued_on), col(Letter.id))
            )
        ).scalars()
        # Letters addressed to the defendant only: a letter to another owner proves no demand on them.
        if owner_id is None or _whose(x.owner_id, unit_ownerships, x.issued_on) == owner_id
    )
    deliveries: dict[int, list[DeliveryRecord]] = defaultdict(list)
    if letters:
        rows = await session.execute(
            select(DeliveryRecord)
            .where(
                col(DeliveryRecord.letter_id).in_([x.id for x in letters]), col(DeliveryRecord.delivered_on) <= as_of
            )
            .order_by(col(DeliveryRecord.delivered_on), col(DeliveryRecord.id))
        )
        for record in rows.scalars():
            deliveries[record.letter_id].append(record)
    unit_events = list(
        (
            await session.execute(
                select(LimitationEvent)
                .where(LimitationEvent.unit_id == unit.id, col(LimitationEvent.occurred_on) <= as_of)
                .order_by(col(LimitationEvent.occurred_on), col(LimitationEvent.id))
            )
        ).scalars()
    )
    # A plan signed on paper is entered later, dated as signed: it counts from that date (its
    # acknowledgement and freeze do), whenever the record was made.
    plans = [
        p
        for p in await unit_plans(session, unit.id, as_of)
        if (business_date(p.created_at) <= as_of or (p.agreed_on is not None and p.agreed_on <= as_of))
        and (owner_id is None or _whose(p.owner_id, unit_ownerships, business_date(p.created_at)) == owner_id)
    ]
    plans.sort(key=lambda p: p.id)
    events = owners_events(unit_events, owner_id)

    cases = []
    for case in (
        await session.execute(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id).order_by(col(ArrearsCase.id)))
    ).scalars():
        if owner_id is not None and _whose(case.owner_id, unit_ownerships, business_date(case.opened_at)) != owner_id:
            continue
        notes = list(
            (
                await session.execute(
                    select(ArrearsNote)
                    .where(ArrearsNote.case_id == case.id, col(ArrearsNote.noted_on) <= as_of)
                    .order_by(col(ArrearsNote.noted_on), col(ArrearsNote.id))
                )
            ).scalars()
        )
        cases.append(CaseRecord(case, await cause_history(session, case), notes))

    complaints = [
        c
        for c in (
            await session.execute(
                select(Complaint).where(Complaint.unit_id == unit.id).order_by(col(Complaint.opened_at))
            )
        ).scalars()
        if business_date(c.opened_at) <= as_of
        and (owner_id is None or _whose(c.owner_id, unit_ownerships, business_date(c.opened_at)) == owner_id)
    ]
    steps = await steps_of(session, [c.id for c in complaints if c.id is not None])
    complaint_rows = [(c, [s for s in steps.get(c.id or 0, []) if business_date(s.at) <= as_of]) for c in complaints]

    activity: dict[str, dict[str, int]] = defaultdict(dict)
    activity_rows = await session.execute(
        select(col(ServiceActivity.period), col(ServiceActivity.kind), func.sum(ServiceActivity.count))
        .where(
            ServiceActivity.estate_id == estate.id,
            col(ServiceActivity.period) >= periods[0],
            col(ServiceActivity.period) <= periods[-1],
            or_(col(ServiceActivity.building_id).is_(None), col(ServiceActivity.building_id) == building.id),
        )
        .group_by(col(ServiceActivity.period), col(ServiceActivity.kind))
    )
    for period, kind, count in activity_rows.all():
        activity[period][str(kind)] = int(count)

    payment_ids = {e.payment_id for e in entries if e.payment_id is not None}
    receipts: dict[int, str] = {}
    if payment_ids:
        for payment_id, year, seq in (
            await session.execute(
                select(col(Payment.id), col(Receipt.year), col(Receipt.seq))
                .join(Receipt, col(Receipt.payment_id) == Payment.id)
                .where(col(Payment.id).in_(payment_ids))
            )
        ).all():
            if payment_id is not None:
                receipts[payment_id] = receipt_number(year, seq)

    return PackData(
        as_of=as_of,
        owner_id=owner_id,
        estate=estate,
        unit=unit,
        building=building,
        ownerships=ownerships,
        owners=owners,
        entries=entries,
        standards=standards,
        fee_terms=await unit_fee_terms(session, estate.id, unit.id, as_of),
        letters=letters,
        deliveries=dict(deliveries),
        events=events,
        plans=plans,
        cases=cases,
        complaints=complaint_rows,
        activity=dict(activity),
        receipts=receipts,
        claimed_periods=periods,
    )
