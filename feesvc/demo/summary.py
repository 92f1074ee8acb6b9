"""What the demo loaded, read back from the database, and the text ``feesvc demo`` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.demo.plan import ARREARS_PROFILES, DemoPlan, EstateSpec, Profile, UnitPlan
from feesvc.formatting import money
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.payments.models import Payment, PaymentVoid
from feesvc.registry.models import UnitUse
from feesvc.settings import get_settings

SELLER_ARREARS = "seller_arrears"
LOCALE = "zh_CN"


@dataclass(frozen=True)
class DemoToken:
    role: Role
    secret: str
    owner_id: int | None
    unit_id: int | None


@dataclass
class UnitPosition:
    """A unit's open items as of the demo's today."""

    owed_fen: int = 0
    # Open on charges whose due date plus the estate's grace days has passed: arrears.
    overdue_fen: int = 0
    credit_fen: int = 0


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
        return self.collected_fen + self.outstanding_fen - self.credit_fen == self.billed_fen


@dataclass
class DemoSummary:
    seed: int
    today: date
    first_period: str
    last_period: str
    estates: list[EstateSummary]
    # unit id → payment profile (Profile values); a later step adds complaints and notes by it.
    profiles: dict[int, str]
    # unit id → what is open on it; the arrears are the units with overdue_fen > 0.
    positions: dict[int, UnitPosition]
    tokens: list[DemoToken]
    # Everything the demo decided per unit (stop dates, incidents, vacancy, sales), by unit id.
    stories: dict[int, UnitPlan] = field(repr=False)

    def arrears_label(self, unit_id: int) -> str:
        story = self.stories[unit_id]
        if story.sale is not None and story.sale.seller_leaves_arrears:
            return SELLER_ARREARS
        return self.profiles[unit_id]

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
        lines += self._token_lines()
        return "\n".join(lines)

    def _arrears_lines(self) -> list[str]:
        lines = ["", "Units in arrears (overdue beyond the grace days), by payment profile:"]
        by_profile = self.arrears_by_profile()
        order = [p.value for p in (*ARREARS_PROFILES, Profile.on_time, Profile.prepaid)] + [SELLER_ARREARS]
        for label in order:
            if label in by_profile:
                units, fen = by_profile[label]
                lines.append(f"  {label:<26}{units:>5} units  {money(fen, LOCALE):>16}")
        return lines

    def _token_lines(self) -> list[str]:
        if not self.tokens:
            return []
        base = get_settings().server.public_base_url.rstrip("/")
        lines = ["", "API tokens (shown once; only their hashes are stored):"]
        for token in self.tokens:
            note = f"  (owner {token.owner_id}, in arrears, unit {token.unit_id})" if token.owner_id else ""
            lines.append(f"  {token.role.value:<8}{token.secret}{note}")
        manager = next((t for t in self.tokens if t.role == Role.manager), None)
        owner = next((t for t in self.tokens if t.role == Role.owner), None)
        lines += ["", "Try it: start the API with `feesvc serve`, then"]
        if manager is not None:
            lines.append(f"  curl -H 'Authorization: Bearer {manager.secret}' {base}/api/v1/estates")
            lines.append(f"  curl -H 'Authorization: Bearer {manager.secret}' {base}/api/v1/units/1/ledger")
        if owner is not None:
            lines.append(f"  curl -H 'Authorization: Bearer {owner.secret}' {base}/api/v1/units/{owner.unit_id}/ledger")
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
        f"  credit held  {money(e.credit_fen, LOCALE):>18}  (collected + outstanding - credit = billed: {check})",
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
    charges, billed = await _sum(
        session,
        select(func.count(), func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.estate_id == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS)
        ),
    )
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
        outstanding_fen=sum(p.owed_fen for p in positions.values()),
        overdue_fen=sum(p.overdue_fen for p in positions.values()),
        credit_fen=sum(p.credit_fen for p in positions.values()),
        units_in_arrears=sum(1 for p in positions.values() if p.overdue_fen > 0),
    )


async def summarise(
    session: AsyncSession, plan: DemoPlan, estate_ids: dict[str, int], tokens: list[DemoToken], seed: int
) -> DemoSummary:
    estates, positions = [], {}
    today = plan.timeline.today
    for spec in plan.estates:
        units = plan.units_of(spec)
        estate_positions = await unit_positions(session, estate_ids[spec.key], spec.settings.grace_days, today)
        estates.append(await _estate_summary(session, spec, estate_ids[spec.key], units, estate_positions))
        positions.update(estate_positions)
    stories = {u.unit_id: u for u in plan.units if u.unit_id is not None}
    return DemoSummary(
        seed=seed,
        today=today,
        first_period=f"{plan.timeline.first:%Y-%m}",
        last_period=f"{plan.timeline.months[-1]:%Y-%m}",
        estates=estates,
        profiles={unit_id: u.profile.value for unit_id, u in stories.items()},
        positions={unit_id: positions.get(unit_id, UnitPosition()) for unit_id in stories},
        tokens=tokens,
        stories=stories,
    )
