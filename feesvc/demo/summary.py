"""What the demo loaded, read back from the database, and the text ``feesvc demo`` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.models import ArrearsCase, ArrearsClassification, ArrearsNote, ArrearsOverride
from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.db import BUSINESS_TZ
from feesvc.demo.plan import ARREARS_PROFILES, DemoPlan, EstateSpec, Profile, UnitPlan
from feesvc.demo.sales import sold_units
from feesvc.formatting import money
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.ledger.service import open_credits, open_debits
from feesvc.payments.models import Payment, PaymentVoid
from feesvc.plans.models import InstallmentPlan
from feesvc.registry.models import UnitUse
from feesvc.service_records.models import Complaint, ServiceActivity
from feesvc.settings import get_settings

SELLER_ARREARS = "seller_arrears"
BUYER_ARREARS = "buyer_arrears"
LOCALE = "zh_CN"


def arrears_label(unit: UnitPlan) -> str:
    """The label a unit's arrears are filed under: its profile, or after a sale whose arrears they
    are (the buyer's when the buyer fell behind: the arrears case is the current owner's then)."""
    sale = unit.sale
    if sale is not None and sale.buyer_stops_on is not None:
        return BUYER_ARREARS
    if sale is not None and sale.seller_leaves_arrears:
        return SELLER_ARREARS
    return unit.profile.value


@dataclass(frozen=True)
class DemoToken:
    role: Role
    secret: str
    owner_id: int | None
    unit_id: int | None
    # Whose token it is, for the summary: an owner in arrears, a seller or a buyer of a sold unit.
    about: str = "in arrears"


@dataclass
class UnitPosition:
    """A unit's open items as of the demo's today."""

    owed_fen: int = 0
    # Open on charges whose due date plus the estate's grace days has passed: arrears.
    overdue_fen: int = 0
    credit_fen: int = 0


@dataclass
class SoldUnit:
    """A unit sold in the history (过户) and where each owner's account stands today."""

    unit_id: int
    estate_code: str
    building: str
    number: str
    handover: date
    seller_id: int
    buyer_id: int
    seller: UnitPosition
    buyer: UnitPosition
    # "moved away" (a postal address on file) or "no address on file"
    seller_contact: str
    # The last period of the seller's booked prepayment when it runs past the handover.
    seller_prepaid_through: str | None = None

    def line(self) -> str:
        prepaid = f", had prepaid through {self.seller_prepaid_through}" if self.seller_prepaid_through else ""
        return (
            f"  unit {self.unit_id:<6} {self.estate_code} {self.building} {self.number}: handover {self.handover}; "
            f"seller owner {self.seller_id} owes {money(self.seller.owed_fen, LOCALE)} "
            f"({self.seller_contact}{prepaid}), buyer owner {self.buyer_id} owes {money(self.buyer.owed_fen, LOCALE)}"
        )


@dataclass
class EstateSummary:
    id: int
    code: str
    name: str
    cycle_months: int
    homes: int
    shops: int
    parking: int
    charges: int
    billed_fen: int
    payments: int
    voided_payments: int
    received_fen: int
    refunded_fen: int
    # Debts forgiven rather than paid: prepay discounts and waived late fees (net of restored ones).
    relief_fen: int
    outstanding_fen: int
    overdue_fen: int
    credit_fen: int
    units_in_arrears: int

    @property
    def units(self) -> int:
        return self.homes + self.shops + self.parking

    @property
    def collected_fen(self) -> int:
        """Money kept: payments not voided, less refunds."""
        return self.received_fen - self.refunded_fen

    @property
    def reconciles(self) -> bool:
        return self.collected_fen + self.relief_fen + self.outstanding_fen - self.credit_fen == self.billed_fen


@dataclass
class Casework:
    """What the demo's staff did besides billing and the desk, counted from the database."""

    late_fee_runs: int = 0
    late_fees: int = 0
    late_fee_fen: int = 0
    waived_fen: int = 0
    prepayments: int = 0
    discount_fen: int = 0
    activity_records: int = 0
    # status (open, resolved, closed) → complaints
    complaints: dict[str, int] = field(default_factory=dict)
    # still open, and the 24 hours for a rectification plan are up
    complaints_without_plan: int = 0
    cases: int = 0
    notes: int = 0
    # effective cause (the latest override, else the latest classification) → cases
    causes: dict[str, int] = field(default_factory=dict)
    overrides: int = 0
    # state → installment plans
    plans: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        complaints = self.complaints
        lines = [
            "",
            f"Late fees: {self.late_fees:,} posted by {self.late_fee_runs} month-end runs, "
            f"{money(self.late_fee_fen, LOCALE)}; waived under installment plans {money(self.waived_fen, LOCALE)}.",
            f"Prepayments booked: {self.prepayments} (discounts {money(self.discount_fen, LOCALE)}).",
            f"Service activity: {self.activity_records:,} monthly records (cleaning, repairs, patrols, greenery).",
            f"Complaints: {sum(complaints.values())} — open {complaints.get('open', 0)} "
            f"({self.complaints_without_plan} still without a rectification plan), "
            f"resolved {complaints.get('resolved', 0)}, closed without the owner's satisfaction "
            f"{complaints.get('closed', 0)}.",
            f"Arrears cases: {self.cases} with {self.notes} contact notes; by effective cause "
            f"({self.overrides} set by a manager):",
        ]
        for cause in ("hardship", "service_dissatisfaction", "misunderstanding", "unknown"):
            lines.append(f"  {cause:<26}{self.causes.get(cause, 0):>5} cases")
        plans = ", ".join(f"{state} {n}" for state, n in sorted(self.plans.items())) or "none"
        lines.append(f"Installment plans: {plans}.")
        return lines


@dataclass
class DemoSummary:
    seed: int
    today: date
    first_period: str
    last_period: str
    estates: list[EstateSummary]
    # unit id → payment profile (Profile values): the complaints and the arrears cases follow it.
    profiles: dict[int, str]
    # unit id → what is open on it; the arrears are the units with overdue_fen > 0.
    positions: dict[int, UnitPosition]
    tokens: list[DemoToken]
    # Everything the demo decided per unit (stop dates, incidents, vacancy, sales), by unit id.
    stories: dict[int, UnitPlan] = field(repr=False)
    casework: Casework = field(default_factory=Casework)
    sales: list[SoldUnit] = field(default_factory=list)

    def arrears_label(self, unit_id: int) -> str:
        return arrears_label(self.stories[unit_id])

    def arrears_by_profile(self) -> dict[str, tuple[int, int]]:
        """Profile → (units in arrears, overdue fen)."""
        units: Counter[str] = Counter()
        fen: Counter[str] = Counter()
        for unit_id, position in self.positions.items():
            if position.overdue_fen > 0:
                label = self.arrears_label(unit_id)
                units[label] += 1
                fen[label] += position.overdue_fen
        return {label: (units[label], fen[label]) for label in units}

    def __str__(self) -> str:
        period = f"{self.first_period} … {self.last_period}"
        lines = [f"Demo data loaded (seed {self.seed}): billing {period}, as of {self.today}."]
        for estate in self.estates:
            lines += _estate_lines(estate)
        lines += self._arrears_lines()
        lines += self._sale_lines()
        lines += self.casework.lines()
        lines += self._token_lines()
        return "\n".join(lines)

    def _arrears_lines(self) -> list[str]:
        lines = ["", "Units in arrears (overdue beyond the grace days), by payment profile:"]
        by_profile = self.arrears_by_profile()
        order = [p.value for p in (*ARREARS_PROFILES, Profile.on_time, Profile.prepaid)]
        for label in [*order, SELLER_ARREARS, BUYER_ARREARS]:
            if label in by_profile:
                units, fen = by_profile[label]
                lines.append(f"  {label:<26}{units:>5} units  {money(fen, LOCALE):>16}")
        return lines

    def _sale_lines(self) -> list[str]:
        if not self.sales:
            return []
        lines = ["", "Units sold (过户), each handed over in the middle of a billing period; what each owner owes:"]
        return lines + [sale.line() for sale in self.sales]

    def _token_lines(self) -> list[str]:
        if not self.tokens:
            return []
        base = get_settings().server.public_base_url.rstrip("/")
        lines = ["", "API tokens (shown once; only their hashes are stored):"]
        for token in self.tokens:
            note = f"  (owner {token.owner_id}, {token.about}, unit {token.unit_id})" if token.owner_id else ""
            lines.append(f"  {token.role.value:<8}{token.secret}{note}")
        manager = next((t for t in self.tokens if t.role == Role.manager), None)
        owner = next((t for t in self.tokens if t.role == Role.owner), None)
        lines += ["", "Try it: start the API with `feesvc serve`, then"]
        if manager is not None:
            lines.append(f"  curl -H 'Authorization: Bearer {manager.secret}' {base}/api/v1/estates")
            lines.append(f"  curl -H 'Authorization: Bearer {manager.secret}' {base}/api/v1/units/1/ledger")
        if owner is not None:
            lines.append(f"  curl -H 'Authorization: Bearer {owner.secret}' {base}/api/v1/units/{owner.unit_id}/ledger")
        for token in self.tokens:
            if token is not owner and token.role == Role.owner:
                lines.append(
                    f"  curl -H 'Authorization: Bearer {token.secret}' {base}/api/v1/units/{token.unit_id}/ledger"
                    f"  # {token.about}"
                )
        return lines


def _estate_lines(e: EstateSummary) -> list[str]:
    cycle = (
        "monthly" if e.cycle_months == 1 else "quarterly" if e.cycle_months == 3 else f"every {e.cycle_months} months"
    )
    rate = _percent(e.collected_fen, e.billed_fen)
    check = "reconciles" if e.reconciles else "DOES NOT RECONCILE"
    return [
        "",
        f"{e.code} {e.name} (estate id {e.id}), {cycle} billing: {e.units} units "
        f"({e.homes} homes, {e.shops} shops, {e.parking} parking spaces)",
        f"  charges {e.charges:,}, payments {e.payments:,} (+{e.voided_payments} voided)",
        f"  billed       {money(e.billed_fen, LOCALE):>18}",
        f"  collected    {money(e.collected_fen, LOCALE):>18}  ({rate} of billed, after refunds of "
        f"{money(e.refunded_fen, LOCALE)})",
        f"  outstanding  {money(e.outstanding_fen, LOCALE):>18}  (overdue {money(e.overdue_fen, LOCALE)}, "
        f"{e.units_in_arrears} units in arrears)",
        f"  relief       {money(e.relief_fen, LOCALE):>18}  (prepay discounts and waived late fees)",
        f"  credit held  {money(e.credit_fen, LOCALE):>18}  "
        f"(collected + relief + outstanding - credit = billed: {check})",
    ]


def _percent(part: int, whole: int) -> str:
    if whole == 0:
        return "-"
    tenths = (part * 1000 + whole // 2) // whole
    return f"{tenths // 10}.{tenths % 10}%"


# ---------------------------------------------------------------------------------------------
# Reading it back
# ---------------------------------------------------------------------------------------------


async def unit_positions(
    session: AsyncSession, estate_id: int, grace_days: int, today: date
) -> dict[int, UnitPosition]:
    """Open debits and credits of every unit of an estate in one query (open = amount + what settles it)."""
    settling = (
        select(
            col(LedgerEntry.settles_entry_id).label("entry_id"),
            func.sum(LedgerEntry.amount_fen).label("settled"),
        )
        .where(LedgerEntry.estate_id == estate_id, col(LedgerEntry.settles_entry_id).is_not(None))
        .group_by(col(LedgerEntry.settles_entry_id))
        .subquery()
    )
    open_fen = col(LedgerEntry.amount_fen) + func.coalesce(settling.c.settled, 0)
    rows = await session.execute(
        select(LedgerEntry.unit_id, LedgerEntry.kind, col(LedgerEntry.due_date), open_fen)
        .outerjoin(settling, settling.c.entry_id == LedgerEntry.id)
        .where(
            LedgerEntry.estate_id == estate_id,
            col(LedgerEntry.kind).in_([*DEBIT_KINDS, EntryKind.prepaid_credit]),
            open_fen != 0,
        )
    )
    positions: dict[int, UnitPosition] = {}
    overdue_before = today - timedelta(days=grace_days)
    for unit_id, kind, due, amount in rows.all():
        position = positions.setdefault(unit_id, UnitPosition())
        if kind == EntryKind.prepaid_credit:
            position.credit_fen -= int(amount)
            continue
        position.owed_fen += int(amount)
        if due is not None and due < overdue_before:
            position.overdue_fen += int(amount)
    return positions


async def _sum(session: AsyncSession, query: object) -> tuple[int, int]:
    count, total = (await session.execute(query)).one()  # type: ignore[call-overload]
    return int(count), int(total or 0)


async def _estate_summary(
    session: AsyncSession, spec: EstateSpec, estate_id: int, units: list[UnitPlan], positions: dict[int, UnitPosition]
) -> EstateSummary:
    charges, billed = await billed_fen(session, estate_id)
    voided = select(PaymentVoid.payment_id)
    payments, received = await _sum(
        session,
        select(func.count(), func.sum(Payment.amount_fen)).where(
            Payment.estate_id == estate_id, col(Payment.id).not_in(voided)
        ),
    )
    voids, _ = await _sum(
        session,
        select(func.count(), func.sum(Payment.amount_fen)).where(
            Payment.estate_id == estate_id, col(Payment.id).in_(voided)
        ),
    )
    _, refunded = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id, LedgerEntry.kind == EntryKind.refund
        ),
    )
    relief = await relief_fen(session, estate_id)
    uses = Counter(u.use for u in units)
    return EstateSummary(
        id=estate_id,
        code=spec.key,
        name=spec.name,
        cycle_months=spec.settings.cycle_months,
        homes=uses[UnitUse.residential],
        shops=uses[UnitUse.commercial],
        parking=uses[UnitUse.parking],
        charges=charges,
        billed_fen=billed,
        payments=payments,
        voided_payments=voids,
        received_fen=received,
        refunded_fen=refunded,
        relief_fen=relief,
        outstanding_fen=sum(p.owed_fen for p in positions.values()),
        overdue_fen=sum(p.overdue_fen for p in positions.values()),
        credit_fen=sum(p.credit_fen for p in positions.values()),
        units_in_arrears=sum(1 for p in positions.values() if p.overdue_fen > 0),
    )


async def billed_fen(session: AsyncSession, estate_id: int) -> tuple[int, int]:
    """(debit entries, fen billed): charges and late fees, less the reversals that undid some (a
    sale recorded in a billed period reverses the whole-period charge and issues each owner's share)."""
    debits, issued = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS)
        ),
    )
    debit_ids = select(LedgerEntry.id).where(LedgerEntry.estate_id == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS))
    _, undone = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id,
            LedgerEntry.kind == EntryKind.reversal,
            col(LedgerEntry.reverses_entry_id).in_(debit_ids),
        ),
    )
    return debits, issued + undone


async def relief_fen(session: AsyncSession, estate_id: int) -> int:
    """Discounts and waivers, less the reversals that took some of them back."""
    relieving = (EntryKind.discount, EntryKind.waiver)
    _, given = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id, col(LedgerEntry.kind).in_(relieving)
        ),
    )
    reversed_ids = select(LedgerEntry.id).where(
        LedgerEntry.estate_id == estate_id, col(LedgerEntry.kind).in_(relieving)
    )
    _, taken_back = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id,
            LedgerEntry.kind == EntryKind.reversal,
            col(LedgerEntry.reverses_entry_id).in_(reversed_ids),
        ),
    )
    return -(given + taken_back)


async def all_positions(session: AsyncSession, plan: DemoPlan, estate_ids: dict[str, int]) -> dict[int, UnitPosition]:
    positions: dict[int, UnitPosition] = {}
    for spec in plan.estates:
        grace = spec.settings.grace_days
        positions.update(await unit_positions(session, estate_ids[spec.key], grace, plan.timeline.today))
    return positions


async def _casework(session: AsyncSession, estate_ids: list[int], today: date) -> Casework:
    work = Casework()
    in_estates = col(LedgerEntry.estate_id).in_(estate_ids)
    kinds = await session.execute(
        select(LedgerEntry.kind, func.count(), func.sum(LedgerEntry.amount_fen))
        .where(in_estates, col(LedgerEntry.kind).in_([EntryKind.late_fee, EntryKind.discount]))
        .group_by(col(LedgerEntry.kind))
    )
    for kind, count, total in kinds.all():
        if kind == EntryKind.late_fee:
            work.late_fees, work.late_fee_fen = int(count), int(total)
        else:
            work.discount_fen = -int(total)
    runs = select(func.count()).where(
        AuditEvent.action == "late_fees.accrue",
        AuditEvent.entity == "estate",
        col(AuditEvent.entity_id).in_([str(estate_id) for estate_id in estate_ids]),
    )
    work.late_fee_runs = (await session.execute(runs)).scalar_one()
    for estate_id in estate_ids:
        work.waived_fen += await relief_fen(session, estate_id)
    work.waived_fen -= work.discount_fen
    work.prepayments = len(
        (
            await session.execute(
                select(LedgerEntry.payment_id).where(in_estates, LedgerEntry.kind == EntryKind.discount).distinct()
            )
        ).all()
    )
    work.activity_records = (
        await session.execute(select(func.count()).where(col(ServiceActivity.estate_id).in_(estate_ids)))
    ).scalar_one()
    # As of the start of the demo's today (Shanghai): the 24 hours of a plan are up or not then.
    now = datetime.combine(today, time(0), BUSINESS_TZ)
    complaints = (await session.execute(select(Complaint).where(col(Complaint.estate_id).in_(estate_ids)))).scalars()
    statuses: Counter[str] = Counter()
    for complaint in complaints:
        status = "open" if complaint.closed_at is None else "resolved" if complaint.owner_satisfied else "closed"
        statuses[status] += 1
        work.complaints_without_plan += (
            status == "open" and complaint.plan_given_at is None and now > complaint.plan_due_at
        )
    work.complaints = dict(statuses)
    cases = select(ArrearsCase.id).where(col(ArrearsCase.estate_id).in_(estate_ids))
    work.cases = len((await session.execute(cases)).all())
    work.notes = (await session.execute(select(func.count()).where(col(ArrearsNote.case_id).in_(cases)))).scalar_one()
    effective: dict[int, tuple[tuple[int, int], str]] = {}
    classified = select(ArrearsClassification.case_id, ArrearsClassification.id, ArrearsClassification.category)
    overridden = select(ArrearsOverride.case_id, ArrearsOverride.id, ArrearsOverride.category)
    for query, rank in ((classified, 0), (overridden, 1)):
        rows: Any = await session.execute(query.where(col(query.selected_columns[0]).in_(cases)))
        for case_id, row_id, category in rows.all():
            key = (rank, int(row_id))
            if case_id not in effective or key > effective[case_id][0]:
                effective[case_id] = (key, str(category))
    work.causes = dict(Counter(category for _, category in effective.values()))
    work.overrides = (
        await session.execute(select(func.count()).where(col(ArrearsOverride.case_id).in_(cases)))
    ).scalar_one()
    plans = await session.execute(
        select(InstallmentPlan.state, func.count())
        .where(col(InstallmentPlan.estate_id).in_(estate_ids))
        .group_by(col(InstallmentPlan.state))
    )
    work.plans = {str(state): int(count) for state, count in plans.all()}
    return work


async def sold_unit_summaries(
    session: AsyncSession, plan: DemoPlan, units: list[UnitPlan], today: date
) -> list[SoldUnit]:
    """Each sold unit's accounts, per owner: the seller's and the buyer's open items as of today."""
    sold = []
    for unit in units:
        sale = unit.sale
        assert sale is not None and unit.unit_id is not None
        seller, buyer = unit.owner.owner_id, sale.buyer.owner_id
        assert seller is not None and buyer is not None
        overdue_before = today - timedelta(days=unit.estate.settings.grace_days)
        positions = {seller: UnitPosition(), buyer: UnitPosition()}
        for debit in await open_debits(session, unit.unit_id):
            position = positions.setdefault(debit.owner_id or 0, UnitPosition())
            position.owed_fen += debit.open_fen
            position.overdue_fen += debit.open_fen if debit.debt_due < overdue_before else 0
        for credit, open_fen in await open_credits(session, unit.unit_id):
            positions.setdefault(credit.owner_id or 0, UnitPosition()).credit_fen -= open_fen
        sold.append(
            SoldUnit(
                unit_id=unit.unit_id,
                estate_code=unit.estate.key,
                building=unit.building,
                number=unit.number,
                handover=sale.on,
                seller_id=seller,
                buyer_id=buyer,
                seller=positions[seller],
                buyer=positions[buyer],
                seller_contact="moved away, postal address on file" if sale.seller_address else "no address on file",
                seller_prepaid_through=await _booked_through(session, unit.unit_id, seller, sale.on),
            )
        )
    return sold


async def _booked_through(session: AsyncSession, unit_id: int, seller_id: int, handover: date) -> str | None:
    """The last period the seller's booked prepayments covered, if it comes after the handover.

    Read from the charges the prepayments booked (those their discounts relieve): in the ledger
    for good, whatever the sale did with them later."""
    booked = select(LedgerEntry.settles_entry_id).where(
        LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.discount
    )
    last = (
        await session.execute(
            select(func.max(LedgerEntry.period)).where(
                col(LedgerEntry.id).in_(booked), LedgerEntry.owner_id == seller_id
            )
        )
    ).scalar_one()
    return last if last is not None and last >= f"{handover:%Y-%m}" else None


async def summarise(
    session: AsyncSession,
    plan: DemoPlan,
    estate_ids: dict[str, int],
    tokens: list[DemoToken],
    seed: int,
    positions: dict[int, UnitPosition],
) -> DemoSummary:
    estates = []
    for spec in plan.estates:
        units = plan.units_of(spec)
        ids = {u.unit_id for u in units}
        estate_positions = {unit_id: p for unit_id, p in positions.items() if unit_id in ids}
        estates.append(await _estate_summary(session, spec, estate_ids[spec.key], units, estate_positions))
    stories = {u.unit_id: u for u in plan.units if u.unit_id is not None}
    return DemoSummary(
        seed=seed,
        today=plan.timeline.today,
        first_period=f"{plan.timeline.first:%Y-%m}",
        last_period=f"{plan.timeline.months[-1]:%Y-%m}",
        estates=estates,
        profiles={unit_id: u.profile.value for unit_id, u in stories.items()},
        positions={unit_id: positions.get(unit_id, UnitPosition()) for unit_id in stories},
        tokens=tokens,
        stories=stories,
        casework=await _casework(session, list(estate_ids.values()), plan.timeline.today),
        sales=await sold_unit_summaries(session, plan, sold_units(plan), plan.timeline.today),
    )
