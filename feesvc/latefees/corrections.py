"""Corrections: the late fees of a charge brought down to its fee on the facts known now.

When (DOMAIN.md "Terms change over time") the fee on the facts known now is below
what was posted (a payment recorded late but received earlier, a void, a plan, a change of terms),
the run posts a negative late-fee entry, linked to the charge (``basis_entry_id``), with a reason,
the run's actor and, in its detail, the earlier late fees it lowers and by how much (newest first,
each at most what it still counts after earlier corrections). So the charge's late-fee entries add
up to its fee, and reports and statements that sum late fees need nothing new. The ledger stays
append-only, and what is open on the entries stays equal to the balance:

* the correction settles nothing itself and is not an open debit: an adjustment settles it back
  to zero, and adjustments take what it lowers off those late fees (settling them), as follows;
* of what it takes off a fee, the part still open simply stops being owed;
* the part that was waived (a manager's or a plan's waiver): that waiver is reversed and a new
  one, with its reason and detail (so a plan still finds it to restore), waives only what is
  still owed; nobody is given money that was forgiven;
* the part that was paid (a payment, credit) was paid beyond what is owed: it becomes the owner's
  prepaid credit (ledger rule 6), used on the next charges like any other credit.

Every entry of a correction carries its reason; the adjustments name it (``late_fee_correction``).

The accrual run (``latefees.service``) finds the charges to correct while it streams the others'
late fees, and posts their corrections after the stream, in its transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
from sqlalchemy import insert
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entry_rows, insert_entries, lock_units

if TYPE_CHECKING:
    from feesvc.latefees.service import AccrualTerms, ComputedFee, OverdueCharge


@dataclass(slots=True)
class Correction:
    """A charge whose posted late fees are above its fee on the facts known now."""

    charge: OverdueCharge
    fee: ComputedFee
    freezes: list[tuple[date, date]]


def further_key(charge_id: int, on: date, entries_before: int) -> str:
    """The dedupe key of a charge's further late-fee entry on a date (module docstring)."""
    return f"late_fee:{charge_id}:{on.isoformat()}:{entries_before}"


# Charges whose late fees are read at a time for their corrections (a bound parameter each).
CORRECTION_BATCH = 1_000


def correction_reason(as_of: date, owed_fen: int, posted_fen: int) -> str:
    return (
        f"late fee recomputed at the run as of {as_of.isoformat()} on the facts recorded now "
        f"(payments received earlier, voids, plans, terms): {owed_fen} fen owed, {posted_fen} fen posted"
    )


# What the corrections read of a charge's late fees and of what settles them: columns, not entities.
_FEE_COLUMNS = (
    "id",
    "estate_id",
    "unit_id",
    "owner_id",
    "kind",
    "amount_fen",
    "effective_date",
    "period",
    "item",
    "due_date",
    "settles_entry_id",
    "basis_entry_id",
    "reason",
    "detail",
)
_TABLE = LedgerEntry.__table__  # type: ignore[attr-defined]
_INSERT_RETURNING_ID = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


async def post_corrections(
    session: AsyncSession, actor: Principal, run: AccrualTerms, corrections: list[Correction]
) -> None:
    """Post the correcting entries of the charges whose late fees were above their fee (module
    docstring: how each part of a correction is booked)."""
    columns = [_TABLE.c[name] for name in _FEE_COLUMNS]
    for start in range(0, len(corrections), CORRECTION_BATCH):
        batch = corrections[start : start + CORRECTION_BATCH]
        # Before reading what settles their late fees: a payment at the desk meanwhile waits, or
        # (having read without the lock) finds its unit changed and reads again.
        units = sorted({c.charge.unit_id for c in batch})
        await lock_units(session, units)
        fees = (
            await session.execute(
                select_columns(*columns)
                .where(
                    # Through the (unit, kind, date) index: the charges' late fees of either index.
                    _TABLE.c.unit_id.in_(units),
                    _TABLE.c.kind == EntryKind.late_fee,
                    _TABLE.c.basis_entry_id.in_([c.charge.id for c in batch]),
                )
                .order_by(_TABLE.c.effective_date.desc(), _TABLE.c.id.desc())
            )
        ).all()
        settling: dict[int, list[Any]] = defaultdict(list)
        fee_ids = [fee.id for fee in fees if fee.amount_fen > 0]
        for entry in await session.execute(
            select_columns(*columns)
            .where(_TABLE.c.settles_entry_id.in_(fee_ids))
            .order_by(_TABLE.c.effective_date.desc(), _TABLE.c.id.desc())
        ):
            settling[entry.settles_entry_id].append(entry)
        waiver_ids = [e.id for entries in settling.values() for e in entries if e.kind == EntryKind.waiver]
        reversed_ids = set(
            (
                await session.execute(
                    select_columns(_TABLE.c.reverses_entry_id).where(_TABLE.c.reverses_entry_id.in_(waiver_ids))
                )
            ).scalars()
        )
        by_charge: dict[int, list[Any]] = defaultdict(list)
        for fee in fees:
            by_charge[fee.basis_entry_id].append(fee)
        # In rounds, one correction of each unit a round: the corrections get their ids first,
        # then the entries that book them, so on each unit's ledger a correction's entries follow
        # it directly (a statement shows them as one line).
        rounds: dict[int, list[Correction]] = defaultdict(list)
        for correction in batch:
            rounds[correction.charge.unit_id].append(correction)
        while rounds:
            now = [pending.pop(0) for pending in rounds.values()]
            rounds = {unit_id: pending for unit_id, pending in rounds.items() if pending}
            rows = entry_rows([_correction_row(c, by_charge[c.charge.id], run, actor) for c in now])
            ids = (await session.execute(_INSERT_RETURNING_ID, rows)).scalars().all()
            booking = []
            for correction, row, entry_id in zip(now, rows, ids, strict=True):
                row["id"] = entry_id
                booking += _booking(row, by_charge[correction.charge.id], settling, reversed_ids, run, actor)
            await insert_entries(session, booking)


def _taken_off(fees: list[Any]) -> dict[int, int]:
    """Late fee id → what earlier corrections of the charge took off it (their detail says)."""
    taken: dict[int, int] = defaultdict(int)
    for fee in fees:
        if fee.amount_fen < 0:
            for fee_id, fen in (fee.detail or {}).get("corrects", []):
                taken[fee_id] += fen
    return taken


def _lowers(fees: Sequence[Any], reduction_fen: int) -> list[list[int]]:
    """[late fee id, fen] a correction of ``reduction_fen`` takes off the charge's late fees
    (``fees``: newest first), each at most what it still counts after earlier corrections."""
    taken = _taken_off(list(fees))
    left, lowers = reduction_fen, []
    for fee in fees:  # newest first
        if left == 0:
            break
        counts = fee.amount_fen - taken[fee.id] if fee.amount_fen > 0 else 0
        if counts > 0:
            lowers.append([fee.id, min(left, counts)])
            left -= lowers[-1][1]
    assert left == 0, left  # the late fees add up to what was posted
    return lowers


def takes_off(fees: Sequence[Any], reduction_fen: int) -> dict[int, int]:
    """Late fee id → what a correction of ``reduction_fen`` will take off it; ``fees`` are the
    charge's late-fee entries (with their ``detail``, ``effective_date`` and ``id``), in any order."""
    newest_first = sorted(fees, key=lambda f: (f.effective_date, f.id), reverse=True)
    return {fee_id: take for fee_id, take in _lowers(newest_first, reduction_fen)}


def given_back(takes: Mapping[int, int], left_open: Mapping[int, int], waived: Mapping[int, int]) -> int:
    """What corrections taking ``takes`` off late fees give back as prepaid credit, as ``_booking``
    books them: what one takes off a fee goes first to what is open on it (``left_open``), which
    simply stops being owed, then to the waivers standing on it (``waived``), which are waived
    again for less and give nothing back; the rest was paid beyond what is owed and is credit."""
    return sum(max(take - left_open.get(fee_id, 0) - waived.get(fee_id, 0), 0) for fee_id, take in takes.items())


def _correction_row(correction: Correction, fees: list[Any], run: AccrualTerms, actor: Principal) -> dict[str, Any]:
    """The negative late fee that brings the charge's late fees down to its fee, with how it was
    computed and which earlier late fees it lowers by how much (newest first)."""
    charge, owed = correction.charge, correction.fee.contract.total_fen
    detail = run.detail_of(charge, correction.fee, correction.freezes)
    detail = msgspec.json.decode(detail) if isinstance(detail, msgspec.Raw) else dict(detail)
    lowers = _lowers(fees, charge.posted_fen - owed)
    return {
        "estate_id": run.estate_id,
        "unit_id": charge.unit_id,
        "owner_id": charge.owner_id,
        "kind": EntryKind.late_fee,
        "amount_fen": owed - charge.posted_fen,
        "effective_date": run.as_of,
        "period": charge.period,
        "item": charge.item,
        "due_date": charge.due_date,
        "basis_entry_id": charge.id,
        "dedupe_key": further_key(charge.id, run.as_of, charge.entries) if charge.unkeyed_on_as_of else None,
        "actor": actor.label,
        "reason": correction_reason(run.as_of, owed, charge.posted_fen),
        "detail": {**detail, "corrects": lowers},
    }


def _booking(
    correction: dict[str, Any],
    fees: list[Any],
    settling: dict[int, list[Any]],
    reversed_ids: set[int | None],
    run: AccrualTerms,
    actor: Principal,
) -> list[dict[str, Any]]:
    """What a correction does to the late fees it lowers (module docstring), as entries that name it."""
    reason, marker = correction["reason"], {"late_fee_correction": correction["id"]}
    # The correction itself is not owed back: it is booked onto the late fees it lowers. Its
    # adjustments come first, so a statement shows them with it as one line.
    target = _Target(**{name: correction[name] for name in _Target._fields})
    entries = [_on(target, EntryKind.adjustment, -correction["amount_fen"], run.as_of, actor, reason, marker)]
    others: list[dict[str, Any]] = []
    by_id = {fee.id: fee for fee in fees}
    for fee_id, take in correction["detail"]["corrects"]:
        fee = by_id[fee_id]
        on_fee = settling.get(fee_id, [])
        open_fen = fee.amount_fen + sum(e.amount_fen for e in on_fee)
        later = max([run.as_of, *(e.effective_date for e in on_fee)])
        off = min(take, max(open_fen, 0))  # the part still open: no longer owed
        rest = take - off  # the part waived or paid
        for waiver in on_fee:
            if rest == 0:
                break
            if waiver.kind != EntryKind.waiver or waiver.id in reversed_ids:
                continue
            waived = -waiver.amount_fen
            back = min(waived, rest)
            rest -= back
            off += back
            why = f"{reason}; waiver {waiver.id} was above what is owed and is posted again for what is"
            undo = _on(fee, EntryKind.reversal, waived, later, actor, why, {"late_fee_correction": correction["id"]})
            others.append({**undo, "reverses_entry_id": waiver.id})
            if waived > back:  # as the waiver was, for what is still owed (a plan finds it by reason)
                detail = {**(waiver.detail or {}), "replaces_waiver_id": waiver.id}
                others.append(_on(fee, EntryKind.waiver, back - waived, later, actor, waiver.reason or why, detail))
        if off:
            entries.append(_on(fee, EntryKind.adjustment, -off, later, actor, reason, marker))
        if rest:
            why = f"{reason}; paid beyond what is owed: {rest} fen become prepaid credit"
            credit = _on(fee, EntryKind.prepaid_credit, -rest, later, actor, why, marker)
            others.append(
                {
                    **credit,
                    "settles_entry_id": None,
                    "basis_entry_id": None,
                    "period": None,
                    "item": None,
                    "due_date": None,
                }
            )
    return entries + others


class _Target(NamedTuple):
    """The entry another settles: a late fee read, or a correction just inserted."""

    id: int
    estate_id: int
    unit_id: int
    owner_id: int | None
    period: str | None
    item: str | None
    due_date: date | None
    basis_entry_id: int | None


def _on(
    target: Any, kind: EntryKind, amount_fen: int, on: date, actor: Principal, reason: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """An entry on a late fee (or a correction): it settles that entry and names its charge."""
    return {
        "estate_id": target.estate_id,
        "unit_id": target.unit_id,
        "owner_id": target.owner_id,
        "kind": kind,
        "amount_fen": amount_fen,
        "effective_date": on,
        "period": target.period,
        "item": target.item,
        "due_date": target.due_date,
        "settles_entry_id": target.id,
        "basis_entry_id": target.basis_entry_id,
        "actor": actor.label,
        "reason": reason,
        "detail": detail,
    }
