"""Schedules of an estate's runs, and the queue's jobs."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.jobs import schedules as service
from feesvc.jobs.listing import list_jobs
from feesvc.jobs.models import JobStatus
from feesvc.jobs.schemas import JobOut, ScheduleIn, ScheduleOut
from feesvc.schemas import INT4_MAX, PathId


class JobsController(Controller):
    path = "/api/v1"
    tags = ["jobs"]

    @get("/estates/{estate_id:int}/schedules", guards=[managers])
    async def list_schedules(self, db: AsyncSession, estate_id: PathId) -> list[ScheduleOut]:
        """The estate's scheduled runs, each with its next three times (UTC)."""
        now = utcnow()
        return [service.schedule_out(row, now) for row in await service.estate_schedules(db, estate_id)]

    @put("/estates/{estate_id:int}/schedules", guards=[managers])
    async def replace_schedules(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: list[ScheduleIn]
    ) -> list[ScheduleOut]:
        """Replace the estate's schedules: one per kind (billing, late_fees, plan_review, reminders,
        outbox), a five-field cron expression in Asia/Shanghai time; [] stops every scheduled run.
        The queue's dispatcher reads them every minute (PostgreSQL); on SQLite cron runs the commands."""
        now = utcnow()
        return [
            service.schedule_out(row, now) for row in await service.replace_schedules(db, principal, estate_id, data)
        ]

    @get("/jobs", guards=[managers])
    async def jobs(
        self,
        db: AsyncSession,
        status: JobStatus | None = None,
        estate_id: Annotated[int | None, Parameter(ge=1, le=INT4_MAX, description="only this estate's jobs")] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="at most this many, newest first")] = 100,
    ) -> list[JobOut]:
        """The queue's jobs, newest first: state, attempts, where the latest attempt ran, its progress,
        duration and error. Empty on SQLite, which has no queue."""
        return await list_jobs(db, status=status.value if status else None, estate_id=estate_id, limit=limit)
