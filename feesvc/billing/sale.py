"""Charges brought in line with a unit's ownerships after a sale is recorded (过户, DOMAIN.md
"Change of owner").

A transfer may be recorded after the handover (backdated) or in the middle of a billed period: the
charges already issued then name the seller for days the buyer owns. Each such period's standing
charges are reversed and re-issued as the owners' shares (``billing.service.share_rows``, the
billing run's own split and keys), so every period is owed by the owner of its days:

* The reversal and the re-issued shares take effect on the reversed charge's date (its due date,
  if it was issued later): the charge was never owed as it was issued, so a statement of any day
  since shows the period owed by its owners, and the late-fee accrual finds nothing owed on the
  reversed charge: its next run posts the correction that brings the charge's late fees to zero
  (``latefees.corrections``: what was open stops being owed, a waiver is undone, what was paid
  becomes the payer's prepaid credit). The shares fall due on the period's due date, as they would
  have been billed, and accrue their own late fees from the next run.
* What was paid on a reversed charge (a payment's split, prepaid credit applied) is reversed on the
  day it was paid and held, from that day, as prepaid credit of the owner who paid it
  (``prepay.refund.paid_back_as_credit``): the seller's money is not lost and pays nobody else's
  debt unasked. The payment itself and its receipt stay as they were received.
* A charge something else settles (a prepayment's discount or rate difference, an adjustment) or
  that a kept installment plan covers is left as it is and reported: refund the prepayment or end
  the plan first, then reattribute again.

Every entry written here carries the reason and the actor; nothing is changed or deleted. Running
it again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, NamedTuple

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.attention import UnitReport
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.billing.service import UnownedDays, base_key, owner_shares, period_end, share_rows
from feesvc.db import utcnow
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, apply_prepaid_credit, insert_entry_rows, lock_unit, reversal_of
from feesvc.plans.standing import covered_charge_ids
from feesvc.prepay.refund import paid_back_as_credit
from feesvc.registry.models import Estate, Ownership
from feesvc.registry.service import get_estate, get_unit
from feesvc.rules.proration import Holding
from feesvc.schemas import period_start

# What a payer paid on a charge: moved to their prepaid credit when the charge is reversed.
_PAID_KINDS = frozenset({EntryKind.payment, EntryKind.credit_applied})
# Marks every entry written here (``detail``), so a reader (and migration 0012's down) finds them.
MARK = "reattributed"


class ReattributedPeriod(msgspec.Struct):
    period: str
    item: str
    reversed_entry_ids: list[int]
    reissued: list[tuple[int | None, int]]  # (owner, fen) of each share issued
    paid_to_credit_fen: int  # what was paid on the reversed charges, now the payers' prepaid credit
    reissued_keys: list[str] = msgspec.field(default_factory=list)  # the shares' dedupe keys


class ReattributionResult(msgspec.Struct):
    unit_id: int
    periods: list[ReattributedPeriod]
    # Days of a reattributed period no ownership covers: charged to nobody (billing.service).
    unowned: list[UnownedDays] = msgspec.field(default_factory=list)
    # Periods left as they were, with the reason: somebody must look.
    needs_attention: list[UnitReport] = msgspec.field(default_factory=list)


def reattribution_reason(period: str) -> str:
    """Why a charge was reversed: no owner named (an owner reads their own entries' reasons)."""
    return f"ownership recorded since this charge was issued: {period} is charged to the owner of each of its days"


async def _holdings(session: AsyncSession, unit_id: int) -> tuple[Holding, ...]:
    rows = await session.execute(
        select(col(Ownership.owner_id), col(Ownership.starts_on), col(Ownership.ends_on)).where(
            Ownership.unit_id == unit_id
        )
    )
    return tuple(Holding(owner_id, starts_on, ends_on) for owner_id, starts_on, ends_on in rows.all())


def _original_row(charge: LedgerEntry, on: date, actor: Principal, amount_fen: int) -> dict[str, Any]:
    """The period's charge as issued, as one row to split again: its amount is the period's, its
    detail without the share it stated."""
    detail = {k: v for k, v in (charge.detail or {}).items() if k not in _SHARE_KEYS and k != MARK}
    return {
        "estate_id": charge.estate_id,
        "unit_id": charge.unit_id,
        "owner_id": None,
        "kind": EntryKind.charge,
        "amount_fen": amount_fen,
        "effective_date": on,
        "period": charge.period,
        "period_months": charge.period_months,
        "item": charge.item,
        "due_date": charge.due_date,
        "fee_standard_id": charge.fee_standard_id,
        "dedupe_key": None,
        "actor": actor.label,
        "detail": detail,
        "created_at": utcnow(),
        "settles_entry_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": None,
        "payment_id": None,
        "reason": None,
    }


_SHARE_KEYS = frozenset({"owner_days", "period_days", "first_day", "last_day", "period_amount_fen", "rounding"})


async def reattribute_charges(
    session: AsyncSession, actor: Principal, unit_id: int, today: date, *, commit: bool = True
) -> ReattributionResult:
    """Bring the unit's issued charges in line with its ownerships (module docstring). ``today``:
    the business day of the change, stated on its entries. ``commit=False``: the caller commits
    (recording a transfer does, with the ownership)."""
    unit, _ = await get_unit(session, unit_id)
    estate = await get_estate(session, unit.estate_id)
    result = ReattributionResult(unit_id=unit_id, periods=[])
    # Read without the unit's lock first: a transfer without charges to move (nearly every one)
    # writes nothing and does not raise the unit's ledger version; then again under the lock.
    if not (await _changes(session, estate, unit_id, actor))[0]:
        return result
    await lock_unit(session, unit_id)
    changed, reversed_ids = await _changes(session, estate, unit_id, actor)
    in_plan = await covered_charge_ids(session, today, unit_id=unit_id)
    settlements = (
        await session.execute(
            select(LedgerEntry)
            .where(
                col(LedgerEntry.settles_entry_id).in_([c.id for change in changed for c in change.standing]),
                LedgerEntry.kind != EntryKind.reversal,
            )
            .order_by(col(LedgerEntry.id))
        )
    ).scalars()
    on_charge: dict[int | None, list[LedgerEntry]] = defaultdict(list)
    for entry in settlements:
        if entry.id not in reversed_ids:
            on_charge[entry.settles_entry_id].append(entry)
    for change in changed:
        what = f"{change.period} {change.standing[0].item}"
        others = [e for c in change.standing for e in on_charge[c.id] if e.kind not in _PAID_KINDS]
        if any(c.id in in_plan for c in change.standing):
            why = f"{what}: a kept installment plan covers its charge; end the plan, then reattribute"
            result.needs_attention.append(UnitReport(unit_id, why))
        elif others:
            why = (
                f"{what}: a {others[0].kind} entry ({others[0].id}) settles its charge; refund the prepayment "
                "or undo that entry first, then reattribute"
            )
            result.needs_attention.append(UnitReport(unit_id, why))
        else:
            result.periods.append(await _reattribute(session, actor, change, on_charge, today))
            result.unowned += change.unowned
    await _repay_own_shares(session, estate, unit_id, result, today, actor)
    await record_audit(session, actor, "charges.reattribute", "unit", unit_id, msgspec.to_builtins(result))
    if commit:
        await session.commit()
    return result


async def reissue_as_shares(
    session: AsyncSession, actor: Principal, estate: Estate, charge: LedgerEntry, today: date, payer_id: int
) -> tuple[list[tuple[int | None, int, int]], int]:
    """Issue a prepaid period a sale has just taken back (``charge``, reversed today: a handover
    inside it) again as the owners' shares, and pay ``payer_id``'s (the seller's) share at once from
    their prepaid credit, which the take-back has just given them. Returns each share as (owner,
    fen, days) and the fen paid.

    The shares take effect today, when the sale made them: until then the period stood prepaid as a
    whole, so a statement of any earlier day is unchanged. Both fall due no earlier than today:
    neither owner had a bill for them before (the period stood paid), and a late fee runs from a
    due date the debtor could know (a billing run's share would fall due at the handover)."""
    assert charge.period is not None
    first = period_start(charge.period)
    last = period_end(first, charge.period_months or estate.cycle_months)
    holdings = await _holdings(session, charge.unit_id)
    overlapping = tuple(h for h in holdings if h.starts_on <= last and (h.ends_on is None or h.ends_on >= first))
    shares = owner_shares(charge.amount_fen, first, last, overlapping, estate.sale_proration)
    issued = await session.execute(
        select(LedgerEntry.dedupe_key).where(
            LedgerEntry.unit_id == charge.unit_id,
            LedgerEntry.kind == EntryKind.charge,
            LedgerEntry.period == charge.period,
            LedgerEntry.item == charge.item,
        )
    )
    counts: dict[str, int] = defaultdict(int)
    for (key,) in issued.all():
        if key:
            counts[base_key(key)] += 1
    rows = share_rows(_original_row(charge, today, actor, charge.amount_fen), shares, counts, [], owned=True)
    for row in rows:
        row["detail"] = {**row["detail"], MARK: today.isoformat(), "reissues": [charge.id]}
        if row["due_date"] is not None:
            row["due_date"] = max(row["due_date"], today)
    await insert_entry_rows(session, rows)
    await session.flush()
    keys = [row["dedupe_key"] for row in rows if row["owner_id"] == payer_id]
    ids = await session.execute(select(LedgerEntry.id).where(col(LedgerEntry.dedupe_key).in_(keys)))
    only = frozenset(entry_id for (entry_id,) in ids.all() if entry_id is not None)
    paid = await apply_prepaid_credit(session, [charge.unit_id], estate.allocation_order, today, actor, only=only)
    await session.flush()
    return [(row["owner_id"], row["amount_fen"], row["detail"]["owner_days"]) for row in rows], paid


async def _repay_own_shares(
    session: AsyncSession, estate: Estate, unit_id: int, result: ReattributionResult, today: date, actor: Principal
) -> None:
    """What an owner paid on a re-issued period was paid for that period: it settles their own share
    of it first (the payer named the period); only the rest stays their credit."""
    keys = [key for period in result.periods if period.paid_to_credit_fen for key in period.reissued_keys]
    if not keys:
        return
    shares = await session.execute(select(LedgerEntry.id).where(col(LedgerEntry.dedupe_key).in_(keys)))
    only = frozenset(entry_id for (entry_id,) in shares.all() if entry_id is not None)
    await apply_prepaid_credit(session, [unit_id], estate.allocation_order, today, actor, only=only)
    await session.flush()  # the sale's settlement next reads what credit is left


async def _changes(
    session: AsyncSession, estate: Estate, unit_id: int, actor: Principal
) -> tuple[list[_Change], set[int | None]]:
    """The periods whose charges are not what the ownerships give, and the ids of reversed entries."""
    holdings = await _holdings(session, unit_id)
    charges = list(
        (
            await session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.charge)
                .order_by(col(LedgerEntry.period), col(LedgerEntry.id))
            )
        ).scalars()
    )
    reversed_ids = set(
        (
            await session.execute(
                select(LedgerEntry.reverses_entry_id).where(
                    LedgerEntry.unit_id == unit_id, col(LedgerEntry.reverses_entry_id).is_not(None)
                )
            )
        ).scalars()
    )
    by_slot: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for charge in charges:
        by_slot[(charge.period or "", charge.item or "")].append(charge)
    changed: list[_Change] = []
    for (period, _), issued in sorted(by_slot.items()):
        standing = [c for c in issued if c.id not in reversed_ids]
        if standing and period:
            change = _change(estate, holdings, period, issued, standing, actor)
            if change is not None:
                changed.append(change)
    return changed, reversed_ids


class _Change(NamedTuple):
    period: str
    standing: list[LedgerEntry]  # the period's charges as they stand, to reverse
    on: date  # the day they took effect (or fell due, if earlier)
    rows: list[dict[str, Any]]  # the owners' shares to issue instead
    unowned: list[UnownedDays]


def _change(
    estate: Estate,
    holdings: tuple[Holding, ...],
    period: str,
    issued: list[LedgerEntry],
    standing: list[LedgerEntry],
    actor: Principal,
) -> _Change | None:
    """What one period's charges of an item become under the ownerships; None: they are right."""
    first = period_start(period)
    last = period_end(first, standing[0].period_months or estate.cycle_months)
    total = sum(c.amount_fen for c in standing)
    # As the billing run: the ownerships of the period; none on record, the period is nobody's in particular.
    overlapping = tuple(h for h in holdings if h.starts_on <= last and (h.ends_on is None or h.ends_on >= first))
    shares = owner_shares(total, first, last, overlapping, estate.sale_proration)
    # Every charge of the slot is reversed once this is done: the shares are re-issues past them all.
    counts: dict[str, int] = defaultdict(int)
    for charge in issued:
        if charge.dedupe_key:
            counts[base_key(charge.dedupe_key)] += 1
    on = min(min(c.effective_date, c.due_date or c.effective_date) for c in standing)
    unowned: list[UnownedDays] = []
    rows = share_rows(_original_row(standing[0], on, actor, total), shares, counts, unowned, owned=bool(overlapping))
    if sorted((r["owner_id"] or 0, r["amount_fen"]) for r in rows) == sorted(
        (c.owner_id or 0, c.amount_fen) for c in standing
    ):
        return None
    return _Change(period, standing, on, rows, unowned)


async def _reattribute(
    session: AsyncSession,
    actor: Principal,
    change: _Change,
    on_charge: dict[int | None, list[LedgerEntry]],
    today: date,
) -> ReattributedPeriod:
    """Reverse one period's standing charges (and what was paid on them) and issue the shares."""
    reason = reattribution_reason(change.period)
    mark = {MARK: today.isoformat()}
    entries: list[LedgerEntry] = []
    paid_to_credit = 0
    for charge in change.standing:
        for paid in on_charge.get(charge.id, []):
            # What was paid: undone on the day it was paid, and held for the payer from that day.
            undo = reversal_of(paid, paid.effective_date, actor, reason)
            undo.detail = dict(mark)
            credit = paid_back_as_credit([paid], None, paid.effective_date, actor)
            credit.detail = {**(credit.detail or {}), **mark, "from_payment_id": paid.payment_id, "reason": reason}
            entries += [undo, credit]
            paid_to_credit -= paid.amount_fen
        # The charge never was owed as issued: undone from the day it took effect.
        undo = reversal_of(charge, change.on, actor, reason)
        undo.detail = dict(mark)
        entries.append(undo)
    append(session, entries)
    standing_ids = [c.id for c in change.standing if c.id is not None]
    for row in change.rows:
        row["detail"] = {**row["detail"], **mark, "reissues": standing_ids}
    await insert_entry_rows(session, change.rows)
    await session.flush()
    return ReattributedPeriod(
        period=change.period,
        item=change.standing[0].item or "",
        reversed_entry_ids=standing_ids,
        reissued=[(r["owner_id"], r["amount_fen"]) for r in change.rows],
        reissued_keys=[r["dedupe_key"] for r in change.rows],
        paid_to_credit_fen=paid_to_credit,
    )
