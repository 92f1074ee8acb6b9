"""The billing run: one charge per unit, item and period, issued once however often it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import and_, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.attention import UnitReport, report, unit_isolated
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.billing.models import BillingRun
from feesvc.billing.rules import charge_amount, due_date, is_cycle_start, vacant_long_enough
from feesvc.db import utcnow
from feesvc.errors import InvalidInput
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import apply_prepaid_credit, insert_entry_rows
from feesvc.plans.standing import covered_charge_ids
from feesvc.prepay.difference import bill_prepaid_differences
from feesvc.registry.models import AllocationOrder, Estate, Ownership, Unit, VacancyNotice
from feesvc.registry.service import get_estate, ownership_covering
from feesvc.schemas import period_start
from feesvc.standards.models import Basis, FeeStandard
from feesvc.standards.service import standards_in_force


class BillingResult(msgspec.Struct):
    run_id: int
    estate_id: int
    period: str
    issued_on: date
    charges_issued: int
    charges_already_issued: int
    units_without_standard: int
    credit_applied_fen: int
    # Prepaid periods a newer fee standard applies to: the differences billed (+) or credited (−).
    prepaid_differences: int = 0
    prepaid_difference_fen: int = 0
    # Units the run left out (nothing written for them), with the reason: somebody must look.
    needs_attention: list[UnitReport] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class _UnitToBill:
    id: int
    use: str
    area: Decimal
    owner_id: int | None


def charge_key(unit_id: int, item: str, period: str, reissue: int = 0) -> str:
    """The dedupe key of a unit's charge for an item and period. A charge that was reversed (a
    refunded prepayment, a correction) keeps its key, so the next one is a re-issue: ``#1``, ``#2``…
    Every run computes the same key for the same state, so racing runs still post it once."""
    key = f"charge:{unit_id}:{item}:{period}"
    return f"{key}#{reissue}" if reissue else key


async def charge_slots(
    session: AsyncSession, period: str, *, estate_id: int | None = None, unit_id: int | None = None
) -> dict[tuple[int, str], int | None]:
    """(unit, item) → None when a standing charge for ``period`` exists, else how many reversed ones
    do (the re-issue number of the next). Pairs without any charge are absent."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(reversal.id).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    query = select(col(LedgerEntry.unit_id), col(LedgerEntry.item), reversed_).where(
        LedgerEntry.kind == EntryKind.charge, LedgerEntry.period == period
    )
    if estate_id is not None:
        query = query.where(LedgerEntry.estate_id == estate_id)
    if unit_id is not None:
        query = query.where(LedgerEntry.unit_id == unit_id)
    slots: dict[tuple[int, str], int | None] = {}
    for unit, item, was_reversed in (await session.execute(query)).all():
        slot = (unit, item or "")
        if not was_reversed:
            slots[slot] = None
        elif slot not in slots or slots[slot] is not None:
            slots[slot] = (slots.get(slot) or 0) + 1
    return slots


async def _units_with_owner(session: AsyncSession, estate_id: int, on: date) -> list[_UnitToBill]:
    rows = await session.execute(
        select(col(Unit.id), col(Unit.use), col(Unit.floor_area_m2), col(Ownership.owner_id))
        .outerjoin(Ownership, and_(col(Ownership.unit_id) == Unit.id, ownership_covering(on)))
        .where(Unit.estate_id == estate_id)
        .order_by(col(Unit.id))
    )
    return [_UnitToBill(unit_id, use, area, owner) for unit_id, use, area, owner in rows.all() if unit_id]


async def _vacant_units(session: AsyncSession, estate: Estate, start: date) -> set[int]:
    if not estate.vacancy_rule_enabled:
        return set()
    rows = await session.execute(
        select(col(VacancyNotice.unit_id), col(VacancyNotice.starts_on), col(VacancyNotice.ends_on))
        .join(Unit, col(Unit.id) == VacancyNotice.unit_id)
        .where(Unit.estate_id == estate.id, VacancyNotice.notified_on <= start)
    )
    return {
        unit_id
        for unit_id, starts, ends in rows.all()
        if vacant_long_enough(starts, ends, start, estate.vacancy_min_months)
    }


def _charge_row(
    estate: Estate,
    unit: _UnitToBill,
    standard: FeeStandard,
    period: str,
    start: date,
    issued_on: date,
    vacant: bool,
    actor: str,
    reissue: int = 0,
) -> dict[str, Any] | None:
    ratio = estate.vacancy_payable_ratio if vacant and standard.basis == Basis.per_m2_month else Decimal(1)
    amount = charge_amount(standard.basis, standard.rate, unit.area, estate.cycle_months, ratio)
    if amount == 0:
        return None
    detail: dict[str, Any] = {
        "basis": standard.basis,
        "rate": str(standard.rate),
        "months": estate.cycle_months,
        "item_name": standard.item_name,
    }
    if standard.basis == Basis.per_m2_month:
        detail["area_m2"] = str(unit.area)
    if ratio != 1:
        detail["vacancy_payable_ratio"] = str(ratio)
    return {
        "estate_id": estate.id,
        "unit_id": unit.id,
        "owner_id": unit.owner_id,
        "kind": EntryKind.charge,
        "amount_fen": amount,
        "effective_date": issued_on,
        "period": period,
        "period_months": estate.cycle_months,
        "item": standard.item,
        "due_date": due_date(start, estate.due_day),
        "fee_standard_id": standard.id,
        "dedupe_key": charge_key(unit.id, standard.item, period, reissue),
        "actor": actor,
        "detail": detail,
        "created_at": utcnow(),
        "settles_entry_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": None,
        "payment_id": None,
        "reason": None,
    }


async def unit_charge_rows(
    session: AsyncSession, estate: Estate, unit: Unit, period: str, issued_on: date, actor: str
) -> list[dict[str, Any]]:
    """The charges the billing run would issue to one unit for ``period``, the same rows with the same
    dedupe keys (prepayment books them ahead, so the later run skips them)."""
    assert estate.id is not None and unit.id is not None
    start = period_start(period)
    owner = select(Ownership.owner_id).where(Ownership.unit_id == unit.id, ownership_covering(start))
    target = _UnitToBill(unit.id, unit.use, unit.floor_area_m2, (await session.execute(owner.limit(1))).scalar())
    vacant = unit.id in await _vacant_units(session, estate, start)
    slots = await charge_slots(session, period, unit_id=unit.id)
    rows = [
        _charge_row(
            estate, target, standard, period, start, issued_on, vacant, actor, slots.get((unit.id, standard.item)) or 0
        )
        for standard in await standards_in_force(session, estate.id, start)
        if standard.unit_use == unit.use
    ]
    return [row for row in rows if row is not None]


async def _units_holding_credit(session: AsyncSession, estate_id: int) -> list[int]:
    settling = aliased(LedgerEntry)
    settled = (
        select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(settling.settles_entry_id == LedgerEntry.id)
        .scalar_subquery()
    )
    query = select(LedgerEntry.unit_id).where(
        LedgerEntry.estate_id == estate_id,
        LedgerEntry.kind == EntryKind.prepaid_credit,
        LedgerEntry.amount_fen + settled != 0,
    )
    return sorted({unit_id for (unit_id,) in (await session.execute(query.distinct())).all()})


async def _insert_by_unit(
    session: AsyncSession, by_unit: dict[int, list[dict[str, Any]]], reports: list[UnitReport]
) -> list[int]:
    """Insert the units' charges, all at once; if that fails, unit by unit, each unit in a savepoint,
    so the units whose charges cannot be written are reported and the others issued. Returns the units
    whose charges went in."""
    everything = [row for rows in by_unit.values() for row in rows]
    failed: list[UnitReport] = []
    async with unit_isolated(session, 0, failed):
        await insert_entry_rows(session, everything)
    if not failed:
        return list(by_unit)
    issued = []
    for unit_id, rows in by_unit.items():
        before = len(reports)
        async with unit_isolated(session, unit_id, reports):
            await insert_entry_rows(session, rows)
        if len(reports) == before:
            issued.append(unit_id)
    return issued


async def _apply_credit_by_unit(
    session: AsyncSession,
    unit_ids: list[int],
    order: AllocationOrder,
    on: date,
    actor: Principal,
    in_plan: frozenset[int],
    reports: list[UnitReport],
) -> int:
    """Prepaid credit applied for all the units at once; if that fails, unit by unit (as above)."""
    failed: list[UnitReport] = []
    applied = 0
    async with unit_isolated(session, 0, failed):
        applied = await apply_prepaid_credit(session, unit_ids, order, on, actor, late_fees_last_for=in_plan)
    if not failed:
        return applied
    applied = 0
    for unit_id in unit_ids:
        before, got = len(reports), 0
        async with unit_isolated(session, unit_id, reports):
            got = await apply_prepaid_credit(session, [unit_id], order, on, actor, late_fees_last_for=in_plan)
        applied += got if len(reports) == before else 0
    return applied


async def run_billing(
    session: AsyncSession, actor: Principal, estate_id: int, period: str, issued_on: date
) -> BillingResult:
    estate = await get_estate(session, estate_id, field="estate_id")
    start = period_start(period)
    if not is_cycle_start(start, estate.cycle_months):
        raise InvalidInput(
            f"this estate bills every {estate.cycle_months} months; {period} does not start a cycle",
            field="period",
        )
    standards = await standards_in_force(session, estate_id, start)
    by_use: dict[str, list[FeeStandard]] = {}
    for standard in standards:
        by_use.setdefault(standard.unit_use, []).append(standard)
    slots = await charge_slots(session, period, estate_id=estate_id)
    vacant = await _vacant_units(session, estate, start)
    by_unit: dict[int, list[dict[str, Any]]] = {}
    reports: list[UnitReport] = []
    without_standard = 0
    for unit in await _units_with_owner(session, estate_id, start):
        unit_standards = by_use.get(unit.use, [])
        if not unit_standards:
            without_standard += 1
        unit_rows = []
        try:
            for standard in unit_standards:
                slot = (unit.id, standard.item)
                if slot in slots and slots[slot] is None:
                    continue  # a standing charge: issued before
                reissue = slots.get(slot) or 0
                row = _charge_row(
                    estate, unit, standard, period, start, issued_on, unit.id in vacant, actor.label, reissue
                )
                if row is not None:
                    unit_rows.append(row)
        except Exception as error:  # noqa: BLE001 - one unit's data must not stop the estate's run; reported
            report(reports, unit.id, error)
            continue
        if unit_rows:
            by_unit.setdefault(unit.id, []).extend(unit_rows)
    issued = await _insert_by_unit(session, by_unit, reports)
    differences = await bill_prepaid_differences(session, estate, period, issued_on, actor.label)

    in_plan = frozenset(await covered_charge_ids(session, issued_on, estate_id=estate_id))
    credit_applied = await _apply_credit_by_unit(
        session,
        await _units_holding_credit(session, estate_id),
        estate.allocation_order,
        issued_on,
        actor,
        in_plan,
        reports,
    )
    rows = [row for unit_id in issued for row in by_unit[unit_id]]

    run = (
        await session.execute(select(BillingRun).where(BillingRun.estate_id == estate_id, BillingRun.period == period))
    ).scalar_one_or_none()
    if run is None:
        run = BillingRun(estate_id=estate_id, period=period, actor=actor.label)
        session.add(run)
    run.charges_issued += len(rows)
    run.credit_applied_fen += credit_applied
    run.finished_at = utcnow()
    await session.flush()
    await record_audit(
        session,
        actor,
        "billing.run",
        "estate",
        estate_id,
        {
            "period": period,
            "charges_issued": len(rows),
            "credit_applied_fen": credit_applied,
            "prepaid_differences": differences.count,
            "prepaid_difference_fen": differences.net_fen,
            "needs_attention": [msgspec.to_builtins(r) for r in reports],
        },
    )
    await session.commit()
    assert run.id is not None
    return BillingResult(
        run_id=run.id,
        estate_id=estate_id,
        period=period,
        issued_on=issued_on,
        charges_issued=len(rows),
        charges_already_issued=sum(1 for reissue in slots.values() if reissue is None),
        units_without_standard=without_standard,
        credit_applied_fen=credit_applied,
        prepaid_differences=differences.count,
        prepaid_difference_fen=differences.net_fen,
        needs_attention=reports,
    )
