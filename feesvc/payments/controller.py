from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import HeaderParameter, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk, managers, requires
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import Database, business_today
from feesvc.exports.negotiation import cashup_xlsx
from feesvc.payments import lookup, owners, recording, refunds, voids
from feesvc.payments.cashup import cash_up
from feesvc.payments.cashup_document import cashup_file
from feesvc.payments.desk import desk_unit
from feesvc.payments.receipt import receipt_file
from feesvc.payments.schemas import (
    CashUpOut,
    DeskUnitOut,
    PaymentCreate,
    PaymentOut,
    PaymentPage,
    RefundCreate,
    RefundOut,
    VoidCreate,
)
from feesvc.registry.masking import masking_for
from feesvc.registry.service import get_estate
from feesvc.schemas import LongPathId, PathId

#: Visible ASCII only: a header's leading or trailing spaces do not survive HTTP, so a key with them
#: would not be the key the client keeps.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]+$"
IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=100,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="A key the client makes once per payment and sends again on every retry of it",
    ),
]
#: Where a retry without a key is harmless to refuse later (a second complaint is merged by staff),
#: the key is optional; sent, it makes the write safe to retry.
OptionalIdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=100,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        required=False,
        description="Optional: a key the client makes once per request and sends again on every retry of it",
    ),
]

receipt_readers = requires(Role.cashier, Role.manager, Role.owner)
owner_only = requires(Role.owner)


class PaymentController(Controller):
    path = "/api/v1"
    tags = ["payments"]

    @post("/payments", guards=[desk])
    async def record(
        self, database: Database, principal: Principal, data: PaymentCreate, idempotency_key: IdempotencyKey
    ) -> Response[PaymentOut]:
        """Record a payment at the desk. A retry with the same key and body returns the first result."""
        payment, created = await recording.post_payment(database, principal, data, idempotency_key, business_today())
        replayed = "false" if created else "true"
        return Response(
            payment.masked(masking_for(principal)), status_code=201, headers={"Idempotent-Replayed": replayed}
        )

    @get("/units/{unit_id:int}/desk", guards=[desk])
    async def desk_view(self, db: AsyncSession, principal: Principal, unit_id: PathId) -> DeskUnitOut:
        """What the cashier reads before taking a payment: the current owner's open debts and
        prepaid credit, and apart those of other owners (a seller) who still owe or hold credit,
        each with the owner's id and name (masked for a cashier). A payment is for one of these
        accounts (``owner_id``; default the current owner) and settles its debts only."""
        return await desk_unit(db, unit_id, business_today(), masking_for(principal))

    @get("/payments/{payment_id:int}", guards=[desk])
    async def get_payment(self, db: AsyncSession, principal: Principal, payment_id: LongPathId) -> PaymentOut:
        """One payment with its allocations to periods; names masked as the caller's role sees them."""
        return (await lookup.payment_out(db, payment_id)).masked(masking_for(principal))

    @get("/payments/{payment_id:int}/receipt.pdf", guards=[receipt_readers], media_type="application/pdf")
    async def receipt(self, db: AsyncSession, principal: Principal, payment_id: LongPathId) -> Response[bytes]:
        """The printable receipt (收款收据), an A5-landscape PDF; a voided payment's is marked 作废.

        Cashiers and managers: any payment. An owner: only payments on their own periods (403 for
        any other id). Every download is written to the audit log."""
        await owners.check_owner_may_read(db, principal, payment_id)
        filename, pdf = await receipt_file(db, payment_id, masking_for(principal))
        await owners.audit_read(db, principal, "payment.receipt", "payment", payment_id)
        return Response(
            content=pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    @get("/owners/me/payments", guards=[owner_only])
    async def my_payments(
        self,
        db: AsyncSession,
        principal: Principal,
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> PaymentPage:
        """The calling owner's payments on their own periods, newest first, with their receipt
        numbers (each receipt at ``/payments/{id}/receipt.pdf``). Owners only; audited."""
        assert principal.owner_id is not None  # an owner token always names its owner
        ids, total = await owners.owner_payment_ids(db, principal.owner_id, (page - 1) * page_size, page_size)
        masking = masking_for(principal)
        items = [payment.masked(masking) for payment in await lookup.payments_out(db, ids)]
        await owners.audit_read(db, principal, "payments.list", "owner", principal.owner_id)
        return PaymentPage(items=items, total=total, page=page, page_size=page_size)

    @post("/payments/{payment_id:int}/void", guards=[managers], status_code=200)
    async def void(
        self, db: AsyncSession, principal: Principal, payment_id: LongPathId, data: VoidCreate
    ) -> PaymentOut:
        """Void a payment with a reason: reversing entries are posted (the payment stays on record, marked voided)."""
        out = await voids.void_payment(db, principal, payment_id, data.reason, business_today())
        return out.masked(masking_for(principal))

    @post("/units/{unit_id:int}/refunds", guards=[managers])
    async def refund(self, db: AsyncSession, principal: Principal, unit_id: PathId, data: RefundCreate) -> RefundOut:
        """Pay back an owner's credit at the unit (paid and not owed; default the current owner's), with a reason;
        posted to the ledger."""
        return await refunds.refund_credit(db, principal, unit_id, data, business_today())

    @get("/estates/{estate_id:int}/cash-up", guards=[desk], before_request=cashup_xlsx)  # .xlsx on Accept
    async def cash_up(self, db: AsyncSession, estate_id: PathId, day: date | None = None) -> CashUpOut:
        """The daily cash-up (日结): per cashier and method, received, voided (a void of an earlier
        day's payment with the day it was received) and net, reconciled with the ledger."""
        await get_estate(db, estate_id)
        return await cash_up(db, estate_id, day or business_today())

    @get("/estates/{estate_id:int}/cash-up.pdf", guards=[desk], media_type="application/pdf")
    async def cash_up_pdf(self, db: AsyncSession, estate_id: PathId, day: date | None = None) -> Response[bytes]:
        """The cash-up printed (收款日结表, A4) with the cashiers' and the supervisor's signature lines."""
        estate = await get_estate(db, estate_id)
        filename, pdf = await cashup_file(await cash_up(db, estate_id, day or business_today()), estate)
        return Response(
            content=pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )
