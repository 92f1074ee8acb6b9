"""Deciding a payment on what the unit view read: what it settles (the designated debts first, then
its account's debts oldest first; the rest is that owner's credit) and the rows that record it.
No I/O: :mod:`feesvc.payments.recording` reads and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec

from feesvc.auth.principal import Principal
from feesvc.errors import InvalidInput
from feesvc.ledger.allocation import Allocation, OpenDebit, allocate
from feesvc.ledger.models import EntryKind
from feesvc.payments.schemas import AllocationOut, Designation, PaymentCreate
from feesvc.registry.models import AllocationOrder
from feesvc.rules.position import earliest_open_due

# ``owner_id`` is the request's last field: encoded as null, it is what a request that names no
# account ends with.
_NO_ACCOUNT = b',"owner_id":null}'


def fingerprint(data: PaymentCreate) -> str:
    """The request's hash, the account chosen included. Without one, the request as it was encoded
    before payments named an account (the null field cut off, cheaper than encoding a dict without
    it), so a retry of a payment made before then still matches."""
    encoded = msgspec.json.encode(data)
    if encoded.endswith(_NO_ACCOUNT):
        encoded = encoded[: -len(_NO_ACCOUNT)] + b"}"
    return hashlib.sha256(encoded).hexdigest()


def designated_debits(debits: list[OpenDebit], designation: Designation | None) -> frozenset[int]:
    if designation is None:
        return frozenset()
    by_id = {d.entry_id for d in debits} | {d.debt_id for d in debits}
    unknown = [i for i in designation.entry_ids if i not in by_id]
    if unknown:
        raise InvalidInput(f"nothing is open on entries {unknown} of this unit", field="designation.entry_ids")
    periods = set(designation.periods)
    open_periods = {d.period for d in debits}
    if periods - open_periods:
        missing = sorted(periods - open_periods)
        raise InvalidInput(f"nothing is open for periods {missing}", field="designation.periods")
    return frozenset(designation.entry_ids) | frozenset(d.debt_id for d in debits if d.period in periods)


def payment_allocation(
    debits: list[OpenDebit],
    data: PaymentCreate,
    order: AllocationOrder,
    owner_id: int | None,
    in_plan: frozenset[int] = frozenset(),
) -> tuple[list[Allocation], int]:
    """What a payment for ``owner_id``'s account settles: the designated debts first (whoever's they
    are), then that account's debts oldest first (another owner's arrears stay theirs; debts with
    no owner recorded are anyone's), a kept plan's late fees last; the rest is that owner's credit."""
    designated = designated_debits(debits, data.designation)
    payable = [d for d in debits if d.owner_id in (None, owner_id) or {d.entry_id, d.debt_id} & designated]
    return allocate(payable, data.amount_fen, order, designated, late_fees_last_for=in_plan)


@dataclass(frozen=True)
class UnitView:
    """What the unit view read says of the unit, its debits and the idempotency key."""

    estate_id: int
    allocation_order: AllocationOrder
    # The unit's owner on the day received: the account of a payment that names none.
    owner_id: int | None
    # Whether the account the payment names is of an owner who owns or owned the unit by that day.
    account_held: bool
    # The payment already made under the key (its id and request fingerprint), if any.
    existing: tuple[int, str] | None
    ledger_version: int
    debits: list[OpenDebit]
    # Debts under an active installment plan: their late fees are settled last.
    in_plan: frozenset[int]


@dataclass(frozen=True)
class PreparedPayment:
    """A payment decided on a unit view: its row, its ledger rows and its audit detail, ready to write."""

    payment: dict[str, Any]
    entries: list[dict[str, Any]]
    audit: dict[str, Any]
    allocations: list[AllocationOut]
    prepaid_credit_fen: int
    # The unit's earliest open due date once the payment is written (feesvc.rules.position).
    earliest_open_due: date | None


def prepare_payment(
    view: UnitView, data: PaymentCreate, actor: Principal, idempotency_key: str, today: date
) -> PreparedPayment:
    """Allocate the payment over what the view shows open and make the rows that record it."""
    received_on = data.received_on or today
    if received_on > today:
        raise InvalidInput("a payment cannot be received in the future", field="received_on")
    if data.owner_id is not None and not view.account_held:
        raise InvalidInput(
            f"owner {data.owner_id} did not own unit {data.unit_id} on or before {received_on}; "
            "a payment is for the account of an owner who owns or owned the unit",
            field="owner_id",
        )
    account = view.owner_id if data.owner_id is None else data.owner_id
    allocations, left_over = payment_allocation(view.debits, data, view.allocation_order, account, view.in_plan)
    payment = payment_row(data, view.estate_id, received_on, actor.label, idempotency_key, account)
    by_id = {d.entry_id: d for d in view.debits}
    settled = [(a, by_id[a.entry_id]) for a in allocations]
    entries = [
        payment_entry(payment, account, EntryKind.payment, a.amount_fen, a.entry_id, d.period) for a, d in settled
    ]
    if left_over:
        entries.append(payment_entry(payment, account, EntryKind.prepaid_credit, left_over))
    return PreparedPayment(
        payment=payment,
        entries=entries,
        audit={"unit_id": data.unit_id, "amount_fen": data.amount_fen, "method": data.method},
        allocations=[AllocationOut(a.entry_id, d.kind, d.period, d.item, a.amount_fen) for a, d in settled],
        prepaid_credit_fen=left_over,
        earliest_open_due=earliest_open_due(view.debits, {a.entry_id: a.amount_fen for a in allocations}),
    )


def payment_row(
    data: PaymentCreate, estate_id: int, received_on: date, cashier: str, key: str, owner_id: int | None = None
) -> dict[str, Any]:
    """A payment's columns; ``owner_id`` is the account it is for (default: the one it names)."""
    return {
        "estate_id": estate_id,
        "unit_id": data.unit_id,
        "owner_id": data.owner_id if owner_id is None else owner_id,
        "payer_name": data.payer_name or "",
        "amount_fen": data.amount_fen,
        "method": data.method,
        "external_ref": data.external_ref,
        "designation": msgspec.to_builtins(data.designation) if data.designation else None,
        "received_on": received_on,
        "cashier": cashier,
        "idempotency_key": key,
        "request_fingerprint": fingerprint(data),
    }


def payment_entry(
    payment: Mapping[str, Any],
    owner_id: int | None,
    kind: EntryKind,
    fen: int,
    settles: int | None = None,
    period: str | None = None,
) -> dict[str, Any]:
    """A ledger row for ``fen`` of a payment (given as its columns) settling a debit or held as
    credit; the payment's id is added where the payment is written."""
    return {
        "estate_id": payment["estate_id"],
        "unit_id": payment["unit_id"],
        "owner_id": owner_id,
        "kind": kind,
        "amount_fen": -fen,
        "effective_date": payment["received_on"],
        "settles_entry_id": settles,
        "period": period,
        "actor": payment["cashier"],
    }
