"""Content negotiation on the report and cash-up routes: the same figures as .xlsx when the request
asks for ``Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet``.

Each hook is the route's ``before_request``: it answers with the workbook, or returns None and the
route answers JSON as before. Guards have run by then; the hook reads the same query values the
route takes and refuses bad ones the same way (400 naming the key)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.db import Database, business_today
from feesvc.decoding import refuse_lax_query_values
from feesvc.exports import service
from feesvc.exports.sheet import XLSX
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.schemas import PERIOD_PATTERN

JSON = "application/json"
Build = Callable[[AsyncSession, Estate, Request[Any, Any, Any]], Awaitable[tuple[str, bytes]]]


def wants_xlsx(request: Request[Any, Any, Any]) -> bool:
    return request.accept.best_match([JSON, XLSX], default=JSON) == XLSX


def xlsx_response(name: str, content: bytes) -> Response[bytes]:
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _refuse(key: str, message: str) -> ValidationException:
    return ValidationException(detail=f"{key}: {message}", extra=[{"key": key, "message": message, "source": "query"}])


def query_date(request: Request[Any, Any, Any], key: str) -> date | None:
    value = request.query_params.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _refuse(key, "send a date as YYYY-MM-DD, e.g. 2026-11-30") from None


def query_period(request: Request[Any, Any, Any], key: str) -> str:
    value = request.query_params.get(key)
    if value is None or not re.match(PERIOD_PATTERN, value):
        raise _refuse(key, "send a billing period as YYYY-MM, e.g. 2026-11")
    return value


def negotiated(build: Build) -> Callable[[Request[Any, Any, Any]], Awaitable[Response[bytes] | None]]:
    async def hook(request: Request[Any, Any, Any]) -> Response[bytes] | None:
        # A route's own hook replaces the app's: keep the app's strict query checks first.
        await refuse_lax_query_values(request)
        if not wants_xlsx(request):
            return None
        database: Database = request.app.state.database
        async with database.session() as session:
            estate = await get_estate(session, int(request.path_params["estate_id"]))
            name, content = await build(session, estate, request)
        return xlsx_response(name, content)

    return hook


async def _aging(session: AsyncSession, estate: Estate, request: Request[Any, Any, Any]) -> tuple[str, bytes]:
    day = query_date(request, "as_of") or business_today()
    return service.filename("aging", estate, day), await service.aging_export(session, estate, day)


async def _collection(session: AsyncSession, estate: Estate, request: Request[Any, Any, Any]) -> tuple[str, bytes]:
    period = query_period(request, "period")
    day = query_date(request, "as_of") or business_today()
    name = service.filename("collection-rate", estate, period, day)
    return name, await service.collection_export(session, estate, period, day)


async def _cashup(session: AsyncSession, estate: Estate, request: Request[Any, Any, Any]) -> tuple[str, bytes]:
    day = query_date(request, "day") or business_today()
    return service.filename("cash-up", estate, day), await service.cashup_export(session, estate, day)


aging_xlsx = negotiated(_aging)
collection_rate_xlsx = negotiated(_collection)
cashup_xlsx = negotiated(_cashup)
