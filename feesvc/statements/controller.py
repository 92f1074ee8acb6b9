from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import autocommit, business_today
from feesvc.errors import InvalidInput
from feesvc.payoff.accounts import AccountOwnerId, account_owner, unit_owners
from feesvc.registry.masking import masking_for
from feesvc.registry.models import Estate
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId
from feesvc.statements.document import statement_filename, statement_pdf_async
from feesvc.statements.schemas import Statement
from feesvc.statements.service import build_statement, default_range

JSON: str = "application/json"
PDF: str = "application/pdf"


@dataclass
class _JsonOrPdf(Operation):
    """OpenAPI: the 200 response is the Statement as JSON, or as a printable PDF when Accept asks for one."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[PDF] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))


class StatementController(Controller):
    path = "/api/v1/units/{unit_id:int}/statement"
    tags = ["statements"]

    @get(
        "/",
        guards=[anyone],
        # The union return type documents nothing useful: name the JSON body here, _JsonOrPdf adds the PDF.
        responses={200: ResponseSpec(Statement, description="The statement; a PDF when Accept prefers one")},
        operation_class=_JsonOrPdf,
    )
    async def statement(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        as_of: date | None = None,
        period_from: Annotated[date | None, Parameter(query="from")] = None,
        period_to: Annotated[date | None, Parameter(query="to")] = None,
        owner_id: AccountOwnerId = None,
    ) -> Response[Statement] | Response[bytes]:
        """The owner's statement: opening balance, each entry with how it was computed, closing balance.

        Per account: an owner reads their own; staff the account of ``owner_id`` (default: the
        owner on the statement's last day), the unit's other owners with something open apart.

        JSON by default; the printable A4 statement (物业费对账单) when ``Accept`` prefers application/pdf.
        """
        await autocommit(db)
        day = as_of or business_today()
        default_from, default_to = default_range(day)
        start, end = period_from or default_from, period_to or default_to
        if not principal.is_staff or start > end:
            # A unit that does not exist is a 404 before a 403 or a bad range; a statement that
            # gets this far finds out for itself (one round trip fewer on the common request).
            await get_unit(db, unit_id)
        await can_read_unit(db, principal, unit_id)
        if start > end:
            raise InvalidInput("'from' must not be after 'to'", field="from")
        if principal.owner_id is None and owner_id is not None:
            await get_unit(db, unit_id)  # a unit that does not exist is a 404 before an owner it never had
            account_owner(await unit_owners(db, unit_id), owner_id, min(end, day))
        statement = await build_statement(
            db,
            unit_id,
            day,
            start,
            end,
            owner_id=principal.owner_id if principal.owner_id is not None else owner_id,
            others=principal.is_staff,
            with_payoff=day <= business_today(),
        )
        # An owner's statement names them; staff see names as their role may (registry.masking), in
        # the JSON and the PDF alike, the other owners' too.
        masking = masking_for(principal, own=principal.owner_id is not None)
        statement = msgspec.structs.replace(
            statement,
            owner_name=masking.optional_name(statement.owner_name),
            other_owners=[msgspec.structs.replace(o, name=masking.name(o.name)) for o in statement.other_owners],
        )
        if request.accept.best_match([JSON, PDF], default=JSON) != PDF:
            return Response(statement, headers={"Vary": "Accept"})
        unit, _ = await get_unit(db, unit_id)
        estate = await db.get(Estate, unit.estate_id)
        pdf = await statement_pdf_async(
            statement,
            service_phone=estate.service_phone if estate else "",
            address=estate.address if estate else "",
        )
        disposition = f'inline; filename="{statement_filename(statement)}"'
        return Response(pdf, media_type=PDF, headers={"Content-Disposition": disposition, "Vary": "Accept"})
