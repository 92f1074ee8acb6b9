"""The late-fee accrual run, court-likely rates and waivers.

The run is idempotent: for each overdue charge it computes the late fee owed up to ``as_of``
from the charge's whole history as recorded now (its due date, every change of its unpaid
principal, plan freezes, the late-fee terms in force on each day: ``latefees.terms``) and posts
the difference from what was posted before, in either direction. A rerun posts nothing.

Corrections (DOMAIN.md "Terms change over time"): when the fee on the facts known now is below
what was posted (a payment recorded late but received earlier, a void, a plan, a change of terms),
the run posts a correcting (negative) late fee after the stream; how it is booked so the ledger
stays append-only and balances right is in ``latefees.corrections``.

A charge's late-fee entries are unique per (charge, date) when they carry no dedupe key, as every
bulk entry does (migration 0006); the rare further entries on one date (corrections, a rerun after
new facts) carry ``late_fee:<charge>:<date>:<n>``, n the charge's late-fee entries before it, so two
runs racing on the same facts still post once. A run as of a day before the last day a charge's
late fees were posted for leaves that charge alone: the later run's figure stands, and the next
run on or after that day corrects it.

A charge that cannot be computed (bad data) is reported in the result with its reason and the run
goes on with the others.

Runs of one estate queue behind each other (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
SQLite). An estate's run posts millions of entries: it reads its charges as columns a page at a
time, computes the fees of untouched charges once per amount, and streams the entries into the
ledger as it computes them (``stream_entry_rows``: COPY on PostgreSQL, on two connections); the few
corrections are posted after the stream, in the run's transaction. A run that fails midway may leave
part of its fees posted; the next run posts the rest and nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import bindparam, func, text
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import is_postgres, utcnow
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.latefees.corrections import Correction, further_key, post_corrections
from feesvc.latefees.credit import settle_new_late_fees_from_credit
from feesvc.latefees.models import CourtRate
from feesvc.latefees.terms import EstateTerms, estate_terms
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import (
    append,
    lock_unit,
    open_entries,
    stream_entry_rows,
)
from feesvc.memory import cyclic_gc_paused
from feesvc.plans.standing import PlanAsOf, plan_standings
from feesvc.registry.service import get_estate
from feesvc.rules.late_fees import (
    LateFee,
    LateFeeTerms,
    PrincipalChange,
    TermsVersion,
    court_likely_fee,
    late_fee_for,
)


class ChargeProblem(msgspec.Struct):
    """A charge the run could not compute, and why; the run went on without it."""

    charge_id: int
    unit_id: int
    reason: str


class AccrualResult(msgspec.Struct):
    estate_id: int
    as_of: date
    charges_considered: int
    late_fees_posted: int
    posted_fen: int
    corrections_posted: int = 0  # correcting (negative) late-fee entries
    corrected_fen: int = 0  # what they took off (a positive number)
    problems: list[ChargeProblem] = msgspec.field(default_factory=list)
    credit_applied_fen: int = 0  # prepaid credit that settled the fees posted (latefees/credit.py)


# Accrual runs of one estate queue behind each other: pg_advisory_xact_lock(namespace, estate id).
# On SQLite every write transaction is exclusive already (BEGIN IMMEDIATE).
ACCRUAL_LOCK_NAMESPACE = 0x4C46


@dataclass(slots=True)
class OverdueCharge:
    id: int
    unit_id: int
    owner_id: int | None
    amount_fen: int
    due_date: date
    period: str | None
    item: str | None
    terms_key: int | None  # the fee standard whose own rate applies, None for the estate's terms
    changes: list[PrincipalChange]
    posted_fen: int
    last_posted: date | None
    entries: int = 0  # late-fee entries posted on the charge so far
    unkeyed_on_as_of: bool = False  # one of them is the run date's entry without a dedupe key
    # An imported opening balance's day (feesvc.imports.opening): the source system's late fee up to
    # it is carried in (posted, not in ``posted_fen``), so the run counts only the days after it.
    carried_until: date | None = None


def version_detail(version: TermsVersion) -> dict[str, Any]:
    """One version of the terms as a late fee's detail names it (statement, evidence pack)."""
    policy = version.policy
    return {
        "terms_id": version.ref,
        "rate_terms_id": version.rate_ref,
        "effective_from": version.effective_from.isoformat(),
        "daily_rate": str(policy.daily_rate),
        "grace_days": policy.grace_days,
        "cap": str(policy.cap),
        "cap_fen": policy.cap_fen,
        "starts_on": policy.starts_on.isoformat() if policy.starts_on else None,
    }


@dataclass(frozen=True, slots=True)
class ComputedFee:
    contract: LateFee
    segments: list[dict[str, Any]]
    court_likely_fen: int | None
    terms: LateFeeTerms


@dataclass
class AccrualTerms:
    """What every charge of one accrual run shares.

    The fee of a charge that nobody paid on and no plan froze depends only on its amount, due date
    and terms, and an estate's charges come in a few amounts (a few floor plans) under one or a few
    tables of terms: such fees are computed once per run (``late_fee_for`` is pure, so this is
    exact), and their details encoded once per amount of fees posted before.
    """

    estate_id: int
    terms: EstateTerms
    as_of: date
    court_rates: list[tuple[date, Decimal]]
    actor: str
    now: datetime
    _untouched: dict[tuple[int, date, int | None], ComputedFee] = field(default_factory=dict)
    _untouched_details: dict[tuple[int, date, int | None, int], msgspec.Raw] = field(default_factory=dict)
    # Keyed by id(): the run's few tables of terms and their versions live as long as the run.
    _since: dict[int, str] = field(default_factory=dict)
    _used: dict[tuple[int, tuple[int, ...]], list[dict[str, Any]]] = field(default_factory=dict)
    _on_due: dict[tuple[int | None, date], tuple[int, str | None, str | None, int | None]] = field(default_factory=dict)

    def fee_of(self, charge: OverdueCharge, freezes: Sequence[tuple[date, date]]) -> ComputedFee:
        plain = not charge.changes and not freezes
        key = (charge.amount_fen, charge.due_date, charge.terms_key)
        if plain and (known := self._untouched.get(key)) is not None:
            return known
        table = self.terms.for_standard(charge.terms_key)
        contract = late_fee_for(charge.amount_fen, charge.due_date, charge.changes, self.as_of, table, freezes)
        court = (
            court_likely_fee(
                contract,
                charge.amount_fen,
                charge.due_date,
                charge.changes,
                self.as_of,
                table,
                self.court_rates,
                freezes,
            ).total_fen
            if self.court_rates
            else None
        )
        computed = ComputedFee(contract, self._segments(contract), court, table)
        if plain:
            self._untouched[key] = computed
        return computed

    def _segments(self, fee: LateFee) -> list[dict[str, Any]]:
        since = self._since
        segments = []
        for s in fee.segments:
            version = s.terms
            assert version is not None  # contract segments name their terms
            terms_from = since.get(id(version))
            if terms_from is None:
                terms_from = since[id(version)] = version.effective_from.isoformat()
            segments.append(
                {
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "days": s.days,
                    "base_fen": s.base_fen,
                    "daily_rate": str(s.daily_rate),
                    "terms_from": terms_from,
                }
            )
        return segments

    def _terms_used(self, table: LateFeeTerms, fee: LateFee) -> list[dict[str, Any]]:
        """The versions the fee's days used, in date order (one list per combination and run)."""
        used = tuple(dict.fromkeys(id(s.terms) for s in fee.segments))
        known = self._used.get((id(table), used))
        if known is None:
            versions = [v for v in table.versions if id(v) in used]
            known = self._used[(id(table), used)] = [version_detail(v) for v in versions]
        return known

    def _terms_on_due(
        self, charge: OverdueCharge, table: LateFeeTerms
    ) -> tuple[int, str | None, str | None, int | None]:
        """Grace, rate, cap and cap amount of the terms the charge fell due under."""
        key = (charge.terms_key, charge.due_date)
        known = self._on_due.get(key)
        if known is None:
            on_due = table.in_force(charge.due_date) or (table.versions[0] if table.versions else None)
            policy = on_due.policy if on_due is not None else None
            known = self._on_due[key] = (
                table.grace_for(charge.due_date),
                str(policy.daily_rate) if policy else None,
                str(policy.cap) if policy else None,
                policy.cap_fen if policy else None,
            )
        return known

    def detail_of(
        self, charge: OverdueCharge, computed: ComputedFee, freezes: Sequence[tuple[date, date]]
    ) -> dict[str, Any] | msgspec.Raw:
        """How a late fee was computed, as the statement explains it (JSON, or JSON encoded already)."""
        plain = not charge.changes and not freezes
        key = (charge.amount_fen, charge.due_date, charge.terms_key, charge.posted_fen)
        if plain and (known := self._untouched_details.get(key)) is not None:
            return known
        grace_days, daily_rate, cap, cap_fen = self._terms_on_due(charge, computed.terms)
        detail = {
            "principal_fen": charge.amount_fen,
            "due_date": charge.due_date.isoformat(),
            "grace_days": grace_days,
            "daily_rate": daily_rate,
            "cap": cap,
            "cap_fen": cap_fen,
            "capped": computed.contract.capped,
            "segments": computed.segments,
            "terms": self._terms_used(computed.terms, computed.contract),
            "total_to_date_fen": computed.contract.total_fen,
            "previously_posted_fen": charge.posted_fen,
            "frozen": [[start.isoformat(), end.isoformat()] for start, end in freezes],
            "court_likely_fen": computed.court_likely_fen,
        }
        if plain:
            self._untouched_details[key] = msgspec.Raw(msgspec.json.encode(detail))
        return detail


# Charges read at a time: memory stays at a page, and their fees stream into the ledger while the
# next page is read.
CHARGE_PAGE = 20_000


async def _principal_changes(session: AsyncSession, estate_id: int, as_of: date) -> dict[int, list[PrincipalChange]]:
    """Charge id → every day its unpaid principal changed: payments, credit, discounts, reversals."""
    settling = aliased(LedgerEntry)
    target = aliased(LedgerEntry)
    rows = await session.execute(
        select(
            col(settling.settles_entry_id),
            col(target.amount_fen),
            col(settling.effective_date),
            func.sum(settling.amount_fen),
        )
        .join(target, col(target.id) == settling.settles_entry_id)
        .where(target.estate_id == estate_id, target.kind == EntryKind.charge, settling.effective_date <= as_of)
        .group_by(col(settling.settles_entry_id), col(target.amount_fen), col(settling.effective_date))
        .order_by(col(settling.settles_entry_id), col(settling.effective_date))
    )
    changes: dict[int, list[PrincipalChange]] = defaultdict(list)
    unpaid: dict[int, int] = {}
    for charge_id, amount_fen, day, settled in rows.all():
        assert charge_id is not None  # joined to its charge
        unpaid[charge_id] = unpaid.get(charge_id, amount_fen) + int(settled)
        changes[charge_id].append(PrincipalChange(on=day, unpaid_fen=max(unpaid[charge_id], 0)))
    return changes


def _posted_query(keyed: bool) -> Any:
    """The late fees posted on a page's charges: sum, last date, count and the run date's entry,
    through the (charge, date) index of late fees without a dedupe key, or the small index of
    those with one."""
    return (
        select_columns(
            col(LedgerEntry.basis_entry_id),
            func.sum(LedgerEntry.amount_fen),
            func.max(LedgerEntry.effective_date),
            func.count(),
        )
        .where(
            col(LedgerEntry.kind) == EntryKind.late_fee,
            col(LedgerEntry.dedupe_key).is_not(None) if keyed else col(LedgerEntry.dedupe_key).is_(None),
            col(LedgerEntry.basis_entry_id).between(bindparam("first"), bindparam("last")),
        )
        .group_by(col(LedgerEntry.basis_entry_id))
    )


_POSTED = _posted_query(keyed=False)
_POSTED_KEYED = _posted_query(keyed=True)


async def _overdue_charges(
    session: AsyncSession, estate_id: int, terms: EstateTerms, as_of: date, changes: dict[int, list[PrincipalChange]]
) -> AsyncIterator[list[OverdueCharge]]:
    """The estate's charges overdue on ``as_of``, with the late fees posted on each so far, a page
    at a time (pages follow the charge id, each read by the primary key from where the last ended)."""
    # No charge is late before its due date and the shortest grace any version gives.
    shortest_grace = min((v.policy.grace_days for v in terms.estate), default=0)
    last_due = as_of - timedelta(days=shortest_grace + 1)
    # Columns, not entities: an estate has millions of charges, and ORM identity costs 40 µs a row.
    page = (
        select_columns(
            col(LedgerEntry.id),
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            col(LedgerEntry.amount_fen),
            col(LedgerEntry.due_date),
            col(LedgerEntry.period),
            col(LedgerEntry.item),
            col(LedgerEntry.fee_standard_id),
        )
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind) == EntryKind.charge,
            col(LedgerEntry.due_date) <= last_due,
            col(LedgerEntry.effective_date) <= as_of,
            col(LedgerEntry.id) > bindparam("after"),
        )
        .order_by(col(LedgerEntry.id))
        .limit(CHARGE_PAGE)
    )
    own_rates = terms.own_rates  # the standards with their own rate: as EstateTerms.key_for, inlined
    no_changes: list[PrincipalChange] = []
    after: int | None = 0
    while rows := (await session.execute(page, {"after": after})).all():
        first, after = rows[0][0], rows[-1][0]
        bounds = {"first": first, "last": after}
        unkeyed = {
            charge_id: (int(total), last, count)
            for charge_id, total, last, count in await session.execute(_POSTED, bounds)
        }
        keyed = {
            charge_id: (int(total), last, count)
            for charge_id, total, last, count in await session.execute(_POSTED_KEYED, bounds)
        }
        carried = await _carried(session, [row[0] or 0 for row in rows if row[7] is None])
        charges = []
        for entry_id, unit_id, owner_id, amount_fen, due_date, period, item, standard_id in rows:
            assert entry_id is not None and due_date is not None  # stored rows; due by last_due
            posted_fen, last_posted, entries = unkeyed.get(entry_id, (0, None, 0))
            on_as_of = last_posted == as_of
            if entry_id in keyed:
                more_fen, more_last, more = keyed[entry_id]
                posted_fen += more_fen
                entries += more
                last_posted = more_last if last_posted is None else max(last_posted, more_last)
            carried_until, carried_fen = carried.get(entry_id, (None, 0))
            charges.append(
                OverdueCharge(
                    id=entry_id,
                    unit_id=unit_id,
                    owner_id=owner_id,
                    amount_fen=amount_fen,
                    due_date=due_date,
                    period=period,
                    item=item,
                    terms_key=standard_id if standard_id in own_rates else None,
                    changes=changes.get(entry_id, no_changes),
                    posted_fen=posted_fen - carried_fen,
                    last_posted=last_posted,
                    entries=entries,
                    unkeyed_on_as_of=on_as_of,
                    carried_until=carried_until,
                )
            )
        yield charges


async def _carried(session: AsyncSession, charge_ids: list[int]) -> dict[int, tuple[date, int]]:
    """Charge id → (day, late fee) an imported opening balance carries in, of the charges given
    (those without a fee standard: opening balances are among them, billed charges never)."""
    if not charge_ids:
        return {}
    rows = await session.execute(
        select_columns(col(LedgerEntry.id), col(LedgerEntry.detail)).where(col(LedgerEntry.id).in_(charge_ids))
    )
    return {charge_id: carried for charge_id, detail in rows.all() if (carried := carried_in(detail)) is not None}


def carried_in(detail: dict[str, Any] | None) -> tuple[date, int] | None:
    """(balance day, late fee) an imported opening balance's charge carries in from the source
    system (``feesvc.imports``): the late fee up to that day is the source's, posted as it was."""
    if not detail or detail.get("basis") != "opening_balance" or not detail.get("as_of"):
        return None
    return date.fromisoformat(detail["as_of"]), int(detail.get("late_fee_fen", 0))


async def frozen_intervals(session: AsyncSession, estate_id: int, as_of: date) -> dict[int, list[tuple[date, date]]]:
    """Charge id → the days up to ``as_of`` a kept installment plan froze its late fee.

    From the ledger as of ``as_of`` (``plan_standing``), not from the state a review stored: a plan
    broken on day X freezes nothing from X even if no review has run, and a run as of a day before
    a plan's agreement sees no freeze yet.
    """
    return freezes_of(await plan_standings(session, as_of, estate_id=estate_id))


def freezes_of(plans: Iterable[PlanAsOf]) -> dict[int, list[tuple[date, date]]]:
    """Charge id → the days the plans (as they stood on a day) froze its late fee."""
    frozen: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for plan in plans:
        days = plan.standing.kept_days
        if days is not None:
            for charge_id in plan.charge_ids:
                frozen[charge_id].append(days)
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
    if is_postgres(session):
        # Before reading what was posted: a second run waits here, then sees this one's fees.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :estate_id)"),
            {"namespace": ACCRUAL_LOCK_NAMESPACE, "estate_id": estate_id},
        )
    with cyclic_gc_paused():  # millions of live objects: the collector would rescan them all
        terms = await estate_terms(session, estate_id)
        changes = await _principal_changes(session, estate_id, as_of)
        frozen = await frozen_intervals(session, estate_id, as_of)
        run = AccrualTerms(estate_id, terms, as_of, await court_rates(session, estate_id), actor.label, utcnow())
        tally = _Tally()
        charges = _overdue_charges(session, estate_id, terms, as_of, changes)
        await stream_entry_rows(session, _late_fee_rows(run, charges, frozen, tally))
        await post_corrections(session, actor, run, tally.corrections)
    # A step of its own, after the corrections: held prepaid credit (a payoff's) settles the new fees.
    credit_applied = await settle_new_late_fees_from_credit(session, actor, estate, as_of)
    await record_audit(
        session,
        actor,
        "late_fees.accrue",
        "estate",
        estate_id,
        {
            "as_of": as_of.isoformat(),
            "entries": tally.entries,
            "posted_fen": tally.posted_fen,
            "corrections": len(tally.corrections),
            "corrected_fen": tally.corrected_fen,
            "problems": [msgspec.to_builtins(p) for p in tally.problems[:100]],
            "credit_applied_fen": credit_applied,
        },
    )
    await session.commit()
    return AccrualResult(
        estate_id=estate_id,
        as_of=as_of,
        charges_considered=tally.charges,
        late_fees_posted=tally.entries,
        posted_fen=tally.posted_fen,
        corrections_posted=len(tally.corrections),
        corrected_fen=tally.corrected_fen,
        problems=tally.problems,
        credit_applied_fen=credit_applied,
    )


@dataclass
class _Tally:
    charges: int = 0
    entries: int = 0
    posted_fen: int = 0
    corrections: list[Correction] = field(default_factory=list)
    corrected_fen: int = 0
    problems: list[ChargeProblem] = field(default_factory=list)


async def _late_fee_rows(
    terms: AccrualTerms,
    charges: AsyncIterable[list[OverdueCharge]],
    frozen: dict[int, list[tuple[date, date]]],
    tally: _Tally,
) -> AsyncIterator[list[dict[str, Any]]]:
    as_of = terms.as_of
    async for chunk in charges:
        tally.charges += len(chunk)
        rows = []
        for charge in chunk:
            if charge.last_posted is not None and charge.last_posted > as_of:
                continue  # a later run's figure stands (module docstring)
            freezes = frozen.get(charge.id, [])
            if charge.carried_until is not None and charge.carried_until >= charge.due_date:
                freezes = [*freezes, (charge.due_date, charge.carried_until)]  # the source system's days
            try:
                computed = terms.fee_of(charge, freezes)
            except (ArithmeticError, TypeError, ValueError) as error:
                tally.problems.append(ChargeProblem(charge.id, charge.unit_id, f"{type(error).__name__}: {error}"))
                continue
            difference = computed.contract.total_fen - charge.posted_fen
            if difference < 0:
                tally.corrections.append(Correction(charge, computed, freezes))
                tally.corrected_fen -= difference
            elif difference > 0:
                row = late_fee_row(terms, charge, computed, freezes, difference)
                tally.entries += 1
                tally.posted_fen += difference
                rows.append(row)
        yield rows


def late_fee_row(
    terms: AccrualTerms,
    charge: OverdueCharge,
    computed: ComputedFee,
    freezes: list[tuple[date, date]],
    increment: int,
) -> dict[str, Any]:
    """The late-fee entry that brings a charge's posted fees up to what is owed on ``terms.as_of``,
    with how it was computed."""
    return {
        "estate_id": terms.estate_id,
        "unit_id": charge.unit_id,
        "owner_id": charge.owner_id,
        "kind": EntryKind.late_fee,
        "amount_fen": increment,
        "effective_date": terms.as_of,
        "period": charge.period,
        "period_months": None,
        "item": charge.item,
        "due_date": charge.due_date,
        "fee_standard_id": None,
        "settles_entry_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": charge.id,
        "payment_id": None,
        # Unique by charge and date without one; a second entry on the same date needs one.
        "dedupe_key": further_key(charge.id, terms.as_of, charge.entries) if charge.unkeyed_on_as_of else None,
        "actor": terms.actor,
        "reason": None,
        "created_at": terms.now,
        "detail": terms.detail_of(charge, computed, freezes),
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
