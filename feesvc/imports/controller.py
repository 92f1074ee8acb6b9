"""Managers upload registry and opening-balance files of an estate (feesvc.imports.service)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.exports.sheet import XLSX
from feesvc.imports.kinds import KINDS
from feesvc.imports.service import ImportResult, kind_of, run_import
from feesvc.imports.template import template_bytes
from feesvc.registry.service import get_estate
from feesvc.schemas import PathId


class ImportForm(msgspec.Struct):
    """The spreadsheet to import: .xlsx, or .csv in UTF-8 or GB18030."""

    file: UploadFile


Upload = Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]


class ImportController(Controller):
    path = "/api/v1"
    tags = ["imports"]
    # Guards on each route, not here: a controller's guards also bind the automatic OPTIONS answer.

    # One path per kind (no string path parameter: every route's path values are ids).
    @post([f"/estates/{{estate_id:int}}/imports/{kind}" for kind in KINDS], guards=[managers], status_code=200)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        estate_id: PathId,
        data: Upload,
        dry_run: bool = False,
    ) -> ImportResult:
        """Import a file of the kind the path names (units, owners, ownerships, balances, credits) from the multipart
        field ``file`` (.xlsx, or .csv in UTF-8 or GB18030). Every row is checked first; with
        ``dry_run=true`` nothing is written. Importing the same file again changes nothing.

        400 without a ``file`` field; 404 for an unknown estate; 422 (nothing written) listing every
        problem with its sheet, row, column and reason in Chinese and English."""
        kind = kind_of(request.url.path.rstrip("/").rsplit("/", 1)[-1]).name
        estate = await get_estate(db, estate_id)
        upload = data.file
        content = await upload.read()
        return await run_import(
            db, principal, estate, kind, upload.filename or "", content, dry_run=dry_run, today=business_today()
        )

    @get([f"/imports/templates/{kind}.xlsx" for kind in KINDS], guards=[managers], media_type=XLSX)
    async def template(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The template of an import (headers, one example row, a notes sheet)."""
        kind = request.url.path.rsplit("/", 1)[-1].removesuffix(".xlsx")
        return Response(
            template_bytes(kind_of(kind)),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="import-{kind}.xlsx"'},
        )
