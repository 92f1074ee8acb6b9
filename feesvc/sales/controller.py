"""The settlement certificate routes (managers). Recording a sale is the registry's ownership route."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.spec import Example
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.files import FileStore
from feesvc.files.http import stream_stored
from feesvc.sales import certificate
from feesvc.sales.models import SettlementCertificate
from feesvc.schemas import INT4_MAX, PathId


def _headers(issued: SettlementCertificate) -> dict[str, str]:
    number = issued.certificate_no
    return {
        "Content-Disposition": f'inline; filename="{number}.pdf"',
        "X-Certificate-No": number,
        "X-Certificate-Id": str(issued.id),  # the kept copy: /settlement-certificates/{id}/certificate.pdf
    }


class SalesController(Controller):
    path = "/api/v1"
    tags = ["sales"]

    @get(
        "/units/{unit_id:int}/settlement-certificate",
        guards=[managers],
        media_type="application/pdf",
        opt={"also_answers": (409,)},
    )
    async def settlement_certificate(
        self,
        db: AsyncSession,
        principal: Principal,
        state: State,
        unit_id: PathId,
        owner_id: Annotated[
            int,
            Parameter(ge=1, le=INT4_MAX, description="the owner the certificate is for", examples=[Example(value=1)]),
        ],
        as_of: Annotated[
            date | None,
            Parameter(description="the last day covered; default: the owner's last day (the handover's eve)"),
        ] = None,
    ) -> Response[bytes]:
        """The owner's 物业费结清证明 (PDF): nothing owed for their own periods up to ``as_of``, or what is
        owed per period and item. Issued once and kept as issued: asking again the same day with nothing
        changed gives the same certificate (its number in ``X-Certificate-No``)."""
        issued, pdf = await certificate.issue_certificate(
            db, principal, unit_id, owner_id, as_of, business_today(), state.files
        )
        return Response(pdf, media_type="application/pdf", headers=_headers(issued))

    @get(
        "/settlement-certificates/{certificate_id:int}/certificate.pdf",
        guards=[managers],
        media_type="application/pdf",
        opt={"also_answers": (409,)},
    )
    async def stored_certificate(self, db: AsyncSession, state: State, certificate_id: PathId) -> Stream:
        """A certificate exactly as it was issued (its bytes, streamed from the file store and checked
        against the hash kept with it)."""
        issued = await certificate.get_certificate(db, certificate_id)
        files: FileStore = state.files
        what = f"certificate {issued.certificate_no}"
        return await stream_stored(files, issued.file_path, issued.sha256, "application/pdf", _headers(issued), what)
