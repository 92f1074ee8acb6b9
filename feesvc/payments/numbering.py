"""Receipt numbers: the estate's counter for the year, taken as the last write of a payment's
transaction (see :class:`~feesvc.payments.models.Receipt`). The desk's one-statement write on
PostgreSQL takes its number in the same way inside that statement (``recording._write_statement``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.db import is_postgres
from feesvc.payments.models import Receipt, ReceiptCounter, receipt_number

_RECEIPT = Receipt.__table__  # type: ignore[attr-defined]
_COUNTER = ReceiptCounter.__table__  # type: ignore[attr-defined]

_NUMBER_RECEIPT_POSTGRES = text(
    """
    WITH counter AS (
        INSERT INTO receipt_counter (estate_id, year, last_seq) VALUES (:estate_id, :year, 1)
        ON CONFLICT (estate_id, year) DO UPDATE SET last_seq = receipt_counter.last_seq + 1
        RETURNING last_seq
    )
    INSERT INTO receipt (payment_id, estate_id, year, seq)
    SELECT :payment_id, :estate_id, :year, last_seq FROM counter
    RETURNING seq
    """
)
_NEXT_SEQ_SQLITE = (
    sqlite.insert(_COUNTER)
    .values(estate_id=bindparam("estate_id"), year=bindparam("year"), last_seq=1)
    .on_conflict_do_update(index_elements=["estate_id", "year"], set_={"last_seq": _COUNTER.c.last_seq + 1})
    .returning(_COUNTER.c.last_seq)
)
_INSERT_RECEIPT = insert(_RECEIPT)


async def _number_receipt(session: AsyncSession, payment_id: int, estate_id: int, year: int) -> int:
    """Take the next number and write the receipt; on PostgreSQL in one statement, so the counter
    row is locked for that statement and the commit only."""
    params = {"payment_id": payment_id, "estate_id": estate_id, "year": year}
    if is_postgres(session):
        return int((await session.execute(_NUMBER_RECEIPT_POSTGRES, params)).scalar_one())
    # SQLite's write lock (BEGIN IMMEDIATE) already serialises the whole transaction.
    seq = int((await session.execute(_NEXT_SEQ_SQLITE, params)).scalar_one())
    await session.execute(_INSERT_RECEIPT, {**params, "seq": seq})
    return seq


async def issue_receipt(session: AsyncSession, payment_id: int, estate_id: int, received_on: date) -> str:
    """Number the payment's receipt as the last write of its transaction (see :class:`Receipt`)."""
    await session.flush()  # everything else first: the counter is held only from here to commit
    seq = await _number_receipt(session, payment_id, estate_id, received_on.year)
    return receipt_number(received_on.year, seq)
