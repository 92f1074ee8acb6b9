"""The limitation watch per owner: each account's open periods, the interruptions recorded for them
(events and part payments) and the interrupting letters in flight, read set-based per estate; the
reminder run asks ``notice_needs`` which accounts must get an interrupting letter, managers read
``limitation_watch``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.errors import InvalidInput
from feesvc.evidence.limitation import LIMITATION_YEARS, Interruption
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.letters.models import DeliveryRecord, Letter
from feesvc.limitation.models import Acknowledgement
from feesvc.limitation.rules import (
    INTERRUPTING_KINDS,
    MAX_WITHIN_DAYS,
    NOTICE_IN_FLIGHT_DAYS,
    NOTICE_WITHIN_DAYS,
    OpenPeriod,
    WatchedPeriod,
    needing_notice,
    watch_account,
)
from feesvc.limitation.schemas import AccountWatchOut, InterruptionOut, LimitationWatchOut, WatchedPeriodOut
from feesvc.registry.models import Building, Owner, Ownership, Unit
from feesvc.registry.service import get_estate, ownership_covering

Account = tuple[int, int]  # (unit id, owner id)
UNIT_BATCH = 10_000  # unit ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766


def _due_by(as_of: date, within_days: int) -> date:
    """The latest due date whose clock can end by ``as_of + within_days``: a clock starts at the due
    date or later, so a period due after this cannot be listed. Two days' slack for Feb 29."""
    return as_of + timedelta(days=within_days + 2) - relativedelta(years=LIMITATION_YEARS)


async def _open_periods(
    session: AsyncSession, estate_id: int, as_of: date, due_by: date
) -> dict[Account, list[OpenPeriod]]:
    """Every account's periods due by ``due_by`` with something open (principal or late fee), by the
    owner each entry carries; entries written before entries carried their owner are the unit's
    current owner's. Only old debts are read: a large estate's run reads a few rows, not its ledger."""
    settling = aliased(LedgerEntry)
    # Per candidate entry (an old debt), not an aggregate over the estate's ledger.
    settled = (
        select_columns(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id)
        .scalar_subquery()
    )
    charge = aliased(LedgerEntry)
    open_fen = LedgerEntry.amount_fen + settled
    rows = await session.execute(
        select_columns(
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            func.coalesce(LedgerEntry.period, charge.period),
            col(LedgerEntry.kind),
            open_fen,
            func.coalesce(charge.due_date, LedgerEntry.due_date),
        )
        .outerjoin(charge, col(charge.id) == LedgerEntry.basis_entry_id)
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind).in_(DEBIT_KINDS),
            # The period bounds the index range (estate, kind, period): no period falls due more than
            # a year before it starts (billing in advance); the due date then decides exactly.
            or_(
                col(LedgerEntry.period) <= f"{due_by + relativedelta(years=1):%Y-%m}", col(LedgerEntry.period).is_(None)
            ),
            func.coalesce(charge.due_date, LedgerEntry.due_date) <= due_by,
            open_fen > 0,
        )
    )
    found = rows.all()
    orphans = sorted({unit_id for unit_id, owner_id, *_ in found if owner_id is None})
    current: dict[int, int] = {}
    if orphans:
        owners = await session.execute(
            select(Ownership.unit_id, Ownership.owner_id).where(
                col(Ownership.unit_id).in_(orphans), ownership_covering(as_of)
            )
        )
        current = dict(owners.all())
    sums: dict[Account, dict[str, list[Any]]] = defaultdict(dict)
    for unit_id, owner_id, period, kind, fen, due in found:
        owner = owner_id if owner_id is not None else current.get(unit_id)
        if owner is None or period is None or due is None:
            continue
        slot = sums[(unit_id, owner)].setdefault(period, [due, 0, 0])
        slot[0] = min(slot[0], due)
        slot[1 if kind == EntryKind.charge else 2] += int(fen)
    return {
        account: [OpenPeriod(p, due, principal, late) for p, (due, principal, late) in sorted(periods.items())]
        for account, periods in sums.items()
    }


async def recorded_interruptions(
    session: AsyncSession, unit_ids: Sequence[int], as_of: date
) -> dict[Account, dict[str, list[Interruption]]]:
    """The recorded interruptions (events) and part payments of the units' owners, per period, up
    to ``as_of``."""
    found: dict[Account, dict[str, list[Interruption]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(unit_ids), UNIT_BATCH):  # databases cap the parameters of one query
        batch = list(unit_ids[start : start + UNIT_BATCH])
        events = await session.execute(
            select(LimitationEvent).where(
                col(LimitationEvent.unit_id).in_(batch), col(LimitationEvent.occurred_on) <= as_of
            )
        )
        for event in events.scalars():
            if event.owner_id is not None:
                found[(event.unit_id, event.owner_id)][event.period].append(
                    Interruption(InterruptionKind(event.kind), event.occurred_on, event.source)
                )
        # A part payment acknowledges the debt of the period it paid towards (诉讼时效规定 §14).
        debit, reversal = aliased(LedgerEntry), aliased(LedgerEntry)
        payments = await session.execute(
            select_columns(
                col(debit.unit_id),
                col(debit.owner_id),
                col(debit.period),
                col(LedgerEntry.effective_date),
                func.min(LedgerEntry.payment_id),
            )
            .join(debit, col(debit.id) == LedgerEntry.settles_entry_id)
            .where(
                col(LedgerEntry.unit_id).in_(batch),
                col(LedgerEntry.kind) == EntryKind.payment,
                col(LedgerEntry.effective_date) <= as_of,
                ~select_columns(col(reversal.id)).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists(),
            )
            .group_by(col(debit.unit_id), col(debit.owner_id), col(debit.period), col(LedgerEntry.effective_date))
        )
        for unit_id, owner_id, period, day, payment_id in payments.all():
            if owner_id is not None and period is not None:
                found[(unit_id, owner_id)][period].append(
                    Interruption(InterruptionKind.part_payment, day, f"payment #{payment_id}")
                )
    return found


async def _notices(
    session: AsyncSession, estate_id: int, as_of: date
) -> dict[Account, list[tuple[date, str, list[str]]]]:
    """Interrupting letters of the last ``NOTICE_IN_FLIGHT_DAYS`` days: (issued on, number, periods)."""
    rows = await session.execute(
        select_columns(
            col(Letter.unit_id), col(Letter.owner_id), col(Letter.issued_on), col(Letter.letter_no), col(Letter.periods)
        ).where(
            col(Letter.estate_id) == estate_id,
            col(Letter.kind).in_([k.value for k in INTERRUPTING_KINDS]),
            col(Letter.issued_on) > as_of - timedelta(days=NOTICE_IN_FLIGHT_DAYS),
            col(Letter.issued_on) <= as_of,
        )
    )
    found: dict[Account, list[tuple[date, str, list[str]]]] = defaultdict(list)
    for unit_id, owner_id, issued_on, number, periods in rows.all():
        if owner_id is not None:
            found[(unit_id, owner_id)].append((issued_on, number, list(periods)))
    return found


async def notice_needs(session: AsyncSession, estate_id: int, as_of: date) -> dict[Account, list[WatchedPeriod]]:
    """The accounts with periods expiring within ``NOTICE_WITHIN_DAYS`` that no interrupting letter
    in flight names: each must get one from this reminder run (``letters.runs``)."""
    periods = await _open_periods(session, estate_id, as_of, _due_by(as_of, NOTICE_WITHIN_DAYS))
    if not periods:
        return {}
    interruptions = await recorded_interruptions(session, sorted({unit_id for unit_id, _ in periods}), as_of)
    notices = await _notices(session, estate_id, as_of)
    needs: dict[Account, list[WatchedPeriod]] = {}
    for account, open_periods in periods.items():
        watch = watch_account(open_periods, interruptions.get(account, {}), as_of, NOTICE_WITHIN_DAYS)
        sent = [(issued_on, named) for issued_on, _, named in notices.get(account, [])]
        need = needing_notice(watch.expiring, sent, as_of)
        if need:
            needs[account] = need
    return needs


async def _proof_of(session: AsyncSession, account: Account, interruption: Interruption) -> str:
    """What proves an interruption, from its record: the delivery, the signed copy, the filing."""
    source = interruption.source
    if source.startswith("letter "):
        number = source[len("letter ") :]
        row = (
            await session.execute(
                select(DeliveryRecord)
                .join(Letter, col(Letter.id) == DeliveryRecord.letter_id)
                .where(Letter.letter_no == number, DeliveryRecord.delivered_on == interruption.on)
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            return ""
        parts = [row.channel.value, row.tracking_no, row.signer, f"sha256 {row.proof_sha256}"]
        return " ".join(p for p in parts if p)
    if source.startswith("acknowledgement #") or source.startswith("installment plan #"):
        if source.startswith("acknowledgement #"):
            query = select(Acknowledgement).where(Acknowledgement.id == int(source.split("#")[1].split()[0]))
        else:
            plan_id = int(source.split("#")[1].split()[0])
            query = select(Acknowledgement).where(Acknowledgement.plan_id == plan_id)
        ack = (await session.execute(query.limit(1))).scalar_one_or_none()
        return f"signed copy sha256 {ack.proof_sha256}" if ack is not None else "signed copy not on file"
    if source.startswith("legal filing #"):
        return source[len("legal filing #") :].split(" ", 2)[-1]
    return source


def _bounded(within_days: int) -> int:
    if not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise InvalidInput(f"within_days is a number of days from 0 to {MAX_WITHIN_DAYS}", field="within_days")
    return within_days


async def limitation_watch(
    session: AsyncSession, estate_id: int, as_of: date, within_days: int = NOTICE_WITHIN_DAYS
) -> LimitationWatchOut:
    """Each owner's periods expiring from ``as_of`` to ``as_of + within_days``, with their last
    interruption and what proves it; the account's expired periods are named apart."""
    _bounded(within_days)
    await get_estate(session, estate_id, field="estate_id")
    periods = await _open_periods(session, estate_id, as_of, _due_by(as_of, within_days))
    interruptions = await recorded_interruptions(session, sorted({unit_id for unit_id, _ in periods}), as_of)
    notices = await _notices(session, estate_id, as_of)
    watches = {
        account: watch_account(open_periods, interruptions.get(account, {}), as_of, within_days)
        for account, open_periods in periods.items()
    }
    watches = {account: w for account, w in watches.items() if w.expiring}
    if not watches:
        return LimitationWatchOut(estate_id, as_of, within_days, [])
    unit_ids = sorted({unit_id for unit_id, _ in watches})
    unit_rows = await session.execute(
        select_columns(col(Unit.id), col(Building.name), col(Unit.number))
        .join(Building, col(Building.id) == Unit.building_id)
        .where(col(Unit.id).in_(unit_ids))
    )
    labels: dict[int | None, str] = {unit_id: f"{building} {number}" for unit_id, building, number in unit_rows.all()}
    owners = await session.execute(
        select(Ownership, Owner)
        .join(Owner, col(Owner.id) == Ownership.owner_id)
        .where(col(Ownership.unit_id).in_(unit_ids))
    )
    names: dict[int, str] = {}
    current: set[Account] = set()
    for ownership, owner in owners.all():
        assert owner.id is not None
        names[owner.id] = owner.name
        if ownership.ends_on is None or ownership.ends_on >= as_of:
            current.add((ownership.unit_id, owner.id))
    accounts = []
    for account in sorted(watches, key=lambda a: (watches[a].expiring[0].limitation.expires_on, a)):
        watch = watches[account]
        rows = []
        for w in watch.expiring:
            last = w.limitation.last_interruption
            in_flight = [n for issued, n, named in notices.get(account, []) if w.period.period in named]
            rows.append(
                WatchedPeriodOut(
                    period=w.period.period,
                    due_date=w.period.due,
                    principal_fen=w.period.principal_fen,
                    late_fee_fen=w.period.late_fee_fen,
                    clock_start=w.limitation.clock_start,
                    expires_on=w.limitation.expires_on,
                    days_left=w.limitation.days_left,
                    last_interruption=None
                    if last is None
                    else InterruptionOut(
                        last.kind.value, last.on, last.source, await _proof_of(session, account, last)
                    ),
                    notice_in_flight=in_flight[-1] if in_flight else None,
                )
            )
        accounts.append(
            AccountWatchOut(
                unit_id=account[0],
                unit_label=labels.get(account[0], ""),
                owner_id=account[1],
                owner_name=names.get(account[1], ""),
                current_owner=account in current,
                periods=rows,
                expired_periods=[w.period.period for w in watch.expired],
            )
        )
    return LimitationWatchOut(estate_id, as_of, within_days, accounts)
