"""Payment orders: made by an owner for their own account, placed with the provider, closed at expiry.

An order asks for the payoff of the owner's account on the unit today (feesvc/payoff), or for chosen
charges with their posted late fees: what is open on those debts, which the payment then settles
first (its designation; the desk's order, 民法典 560, for anything else). Made under the owner's
Idempotency-Key: a retry answers the same order; a retry after the provider did not answer places it
again (the provider keys its order on out_trade_no).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.online.alipay import Alipay
from feesvc.online.credentials import CredentialsError, estate_credentials
from feesvc.online.models import CHANNELS, OrderKind, OrderState, PayChannel, PaymentOrder, Provider
from feesvc.online.provider import OrderRequest, PaymentProvider, ProviderError
from feesvc.online.schemas import PaymentOrderCreate, PaymentOrderOut
from feesvc.online.wechat import WechatPay
from feesvc.payoff.service import unit_payoff
from feesvc.registry.models import Building, Estate, Unit
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.settings import Settings


def provider_for(settings: Settings, estate_id: int, provider: Provider) -> PaymentProvider:
    """The estate's provider, or a 422 saying it is not set up."""
    try:
        credentials = estate_credentials(estate_id, settings)
    except CredentialsError as error:
        raise ProviderError(f"online payment is misconfigured: {error}") from error
    if provider is Provider.wechat and credentials is not None and credentials.wechat is not None:
        return WechatPay(credentials.wechat, settings.online.wechat_api_base)
    if provider is Provider.alipay and credentials is not None and credentials.alipay is not None:
        return Alipay(credentials.alipay, settings.online.alipay_gateway)
    raise InvalidInput(f"this estate does not take {provider.value} payments online", field="provider")


def notify_url(settings: Settings, provider: Provider, estate_id: int) -> str:
    return f"{settings.server.public_base_url.rstrip('/')}/api/v1/online/notify/{provider.value}/{estate_id}"


def order_request(
    order: PaymentOrder, settings: Settings, return_url: str | None = None, openid: str | None = None
) -> OrderRequest:
    return OrderRequest(
        out_trade_no=order.out_trade_no,
        amount_fen=order.amount_fen,
        description=order.description,
        expires_at=order.expires_at,
        channel=order.channel,
        notify_url=notify_url(settings, order.provider, order.estate_id),
        payer_openid=openid,
        return_url=return_url,
    )


def order_out(order: PaymentOrder, pay: dict[str, Any] | None = None) -> PaymentOrderOut:
    assert order.id is not None
    return PaymentOrderOut(
        id=order.id,
        out_trade_no=order.out_trade_no,
        estate_id=order.estate_id,
        unit_id=order.unit_id,
        owner_id=order.owner_id,
        provider=order.provider,
        channel=order.channel,
        kind=order.kind,
        charge_ids=list(order.charge_ids or []),
        amount_fen=order.amount_fen,
        currency=order.currency,
        description=order.description,
        state=order.state,
        created_at=order.created_at,
        expires_at=order.expires_at,
        payment_id=order.payment_id,
        transaction_id=order.transaction_id,
        pay=pay or {},
    )


@dataclass(frozen=True)
class Amount:
    kind: OrderKind
    fen: int
    charge_ids: list[int]


async def amount_due(session: AsyncSession, unit_id: int, owner_id: int, charge_ids: list[int], today: date) -> Amount:
    """What the order asks: the payoff today, or what is open on the chosen charges of the owner's own
    periods (principal and posted late fees; the late fee since the last run is the payoff's)."""
    payoff = await unit_payoff(session, unit_id, today, owner_id)
    if not charge_ids:
        if payoff.total_fen <= 0:
            raise InvalidInput("nothing is owed on this unit today: there is nothing to pay", field="unit_id")
        return Amount(OrderKind.payoff, payoff.total_fen, [])
    lines = {line.charge_id: line for line in payoff.lines}
    unknown = sorted(
        set(charge_ids) - {c for c, line in lines.items() if line.principal_fen + line.late_fee_posted_fen > 0}
    )
    if unknown:
        raise InvalidInput(f"nothing of yours is open on charges {unknown} of this unit", field="charge_ids")
    chosen = sorted(set(charge_ids))
    return Amount(OrderKind.debts, sum(lines[c].principal_fen + lines[c].late_fee_posted_fen for c in chosen), chosen)


def _check_channel(data: PaymentOrderCreate) -> None:
    if data.channel not in CHANNELS[data.provider]:
        names = ", ".join(c.value for c in CHANNELS[data.provider])
        raise InvalidInput(f"{data.provider.value} takes the channels {names}", field="channel")
    if data.channel is PayChannel.jsapi and not data.payer_openid:
        raise InvalidInput("a JSAPI order needs the payer's openid under the merchant's appid", field="payer_openid")
    if data.payer_openid and data.channel is not PayChannel.jsapi:
        raise InvalidInput("payer_openid is for WeChat JSAPI orders only", field="payer_openid")
    if data.return_url and data.provider is not Provider.alipay:
        raise InvalidInput("return_url is for Alipay orders only", field="return_url")


def _fingerprint(data: PaymentOrderCreate) -> str:
    return hashlib.sha256(msgspec.json.encode(data)).hexdigest()


async def create_order(
    session: AsyncSession,
    settings: Settings,
    owner: Principal,
    data: PaymentOrderCreate,
    idempotency_key: str,
    today: date,
) -> tuple[PaymentOrderOut, bool]:
    """An owner's order for their own account on the unit; returns it and whether it is new."""
    assert owner.owner_id is not None
    _check_channel(data)
    unit, _ = await get_unit(session, data.unit_id, field="unit_id")
    await can_read_unit(session, owner, data.unit_id)
    provider = provider_for(settings, unit.estate_id, data.provider)
    key = f"{owner.owner_id}:{idempotency_key}"
    fingerprint = _fingerprint(data)
    order = (
        await session.execute(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))
    ).scalar_one_or_none()
    created = order is None
    if order is None:
        amount = await amount_due(session, data.unit_id, owner.owner_id, data.charge_ids, today)
        estate = await session.get(Estate, unit.estate_id)
        assert estate is not None
        building = await session.get(Building, unit.building_id)
        order = PaymentOrder(
            out_trade_no="FS" + secrets.token_hex(12).upper(),
            estate_id=unit.estate_id,
            unit_id=data.unit_id,
            owner_id=owner.owner_id,
            provider=data.provider,
            channel=data.channel,
            kind=amount.kind,
            charge_ids=amount.charge_ids or None,
            amount_fen=amount.fen,
            description=_description(estate, building, unit),
            expires_at=utcnow() + timedelta(minutes=settings.online.order_minutes),
            idempotency_key=key,
            request_fingerprint=fingerprint,
            created_by=owner.label,
        )
        session.add(order)
        try:
            await session.flush()
        except IntegrityError:  # the same key committed by a concurrent request: answer that order
            await session.rollback()
            order = (
                await session.execute(select(PaymentOrder).where(PaymentOrder.idempotency_key == key))
            ).scalar_one()
            created = False
        else:
            await record_audit(
                session,
                owner,
                "online.order.create",
                "payment_order",
                order.id,
                {
                    "unit_id": order.unit_id,
                    "amount_fen": order.amount_fen,
                    "provider": order.provider,
                    "kind": order.kind,
                },
            )
            await session.commit()
    if order.request_fingerprint != fingerprint:
        raise Conflict("this Idempotency-Key was used for a different order; use a new key", field="Idempotency-Key")
    request = order_request(order, settings, data.return_url, data.payer_openid)
    if order.state is OrderState.pending and order.provider_ref is None and order.expires_at > utcnow():
        ref = await provider.create(request)
        if ref is not None:
            await session.execute(update(PaymentOrder).where(col(PaymentOrder.id) == order.id).values(provider_ref=ref))
            await session.commit()
            order.provider_ref = ref
    pay = provider.payer_action(request, order.provider_ref) if _payable(order) else {}
    return order_out(order, pay), created


async def owner_view(settings: Settings, order: PaymentOrder) -> PaymentOrderOut:
    """An order as its owner reads it: with what the payer needs while it can be paid."""
    if not _payable(order):
        return order_out(order)
    provider = provider_for(settings, order.estate_id, order.provider)
    return order_out(order, provider.payer_action(order_request(order, settings), order.provider_ref))


def _payable(order: PaymentOrder) -> bool:
    return order.state is OrderState.pending and order.expires_at > utcnow()


def _description(estate: Estate, building: Building | None, unit: Unit) -> str:
    """What the payer's app shows: the estate, the unit and what for (WeChat takes 127 characters)."""
    where = f"{building.name}{unit.number}" if building is not None else unit.number
    return f"{estate.name} {where} 物业费"[:127]


async def get_order(session: AsyncSession, order_id: int) -> PaymentOrder:
    order = await session.get(PaymentOrder, order_id)
    if order is None:
        raise NotFound(f"payment order {order_id} does not exist", field="order_id")
    return order


async def list_orders(
    session: AsyncSession, estate_id: int, state: OrderState | None, offset: int, limit: int
) -> tuple[list[PaymentOrder], int]:
    where = [PaymentOrder.estate_id == estate_id]
    if state is not None:
        where.append(PaymentOrder.state == state)
    total = (await session.execute(select(func.count()).select_from(PaymentOrder).where(*where))).scalar_one()
    rows = await session.execute(
        select(PaymentOrder).where(*where).order_by(col(PaymentOrder.id).desc()).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


@dataclass
class CloseReport:
    closed: int = 0
    paid: int = 0
    failed: list[str] | None = None


async def expired_orders(session: AsyncSession, now: datetime, estate_id: int | None = None) -> list[PaymentOrder]:
    query = select(PaymentOrder).where(PaymentOrder.state == OrderState.pending, col(PaymentOrder.expires_at) <= now)
    if estate_id is not None:
        query = query.where(PaymentOrder.estate_id == estate_id)
    return list((await session.execute(query.order_by(col(PaymentOrder.id)))).scalars())


async def mark_closed(session: AsyncSession, actor: Principal, order: PaymentOrder) -> bool:
    """Close a pending order (idempotent: a closed or paid one is left as it is)."""
    result = await session.execute(
        update(PaymentOrder)
        .where(col(PaymentOrder.id) == order.id, col(PaymentOrder.state) == OrderState.pending)
        .values(state=OrderState.closed, closed_at=utcnow())
    )
    if result.rowcount:  # type: ignore[attr-defined]
        await record_audit(session, actor, "online.order.close", "payment_order", order.id, {"reason": "expired"})
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
