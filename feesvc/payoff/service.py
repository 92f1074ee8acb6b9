"""The payoff of a unit's owner on a day: principal, posted late fees and the late fee accrued since.

Paying it on that day leaves the owner owing nothing, because each figure is what the ledger and
the accrual run will make of the payment:

* The payment settles every open charge and posted late fee of the payer (ledger rule 5; the
  desk's ``payment_allocation``): the owner's own debts and those with no owner, not another
  owner's of the same unit.
* The late fee not yet posted is the accrual run's own figure for the charge less the late fees
  posted on it (corrections included): the run computes the fee from the charge's history with the
  same engine and terms (``latefees/unit.py``: ``late_fee_for`` over the estate's effective-dated
  terms for the charge's fee standard) and brings what is posted to it, either way. Paid on the
  day, the charge's unpaid principal is 0 from that day, and the day a payment is made accrues
  nothing on what it paid (``rules/late_fees.py``), so the fee is computed with that payment
  already in its history: the run after the payment computes the same figure.
* When the run will correct the charge (a payment recorded after a run but received before it,
  a plan, a void, a payoff on the day of a run), that figure is negative: the line's total falls
  by it. The payoff's total does not fall below what is open now, though: the desk settles open
  debts oldest first, so a payment short of them would leave the newest charge open and accruing.
  Paid in full, the late fees the correction lowers were paid beyond what is owed, and the
  correction gives that back as prepaid credit (``latefees/corrections.py``; what it takes off a
  waiver gives nothing back). So the total is what is open now plus the late fees the run will
  post less what its corrections give back, and any rest of that (``returned_as_credit_fen``) is
  the owner's credit after the run.
* A positive figure has no posted debt to settle yet, so the desk holds that part of the payment
  as prepaid credit; the next run posts the late fee and, in a last step after its corrections,
  settles it from that credit (``latefees/credit.py``): the balance stays 0 and every step is an
  entry of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol

from sqlalchemy import String, and_, bindparam, case, or_, type_coerce
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.errors import NotFound
from feesvc.latefees.corrections import given_back, takes_off
from feesvc.latefees.unit import ChargeFeeFacts, UnitFeeTerms, unit_fee_terms
from feesvc.ledger.allocation import OpenDebit, settlement_order
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payoff.accounts import UnitOwner, is_former
from feesvc.payoff.schemas import OtherOwner, Payoff, PayoffLine
from feesvc.registry.models import AllocationOrder, Estate, Ownership, Unit
from feesvc.registry.service import ownership_covering
from feesvc.rules.late_fees import PrincipalChange, late_fee_for


def late_fee_if_paid_on(facts: ChargeFeeFacts, day: date) -> int:
    """The late fee of a charge whose unpaid principal is paid off on ``day``: what the accrual run
    computes after that payment. The payoff's one call into the late-fee engine."""
    changes = [*facts.changes, PrincipalChange(on=day, unpaid_fen=0)]  # the last of a day's changes wins
    fee = late_fee_for(facts.principal_fen, facts.due_date, changes, day, facts.terms, facts.frozen).total_fen
    return fee + facts.carried_fen


class LedgerRow(Protocol):
    """What the payoff reads of an entry: a :class:`PayoffEntry`, or a row another reader of the
    unit's entries has already (the statement's)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def amount_fen(self) -> int: ...
    @property
    def effective_date(self) -> date: ...
    @property
    def due_date(self) -> date | None: ...
    @property
    def period(self) -> str | None: ...
    @property
    def item(self) -> str | None: ...
    @property
    def owner_id(self) -> int | None: ...
    @property
    def fee_standard_id(self) -> int | None: ...
    @property
    def settles_entry_id(self) -> int | None: ...
    @property
    def basis_entry_id(self) -> int | None: ...
    @property
    def reverses_entry_id(self) -> int | None: ...
    @property
    def detail(self) -> dict[str, Any] | None: ...


class PayoffEntry(NamedTuple):
    """A ledger entry as the payoff reads it: columns, not entities (a decade is hundreds of rows)."""

    id: int
    kind: str
    amount_fen: int
    effective_date: date
    due_date: date | None
    period: str | None
    item: str | None
    owner_id: int | None
    fee_standard_id: int | None
    settles_entry_id: int | None
    basis_entry_id: int | None
    reverses_entry_id: int | None
    detail: dict[str, Any] | None  # a correction's says which late fees it lowered


def _entries_query() -> Any:
    entry = LedgerEntry.__table__  # type: ignore[attr-defined]

    def column(name: str) -> Any:
        if name == "kind":
            # Plain text: compared only, and converting hundreds of enums costs more than reading them.
            return type_coerce(entry.c.kind, String).label(name)
        if name == "detail":
            # Only a correction's detail is read (which late fees it lowered), and a charge's without
            # a fee standard (an imported opening balance's carries its late fee in: latefees.unit):
            # decoding every entry's JSON cost most of a ten-year unit's payoff.
            correction = and_(entry.c.kind == EntryKind.late_fee, entry.c.amount_fen < 0)
            opening = and_(entry.c.kind == EntryKind.charge, entry.c.fee_standard_id.is_(None))
            return type_coerce(case((or_(correction, opening), entry.c.detail)), entry.c.detail.type).label(name)
        return entry.c[name]

    columns = [column(n) for n in PayoffEntry._fields]
    return (
        sa_select(*columns)
        .where(entry.c.unit_id == bindparam("unit_id"), entry.c.effective_date <= bindparam("as_of"))
        .order_by(entry.c.id)
    )


# Built once: the unit's estate and its owner on the day, then the unit's entries up to the day.
_HEAD = (
    select(col(Unit.estate_id), col(Estate.allocation_order), Ownership.owner_id)
    .join(Estate, col(Estate.id) == Unit.estate_id)
    .outerjoin(Ownership, and_(col(Ownership.unit_id) == Unit.id, ownership_covering(bindparam("as_of"))))
    .where(Unit.id == bindparam("unit_id"))
    .limit(1)
)
_ENTRIES = _entries_query()


async def unit_payoff(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    owner_id: int | None = None,
    *,
    others: Sequence[UnitOwner] = (),
) -> Payoff:
    """The payoff of ``owner_id`` (default: the unit's owner on ``as_of``) on the unit, as of that day;
    with ``others`` (the unit's owners, for staff), each other owner's payoff total listed apart."""
    params = {"unit_id": unit_id, "as_of": as_of}
    head = (await session.execute(_HEAD, params)).first()
    if head is None:
        raise NotFound(f"unit {unit_id} does not exist", field="unit_id")
    estate_id, order, owner_on_day = head
    entries = [PayoffEntry._make(row) for row in await session.execute(_ENTRIES, params)]
    terms = await unit_fee_terms(session, estate_id, unit_id, as_of, with_court_rates=False)
    payer = owner_id if owner_id is not None else owner_on_day
    payoff = payoff_of(unit_id, payer, as_of, entries, terms, order)
    if others:
        payoff.other_owners = other_owners(unit_id, payer, as_of, entries, terms, order, others)
    return payoff


def other_owners(
    unit_id: int,
    payer: int | None,
    as_of: date,
    entries: Sequence[LedgerRow],
    terms: UnitFeeTerms,
    order: AllocationOrder,
    owners: Sequence[UnitOwner],
) -> list[OtherOwner]:
    """The unit's owners other than ``payer`` with something open on their own account: what pays
    each of them off on the day and the credit they hold, names unmasked (the caller masks)."""
    listed: list[OtherOwner] = []
    for owner_id, name in dict((o.owner_id, o.name) for o in owners).items():
        if owner_id == payer:
            continue
        theirs = payoff_of(unit_id, owner_id, as_of, entries, terms, order)
        if theirs.total_fen or theirs.prepaid_credit_fen:
            former = is_former(list(owners), owner_id, as_of)
            listed.append(OtherOwner(owner_id, name, former, theirs.total_fen, theirs.prepaid_credit_fen))
    return listed


async def payoff_from_entries(
    session: AsyncSession, estate_id: int, unit_id: int, as_of: date, owner_id: int | None, entries: Sequence[LedgerRow]
) -> Payoff:
    """The payoff of ``owner_id`` from the unit's entries up to ``as_of``, read already by the caller."""
    terms = await unit_fee_terms(session, estate_id, unit_id, as_of, with_court_rates=False)
    order = (await session.execute(select(col(Estate.allocation_order)).where(Estate.id == estate_id))).scalar_one()
    return payoff_of(unit_id, owner_id, as_of, entries, terms, order)


def payoff_of(
    unit_id: int,
    owner_id: int | None,
    as_of: date,
    entries: Sequence[LedgerRow],
    terms: UnitFeeTerms,
    order: AllocationOrder,
) -> Payoff:
    """The payoff from the unit's entries up to ``as_of`` (see the module docstring)."""
    settled: dict[int, int] = defaultdict(int)  # entry id → the sum of the entries settling it
    paid: dict[int, list[tuple[date, int]]] = defaultdict(list)  # charge id → (day, amount) settling it
    fees_of: dict[int, list[LedgerRow]] = defaultdict(list)
    for e in entries:
        if e.settles_entry_id is not None:
            settled[e.settles_entry_id] += e.amount_fen
            paid[e.settles_entry_id].append((e.effective_date, e.amount_fen))
        if e.kind == EntryKind.late_fee and e.basis_entry_id is not None:
            fees_of[e.basis_entry_id].append(e)
    reversed_ids = {e.reverses_entry_id for e in entries if e.reverses_entry_id is not None}
    waived: dict[int, int] = defaultdict(int)  # late fee id → the waivers standing on it
    for e in entries:
        if e.kind == EntryKind.waiver and e.settles_entry_id is not None and e.id not in reversed_ids:
            waived[e.settles_entry_id] -= e.amount_fen

    lines: list[PayoffLine] = []
    debits: list[OpenDebit] = []  # the owner's open debts, as the desk allocates a payment over them
    takes: dict[int, int] = {}  # late fee id → what the next run's corrections take off it
    credit = 0
    for e in entries:
        if e.owner_id not in (None, owner_id):
            continue  # another owner's: their payments settle it, not this owner's
        if e.kind == EntryKind.prepaid_credit:
            credit -= e.amount_fen + settled[e.id]
        if e.kind != EntryKind.charge:
            continue
        fees = fees_of.get(e.id, [])
        due = e.due_date or e.effective_date
        principal = max(e.amount_fen + settled[e.id], 0)
        debits.append(OpenDebit(e.id, EntryKind.charge, principal, e.id, due, e.period, e.owner_id, e.item))
        for f in fees:
            debits.append(
                OpenDebit(f.id, EntryKind.late_fee, f.amount_fen + settled[f.id], e.id, due, e.period, f.owner_id)
            )
        posted_open = sum(max(f.amount_fen + settled[f.id], 0) for f in fees)
        unposted = 0
        if e.due_date is not None:
            facts = terms.charge(e.id, e.amount_fen, e.due_date, e.fee_standard_id, paid[e.id], e.detail)
            # The next run's entry on the charge: the fee less what is posted, negative for a correction.
            unposted = late_fee_if_paid_on(facts, as_of) - sum(f.amount_fen for f in fees)
            if unposted < 0:
                takes.update(takes_off(fees, -unposted))
        total = principal + posted_open + unposted
        if total or unposted:
            lines.append(PayoffLine(e.id, e.period, e.item, e.due_date, principal, posted_open, unposted, total))
    open_now = sum(line.principal_fen + line.late_fee_posted_fen for line in lines)
    to_post = sum(max(line.late_fee_unposted_fen, 0) for line in lines)
    total_fen, returned = _to_pay(open_now, to_post, [d for d in debits if d.open_fen > 0], takes, waived, order, terms)
    return Payoff(
        unit_id=unit_id,
        owner_id=owner_id,
        as_of=as_of,
        lines=lines,
        principal_fen=sum(line.principal_fen for line in lines),
        late_fee_posted_fen=sum(line.late_fee_posted_fen for line in lines),
        late_fee_unposted_fen=sum(line.late_fee_unposted_fen for line in lines),
        total_fen=total_fen,
        prepaid_credit_fen=credit,
        returned_as_credit_fen=returned,
    )


def _to_pay(
    open_now: int,
    to_post: int,
    debits: list[OpenDebit],
    takes: dict[int, int],
    waived: dict[int, int],
    order: AllocationOrder,
    terms: UnitFeeTerms,
) -> tuple[int, int]:
    """What to pay, and the credit the owner holds after the next run (module docstring).

    A payment short of what is open leaves open the last debts the desk would settle (oldest debt
    first, ``ledger.allocation``); that is exact only when those are late fees the next run's
    corrections take off, and when what the corrections give back covers the late fees the run
    posts (a payment short of what is open leaves no credit for them). Otherwise everything open
    is paid, plus the late fees the run posts less what the corrections give back.
    """
    left_open: dict[int, int] = {}
    # A kept plan's late fees are settled last at the desk: this reckoning does not follow them.
    if takes and not any(d.debt_id in terms.in_plans for d in debits):
        for debit in reversed(settlement_order(debits, order)):
            can = min(debit.open_fen, takes.get(debit.entry_id, 0))
            if can == 0:
                break
            left_open[debit.entry_id] = can
            if can < debit.open_fen:
                break
    back = given_back(takes, left_open, waived)
    if left_open and back >= to_post:
        return open_now - sum(left_open.values()), back - to_post
    back = given_back(takes, {}, waived)
    return open_now + max(to_post - back, 0), max(back - to_post, 0)
