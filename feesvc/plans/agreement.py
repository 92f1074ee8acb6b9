"""The plan agreement (分期缴费协议): issued as a letter when a plan is proposed, for the owner to
sign; its signed copy, uploaded, is kept as the proof of the owner's acknowledgement of the debt
(诉讼时效规定 §14), and agrees a plan still proposed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput
from feesvc.files import FileStore
from feesvc.ledger.models import LedgerEntry
from feesvc.letters.content import LetterContext, PeriodLine, PlanTerms
from feesvc.letters.estate_terms import estate_letter_fields
from feesvc.letters.kinds import LetterKind
from feesvc.letters.single import Issued, issue_letter
from feesvc.limitation.models import Acknowledgement
from feesvc.limitation.service import check_proof, record_acknowledgement
from feesvc.plans.models import Installment, InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import Building, Owner, Ownership, Unit
from feesvc.registry.service import get_estate
from feesvc.rules.installments import Installment as InstallmentTerms
from feesvc.standards.models import FeeStandard


def agreement_letter_no(estate_code: str, issued_on: date, plan_id: int) -> str:
    return f"{estate_code}-{issued_on:%Y%m%d}-P{plan_id}"


async def issue_plan_agreement(
    session: AsyncSession, actor: Principal, plan: InstallmentPlan, issued_on: date
) -> Issued:
    """The agreement of a plan just proposed, to its owner, with the covered periods (by the item
    name of each charge's own fee standard) and the schedule; in the caller's transaction."""
    assert plan.id is not None
    if plan.owner_id is None:
        return Issued(None, ["the plan has no owner on record to sign it"])
    estate = await get_estate(session, plan.estate_id)
    owner = await session.get(Owner, plan.owner_id)
    unit, building = (
        await session.execute(
            select(Unit, Building).join(Building, col(Building.id) == Unit.building_id).where(Unit.id == plan.unit_id)
        )
    ).one()
    assert owner is not None
    covered = await session.execute(
        select(PlanCharge.period, PlanCharge.principal_fen, LedgerEntry.item, FeeStandard.item_name)
        .join(LedgerEntry, col(LedgerEntry.id) == PlanCharge.entry_id)
        .outerjoin(FeeStandard, col(FeeStandard.id) == LedgerEntry.fee_standard_id)
        .where(PlanCharge.plan_id == plan.id)
    )
    lines: dict[tuple[str, str], int] = defaultdict(int)
    for period, fen, item, item_name in covered.all():
        lines[(period, item_name or item or "")] += fen
    installments = (
        await session.execute(
            select(Installment).where(Installment.plan_id == plan.id).order_by(col(Installment.number))
        )
    ).scalars()
    ownership = (
        (
            await session.execute(
                select(col(Ownership.ends_on)).where(Ownership.unit_id == plan.unit_id, Ownership.owner_id == owner.id)
            )
        )
        .scalars()
        .all()
    )
    former = bool(ownership) and all(ends is not None and ends < issued_on for ends in ownership)
    ctx = LetterContext(
        kind=LetterKind.plan_agreement,
        locale=owner.locale or estate.locale,
        letter_no=agreement_letter_no(estate.code, issued_on, plan.id),
        issued_on=issued_on,
        company=estate.company_name,
        estate=estate.name,
        estate_address=estate.address,
        service_phone=estate.service_phone,
        owner_name=owner.name,
        postal_address=owner.postal_address,
        unit_label=f"{building.name} {unit.number}",
        periods=tuple(PeriodLine(period, name, fen) for (period, name), fen in sorted(lines.items())),
        total_fen=plan.total_fen,
        plan=PlanTerms(
            installments=tuple(InstallmentTerms(i.number, i.due_date, i.amount_fen) for i in installments),
            late_fee_treatment=plan.late_fee_treatment.value,
            grace_days=estate.grace_days,
            waived_fees_return=estate.plan_break_restores_waived,
        ),
        **estate_letter_fields(estate),  # how to pay and to dispute, as the estate has set them
    )
    return await issue_letter(
        session, actor, estate, plan.unit_id, owner, former, ctx, f"{plan.unit_id}:plan_agreement:{plan.id}"
    )


async def upload_signed_copy(
    session: AsyncSession,
    actor: Principal,
    plan_id: int,
    signed_on: date,
    proof: bytes,
    key: str,
    files: FileStore,
    today: date,
) -> tuple[Acknowledgement, bool]:
    """Keep the signed agreement as the proof of the plan's acknowledgement; a plan still proposed is
    agreed on ``signed_on`` first (which writes the acknowledgement's limitation events)."""
    from feesvc.plans.service import agree_plan, get_plan  # plans.service issues the agreement: no cycle

    check_proof(proof)  # before the plan is agreed: a bad file changes nothing
    if signed_on > today:
        raise InvalidInput(f"a plan cannot be signed in the future (today is {today})", field="signed_on")
    plan = await get_plan(session, plan_id)
    if plan.owner_id is None:
        raise Conflict(f"plan #{plan_id} has no owner on record to have signed it", field="plan_id")
    if plan.state == PlanState.proposed:
        plan = await agree_plan(session, actor, plan_id, signed_on)
    elif plan.state not in (PlanState.active, PlanState.completed, PlanState.broken):
        raise Conflict(f"plan #{plan_id} is {plan.state}: it was never signed", field="plan_id")
    elif plan.agreed_on != signed_on:
        raise Conflict(f"plan #{plan_id} was agreed on {plan.agreed_on}, not {signed_on}", field="signed_on")
    periods = sorted(
        set((await session.execute(select(PlanCharge.period).where(PlanCharge.plan_id == plan_id))).scalars())
    )
    assert plan.owner_id is not None
    ack, created = await record_acknowledgement(
        session,
        actor,
        unit_id=plan.unit_id,
        owner_id=plan.owner_id,
        signed_on=signed_on,
        periods=periods,
        proof=proof,
        note=f"installment plan #{plan_id}",
        key=key,
        files=files,
        today=today,
        plan_id=plan_id,
        events=False,
    )
    await session.commit()
    return ack, created
