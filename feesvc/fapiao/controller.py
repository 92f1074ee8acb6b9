"""The day's fapiao data: JSON, or .xlsx / CSV when the request asks for them through ``Accept``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.guards import desk
from feesvc.auth.principal import Principal
from feesvc.db import Database
from feesvc.decoding import refuse_lax_query_values
from feesvc.exports.negotiation import query_date, xlsx_response
from feesvc.exports.sheet import XLSX
from feesvc.fapiao import export
from feesvc.fapiao.service import FapiaoDayOut, day_out, fapiao_rows
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.schemas import PathId

CSV = "text/csv"
JSON = "application/json"
Day = Annotated[
    date, QueryParameter(name="date", description="the day, YYYY-MM-DD", examples=[Example(value="2026-11-30")])
]


async def _audit(session: AsyncSession, principal: Principal, estate: Estate, day: date, form: str) -> None:
    # The rows name buyers in full (an invoice needs the name): every export is on record.
    await record_audit(
        session, principal, "fapiao.export", "estate", estate.id, {"day": day.isoformat(), "format": form}
    )
    await session.commit()


async def fapiao_file(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Answer the route with the .xlsx or CSV file when ``Accept`` asks for one (else None: JSON)."""
    await refuse_lax_query_values(request)  # a route's own hook replaces the app's
    wanted = request.accept.best_match([JSON, XLSX, CSV], default=JSON)
    if wanted == JSON:
        return None
    day = query_date(request, "date")
    if day is None:
        return None  # the route refuses the missing value as it does for JSON
    database: Database = request.app.state.database
    async with database.session() as session:
        estate = await get_estate(session, int(request.path_params["estate_id"]))
        rows = await fapiao_rows(session, estate, day)
        await _audit(session, request.user, estate, day, "xlsx" if wanted == XLSX else "csv")
    name = f"fapiao-{estate.code}-{day.isoformat()}"
    if wanted == XLSX:
        return xlsx_response(f"{name}.xlsx", export.xlsx(estate.name, day, rows, estate.locale))
    return Response(
        export.csv_bytes(rows),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


class FapiaoController(Controller):
    path = "/api/v1"
    tags = ["fapiao"]

    @get("/estates/{estate_id:int}/fapiao", guards=[desk], before_request=fapiao_file)
    async def day(self, db: AsyncSession, principal: Principal, estate_id: PathId, day: Day) -> FapiaoDayOut:
        """The invoicing data of the payments received on ``date`` (one row per item each paid for,
        with the buyer, the tax classification code and rate, the amount with and before tax) and a
        red-letter correction (红冲) row for each payment voided that day, referencing the original
        receipt. ``Accept: text/csv`` or the .xlsx media type for a file. Buyers are named in full
        (an invoice needs the name); every read is audited."""
        estate = await get_estate(db, estate_id)
        rows = await fapiao_rows(db, estate, day)
        await _audit(db, principal, estate, day, "json")
        return day_out(estate, day, rows)
