"""The rectification reply (整改答复函): sent to the owner who complained when the rectification
plan is recorded with its dated steps (DOMAIN.md "Why owners don't pay": a plan within 24 hours,
then an invitation to inspect the result). A revised plan sends a new reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ
from feesvc.letters.content import ComplaintInfo, LetterContext, RectificationStep
from feesvc.letters.estate_terms import estate_letter_fields
from feesvc.letters.kinds import LetterKind
from feesvc.letters.single import Issued, issue_letter
from feesvc.registry.models import Building, Owner, Ownership, Unit
from feesvc.registry.service import get_estate
from feesvc.service_records.models import Complaint, ComplaintStep, StepKind
from feesvc.service_records.schemas import ComplaintStepCreate


async def issue_rectification_reply(
    session: AsyncSession, actor: Principal, complaint: Complaint, data: ComplaintStepCreate, at: datetime
) -> Issued:
    """The reply to ``complaint`` with the plan in ``data`` (given at ``at``), to the owner who
    complained, in the caller's transaction (the plan's step is flushed already)."""
    assert complaint.id is not None
    if complaint.owner_id is None:
        return Issued(None, ["the complaint has no owner on record to reply to"])
    owner = await session.get(Owner, complaint.owner_id)
    assert owner is not None
    estate = await get_estate(session, complaint.estate_id)
    unit, building = (
        await session.execute(
            select(Unit, Building)
            .join(Building, col(Building.id) == Unit.building_id)
            .where(Unit.id == complaint.unit_id)
        )
    ).one()
    plans_given = (
        await session.execute(
            select(func.count()).where(
                ComplaintStep.complaint_id == complaint.id, ComplaintStep.kind == StepKind.plan_given
            )
        )
    ).scalar_one()
    issued_on = at.astimezone(BUSINESS_TZ).date()
    ends = (
        (
            await session.execute(
                select(col(Ownership.ends_on)).where(
                    Ownership.unit_id == complaint.unit_id, Ownership.owner_id == owner.id
                )
            )
        )
        .scalars()
        .all()
    )
    former = bool(ends) and all(end is not None and end < issued_on for end in ends)
    ctx = LetterContext(
        kind=LetterKind.rectification_reply,
        locale=owner.locale or estate.locale,
        letter_no=f"{estate.code}-{issued_on:%Y%m%d}-C{complaint.id}-{plans_given}",
        issued_on=issued_on,
        company=estate.company_name,
        estate=estate.name,
        estate_address=estate.address,
        service_phone=estate.service_phone,
        owner_name=owner.name,
        postal_address=owner.postal_address,
        unit_label=f"{building.name} {unit.number}",
        periods=(),
        total_fen=0,
        complaint=ComplaintInfo(
            opened=complaint.opened_at,
            category=complaint.category.value,
            text=complaint.text,
            steps=tuple(RectificationStep(a.at, a.action) for a in sorted(data.actions, key=lambda a: a.at)),
            inspect_at=data.inspect_at,
            contact=complaint.responsible,
        ),
        **estate_letter_fields(estate),  # how to pay and to dispute, as the estate has set them
    )
    return await issue_letter(
        session,
        actor,
        estate,
        complaint.unit_id,
        owner,
        former,
        ctx,
        f"{complaint.unit_id}:rectification_reply:{complaint.id}:{plans_given}",
    )
