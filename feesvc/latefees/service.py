"""The late-fee accrual run, court-likely rates and waivers.

The run is idempotent: for each overdue charge it computes the late fee owed up to ``as_of``
from the charge's whole history (its due date, every change of its unpaid principal, plan
freezes) and posts only the difference from what was posted before. A rerun posts nothing;
paying the principal stops the accrual because the unpaid base drops to zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.latefees.models import CourtRate
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, insert_entry_rows, lock_unit, open_entries
from feesvc.plans.models import InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import Estate, LateFeeCap
from feesvc.registry.service import get_estate
from feesvc.rules.late_fees import LateFee, LateFeePolicy, PrincipalChange, court_likely_fee, late_fee_for
from feesvc.standards.models import FeeStandard


class AccrualResult(msgspec.Struct):
    estate_id: int
    as_of: date
    charges_considered: int
    late_fees_posted: int
    posted_fen: int


@dataclass
class OverdueCharge:
    id: int
    unit_id: int
    owner_id: int | None
    amount_fen: int
    due_date: date
    period: str | None
    item: str | None
    daily_rate: Decimal
    changes: list[PrincipalChange]
    last_change: date | None = None
    posted_fen: int = 0
    last_posted: date | None = None


def policy_for(estate: Estate, daily_rate: Decimal) -> LateFeePolicy:
    return LateFeePolicy(
        daily_rate=daily_rate,
        grace_days=estate.grace_days,
        cap=LateFeeCap(estate.late_fee_cap),
        cap_fen=estate.late_fee_cap_fen,
        starts_on=estate.late_fee_starts_on,
    )


def segments_detail(fee: LateFee) -> list[dict[str, Any]]:
    return [
        {
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "days": s.days,
            "base_fen": s.base_fen,
            "daily_rate": str(s.daily_rate),
        }
        for s in fee.segments
    ]


async def _overdue_charges(session: AsyncSession, estate: Estate, as_of: date) -> dict[int, OverdueCharge]:
    last_due = as_of - timedelta(days=estate.grace_days + 1)
    rows = await session.execute(
        select(LedgerEntry, col(FeeStandard.late_fee_daily_rate))
        .outerjoin(FeeStandard, col(FeeStandard.id) == LedgerEntry.fee_standard_id)
        .where(
            LedgerEntry.estate_id == estate.id,
            LedgerEntry.kind == EntryKind.charge,
            col(LedgerEntry.due_date) <= last_due,
            LedgerEntry.effective_date <= as_of,
        )
    )
    charges = {}
    for entry, override in rows.all():
        assert entry.id is not None and entry.due_date is not None
        charges[entry.id] = OverdueCharge(
            id=entry.id,
            unit_id=entry.unit_id,
            owner_id=entry.owner_id,
            amount_fen=entry.amount_fen,
            due_date=entry.due_date,
            period=entry.period,
            item=entry.item,
            daily_rate=override if override is not None else estate.late_fee_daily_rate,
            changes=[],
        )
    return charges


async def _principal_changes(
    session: AsyncSession, estate_id: int, charges: dict[int, OverdueCharge], as_of: date
) -> None:
    """Every day a charge's unpaid principal changed: payments, credit, discounts, reversals."""
    settling = aliased(LedgerEntry)
    target = aliased(LedgerEntry)
    rows = await session.execute(
        select(col(settling.settles_entry_id), col(settling.effective_date), func.sum(settling.amount_fen))
        .join(target, col(target.id) == settling.settles_entry_id)
        .where(target.estate_id == estate_id, target.kind == EntryKind.charge, settling.effective_date <= as_of)
        .group_by(col(settling.settles_entry_id), col(settling.effective_date))
        .order_by(col(settling.settles_entry_id), col(settling.effective_date))
    )
    running: dict[int, int] = {}
    for charge_id, day, amount in rows.all():
        charge = charges.get(charge_id or 0)
        if charge is None:
            continue
        unpaid = running.get(charge.id, charge.amount_fen) + int(amount)
        running[charge.id] = unpaid
        charge.changes.append(PrincipalChange(on=day, unpaid_fen=max(unpaid, 0)))
        charge.last_change = day


async def _posted(session: AsyncSession, estate_id: int, charges: dict[int, OverdueCharge]) -> None:
    rows = await session.execute(
        select(col(LedgerEntry.basis_entry_id), func.sum(LedgerEntry.amount_fen), func.max(LedgerEntry.effective_date))
        .where(LedgerEntry.estate_id == estate_id, LedgerEntry.kind == EntryKind.late_fee)
        .group_by(col(LedgerEntry.basis_entry_id))
    )
    for charge_id, total, last in rows.all():
        if charge_id in charges:
            charges[charge_id].posted_fen = int(total)
            charges[charge_id].last_posted = last


async def frozen_intervals(session: AsyncSession, estate_id: int, as_of: date) -> dict[int, list[tuple[date, date]]]:
    """Charge id → the days a kept installment plan froze its late fee."""
    rows = await session.execute(
        select(
            col(PlanCharge.entry_id),
            col(InstallmentPlan.agreed_on),
            col(InstallmentPlan.ended_on),
            col(InstallmentPlan.state),
        )
        .join(InstallmentPlan, col(InstallmentPlan.id) == PlanCharge.plan_id)
        .where(
            InstallmentPlan.estate_id == estate_id,
            col(InstallmentPlan.agreed_on).is_not(None),
        )
    )
    frozen: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for entry_id, agreed_on, ended_on, state in rows.all():
        # A broken plan stops freezing on the day it broke; a kept or completed one froze throughout.
        ended = state in (PlanState.broken, PlanState.cancelled) and ended_on is not None
        end = ended_on - timedelta(days=1) if ended and ended_on else as_of
        if agreed_on is not None:
            frozen[entry_id].append((agreed_on, end))
    return frozen


async def court_rates(session: AsyncSession, estate_id: int) -> list[tuple[date, Decimal]]:
    rows = await session.execute(
        select(col(CourtRate.effective_from), col(CourtRate.annual_rate))
        .where(CourtRate.estate_id == estate_id)
        .order_by(col(CourtRate.effective_from))
    )
    return [(day, rate) for day, rate in rows.all()]


async def accrue_late_fees(session: AsyncSession, actor: Principal, estate_id: int, as_of: date) -> AccrualResult:
    estate = await get_estate(session, estate_id, field="estate_id")
    charges = await _overdue_charges(session, estate, as_of)
    await _principal_changes(session, estate_id, charges, as_of)
    await _posted(session, estate_id, charges)
    frozen = await frozen_intervals(session, estate_id, as_of)
    rates = await court_rates(session, estate_id)
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for charge in charges.values():
        settled_since_last_run = charge.last_change is not None and (
            charge.last_posted is None or charge.last_change > charge.last_posted
        )
        still_open = not charge.changes or charge.changes[-1].unpaid_fen > 0
        if not (still_open or settled_since_last_run):
            continue  # paid before the last run: nothing more can accrue
        row = late_fee_row(estate, charge, as_of, frozen.get(charge.id, []), rates, actor.label, now)
        if row is not None:
            rows.append(row)
    await insert_entry_rows(session, rows)
    posted = sum(r["amount_fen"] for r in rows)
    await record_audit(
        session,
        actor,
        "late_fees.accrue",
        "estate",
        estate_id,
        {"as_of": as_of.isoformat(), "entries": len(rows), "posted_fen": posted},
    )
    await session.commit()
    return AccrualResult(
        estate_id=estate_id, as_of=as_of, charges_considered=len(charges), late_fees_posted=len(rows), posted_fen=posted
    )


def late_fee_row(
    estate: Estate,
    charge: OverdueCharge,
    as_of: date,
    freezes: list[tuple[date, date]],
    rates: list[tuple[date, Decimal]],
    actor: str,
    now: datetime,
) -> dict[str, Any] | None:
    """The late-fee entry that brings a charge's posted fees up to what is owed on ``as_of``, with
    how it was computed; None when nothing more is owed."""
    fee = late_fee_for(
        charge.amount_fen, charge.due_date, charge.changes, as_of, policy_for(estate, charge.daily_rate), freezes
    )
    increment = fee.total_fen - charge.posted_fen
    if increment <= 0:
        return None
    court = (
        court_likely_fee(charge.amount_fen, charge.due_date, charge.changes, as_of, estate.grace_days, rates, freezes)
        if rates
        else None
    )
    return {
        "estate_id": estate.id,
        "unit_id": charge.unit_id,
        "owner_id": charge.owner_id,
        "kind": EntryKind.late_fee,
        "amount_fen": increment,
        "effective_date": as_of,
        "period": charge.period,
        "period_months": None,
        "item": charge.item,
        "due_date": charge.due_date,
        "fee_standard_id": None,
        "settles_entry_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": charge.id,
        "payment_id": None,
        "dedupe_key": f"late_fee:{charge.id}:{as_of}",
        "actor": actor,
        "reason": None,
        "created_at": now,
        "detail": {
            "principal_fen": charge.amount_fen,
            "due_date": charge.due_date.isoformat(),
            "grace_days": estate.grace_days,
            "daily_rate": str(charge.daily_rate),
            "cap": estate.late_fee_cap,
            "cap_fen": estate.late_fee_cap_fen,
            "capped": fee.capped,
            "segments": segments_detail(fee),
            "total_to_date_fen": fee.total_fen,
            "previously_posted_fen": charge.posted_fen,
            "frozen": [[a.isoformat(), b.isoformat()] for a, b in freezes],
            "court_likely_fen": court.total_fen if court else None,
        },
    }


async def add_court_rate(
    session: AsyncSession, actor: Principal, estate_id: int, effective_from: date, annual_rate: Decimal, basis: str
) -> CourtRate:
    await get_estate(session, estate_id)
    if not Decimal(0) < annual_rate < Decimal(1):
        raise InvalidInput("an annual rate is a fraction between 0 and 1, e.g. 0.0390", field="annual_rate")
    exists = select(CourtRate.id).where(CourtRate.estate_id == estate_id, CourtRate.effective_from == effective_from)
    if (await session.execute(exists)).first():
        raise Conflict("a court-likely rate already starts on that date", field="effective_from")
    rate = CourtRate(
        estate_id=estate_id, effective_from=effective_from, annual_rate=annual_rate, basis=basis, actor=actor.label
    )
    session.add(rate)
    await session.flush()
    await record_audit(
        session,
        actor,
        "court_rate.add",
        "estate",
        estate_id,
        {"effective_from": effective_from.isoformat(), "annual_rate": str(annual_rate), "basis": basis},
    )
    await session.commit()
    return rate


async def waive_late_fee(
    session: AsyncSession, actor: Principal, entry_id: int, amount_fen: int | None, reason: str, today: date
) -> LedgerEntry:
    """Waive a posted late fee, fully or in part (民法典 575): a waiver entry that settles it."""
    fee = await session.get(LedgerEntry, entry_id)
    if fee is None or fee.kind != EntryKind.late_fee:
        raise NotFound(f"late fee {entry_id} does not exist", field="entry_id")
    await lock_unit(session, fee.unit_id)
    open_fen = dict((e.id, o) for e, o in await open_entries(session, fee.unit_id, frozenset({EntryKind.late_fee})))
    available = open_fen.get(entry_id, 0)
    amount = available if amount_fen is None else amount_fen
    if available <= 0:
        raise Conflict("nothing is left open on this late fee", field="entry_id")
    if amount > available:
        raise InvalidInput(f"at most {available} fen of this late fee is open", field="amount_fen")
    waiver = waiver_entry(fee, amount, today, actor, reason)
    append(session, [waiver])
    await session.flush()
    await record_audit(
        session, actor, "late_fee.waive", "ledger_entry", entry_id, {"amount_fen": amount, "reason": reason}
    )
    await session.commit()
    return waiver


def waiver_entry(fee: LedgerEntry, amount_fen: int, on: date, actor: Principal, reason: str) -> LedgerEntry:
    return LedgerEntry(
        estate_id=fee.estate_id,
        unit_id=fee.unit_id,
        owner_id=fee.owner_id,
        kind=EntryKind.waiver,
        amount_fen=-amount_fen,
        effective_date=on,
        period=fee.period,
        item=fee.item,
        due_date=fee.due_date,
        settles_entry_id=fee.id,
        basis_entry_id=fee.basis_entry_id,
        actor=actor.label,
        reason=reason,
    )
