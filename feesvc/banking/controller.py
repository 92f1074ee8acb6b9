"""Bank statements uploaded by the desk, the lines waiting for a cashier, and their assignment."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk
from feesvc.auth.principal import Principal
from feesvc.banking import service
from feesvc.banking.models import BankLineStatus
from feesvc.banking.schemas import AssignLine, BankImportOut, BankLineOut, BankLinePage
from feesvc.db import Database, business_today
from feesvc.registry.masking import masking_for
from feesvc.registry.service import get_estate
from feesvc.schemas import END, LongPathId, PathId

# A month of a large estate's transfers as CSV is a few MB; camt.053 XML is several times larger.
STATEMENT_UPLOAD_LIMIT = 64 * 1024 * 1024


class StatementForm(msgspec.Struct):
    """The statement file: a CSV export (UTF-8 or GB18030) or a camt.053 XML file."""

    file: UploadFile


Upload = Annotated[StatementForm, Body(media_type=RequestEncodingType.MULTI_PART)]
BankName = Annotated[
    str,
    Parameter(
        pattern=r"^[A-Za-z0-9_.-]{1,40}" + END,
        description="the bank whose CSV column mapping reads the file (built in: default, split); "
        "not needed for camt.053",
    ),
]


class BankingController(Controller):
    path = "/api/v1"
    tags = ["bank transfers"]

    @post(
        "/estates/{estate_id:int}/bank-statements",
        guards=[desk],
        status_code=200,
        request_max_body_size=STATEMENT_UPLOAD_LIMIT,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        database: Database,
        principal: Principal,
        estate_id: PathId,
        data: Upload,
        bank: BankName = "default",
        dry_run: bool = False,
    ) -> BankImportOut:
        """Import a bank statement of the estate's account (multipart field ``file``): each credit is
        matched to a unit and owner by its reference (附言), payer and amount, and a matched line is
        posted as a bank-transfer payment once (a file imported again posts nothing new). Lines that
        fit no unit, or several, wait for a cashier (``waiting``; all at ``…/bank-lines``). With
        ``dry_run=true`` nothing is written.

        422 (nothing written) for a file with any problem, each named with its line and column; for
        an unknown ``bank``."""
        async with database.session() as session:
            estate = await get_estate(session, estate_id)
        upload = data.file
        result = await service.import_statement(
            database,
            principal,
            estate,
            bank,
            upload.filename or "",
            await upload.read(),
            dry_run=dry_run,
            today=business_today(),
            mappings_file=request.app.state.settings.bank_mappings_file,
        )
        masking = masking_for(principal)
        return msgspec.structs.replace(result, waiting=[w.masked(masking) for w in result.waiting])

    @get("/estates/{estate_id:int}/bank-lines", guards=[desk])
    async def lines(
        self,
        db: AsyncSession,
        principal: Principal,
        estate_id: PathId,
        status: BankLineStatus | None = None,
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=500)] = 50,
    ) -> BankLinePage:
        """The estate's bank lines of a ``status`` (matched, posted, unmatched, ambiguous), oldest
        first; without one, those waiting for a cashier (unmatched and ambiguous), each with its
        reason and the units that fit. The payer's name as the caller's role may see it."""
        await get_estate(db, estate_id)
        return await service.list_lines(db, estate_id, status, page, page_size, masking_for(principal))

    @post("/bank-lines/{line_id:int}/assign", guards=[desk], status_code=200)
    async def assign(
        self, database: Database, principal: Principal, line_id: LongPathId, data: AssignLine
    ) -> BankLineOut:
        """Post a waiting line to a unit (and owner: default the unit's owner on the day of the
        transfer) as a bank-transfer payment, once: a retry answers the same payment; a line already
        posted to another unit is refused (409)."""
        line = await service.assign_line(database, principal, line_id, data.unit_id, data.owner_id, business_today())
        return line.masked(masking_for(principal))
