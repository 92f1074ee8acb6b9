"""Online payment over HTTP: owners' orders, the providers' notifications (public, verified by
signature, answered in each provider's own format), held notifications and reconciliation."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import desk, managers, requires, staff
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import Database, business_today
from feesvc.errors import DomainError, NotFound
from feesvc.online import notifications, orders
from feesvc.online.models import HeldState, OrderState, Provider
from feesvc.online.provider import NotificationRefused
from feesvc.online.reconcile import parse_bill, reconcile
from feesvc.online.schemas import (
    HeldNotificationOut,
    HeldResolve,
    PaymentOrderCreate,
    PaymentOrderOut,
    PaymentOrderPage,
    ReconciliationOut,
)
from feesvc.registry.service import get_estate
from feesvc.schemas import PathId
from feesvc.settings import Settings

log = logging.getLogger("feesvc.online")

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=100,
        description="A key the client makes once per order and sends again on every retry of it",
    ),
]
owner_only = requires(Role.owner)
NOTIFY_PATH = "/api/v1/online/notify"


class BillForm(msgspec.Struct):
    """The provider's bill file of one day: WeChat Pay's trade bill CSV, Alipay's account bill (CSV or its zip)."""

    file: UploadFile


BillUpload = Annotated[BillForm, Body(media_type=RequestEncodingType.MULTI_PART)]


class OnlinePaymentController(Controller):
    path = "/api/v1"
    tags = ["online payment"]

    @post("/owners/me/payment-orders", guards=[owner_only])
    async def create_order(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        data: PaymentOrderCreate,
        idempotency_key: IdempotencyKey,
    ) -> Response[PaymentOrderOut]:
        """An order to pay online, for the calling owner's own account on a unit they own or owned:
        the payoff today, or ``charge_ids`` (charges of the owner's own periods, from the payoff's
        lines) with their posted late fees. Answers what the payer needs (``pay``: a Native
        ``code_url``, ``jsapi`` parameters, or Alipay's ``pay_url``) and the expiry. A retry with the
        same key and body answers the same order. 502 when the provider did not answer (send again)."""
        settings: Settings = request.app.state.settings
        order, created = await orders.create_order(db, settings, principal, data, idempotency_key, business_today())
        headers = {"Idempotent-Replayed": "false" if created else "true"}
        return Response(order, status_code=201, headers=headers)

    @get("/owners/me/payment-orders/{order_id:int}", guards=[owner_only])
    async def my_order(
        self, request: Request[Any, Any, Any], db: AsyncSession, principal: Principal, order_id: PathId
    ) -> PaymentOrderOut:
        """One of the calling owner's orders: its state (a page waiting for the payment asks this) and,
        while it can still be paid, what the payer needs. Another owner's order is a 404."""
        order = await orders.get_order(db, order_id)
        if order.owner_id != principal.owner_id:
            raise NotFound(f"payment order {order_id} does not exist", field="order_id")
        settings: Settings = request.app.state.settings
        return await orders.owner_view(settings, order)

    @get("/payment-orders/{order_id:int}", guards=[staff])
    async def get_order(self, db: AsyncSession, order_id: PathId) -> PaymentOrderOut:
        """One payment order (staff): its state, amount, and the payment it led to."""
        return orders.order_out(await orders.get_order(db, order_id))

    @get("/estates/{estate_id:int}/payment-orders", guards=[staff])
    async def list_orders(
        self,
        db: AsyncSession,
        estate_id: PathId,
        order_state: Annotated[OrderState | None, Parameter(query="state")] = None,
        page: Annotated[int, Parameter(ge=1, le=10_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> PaymentOrderPage:
        """The estate's payment orders, newest first, optionally of one state (staff)."""
        await get_estate(db, estate_id)
        found, total = await orders.list_orders(db, estate_id, order_state, (page - 1) * page_size, page_size)
        return PaymentOrderPage([orders.order_out(o) for o in found], total, page, page_size)

    @get("/estates/{estate_id:int}/held-notifications", guards=[desk])
    async def held(
        self,
        db: AsyncSession,
        estate_id: PathId,
        held_state: Annotated[HeldState | None, Parameter(query="state")] = HeldState.held,
    ) -> list[HeldNotificationOut]:
        """Notifications held for a cashier (default: those still to decide), each with why."""
        await get_estate(db, estate_id)
        return await notifications.list_held(db, estate_id, held_state)

    @post("/held-notifications/{held_id:int}/resolve", guards=[desk], status_code=200)
    async def resolve(
        self, db: AsyncSession, principal: Principal, held_id: PathId, data: HeldResolve
    ) -> HeldNotificationOut:
        """Decide a held notification: ``post`` records the money received as a payment to the order's
        owner account (their debts oldest first, the rest their credit), ``dismiss`` posts nothing
        (refunded at the provider). Audited; a retry of the same decision answers the same."""
        return await notifications.resolve_held(db, principal, held_id, data.action, data.reason, business_today())

    @post(
        [f"/estates/{{estate_id:int}}/online-reconciliations/{p.value}" for p in Provider],
        guards=[managers],
        status_code=200,
    )
    async def reconcile(
        self,
        request: Request[Any, Any, Any],
        db: AsyncSession,
        principal: Principal,
        estate_id: PathId,
        data: BillUpload,
        day: date | None = None,
    ) -> ReconciliationOut:
        """Reconcile a day's bill (multipart field ``file``; the path names the provider) with the
        payments posted from that provider's notifications: every bill line not matching a posted
        payment, and every posted payment missing from the bill. ``day``: the bill's day when the
        file does not state it (a bill without lines)."""
        provider = Provider(request.url.path.rstrip("/").rsplit("/", 1)[-1])
        await get_estate(db, estate_id)
        bill = parse_bill(provider, await data.file.read())
        return await reconcile(db, principal, estate_id, provider, bill, day)


async def _notify(request: Request[Any, Any, Any], provider_name: Provider, estate_id: int) -> Response[bytes]:
    """A provider's notification: verified, then posted, held or refused, answered in its format."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    body = await request.body()
    try:
        provider = orders.provider_for(settings, estate_id, provider_name)
    except DomainError as error:  # not set up, or its secrets unreadable: the estate takes none
        refused = NotificationRefused(
            f"estate {estate_id} takes no {provider_name.value} payments: {error.detail}", 404
        )
        return _answer_refused(provider_name, refused)
    answer_refused: NotificationRefused | None = None
    try:
        paid = provider.verify(dict(request.headers), body)
        outcome = await notifications.take_notification(database, settings, estate_id, paid, business_today())
        log.info("online %s notification for estate %s: %s", provider_name.value, estate_id, outcome)
    except NotificationRefused as error:
        log.warning("online %s notification for estate %s refused: %s", provider_name.value, estate_id, error.reason)
        answer_refused = error
    status, media_type, content = provider.answer(answer_refused)
    return Response(content, status_code=status, media_type=media_type)


def _answer_refused(provider: Provider, refused: NotificationRefused) -> Response[bytes]:
    if provider is Provider.wechat:
        body = msgspec.json.encode({"code": "FAIL", "message": refused.reason})
        return Response(body, status_code=refused.status_code, media_type="application/json")
    return Response(b"fail", status_code=refused.status_code, media_type="text/plain")


class NotificationController(Controller):
    """Public: the providers call these. A notification is believed only when its signature verifies."""

    path = NOTIFY_PATH
    tags = ["online payment"]
    include_in_schema = False

    @post("/wechat/{estate_id:int}", status_code=200)
    async def wechat(self, request: Request[Any, Any, Any], estate_id: PathId) -> Response[bytes]:
        return await _notify(request, Provider.wechat, estate_id)

    @post("/alipay/{estate_id:int}", status_code=200)
    async def alipay(self, request: Request[Any, Any, Any], estate_id: PathId) -> Response[bytes]:
        return await _notify(request, Provider.alipay, estate_id)
