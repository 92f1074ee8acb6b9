from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.openapi.spec import Example
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone, staff
from feesvc.auth.principal import Principal
from feesvc.auth.scope import check_owns
from feesvc.db import business_today, utcnow
from feesvc.payments.controller import OptionalIdempotencyKey
from feesvc.schemas import PERIOD_PATTERN, PathId
from feesvc.service_records import service
from feesvc.service_records.models import Complaint
from feesvc.service_records.schemas import (
    ComplaintCreate,
    ComplaintOut,
    ComplaintStepCreate,
    ServiceActivityCreate,
    ServiceActivityOut,
    ServiceSummaryOut,
)


class ServiceRecordsController(Controller):
    path = "/api/v1"
    tags = ["service records"]

    @post("/units/{unit_id:int}/complaints", guards=[anyone])
    async def file_complaint(
        self,
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        data: ComplaintCreate,
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> ComplaintOut:
        """File a complaint or service request: owners for a unit they own, staff for any unit. With an
        Idempotency-Key, a retry answers the complaint the first request filed."""
        now = utcnow()
        complaint = await service.file_complaint(db, principal, unit_id, data, now, idempotency_key)
        return service.complaint_out(complaint, [], now)

    @get("/units/{unit_id:int}/complaints", guards=[anyone])
    async def list_complaints(self, db: AsyncSession, principal: Principal, unit_id: PathId) -> list[ComplaintOut]:
        """The unit's complaints; an owner sees only the ones they filed."""
        complaints = await service.unit_complaints(db, principal, unit_id)
        return await service.complaints_out(db, complaints, utcnow())

    @get("/complaints/{complaint_id:int}", guards=[anyone])
    async def get_complaint(self, db: AsyncSession, principal: Principal, complaint_id: PathId) -> ComplaintOut:
        """One complaint with its steps. An owner: only their own complaints (403 for any other id)."""
        if not principal.is_staff:  # an owner learns nothing of ids not theirs: 403, existing or not
            mine = await db.get(Complaint, complaint_id)
            check_owns(principal, mine.owner_id if mine else None, "complaint")
        complaint = await service.get_complaint(db, complaint_id)
        await service.can_read_complaint(db, principal, complaint)
        return (await service.complaints_out(db, [complaint], utcnow()))[0]

    @post("/complaints/{complaint_id:int}/steps", guards=[staff])
    async def add_step(
        self,
        db: AsyncSession,
        principal: Principal,
        complaint_id: PathId,
        data: ComplaintStepCreate,
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> ComplaintOut:
        """Record a step on the rectification clock: plan_given, fixed, inspected, follow_up, closed.
        With an Idempotency-Key, a retry records nothing more."""
        now = utcnow()
        complaint = await service.add_step(db, principal, complaint_id, data, now, idempotency_key)
        return (await service.complaints_out(db, [complaint], now))[0]

    @post("/estates/{estate_id:int}/service-activity", guards=[staff])
    async def record_activity(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: ServiceActivityCreate
    ) -> ServiceActivityOut:
        """Record a count of a service activity in the estate for a period (one building's or the whole estate's); a
        negative count corrects an earlier figure and needs a note."""
        a = await service.record_activity(db, principal, estate_id, data, business_today())
        assert a.id is not None
        return ServiceActivityOut(
            id=a.id,
            estate_id=a.estate_id,
            building_id=a.building_id,
            period=a.period,
            kind=a.kind,
            count=a.count,
            note=a.note,
        )

    @get("/estates/{estate_id:int}/service-summary", guards=[staff])
    async def service_summary(
        self,
        db: AsyncSession,
        estate_id: PathId,
        period: Annotated[
            str, Parameter(pattern=PERIOD_PATTERN, description="YYYY-MM", examples=[Example(value="2026-11")])
        ],
    ) -> ServiceSummaryOut:
        """The month's service activity per kind: the estate's totals and each building's own."""
        return await service.service_summary_out(db, estate_id, period)
