"""Verified notifications: posted once through the desk, held for a cashier, or refused.

A notification whose signature verifies names an order of the estate. It is posted through the desk's
idempotent path (:func:`feesvc.payments.recording.post_payment`) under the key
``<provider>:<transaction id>``, so a replay, or two copies at once, post one payment. What does not
match its order (amount, currency, merchant, or chosen debts no longer open) is held for a cashier,
never posted blind. An unknown order, or one closed or expired before it was paid, is refused with
nothing written.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ, Database, autocommit, utcnow
from feesvc.errors import Conflict, DomainError, NotFound
from feesvc.online.models import HeldNotification, HeldState, OrderState, PaymentOrder, Provider
from feesvc.online.orders import CloseReport, expired_orders, mark_closed, provider_for
from feesvc.online.provider import NotificationRefused, ProviderError, ProviderPayment
from feesvc.online.schemas import HeldNotificationOut
from feesvc.payments.models import Method, Payment
from feesvc.payments.recording import post_payment, record_payment
from feesvc.payments.schemas import Designation, PaymentCreate
from feesvc.settings import Settings

# The actor of payments posted from notifications: the cash-up lists them apart from the cashiers'.
ACTORS = {p: Principal(role=Role.system, name=f"online-{p.value}") for p in Provider}
METHODS = {Provider.wechat: Method.wechat, Provider.alipay: Method.alipay}


def payment_key(provider: Provider, transaction_id: str) -> str:
    return f"{provider.value}:{transaction_id}"


def payment_data(order: PaymentOrder, paid: ProviderPayment, amount_fen: int, designated: bool) -> PaymentCreate:
    """The desk's payment for a notification: the same fields on every replay (the key's fingerprint)."""
    designation = Designation(entry_ids=list(order.charge_ids or [])) if designated and order.charge_ids else None
    return PaymentCreate(
        unit_id=order.unit_id,
        amount_fen=amount_fen,
        method=METHODS[order.provider],
        external_ref=paid.transaction_id[:100],
        designation=designation,
        received_on=paid.paid_at.astimezone(BUSINESS_TZ).date(),
        owner_id=order.owner_id,
    )


def _lookup_query() -> Any:
    """The order of the estate, the payment already posted under the key and the notification already
    held, in one round trip."""
    payment = Payment.__table__  # type: ignore[attr-defined]
    held = HeldNotification.__table__  # type: ignore[attr-defined]
    order = PaymentOrder.__table__  # type: ignore[attr-defined]
    joined = order.outerjoin(payment, payment.c.idempotency_key == bindparam("key")).outerjoin(
        held, and_(held.c.provider == bindparam("provider"), held.c.transaction_id == bindparam("tx"))
    )
    return (
        select(PaymentOrder, payment.c.id, held.c.id)
        .select_from(joined)
        .where(PaymentOrder.out_trade_no == bindparam("no"), PaymentOrder.estate_id == bindparam("estate"))
        .limit(1)
    )


_LOOKUP = _lookup_query()


async def take_notification(
    database: Database, settings: Settings, estate_id: int, paid: ProviderPayment, today: date
) -> str:
    """Post, hold or ignore a verified notification; NotificationRefused (nothing written) for an
    unknown, closed or expired order. Returns what was done (for the log and the tests)."""
    if not paid.transaction_id or len(paid.transaction_id) > 64 or len(paid.out_trade_no) > 64:
        raise NotificationRefused("the notification names no transaction, or ids longer than the providers make")
    key = payment_key(paid.provider, paid.transaction_id)
    params = {"key": key, "provider": paid.provider.value, "tx": paid.transaction_id, "no": paid.out_trade_no}
    async with database.session() as session:
        await autocommit(session)  # reads, and at most one write of one statement
        row = (await session.execute(_LOOKUP, {**params, "estate": estate_id})).first()
        if row is None or row[0].provider is not paid.provider:
            raise NotificationRefused(f"no {paid.provider.value} order {paid.out_trade_no} in this estate", 404)
        order, posted_id, held_id = row
        if not paid.paid:
            return "not paid: nothing to post"
        if posted_id is not None:
            await _mark_paid(session, order, paid, posted_id)
            return "replay: posted before"
    if held_id is not None:
        return "replay: held before"
    if order.state is OrderState.closed:
        raise NotificationRefused(f"order {order.out_trade_no} was closed unpaid; the payment is not taken", 409)
    if paid.paid_at > order.expires_at:
        raise NotificationRefused(f"order {order.out_trade_no} expired before it was paid", 409)
    reason = _mismatch(order, paid)
    if reason is not None:
        async with database.session() as session:
            await _hold(session, order, paid, reason)
        return "held: " + reason
    data = payment_data(order, paid, paid.amount_fen, designated=True)
    try:
        payment, _ = await post_payment(database, ACTORS[paid.provider], data, key, today)
    except DomainError as error:  # the chosen debts are no longer open, the owner no longer holds the account
        async with database.session() as session:
            await _hold(session, order, paid, f"the desk refused the payment: {error.detail}")
        return "held: " + error.detail
    async with database.session() as session:
        await autocommit(session)
        await _mark_paid(session, order, paid, payment.id)
    return "posted"


def _mismatch(order: PaymentOrder, paid: ProviderPayment) -> str | None:
    if not paid.merchant_matches:
        return f"the notification is for merchant {paid.merchant}, not this estate's"
    if paid.currency != order.currency:
        return f"paid in {paid.currency}, the order is in {order.currency}"
    if paid.amount_fen != order.amount_fen:
        return f"paid {paid.amount_fen} fen, the order asks {order.amount_fen} fen"
    if order.state is OrderState.paid and order.transaction_id not in (None, paid.transaction_id):
        return f"the order was paid already by transaction {order.transaction_id}"
    return None


async def _hold(session: AsyncSession, order: PaymentOrder, paid: ProviderPayment, reason: str) -> None:
    """Keep the notification for a cashier (once: a copy arriving at the same moment finds it)."""
    held = HeldNotification(
        estate_id=order.estate_id,
        order_id=order.id,  # type: ignore[arg-type]
        provider=paid.provider,
        transaction_id=paid.transaction_id,
        amount_fen=paid.amount_fen,
        currency=paid.currency[:8],
        merchant=paid.merchant[:64],
        paid_at=paid.paid_at,
        reason=reason[:500],
        detail=_jsonable(paid.detail),
    )
    session.add(held)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return
    actor = ACTORS[paid.provider]
    await record_audit(
        session, actor, "online.notification.hold", "held_notification", held.id, {"reason": held.reason}
    )
    await session.commit()


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in detail.items()}


async def _mark_paid(session: AsyncSession, order: PaymentOrder, paid: ProviderPayment, payment_id: int) -> None:
    """The order is paid by the payment (once: an order already marked stays as it is)."""
    await session.execute(
        update(PaymentOrder)
        .where(col(PaymentOrder.id) == order.id, col(PaymentOrder.state) != OrderState.paid)
        .values(state=OrderState.paid, transaction_id=paid.transaction_id, payment_id=payment_id)
    )
    await session.commit()


async def close_expired(
    database: Database, settings: Settings, now: datetime, today: date, estate_id: int | None = None
) -> CloseReport:
    """Close every pending order past its expiry, with the provider first; one the provider says is
    paid is posted as its notification would be (a lost notification loses nothing). Idempotent."""
    report = CloseReport(failed=[])
    async with database.session() as session:
        due = await expired_orders(session, now, estate_id)
    for order in due:
        try:
            provider = provider_for(settings, order.estate_id, order.provider)
            result = await provider.close(order.out_trade_no)
            if result.paid is not None:
                await take_notification(database, settings, order.estate_id, result.paid, today)
                report.paid += 1
                continue
            async with database.session() as session:
                if await mark_closed(session, ACTORS[order.provider], order):
                    report.closed += 1
        except (ProviderError, NotificationRefused, DomainError) as error:
            reason = getattr(error, "detail", None) or getattr(error, "reason", str(error))
            assert report.failed is not None
            report.failed.append(f"order {order.out_trade_no}: {reason}")
    return report


# --- held notifications -------------------------------------------------------------------------


async def held_out(session: AsyncSession, held: HeldNotification) -> HeldNotificationOut:
    order = await session.get(PaymentOrder, held.order_id)
    assert held.id is not None and order is not None
    return HeldNotificationOut(
        id=held.id,
        estate_id=held.estate_id,
        order_id=held.order_id,
        unit_id=order.unit_id,
        provider=held.provider,
        transaction_id=held.transaction_id,
        out_trade_no=order.out_trade_no,
        amount_fen=held.amount_fen,
        order_amount_fen=order.amount_fen,
        currency=held.currency,
        merchant=held.merchant,
        paid_at=held.paid_at,
        reason=held.reason,
        state=held.state,
        received_at=held.received_at,
        resolved_by=held.resolved_by,
        resolved_at=held.resolved_at,
        resolution_note=held.resolution_note,
        payment_id=held.payment_id,
    )


async def list_held(session: AsyncSession, estate_id: int, state: HeldState | None) -> list[HeldNotificationOut]:
    query = select(HeldNotification).where(HeldNotification.estate_id == estate_id)
    if state is not None:
        query = query.where(HeldNotification.state == state)
    rows = (await session.execute(query.order_by(col(HeldNotification.id)))).scalars()
    return [await held_out(session, held) for held in rows]


async def resolve_held(
    session: AsyncSession, actor: Principal, held_id: int, action: str, reason: str, today: date
) -> HeldNotificationOut:
    """Post the money received to the order's owner account (oldest debts first), or dismiss it.
    A retry of the same decision answers the same; a different decision on a resolved one is a 409."""
    held = await session.get(HeldNotification, held_id)
    if held is None:
        raise NotFound(f"held notification {held_id} does not exist", field="held_id")
    wanted = HeldState.posted if action == "post" else HeldState.dismissed
    if held.state is not HeldState.held:
        if held.state is wanted:
            return await held_out(session, held)
        raise Conflict(f"held notification {held_id} was {held.state.value} already", field="action")
    if held.currency != "CNY" and wanted is HeldState.posted:
        raise Conflict("a payment in another currency cannot be posted: refund it at the provider", field="action")
    payment_id = None
    if wanted is HeldState.posted:
        order = await session.get(PaymentOrder, held.order_id)
        assert order is not None
        paid = ProviderPayment(
            held.provider,
            order.out_trade_no,
            held.transaction_id,
            True,
            held.amount_fen,
            held.currency,
            held.merchant,
            True,
            held.paid_at,
        )
        data = payment_data(order, paid, held.amount_fen, designated=False)
        key = payment_key(held.provider, held.transaction_id)
        await session.rollback()  # the desk's path takes its own transaction with the unit locked
        payment, _ = await record_payment(session, actor, data, key, today)
        payment_id = payment.id
    resolved = await session.execute(
        update(HeldNotification)
        .where(col(HeldNotification.id) == held_id, col(HeldNotification.state) == HeldState.held)
        .values(
            state=wanted, resolved_by=actor.label, resolved_at=utcnow(), resolution_note=reason, payment_id=payment_id
        )
    )
    if resolved.rowcount:  # type: ignore[attr-defined]
        await record_audit(session, actor, f"online.held.{action}", "held_notification", held_id, {"reason": reason})
    await session.commit()
    refreshed = await session.get(HeldNotification, held_id, populate_existing=True)
    assert refreshed is not None
    return await held_out(session, refreshed)
