"""Spreadsheet exports of an estate, as .xlsx downloads (the report routes also answer .xlsx when
asked through ``Accept``: feesvc.exports.negotiation)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk, managers
from feesvc.db import business_today
from feesvc.exports import service
from feesvc.exports.negotiation import xlsx_response
from feesvc.exports.sheet import XLSX
from feesvc.registry.service import get_estate
from feesvc.schemas import PERIOD_PATTERN, PathId

DAY = [Example(value="2026-11-01")]
FromDay = Annotated[date, QueryParameter(name="from", description="first day, YYYY-MM-DD", examples=DAY)]
ToDay = Annotated[date, QueryParameter(name="to", description="last day, YYYY-MM-DD", examples=DAY)]
Period = Annotated[
    str,
    QueryParameter(pattern=PERIOD_PATTERN, description="billing period YYYY-MM", examples=[Example(value="2026-11")]),
]


class ExportController(Controller):
    path = "/api/v1/estates/{estate_id:int}/exports"
    tags = ["exports"]

    @get("/ledger.xlsx", guards=[managers], media_type=XLSX)
    async def ledger(self, db: AsyncSession, estate_id: PathId, date_from: FromDay, date_to: ToDay) -> Response[bytes]:
        """The ledger as a spreadsheet, every entry of the estate dated ``from`` to ``to`` (at most 366 days), one
        row each with its unit, owner, kind, period and amount (yuan and fen), summed.

        400 when ``to`` is before ``from`` or the range is longer than 366 days; 404 for an unknown estate."""
        estate = await get_estate(db, estate_id)
        content = await service.ledger_workbook(db, estate, date_from, date_to)
        return xlsx_response(service.filename("ledger", estate, date_from, date_to), content)

    @get("/aging.xlsx", guards=[managers], media_type=XLSX)
    async def aging(self, db: AsyncSession, estate_id: PathId, as_of: date | None = None) -> Response[bytes]:
        """The aging report as a spreadsheet (overdue by age, per building, the estate as the sums
        row) on ``as_of`` (default today). 404 for an unknown estate."""
        estate = await get_estate(db, estate_id)
        day = as_of or business_today()
        return xlsx_response(service.filename("aging", estate, day), await service.aging_export(db, estate, day))

    @get("/collection-rate.xlsx", guards=[managers], media_type=XLSX)
    async def collection_rate(
        self, db: AsyncSession, estate_id: PathId, period: Period, as_of: date | None = None
    ) -> Response[bytes]:
        """The collection rate (收缴率) as a spreadsheet, of ``period`` on ``as_of`` (default today),
        one figure a line, old arrears apart. 404 for an unknown estate."""
        estate = await get_estate(db, estate_id)
        day = as_of or business_today()
        content = await service.collection_export(db, estate, period, day)
        return xlsx_response(service.filename("collection-rate", estate, period, day), content)

    @get("/cash-up.xlsx", guards=[desk], media_type=XLSX)
    async def cash_up(self, db: AsyncSession, estate_id: PathId, day: date | None = None) -> Response[bytes]:
        """The cash-up as a spreadsheet, the day's (default today) per cashier and method, and the
        day's voids. 404 for an unknown estate."""
        estate = await get_estate(db, estate_id)
        on = day or business_today()
        return xlsx_response(service.filename("cash-up", estate, on), await service.cashup_export(db, estate, on))

    @get("/prepaid-credit.xlsx", guards=[managers], media_type=XLSX)
    async def prepaid_credit(self, db: AsyncSession, estate_id: PathId, as_of: date | None = None) -> Response[bytes]:
        """Prepaid credit as a spreadsheet, per unit: the credit held and not yet used at the end of ``as_of``
        (default today), with the owner on that day, summed. 404 for an unknown estate."""
        estate = await get_estate(db, estate_id)
        day = as_of or business_today()
        content = await service.credit_workbook(db, estate, day)
        return xlsx_response(service.filename("prepaid-credit", estate, day), content)
