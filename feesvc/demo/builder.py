"""``feesvc demo``: two estates with years of billing, payments and a realistic spread of arrears.

The registry goes in first (plan.py decides it, registry.py writes it) with the fee rules
(feerules.py), then the history is played month by month through the billing run, the payment
desk and the month-end late-fee and plan runs (history.py). Then what staff did alongside: the
service log (activity.py), complaints (complaints.py), arrears cases with their notes and
classifications (casework.py, notes.py). Last, tokens are made and the summary is read back
from the database (summary.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.db import business_today
from feesvc.demo.accrual import Accrual, BulkAccrual, ServiceAccrual
from feesvc.demo.activity import record_service_activity
from feesvc.demo.casework import Casework, labels_in_arrears
from feesvc.demo.complaints import Complaints
from feesvc.demo.desk import BulkDesk, Desk, ServiceDesk
from feesvc.demo.feerules import set_fee_rules
from feesvc.demo.history import MANAGER, History
from feesvc.demo.plan import DemoPlan, Profile, UnitPlan, make_plan
from feesvc.demo.registry import create_registry
from feesvc.demo.sales import sold_units
from feesvc.demo.summary import DemoSummary, DemoToken, all_positions, summarise
from feesvc.errors import Conflict, InvalidInput
from feesvc.registry.models import AllocationOrder, Estate, UnitUse

Progress = Callable[[str], None]

DEFAULT_CODE_PREFIX = "DEMO-"


async def build_demo(
    session: AsyncSession,
    *,
    units: int = 1000,
    years: int = 3,
    seed: int = 7,
    today: date | None = None,
    code_prefix: str = DEFAULT_CODE_PREFIX,
    desk: Literal["bulk", "service"] = "bulk",
    progress: Progress | None = None,
) -> DemoSummary:
    """Load the demo estates, deterministically from ``seed``; refuse if they are loaded already.

    ``desk="service"`` posts every payment through ``record_payment`` and runs the month-end late
    fees through ``accrue_late_fees`` (slow; for checking the bulk desk and the bulk accrual).
    """
    if units < 20:
        raise InvalidInput("the demo needs at least 20 units", field="units")
    if not 1 <= years <= 10:
        raise InvalidInput("the demo covers 1 to 10 years", field="years")
    plan = make_plan(units, years, seed, today or business_today(), code_prefix)
    await _refuse_if_loaded(session, [e.key for e in plan.estates])
    clock = _Clock(progress)
    estate_ids = await create_registry(session, plan, MANAGER)
    clock.stage(f"registry: {len(plan.estates)} estates, {len(plan.units):,} units")
    await set_fee_rules(session, plan, estate_ids, MANAGER)
    accrual: Accrual = ServiceAccrual(session) if desk == "service" else BulkAccrual(session)
    history = History(session, plan, estate_ids, _desk(session, plan, estate_ids, desk), accrual, seed, clock.stage)
    counts = await history.play()
    clock.stage(
        f"history: {counts.payments:,} payments, {counts.late_fees:,} late fees, {counts.prepayments} prepayments, "
        f"{counts.sales} sales"
    )
    activity = await record_service_activity(session, plan, estate_ids, seed)
    complaints = Complaints(session, plan, seed)
    filed = await complaints.file_all()
    clock.stage(f"service activity ({activity:,} records) and {sum(filed.values())} complaints")
    positions = await all_positions(session, plan, estate_ids)
    overdue = {unit_id: p.overdue_fen for unit_id, p in positions.items()}
    cases = await Casework(session, plan, seed, complaints.closed_units).work(labels_in_arrears(overdue, plan))
    clock.stage(f"{cases.cases} arrears cases, {cases.notes} notes, {cases.overrides} overrides")
    tokens = await _create_tokens(session, plan)
    summary = await summarise(session, plan, estate_ids, tokens, seed, positions)
    # End the read transaction: on SQLite it holds the write lock until the session closes.
    await session.commit()
    clock.stage("summary")
    return summary


def _desk(session: AsyncSession, plan: DemoPlan, estate_ids: dict[str, int], kind: str) -> Desk:
    if kind == "service":
        return ServiceDesk(session, plan.timeline.today)
    orders = {estate_ids[e.key]: AllocationOrder(e.settings.allocation_order) for e in plan.estates}
    return BulkDesk(session, orders)


class _Clock:
    """Progress lines with the time so far."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.started = time.monotonic()

    def stage(self, message: str) -> None:
        if self.progress is not None:
            self.progress(f"demo: {message} ({time.monotonic() - self.started:.1f}s)")


async def _refuse_if_loaded(session: AsyncSession, codes: list[str]) -> None:
    found = (await session.execute(select(Estate.code).where(col(Estate.code).in_(codes)))).scalars().all()
    if found:
        taken = ", ".join(sorted(found))
        estates = f"estate {taken} exists" if len(found) == 1 else f"estates {taken} exist"
        raise Conflict(f"demo data is already loaded ({estates}); load it into an empty database")


async def _create_tokens(session: AsyncSession, plan: DemoPlan) -> list[DemoToken]:
    tokens = []
    for role in (Role.manager, Role.cashier, Role.system):
        secret, _ = await create_token(session, COMMAND_LINE, role, f"demo {role.value}")
        tokens.append(DemoToken(role, secret, None, None))
    unit = _owner_in_arrears(plan)
    if unit is not None:
        owner_id = unit.owner.owner_id
        secret, _ = await create_token(session, COMMAND_LINE, Role.owner, f"demo owner {owner_id}", owner_id)
        tokens.append(DemoToken(Role.owner, secret, owner_id, unit.unit_id))
    # The seller and the buyer of a unit sold with arrears on both sides: one unit, two accounts.
    both = [u for u in sold_units(plan) if u.sale and u.sale.seller_leaves_arrears and u.sale.buyer_stops_on]
    sold = both[0] if both else None
    if sold is not None and sold.sale is not None:
        for person, about in ((sold.owner, "seller of"), (sold.sale.buyer, "buyer of")):
            owner_id = person.owner_id
            secret, _ = await create_token(session, COMMAND_LINE, Role.owner, f"demo owner {owner_id}", owner_id)
            tokens.append(DemoToken(Role.owner, secret, owner_id, sold.unit_id, f"{about} the sold unit, owes"))
    return tokens


def _owner_in_arrears(plan: DemoPlan) -> UnitPlan | None:
    """An owner in hardship who still makes small payments: their ledger tells the whole story."""
    homes = [u for u in plan.units if u.use == UnitUse.residential and u.sale is None]
    for profile in (Profile.hardship, Profile.long_term, Profile.dissatisfied):
        for unit in homes:
            if unit.profile == profile and (profile != Profile.hardship or unit.partial_payments):
                return unit
    return None
