"""Complaints with their 24-hour rectification clock, and monthly service activity.

Every write is audit-logged in the same transaction. Times are UTC instants; the dates reports
and the classifier see are business (Shanghai) dates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Select, bindparam, func, or_
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc import idempotency
from feesvc.audit.service import record_audit
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ
from feesvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from feesvc.registry.models import Building, Ownership
from feesvc.registry.service import can_read_unit, get_estate, get_unit, ownership_covering
from feesvc.schemas import period_start
from feesvc.service_records.models import (
    ActivityKind,
    Complaint,
    ComplaintChannel,
    ComplaintStep,
    ServiceActivity,
    StepKind,
)
from feesvc.service_records.reply import issue_rectification_reply
from feesvc.service_records.schemas import (
    BuildingSummary,
    ComplaintCreate,
    ComplaintOut,
    ComplaintStatus,
    ComplaintStepCreate,
    ComplaintStepOut,
    KindTotal,
    ServiceActivityCreate,
    ServiceSummaryOut,
)

# The service promise: a rectification plan within 24 hours of the complaint (DOMAIN.md).
PLAN_WITHIN = timedelta(hours=24)
# Clocks of phones and desk PCs drift; a time a little ahead of ours is not "in the future".
CLOCK_SKEW = timedelta(minutes=5)
OWNER_CHANNELS = frozenset({ComplaintChannel.app, ComplaintChannel.wechat})


def business_date(moment: datetime) -> date:
    return moment.astimezone(BUSINESS_TZ).date()


# ---------------------------------------------------------------------------------------------
# Complaints
# ---------------------------------------------------------------------------------------------


async def current_owner_id(session: AsyncSession, unit_id: int, on: date) -> int | None:
    query = select(Ownership.owner_id).where(Ownership.unit_id == unit_id, ownership_covering(on))
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def file_complaint(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    data: ComplaintCreate,
    now: datetime,
    key: str | None = None,
) -> Complaint:
    """File a complaint. With an Idempotency-Key, a retry of the same request answers the complaint
    the first one filed (feesvc.idempotency)."""
    owner_id = await current_owner_id(session, unit_id, business_date(now))
    if actor.role is Role.owner:
        # Checked before the unit lookup, so an owner learns nothing about units not theirs.
        if actor.owner_id is None or owner_id != actor.owner_id:
            raise Forbidden("you can file complaints only for a unit you own")
        channel = _owner_channel(data)
    else:
        channel = data.channel or ComplaintChannel.desk
    unit, _ = await get_unit(session, unit_id)
    if not data.text.strip():
        raise InvalidInput("say what the complaint is about", field="text")
    opened = data.opened_at or now
    if opened > now + CLOCK_SKEW:
        raise InvalidInput("a complaint cannot be opened in the future", field="opened_at")
    request = idempotency.fingerprint(unit=unit_id, by=actor.label, **msgspec.to_builtins(data))
    if key is not None and (found := await idempotency.replayed(session, Complaint, key, request)) is not None:
        return found
    complaint = Complaint(
        estate_id=unit.estate_id,
        unit_id=unit_id,
        owner_id=owner_id,
        category=data.category,
        channel=channel,
        text=data.text.strip(),
        responsible=data.responsible or "",
        opened_at=opened,
        plan_due_at=opened + PLAN_WITHIN,
        filed_by=actor.label,
        idempotency_key=key,
        request_fingerprint=request if key is not None else None,
    )
    if key is None:
        session.add(complaint)
        await session.flush()
    else:
        complaint, new = await idempotency.insert_once(session, complaint, Complaint, key, request)
        if not new:
            return complaint
    await record_audit(
        session,
        actor,
        "complaint.file",
        "complaint",
        complaint.id,
        {"unit_id": unit_id, "category": data.category, "channel": channel},
    )
    await session.commit()
    return complaint


def _owner_channel(data: ComplaintCreate) -> ComplaintChannel:
    """Owners file from the app or WeChat, now; desk and phone records and back-dating are staff's."""
    if data.opened_at is not None:
        raise InvalidInput("an owner's complaint is timed when it arrives", field="opened_at")
    if data.responsible is not None:
        raise InvalidInput("the property company assigns who handles a complaint", field="responsible")
    channel = data.channel or ComplaintChannel.app
    if channel not in OWNER_CHANNELS:
        raise InvalidInput("owners file complaints through the app or WeChat", field="channel")
    return channel


async def get_complaint(session: AsyncSession, complaint_id: int) -> Complaint:
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} does not exist")
    return complaint


async def can_read_complaint(session: AsyncSession, principal: Principal, complaint: Complaint) -> None:
    """Staff read every complaint; an owner only the ones they filed as owner of the unit."""
    if principal.is_staff:
        return
    if principal.owner_id is None or complaint.owner_id != principal.owner_id:
        raise Forbidden("this complaint is not yours")


async def unit_complaints(session: AsyncSession, principal: Principal, unit_id: int) -> list[Complaint]:
    await can_read_unit(session, principal, unit_id)
    await get_unit(session, unit_id)
    query = select(Complaint).where(Complaint.unit_id == unit_id)
    if not principal.is_staff:
        # A former owner must not read what the next owner complained about, nor the reverse.
        query = query.where(Complaint.owner_id == principal.owner_id)
    query = query.order_by(col(Complaint.opened_at), col(Complaint.id))
    return list((await session.execute(query)).scalars())


async def add_step(
    session: AsyncSession,
    actor: Principal,
    complaint_id: int,
    data: ComplaintStepCreate,
    now: datetime,
    key: str | None = None,
) -> Complaint:
    """Record a step. With an Idempotency-Key, a retry of the same request records nothing more and
    answers the complaint as it stands (a retried "fixed" would otherwise be refused as a second
    fix, or a retried plan issue a second reply)."""
    complaint = await get_complaint(session, complaint_id)
    request = idempotency.fingerprint(complaint=complaint_id, by=actor.label, **msgspec.to_builtins(data))
    if key is not None and await idempotency.replayed(session, ComplaintStep, key, request) is not None:
        return complaint
    at = data.at or now
    _check_step(complaint, data, at, now)
    _apply_step(complaint, data, at)
    if data.responsible is not None:
        complaint.responsible = data.responsible
    step = ComplaintStep(
        complaint_id=complaint_id,
        kind=data.step,
        at=at,
        satisfied=data.satisfied,
        note=data.note.strip(),
        actor=actor.label,
        idempotency_key=key,
        request_fingerprint=request if key is not None else None,
    )
    if key is None:
        session.add(step)
    elif not (await idempotency.insert_once(session, step, ComplaintStep, key, request))[1]:
        return await get_complaint(session, complaint_id)  # a concurrent retry recorded it first
    detail: dict[str, Any] = {"at": at.isoformat(), "satisfied": data.satisfied, "status": complaint_status(complaint)}
    if data.actions:
        await session.flush()
        issued = await issue_rectification_reply(session, actor, complaint, data, at)
        detail["reply"] = {"letter_id": issued.letter_id, "problems": issued.problems}
    await record_audit(session, actor, f"complaint.{data.step.value}", "complaint", complaint_id, detail)
    await session.commit()
    return complaint


def _check_step(complaint: Complaint, data: ComplaintStepCreate, at: datetime, now: datetime) -> None:
    if at > now + CLOCK_SKEW:
        raise InvalidInput("a step cannot be recorded for a time still to come", field="at")
    if at < complaint.opened_at:
        raise InvalidInput("a step cannot come before the complaint was opened", field="at")
    status = complaint_status(complaint)
    # After the outcome only a follow-up call makes sense ("follow up afterwards").
    if status != "open" and data.step is not StepKind.follow_up:
        raise Conflict(f"complaint {complaint.id} is {status} already; only a follow_up can be added", field="step")
    if data.step is StepKind.inspected:
        if data.satisfied is None:
            raise InvalidInput("record the owner's verdict on the fix: satisfied true or false", field="satisfied")
        if complaint.fixed_at is None:
            raise Conflict("nothing to inspect yet: record the fix first", field="step")
        if at < complaint.fixed_at:
            raise InvalidInput("the inspection cannot come before the fix", field="at")
    elif data.satisfied is not None:
        raise InvalidInput("only an inspection carries the owner's verdict", field="satisfied")
    if data.step is not StepKind.plan_given and (data.actions or data.inspect_at):
        raise InvalidInput("only a plan_given step carries the plan's actions and inspection time", field="actions")
    if data.inspect_at is not None and not data.actions:
        raise InvalidInput("give the plan's dated actions with its inspection time", field="actions")
    if any(not a.action.strip() for a in data.actions):
        raise InvalidInput("say what each step of the plan does", field="actions")
    if any(a.at < complaint.opened_at for a in data.actions):
        raise InvalidInput("a planned action cannot come before the complaint was opened", field="actions")
    if data.step is StepKind.closed and not data.note.strip():
        # Closing without the owner's satisfaction is a judgement: say why.
        raise InvalidInput("say why the complaint is closed without a satisfied inspection", field="note")


def _apply_step(complaint: Complaint, data: ComplaintStepCreate, at: datetime) -> None:
    match data.step:
        case StepKind.plan_given:
            # The first plan is what the 24-hour promise is measured on; a revision keeps it.
            complaint.plan_given_at = complaint.plan_given_at or at
        case StepKind.fixed:
            complaint.fixed_at = at
        case StepKind.inspected:
            complaint.inspected_at = at
            complaint.owner_satisfied = data.satisfied
            if data.satisfied:
                complaint.closed_at = at
        case StepKind.follow_up:
            complaint.follow_up_at = at
        case StepKind.closed:
            complaint.closed_at = at


def complaint_status(complaint: Complaint) -> ComplaintStatus:
    if complaint.closed_at is None:
        return "open"
    return "resolved" if complaint.owner_satisfied else "closed"


def is_overdue(complaint: Complaint, now: datetime) -> bool:
    """Still open, no rectification plan, and the 24 hours are up."""
    return complaint.closed_at is None and complaint.plan_given_at is None and now > complaint.plan_due_at


def open_on(complaint: Complaint, day: date) -> bool:
    """Was the complaint open at the end of ``day`` (business date)?"""
    if business_date(complaint.opened_at) > day:
        return False
    return complaint.closed_at is None or business_date(complaint.closed_at) > day


async def steps_of(session: AsyncSession, complaint_ids: Sequence[int]) -> dict[int, list[ComplaintStep]]:
    found: dict[int, list[ComplaintStep]] = defaultdict(list)
    if not complaint_ids:
        return found
    query = (
        select(ComplaintStep)
        .where(col(ComplaintStep.complaint_id).in_(complaint_ids))
        .order_by(col(ComplaintStep.at), col(ComplaintStep.id))
    )
    for step in (await session.execute(query)).scalars():
        found[step.complaint_id].append(step)
    return found


def complaint_out(complaint: Complaint, steps: Sequence[ComplaintStep], now: datetime) -> ComplaintOut:
    assert complaint.id is not None
    plan_on_time = None if complaint.plan_given_at is None else complaint.plan_given_at <= complaint.plan_due_at
    return ComplaintOut(
        id=complaint.id,
        estate_id=complaint.estate_id,
        unit_id=complaint.unit_id,
        owner_id=complaint.owner_id,
        category=complaint.category,
        channel=complaint.channel,
        text=complaint.text,
        responsible=complaint.responsible,
        status=complaint_status(complaint),
        overdue=is_overdue(complaint, now),
        opened_at=complaint.opened_at,
        plan_due_at=complaint.plan_due_at,
        plan_given_at=complaint.plan_given_at,
        plan_on_time=plan_on_time,
        fixed_at=complaint.fixed_at,
        inspected_at=complaint.inspected_at,
        owner_satisfied=complaint.owner_satisfied,
        follow_up_at=complaint.follow_up_at,
        closed_at=complaint.closed_at,
        steps=[ComplaintStepOut(kind=s.kind, at=s.at, satisfied=s.satisfied, note=s.note) for s in steps],
    )


async def complaints_out(session: AsyncSession, complaints: Sequence[Complaint], now: datetime) -> list[ComplaintOut]:
    steps = await steps_of(session, [c.id for c in complaints if c.id is not None])
    return [complaint_out(c, steps.get(c.id or 0, []), now) for c in complaints]


# ---------------------------------------------------------------------------------------------
# Service activity
# ---------------------------------------------------------------------------------------------


async def record_activity(
    session: AsyncSession, actor: Principal, estate_id: int, data: ServiceActivityCreate, today: date
) -> ServiceActivity:
    await get_estate(session, estate_id)
    if data.building_id is not None:
        building = await session.get(Building, data.building_id)
        if building is None:
            raise NotFound(f"building {data.building_id} does not exist", field="building_id")
        if building.estate_id != estate_id:
            raise InvalidInput(f"building {data.building_id} is not in estate {estate_id}", field="building_id")
    if period_start(data.period) > today:
        raise InvalidInput("activity can only be recorded for a month that has begun", field="period")
    if data.count == 0:
        raise InvalidInput("a count of 0 records nothing", field="count")
    if data.count < 0:
        await _check_correction(session, estate_id, data)
    activity = ServiceActivity(
        estate_id=estate_id,
        building_id=data.building_id,
        period=data.period,
        kind=data.kind,
        count=data.count,
        note=data.note.strip(),
        actor=actor.label,
    )
    session.add(activity)
    await session.flush()
    await record_audit(
        session,
        actor,
        "service_activity.record",
        "estate",
        estate_id,
        {"period": data.period, "building_id": data.building_id, "kind": data.kind, "count": data.count},
    )
    await session.commit()
    return activity


async def _check_correction(session: AsyncSession, estate_id: int, data: ServiceActivityCreate) -> None:
    if not data.note.strip():
        raise InvalidInput("a negative count corrects an earlier figure: say which in the note", field="note")
    same_place = (
        col(ServiceActivity.building_id).is_(None)
        if data.building_id is None
        else col(ServiceActivity.building_id) == data.building_id
    )
    query = select(func.coalesce(func.sum(ServiceActivity.count), 0)).where(
        ServiceActivity.estate_id == estate_id,
        ServiceActivity.period == data.period,
        ServiceActivity.kind == data.kind,
        same_place,
    )
    recorded = int((await session.execute(query)).scalar_one())
    if recorded + data.count < 0:
        raise InvalidInput(f"only {recorded} recorded for this month and kind; cannot take off more", field="count")


def _totals(counts: dict[ActivityKind, int]) -> list[KindTotal]:
    return [KindTotal(kind=kind, count=counts[kind]) for kind in ActivityKind if counts.get(kind, 0) > 0]


async def service_summary(
    session: AsyncSession, estate_id: int, building_id: int | None, period: str
) -> list[KindTotal]:
    """What the service did in ``period``, per kind, for statements and letters.

    Without a building: everything done in the estate. With one: what an owner there saw, the
    estate-wide activity plus that building's own. Kinds with nothing recorded are left out.
    """
    return (await service_summaries(session, estate_id, building_id, period, period)).get(period, [])


def _summaries_query(of_building: bool) -> Select[Any]:
    activity = ServiceActivity.__table__  # type: ignore[attr-defined]
    query = sa_select(activity.c.period, activity.c.kind, func.sum(activity.c.count)).where(
        activity.c.estate_id == bindparam("estate_id"),
        activity.c.period >= bindparam("first"),
        activity.c.period <= bindparam("last"),
    )
    if of_building:
        query = query.where(or_(activity.c.building_id.is_(None), activity.c.building_id == bindparam("building_id")))
    return query.group_by(activity.c.period, activity.c.kind)


# Built once: every statement asks, and building the query cost more than running it.
_ESTATE_SUMMARIES = _summaries_query(of_building=False)
_BUILDING_SUMMARIES = _summaries_query(of_building=True)


async def service_summaries(
    session: AsyncSession, estate_id: int, building_id: int | None, first: str, last: str
) -> dict[str, list[KindTotal]]:
    """``service_summary`` for every period from ``first`` to ``last`` ("YYYY-MM"), in one query."""
    params = {"estate_id": estate_id, "first": first, "last": last}
    if building_id is None:
        rows = await session.execute(_ESTATE_SUMMARIES, params)
    else:
        rows = await session.execute(_BUILDING_SUMMARIES, {**params, "building_id": building_id})
    counts: dict[str, dict[ActivityKind, int]] = defaultdict(dict)
    for period, kind, total in rows.all():
        counts[period][ActivityKind(kind)] = int(total)
    return {period: _totals(kinds) for period, kinds in sorted(counts.items())}


async def service_summary_out(session: AsyncSession, estate_id: int, period: str) -> ServiceSummaryOut:
    await get_estate(session, estate_id)
    query = (
        select(ServiceActivity.building_id, ServiceActivity.kind, func.sum(ServiceActivity.count))
        .where(ServiceActivity.estate_id == estate_id, ServiceActivity.period == period)
        .group_by(col(ServiceActivity.building_id), col(ServiceActivity.kind))
    )
    overall: dict[ActivityKind, int] = defaultdict(int)
    per_place: dict[int | None, dict[ActivityKind, int]] = defaultdict(dict)
    for building_id, kind, total in (await session.execute(query)).all():
        overall[ActivityKind(kind)] += int(total)
        per_place[building_id][ActivityKind(kind)] = int(total)
    names = await _building_names(session, [b for b in per_place if b is not None])
    return ServiceSummaryOut(
        estate_id=estate_id,
        period=period,
        totals=_totals(overall),
        estate_wide=_totals(per_place.get(None, {})),
        buildings=[
            BuildingSummary(building_id=b, building=names[b], totals=_totals(per_place[b]))
            for b in sorted(names, key=lambda b: names[b])
            if _totals(per_place[b])
        ],
    )


async def _building_names(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(Building.id, Building.name).where(col(Building.id).in_(ids))
    return {int(b_id): name for b_id, name in (await session.execute(query)).all()}
