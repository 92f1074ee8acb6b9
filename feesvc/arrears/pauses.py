"""Why the reminder run leaves an account alone for now: an open complaint, an action under way."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.actions import RECORD_COMPLAINT, current_actions
from feesvc.arrears.models import (
    ActionState,
    ArrearsCase,
    CaseStatus,
)
from feesvc.arrears.service import active_case
from feesvc.service_records.models import Complaint
from feesvc.service_records.service import business_date, current_owner_id, open_on

# ---------------------------------------------------------------------------------------------
# For the reminder run
# ---------------------------------------------------------------------------------------------


async def reminder_pause_reason(
    session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None = None
) -> str | None:
    """Why no payment reminder may go to this owner at the unit on ``as_of``, or None; without
    ``owner_id``, to the unit's current owner (a case of any owner of the unit counts then).

    In order: a manager's hold on the case; an open complaint of the owner (DOMAIN.md: reminders
    pause until the owner has inspected the fix); a pending step of the case's plan that holds
    reminders (a hardship case's installment offer, a dissatisfied owner's inspection).
    Complaints are read as they stood on ``as_of``; the case and its actions as they are now.
    """
    case = await active_case(session, unit_id, owner_id)
    if case is not None and case.status is CaseStatus.paused:
        return f"case #{case.id} paused by manager hold: {case.status_reason}"
    complaint_reason = await _complaint_pause(session, unit_id, as_of, owner_id)
    if complaint_reason is not None:
        return complaint_reason
    if case is not None:
        return await _action_pause(session, case, as_of)
    return None


async def _complaint_pause(session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None) -> str | None:
    if owner_id is None:
        owner_id = await current_owner_id(session, unit_id, as_of)
    query = select(Complaint).where(Complaint.unit_id == unit_id)
    if owner_id is not None:
        query = query.where(Complaint.owner_id == owner_id)
    for complaint in (await session.execute(query.order_by(col(Complaint.opened_at), col(Complaint.id)))).scalars():
        if not open_on(complaint, as_of):
            continue
        if complaint.owner_satisfied is False and complaint.inspected_at is not None:
            inspected = business_date(complaint.inspected_at).isoformat()
            return (
                f"open complaint #{complaint.id} ({complaint.category.value}): the owner was not satisfied with "
                f"the fix inspected on {inspected}"
            )
        return f"open complaint #{complaint.id} ({complaint.category.value}) not yet inspected by the owner"
    return None


async def _action_pause(session: AsyncSession, case: ArrearsCase, as_of: date) -> str | None:
    assert case.id is not None
    for action in await current_actions(session, case.id):
        if action.state is not ActionState.open or not action.pauses_reminders:
            continue
        if business_date(action.created_at) > as_of:
            continue
        if action.code == RECORD_COMPLAINT and await _complaint_filed_since(session, case, action.created_at, as_of):
            continue  # done in effect: the complaint now holds the reminders until it is inspected
        cause = action.basis.split("|", 1)[0]
        return f"case #{case.id} ({cause}): waiting for '{action.code}' due {action.due_on}"
    return None


async def _complaint_filed_since(session: AsyncSession, case: ArrearsCase, since: datetime, as_of: date) -> bool:
    query = select(Complaint.opened_at).where(Complaint.unit_id == case.unit_id, col(Complaint.created_at) >= since)
    if case.owner_id is not None:
        query = query.where(Complaint.owner_id == case.owner_id)
    return any(business_date(opened) <= as_of for opened in (await session.execute(query)).scalars())
