"""Which open debts a sum of money settles, and in what order (DOMAIN.md ledger rule 5).

Plain data in, plain data out: the payment desk, credit application at billing and installment
plans all call ``allocate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from feesvc.ledger.models import EntryKind
from feesvc.registry.models import AllocationOrder


@dataclass(frozen=True)
class OpenDebit:
    """A charge or late fee with something still unpaid on it."""

    entry_id: int
    kind: EntryKind
    open_fen: int
    # The debt it belongs to: a charge is its own debt, a late fee belongs to its charge.
    debt_id: int
    debt_due: date
    period: str | None
    # The owner of the period: their payments and credit settle it, not a later owner's.
    owner_id: int | None = None
    item: str | None = None


@dataclass(frozen=True)
class Allocation:
    entry_id: int
    amount_fen: int


def settlement_order(debits: Iterable[OpenDebit], order: AllocationOrder) -> list[OpenDebit]:
    """Oldest debt first (民法典 560); inside one debt, principal or late fee first as the estate decides."""

    def rank(d: OpenDebit) -> int:
        principal = d.kind is EntryKind.charge
        return 0 if principal == (order is AllocationOrder.principal_first) else 1

    return sorted(debits, key=lambda d: (d.debt_due, d.debt_id, rank(d), d.entry_id))


def allocate(
    debits: Sequence[OpenDebit],
    amount_fen: int,
    order: AllocationOrder,
    designated: frozenset[int] = frozenset(),
    late_fees_last_for: frozenset[int] = frozenset(),
) -> tuple[list[Allocation], int]:
    """Spread ``amount_fen`` over the debits; return the allocations and what is left over.

    Designated debts (by entry id) are settled first, then the rest in settlement order. Late
    fees of the debts in ``late_fees_last_for`` (charges under a kept installment plan) wait until
    every principal is paid, so paying the installments on time keeps the plan.
    """
    if amount_fen < 0:
        raise ValueError("cannot allocate a negative amount")
    first = [d for d in debits if d.entry_id in designated or d.debt_id in designated]
    last = [d for d in debits if d not in first and d.kind is EntryKind.late_fee and d.debt_id in late_fees_last_for]
    rest = [d for d in debits if d not in first and d not in last]
    remaining = amount_fen
    allocations: list[Allocation] = []
    ordered = [*settlement_order(first, order), *settlement_order(rest, order), *settlement_order(last, order)]
    for debit in ordered:
        if remaining == 0:
            break
        take = min(remaining, debit.open_fen)
        if take > 0:
            allocations.append(Allocation(debit.entry_id, take))
            remaining -= take
    return allocations, remaining
