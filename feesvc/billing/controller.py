from __future__ import annotations

from datetime import date

from litestar import Controller, post
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers_or_system
from feesvc.auth.principal import Principal
from feesvc.billing.service import BillingResult, run_billing
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.schemas import Body, Id, Period


class BillingRunCreate(Body):
    estate_id: Id
    period: Period
    issued_on: date | None = None


class BillingController(Controller):
    path = "/api/v1/billing-runs"
    tags = ["billing"]

    @post("/", guards=[managers_or_system], status_code=200)
    async def create(self, db: AsyncSession, principal: Principal, data: BillingRunCreate) -> BillingResult:
        """Issue the period's charges; a second run for the same period issues nothing new."""
        today = business_today()
        issued_on = data.issued_on or today
        if issued_on > today:
            raise InvalidInput("charges cannot be issued on a future date", field="issued_on")
        return await run_billing(db, principal, data.estate_id, data.period, issued_on)
