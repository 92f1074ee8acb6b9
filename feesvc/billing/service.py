"""The billing run: one charge per unit, item and period, issued once however often it runs.

A period split by a handover (过户, DOMAIN.md "Change of owner") is charged to each owner for their
days (the estate's ``sale_proration``, ``rules.proration``): the period's amount is computed as for
a whole period, then split, one charge per owner, each stating its days and the rounding. Days no
ownership on record covers (before a new unit's first handover) are charged to nobody and reported
in the run's result. A unit with no ownership on record at all is billed whole, to nobody in
particular (``owner_id`` None), as it always was.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import and_, func, or_
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
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
from feesvc.registry.service import get_estate
from feesvc.rules.proration import ROUNDING_NOTE, Holding, SaleProration, Share, period_shares
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
    # Days of the period no ownership on record covers: charged to nobody (the developer's, before
    # a new unit's first handover, or a gap in the registry): somebody must bill them or fix it.
    unowned: list[UnownedDays] = msgspec.field(default_factory=list)


class UnownedDays(msgspec.Struct):
    unit_id: int
    item: str
    first_day: date
    last_day: date
    days: int
    amount_fen: int  # their share of the period's amount, not charged


class _UnitToBill(NamedTuple):
    """A unit as the run reads it (a tuple: 100,000 of them are made per run)."""

    id: int
    use: str
    area: Decimal
    # The ownerships overlapping the period, (owner, first day, last day or None); none: no owner on record.
    holdings: tuple[tuple[int, date, date | None], ...]


def charge_key(unit_id: int, item: str, period: str, reissue: int = 0, owner_id: int | None = None) -> str:
    """The dedupe key of a unit's charge for an item and period. A charge that was reversed (a
    refunded prepayment, a correction, a sale recorded late) keeps its key, so the next one is a
    re-issue: ``#1``, ``#2``… Every run computes the same key for the same state, so racing runs
    still post it once. An owner's share of a period split by a handover names the owner
    (``owner_id``); a whole period's charge does not, as before sales were split."""
    key = f"charge:{unit_id}:{item}:{period}" if owner_id is None else f"charge:{unit_id}:{item}:{period}:o{owner_id}"
    return f"{key}#{reissue}" if reissue else key


def base_key(dedupe_key: str) -> str:
    """A charge's key without its re-issue number."""
    return dedupe_key.partition("#")[0]


# (unit, item) → None when a standing charge for the period exists, else per key (without its
# re-issue number) how many reversed charges had it: the re-issue number of the next.
Slots = dict[tuple[int, str], dict[str, int] | None]


async def charge_slots(
    session: AsyncSession, period: str, *, estate_id: int | None = None, unit_id: int | None = None
) -> tuple[Slots, int]:
    """What was issued for ``period`` (see :data:`Slots`; pairs without any charge are absent), and
    how many charges of it stand (a period split by a handover: one per owner)."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(reversal.id).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    query = select_columns(
        col(LedgerEntry.unit_id), col(LedgerEntry.item), col(LedgerEntry.dedupe_key), reversed_
    ).where(col(LedgerEntry.kind) == EntryKind.charge, col(LedgerEntry.period) == period)
    if estate_id is not None:
        query = query.where(col(LedgerEntry.estate_id) == estate_id)
    if unit_id is not None:
        query = query.where(col(LedgerEntry.unit_id) == unit_id)
    slots: Slots = {}
    standing = 0
    for unit, item, key, was_reversed in (await session.execute(query)).all():
        slot = (unit, item or "")
        if not was_reversed:
            slots[slot] = None
            standing += 1
            continue
        counts = slots.setdefault(slot, {})
        if counts is not None:
            counts[base_key(key or "")] = counts.get(base_key(key or ""), 0) + 1
    return slots, standing


def period_end(start: date, months: int) -> date:
    """The last day of the period of ``months`` months from ``start`` (a month's first day)."""
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


async def _units_to_bill(session: AsyncSession, estate_id: int, first: date, last: date) -> list[_UnitToBill]:
    """The estate's units, each with the ownerships overlapping the period: one query for the run."""
    overlapping = and_(
        col(Ownership.unit_id) == Unit.id,
        col(Ownership.starts_on) <= last,
        or_(col(Ownership.ends_on).is_(None), col(Ownership.ends_on) >= first),
    )
    rows = await session.execute(
        select_columns(
            col(Unit.id),
            col(Unit.use),
            col(Unit.floor_area_m2),
            col(Ownership.owner_id),
            col(Ownership.starts_on),
            col(Ownership.ends_on),
        )
        .outerjoin(Ownership, overlapping)
        .where(col(Unit.estate_id) == estate_id)
        .order_by(col(Unit.id))
    )
    units: list[_UnitToBill] = []
    for unit_id, use, area, owner_id, starts_on, ends_on in rows.all():
        assert unit_id is not None  # a stored row
        holding = ((owner_id, starts_on, ends_on),) if owner_id is not None else ()
        if units and units[-1].id == unit_id:
            units[-1] = _UnitToBill(unit_id, use, area, units[-1].holdings + holding)
        else:
            units.append(_UnitToBill(unit_id, use, area, holding))
    return units


def owner_shares(
    amount_fen: int, first: date, last: date, holdings: tuple[Holding, ...], proration: SaleProration
) -> list[Share]:
    """Who is charged what of a period's amount: each owner's share (``rules.proration``); without
    any ownership on record, the whole period to nobody in particular (as before sales were split)."""
    days = (last - first).days + 1
    if not holdings:
        return [Share(None, first, last, days, days, amount_fen)]
    return period_shares(amount_fen, first, last, holdings, proration)


def share_detail(share: Share, period_fen: int) -> dict[str, Any]:
    """What a split charge states: the owner's days of the period's, which days, and the rounding."""
    return {
        "owner_days": share.days,
        "period_days": share.period_days,
        "first_day": share.first_day.isoformat(),
        "last_day": share.last_day.isoformat(),
        "period_amount_fen": period_fen,
        "rounding": ROUNDING_NOTE,
    }


def share_rows(
    row: dict[str, Any], shares: list[Share], counts: dict[str, int], unowned: list[UnownedDays], *, owned: bool
) -> list[dict[str, Any]]:
    """A whole period's charge ``row`` as the owners' shares of it (:func:`owner_shares`), each with
    its dedupe key, re-issued past the reversed charges ``counts`` has (:data:`Slots`). A share of
    the whole period keeps the whole period's key; a split share names its owner. ``owned``: the
    unit had an owner on record in the period; then days nobody owned are charged to nobody, and
    go to ``unowned``."""
    unit_id, item, period = row["unit_id"], row["item"], row["period"]
    owners = [share.owner_id for share in shares]
    rows = []
    for share in shares:
        if share.owner_id is None and owned:
            unowned.append(UnownedDays(unit_id, item, share.first_day, share.last_day, share.days, share.amount_fen))
            continue
        if share.amount_fen == 0:
            continue
        if share.whole_period:
            reissue = counts.get(charge_key(unit_id, item, period), 0)
            rows.append({**row, "owner_id": share.owner_id, "dedupe_key": charge_key(unit_id, item, period, reissue)})
            continue
        key = charge_key(unit_id, item, period, owner_id=share.owner_id)
        if owners.count(share.owner_id) > 1:  # owned twice in the period (sold, bought back): and its first day
            key = f"{key}:{share.first_day.isoformat()}"
        reissue = counts.get(key, 0)
        rows.append(
            {
                **row,
                "owner_id": share.owner_id,
                "amount_fen": share.amount_fen,
                # An owner cannot be late before they own the unit: a buyer's share of a period
                # whose due date passed before the handover falls due on the handover day.
                "due_date": max(row["due_date"], share.first_day) if row["due_date"] else None,
                "dedupe_key": f"{key}#{reissue}" if reissue else key,
                "detail": {**(row["detail"] or {}), **share_detail(share, row["amount_fen"])},
            }
        )
    return rows


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


def _charge_rows(
    estate: Estate,
    unit: _UnitToBill,
    standard: FeeStandard,
    period: str,
    start: date,
    last: date,
    issued_on: date,
    vacant: bool,
    actor: str,
    counts: dict[str, int],
    unowned: list[UnownedDays],
) -> list[dict[str, Any]]:
    """The unit's charges for one standard and period: the period's amount, as each owner's share."""
    ratio = estate.vacancy_payable_ratio if vacant and standard.basis == Basis.per_m2_month else Decimal(1)
    amount = charge_amount(standard.basis, standard.rate, unit.area, estate.cycle_months, ratio)
    if amount == 0:
        return []
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
    row = {
        "estate_id": estate.id,
        "unit_id": unit.id,
        "owner_id": None,
        "kind": EntryKind.charge,
        "amount_fen": amount,
        "effective_date": issued_on,
        "period": period,
        "period_months": estate.cycle_months,
        "item": standard.item,
        "due_date": due_date(start, estate.due_day),
        "fee_standard_id": standard.id,
        "dedupe_key": None,
        "actor": actor,
        "detail": detail,
        "created_at": utcnow(),
        "settles_entry_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": None,
        "payment_id": None,
        "reason": None,
    }
    holdings = unit.holdings
    if not holdings or (len(holdings) == 1 and holdings[0][1] <= start and (holdings[0][2] or last) >= last):
        # One owner the whole period (or none on record), as nearly every unit: the whole period's
        # charge, as owner_shares and share_rows would make it, without their cost at 100,000 units.
        whole = charge_key(unit.id, standard.item, period)
        row["owner_id"] = holdings[0][0] if holdings else None
        row["dedupe_key"] = charge_key(unit.id, standard.item, period, counts.get(whole, 0)) if counts else whole
        return [row]
    held = tuple(Holding(*holding) for holding in holdings)
    return share_rows(row, owner_shares(amount, start, last, held, estate.sale_proration), counts, unowned, owned=True)


async def unit_holdings(
    session: AsyncSession, unit_id: int, first: date, last: date
) -> tuple[tuple[int, date, date | None], ...]:
    """The unit's ownerships overlapping the days ``first`` to ``last``: (owner, first day, last day)."""
    rows = await session.execute(
        select(col(Ownership.owner_id), col(Ownership.starts_on), col(Ownership.ends_on)).where(
            Ownership.unit_id == unit_id,
            col(Ownership.starts_on) <= last,
            or_(col(Ownership.ends_on).is_(None), col(Ownership.ends_on) >= first),
        )
    )
    return tuple((owner_id, starts_on, ends_on) for owner_id, starts_on, ends_on in rows.all())


async def unit_charge_rows(
    session: AsyncSession, estate: Estate, unit: Unit, period: str, issued_on: date, actor: str
) -> list[dict[str, Any]]:
    """The charges the billing run would issue to one unit for ``period``, the same rows with the same
    dedupe keys (prepayment books them ahead, so the later run skips them): a period split by a
    handover as each owner's share."""
    assert estate.id is not None and unit.id is not None
    start = period_start(period)
    last = period_end(start, estate.cycle_months)
    holdings = await unit_holdings(session, unit.id, start, last)
    target = _UnitToBill(unit.id, unit.use, unit.floor_area_m2, holdings)
    vacant = unit.id in await _vacant_units(session, estate, start)
    slots, _ = await charge_slots(session, period, unit_id=unit.id)
    rows = []
    for standard in await standards_in_force(session, estate.id, start):
        if standard.unit_use == unit.use:
            counts = slots.get((unit.id, standard.item)) or {}
            rows += _charge_rows(estate, target, standard, period, start, last, issued_on, vacant, actor, counts, [])
    return rows


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
    slots, already_issued = await charge_slots(session, period, estate_id=estate_id)
    vacant = await _vacant_units(session, estate, start)
    by_unit: dict[int, list[dict[str, Any]]] = {}
    reports: list[UnitReport] = []
    unowned: list[UnownedDays] = []
    without_standard = 0
    last = period_end(start, estate.cycle_months)
    for unit in await _units_to_bill(session, estate_id, start, last):
        unit_standards = by_use.get(unit.use, [])
        if not unit_standards:
            without_standard += 1
        unit_rows = []
        unit_unowned: list[UnownedDays] = []
        try:
            for standard in unit_standards:
                slot = (unit.id, standard.item)
                if slot in slots and slots[slot] is None:
                    continue  # a standing charge: issued before (a sale recorded since: billing.sale)
                unit_rows += _charge_rows(
                    estate,
                    unit,
                    standard,
                    period,
                    start,
                    last,
                    issued_on,
                    unit.id in vacant,
                    actor.label,
                    slots.get(slot) or {},
                    unit_unowned,
                )
        except Exception as error:  # noqa: BLE001 - one unit's data must not stop the estate's run; reported
            report(reports, unit.id, error)
            continue
        unowned += unit_unowned
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
            "unowned": [msgspec.to_builtins(u) for u in unowned[:100]],
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
        charges_already_issued=already_issued,
        units_without_standard=without_standard,
        credit_applied_fen=credit_applied,
        prepaid_differences=differences.count,
        prepaid_difference_fen=differences.net_fen,
        needs_attention=reports,
        unowned=unowned,
    )
