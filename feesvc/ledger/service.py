"""Reading and appending to the unit ledger. Nothing here updates or deletes an entry.

Entries are appended in one of four ways, by how many and from where, all checked alike:
``append`` (entities, when the caller needs them back), ``insert_entries`` (a request's few rows,
no unit of work), ``insert_entry_rows`` (a run's rows, each with a dedupe key, skipping those
already posted) and ``stream_entry_rows`` (an estate-sized run's rows, as they are computed).
Each notes what it wrote, so that the units' positions are brought up to date before the
transaction commits (``ledger.position``).
"""

from __future__ import annotations

import asyncio
import itertools
import operator
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Select, Subquery, bindparam, case, func, insert, literal, text, update
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.db import is_postgres, utcnow
from feesvc.ledger.allocation import Allocation, OpenDebit, allocate
from feesvc.ledger.models import DEBIT_KINDS, KINDS_NEEDING_REASON, EntryKind, LedgerEntry
from feesvc.ledger.position import note_rows, note_written
from feesvc.registry.models import AllocationOrder, Unit


class LedgerError(ValueError):
    pass


def check_entry(entry: LedgerEntry) -> None:
    _check(entry.kind, entry.amount_fen, entry.reason)


def _check(kind: EntryKind, amount_fen: int, reason: str | None) -> None:
    if amount_fen == 0:
        raise LedgerError("a ledger entry moves a non-zero amount")
    if kind in KINDS_NEEDING_REASON and not (reason or "").strip():
        raise LedgerError(f"a {kind} entry needs a reason")


def append(session: AsyncSession, entries: Sequence[LedgerEntry]) -> None:
    """Add entries to the caller's transaction."""
    for entry in entries:
        check_entry(entry)
    session.add_all(entries)
    note_written(session, {entry.unit_id for entry in entries})


async def insert_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append entries given as column dicts in one statement, checked as ``append`` checks them.

    The desk's write path: no entities and no unit of work, which were most of a payment's cost.
    """
    full = entry_rows(rows)
    if full:
        await session.execute(_INSERT_ENTRY, full)
        note_written(session, {row["unit_id"] for row in full})


def entry_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries given as column dicts, checked and completed for an INSERT: columns a row leaves out
    are NULL, as on an entity."""
    now = utcnow()
    full = [{**_NULL_COLUMNS, "created_at": now, **row} for row in rows]
    for row in full:
        _check(row["kind"], row["amount_fen"], row["reason"])
    return full


_INSERT_ENTRY = insert(LedgerEntry.__table__)  # type: ignore[attr-defined]
_NULL_COLUMNS: dict[str, Any] = {
    c.name: None for c in LedgerEntry.__table__.columns if c.nullable and not c.primary_key  # type: ignore[attr-defined]
}


INSERT_BATCH = 5_000
CREDIT_BATCH = 5_000


async def insert_entry_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk-append entries given as column dicts (runs over whole estates).

    Each row carries a ``dedupe_key`` (a late fee: the charge it accrued on); a row already posted
    (its dedupe key, or a late fee's charge and date) is skipped, which is what makes billing runs
    and prepayments safe to repeat, even when two of them race.
    """
    if not rows:
        return
    for row in rows:
        _check_row(row)
    dialect = postgresql if is_postgres(session) else sqlite
    table = LedgerEntry.__table__  # type: ignore[attr-defined]
    # What each row the database took does to its unit's position (ledger.position.note_rows).
    statement = dialect.insert(table).on_conflict_do_nothing().returning(*(table.c[n] for n in _POSITION_COLUMNS))
    for start in range(0, len(rows), INSERT_BATCH):
        taken = await session.execute(statement, rows[start : start + INSERT_BATCH])
        note_rows(session, taken.mappings())


_POSITION_COLUMNS = ("unit_id", "kind", "amount_fen", "effective_date", "due_date", "settles_entry_id")


def _check_row(row: dict[str, Any]) -> None:
    _check(row["kind"], row["amount_fen"], row.get("reason"))
    if row["kind"] == EntryKind.late_fee:
        if row.get("basis_entry_id") is None:
            raise LedgerError("a late fee names the charge it accrued on")  # unique per charge and date
    elif not row.get("dedupe_key"):
        raise LedgerError("bulk-appended entries need a dedupe key")


# Rows handed from the run to a COPY stream at a time, and COPY streams on PostgreSQL.
STREAM_CHUNK = 2_000
COPY_STREAMS = 2


async def stream_entry_rows(
    session: AsyncSession, batches: AsyncIterable[Iterable[dict[str, Any]]], *, in_transaction: bool = False
) -> None:
    """Bulk-append entries as a run produces them, batch by batch, without holding them all.

    Only for runs serialised per estate by their caller, so that no other run posts the same
    entries meanwhile. On SQLite the rows go in by batches of INSERTs in the session's transaction.

    On PostgreSQL they go in by COPY, a fraction of the cost of INSERTs at millions of rows, on
    :data:`COPY_STREAMS` connections of their own, which take whole batches in turn: one server
    process writing indexes for millions of rows is the run's bottleneck, and a second one uses the
    server's second core. The session's own connection stays free, so the run can go on reading
    its source there (a page at a time) while the streams write. Each stream is a transaction of
    its own, committed here, just before the caller commits: a run that fails after this returns
    may leave its entries posted, so the caller's run must be idempotent (a rerun posts the rest).
    On both databases an entry already posted (a dedupe key, or a late fee for the same charge and
    date) fails the run with an IntegrityError (COPY cannot skip a conflict): the unique indexes
    stay the last line of defence. A row handed over is not changed afterwards.

    ``in_transaction``: one COPY on the session's own connection, in the caller's transaction (an
    import, which writes all of a file or nothing), instead of the streams of their own.
    """
    table = LedgerEntry.__table__  # type: ignore[attr-defined]
    if not is_postgres(session):
        async for rows in batches:
            batch = list(rows)
            for row in batch:
                _check_row(row)
            note_rows(session, batch)
            for start in range(0, len(batch), INSERT_BATCH):
                await session.execute(insert(table), batch[start : start + INSERT_BATCH])
        return
    connection = await session.connection()
    columns = [column for column in table.columns if column.name != "id"]
    dialect = connection.dialect
    # The values as an INSERT would send them (enums as text, JSON serialised, UTC timestamps).
    names = [column.name for column in columns]
    values_of = operator.itemgetter(*names)
    processed = [
        (index, process)
        for index, column in enumerate(columns)
        if (process := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]

    # A run's rows share most of their processed values (the kind, the timestamp, many details):
    # each column keeps its last value and what it became, and reuses it for the same object.
    last_in: list[object] = [object() for _ in processed]
    last_out: list[Any] = [None for _ in processed]

    def record(row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(values_of(row))
        for slot, (index, process) in enumerate(processed):
            value = values[index]
            if value is not last_in[slot]:
                last_in[slot] = value
                last_out[slot] = process(value)
            values[index] = last_out[slot]
        return tuple(values)

    if in_transaction:

        async def own_records() -> AsyncIterator[tuple[Any, ...]]:
            async for rows in batches:
                batch = list(rows)
                note_rows(session, batch)
                for row in batch:
                    _check_row(row)
                    yield record(row)

        await copy_records(connection, table.name, names, own_records())
        return

    queues: list[asyncio.Queue[list[tuple[Any, ...]] | None]] = [asyncio.Queue(4) for _ in range(COPY_STREAMS)]

    async def produce() -> None:
        # Batches take turns: each stream writes whole batches, so the two server processes insert
        # into different parts of the indexes instead of contending for the same pages.
        turns = itertools.cycle(queues)
        async for rows in batches:
            queue = next(turns)
            chunk: list[tuple[Any, ...]] = []
            batch = list(rows)
            note_rows(session, batch)
            for row in batch:
                _check_row(row)
                chunk.append(record(row))
                if len(chunk) == STREAM_CHUNK:
                    await queue.put(chunk)
                    chunk = []
            if chunk:
                await queue.put(chunk)
        for queue in queues:
            await queue.put(None)

    async def copy(target: AsyncConnection, queue: asyncio.Queue[list[tuple[Any, ...]] | None]) -> None:
        async def records() -> AsyncIterator[tuple[Any, ...]]:
            while (chunk := await queue.get()) is not None:
                for values in chunk:
                    yield values

        await copy_records(target, table.name, names, records())

    async with AsyncExitStack() as stack:
        targets = []
        for _ in range(COPY_STREAMS):
            target = await stack.enter_async_context(connection.engine.connect())
            await target.begin()
            targets.append(target)
        try:
            async with asyncio.TaskGroup() as streams:
                streams.create_task(produce())
                for target, queue in zip(targets, queues, strict=True):
                    streams.create_task(copy(target, queue))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first failure; the rest are its cancellations
        for target in targets:
            await target.commit()


async def copy_records(
    target: AsyncConnection,
    table: str,
    names: list[str],
    records: AsyncIterator[tuple[Any, ...]] | Iterable[tuple[Any, ...]],
) -> None:
    """COPY ``records`` (values as the driver takes them) into ``table`` on ``target``'s
    connection, in its transaction (PostgreSQL)."""
    # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement, not at begin(): without
    # one, a COPY straight through the driver would commit on its own.
    await target.execute(text("SELECT 1"))
    raw = await target.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        await driver.copy_records_to_table(table, records=records, columns=names)
    except asyncpg.IntegrityConstraintViolationError as error:
        # The driver's own error, bypassing SQLAlchemy: raised as any statement's would be.
        raise IntegrityError(f"COPY {table}", None, error) from error


async def lock_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    """Serialise writers on one unit's ledger; see :func:`lock_units`."""
    return (await lock_units(session, [unit_id])).get(unit_id)


# Built once: aliasing the mapped class per query cost a payment more than its SQL did.
_SETTLING = aliased(LedgerEntry, name="settling")


def _open_amount(as_of: date | None) -> ColumnElement[int]:
    """An entry's amount plus what settles it, looked up per entry through the settles index, so
    the plan stays fast whatever the table's statistics say."""
    settling = _SETTLING
    settled = select(func.coalesce(func.sum(settling.amount_fen), 0)).where(
        col(settling.settles_entry_id) == LedgerEntry.id
    )
    if as_of is not None:
        settled = settled.where(settling.effective_date <= as_of)
    return LedgerEntry.amount_fen + settled.correlate(LedgerEntry).scalar_subquery()


async def _open_rows(
    session: AsyncSession, unit_ids: Sequence[int], kinds: frozenset[EntryKind], as_of: date | None
) -> list[tuple[LedgerEntry, int]]:
    open_fen = _open_amount(as_of)
    query = (
        select(LedgerEntry, open_fen)
        .where(col(LedgerEntry.unit_id).in_(unit_ids), col(LedgerEntry.kind).in_(kinds), open_fen != 0)
        .order_by(col(LedgerEntry.id))
    )
    if as_of is not None:
        query = query.where(LedgerEntry.effective_date <= as_of)
    return [(row[0], int(row[1])) for row in (await session.execute(query)).all()]


async def open_entries(
    session: AsyncSession, unit_id: int, kinds: frozenset[EntryKind], as_of: date | None = None
) -> list[tuple[LedgerEntry, int]]:
    """Entries of the given kinds with what is still open on each (amount plus what settles it)."""
    return await _open_rows(session, [unit_id], kinds, as_of)


async def open_debits(session: AsyncSession, unit_id: int, as_of: date | None = None) -> list[OpenDebit]:
    """One unit's open debits (see :func:`open_debits_by_unit`), from a statement for one unit that
    also reads each late fee's charge: an expanding ``IN`` list is rendered again on every
    execution, a cost each payment would pay, and a second query a round trip."""
    params: dict[str, Any] = {"unit_id": unit_id} if as_of is None else {"unit_id": unit_id, "as_of": as_of}
    rows = (await session.execute(_OPEN_DEBITS[as_of is not None, True], params)).all()
    return debits_from_rows(rows)


def open_debits_subquery() -> Subquery:
    """One unit's open debits (bind ``unit_id``) as a subquery, for a caller that reads them with
    other facts in one round trip; its rows go to :func:`debits_from_rows`. Its ``debt_id`` column is
    the debt each debit belongs to."""
    return _OPEN_DEBITS[False, True].subquery("open_debit")


def debits_from_rows(rows: Iterable[Sequence[Any]]) -> list[OpenDebit]:
    """One unit's open debits from the rows of its statement: the debit (id, kind, owner, what is
    open on it), then the debt it belongs to (id, due date, effective date, period, item), which is
    the debit itself for a charge and its charge for a late fee."""
    return [_open_debit(row[0], row[1], row[2], row[3], row[4:]) for row in rows]


def _open_debit(entry_id: int, kind: str, owner_id: int | None, open_fen: Any, debt: Sequence[Any]) -> OpenDebit:
    """A debit with what is open on it and its debt's columns (id, due date, effective date,
    period, item)."""
    debt_id, due_date, effective_date, period, item = debt
    return OpenDebit(
        entry_id=entry_id,
        kind=EntryKind(kind),
        open_fen=int(open_fen),
        debt_id=debt_id,
        debt_due=due_date or effective_date,
        period=period,
        owner_id=owner_id,
        item=item,
    )


async def open_debits_by_unit(
    session: AsyncSession, unit_ids: Sequence[int], as_of: date | None = None
) -> dict[int, list[OpenDebit]]:
    """Open charges and late fees of several units, each with the debt (charge) it belongs to.

    Columns, not entities, from statements built once. A late fee's charge is read apart only when
    it is not open itself: joining every debit to its debt let PostgreSQL hash the whole ledger for
    a billing run's batch of units."""
    params: dict[str, Any] = {"unit_ids": list(unit_ids)}
    if as_of is not None:
        params["as_of"] = as_of
    rows = (await session.execute(_OPEN_DEBITS[as_of is not None, False], params)).all()
    return await _debits_of(session, rows)


async def _debits_of(session: AsyncSession, rows: Sequence[Any]) -> dict[int, list[OpenDebit]]:
    """Rows of the several-units open-debits statement as open debits."""
    # By position, not by name: a row's attribute lookups cost more than the rest of the loop, for
    # a batch of an import's units.
    debit_rows = [(row[:5], *row[5:]) for row in rows]  # the debit's debt columns, then its own
    charges = {debt[0]: debt for debt, _, kind, *_ in debit_rows if kind == EntryKind.charge}
    missing = {basis for _, _, kind, _, basis, _ in debit_rows if kind == EntryKind.late_fee} - charges.keys()
    if missing:
        charges |= {row[0]: tuple(row) for row in await session.execute(_DEBTS, {"ids": list(missing)})}
    debits: dict[int, list[OpenDebit]] = {}
    for own, unit_id, kind, owner_id, basis, open_fen in debit_rows:
        debt = charges[basis] if kind == EntryKind.late_fee else own
        debits.setdefault(unit_id, []).append(_open_debit(own[0], kind, owner_id, open_fen, debt))
    return debits


def _open_debits_query(as_of: bool, one_unit: bool) -> Select[Any]:
    """Open charges and late fees: for several units, the debits (a late fee's charge is read apart
    by :func:`_debits_of`); for one unit, as :func:`debits_from_rows` reads them, each late fee
    joined to its charge (a few index lookups for one unit, where for a batch of units PostgreSQL
    hashed the whole ledger)."""
    entry = LedgerEntry.__table__  # type: ignore[attr-defined]
    settling = entry.alias("settling")
    day = bindparam("as_of", type_=entry.c.effective_date.type)
    settled = sa_select(func.coalesce(func.sum(settling.c.amount_fen), 0)).where(
        settling.c.settles_entry_id == entry.c.id
    )
    if as_of:
        settled = settled.where(settling.c.effective_date <= day)
    open_fen = entry.c.amount_fen + settled.correlate(entry).scalar_subquery()
    filters = [
        # Bound values, not a list: SQLAlchemy renders a list's IN again on every execution.
        entry.c.kind.in_([literal(kind.value) for kind in sorted(DEBIT_KINDS)]),
        open_fen != 0,
    ]
    if as_of:
        filters.append(entry.c.effective_date <= day)
    if not one_unit:
        columns = [
            *(entry.c[name] for name in _DEBT_COLUMNS),
            entry.c.unit_id,
            entry.c.kind,
            entry.c.owner_id,
            entry.c.basis_entry_id,
            open_fen.label("open_fen"),
        ]
        unit = entry.c.unit_id.in_(bindparam("unit_ids", expanding=True))
        return sa_select(*columns).where(unit, *filters).order_by(entry.c.id)
    charge = entry.alias("charge")  # a late fee's; none for a charge, its own debt
    columns = [
        entry.c.id,
        entry.c.kind,
        entry.c.owner_id,
        open_fen.label("open_fen"),
        *(
            case((charge.c.id.is_(None), entry.c[name]), else_=charge.c[name]).label(f"debt_{name}")
            for name in _DEBT_COLUMNS
        ),
    ]
    unit = entry.c.unit_id == bindparam("unit_id", type_=entry.c.unit_id.type)
    return (
        sa_select(*columns)
        .select_from(entry.outerjoin(charge, charge.c.id == entry.c.basis_entry_id))
        .where(unit, *filters)
        .order_by(entry.c.id)
    )


_DEBT_COLUMNS = ("id", "due_date", "effective_date", "period", "item")
# Keyed by (as of a date, for one unit).
_OPEN_DEBITS = {
    (as_of, one_unit): _open_debits_query(as_of, one_unit) for as_of in (False, True) for one_unit in (False, True)
}
_DEBTS = sa_select(*(LedgerEntry.__table__.c[name] for name in _DEBT_COLUMNS)).where(  # type: ignore[attr-defined]
    LedgerEntry.__table__.c.id.in_(bindparam("ids", expanding=True))  # type: ignore[attr-defined]
)


async def open_credits(session: AsyncSession, unit_id: int, as_of: date | None = None) -> list[tuple[LedgerEntry, int]]:
    """Prepaid credit not yet used, oldest first; amounts are negative (money held for the owner)."""
    return await open_entries(session, unit_id, frozenset({EntryKind.prepaid_credit}), as_of)


async def prepaid_credit_fen(session: AsyncSession, unit_id: int, as_of: date | None = None) -> int:
    """Prepaid credit held for the unit and not yet used (a positive number of fen)."""
    query = select(func.coalesce(func.sum(_open_amount(as_of)), 0)).where(
        LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.prepaid_credit
    )
    if as_of is not None:
        query = query.where(LedgerEntry.effective_date <= as_of)
    return -int((await session.execute(query)).scalar_one())


async def balance(session: AsyncSession, unit_id: int, as_of: date | None = None) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(LedgerEntry.unit_id == unit_id)
    if as_of is not None:
        query = query.where(LedgerEntry.effective_date <= as_of)
    return int((await session.execute(query)).scalar_one())


async def entries_as_of(session: AsyncSession, unit_id: int, as_of: date | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id)
    if as_of is not None:
        query = query.where(LedgerEntry.effective_date <= as_of)
    query = query.order_by(LedgerEntry.effective_date, LedgerEntry.id)  # type: ignore[arg-type]
    return list((await session.execute(query)).scalars())


async def apply_prepaid_credit(
    session: AsyncSession, unit_ids: Sequence[int], order: AllocationOrder, on: date, actor: Principal,
    late_fees_last_for: frozenset[int] = frozenset(), only: frozenset[int] | None = None,
) -> int:
    """Use the units' prepaid credit on their open debts (of them, the entries ``only`` names, if
    given); returns the fen applied.

    Each application is a pair of entries that nets to zero: one consumes the credit, the other
    settles the debt, so the balance is unchanged and both sides show what happened. The units are
    locked and read together, so a billing run over many credit holders costs a few queries.
    """
    applied = 0
    for start in range(0, len(unit_ids), CREDIT_BATCH):  # databases cap the parameters of one query
        applied += await _apply_credit_batch(
            session, sorted(unit_ids)[start : start + CREDIT_BATCH], order, on, actor, late_fees_last_for, only
        )
    return applied


async def _apply_credit_batch(
    session: AsyncSession, unit_ids: Sequence[int], order: AllocationOrder, on: date, actor: Principal,
    late_fees_last_for: frozenset[int], only: frozenset[int] | None,
) -> int:
    units = await lock_units(session, unit_ids)
    credits = await _open_rows(session, list(units), frozenset({EntryKind.prepaid_credit}), None)
    debits = await open_debits_by_unit(session, list(units))
    by_owner: dict[tuple[int, int | None], list[tuple[LedgerEntry, int]]] = {}
    for credit, open_fen in credits:
        by_owner.setdefault((credit.unit_id, credit.owner_id), []).append((credit, -open_fen))
    entries: list[LedgerEntry] = []
    for (unit_id, owner_id), pending in by_owner.items():
        # Credit settles the debts of the owner who paid it: arrears stay with the owner of the period.
        theirs = [d for d in debits.get(unit_id, []) if d.owner_id is None or d.owner_id == owner_id]
        if only is not None:
            theirs = [d for d in theirs if d.entry_id in only]
        available = sum(left for _, left in pending)
        allocations, _ = allocate(theirs, available, order, late_fees_last_for=late_fees_last_for)
        entries += _credit_pairs(units[unit_id], {d.entry_id: d for d in theirs}, allocations, pending, on, actor)
    append(session, entries)
    return sum(e.amount_fen for e in entries if e.amount_fen > 0)


async def lock_units(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, Unit]:
    """Lock units to write their ledgers, in id order (the same order everywhere, so two writers
    cannot deadlock), and raise each one's ``ledger_version``: a payment that read the unit without
    the lock then finds it changed and reads again (payments.recording.record_payment). SQLite's
    BEGIN IMMEDIATE already serialises writers; the version is raised there too."""
    locked = select(Unit.id).where(col(Unit.id).in_(unit_ids)).order_by(col(Unit.id))
    if is_postgres(session):
        locked = locked.with_for_update()
    raise_version = (
        update(Unit)
        .where(col(Unit.id).in_(locked.scalar_subquery()))
        .values(ledger_version=col(Unit.ledger_version) + 1)
        .returning(Unit)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return {unit.id: unit for unit in (await session.execute(raise_version)).scalars() if unit.id is not None}


async def lock_many_units(session: AsyncSession, unit_ids: Sequence[int], batch: int = 5_000) -> None:
    """Lock an estate's worth of units (an import) as :func:`lock_units` does, in id order, a batch
    at a time (a statement takes at most 32,767 parameters), but with row locks only: the units whose
    ledgers it then writes have their ``ledger_version`` raised with their positions before the
    commit (``ledger.position``), and a unit locked but left alone need not send a racing payment
    back to read again. Rewriting every unit row here as well cost the server ~30 µs a unit (eight
    indexes). SQLite's BEGIN IMMEDIATE already serialises writers: nothing to lock there."""
    if not is_postgres(session):
        return
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), batch):
        locked = select(Unit.id).where(col(Unit.id).in_(ids[start : start + batch])).order_by(col(Unit.id))
        (await session.execute(locked.with_for_update())).all()  # every row fetched: every row locked


def _credit_pairs(
    unit: Unit,
    debits: dict[int, OpenDebit],
    allocations: list[Allocation],
    pending: list[tuple[LedgerEntry, int]],
    on: date,
    actor: Principal,
) -> list[LedgerEntry]:
    """One consuming and one settling entry per slice of credit put on a debt."""
    entries: list[LedgerEntry] = []
    for allocation in allocations:
        debit = debits[allocation.entry_id]
        need = allocation.amount_fen
        while need:
            credit, left = pending[0]
            take = min(need, left)
            # Credit cannot be used before it was received.
            day = max(on, credit.effective_date)
            consume = _credit_application(unit, credit, day, actor, take, credit.id, {"applied_to": debit.entry_id})
            consume.owner_id = credit.owner_id
            settle = _credit_application(unit, credit, day, actor, -take, debit.entry_id, {"credit_from": credit.id})
            settle.period = debit.period
            settle.owner_id = debit.owner_id
            entries += [consume, settle]
            need -= take
            pending[0] = (credit, left - take)
            if left == take:
                pending.pop(0)
    return entries


def _credit_application(
    unit: Unit,
    credit: LedgerEntry,
    day: date,
    actor: Principal,
    amount: int,
    settles: int | None,
    detail: dict[str, int | None],
) -> LedgerEntry:
    assert unit.id is not None
    return LedgerEntry(
        estate_id=unit.estate_id,
        unit_id=unit.id,
        kind=EntryKind.credit_applied,
        amount_fen=amount,
        effective_date=day,
        settles_entry_id=settles,
        payment_id=credit.payment_id,
        actor=actor.label,
        detail=detail,
    )


def reversal_of(entry: LedgerEntry, on: date, actor: Principal, reason: str) -> LedgerEntry:
    """The entry that undoes ``entry``: same target, opposite amount, a reason and an actor."""
    assert entry.id is not None
    return LedgerEntry(
        estate_id=entry.estate_id,
        unit_id=entry.unit_id,
        owner_id=entry.owner_id,
        kind=EntryKind.reversal,
        amount_fen=-entry.amount_fen,
        effective_date=on,
        period=entry.period,
        item=entry.item,
        settles_entry_id=entry.settles_entry_id or entry.id,
        reverses_entry_id=entry.id,
        payment_id=entry.payment_id,
        actor=actor.label,
        reason=reason,
    )
