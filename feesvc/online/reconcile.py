"""A day's bill from the provider against the payments posted from its notifications.

Every bill line that matches no posted payment (by the provider's transaction id, with the same
amount) is listed with why: not posted at all, held for a cashier, posted with another amount, a
refund. Every payment posted from the provider's notifications on that day that the bill lacks is
listed too. Fees (Alipay's service charges) are summed apart; withdrawals and transfers are not
payments and are left out.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import InvalidInput
from feesvc.online.bills import Bill, BillError, parse_alipay_account_bill, parse_wechat_trade_bill
from feesvc.online.models import HeldNotification, Provider
from feesvc.online.notifications import payment_key
from feesvc.online.schemas import MissingPaymentOut, ReconciliationLineOut, ReconciliationOut
from feesvc.payments.models import Payment, PaymentVoid


def parse_bill(provider: Provider, content: bytes) -> Bill:
    try:
        if provider is Provider.wechat:
            return parse_wechat_trade_bill(content)
        return parse_alipay_account_bill(content)
    except BillError as error:
        raise InvalidInput(f"the {provider.value} bill file cannot be read: {error}", field="file") from error


async def reconcile(
    session: AsyncSession, actor: Principal, estate_id: int, provider: Provider, bill: Bill, day: date | None
) -> ReconciliationOut:
    day = day or bill.day
    if day is None:
        raise InvalidInput("the file does not say its day (it has no lines): give the day", field="day")
    prefix = f"{provider.value}:"
    payment = Payment.__table__  # type: ignore[attr-defined]
    voided = PaymentVoid.__table__  # type: ignore[attr-defined]
    rows = await session.execute(
        sa_select(
            payment.c.id,
            payment.c.idempotency_key,
            payment.c.unit_id,
            payment.c.amount_fen,
            payment.c.received_on,
            voided.c.id.isnot(None),
        )
        .outerjoin(voided, voided.c.payment_id == payment.c.id)
        .where(
            payment.c.estate_id == estate_id,
            payment.c.received_on == day,
            col(payment.c.idempotency_key).startswith(prefix),
        )
    )
    posted = {row[1]: row for row in rows}
    payment_lines = [line for line in bill.lines if line.kind in ("payment", "refund")]
    held_rows = await session.execute(
        select(HeldNotification.transaction_id, HeldNotification.id, HeldNotification.state).where(
            HeldNotification.provider == provider,
            col(HeldNotification.transaction_id).in_([line.transaction_id for line in payment_lines] or [""]),
        )
    )
    held = {row[0]: (row[1], row[2]) for row in held_rows}
    unmatched: list[ReconciliationLineOut] = []
    seen: set[str] = set()
    matched = 0
    for line in payment_lines:
        key = payment_key(provider, line.transaction_id)
        found = posted.get(key)
        out = ReconciliationLineOut(line.line, line.transaction_id, line.out_trade_no, line.kind, line.amount_fen, "")
        if line.kind == "refund":
            out.reason = "a refund at the provider: no refund of it is recorded here"
        elif found is not None and found[3] == line.amount_fen:
            seen.add(key)
            matched += 1
            continue
        elif found is not None:
            seen.add(key)
            out.reason = f"posted as {found[3]} fen (payment {found[0]}), the bill says {line.amount_fen} fen"
            out.payment_id = found[0]
        elif line.transaction_id in held:
            held_id, state = held[line.transaction_id]
            out.reason = f"its notification is held for a cashier ({state.value})"
            out.held_notification_id = held_id
        else:
            out.reason = "no payment was posted for it (its notification never came or was refused)"
        unmatched.append(out)
    missing = [
        MissingPaymentOut(row[0], key.removeprefix(prefix), row[2], row[3], row[4], bool(row[5]))
        for key, row in sorted(posted.items(), key=lambda item: item[1][0])
        if key not in seen
    ]
    result = ReconciliationOut(
        estate_id=estate_id,
        provider=provider,
        day=day,
        bill_lines=len(bill.lines),
        matched=matched,
        fees_fen=-sum(line.amount_fen for line in bill.lines if line.kind == "fee"),
        unmatched_lines=unmatched,
        missing_payments=missing,
        reconciled=not unmatched and not missing,
    )
    await record_audit(
        session,
        actor,
        "online.reconcile",
        "estate",
        estate_id,
        {"provider": provider.value, "day": day.isoformat(), "unmatched": len(unmatched), "missing": len(missing)},
    )
    await session.commit()
    return result
