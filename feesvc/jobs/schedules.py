"""Each estate's schedules: stored, replaced whole by a manager, read by the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import is_postgres, utcnow
from feesvc.errors import InvalidInput, NotFound
from feesvc.jobs.models import JobSchedule
from feesvc.jobs.rules import cron_problem, next_runs
from feesvc.jobs.schemas import ScheduleIn, ScheduleOut
from feesvc.registry.models import Estate


def _validated(schedules: Sequence[ScheduleIn]) -> None:
    seen: set[str] = set()
    for index, schedule in enumerate(schedules):
        if schedule.kind in seen:
            raise InvalidInput(f"one schedule per kind: {schedule.kind} appears twice", field=f"[{index}].kind")
        seen.add(schedule.kind)
        problem = cron_problem(schedule.cron)
        if problem is not None:
            raise InvalidInput(problem, field=f"[{index}].cron")


def schedule_out(row: JobSchedule, now: datetime) -> ScheduleOut:
    upcoming = next_runs(row.cron, now, 3) if row.enabled else []
    return ScheduleOut(row.kind, row.cron, row.enabled, row.updated_by, row.updated_at, upcoming)


async def estate_schedules(session: AsyncSession, estate_id: int) -> list[JobSchedule]:
    if await session.get(Estate, estate_id) is None:
        raise NotFound(f"estate {estate_id} does not exist")
    rows = await session.execute(
        select(JobSchedule).where(JobSchedule.estate_id == estate_id).order_by(col(JobSchedule.kind))
    )
    return list(rows.scalars())


async def replace_schedules(
    session: AsyncSession, actor: Principal, estate_id: int, schedules: Sequence[ScheduleIn]
) -> list[JobSchedule]:
    """The estate's schedules become ``schedules`` (an empty list: nothing runs by schedule)."""
    _validated(schedules)
    lock = select(Estate).where(Estate.id == estate_id)
    if (await session.execute(lock.with_for_update() if is_postgres(session) else lock)).first() is None:
        raise NotFound(f"estate {estate_id} does not exist")
    before = await estate_schedules(session, estate_id)
    await session.execute(delete(JobSchedule).where(col(JobSchedule.estate_id) == estate_id))
    now = utcnow()
    rows = [
        JobSchedule(
            estate_id=estate_id, kind=s.kind, cron=s.cron, enabled=s.enabled, updated_by=actor.label, updated_at=now
        )
        for s in schedules
    ]
    session.add_all(rows)
    await record_audit(
        session,
        actor,
        "job_schedules.replace",
        "estate",
        estate_id,
        {
            "before": [{"kind": r.kind, "cron": r.cron, "enabled": r.enabled} for r in before],
            "after": [{"kind": r.kind, "cron": r.cron, "enabled": r.enabled} for r in rows],
        },
    )
    await session.commit()
    return sorted(rows, key=lambda r: r.kind)


async def enabled_schedules(session: AsyncSession) -> list[JobSchedule]:
    rows = await session.execute(select(JobSchedule).where(col(JobSchedule.enabled).is_(True)))
    return list(rows.scalars())
