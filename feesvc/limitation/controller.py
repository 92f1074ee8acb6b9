from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body as BodyParam
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers, staff
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.files import FileStore
from feesvc.limitation import service, watch
from feesvc.limitation.rules import MAX_WITHIN_DAYS, NOTICE_WITHIN_DAYS
from feesvc.limitation.schemas import (
    AcknowledgementForm,
    AcknowledgementOut,
    FilingCreate,
    FilingOut,
    FilingOutcomeCreate,
    LimitationWatchOut,
    SignedCopyForm,
)
from feesvc.payments.controller import IdempotencyKey
from feesvc.plans.agreement import upload_signed_copy
from feesvc.registry.masking import masking_for
from feesvc.schemas import PathId

UPLOAD_LIMIT = service.MAX_PROOF_BYTES + 64 * 1024
WithinDays = Annotated[
    int, Parameter(ge=0, le=MAX_WITHIN_DAYS, description=f"days ahead to look, 0 to {MAX_WITHIN_DAYS}")
]


def _files(state: State) -> FileStore:
    files: FileStore = state.files
    return files


def _answer(body: Any, created: bool) -> Response[Any]:
    return Response(body, status_code=201, headers={"Idempotent-Replayed": "false" if created else "true"})


class LimitationController(Controller):
    path = "/api/v1"
    tags = ["limitation"]

    @get("/estates/{estate_id:int}/limitation-watch", guards=[staff])
    async def watch(
        self,
        db: AsyncSession,
        principal: Principal,
        estate_id: PathId,
        within_days: WithinDays = NOTICE_WITHIN_DAYS,
        as_of: date | None = None,
    ) -> LimitationWatchOut:
        """Each owner's periods whose limitation (three years from the due date or the last
        interruption) ends within ``within_days`` of ``as_of`` (default today), with the last
        interruption and its proof. A seller's periods and the buyer's are separate accounts."""
        # A later as_of is a forecast on the record as it stands: nothing is assumed to happen meanwhile.
        report = await watch.limitation_watch(db, estate_id, as_of or business_today(), within_days)
        masking = masking_for(principal)  # a manager sees the whole name, a cashier enough to confirm it
        for account in report.accounts:
            account.owner_name = masking.name(account.owner_name)
        return report

    @post("/limitation/acknowledgements", guards=[managers], request_max_body_size=UPLOAD_LIMIT)
    async def acknowledge(
        self,
        db: AsyncSession,
        principal: Principal,
        state: State,
        idempotency_key: IdempotencyKey,
        data: Annotated[AcknowledgementForm, BodyParam(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[AcknowledgementOut]:
        """The owner's signed written acknowledgement of the debt of ``periods``, with the signed
        copy: limitation of those periods restarts from ``signed_on`` for that owner."""
        ack, created = await service.record_acknowledgement(
            db,
            principal,
            unit_id=data.unit_id,
            owner_id=data.owner_id,
            signed_on=data.signed_on,
            periods=service.parse_periods(data.periods),
            proof=await data.proof.read(),
            note=data.note.strip(),
            key=idempotency_key,
            files=_files(state),
            today=business_today(),
        )
        await db.commit()
        return _answer(service.acknowledgement_out(ack), created)

    @post("/installment-plans/{plan_id:int}/signed-copy", guards=[managers], request_max_body_size=UPLOAD_LIMIT)
    async def signed_copy(
        self,
        db: AsyncSession,
        principal: Principal,
        state: State,
        plan_id: PathId,
        idempotency_key: IdempotencyKey,
        data: Annotated[SignedCopyForm, BodyParam(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[AcknowledgementOut]:
        """The signed plan agreement: kept as the proof of the owner's acknowledgement; a proposed
        plan is agreed on ``signed_on``."""
        ack, created = await upload_signed_copy(
            db,
            principal,
            plan_id,
            data.signed_on,
            await data.proof.read(),
            idempotency_key,
            _files(state),
            business_today(),
        )
        return _answer(service.acknowledgement_out(ack), created)

    @post("/limitation/filings", guards=[managers])
    async def file(
        self, db: AsyncSession, principal: Principal, data: FilingCreate, idempotency_key: IdempotencyKey
    ) -> Response[FilingOut]:
        """A suit or payment-order application against one owner for ``periods``: limitation of those
        periods is interrupted from ``filed_on``."""
        filing, created = await service.record_filing(db, principal, data, idempotency_key, business_today())
        await db.commit()
        return _answer(service.filing_out(filing), created)

    @get("/limitation/filings/{filing_id:int}", guards=[staff])
    async def get_filing(self, db: AsyncSession, filing_id: PathId) -> FilingOut:
        """A recorded legal filing (suit or payment-order application) with its outcome, if any."""
        return service.filing_out(await service.get_filing(db, filing_id))

    @post("/limitation/filings/{filing_id:int}/outcome", guards=[managers], status_code=200)
    async def outcome(
        self, db: AsyncSession, principal: Principal, filing_id: PathId, data: FilingOutcomeCreate
    ) -> FilingOut:
        """How the proceedings ended, and when: a new limitation clock runs from that day (民法典 195)."""
        filing, _ = await service.record_outcome(db, principal, filing_id, data, business_today())
        await db.commit()
        return service.filing_out(filing)
