"""Recording payments at the desk.

A payment reads its unit (rules, owner, open debits with their debts), allocates
(:mod:`feesvc.payments.prepare`), and writes the payment, its ledger entries and its receipt, the
number taken last so the per-estate counter row is held only until commit. At the desk on
PostgreSQL the read takes no lock and the write is one statement that commits on its own, guarded by
the unit's ``ledger_version``, both run straight on the driver (:func:`post_payment`); otherwise,
and on SQLite, the payment is one transaction with the unit locked (:func:`record_payment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, cast, exists, insert, literal, true, union_all, update
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.models import AuditEvent
from feesvc.audit.service import audit_row, record_audit
from feesvc.auth.principal import Principal
from feesvc.db import Database, DriverStatement, is_postgres, utcnow
from feesvc.errors import Conflict, DomainError, NotFound
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import (
    debits_from_rows,
    entry_rows,
    insert_entries,
    lock_many_units,
    lock_unit,
    open_debits_subquery,
)
from feesvc.payments.lookup import build_payment_out, payment_out
from feesvc.payments.models import Payment, Receipt, ReceiptCounter, receipt_number
from feesvc.payments.numbering import issue_receipt
from feesvc.payments.prepare import PreparedPayment, UnitView, fingerprint, prepare_payment
from feesvc.payments.schemas import PaymentCreate, PaymentOut
from feesvc.payments.unit_views import read_batch_views, reread
from feesvc.plans.models import InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import AllocationOrder, Estate, Ownership, Unit
from feesvc.registry.service import ownership_covering

_PAYMENT = Payment.__table__  # type: ignore[attr-defined]
_RECEIPT = Receipt.__table__  # type: ignore[attr-defined]
_COUNTER = ReceiptCounter.__table__  # type: ignore[attr-defined]
_ENTRY = LedgerEntry.__table__  # type: ignore[attr-defined]
_UNIT = Unit.__table__  # type: ignore[attr-defined]


def _unit_view_query() -> Select[Any]:
    """Everything a payment is decided on, in one round trip and without a lock: the unit's estate
    and that estate's allocation order, its owner on the day, whether the account asked for (bind
    ``owner``, null for none) is of an owner who owns or owned the unit by the day, the payment
    already made under the idempotency key, if any, and the unit's ``ledger_version``, which the
    payment's write checks; then, one per row, the unit's open debits with their debts and whether
    an active installment plan covers that debt (the unit's facts repeated on each row; one row
    with no debit if none is open)."""
    unit, estate, ownership = Unit.__table__, Estate.__table__, Ownership.__table__  # type: ignore[attr-defined]
    plan, plan_charge = InstallmentPlan.__table__, PlanCharge.__table__  # type: ignore[attr-defined]
    on = bindparam("on", type_=ownership.c.starts_on.type)
    held = ownership.alias("held")
    account_held = exists().where(
        held.c.unit_id == unit.c.id,
        held.c.owner_id == bindparam("owner", type_=held.c.owner_id.type),
        held.c.starts_on <= on,
    )
    view = (
        sa_select(
            unit.c.estate_id,
            estate.c.allocation_order,
            ownership.c.owner_id,
            account_held.label("account_held"),
            _PAYMENT.c.id,
            _PAYMENT.c.request_fingerprint,
            unit.c.ledger_version,
        )
        .join(estate, estate.c.id == unit.c.estate_id)
        .outerjoin(ownership, and_(ownership.c.unit_id == unit.c.id, ownership_covering(on)))
        .outerjoin(_PAYMENT, _PAYMENT.c.idempotency_key == bindparam("key"))
        .where(unit.c.id == bindparam("unit_id"))
        .limit(1)
        .subquery("unit_view")
    )
    debit = open_debits_subquery()
    planned = exists().where(
        plan_charge.c.entry_id == debit.c.debt_id,
        plan.c.id == plan_charge.c.plan_id,
        plan.c.state == PlanState.active,
    )
    return sa_select(view, debit, planned).select_from(view.outerjoin(debit, true())).order_by(debit.c.id)


# Statements built once: building them per request cost more than running them.
_UNIT_VIEW = DriverStatement(_unit_view_query())
_VIEW_COLUMNS = 7  # the unit's facts; then the open debit's columns, then whether a plan covers its debt


def _view_params(data: PaymentCreate, idempotency_key: str, today: date) -> dict[str, Any]:
    return {"unit_id": data.unit_id, "on": data.received_on or today, "owner": data.owner_id, "key": idempotency_key}


def unit_view(rows: Sequence[Sequence[Any]]) -> UnitView | None:
    """The unit view's rows (SQLAlchemy rows or asyncpg records) as a :class:`UnitView`; None if
    there is no such unit."""
    if not rows:
        return None
    estate_id, order, owner_id, account_held, payment_id, first_fingerprint, ledger_version = rows[0][:_VIEW_COLUMNS]
    debit_rows = [row for row in rows if row[_VIEW_COLUMNS] is not None]
    debits = debits_from_rows(row[_VIEW_COLUMNS:-1] for row in debit_rows)
    in_plan = frozenset(d.debt_id for d, row in zip(debits, debit_rows, strict=True) if row[-1])
    return UnitView(
        estate_id=estate_id,
        allocation_order=AllocationOrder(order),
        owner_id=owner_id,
        account_held=bool(account_held),
        existing=None if payment_id is None else (payment_id, first_fingerprint),
        ledger_version=ledger_version,
        debits=debits,
        in_plan=in_plan,
    )


def _answer(payment_id: int, receipt: str, prepared: PreparedPayment) -> PaymentOut:
    """The response from what was just written; a retry reads the same back through payment_out."""
    return build_payment_out(
        payment_id, prepared.payment, receipt, prepared.allocations, prepared.prepaid_credit_fen, voided=False
    )


_FIND_BY_KEY = sa_select(_PAYMENT.c.id, _PAYMENT.c.request_fingerprint).where(
    _PAYMENT.c.idempotency_key == bindparam("key")
)
_INSERT_PAYMENT = {
    name: dialect.insert(_PAYMENT).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_PAYMENT.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def find_payment_by_key(session: AsyncSession, key: str) -> tuple[int, str] | None:
    """The id and request fingerprint of the payment made under an idempotency key, if any."""
    row = (await session.execute(_FIND_BY_KEY, {"key": key})).first()
    return None if row is None else (row[0], row[1])


async def add_payment(session: AsyncSession, payment: dict[str, Any]) -> int | None:
    """Insert a new payment (a dict of its columns) and return its id. None: a concurrent request
    committed the same idempotency key first; the transaction is rolled back, and the caller
    answers as a retry of that payment."""
    statement = _INSERT_PAYMENT[session.get_bind().dialect.name]
    payment_id = (await session.execute(statement, {**payment, "received_at": utcnow()})).scalar_one_or_none()
    if payment_id is None:
        await session.rollback()
    return payment_id


async def _replay(session: AsyncSession, existing: tuple[int, str], data: PaymentCreate) -> PaymentOut:
    payment_id, first_fingerprint = existing
    if first_fingerprint != fingerprint(data):
        raise Conflict(
            "this Idempotency-Key was used for a different payment; use a new key for a new payment",
            field="Idempotency-Key",
        )
    return await payment_out(session, payment_id)


# Unlocked attempts at a payment on PostgreSQL before it locks the unit to read.
OPTIMISTIC_ATTEMPTS = 3
# Payments of one estate a worker process has between read and write at once: they all take the
# estate's receipt counter row, and PostgreSQL's queue on a row costs more than the event loop's
# (Database.hot_row); fewer at once also means fewer writes that find their unit changed since the
# read. Three gave the most payments a second with 32 clients on one estate (bench/README.md).
WRITERS_PER_ESTATE = 3


async def post_payment(
    database: Database, actor: Principal, data: PaymentCreate, idempotency_key: str, today: date
) -> tuple[PaymentOut, bool]:
    """The desk's payment; returns it and whether it was new (False: a retry of an earlier request).

    On PostgreSQL, on a pooled connection's own driver and in no transaction: the unit view is read
    without a lock, and the payment written in one statement that commits on its own and first
    raises the unit's ``ledger_version`` from the value read (:func:`_write_statement`). If another
    writer raised it meanwhile (a payment, void, plan or billing run on the same unit) or took the
    key, nothing was written, and the payment is read and allocated again. Two statements, no
    BEGIN, COMMIT or lock, and no SQLAlchemy session: together they cost more CPU than the
    payment's SQL (bench/README.md). At most ``WRITERS_PER_ESTATE`` payments of one estate are
    between read and write in this process; the others wait their turn on the event loop. A retried
    key, an unknown unit, or a fourth attempt (a unit under a burst of writes must not starve a
    payment) go to :func:`record_payment`, which locks the unit first; SQLite always does (its first
    write takes the database's write lock)."""
    if database.is_postgres and OPTIMISTIC_ATTEMPTS:
        params = _view_params(data, idempotency_key, today)
        for _ in range(OPTIMISTIC_ATTEMPTS):
            # The estate's turn is taken before the read where the unit's estate is known, so that
            # no other payment of the estate from this process comes between read and write (and a
            # payment waiting for its turn holds no connection).
            known_estate = _ESTATE_OF_UNIT.get(data.unit_id)
            async with _estate_turn(database, known_estate), database.driver() as driver:
                view = unit_view(await _UNIT_VIEW.fetch(driver, params))
                if view is None or view.existing is not None:
                    break
                _learn_estate(data.unit_id, view.estate_id)
                prepared = prepare_payment(view, data, actor, idempotency_key, today)
                statement = _write_statement(len(prepared.entries))
                async with _estate_turn(database, view.estate_id if known_estate is None else None):
                    written = await statement.fetch(driver, _write_params(actor, prepared, view.ledger_version))
            if written:
                payment_id, seq = written[0]
                year = prepared.payment["received_on"].year
                return _answer(payment_id, receipt_number(year, seq), prepared), True
    async with database.session() as session:
        return await record_payment(session, actor, data, idempotency_key, today)


# Units never move between estates (their ledger entries name both), so a process remembers the
# estate of each unit it has taken a payment for. The map only decides which queue a payment waits
# in before its read: an entry missing (or wrong) costs queueing, never correctness.
_ESTATE_OF_UNIT: dict[int, int] = {}
_ESTATES_REMEMBERED = 500_000


def _learn_estate(unit_id: int, estate_id: int) -> None:
    if len(_ESTATE_OF_UNIT) >= _ESTATES_REMEMBERED:
        _ESTATE_OF_UNIT.clear()
    _ESTATE_OF_UNIT[unit_id] = estate_id


def _estate_turn(database: Database, estate_id: int | None) -> AbstractAsyncContextManager[Any]:
    """One of the estate's ``WRITERS_PER_ESTATE`` places in this process (nothing for None)."""
    if estate_id is None:
        return nullcontext()
    return database.hot_row(("receipt counter", estate_id), WRITERS_PER_ESTATE)


async def record_payment(
    session: AsyncSession, actor: Principal, data: PaymentCreate, idempotency_key: str, today: date
) -> tuple[PaymentOut, bool]:
    """Post a payment in one transaction, the unit locked first; returns it and whether it was new.
    The desk goes through :func:`post_payment`, which tries without the lock first on PostgreSQL."""
    await lock_unit(session, data.unit_id)
    view = unit_view((await session.execute(_UNIT_VIEW.statement, _view_params(data, idempotency_key, today))).all())
    existing = await find_payment_by_key(session, idempotency_key) if view is None else view.existing
    if existing is not None:
        return await _replay(session, existing, data), False
    if view is None:
        raise NotFound(f"unit {data.unit_id} does not exist", field="unit_id")
    prepared = prepare_payment(view, data, actor, idempotency_key, today)
    written = await _write_locked(session, actor, prepared, view.ledger_version)
    if written is None:  # a concurrent request (for another unit) took the key first
        await session.rollback()
        existing = await find_payment_by_key(session, idempotency_key)
        assert existing is not None
        return await _replay(session, existing, data), False
    await session.commit()
    return _answer(*written, prepared), True


async def record_payments(
    session: AsyncSession, actor: Principal, requests: Sequence[tuple[PaymentCreate, str]], today: date
) -> list[tuple[PaymentOut, bool] | DomainError]:
    """Several payments (each with its idempotency key) in one transaction, for imports (a bank
    statement's lines): their units locked first, in id order, then the unit views of all of them
    read in a few statements (:mod:`feesvc.payments.unit_views`), each payment allocated on its view
    as :func:`record_payment` does (:func:`prepare_payment`), and all written together, a statement
    per table, in the order given; one commit for all. A payment to a unit (or under a key) another
    one before it in the batch uses has the payments before it written first and its unit and key
    read again, so it is decided on what is then open, as at the desk. Each answer is the payment
    and whether it was new, or the error the desk refuses it with (nothing written for it)."""
    unit_ids = sorted({data.unit_id for data, _ in requests})
    for _ in range(OPTIMISTIC_ATTEMPTS):
        await lock_many_units(session, unit_ids)
        views = await read_batch_views(session, unit_ids, (key for _, key in requests))
        answers: list[tuple[PaymentOut, bool] | DomainError | None] = []
        pending: list[tuple[int, PreparedPayment]] = []
        # Units and keys of the payments decided so far: their views were read before those
        # payments were written.
        paid_units: set[int] = set()
        used_keys: set[str] = set()
        written = True
        for data, key in requests:
            if data.unit_id in paid_units or key in used_keys:
                written = await _write_many(session, actor, pending, answers)
                if not written:
                    break
                pending = []
                await reread(session, views, [data.unit_id], [key])
                paid_units.discard(data.unit_id)
                used_keys.discard(key)
            view = views.view(data, key, today)
            existing = views.existing.get(key)
            try:
                if existing is not None:
                    answers.append((await _replay(session, existing, data), False))
                    continue
                if view is None:
                    raise NotFound(f"unit {data.unit_id} does not exist", field="unit_id")
                pending.append((len(answers), prepare_payment(view, data, actor, key, today)))
                paid_units.add(data.unit_id)
                used_keys.add(key)
                answers.append(None)  # answered once written
            except DomainError as refused:
                answers.append(refused)
        if written and await _write_many(session, actor, pending, answers):
            await session.commit()
            return [a for a in answers if a is not None]
    raise Conflict("the payments' keys were taken by concurrent requests; send them again")


_INSERT_PAYMENTS = insert(_PAYMENT).returning(_PAYMENT.c.id, sort_by_parameter_order=True)
_INSERT_AUDIT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]
_TAKE_SEQS = {
    name: dialect.insert(_COUNTER)
    .values(estate_id=bindparam("estate_id"), year=bindparam("year"), last_seq=bindparam("count"))
    .on_conflict_do_update(
        index_elements=["estate_id", "year"], set_={"last_seq": _COUNTER.c.last_seq + bindparam("count")}
    )
    .returning(_COUNTER.c.last_seq)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


async def _write_many(
    session: AsyncSession,
    actor: Principal,
    pending: Sequence[tuple[int, PreparedPayment]],
    answers: list[tuple[PaymentOut, bool] | DomainError | None],
) -> bool:
    """Write prepared payments of locked units in the session's transaction, a statement per table,
    the receipt numbers last (the estate's counter raised once per year by the count); fill in their
    answers. False (all rolled back) when a concurrent request committed one of their keys first."""
    if not pending:
        return True
    payments = [{**p.payment, "received_at": utcnow()} for _, p in pending]
    try:
        ids = list((await session.execute(_INSERT_PAYMENTS, payments)).scalars())
    except IntegrityError:
        await session.rollback()
        return False
    entries = [{**e, "payment_id": pid} for pid, (_, p) in zip(ids, pending, strict=True) for e in p.entries]
    await insert_entries(session, entries)
    audit = [
        audit_row(actor, "payment.record", "payment", pid, p.audit) for pid, (_, p) in zip(ids, pending, strict=True)
    ]
    await session.execute(_INSERT_AUDIT, audit)
    await session.flush()
    numbered: dict[tuple[int, int], list[int]] = {}  # (estate, year) -> positions in pending
    for position, (_, p) in enumerate(pending):
        numbered.setdefault((p.payment["estate_id"], p.payment["received_on"].year), []).append(position)
    statement = _TAKE_SEQS[session.get_bind().dialect.name]
    receipts = []
    for (estate_id, year), positions in numbered.items():
        params = {"estate_id": estate_id, "year": year, "count": len(positions)}
        last = int((await session.execute(statement, params)).scalar_one())
        for seq, position in enumerate(positions, start=last - len(positions) + 1):
            index, prepared = pending[position]
            receipts.append({"payment_id": ids[position], "estate_id": estate_id, "year": year, "seq": seq})
            answers[index] = (_answer(ids[position], receipt_number(year, seq), prepared), True)
    await session.execute(insert(_RECEIPT), receipts)
    return True


async def _write_locked(
    session: AsyncSession, actor: Principal, prepared: PreparedPayment, ledger_version: int
) -> tuple[int, str] | None:
    """Write a payment inside the session's transaction, the unit locked: the payment, its ledger
    rows and audit event, then its receipt. Returns its id and receipt number, or None (nothing
    written) when a concurrent request committed the same idempotency key first. On PostgreSQL
    the one statement the desk writes (:func:`_write_statement`); on SQLite one statement a row,
    under the database's write lock."""
    payment = prepared.payment
    received_on: date = payment["received_on"]
    if is_postgres(session):
        statement = _write_statement(len(prepared.entries)).statement
        row = (await session.execute(statement, _write_params(actor, prepared, ledger_version))).first()
        return None if row is None else (row[0], receipt_number(received_on.year, row[1]))
    payment_id = await add_payment(session, payment)
    if payment_id is None:
        return None
    await insert_entries(session, [{**e, "payment_id": payment_id} for e in prepared.entries])
    await record_audit(session, actor, "payment.record", "payment", payment_id, prepared.audit)
    return payment_id, await issue_receipt(session, payment_id, payment["estate_id"], received_on)


def _write_params(actor: Principal, prepared: PreparedPayment, ledger_version: int) -> dict[str, Any]:
    """The named values of :func:`_write_statement` for a prepared payment."""
    params = {f"p_{name}": value for name, value in prepared.payment.items()} | {"p_received_at": utcnow()}
    for i, row in enumerate(entry_rows(prepared.entries)):
        params |= {f"e{i}_{name}": value for name, value in row.items()}
    audit = audit_row(actor, "payment.record", "payment", None, prepared.audit)
    params |= {f"a_{name}": value for name, value in audit.items() if name != "entity_id"}
    params["receipt_year"] = prepared.payment["received_on"].year
    params["seen_version"] = ledger_version
    params["balance_change"] = -prepared.payment["amount_fen"]  # its entries add up to minus the payment
    params["earliest_open_due"] = prepared.earliest_open_due
    return params


@lru_cache(maxsize=64)
def _write_statement(entry_count: int) -> DriverStatement:
    """A payment with ``entry_count`` ledger rows, written in one PostgreSQL statement that answers
    the payment's id and its receipt's sequence number, or nothing.

    ``UPDATE unit SET ledger_version = ledger_version + 1 WHERE id = … AND ledger_version = :seen``
    as a CTE, which also sets the unit's position (``ledger.position``: the balance moved by the
    payment, the earliest due date left open, computed from the debits the version guards), then
    ``INSERT payment … ON CONFLICT DO NOTHING RETURNING id`` from the row it returns, with the
    ledger rows, the audit event and the receipt (the counter upsert and the receipt row, as
    ``numbering._NUMBER_RECEIPT_POSTGRES``) as data-modifying CTEs that take the new id. If the
    version had moved on (a concurrent writer waited for is re-checked on its new row) or the
    key was taken, they insert nothing and no number is used. One per number of ledger rows, built
    once."""
    audit_table = AuditEvent.__table__  # type: ignore[attr-defined]
    payment_columns = [c for c in _PAYMENT.columns if c.name != "id"]
    unit_version = (
        update(_UNIT)
        .where(
            _UNIT.c.id == bindparam("p_unit_id", type_=_PAYMENT.c.unit_id.type),
            _UNIT.c.ledger_version == bindparam("seen_version"),
        )
        .values(
            ledger_version=_UNIT.c.ledger_version + 1,
            balance_fen=_UNIT.c.balance_fen + bindparam("balance_change", type_=_UNIT.c.balance_fen.type),
            earliest_open_due=bindparam("earliest_open_due", type_=_UNIT.c.earliest_open_due.type),
        )
        .returning(_UNIT.c.id)
        .cte("unit_version")
    )
    new = (
        postgresql.insert(_PAYMENT)
        .from_select(
            [c.name for c in payment_columns],
            sa_select(*(bindparam(f"p_{c.name}", type_=c.type) for c in payment_columns)).select_from(unit_version),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(_PAYMENT.c.id, _PAYMENT.c.estate_id)
        .cte("new_payment")
    )
    entry_columns = [c for c in _ENTRY.columns if c.name not in ("id", "payment_id")]
    rows = [
        sa_select(*(bindparam(f"e{i}_{c.name}", type_=c.type) for c in entry_columns), new.c.id)
        for i in range(entry_count)
    ]
    entries = insert(_ENTRY).from_select(
        [*(c.name for c in entry_columns), "payment_id"], union_all(*rows) if len(rows) > 1 else rows[0]
    )
    audit_columns = [c for c in audit_table.columns if c.name not in ("id", "entity_id")]
    audit = insert(audit_table).from_select(
        [*(c.name for c in audit_columns), "entity_id"],
        sa_select(*(bindparam(f"a_{c.name}", type_=c.type) for c in audit_columns), cast(new.c.id, String)),
    )
    year = bindparam("receipt_year", type_=_COUNTER.c.year.type)
    counter = (
        postgresql.insert(_COUNTER)
        .from_select(["estate_id", "year", "last_seq"], sa_select(new.c.estate_id, year, literal(1)))
        .on_conflict_do_update(index_elements=["estate_id", "year"], set_={"last_seq": _COUNTER.c.last_seq + 1})
        .returning(_COUNTER.c.last_seq)
        .cte("counter")
    )
    receipt = (
        insert(_RECEIPT)
        .from_select(
            ["payment_id", "estate_id", "year", "seq"],
            # One row each (or none): a cross join, said as one.
            sa_select(new.c.id, new.c.estate_id, year, counter.c.last_seq).select_from(new.join(counter, true())),
        )
        .returning(_RECEIPT.c.payment_id, _RECEIPT.c.seq)
        .cte("new_receipt")
    )
    written = sa_select(receipt.c.payment_id, receipt.c.seq)
    return DriverStatement(written.add_cte(entries.cte("new_entries"), audit.cte("new_audit")))
