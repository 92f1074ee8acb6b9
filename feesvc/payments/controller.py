from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import HeaderParameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk, managers
from feesvc.auth.principal import Principal
from feesvc.db import Database, business_today
from feesvc.payments import service
from feesvc.payments.cashup import cash_up
from feesvc.payments.cashup_document import cashup_file
from feesvc.payments.receipt import receipt_file
from feesvc.payments.schemas import CashUpOut, PaymentCreate, PaymentOut, RefundCreate, RefundOut, VoidCreate
from feesvc.registry.service import get_estate

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=100,
        description="A key the client makes once per payment and sends again on every retry of it",
    ),
]


class PaymentController(Controller):
    path = "/api/v1"
    tags = ["payments"]

    @post("/payments", guards=[desk])
    async def record(
        self, database: Database, principal: Principal, data: PaymentCreate, idempotency_key: IdempotencyKey
    ) -> Response[PaymentOut]:
        """Record a payment at the desk. A retry with the same key and body returns the first result."""
        payment, created = await service.post_payment(database, principal, data, idempotency_key, business_today())
        return Response(payment, status_code=201, headers={"Idempotent-Replayed": "false" if created else "true"})

    @get("/payments/{payment_id:int}", guards=[desk])
    async def get_payment(self, db: AsyncSession, payment_id: int) -> PaymentOut:
        return await service.payment_out(db, payment_id)

    @get("/payments/{payment_id:int}/receipt.pdf", guards=[desk], media_type="application/pdf")
    async def receipt(self, db: AsyncSession, payment_id: int) -> Response[bytes]:
        """The printable receipt (收款收据), an A5-landscape PDF; a voided payment's is marked 作废."""
        filename, pdf = await receipt_file(db, payment_id)
        return Response(
            content=pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    @post("/payments/{payment_id:int}/void", guards=[managers], status_code=200)
    async def void(self, db: AsyncSession, principal: Principal, payment_id: int, data: VoidCreate) -> PaymentOut:
        return await service.void_payment(db, principal, payment_id, data.reason, business_today())

    @post("/units/{unit_id:int}/refunds", guards=[managers])
    async def refund(self, db: AsyncSession, principal: Principal, unit_id: int, data: RefundCreate) -> RefundOut:
        return await service.refund_credit(db, principal, unit_id, data, business_today())

    @get("/estates/{estate_id:int}/cash-up", guards=[desk])
    async def cash_up(self, db: AsyncSession, estate_id: int, day: date | None = None) -> CashUpOut:
        """The daily cash-up (日结): per cashier and method, received, voided (a void of an earlier
        day's payment with the day it was received) and net, reconciled with the ledger."""
        await get_estate(db, estate_id)
        return await cash_up(db, estate_id, day or business_today())

    @get("/estates/{estate_id:int}/cash-up.pdf", guards=[desk], media_type="application/pdf")
    async def cash_up_pdf(self, db: AsyncSession, estate_id: int, day: date | None = None) -> Response[bytes]:
        """The cash-up printed (收款日结表, A4) with the cashiers' and the supervisor's signature lines."""
        estate = await get_estate(db, estate_id)
        filename, pdf = await cashup_file(await cash_up(db, estate_id, day or business_today()), estate)
        return Response(
            content=pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )
