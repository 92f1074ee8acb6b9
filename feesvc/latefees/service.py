"""The late-fee accrual run, court-likely rates and waivers.

The run is idempotent: for each overdue charge it computes the late fee owed up to ``as_of``
from the charge's whole history (its due date, every change of its unpaid principal, plan
freezes) and posts only the difference from what was posted before. A rerun posts nothing;
paying the principal stops the accrual because the unpaid base drops to zero.

Runs of one estate queue behind each other (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
SQLite). An estate's run posts millions of entries: it reads its charges as columns a page at a
time, computes the fees of untouched charges once per amount, and streams the entries into the
ledger as it computes them (``stream_entry_rows``: COPY on PostgreSQL, on two connections). A run
that fails midway may leave part of its fees posted; the next run posts the rest and nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Sequence
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
from feesvc.latefees.credit import settle_new_late_fees_from_credit
from feesvc.latefees.models import CourtRate
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, open_entries, stream_entry_rows
from feesvc.memory import cyclic_gc_paused
from feesvc.plans.models import InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import Estate, LateFeeCap
from feesvc.registry.service import get_estate
from feesvc.rules.late_fees import LateFee, LateFeePolicy, PrincipalChange, court_likely_fee, late_fee_for
from feesvc.standards.models import FeeStandard


class AccrualResult(msgspec.Struct):
    estate_id: int
    as_of: date
    charges_considered: int
    late_fees_posted: int
    posted_fen: int
    credit_applied_fen: int = 0  # prepaid credit that settled the posted fees (latefees/credit.py)


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
    daily_rate: Decimal
    changes: list[PrincipalChange]
    posted_fen: int
    last_posted: date | None


def policy_for(estate: Estate, daily_rate: Decimal) -> LateFeePolicy:
    return LateFeePolicy(
        daily_rate=daily_rate,
        grace_days=estate.grace_days,
        cap=LateFeeCap(estate.late_fee_cap),
        cap_fen=estate.late_fee_cap_fen,
        starts_on=estate.late_fee_starts_on,
    )


def segments_detail(fee: LateFee) -> list[dict[str, Any]]:
    return [
        {
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "days": s.days,
            "base_fen": s.base_fen,
            "daily_rate": str(s.daily_rate),
        }
        for s in fee.segments
    ]


@dataclass(frozen=True, slots=True)
class ComputedFee:
    contract: LateFee
    segments: list[dict[str, Any]]
    court_likely_fen: int | None


@dataclass(frozen=True, slots=True)
class EstateTerms:
    id: int
    grace_days: int
    late_fee_cap: str
    late_fee_cap_fen: int | None


@dataclass
class AccrualTerms:
    """What every charge of one accrual run shares.

    The fee of a charge that nobody paid on and no plan froze depends only on its amount, due date
    and daily rate, and an estate's charges come in a few amounts (a few floor plans): such fees
    are computed once per run (``late_fee_for`` is pure, so this is exact), and their details
    encoded once per amount of fees posted before.
    """

    estate: Estate
    as_of: date
    court_rates: list[tuple[date, Decimal]]
    actor: str
    now: datetime
    _policies: dict[Decimal, LateFeePolicy] = field(default_factory=dict)
    _untouched: dict[tuple[int, date, Decimal], ComputedFee] = field(default_factory=dict)
    _untouched_details: dict[tuple[int, date, Decimal, int], msgspec.Raw] = field(default_factory=dict)
    estate_terms: EstateTerms = field(init=False)

    def __post_init__(self) -> None:
        # Plain values, read once: an ORM attribute costs a descriptor call per row otherwise.
        estate = self.estate
        self.estate_terms = EstateTerms(estate.id or 0, estate.grace_days, estate.late_fee_cap, estate.late_fee_cap_fen)

    def fee_of(self, charge: OverdueCharge, freezes: Sequence[tuple[date, date]]) -> ComputedFee:
        plain = not charge.changes and not freezes
        key = (charge.amount_fen, charge.due_date, charge.daily_rate)
        if plain and (known := self._untouched.get(key)) is not None:
            return known
        policy = self._policies.get(charge.daily_rate)
        if policy is None:
            policy = self._policies[charge.daily_rate] = policy_for(self.estate, charge.daily_rate)
        contract = late_fee_for(charge.amount_fen, charge.due_date, charge.changes, self.as_of, policy, freezes)
        court = (
            court_likely_fee(
                charge.amount_fen,
                charge.due_date,
                charge.changes,
                self.as_of,
                self.estate.grace_days,
                self.court_rates,
                freezes,
            ).total_fen
            if self.court_rates
            else None
        )
        computed = ComputedFee(contract, segments_detail(contract), court)
        if plain:
            self._untouched[key] = computed
        return computed

    def detail_of(
        self, charge: OverdueCharge, computed: ComputedFee, freezes: Sequence[tuple[date, date]]
    ) -> dict[str, Any] | msgspec.Raw:
        """How a late fee was computed, as the statement explains it (JSON, or JSON encoded already)."""
        plain = not charge.changes and not freezes
        key = (charge.amount_fen, charge.due_date, charge.daily_rate, charge.posted_fen)
        if plain and (known := self._untouched_details.get(key)) is not None:
            return known
        estate = self.estate_terms
        detail = {
            "principal_fen": charge.amount_fen,
            "due_date": charge.due_date.isoformat(),
            "grace_days": estate.grace_days,
            "daily_rate": str(charge.daily_rate),
            "cap": estate.late_fee_cap,
            "cap_fen": estate.late_fee_cap_fen,
            "capped": computed.contract.capped,
            "segments": computed.segments,
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


async def _principal_changes(
    session: AsyncSession, estate_id: int, as_of: date
) -> dict[int, list[PrincipalChange]]:
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


async def _overdue_charges(
    session: AsyncSession, estate: Estate, as_of: date, changes: dict[int, list[PrincipalChange]]
) -> AsyncIterator[list[OverdueCharge]]:
    """The estate's charges overdue on ``as_of``, with the late fees posted on each so far, a page
    at a time (pages follow the charge id, each read by the primary key from where the last ended)."""
    last_due = as_of - timedelta(days=estate.grace_days + 1)
    # A fee standard's own late-fee rate overrides the estate's; an estate has a handful of them.
    standards = await session.execute(
        select(col(FeeStandard.id), col(FeeStandard.late_fee_daily_rate)).where(FeeStandard.estate_id == estate.id)
    )
    rate_of = {standard_id: rate for standard_id, rate in standards.all() if rate is not None}
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
            col(LedgerEntry.estate_id) == estate.id,
            col(LedgerEntry.kind) == EntryKind.charge,
            col(LedgerEntry.due_date) <= last_due,
            col(LedgerEntry.effective_date) <= as_of,
            col(LedgerEntry.id) > bindparam("after"),
        )
        .order_by(col(LedgerEntry.id))
        .limit(CHARGE_PAGE)
    )
    # The late fees posted on a page's charges, through the (charge, date) index of late fees.
    posted = (
        select_columns(
            col(LedgerEntry.basis_entry_id),
            func.sum(LedgerEntry.amount_fen),
            func.max(LedgerEntry.effective_date),
        )
        .where(
            col(LedgerEntry.kind) == EntryKind.late_fee,
            col(LedgerEntry.basis_entry_id).between(bindparam("first"), bindparam("last")),
        )
        .group_by(col(LedgerEntry.basis_entry_id))
    )
    estate_rate = estate.late_fee_daily_rate
    no_changes: list[PrincipalChange] = []
    after: int | None = 0
    while rows := (await session.execute(page, {"after": after})).all():
        first, after = rows[0][0], rows[-1][0]
        posted_on = {
            charge_id: (int(total), last)
            for charge_id, total, last in await session.execute(posted, {"first": first, "last": after})
        }
        charges = []
        for entry_id, unit_id, owner_id, amount_fen, due_date, period, item, standard_id in rows:
            assert entry_id is not None and due_date is not None  # stored rows; due by last_due
            posted_fen, last_posted = posted_on.get(entry_id, (0, None))
            charges.append(
                OverdueCharge(
                    id=entry_id,
                    unit_id=unit_id,
                    owner_id=owner_id,
                    amount_fen=amount_fen,
                    due_date=due_date,
                    period=period,
                    item=item,
                    daily_rate=rate_of.get(standard_id, estate_rate),
                    changes=changes.get(entry_id, no_changes),
                    posted_fen=posted_fen,
                    last_posted=last_posted,
                )
            )
        yield charges


async def frozen_intervals(
    session: AsyncSession, estate_id: int, as_of: date, unit_id: int | None = None
) -> dict[int, list[tuple[date, date]]]:
    """Charge id → the days a kept installment plan froze its late fee (of one unit's charges only,
    given ``unit_id``)."""
    query = (
        select(
            col(PlanCharge.entry_id),
            col(InstallmentPlan.agreed_on),
            col(InstallmentPlan.ended_on),
            col(InstallmentPlan.state),
        )
        .join(InstallmentPlan, col(InstallmentPlan.id) == PlanCharge.plan_id)
        .where(
            InstallmentPlan.estate_id == estate_id,
            col(InstallmentPlan.agreed_on).is_not(None),
        )
    )
    if unit_id is not None:
        query = query.where(InstallmentPlan.unit_id == unit_id)
    rows = await session.execute(query)
    frozen: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for entry_id, agreed_on, ended_on, state in rows.all():
        # A broken plan stops freezing on the day it broke; a kept or completed one froze throughout.
        ended = state in (PlanState.broken, PlanState.cancelled) and ended_on is not None
        end = ended_on - timedelta(days=1) if ended and ended_on else as_of
        # A run as of a day before the agreement (yesterday's nightly run) sees no freeze yet.
        if agreed_on is not None and agreed_on <= end:
            frozen[entry_id].append((agreed_on, end))
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
        changes = await _principal_changes(session, estate_id, as_of)
        frozen = await frozen_intervals(session, estate_id, as_of)
        terms = AccrualTerms(estate, as_of, await court_rates(session, estate_id), actor.label, utcnow())
        tally = _Tally()
        charges = _overdue_charges(session, estate, as_of, changes)
        await stream_entry_rows(session, _late_fee_rows(terms, charges, frozen, tally))
    # A step of its own, after the posting: held prepaid credit (a payoff's) settles the new fees.
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
        credit_applied_fen=credit_applied,
    )


@dataclass
class _Tally:
    charges: int = 0
    entries: int = 0
    posted_fen: int = 0


async def _late_fee_rows(
    terms: AccrualTerms,
    charges: AsyncIterable[list[OverdueCharge]],
    frozen: dict[int, list[tuple[date, date]]],
    tally: _Tally,
) -> AsyncIterator[list[dict[str, Any]]]:
    async for chunk in charges:
        tally.charges += len(chunk)
        rows = []
        for charge in chunk:
            if paid_before_last_run(charge.changes, charge.last_posted):
                continue  # nothing more can accrue
            row = late_fee_row(terms, charge, frozen.get(charge.id, []))
            if row is not None:
                tally.entries += 1
                tally.posted_fen += row["amount_fen"]
                rows.append(row)
        yield rows


def paid_before_last_run(changes: Sequence[PrincipalChange], last_posted: date | None) -> bool:
    """Whether a charge was paid off before its late fees were last posted (so they are final)."""
    paid_off = changes[-1] if changes and changes[-1].unpaid_fen <= 0 else None
    return paid_off is not None and last_posted is not None and paid_off.on <= last_posted


def late_fee_row(
    terms: AccrualTerms, charge: OverdueCharge, freezes: list[tuple[date, date]]
) -> dict[str, Any] | None:
    """The late-fee entry that brings a charge's posted fees up to what is owed on ``terms.as_of``,
    with how it was computed; None when nothing more is owed."""
    computed = terms.fee_of(charge, freezes)
    fee = computed.contract
    increment = fee.total_fen - charge.posted_fen
    if increment <= 0:
        return None
    estate = terms.estate_terms
    return {
        "estate_id": estate.id,
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
        "dedupe_key": None,  # unique by charge and date instead
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
