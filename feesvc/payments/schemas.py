from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec

from feesvc.ledger.models import EntryKind
from feesvc.payments.models import Method
from feesvc.registry.masking import Masking
from feesvc.schemas import Body, Id, Line, LongId, Period, PositiveFen, Reason


class Designation(Body):
    """What the payer says the money is for (民法典 560): charge ids or whole periods."""

    entry_ids: Annotated[list[LongId], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)
    periods: Annotated[list[Period], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)


class PaymentCreate(Body):
    unit_id: Id
    amount_fen: PositiveFen
    method: Method
    currency: Literal["CNY"] = "CNY"
    external_ref: Annotated[Line, msgspec.Meta(max_length=100)] = ""
    payer_name: Annotated[Line, msgspec.Meta(max_length=100)] | None = None
    designation: Designation | None = None
    received_on: date | None = None
    # Whose account it is for: an owner who owns or owned the unit by the day received (the cashier
    # asks). Default: the unit's owner that day. It settles that owner's debts only (designated
    # debts aside) and its rest is that owner's prepaid credit.
    owner_id: Id | None = None


class AllocationOut(msgspec.Struct):
    entry_id: int
    kind: EntryKind
    period: str | None
    item: str | None
    amount_fen: int


class PaymentOut(msgspec.Struct):
    id: int
    receipt_number: str
    estate_id: int
    unit_id: int
    payer_name: str
    amount_fen: int
    currency: str
    method: Method
    external_ref: str
    received_on: date
    cashier: str
    allocations: list[AllocationOut]
    prepaid_credit_fen: int
    voided: bool
    # The account paid into (PaymentCreate.owner_id); null only for a unit without an owner that day.
    owner_id: int | None = None

    def masked(self, masking: Masking) -> PaymentOut:
        """The payment as a reader sees it: the payer is a person, named as ``masking`` allows."""
        return msgspec.structs.replace(self, payer_name=masking.name(self.payer_name))


class PaymentPage(msgspec.Struct):
    """One page of payments, newest first; ``total`` counts every page."""

    items: list[PaymentOut]
    total: int
    page: int
    page_size: int


# The void's reversal entries quote the reason after "void of payment <id>: " (at most 37
# characters) in the ledger's 500-character reason column.
VoidReason = Annotated[Line, msgspec.Meta(min_length=2, max_length=460, description="why; kept with the entries")]


class VoidCreate(Body):
    reason: VoidReason


class RefundCreate(Body):
    amount_fen: PositiveFen
    reason: Reason
    method: Method = Method.bank_transfer
    # Whose prepaid credit is paid back (to that owner): default the unit's current owner.
    owner_id: Id | None = None


class RefundOut(msgspec.Struct):
    unit_id: int
    owner_id: int | None
    refunded_fen: int
    prepaid_credit_left_fen: int


class DeskDebt(msgspec.Struct):
    """A charge or late fee with something open on it, and the debt (charge) it belongs to."""

    entry_id: int
    kind: EntryKind
    debt_id: int
    period: str | None
    item: str | None
    due_date: date
    open_fen: int


class DeskAccount(msgspec.Struct):
    """One owner's account of the unit: their open debts (oldest first) and prepaid credit."""

    owner_id: int | None
    # Named as the reader's role may see it (registry/masking.py: a cashier sees 张*明).
    owner_name: str
    owns_now: bool
    debts: list[DeskDebt]
    owed_fen: int
    overdue_fen: int
    prepaid_credit_fen: int


class DeskUnitOut(msgspec.Struct):
    """What the cashier reads before taking a payment: the current owner's account, and apart the
    accounts of other owners (a seller) that still owe or hold credit. A payment is for one of them
    (``PaymentCreate.owner_id``; default the current owner)."""

    unit_id: int
    as_of: date
    current_owner: DeskAccount | None
    other_owners: list[DeskAccount]


class CashUpLine(msgspec.Struct):
    """One cashier's takings by one payment method on the day."""

    cashier: str
    method: Method
    received_payments: int
    received_fen: int
    # Payments of this cashier and method voided on the day, whenever they were received.
    voided_payments: int
    voided_fen: int
    net_fen: int


class CashUpVoid(msgspec.Struct):
    """A payment voided on the day; ``received_on`` is its own day (earlier for a late void)."""

    payment_id: int
    receipt_number: str
    received_on: date
    cashier: str
    method: Method
    amount_fen: int
    reason: str
    voided_by: str


class CashUpMismatch(msgspec.Struct):
    """A payment whose ledger entries do not account for its amount on the day."""

    payment_id: int
    receipt_number: str
    figure: Literal["received", "voided"]
    payment_fen: int
    ledger_fen: int


class CashUpOut(msgspec.Struct):
    """The daily cash-up (日结): per cashier and method, received, voided and net, with the totals
    checked against the ledger (the day's payments' entries; the day's reversals of voided ones)."""

    estate_id: int
    day: date
    lines: list[CashUpLine]
    voids: list[CashUpVoid]
    received_payments: int
    received_fen: int
    voided_payments: int
    voided_fen: int
    net_fen: int
    ledger_received_fen: int
    ledger_voided_fen: int
    reconciled: bool
    mismatches: list[CashUpMismatch]
