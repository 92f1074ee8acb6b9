"""Prepayment (预缴): discount tiers, quotes, booking the covered periods, refunding unserved ones.

A prepayment books the covered periods' charges ahead, as the very rows the billing run would issue
(same amounts, due dates and dedupe keys, so the later run skips them), settles each with its share
of the discount (an entry of kind ``discount``) and with a designated payment for the rest. One
transaction: lock the unit, recompute the quote, book, pay, number the receipt, commit.

Refunds of periods not yet served: feesvc.prepay.refund.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.billing.rules import is_cycle_start
from feesvc.billing.service import unit_charge_rows
from feesvc.db import is_postgres
from feesvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from feesvc.formatting import money, normalize_locale
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import insert_entries, insert_entry_rows, lock_unit, open_debits
from feesvc.payments.lookup import current_owner, payment_out
from feesvc.payments.models import Payment
from feesvc.payments.numbering import issue_receipt
from feesvc.payments.prepare import payment_entry
from feesvc.payments.recording import add_payment, find_payment_by_key
from feesvc.prepay.models import PrepayDiscountTier
from feesvc.prepay.schemas import (
    PrepaymentCreate,
    PrepaymentOut,
    QuoteCreate,
    QuoteLine,
    QuoteOut,
    QuotePeriod,
    TierIn,
    TierOut,
)
from feesvc.registry.models import Estate, Owner, Unit
from feesvc.registry.service import can_read_unit, get_estate, get_unit
from feesvc.rules.prepay import (
    DiscountTier,
    PrepayQuote,
    PrepayRefused,
    periods_from,
    quote_prepayment,
    refund_terms,
    validate_tiers,
)
from feesvc.schemas import period_start

# ---------------------------------------------------------------------------------------------
# Discount tiers


def tier_out(tier: DiscountTier) -> TierOut:
    return TierOut(min_months=tier.min_months, percent_off=str(tier.percent_off))


async def estate_tiers(session: AsyncSession, estate_id: int) -> list[DiscountTier]:
    rows = await session.execute(
        select(PrepayDiscountTier)
        .where(PrepayDiscountTier.estate_id == estate_id)
        .order_by(col(PrepayDiscountTier.min_months))
    )
    return [DiscountTier(t.min_months, t.percent_off) for t in rows.scalars()]


async def list_tiers(session: AsyncSession, estate_id: int) -> list[TierOut]:
    await get_estate(session, estate_id)
    return [tier_out(t) for t in await estate_tiers(session, estate_id)]


def _validated(tiers: Sequence[TierIn]) -> list[DiscountTier]:
    """The tiers as rules; the first bad one is refused naming its place and field."""
    rules = [DiscountTier(t.min_months, Decimal(str(t.percent_off))) for t in tiers]
    for index in range(len(rules)):
        try:
            validate_tiers(rules[: index + 1])
        except ValueError as error:
            part = "percent_off" if "percent_off" in str(error) else "min_months"
            raise InvalidInput(str(error), field=f"[{index}].{part}") from error
    return rules


async def replace_tiers(
    session: AsyncSession, actor: Principal, estate_id: int, tiers: Sequence[TierIn]
) -> list[TierOut]:
    """The estate's tiers become ``tiers`` (an empty list: no prepay discount)."""
    rules = _validated(tiers)
    lock = select(Estate).where(Estate.id == estate_id)
    if (await session.execute(lock.with_for_update() if is_postgres(session) else lock)).first() is None:
        raise NotFound(f"estate {estate_id} does not exist")
    before = await estate_tiers(session, estate_id)
    await session.execute(delete(PrepayDiscountTier).where(col(PrepayDiscountTier.estate_id) == estate_id))
    session.add_all(
        [PrepayDiscountTier(estate_id=estate_id, min_months=t.min_months, percent_off=t.percent_off) for t in rules]
    )
    await record_audit(
        session,
        actor,
        "prepay_tiers.replace",
        "estate",
        estate_id,
        {
            "before": msgspec.to_builtins([tier_out(t) for t in before]),
            "after": msgspec.to_builtins([tier_out(t) for t in rules]),
        },
    )
    await session.commit()
    return [tier_out(t) for t in sorted(rules, key=lambda t: t.min_months)]


# ---------------------------------------------------------------------------------------------
# Quotes


@dataclass(frozen=True)
class _Line:
    """One charge of a covered period with its share of the discount."""

    period: str
    item: str
    item_name: str
    fee_standard_id: int | None
    rate: str
    gross_fen: int
    discount_fen: int

    @property
    def net_fen(self) -> int:
        return self.gross_fen - self.discount_fen


@dataclass(frozen=True)
class _Plan:
    months: int
    lines: list[_Line]
    rows: list[dict[str, Any]]  # the charge rows the billing run would insert, parallel to lines
    quote: PrepayQuote
    cap_months: int
    tiers: list[DiscountTier]  # the schedule a refund re-prices kept periods by
    locale: str


def tiers_detail(tiers: Sequence[DiscountTier]) -> list[dict[str, Any]]:
    return [{"min_months": t.min_months, "percent_off": str(t.percent_off)} for t in tiers]


def _index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def cycle_period(day: date, cycle_months: int) -> str:
    """The billing period (cycles start in January) that ``day`` falls in."""
    return f"{day.year:04d}-{(day.month - 1) // cycle_months * cycle_months + 1:02d}"


def next_period(period: str, cycle_months: int) -> str:
    return periods_from(period, cycle_months + 1)[cycle_months]


def _spread(share: int, amounts: Sequence[int]) -> list[int]:
    """Split a period's discount share over its charges in proportion, whole fen, the remainder on the
    largest charge, so the parts add up to ``share`` exactly."""
    total = sum(amounts)
    parts = [share * amount // total if total else 0 for amount in amounts]
    if amounts:
        largest = max(range(len(amounts)), key=lambda i: amounts[i])
        parts[largest] += share - sum(parts)
    return parts


def _standing(unit_id: int) -> ColumnElement[bool]:
    """Charges of the unit that no reversal took back (a refunded prepayment's periods are billable again)."""
    return and_(col(LedgerEntry.unit_id) == unit_id, col(LedgerEntry.kind) == EntryKind.charge, not_reversed(unit_id))


async def _first_unbilled(session: AsyncSession, unit_id: int, cycle_months: int, current: str) -> str:
    latest = (await session.execute(select(func.max(LedgerEntry.period)).where(_standing(unit_id)))).scalar()
    if latest is None:
        return current
    return max(next_period(latest, cycle_months), current)


async def _billed(session: AsyncSession, unit_id: int, periods: Sequence[str]) -> list[str]:
    """Periods with a standing charge for the unit."""
    query = select(LedgerEntry.period).where(_standing(unit_id), col(LedgerEntry.period).in_(periods))
    return sorted({p for (p,) in (await session.execute(query.distinct())).all() if p})


async def _overdue_fen(session: AsyncSession, unit_id: int, owner_id: int | None, today: date) -> int:
    """What the owner's account of the unit has overdue (debts with no owner recorded count as
    anyone's): a seller's arrears do not refuse the buyer's prepayment (DOMAIN.md "Change of owner")."""
    debits = await open_debits(session, unit_id)
    return sum(d.open_fen for d in debits if d.debt_due < today and d.owner_id in (None, owner_id))


# An owner is told what is overdue in their own language; staff read the rule's wording.
_OVERDUE_FOR_OWNERS = {
    "zh_CN": "尚有 {amount} 逾期未缴：请先缴清逾期费用，再预缴",
    "zh_TW": "尚有 {amount} 逾期未繳：請先繳清逾期費用，再預繳",
    "zh_HK": "尚有 {amount} 逾期未繳：請先繳清逾期費用，再預繳",
}


def _refusal(refused: PrepayRefused, overdue_fen: int, locale: str, owner: bool, style: str) -> InvalidInput:
    """The rules' refusal; what is overdue in yuan in ``locale`` (the reader's, for an owner, with
    the estate's way of writing money in Traditional Chinese: 人民幣…元 or ¥, never CN¥)."""
    if refused.reason_code == "overdue":
        amount = money(overdue_fen, locale, style if owner else None)
        template = _OVERDUE_FOR_OWNERS.get(normalize_locale(locale)) if owner else None
        detail = template.format(amount=amount) if template else f"{refused.message} ({amount} overdue)"
        return InvalidInput(detail, field=refused.field)
    return InvalidInput(refused.message, field=refused.field)


def _month_end(period: str) -> date:
    start = period_start(period)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _within_contract(estate: Estate, covered: Sequence[str], cycle: int) -> None:
    """Refuse months past the estate's service contract (DOMAIN.md ledger rule 7: never past the
    contract term), naming the setting and how many months are possible."""
    ends = estate.service_contract_ends_on
    if ends is None or _month_end(covered[-1]) <= ends:
        return
    possible = sum(1 for period in covered if _month_end(period) <= ends)
    possible -= possible % cycle
    setting = f"the estate's service contract ends on {ends.isoformat()} (settings.service_contract_ends_on)"
    if not possible:
        raise InvalidInput(
            f"{setting}; a prepayment starting with {covered[0]} would run past it", field="first_period"
        )
    raise InvalidInput(
        f"{setting}; prepay at most {possible} months from {covered[0]} (to {covered[possible - 1]})",
        field="months",
    )


async def _periods_to_book(
    session: AsyncSession,
    estate: Estate,
    unit: Unit,
    months: int,
    first_period: str | None,
    today: date,
    tiers: Sequence[DiscountTier],
    owner_locale: str | None = None,
) -> list[str]:
    """The billing periods the prepayment would book, or the refusal as a problem-details error
    (``owner_locale``: an owner asks, in this locale)."""
    assert unit.id is not None
    cycle, cap = estate.cycle_months, estate.prepay_cap_months
    current = cycle_period(today, cycle)
    first = first_period or await _first_unbilled(session, unit.id, cycle, current)
    # The prepayment is for the current owner's account: nothing of theirs may be overdue.
    overdue = await _overdue_fen(session, unit.id, await current_owner(session, unit.id, today), today)
    try:
        # The rules (months, cap, nothing overdue) before any work per period.
        quote_prepayment(first, months, 0, tiers, cap, overdue)
    except PrepayRefused as refused:
        locale = owner_locale or estate.locale
        raise _refusal(refused, overdue, locale, owner_locale is not None, estate.money_style) from refused
    if months % cycle:
        raise InvalidInput(
            f"this estate bills every {cycle} months; prepay a multiple of {cycle} months", field="months"
        )
    if not is_cycle_start(period_start(first), cycle):
        raise InvalidInput(
            f"this estate bills every {cycle} months from January; {first} does not start a billing period",
            field="first_period",
        )
    if first < current:
        raise InvalidInput(
            f"a prepayment starts with the current period ({current}) or a later one, not {first}",
            field="first_period",
        )
    covered = periods_from(first, months)
    _within_contract(estate, covered, cycle)
    # The cap limits how far ahead is paid, counting what earlier prepayments booked (杭州 §55: 12 months).
    ahead = _index(covered[-1]) - _index(_month(today))
    if ahead > cap:
        raise InvalidInput(
            f"this estate allows paying at most {cap} months ahead; {first} to {covered[-1]} "
            f"would pay {ahead} months past {_month(today)}",
            field="months",
        )
    periods = list(covered[::cycle])
    billed = await _billed(session, unit.id, periods)
    if billed:
        raise Conflict(
            f"already billed for this unit: {', '.join(billed)}; a prepayment books periods not yet billed",
            field="first_period",
        )
    return periods


def _discounted_lines(
    periods: Sequence[str], rows_by_period: Sequence[list[dict[str, Any]]], quote: PrepayQuote, cycle: int
) -> list[_Line]:
    """Each charge row with its part of the discount: the quote's monthly shares summed per billing
    period, then spread over the period's charges."""
    shares: dict[str, int] = defaultdict(int)
    for k, (_, _, share) in enumerate(quote.per_period):
        shares[periods[k // cycle]] += share
    # A share on a period nothing is charged for (a standard that ended) goes to the last charged one.
    charged = [p for p, rows in zip(periods, rows_by_period, strict=True) if rows]
    for period in periods:
        if period not in charged:
            shares[charged[-1]] += shares.pop(period, 0)
    lines: list[_Line] = []
    for period, rows in zip(periods, rows_by_period, strict=True):
        for row, part in zip(rows, _spread(shares[period], [r["amount_fen"] for r in rows]), strict=True):
            if part > row["amount_fen"]:
                raise InvalidInput("the charges are too small to carry the discount", field="months")
            detail = row["detail"]
            lines.append(
                _Line(
                    period,
                    row["item"],
                    detail["item_name"],
                    row["fee_standard_id"],
                    detail["rate"],
                    row["amount_fen"],
                    part,
                )
            )
    return lines


async def _plan(
    session: AsyncSession,
    estate: Estate,
    unit: Unit,
    months: int,
    first_period: str | None,
    today: date,
    actor: str,
    owner_locale: str | None = None,
) -> _Plan:
    """The quote, with the charge rows it stands for; refusals raise problem-details errors."""
    assert estate.id is not None and unit.id is not None
    tiers = await estate_tiers(session, estate.id)
    periods = await _periods_to_book(session, estate, unit, months, first_period, today, tiers, owner_locale)
    rows_by_period = [
        sorted(await unit_charge_rows(session, estate, unit, p, today, actor), key=lambda r: r["item"]) for p in periods
    ]
    cycle = estate.cycle_months
    amounts: list[int] = []
    for rows in rows_by_period:
        amounts += [0] * (cycle - 1) + [sum(r["amount_fen"] for r in rows)]
    if not sum(amounts):
        raise InvalidInput(
            f"no fee standard charges this unit from {periods[0]} for {months} months; there is nothing to prepay",
            field="first_period",
        )
    # Nothing is overdue by now: _periods_to_book refused that.
    quote = quote_prepayment(periods[0], months, amounts, tiers, estate.prepay_cap_months, 0)
    lines = _discounted_lines(periods, rows_by_period, quote, cycle)
    booked = [row for period_rows in rows_by_period for row in period_rows]
    return _Plan(
        months=months,
        lines=lines,
        rows=booked,
        quote=quote,
        cap_months=estate.prepay_cap_months,
        tiers=list(tiers),
        locale=estate.locale,
    )


def _quote_out(
    unit_id: int, months: int, lines: Sequence[_Line], tier: TierOut | None, cap: int, locale: str
) -> QuoteOut:
    by_period: dict[str, list[_Line]] = {}
    for line in lines:
        by_period.setdefault(line.period, []).append(line)
    periods = [
        QuotePeriod(
            period=period,
            gross_fen=sum(x.gross_fen for x in group),
            discount_fen=sum(x.discount_fen for x in group),
            net_fen=sum(x.net_fen for x in group),
            lines=[
                QuoteLine(x.item, x.item_name, x.fee_standard_id, x.rate, x.gross_fen, x.discount_fen, x.net_fen)
                for x in group
            ],
        )
        for period, group in by_period.items()
    ]
    return QuoteOut(
        unit_id=unit_id,
        months=months,
        first_period=periods[0].period,
        last_period=periods[-1].period,
        periods=periods,
        gross_fen=sum(p.gross_fen for p in periods),
        discount_fen=sum(p.discount_fen for p in periods),
        net_fen=sum(p.net_fen for p in periods),
        tier=tier,
        cap_months=cap,
        refund_terms=refund_terms(locale),
    )


def _plan_out(unit_id: int, plan: _Plan) -> QuoteOut:
    tier = tier_out(plan.quote.tier) if plan.quote.tier else None
    return _quote_out(unit_id, plan.months, plan.lines, tier, plan.cap_months, plan.locale)


async def quote_for_unit(
    session: AsyncSession, actor: Principal, unit_id: int, data: QuoteCreate, today: date
) -> QuoteOut:
    unit, _ = await get_unit(session, unit_id)
    await can_read_unit(session, actor, unit_id)
    if not actor.is_staff and await current_owner(session, unit_id, today) != actor.owner_id:
        raise Forbidden("only the unit's current owner can ask for a prepayment quote")
    estate = await get_estate(session, unit.estate_id)
    owner_locale = None
    if actor.owner_id is not None:
        owner = await session.get(Owner, actor.owner_id)
        owner_locale = (owner.locale if owner is not None else None) or estate.locale
    plan = await _plan(session, estate, unit, data.months, data.first_period, today, actor.label, owner_locale)
    return _plan_out(unit_id, plan)


# ---------------------------------------------------------------------------------------------
# Paying a prepayment


def _fingerprint(unit_id: int, data: PrepaymentCreate) -> str:
    return hashlib.sha256(f"prepayment:{unit_id}:".encode() + msgspec.json.encode(data)).hexdigest()


async def prepayment_out(session: AsyncSession, payment_id: int) -> PrepaymentOut:
    """A prepayment as it was booked, read back from the ledger (first answer and retries alike)."""
    payment = await session.get(Payment, payment_id)
    if payment is None or not payment.designation:
        raise NotFound(f"prepayment {payment_id} does not exist")
    estate = await get_estate(session, payment.estate_id)
    charges = (
        await session.execute(
            select(LedgerEntry)
            .where(col(LedgerEntry.id).in_(payment.designation.get("entry_ids", [])))
            .order_by(col(LedgerEntry.period), col(LedgerEntry.id))
        )
    ).scalars()
    discounts = list(
        (
            await session.execute(
                select(LedgerEntry).where(LedgerEntry.payment_id == payment_id, LedgerEntry.kind == EntryKind.discount)
            )
        ).scalars()
    )
    discount_on = {d.settles_entry_id: -d.amount_fen for d in discounts}
    lines = [
        _Line(
            c.period or "",
            c.item or "",
            (c.detail or {}).get("item_name", c.item or ""),
            c.fee_standard_id,
            (c.detail or {}).get("rate", ""),
            c.amount_fen,
            discount_on.get(c.id, 0),
        )
        for c in charges
    ]
    detail = (discounts[0].detail or {}) if discounts else {}
    tier = TierOut(detail["tier"], detail["percent_off"]) if "tier" in detail else None
    months = len({line.period for line in lines}) * estate.cycle_months
    return PrepaymentOut(
        quote=_quote_out(payment.unit_id, months, lines, tier, estate.prepay_cap_months, estate.locale),
        payment=await payment_out(session, payment_id),
    )


async def _replay(session: AsyncSession, existing: tuple[int, str], fingerprint: str) -> PrepaymentOut:
    payment_id, first_fingerprint = existing
    if first_fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used for a different payment; use a new key for a new payment",
            field="Idempotency-Key",
        )
    return await prepayment_out(session, payment_id)


async def _book_charges(session: AsyncSession, rows: list[dict[str, Any]]) -> list[LedgerEntry]:
    """Insert the charge rows as the billing run does and read them back, in order."""
    await insert_entry_rows(session, rows)
    keys = [row["dedupe_key"] for row in rows]
    found = {
        e.dedupe_key: e
        for e in (await session.execute(select(LedgerEntry).where(col(LedgerEntry.dedupe_key).in_(keys)))).scalars()
    }
    charges = []
    for row in rows:
        charge = found.get(row["dedupe_key"])
        if charge is None or charge.amount_fen != row["amount_fen"] or charge.fee_standard_id != row["fee_standard_id"]:
            # A billing run issued the period between the quote and now, differently: quote again.
            raise Conflict(f"period {row['period']} was billed meanwhile; ask for a new quote", field="first_period")
        charges.append(charge)
    return charges


def _discount_entry(
    charge: LedgerEntry, fen: int, payment_id: int, plan: _Plan, actor: Principal, today: date
) -> dict[str, Any]:
    tier = plan.quote.tier
    assert tier is not None and charge.id is not None
    return {
        "estate_id": charge.estate_id,
        "unit_id": charge.unit_id,
        "owner_id": charge.owner_id,
        "kind": EntryKind.discount,
        "amount_fen": -fen,
        "effective_date": today,
        "period": charge.period,
        "item": charge.item,
        "settles_entry_id": charge.id,
        "payment_id": payment_id,
        "actor": actor.label,
        "detail": {
            "tier": tier.min_months,
            "percent_off": str(tier.percent_off),
            "prepayment_payment_id": payment_id,
            "months": plan.months,
            "tiers": tiers_detail(plan.tiers),
        },
    }


async def record_prepayment(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    data: PrepaymentCreate,
    idempotency_key: str,
    today: date,
) -> tuple[PrepaymentOut, bool]:
    """Book and pay a prepayment; returns it and whether it was new (False: a retry)."""
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    assert unit.id is not None
    fingerprint = _fingerprint(unit_id, data)
    # Under the unit lock: a retry racing its first attempt sees the committed first attempt here.
    existing = await find_payment_by_key(session, idempotency_key)
    if existing is not None:
        return await _replay(session, existing, fingerprint), False
    estate = await get_estate(session, unit.estate_id)
    plan = await _plan(session, estate, unit, data.months, data.first_period, today, actor.label)
    if plan.quote.net_fen != data.expected_net_fen:
        raise Conflict(
            f"the quote is now {plan.quote.net_fen} fen, not {data.expected_net_fen}; confirm the new amount",
            field="expected_net_fen",
        )
    charges = await _book_charges(session, plan.rows)
    periods = sorted({line.period for line in plan.lines})
    # The booked periods are the current owner's; the payment is for their account.
    payer = await current_owner(session, unit.id, today)
    payment: dict[str, Any] = {
        "estate_id": unit.estate_id,
        "unit_id": unit.id,
        "owner_id": payer,
        "payer_name": data.payer_name or "",
        "amount_fen": plan.quote.net_fen,
        "method": data.method,
        "external_ref": data.external_ref,
        "designation": {"entry_ids": [c.id for c in charges], "periods": periods},
        "received_on": today,
        "cashier": actor.label,
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint,
    }
    payment_id = await add_payment(session, payment)
    if payment_id is None:
        existing = await find_payment_by_key(session, idempotency_key)
        assert existing is not None  # the conflict was this key's payment, committed
        return await _replay(session, existing, fingerprint), False
    entries: list[dict[str, Any]] = []
    for line, charge in zip(plan.lines, charges, strict=True):
        if line.discount_fen:
            entries.append(_discount_entry(charge, line.discount_fen, payment_id, plan, actor, today))
        if line.net_fen:
            entries.append(
                payment_entry(payment, payer, EntryKind.payment, line.net_fen, charge.id, charge.period)
                | {"payment_id": payment_id}
            )
    await insert_entries(session, entries)
    quote = plan.quote
    await record_audit(
        session,
        actor,
        "prepayment.record",
        "payment",
        payment_id,
        {
            "unit_id": unit.id,
            "periods": periods,
            "months": plan.months,
            "gross_fen": quote.gross_fen,
            "discount_fen": quote.discount_fen,
            "net_fen": quote.net_fen,
            "tier": msgspec.to_builtins(tier_out(quote.tier)) if quote.tier else None,
            "method": data.method,
        },
    )
    await issue_receipt(session, payment_id, unit.estate_id, today)
    await session.commit()
    return await prepayment_out(session, payment_id), True


def not_reversed(unit_id: int) -> ColumnElement[bool]:
    reversed_ids = select(LedgerEntry.reverses_entry_id).where(
        LedgerEntry.unit_id == unit_id, col(LedgerEntry.reverses_entry_id).is_not(None)
    )
    return col(LedgerEntry.id).not_in(reversed_ids)


async def ledger_entries(session: AsyncSession, *where: Any) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(*where).order_by(col(LedgerEntry.period), col(LedgerEntry.id))
    return list((await session.execute(query)).scalars())
