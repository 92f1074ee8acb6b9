"""What the evidence pack shows, read from the database once (``collect``), and which charges are
claimed.
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
from feesvc.arrears.service import cause_history
from feesvc.errors import Conflict
from feesvc.latefees.unit import UnitFeeTerms, unit_fee_terms
from feesvc.ledger.limitation import LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entries_as_of
from feesvc.letters.models import DeliveryRecord, Letter
from feesvc.payments.models import Payment, Receipt, receipt_number
from feesvc.plans.schemas import PlanOut
from feesvc.plans.service import unit_plans
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
    estate: Estate
    unit: Unit
    building: Building
    ownerships: list[tuple[Ownership, Owner]]
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


async def collect(session: AsyncSession, unit_id: int, as_of: date) -> PackData:
    """Everything the pack shows, read in one pass; refuses a unit with nothing overdue."""
    unit, building = await get_unit(session, unit_id)
    assert unit.id is not None
    estate = await session.get(Estate, unit.estate_id)
    assert estate is not None and estate.id is not None
    entries = await entries_as_of(session, unit.id, as_of)
    claimed = claimed_charges(entries, as_of)
    if not claimed:
        raise Conflict(
            f"unit {unit_id} has no arrears on {as_of}: nothing overdue is open, so there is no claim to prove",
            field="unit_id",
        )
    periods = sorted({period_of(e) for e in claimed})

    ownerships = [
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
    owners = {owner.id: owner for _, owner in ownerships if owner.id is not None}
    missing_owners = {e.owner_id for e in claimed if e.owner_id is not None and e.owner_id not in owners}
    if missing_owners:
        for owner in (await session.execute(select(Owner).where(col(Owner.id).in_(missing_owners)))).scalars():
            assert owner.id is not None
            owners[owner.id] = owner

    standards = {
        s.id: s
        for s in (await session.execute(select(FeeStandard).where(FeeStandard.estate_id == estate.id))).scalars()
        if s.id is not None
    }
    letters = list(
        (
            await session.execute(
                select(Letter)
                .where(Letter.unit_id == unit.id, col(Letter.issued_on) <= as_of)
                .order_by(col(Letter.issued_on), col(Letter.id))
            )
        ).scalars()
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
    events = list(
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
        if business_date(p.created_at) <= as_of or (p.agreed_on is not None and p.agreed_on <= as_of)
    ]
    plans.sort(key=lambda p: p.id)

    cases = []
    for case in (
        await session.execute(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id).order_by(col(ArrearsCase.id)))
    ).scalars():
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
