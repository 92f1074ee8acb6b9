"""Management reports of an estate (managers only): aging, collection rate, arrears by cause."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers
from feesvc.db import business_today
from feesvc.exports.negotiation import aging_xlsx, collection_rate_xlsx
from feesvc.registry.service import get_estate
from feesvc.reports import aging, by_cause, collection, printed
from feesvc.reports.schemas import AgingReport, ArrearsByCause, CollectionRate, MonthlySeries
from feesvc.schemas import PERIOD_PATTERN, PathId

MONTH = [Example(value="2026-11")]
PeriodParam = Annotated[
    str, QueryParameter(pattern=PERIOD_PATTERN, description="billing period YYYY-MM", examples=MONTH)
]
FromParam = Annotated[
    str, QueryParameter(name="from", pattern=PERIOD_PATTERN, description="first month, YYYY-MM", examples=MONTH)
]
ToParam = Annotated[
    str, QueryParameter(name="to", pattern=PERIOD_PATTERN, description="last month, YYYY-MM", examples=MONTH)
]


class ReportsController(Controller):
    path = "/api/v1/estates/{estate_id:int}/reports"
    tags = ["reports"]
    # Guards on each route, not here: a controller's guards also bind the automatic OPTIONS
    # handler, which the token middleware leaves unauthenticated (it would always answer 401).

    @get("/aging", guards=[managers], before_request=aging_xlsx)  # .xlsx on Accept
    async def aging(self, db: AsyncSession, estate_id: PathId, as_of: date | None = None) -> AgingReport:
        """Overdue charges and late fees by age (days past due) for the estate and each building."""
        estate = await get_estate(db, estate_id)
        return await aging.aging(db, estate, as_of or business_today())

    @get("/collection-rate", guards=[managers], before_request=collection_rate_xlsx)  # .xlsx on Accept
    async def collection_rate(
        self, db: AsyncSession, estate_id: PathId, period: PeriodParam, as_of: date | None = None
    ) -> CollectionRate:
        """收缴率 of one period by amount and by households, with old arrears (清欠) reported apart."""
        estate = await get_estate(db, estate_id)
        return await collection.collection_rate(db, estate, period, as_of or business_today())

    @get("/collection-rate/monthly", guards=[managers])
    async def monthly(
        self,
        db: AsyncSession,
        estate_id: PathId,
        period_from: FromParam,
        period_to: ToParam,
        as_of: date | None = None,
    ) -> MonthlySeries:
        """The collection rate month by month (each month at its last day unless ``as_of`` is given).

        Refused (422) when ``from`` is after ``to`` or the series would cover more than 60 months."""
        estate = await get_estate(db, estate_id)
        return await collection.monthly_series(db, estate, period_from, period_to, as_of, business_today())

    @get("/collection-rate/monthly.pdf", guards=[managers], media_type="application/pdf")
    async def monthly_pdf(
        self,
        db: AsyncSession,
        estate_id: PathId,
        period_from: FromParam,
        period_to: ToParam,
        as_of: date | None = None,
    ) -> Response[bytes]:
        """The monthly collection rate printed: chart (by amount and by households) and table.

        Refused (422) when ``from`` is after ``to`` or the series would cover more than 60 months."""
        estate = await get_estate(db, estate_id)
        today = business_today()
        series = await collection.monthly_series(db, estate, period_from, period_to, as_of, today)
        pdf = await printed.monthly_report_pdf(estate, series, today)
        name = f"collection-rate-{estate.code}-{period_from}-{period_to}.pdf"
        return Response(
            pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
        )

    @get("/collection-rate/monthly.svg", guards=[managers], media_type="image/svg+xml")
    async def monthly_svg(
        self,
        db: AsyncSession,
        estate_id: PathId,
        period_from: FromParam,
        period_to: ToParam,
        as_of: date | None = None,
    ) -> Response[str]:
        """The chart alone, as SVG.

        Refused (422) when ``from`` is after ``to`` or the series would cover more than 60 months."""
        estate = await get_estate(db, estate_id)
        series = await collection.monthly_series(db, estate, period_from, period_to, as_of, business_today())
        return Response(printed.collection_chart_svg(series, estate.locale), media_type="image/svg+xml")

    @get("/arrears-by-cause", guards=[managers])
    async def arrears_by_cause(self, db: AsyncSession, estate_id: PathId, as_of: date | None = None) -> ArrearsByCause:
        """Overdue amount and units by the effective cause of each unit's open arrears case."""
        estate = await get_estate(db, estate_id)
        return await by_cause.arrears_by_cause(db, estate, as_of or business_today())
