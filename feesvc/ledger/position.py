"""Units' positions (feesvc.rules.position), kept in the transaction of every ledger write.

Every way of appending entries in ``ledger.service`` notes the units it wrote on the session
(:func:`note_written`); when that session commits, the positions of those units are recomputed
from their ledgers in the same transaction, just before the commit (:func:`_refresh_before_commit`):
whichever writer it was (billing, late fees and their corrections, waivers, voids, refunds, credit,
plans, prepayments, sales, imports), the stored position is what the ledger says. The desk's
payment on PostgreSQL writes without a session, in one statement: it sets the position it computed
from the open debits it read (``payments.recording``), which its ``ledger_version`` check makes
safe, since every refresh here raises the version too.

Bulk runs (billing, late fees) append mostly entries that only add an open debt: a charge, or a
late fee carrying its charge's due date, settling nothing. Those move a position by themselves
(the balance by their amount, the earliest open due date to theirs if earlier: :func:`note_rows`),
so a run over 100,000 units does not recompute 100,000 ledgers; any other entry has its unit
recomputed. Both happen just before the commit, the units locked first.

A refresh first locks its units in id order and raises their ``ledger_version`` (as
``ledger.service.lock_units``), then recomputes them in a second statement: on PostgreSQL that
statement's snapshot is taken with the locks held, so it sees every write committed before them.

One gap, by design of the late-fee run: on PostgreSQL its entries are streamed by COPY on
connections of their own, committed just before the run's session commits (``stream_entry_rows``);
if the process dies between the two, those units' positions lag their ledgers until the next write
on them. ``feesvc ledger check-positions --repair`` finds and mends such units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, event, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.registry.models import Unit

_UNIT = Unit.__table__  # type: ignore[attr-defined]
_ENTRY = LedgerEntry.__table__  # type: ignore[attr-defined]
_PENDING = "ledger_position_units"  # units whose positions are recomputed from their ledgers
_ADDED = "ledger_position_added"  # unit -> (fen added, earliest due) of entries that only add open debts
BATCH = 5_000  # units per statement: databases cap the parameters of one query


def note_written(session: AsyncSession | Session, unit_ids: Iterable[int]) -> None:
    """Entries of these units were appended in the session's transaction: their positions are
    recomputed before it commits."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, set()).update(unit_ids)


def note_rows(session: AsyncSession, rows: Iterable[Mapping[Any, Any]]) -> None:
    """Entries (column dicts) appended in the session's transaction: one that only adds an open
    debt moves its unit's position by itself before the commit; any other has the unit recomputed.
    Only rows the database took: a row skipped as already posted must not be counted."""
    sync = session.sync_session
    added: dict[int, tuple[int, date]] = sync.info.setdefault(_ADDED, {})
    pending: set[int] = sync.info.setdefault(_PENDING, set())
    charge, late_fee = EntryKind.charge, EntryKind.late_fee
    for row in rows:
        unit, kind, fen = row["unit_id"], row["kind"], row["amount_fen"]
        due = row.get("due_date")
        if kind == charge:
            due = due or row["effective_date"]
        elif kind != late_fee:
            due = None
        if due is None or fen <= 0 or row.get("settles_entry_id") is not None:
            pending.add(unit)
            continue
        before = added.get(unit)
        added[unit] = (fen, due) if before is None else (before[0] + fen, min(before[1], due))


@event.listens_for(Session, "after_soft_rollback")
def _recompute_after_rollback(session: Session, previous_transaction: Any) -> None:
    # A rollback (of the transaction, or of a savepoint: a run's unit left out) may have undone
    # entries noted as added: their units are recomputed instead, which is right whatever stayed.
    added = session.info.pop(_ADDED, None)
    if added:
        session.info.setdefault(_PENDING, set()).update(added)


@event.listens_for(Session, "before_commit")
def _refresh_before_commit(session: Session) -> None:
    # Runs inside the AsyncSession's greenlet, so the sync session can execute. Units noted by a
    # transaction that was rolled back are recomputed at the session's next commit: harmless.
    pending: set[int] = session.info.pop(_PENDING, None) or set()
    added: dict[int, tuple[int, date]] = session.info.pop(_ADDED, None) or {}
    if not pending and not added:
        return
    session.flush()  # entities appended but not yet flushed (the session does not autoflush)
    postgres = session.get_bind().dialect.name == "postgresql"
    ids = sorted(pending | added.keys())
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        session.execute(_LOCK[postgres], {"ids": batch})
        recompute = [unit for unit in batch if unit in pending]  # a recomputation covers what was added
        if recompute:
            session.execute(_RECOMPUTE, {"ids": recompute})
        moves = [
            {"unit": unit, "fen": added[unit][0], "due": added[unit][1]}
            for unit in batch
            if unit in added and unit not in pending
        ]
        if moves:
            session.execute(_ADD_DEBTS, moves)


async def refresh_positions(session: AsyncSession, unit_ids: Sequence[int]) -> None:
    """Recompute these units' positions from their ledgers now, in the session's transaction."""
    postgres = session.get_bind().dialect.name == "postgresql"
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), BATCH):
        params = {"ids": ids[start : start + BATCH]}
        await session.execute(_LOCK[postgres], params)
        await session.execute(_RECOMPUTE, params)


def recomputed_balance(unit_id: ColumnElement[int]) -> ColumnElement[int]:
    entry = _ENTRY.alias("position_entry")
    return select(func.coalesce(func.sum(entry.c.amount_fen), 0)).where(entry.c.unit_id == unit_id).scalar_subquery()


def recomputed_earliest_open_due(unit_id: ColumnElement[int]) -> ColumnElement[date]:
    """The earliest due date of the unit's open debits (feesvc.rules.position), from its ledger."""
    debit = _ENTRY.alias("position_debit")
    charge = _ENTRY.alias("position_charge")  # a late fee's; none for a charge, its own debt
    settling = _ENTRY.alias("position_settling")
    settled = (
        select(func.coalesce(func.sum(settling.c.amount_fen), 0))
        .where(settling.c.settles_entry_id == debit.c.id)
        .scalar_subquery()
    )
    due = case(
        (debit.c.kind == literal(EntryKind.late_fee.value), func.coalesce(charge.c.due_date, charge.c.effective_date)),
        else_=func.coalesce(debit.c.due_date, debit.c.effective_date),
    )
    late_fee_charge = and_(debit.c.kind == literal(EntryKind.late_fee.value), charge.c.id == debit.c.basis_entry_id)
    return (
        select(func.min(due))
        .select_from(debit.outerjoin(charge, late_fee_charge))
        .where(
            debit.c.unit_id == unit_id,
            debit.c.kind.in_([literal(kind.value) for kind in sorted(DEBIT_KINDS)]),
            debit.c.amount_fen + settled != 0,
        )
        .scalar_subquery()
    )


def _lock(postgres: bool) -> Any:
    locked = select(_UNIT.c.id).where(_UNIT.c.id.in_(bindparam("ids", expanding=True))).order_by(_UNIT.c.id)
    if postgres:
        locked = locked.with_for_update()
    return (
        update(_UNIT).where(_UNIT.c.id.in_(locked.scalar_subquery())).values(ledger_version=_UNIT.c.ledger_version + 1)
    )


_LOCK = {postgres: _lock(postgres) for postgres in (False, True)}
_DUE = bindparam("due", type_=_UNIT.c.earliest_open_due.type)
_ADD_DEBTS = (
    update(_UNIT)
    .where(_UNIT.c.id == bindparam("unit", type_=_UNIT.c.id.type))
    .values(
        balance_fen=_UNIT.c.balance_fen + bindparam("fen", type_=_UNIT.c.balance_fen.type),
        earliest_open_due=case(
            (or_(_UNIT.c.earliest_open_due.is_(None), _UNIT.c.earliest_open_due > _DUE), _DUE),
            else_=_UNIT.c.earliest_open_due,
        ),
    )
)
_RECOMPUTE = (
    update(_UNIT)
    .where(_UNIT.c.id.in_(bindparam("ids", expanding=True)))
    .values(balance_fen=recomputed_balance(_UNIT.c.id), earliest_open_due=recomputed_earliest_open_due(_UNIT.c.id))
)


@dataclass(frozen=True)
class Disagreement:
    """A unit whose stored position is not what its ledger gives."""

    unit_id: int
    stored_balance_fen: int
    ledger_balance_fen: int
    stored_earliest_open_due: date | None
    ledger_earliest_open_due: date | None


async def disagreements(session: AsyncSession, estate_id: int | None = None) -> list[Disagreement]:
    """The units (of one estate, or all) whose stored position differs from a recomputation."""
    balance = recomputed_balance(_UNIT.c.id)
    earliest = recomputed_earliest_open_due(_UNIT.c.id)
    recomputed = select(
        _UNIT.c.id,
        _UNIT.c.balance_fen,
        balance.label("ledger_balance"),
        _UNIT.c.earliest_open_due,
        earliest.label("ledger_earliest"),
    )
    if estate_id is not None:
        recomputed = recomputed.where(_UNIT.c.estate_id == estate_id)
    rows = recomputed.subquery("recomputed")
    query = (
        select(rows)
        .where(
            or_(
                rows.c.balance_fen != rows.c.ledger_balance,
                rows.c.earliest_open_due.is_distinct_from(rows.c.ledger_earliest),
            )
        )
        .order_by(rows.c.id)
    )
    return [Disagreement(*row) for row in (await session.execute(query)).all()]
