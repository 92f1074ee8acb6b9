"""Installment plans (分期): propose, agree and cancel them, and read them back.

DOMAIN.md "Installment plans". A plan covers the open principal of some overdue charges of one owner's
account of a unit (a seller's periods, or the buyer's: never both; DOMAIN.md "Change of owner");
its late fees are handled by the agreed treatment, not put into the schedule:

* ``freeze``: no late fee accrues on the covered charges from the day it is agreed while it is kept
  (``latefees.service.frozen_intervals`` reads the plan);
* ``waive_on_completion``: frozen as above, and the late fees of the covered charges are waived
  once the covered principal is paid;
* ``waive_now``: the open late fees of the covered charges are waived on agreement.

Payments are ordinary payments: allocation (oldest debt first) settles the covered charges. Progress
and standing are read from the ledger (``plans.standing``): whether a plan is kept on a day is
decided there for every run (reminders, late-fee freeze, billing), not from the state stored here.

The review run that stores their completion or break is in ``plans.review``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import exists, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, FieldError, InvalidInput, NotFound
from feesvc.latefees.service import waiver_entry
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, open_entries, reversal_of
from feesvc.payments.lookup import held_unit
from feesvc.plans.agreement import issue_plan_agreement
from feesvc.plans.models import Installment, InstallmentPlan, LateFeeTreatment, PlanCharge, PlanState
from feesvc.plans.schemas import (
    CoveredChargeOut,
    InstallmentOut,
    InstallmentStatus,
    PlanCreate,
    PlanOut,
)
from feesvc.plans.standing import Progress, progress_of
from feesvc.registry.models import Estate, Ownership
from feesvc.registry.service import get_estate, ownership_covering
from feesvc.rules import installments as rules
from feesvc.rules.installments import Frequency, PlanRefused

OPEN_STATES = (PlanState.proposed, PlanState.active)
ENDED_STATES = (PlanState.completed, PlanState.broken, PlanState.cancelled)
WAIVING = (LateFeeTreatment.waive_now, LateFeeTreatment.waive_on_completion)
# PlanRefused names the rule's argument; the problem names the request field.
REFUSED_FIELD = {"count": "installments", "total_fen": "charge_ids"}
REASON_MAX = 500  # ledger_entry.reason


def waiver_reason(plan_id: int) -> str:
    """The reason on every waiver a plan posts; a break or cancellation finds them by it."""
    return f"installment plan #{plan_id}: late fees waived"


def _source(plan_id: int) -> str:
    return f"installment plan #{plan_id}"


# ---------------------------------------------------------------------------------------------------
# Reading a plan and its progress


async def get_plan(session: AsyncSession, plan_id: int) -> InstallmentPlan:
    plan = await session.get(InstallmentPlan, plan_id)
    if plan is None:
        raise NotFound(f"installment plan {plan_id} does not exist")
    return plan


def _status(number_due: date, amount: int, paid: int, as_of: date) -> InstallmentStatus:
    if paid >= amount:
        return InstallmentStatus.paid
    return InstallmentStatus.late if number_due < as_of else InstallmentStatus.due


def progress_out(progress: Progress, as_of: date) -> PlanOut:
    plan = progress.plan
    assert plan.id is not None
    paid = progress.paid_by(as_of)
    left = paid
    schedule = []
    for installment in progress.installments:
        share = min(left, installment.amount_fen)
        left -= share
        schedule.append(
            InstallmentOut(
                number=installment.number,
                due_date=installment.due_date,
                amount_fen=installment.amount_fen,
                paid_fen=share,
                status=_status(installment.due_date, installment.amount_fen, share, as_of),
            )
        )
    charges = []
    for covered in progress.covered:
        entry = progress.charges[covered.entry_id]
        charges.append(
            CoveredChargeOut(
                entry_id=covered.entry_id,
                period=covered.period,
                item=entry.item,
                due_date=entry.due_date,
                principal_fen=covered.principal_fen,
                open_fen=progress.open_on(covered.entry_id, as_of),
            )
        )
    return PlanOut(
        id=plan.id,
        estate_id=plan.estate_id,
        unit_id=plan.unit_id,
        owner_id=plan.owner_id,
        state=PlanState(plan.state),
        installments=plan.installments,
        frequency=Frequency(plan.frequency),
        first_due=plan.first_due,
        late_fee_treatment=LateFeeTreatment(plan.late_fee_treatment),
        total_fen=plan.total_fen,
        paid_fen=paid,
        as_of=as_of,
        note=plan.note,
        created_by=plan.created_by,
        created_at=plan.created_at,
        agreed_on=plan.agreed_on,
        ended_on=plan.ended_on,
        end_reason=plan.end_reason,
        periods=sorted({c.period for c in progress.covered}),
        charges=charges,
        schedule=schedule,
    )


async def plan_out(session: AsyncSession, plan_id: int, as_of: date) -> PlanOut:
    return progress_out(await progress_of(session, await get_plan(session, plan_id)), as_of)


async def unit_plans(session: AsyncSession, unit_id: int, as_of: date) -> list[PlanOut]:
    query = select(InstallmentPlan).where(InstallmentPlan.unit_id == unit_id).order_by(col(InstallmentPlan.id).desc())
    return [progress_out(await progress_of(session, p), as_of) for p in (await session.execute(query)).scalars()]


# ---------------------------------------------------------------------------------------------------
# Proposing


async def _in_open_plans(session: AsyncSession, entry_ids: Collection[int]) -> dict[int, int]:
    """Charge id → the proposed or active plan that covers it."""
    if not entry_ids:
        return {}
    rows = await session.execute(
        select(col(PlanCharge.entry_id), col(PlanCharge.plan_id))
        .join(InstallmentPlan, col(InstallmentPlan.id) == PlanCharge.plan_id)
        .where(col(PlanCharge.entry_id).in_(list(entry_ids)), col(InstallmentPlan.state).in_(OPEN_STATES))
    )
    return {int(entry_id): int(plan_id) for entry_id, plan_id in rows.all()}


def _plans_text(taken: dict[int, int], ids: Sequence[int]) -> str:
    return ", ".join(f"charge {i} (plan #{taken[i]})" for i in ids)


def _theirs(entry: LedgerEntry, owner_id: int | None) -> bool:
    """Whether a charge is of the owner's account (one with no owner recorded is anyone's)."""
    return entry.owner_id is None or entry.owner_id == owner_id


async def _chosen_charges(
    session: AsyncSession, unit_id: int, owner_id: int | None, charge_ids: list[int] | None, today: date
) -> list[tuple[LedgerEntry, int]]:
    """The open overdue charges of the owner's account the plan covers: those named, or all not in
    another plan. Another owner's charge is refused: the owner of a period owes it (a buyer never
    signs for a seller's periods)."""
    open_charges = {
        e.id: (e, o) for e, o in await open_entries(session, unit_id, frozenset({EntryKind.charge})) if o > 0
    }
    if charge_ids is None:
        overdue = [
            (e, o)
            for e, o in open_charges.values()
            if e.due_date is not None and e.due_date < today and _theirs(e, owner_id)
        ]
        if not overdue:
            raise InvalidInput(
                f"owner {owner_id} has no overdue charge on unit {unit_id} to put in a plan", field="charge_ids"
            )
        taken = await _in_open_plans(session, [e.id for e, _ in overdue if e.id is not None])
        free = [(e, o) for e, o in overdue if e.id not in taken]
        if not free:
            raise Conflict(
                "every overdue charge of this unit is already in a plan: " + _plans_text(taken, sorted(taken)),
                field="charge_ids",
            )
        return free
    if not charge_ids:
        raise InvalidInput(
            "name at least one charge, or leave charge_ids out for all overdue charges", field="charge_ids"
        )
    if len(set(charge_ids)) != len(charge_ids):
        raise InvalidInput("a charge is named twice", field="charge_ids")
    named = await session.execute(select(LedgerEntry).where(col(LedgerEntry.id).in_(charge_ids)))
    entries = {e.id: e for e in named.scalars()}
    errors: list[FieldError] = []
    for charge_id in charge_ids:
        entry = entries.get(charge_id)
        if entry is None or entry.kind != EntryKind.charge or entry.unit_id != unit_id:
            errors.append(FieldError("charge_ids", f"entry {charge_id} is not a charge of unit {unit_id}"))
        elif not _theirs(entry, owner_id):
            errors.append(
                FieldError(
                    "charge_ids",
                    f"charge {charge_id} ({entry.period}) is owner {entry.owner_id}'s, not owner {owner_id}'s: "
                    "a plan is for one owner's account (name owner_id for another owner's plan)",
                )
            )
        elif charge_id not in open_charges:
            errors.append(FieldError("charge_ids", f"charge {charge_id} ({entry.period}) is paid in full"))
        elif entry.due_date is None or entry.due_date >= today:
            errors.append(
                FieldError("charge_ids", f"charge {charge_id} ({entry.period}) is not overdue: due {entry.due_date}")
            )
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors)
    taken = await _in_open_plans(session, charge_ids)
    if taken:
        clash = [i for i in charge_ids if i in taken]
        raise Conflict("already in another plan: " + _plans_text(taken, clash), field="charge_ids")
    return [open_charges[i] for i in charge_ids]


async def _owner_on(session: AsyncSession, unit_id: int, on: date) -> int | None:
    query = select(Ownership.owner_id).where(Ownership.unit_id == unit_id, ownership_covering(on))
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def propose_plan(session: AsyncSession, actor: Principal, data: PlanCreate, today: date) -> InstallmentPlan:
    """Record a proposed plan; every check runs before anything is written."""
    unit = await lock_unit(session, data.unit_id)
    if unit is None:
        raise NotFound(f"unit {data.unit_id} does not exist", field="unit_id")
    assert unit.id is not None
    if data.first_due < today:
        raise InvalidInput(f"the first installment cannot fall due in the past (today is {today})", field="first_due")
    if data.owner_id is not None and not await held_unit(session, unit.id, data.owner_id, today):
        raise InvalidInput(f"owner {data.owner_id} never owned unit {unit.id}", field="owner_id")
    owner_id = await _owner_on(session, unit.id, today) if data.owner_id is None else data.owner_id
    chosen = await _chosen_charges(session, unit.id, owner_id, data.charge_ids, today)
    chosen.sort(key=lambda pair: (pair[0].due_date or pair[0].effective_date, pair[0].id or 0))
    total = sum(open_fen for _, open_fen in chosen)
    try:
        schedule = rules.schedule(total, data.installments, data.first_due, data.frequency)
    except PlanRefused as refused:
        raise InvalidInput(refused.message, field=REFUSED_FIELD.get(refused.field, refused.field)) from refused
    plan = InstallmentPlan(
        estate_id=unit.estate_id,
        unit_id=unit.id,
        owner_id=owner_id,
        state=PlanState.proposed,
        installments=data.installments,
        frequency=Frequency(data.frequency).value,
        first_due=data.first_due,
        late_fee_treatment=data.late_fee_treatment,
        total_fen=total,
        note=data.note,
        created_by=actor.label,
    )
    session.add(plan)
    await session.flush()
    assert plan.id is not None
    for entry, open_fen in chosen:
        assert entry.id is not None and entry.due_date is not None
        period = entry.period or entry.due_date.strftime("%Y-%m")
        session.add(PlanCharge(plan_id=plan.id, entry_id=entry.id, period=period, principal_fen=open_fen))
    for installment in schedule:
        session.add(
            Installment(
                plan_id=plan.id,
                number=installment.number,
                due_date=installment.due_date,
                amount_fen=installment.amount_fen,
            )
        )
    await session.flush()
    await record_audit(
        session,
        actor,
        "installment_plan.propose",
        "installment_plan",
        plan.id,
        {
            "unit_id": unit.id,
            "owner_id": owner_id,
            "charge_ids": [e.id for e, _ in chosen],
            "total_fen": total,
            "installments": data.installments,
            "frequency": plan.frequency,
            "first_due": data.first_due.isoformat(),
            "late_fee_treatment": data.late_fee_treatment.value,
        },
    )
    # The agreement for the owner to sign goes out with the proposal; one the letter rules refuse
    # is reported in the audit, and the plan stands (it can be signed on a printed copy).
    issued = await issue_plan_agreement(session, actor, plan, today)
    await record_audit(
        session,
        actor,
        "installment_plan.agreement_letter",
        "installment_plan",
        plan.id,
        {"letter_id": issued.letter_id, "problems": issued.problems},
    )
    await session.commit()
    return plan


# ---------------------------------------------------------------------------------------------------
# Late fees the plan waives, and bringing them back


def open_late_fees() -> Select[LedgerEntry, Any]:
    """Late fees with something still open on them, whatever the date of what settles them."""
    settling = aliased(LedgerEntry)
    settled = (
        select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id)
        .scalar_subquery()
    )
    open_fen = LedgerEntry.amount_fen + settled
    return select(LedgerEntry, open_fen).where(LedgerEntry.kind == EntryKind.late_fee, open_fen > 0)


async def waive_late_fees_of(
    session: AsyncSession,
    actor: Principal,
    plan: InstallmentPlan,
    charge_ids: Collection[int],
    on: date,
    up_to: date | None,
) -> int:
    """Waive what is open on the covered charges' late fees (posted by ``up_to``); returns the fen waived."""
    assert plan.id is not None
    query = open_late_fees().where(
        LedgerEntry.unit_id == plan.unit_id, col(LedgerEntry.basis_entry_id).in_(list(charge_ids))
    )
    if up_to is not None:
        query = query.where(LedgerEntry.effective_date <= up_to)
    waivers = []
    for fee, open_fen in (await session.execute(query.order_by(col(LedgerEntry.id)))).all():
        # A waiver is never dated before the fee it settles.
        waiver = waiver_entry(fee, int(open_fen), max(on, fee.effective_date), actor, waiver_reason(plan.id))
        waiver.detail = {"installment_plan_id": plan.id}
        waivers.append(waiver)
    append(session, waivers)
    return -sum(w.amount_fen for w in waivers)


async def restore_waived(session: AsyncSession, actor: Principal, plan: InstallmentPlan, on: date, why: str) -> int:
    """Reverse every waiver this plan posted that is not reversed yet; returns the fen restored."""
    assert plan.id is not None
    reversal = aliased(LedgerEntry)
    query = (
        select(LedgerEntry)
        .where(
            LedgerEntry.unit_id == plan.unit_id,
            LedgerEntry.kind == EntryKind.waiver,
            LedgerEntry.reason == waiver_reason(plan.id),
            ~exists().where(col(reversal.reverses_entry_id) == LedgerEntry.id),
        )
        .order_by(col(LedgerEntry.id))
    )
    entries = []
    for waiver in (await session.execute(query)).scalars():
        entry = reversal_of(waiver, max(on, waiver.effective_date), actor, why)
        entry.detail = {"installment_plan_id": plan.id}
        entries.append(entry)
    append(session, entries)
    return sum(e.amount_fen for e in entries)


def restores_waived(estate: Estate) -> bool:
    return bool(estate.plan_break_restores_waived)


# ---------------------------------------------------------------------------------------------------
# Agreeing and cancelling


async def _locked_plan(session: AsyncSession, plan_id: int) -> InstallmentPlan:
    plan = await get_plan(session, plan_id)
    await lock_unit(session, plan.unit_id)
    await session.refresh(plan)  # read again under the unit's lock
    return plan


async def agree_plan(session: AsyncSession, actor: Principal, plan_id: int, agreed_on: date) -> InstallmentPlan:
    """The owner signed: the plan is active from ``agreed_on``, an acknowledgement of the covered debt."""
    plan = await _locked_plan(session, plan_id)
    assert plan.id is not None
    if plan.state != PlanState.proposed:
        raise Conflict(f"plan #{plan.id} is {plan.state}; only a proposed plan can be agreed")
    if agreed_on > plan.first_due:
        raise InvalidInput(
            f"the first installment fell due on {plan.first_due}, before this agreement; propose a new plan",
            field="agreed_on",
        )
    plan.state = PlanState.active
    plan.agreed_on = agreed_on
    covered = list((await session.execute(select(PlanCharge).where(PlanCharge.plan_id == plan.id))).scalars())
    periods = sorted({c.period for c in covered})
    # 诉讼时效规定 §14: a signed plan acknowledges the debt and restarts each covered period's clock.
    session.add_all(
        LimitationEvent(
            unit_id=plan.unit_id,
            owner_id=plan.owner_id,  # the plan's owner acknowledges their own debt only
            period=period,
            kind=InterruptionKind.acknowledgement,
            occurred_on=agreed_on,
            source=_source(plan.id),
            actor=actor.label,
        )
        for period in periods
    )
    waived = 0
    if plan.late_fee_treatment == LateFeeTreatment.waive_now:
        waived = await waive_late_fees_of(session, actor, plan, [c.entry_id for c in covered], agreed_on, None)
    await session.flush()
    await record_audit(
        session,
        actor,
        "installment_plan.agree",
        "installment_plan",
        plan.id,
        {"agreed_on": agreed_on.isoformat(), "periods": periods, "late_fees_waived_fen": waived},
    )
    await session.commit()
    return plan


async def cancel_plan(
    session: AsyncSession, actor: Principal, plan_id: int, reason: str, today: date
) -> InstallmentPlan:
    """Cancel a proposed or active plan. An active one ends today; what it waived comes back if the
    estate restores waived late fees on a break (otherwise cancelling would keep the waiver without
    the installments)."""
    plan = await _locked_plan(session, plan_id)
    assert plan.id is not None
    if plan.state not in OPEN_STATES:
        raise Conflict(f"plan #{plan.id} is {plan.state} already")
    was_active = plan.state == PlanState.active
    ended_on = max(today, plan.agreed_on) if was_active and plan.agreed_on else today
    plan.state = PlanState.cancelled
    plan.ended_on = ended_on
    plan.end_reason = reason
    restored = 0
    if was_active and restores_waived(await get_estate(session, plan.estate_id)):
        why = f"installment plan #{plan.id} cancelled: waived late fees restored ({reason})"[:REASON_MAX]
        restored = await restore_waived(session, actor, plan, ended_on, why)
    await session.flush()
    await record_audit(
        session,
        actor,
        "installment_plan.cancel",
        "installment_plan",
        plan.id,
        {"reason": reason, "ended_on": ended_on.isoformat(), "was_active": was_active, "restored_fen": restored},
    )
    await session.commit()
    return plan
