"""How opening balances reach the ledger (``feesvc.imports.opening``): each checked row as its
charge, streamed while the file is still being checked, and after the stream what stands on those
charges: the source system's late fee, what it received, and the last interruption of limitation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.auth.principal import Principal
from feesvc.billing.rules import due_date
from feesvc.db import utcnow
from feesvc.imports.plan import CHUNK
from feesvc.ledger.limitation import LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entry_rows, insert_entry_rows, stream_entry_rows
from feesvc.registry.models import Estate
from feesvc.schemas import period_start

OPENING_BALANCE = "opening_balance"
OPENING_CREDIT = "opening_credit"
OPENING_LATE_FEE = "opening_late_fee"
OPENING_PAID = "opening_paid"
PAID_IN_SOURCE = "原系统已收 / received in the source system (opening balance)"
INTERRUPTION_SOURCE = "opening balance"  # a limitation event's source: "opening balance: <system>"
BATCH = 5_000  # entries built and handed to the ledger at a time


@lru_cache(maxsize=1 << 12)
def period_first_day(period: str) -> date:
    return period_start(period)


class EntryWriter:
    """A checked row as its ledger entry (for the stream), and what goes in after the stream, on
    the charges it wrote: opening late fees, what the source system received, limitation events."""

    def __init__(self, estate: Estate, actor: Principal) -> None:
        self.due_day = estate.due_day
        self.base: dict[str, Any] = {
            **entry_rows([{"kind": EntryKind.charge, "amount_fen": 1, "reason": None}])[0],
            "estate_id": estate.id,
            "kind": EntryKind.charge,
            "period_months": 1,
            "actor": actor.label,
        }
        self.details: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.dues: dict[str, tuple[date, date]] = {}
        self.late_fees: dict[str, dict[str, Any]] = {}  # charge's dedupe key → its opening late fee
        self.paid: dict[str, dict[str, Any]] = {}  # charge's dedupe key → what the source system received
        self.events: list[dict[str, Any]] = []

    def _detail(self, source: str, late: int, as_of: date | None, paid: int) -> dict[str, Any]:
        key = (source, late, as_of, paid)
        found = self.details.get(key)
        if found is None:
            found = {"basis": OPENING_BALANCE, "source": source}
            if as_of is not None:
                found["as_of"] = as_of.isoformat()
            if late:
                found["late_fee_fen"] = late
            if paid:
                found["paid_fen"] = paid
            self.details[key] = found
        return found

    def entry(self, record: tuple[Any, ...], key: str) -> dict[str, Any]:
        unit, owner, period, item, fen, late, as_of, interruption, source, charged, due = record
        days = self.dues.get(period)
        if days is None:
            first = period_first_day(period)
            days = self.dues[period] = (first, due_date(first, self.due_day))
        common = {"unit_id": unit, "owner_id": owner, "period": period, "item": item}
        if charged != fen:
            self.paid[key] = {
                **common,
                "kind": EntryKind.adjustment,
                "amount_fen": fen - charged,
                "effective_date": as_of or days[0],
                "reason": PAID_IN_SOURCE,
                "detail": {"basis": OPENING_PAID, "source": source},
            }
        if late:
            self.late_fees[key] = {
                **common,
                "kind": EntryKind.late_fee,
                "amount_fen": late,
                "effective_date": as_of,
                "reason": None,
                "detail": {"basis": OPENING_LATE_FEE, "as_of": as_of.isoformat() if as_of else None},
            }
        if interruption is not None:
            self.events.append(
                {
                    "unit_id": unit,
                    "owner_id": owner,
                    "period": period,
                    "kind": interruption[1],
                    "occurred_on": interruption[0],
                    "source": f"{INTERRUPTION_SOURCE}: {source}"[:200],
                    "actor": self.base["actor"],
                }
            )
        return {
            **self.base,
            **common,
            "amount_fen": charged,
            "effective_date": days[0],
            "due_date": due or days[1],
            "dedupe_key": key,
            "detail": self._detail(source, late, as_of, charged - fen),
        }

    async def after(self, session: AsyncSession, actor: Principal) -> None:
        extra = {"estate_id": self.base["estate_id"], "actor": self.base["actor"]}
        await _insert_on_charges(session, self.late_fees, self.paid, extra)
        await _insert_events(session, self.events)


class EntryStream:
    """Entries handed to the ledger while the file is still being checked: one COPY on PostgreSQL
    (``stream_entry_rows(in_transaction=True)``), batches of INSERTs on SQLite, in the import's
    transaction. A problem found later stops the stream and the import rolls everything back."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(4)
        self.batch: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    async def add(self, row: dict[str, Any]) -> None:
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            await self._put(self.batch)
            self.batch = []

    async def _batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        while (batch := await self.queue.get()) is not None:
            yield batch

    async def _put(self, item: list[dict[str, Any]] | None) -> None:
        if self.task is None:
            self.task = asyncio.create_task(stream_entry_rows(self.session, self._batches(), in_transaction=True))
        if self.task.done():
            return  # it failed: the rows found why (a duplicate) or close() says it
        put = asyncio.ensure_future(self.queue.put(item))
        await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        put.cancel()

    async def close(self, failed: bool) -> None:
        if self.batch and not failed:
            await self._put(self.batch)
        if self.task is None:
            return
        await self._put(None)
        try:
            await self.task
        except Exception:
            if not failed:
                raise


async def _insert_on_charges(
    session: AsyncSession, late_fees: dict[str, dict[str, Any]], paid: dict[str, dict[str, Any]], extra: dict[str, Any]
) -> None:
    """The opening late fees (on their charges) and what the source system received (settling
    them), each on the charge just written, found by its dedupe key."""
    wanted = sorted(late_fees.keys() | paid.keys())
    full = []
    for start in range(0, len(wanted), CHUNK):
        query = select(col(LedgerEntry.dedupe_key), col(LedgerEntry.id)).where(
            col(LedgerEntry.dedupe_key).in_(wanted[start : start + CHUNK])
        )
        for key, charge_id in (await session.execute(query)).all():
            if key in late_fees:
                full.append(
                    {
                        **late_fees[key],
                        **extra,
                        "basis_entry_id": charge_id,
                        "dedupe_key": f"{OPENING_LATE_FEE}:{charge_id}",
                    }
                )
            if key in paid:
                full.append(
                    {**paid[key], **extra, "settles_entry_id": charge_id, "dedupe_key": f"{OPENING_PAID}:{charge_id}"}
                )
    await insert_entry_rows(session, entry_rows(full))


async def _insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """The last interruption of each period the file names, unless the same event is on record."""
    if not rows:
        return
    unit_ids = sorted({r["unit_id"] for r in rows})
    known: set[tuple[Any, ...]] = set()
    for start in range(0, len(unit_ids), CHUNK):
        query = select(
            col(LimitationEvent.unit_id),
            col(LimitationEvent.owner_id),
            col(LimitationEvent.period),
            col(LimitationEvent.kind),
            col(LimitationEvent.occurred_on),
        ).where(col(LimitationEvent.unit_id).in_(unit_ids[start : start + CHUNK]))
        known.update(tuple(r) for r in (await session.execute(query)).all())
    new = [r for r in rows if (r["unit_id"], r["owner_id"], r["period"], r["kind"], r["occurred_on"]) not in known]
    table = LimitationEvent.__table__  # type: ignore[attr-defined]
    now = utcnow()
    for start in range(0, len(new), BATCH):
        await session.execute(insert(table), [{**r, "created_at": now} for r in new[start : start + BATCH]])
