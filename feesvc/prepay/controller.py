from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk, managers, requires, staff
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.payments.controller import IdempotencyKey
from feesvc.prepay import refund, service
from feesvc.prepay.schemas import (
    PrepaymentCreate,
    PrepaymentOut,
    PrepayRefundCreate,
    PrepayRefundOut,
    QuoteCreate,
    QuoteOut,
    TierIn,
    TierOut,
)
from feesvc.registry.masking import masking_for
from feesvc.schemas import PathId

# An owner may ask what prepaying their own unit would cost; only the desk takes the money.
quoters = requires(Role.cashier, Role.manager, Role.owner)


class PrepayController(Controller):
    path = "/api/v1"
    tags = ["prepayments"]

    @get("/estates/{estate_id:int}/prepay-tiers", guards=[staff])
    async def list_tiers(self, db: AsyncSession, estate_id: PathId) -> list[TierOut]:
        """The estate's prepay discount tiers (预缴优惠), fewest months first."""
        return await service.list_tiers(db, estate_id)

    @put("/estates/{estate_id:int}/prepay-tiers", guards=[managers])
    async def replace_tiers(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: list[TierIn]
    ) -> list[TierOut]:
        """Replace the estate's tiers, e.g. 6 months → 5 % off, 12 months → 10 % off; [] removes them."""
        return await service.replace_tiers(db, principal, estate_id, data)

    @post("/units/{unit_id:int}/prepayments/quote", guards=[quoters], status_code=200)
    async def quote(self, db: AsyncSession, principal: Principal, unit_id: PathId, data: QuoteCreate) -> QuoteOut:
        """What prepaying ``months`` would cost: per period gross, the discount share and the net."""
        return await service.quote_for_unit(db, principal, unit_id, data, business_today())

    @post("/units/{unit_id:int}/prepayments", guards=[desk])
    async def record(
        self,
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        data: PrepaymentCreate,
        idempotency_key: IdempotencyKey,
    ) -> Response[PrepaymentOut]:
        """Book the quoted periods and take the payment for the net. A retry with the same key and body
        returns the first result; a quote that changed since ``expected_net_fen`` is refused (409)."""
        out, created = await service.record_prepayment(db, principal, unit_id, data, idempotency_key, business_today())
        out = msgspec.structs.replace(out, payment=out.payment.masked(masking_for(principal)))
        return Response(out, status_code=201, headers={"Idempotent-Replayed": "false" if created else "true"})

    @post("/units/{unit_id:int}/prepayments/refund", guards=[managers])
    async def refund(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, data: PrepayRefundCreate
    ) -> PrepayRefundOut:
        """Refund the periods from ``from_period`` not yet served: their discount is taken back and
        what was paid for them is returned."""
        return await refund.refund_prepayment(db, principal, unit_id, data, business_today())
