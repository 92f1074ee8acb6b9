from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.statements.schemas import Statement
from feesvc.statements.service import build_statement, default_range


class StatementController(Controller):
    path = "/api/v1/units/{unit_id:int}/statement"
    tags = ["statements"]

    @get("/", guards=[anyone])
    async def statement(
        self,
        db: AsyncSession,
        principal: Principal,
        unit_id: int,
        as_of: date | None = None,
        period_from: Annotated[date | None, Parameter(query="from")] = None,
        period_to: Annotated[date | None, Parameter(query="to")] = None,
    ) -> Statement:
        """The owner's statement: opening balance, each entry with how it was computed, closing balance."""
        await get_unit(db, unit_id)
        await can_read_unit(db, principal, unit_id)
        day = as_of or business_today()
        default_from, default_to = default_range(day)
        start, end = period_from or default_from, period_to or default_to
        if start > end:
            raise InvalidInput("'from' must not be after 'to'", field="from")
        return await build_statement(db, unit_id, day, start, end)
