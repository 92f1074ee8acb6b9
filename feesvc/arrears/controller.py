from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.arrears import actions, service, views
from feesvc.arrears.schemas import (
    ActionDone,
    ActionOut,
    CaseOut,
    CauseHistoryOut,
    NoteCreate,
    NoteOut,
    OverrideCreate,
    StatusChange,
)
from feesvc.auth.guards import managers, staff
from feesvc.auth.principal import Principal
from feesvc.db import business_today, utcnow
from feesvc.registry.service import get_unit
from feesvc.schemas import INT4_MAX, PathId

# Whose account at the unit: after a sale the seller and the buyer each have their own case.
OwnerQuery = Annotated[
    int | None,
    Parameter(ge=1, le=INT4_MAX, description="the owner whose account the case is for (default: see the route)"),
]


class ArrearsCaseController(Controller):
    path = "/api/v1"
    tags = ["arrears cases"]

    @post(
        "/units/{unit_id:int}/arrears-case",
        guards=[staff],
        responses={200: ResponseSpec(CaseOut, description="The case was already open; it is returned as is.")},
    )
    async def open_case(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, owner_id: OwnerQuery = None
    ) -> Response[CaseOut]:
        """Open the arrears case of an owner's account at the unit, or return the one already open
        (201 when opened, 200 if not). Without ``owner_id``: the current owner's account when they
        owe anything, else that of the owner of the latest overdue period (a seller after a sale)."""
        today = business_today()
        case, created = await service.open_case(db, principal, unit_id, today, owner_id)
        return Response(await views.case_out(db, case, today), status_code=201 if created else 200)

    @get("/units/{unit_id:int}/arrears-case", guards=[staff])
    async def unit_case(self, db: AsyncSession, unit_id: PathId, owner_id: OwnerQuery = None) -> CaseOut:
        """The open case of an owner's account at the unit; without ``owner_id``, the unit's latest."""
        await get_unit(db, unit_id)
        return await views.case_out(db, await service.unit_case(db, unit_id, owner_id), business_today())

    @get("/arrears-cases/{case_id:int}", guards=[staff])
    async def get_case(self, db: AsyncSession, case_id: PathId) -> CaseOut:
        """One arrears case: its account, status, amount and months overdue, effective cause, notes and actions."""
        return await views.case_out(db, await service.get_case(db, case_id), business_today())

    @post("/arrears-cases/{case_id:int}/notes", guards=[staff])
    async def add_note(self, db: AsyncSession, principal: Principal, case_id: PathId, data: NoteCreate) -> NoteOut:
        """A dated contact note: call, visit, SMS, WeChat, desk or letter; may mark a claim the owner made."""
        return views.note_out(await service.add_note(db, principal, case_id, data, business_today()))

    @post("/arrears-cases/{case_id:int}/status", guards=[managers], status_code=200)
    async def change_status(
        self, db: AsyncSession, principal: Principal, case_id: PathId, data: StatusChange
    ) -> CaseOut:
        """Pause (a manager's hold), resume, send to legal review or resolve the case, with a reason."""
        case = await service.change_status(db, principal, case_id, data, utcnow())
        return await views.case_out(db, case, business_today())

    @post("/arrears-cases/{case_id:int}/classify", guards=[staff])
    async def classify(self, db: AsyncSession, principal: Principal, case_id: PathId) -> CauseHistoryOut:
        """Classify why the owner is not paying, from what the database holds today; kept with the history."""
        await service.classify_case(db, principal, case_id, business_today())
        return await views.cause_history(db, await service.get_case(db, case_id))

    @get(["/arrears-cases/{case_id:int}/classify", "/arrears-cases/{case_id:int}/classifications"], guards=[staff])
    async def classifications(self, db: AsyncSession, case_id: PathId) -> CauseHistoryOut:
        """The effective cause, the latest classification, all classifications and overrides, the plan."""
        return await views.cause_history(db, await service.get_case(db, case_id))

    @post("/arrears-cases/{case_id:int}/override", guards=[managers])
    async def override(
        self, db: AsyncSession, principal: Principal, case_id: PathId, data: OverrideCreate
    ) -> CauseHistoryOut:
        """A manager sets the cause, with a reason; the classifier's results stay in the history."""
        await service.override_cause(db, principal, case_id, data, business_today())
        return await views.cause_history(db, await service.get_case(db, case_id))

    @post("/arrears-actions/{action_id:int}/done", guards=[staff], status_code=200)
    async def action_done(
        self, db: AsyncSession, principal: Principal, action_id: PathId, data: ActionDone
    ) -> ActionOut:
        """Mark a case's planned action done, with an optional note."""
        return views.action_out(await actions.mark_action_done(db, principal, action_id, data, utcnow()))
