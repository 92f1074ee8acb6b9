"""An estate as import files (feesvc.imports): its units, owners, ownerships, the charges open on a
day as opening balances and the prepaid credit held as opening credit. What moves an estate to
another feesvc database, and what proves an import round trip keeps balances and aging."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from feesvc.exports.service import prepaid_credit
from feesvc.imports.kinds import KINDS
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit

SOURCE = "feesvc"


def _book(kind: str, rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = KINDS[kind].zh
    sheet.append([f.zh for f in KINDS[kind].fields])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


async def import_files(session: AsyncSession, estate: Estate, as_of: date) -> dict[str, bytes]:
    """One .xlsx per import kind, in the order they are imported. Opening balances are the charges
    open at the end of ``as_of`` (late fees are left out: the new system accrues its own)."""
    assert estate.id is not None
    units = (
        await session.execute(
            sa_select(col(Building.name), col(Unit.number), col(Unit.floor_area_m2), col(Unit.use), col(Unit.id))
            .join(Building, col(Building.id) == Unit.building_id)
            .where(col(Unit.estate_id) == estate.id)
            .order_by(col(Building.name), col(Unit.number))
        )
    ).all()
    ref = {unit_id: (b, n) for b, n, _, _, unit_id in units}
    held = (
        await session.execute(
            sa_select(Ownership, Owner)
            .join(Owner, col(Owner.id) == Ownership.owner_id)
            .where(col(Ownership.unit_id).in_(list(ref)))
            .order_by(col(Ownership.unit_id), col(Ownership.starts_on))
        )
    ).all()
    owners = {o.id: o for _, o in held}
    settling = aliased(LedgerEntry)
    settled = (
        sa_select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id, col(settling.effective_date) <= as_of)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    open_fen = col(LedgerEntry.amount_fen) + settled
    debts = (
        await session.execute(
            sa_select(col(LedgerEntry.unit_id), col(LedgerEntry.period), col(LedgerEntry.item), open_fen)
            .where(
                col(LedgerEntry.estate_id) == estate.id,
                col(LedgerEntry.kind) == EntryKind.charge,
                col(LedgerEntry.effective_date) <= as_of,
                open_fen > 0,
            )
            .order_by(col(LedgerEntry.unit_id), col(LedgerEntry.period))
        )
    ).all()
    credits = await prepaid_credit(session, estate.id, as_of)
    return {
        "units": _book("units", [[b, n, format(area, "f"), use.value] for b, n, area, use, _ in units]),
        "owners": _book(
            "owners",
            [[o.name, o.phone, o.id_number, o.postal_address, o.preferred_channel.value] for o in owners.values()],
        ),
        "ownerships": _book(
            "ownerships",
            [
                [*ref[s.unit_id], o.name, o.phone, s.starts_on.isoformat(), s.ends_on.isoformat() if s.ends_on else ""]
                for s, o in held
            ],
        ),
        "balances": _book(
            "balances", [[*ref[u], period, item, _yuan(int(fen)), SOURCE] for u, period, item, fen in debts]
        ),
        "credits": _book("credits", [[b, n, _yuan(fen), as_of.isoformat(), SOURCE] for b, n, _, fen in credits]),
    }
