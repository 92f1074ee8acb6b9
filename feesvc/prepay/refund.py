"""Refunding prepaid periods not yet served (DOMAIN.md "Prepay discount", ledger rule 6).

The refunded periods' charges, discounts and payment splits are reversed: their whole discount is
taken back. What was paid for them is held as prepaid credit; each prepayment's periods kept are
re-priced at the tier their own count reaches (feesvc.rules.prepay.reprice_kept), the credit
settles what that takes back, and the rest is paid back to the owner.

``take_back_periods`` is that work without the route's checks and commit; a sale (feesvc.sales)
calls it for the seller's prepaid periods from the handover on (``prepaid_charges_from``), whether
or not they have started, since from the handover they are served to the buyer, and leaves what
was paid as the seller's credit, to refund it or, with the seller's consent, move it to the buyer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, reversal_of
from feesvc.payments.models import Method, Payment
from feesvc.payments.refunds import refund_entry
from feesvc.prepay.difference import KEY_PREFIX
from feesvc.prepay.schemas import KeptPeriodsOut, PrepayRefundCreate, PrepayRefundOut
from feesvc.prepay.service import (
    cycle_period,
    estate_tiers,
    ledger_entries,
    next_period,
    not_reversed,
    tier_out,
    tiers_detail,
)
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.rules.prepay import DiscountTier, discount_to_take_back, refund_terms, reprice_kept
from feesvc.schemas import period_start

# What settles a prepaid charge: its discount, the prepayment's split, and the credit a refund used
# on it to cover a take-back (a later refund of that period returns the two last alike).
_PAID_KINDS = frozenset({EntryKind.payment, EntryKind.credit_applied})
_REFUNDABLE_KINDS = _PAID_KINDS | {EntryKind.discount}


async def _prepayments_of(
    session: AsyncSession, charges: Sequence[LedgerEntry], settlements: Sequence[LedgerEntry]
) -> dict[int, Payment]:
    """The prepayments that booked ``charges``, by payment id."""
    ids = {s.payment_id for s in settlements if s.payment_id is not None}
    ids |= {
        int((s.detail or {})["prepayment_payment_id"])
        for s in settlements
        if "prepayment_payment_id" in (s.detail or {})
    }
    if not ids:
        return {}
    charge_ids = {c.id for c in charges}
    payments = (await session.execute(select(Payment).where(col(Payment.id).in_(ids)))).scalars()
    return {
        p.id: p for p in payments if p.id is not None and charge_ids & set((p.designation or {}).get("entry_ids", []))
    }


@dataclass
class _Refunded:
    """One prepayment's part of a refund (or, key None, what no prepayment booked)."""

    paid: list[LedgerEntry]  # payment and credit settlements of its refunded charges
    credit: LedgerEntry | None = None
    kept: KeptPeriodsOut | None = None


def _is_difference(entry: LedgerEntry) -> bool:
    """A rate difference billed on a prepaid period (feesvc.prepay.difference)."""
    return (entry.dedupe_key or "").startswith(KEY_PREFIX)


def paid_back_as_credit(
    paid: Sequence[LedgerEntry], payment_id: int | None, today: date, actor: Principal
) -> LedgerEntry:
    """What was paid for refunded periods, held for the owner again as prepaid credit.

    It names the payment in ``detail``, not in ``payment_id``: the payment's own entries stay as
    they were received, so its receipt and the cash-up of its day do not change.
    """
    first = paid[0]
    return LedgerEntry(
        estate_id=first.estate_id,
        unit_id=first.unit_id,
        owner_id=first.owner_id,
        kind=EntryKind.prepaid_credit,
        amount_fen=sum(e.amount_fen for e in paid),
        effective_date=today,
        actor=actor.label,
        detail={"prepayment_payment_id": payment_id, "from_entry_ids": [e.id for e in paid]},
    )


async def _booked_terms(
    session: AsyncSession, prepayment: Payment, estate_id: int
) -> tuple[list[DiscountTier], Decimal | None]:
    """The tier schedule the prepayment was booked under (stored with its discount since issue 14;
    older bookings: the estate's schedule today) and the percent it was booked at."""
    assert prepayment.id is not None
    booked = await ledger_entries(
        session, LedgerEntry.payment_id == prepayment.id, LedgerEntry.kind == EntryKind.discount
    )
    detail = (booked[0].detail or {}) if booked else {}
    percent = Decimal(detail["percent_off"]) if "percent_off" in detail else None
    if "tiers" in detail:
        return [DiscountTier(int(t["min_months"]), Decimal(t["percent_off"])) for t in detail["tiers"]], percent
    return await estate_tiers(session, estate_id), percent


async def _reprice_kept(
    session: AsyncSession,
    estate: Estate,
    prepayment: Payment,
    from_period: str,
    differences: dict[int, list[dict[str, Any]]],
    reason: str,
    today: date,
    actor: Principal,
) -> tuple[KeptPeriodsOut | None, list[tuple[LedgerEntry, int]]]:
    """Re-price the prepayment's periods before ``from_period`` at the tier their own count reaches:
    reverse each kept charge's discount that is now too large and post the smaller one. Returns what
    was kept and, per kept charge, the fen of discount it lost (now open on the charge)."""
    assert prepayment.id is not None and estate.id is not None
    kept = await ledger_entries(
        session,
        col(LedgerEntry.id).in_((prepayment.designation or {}).get("entry_ids", [])),
        col(LedgerEntry.period) < from_period,
        not_reversed(prepayment.unit_id),
    )
    if not kept:
        return None, []
    # A kept period a newer fee standard applies to holds its difference too: re-priced with it.
    held = [differences.get(c.id or 0, []) for c in kept]
    gross = [c.amount_fen + sum(int(d["gross_difference_fen"]) for d in ds) for c, ds in zip(kept, held, strict=True)]
    in_differences = [sum(int(d["discount_fen"]) for d in ds) for ds in held]
    discounts = await ledger_entries(
        session,
        col(LedgerEntry.settles_entry_id).in_([c.id for c in kept]),
        LedgerEntry.kind == EntryKind.discount,
        not_reversed(prepayment.unit_id),
    )
    on: dict[int | None, list[LedgerEntry]] = defaultdict(list)
    for discount in discounts:
        on[discount.settles_entry_id].append(discount)
    tiers, percent = await _booked_terms(session, prepayment, estate.id)
    current = [-sum(d.amount_fen for d in on[c.id]) + part for c, part in zip(kept, in_differences, strict=True)]
    periods = sorted({c.period or "" for c in kept})
    months = len(periods) * estate.cycle_months
    repriced = reprice_kept(gross, [max(had, 0) for had in current], months, tiers, percent)
    entries: list[LedgerEntry] = []
    lost: list[tuple[LedgerEntry, int]] = []
    tier = repriced.tier
    for charge, had, share, part in zip(kept, current, repriced.shares, in_differences, strict=True):
        if share == had:
            continue
        assert charge.id is not None
        entries += [reversal_of(d, today, actor, reason) for d in on[charge.id]]
        # What the discount entry carries: the share less what the differences carry already; below
        # zero (a difference's discount the new tier no longer gives), an adjustment takes it back.
        fen = share - part
        if fen < 0:
            detail: dict[str, Any] = {
                "prepayment_payment_id": prepayment.id,
                "difference_discount_taken_back_fen": -fen,
            }
            entries.append(_against_charge(charge, EntryKind.adjustment, -fen, today, actor, reason, detail))
        if fen > 0:
            assert tier is not None  # a share above what the differences carry needs a tier
            detail = {
                "tier": tier.min_months,
                "percent_off": str(tier.percent_off),
                "prepayment_payment_id": prepayment.id,
                "months": months,
                "tiers": tiers_detail(tiers),
                "repriced_on_refund": True,
            }
            entries.append(_against_charge(charge, EntryKind.discount, -fen, today, actor, reason, detail))
        lost.append((charge, had - share))
    append(session, entries)
    out = KeptPeriodsOut(
        payment_id=prepayment.id,
        periods=periods,
        months=months,
        tier=tier_out(tier) if tier is not None else None,
        discount_before_fen=sum(current),
        discount_fen=repriced.discount_fen,
        taken_back_fen=repriced.taken_back_fen,
    )
    return out, lost


def _against_charge(
    charge: LedgerEntry,
    kind: EntryKind,
    amount_fen: int,
    on: date,
    actor: Principal,
    reason: str,
    detail: dict[str, Any],
) -> LedgerEntry:
    """An entry that settles (or, positive, raises) one prepaid charge, with the refund's reason."""
    return LedgerEntry(
        estate_id=charge.estate_id,
        unit_id=charge.unit_id,
        owner_id=charge.owner_id,
        kind=kind,
        amount_fen=amount_fen,
        effective_date=on,
        period=charge.period,
        item=charge.item,
        settles_entry_id=charge.id,
        actor=actor.label,
        reason=reason,
        detail=detail,
    )


def _settle_from_credit(
    credit: LedgerEntry, lost: Sequence[tuple[LedgerEntry, int]], today: date, actor: Principal
) -> list[LedgerEntry]:
    """Pay the kept charges' take-back from the refund's credit, as far as it goes: per charge one
    entry consuming the credit and one settling the charge (the pair nets to zero)."""
    assert credit.id is not None
    left = -credit.amount_fen
    entries: list[LedgerEntry] = []
    for charge, fen in lost:
        take = min(fen, left)
        if take <= 0:
            continue
        left -= take
        entries.append(
            LedgerEntry(
                estate_id=charge.estate_id,
                unit_id=charge.unit_id,
                kind=EntryKind.credit_applied,
                owner_id=credit.owner_id,
                amount_fen=take,
                effective_date=today,
                settles_entry_id=credit.id,
                actor=actor.label,
                detail={"applied_to": charge.id},
            )
        )
        entries.append(
            LedgerEntry(
                estate_id=charge.estate_id,
                unit_id=charge.unit_id,
                kind=EntryKind.credit_applied,
                owner_id=charge.owner_id,
                amount_fen=-take,
                effective_date=today,
                period=charge.period,
                settles_entry_id=charge.id,
                actor=actor.label,
                detail={"credit_from": credit.id},
            )
        )
    return entries


async def refund_prepayment(
    session: AsyncSession, actor: Principal, unit_id: int, data: PrepayRefundCreate, today: date
) -> PrepayRefundOut:
    """Refund the periods from ``data.from_period`` on, not yet served: reverse their charges and
    discounts (their whole discount is taken back), re-price each prepayment's periods kept at the
    tier their own count reaches, settle what that takes back from what was paid for the refunded
    periods, and pay the rest back."""
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    assert unit.id is not None
    estate = await get_estate(session, unit.estate_id)
    if period_start(data.from_period) <= today:
        first = next_period(cycle_period(today, estate.cycle_months), estate.cycle_months)
        raise InvalidInput(
            f"{data.from_period} has started; only periods not yet served are refunded, from {first} on",
            field="from_period",
        )
    charges = await ledger_entries(
        session,
        LedgerEntry.unit_id == unit.id,
        LedgerEntry.kind == EntryKind.charge,
        col(LedgerEntry.period) >= data.from_period,
        not_reversed(unit.id),
    )
    if not charges:
        raise InvalidInput(f"nothing is booked for this unit from {data.from_period} on", field="from_period")
    result = await take_back_periods(
        session, actor, estate, unit.id, charges, data.from_period, data.reason, today, data.method
    )
    await record_audit(session, actor, "prepayment.refund", "unit", unit.id, msgspec.to_builtins(result))
    await session.commit()
    return result


async def prepaid_charges_from(
    session: AsyncSession, unit_id: int, owner_id: int, from_period: str
) -> list[LedgerEntry]:
    """The owner's charges from ``from_period`` on that a prepayment booked (its designation names
    them) and that stand: what a sale before they are served takes back (DOMAIN.md "Prepay discount")."""
    charges = await ledger_entries(
        session,
        LedgerEntry.unit_id == unit_id,
        LedgerEntry.kind == EntryKind.charge,
        LedgerEntry.owner_id == owner_id,
        col(LedgerEntry.period) >= from_period,
        not_reversed(unit_id),
    )
    if not charges:
        return []
    paid = await ledger_entries(
        session,
        col(LedgerEntry.settles_entry_id).in_([c.id for c in charges]),
        col(LedgerEntry.kind).in_(_PAID_KINDS),
        not_reversed(unit_id),
    )
    booked = {
        entry_id
        for p in (await _prepayments_of(session, charges, paid)).values()
        for entry_id in (p.designation or {}).get("entry_ids", [])
    }
    return [c for c in charges if c.id in booked]


async def take_back_periods(
    session: AsyncSession,
    actor: Principal,
    estate: Estate,
    unit_id: int,
    charges: Sequence[LedgerEntry],
    from_period: str,
    reason: str,
    today: date,
    method: Method | None,
) -> PrepayRefundOut:
    """Reverse ``charges`` (periods from ``from_period`` on, of a locked unit) with their discounts and
    what paid them, re-price the prepayments' periods kept, settle that take-back from what was paid,
    and pay the rest back by ``method``; ``method`` None leaves the rest as the payer's prepaid credit
    (a sale then refunds or transfers it). Adds the entries to the caller's transaction."""
    settlements = await ledger_entries(
        session,
        col(LedgerEntry.settles_entry_id).in_([c.id for c in charges]),
        LedgerEntry.kind != EntryKind.reversal,
        not_reversed(unit_id),
    )
    other = next((s for s in settlements if s.kind not in _REFUNDABLE_KINDS and not _is_difference(s)), None)
    if other is not None:
        raise Conflict(
            f"a {other.kind} entry ({other.id}) settles the charge of {other.period}; undo it first",
            field="from_period",
        )
    differences = await ledger_entries(
        session,
        LedgerEntry.unit_id == unit_id,
        col(LedgerEntry.dedupe_key).like(f"{KEY_PREFIX}%"),
        not_reversed(unit_id),
    )
    by_charge: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for difference in differences:
        by_charge[int((difference.detail or {})["prepaid_charge_id"])].append(difference.detail or {})
    refunded_ids = {c.id for c in charges}
    credits_back = [
        d
        for d in differences
        if d.kind == EntryKind.prepaid_credit and (d.detail or {})["prepaid_charge_id"] in refunded_ids
    ]
    spent = await ledger_entries(
        session,
        col(LedgerEntry.settles_entry_id).in_([d.id for d in credits_back]),
        LedgerEntry.kind != EntryKind.reversal,
        not_reversed(unit_id),
    )
    if spent:
        raise Conflict(
            f"the rate-difference credit (entry {spent[0].settles_entry_id}) of a refunded period has been "
            "used; refund from a later period",
            field="from_period",
        )
    prepayments = await _prepayments_of(session, charges, settlements)
    booked_by = {
        entry_id: payment_id
        for payment_id, p in prepayments.items()
        for entry_id in (p.designation or {}).get("entry_ids", [])
    }
    # The refunded periods' differences go with them: a rise settling the charge (in settlements), an
    # unused credit for a cut.
    append(session, [reversal_of(e, today, actor, reason) for e in [*settlements, *credits_back, *charges]])

    parts: dict[int | None, _Refunded] = {payment_id: _Refunded([]) for payment_id in sorted(prepayments)}
    for entry in settlements:
        if entry.kind in _PAID_KINDS:
            key = booked_by.get(entry.settles_entry_id or 0, entry.payment_id)
            parts.setdefault(key, _Refunded([])).paid.append(entry)
    for key, part in parts.items():
        if part.paid:
            part.credit = paid_back_as_credit(part.paid, key, today, actor)
    append(session, [p.credit for p in parts.values() if p.credit is not None])
    await session.flush()

    owed = refunded = 0
    for key, part in parts.items():
        lost: list[tuple[LedgerEntry, int]] = []
        if key in prepayments:
            part.kept, lost = await _reprice_kept(
                session, estate, prepayments[key], from_period, by_charge, reason, today, actor
            )
        applied = _settle_from_credit(part.credit, lost, today, actor) if part.credit is not None else []
        append(session, applied)
        used = sum(e.amount_fen for e in applied if e.amount_fen > 0)
        owed += sum(fen for _, fen in lost) - used
        left = -part.credit.amount_fen - used if part.credit is not None else 0
        if part.credit is not None and left > 0 and method is not None:
            append(session, [refund_entry(part.credit, left, today, actor, reason, method)])
            refunded += left
    discounts = [(s.period or "", -s.amount_fen) for s in settlements if s.kind == EntryKind.discount]
    discounts += [(c.period or "", int(d["discount_fen"])) for c in charges if c.id for d in by_charge.get(c.id, [])]
    periods = sorted({c.period for c in charges if c.period})
    kept = [p.kept for p in parts.values() if p.kept is not None]
    await session.flush()
    return PrepayRefundOut(
        unit_id=unit_id,
        from_period=from_period,
        periods=periods,
        charges_reversed_fen=sum(c.amount_fen for c in charges),
        discount_taken_back_fen=discount_to_take_back(discounts, set(periods)) + sum(k.taken_back_fen for k in kept),
        refunded_fen=refunded,
        owed_fen=owed,
        method=method or Method.bank_transfer,
        prepayment_payment_ids=sorted(k for k, p in parts.items() if k is not None and p.paid),
        kept=kept,
        refund_terms=refund_terms(estate.locale),
    )
