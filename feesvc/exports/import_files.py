"""An estate as import files (feesvc.imports): its units, owners, ownerships, the charges open on a
day as opening balances and the prepaid credit held as opening credit. What moves an estate to
another feesvc database, and what proves an import round trip keeps balances, aging and limitation."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from feesvc.evidence.limitation import limitation_status
from feesvc.imports.estate import estate_file
from feesvc.imports.kinds import KINDS
from feesvc.ledger.limitation import InterruptionKind
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.limitation.watch import recorded_interruptions
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit

SOURCE = "feesvc"


def _book(kind: str, rows: list[dict[str, Any]]) -> bytes:
    """The import's sheet: its headers, and each row's cells by field (a missing one empty)."""
    fields = KINDS[kind].fields
    book = Workbook(write_only=True)
    sheet = book.create_sheet(KINDS[kind].zh)
    sheet.append([f.zh for f in fields])
    for row in rows:
        sheet.append([row.get(f.key, "") for f in fields])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


INTERRUPTION_NAMES = {
    InterruptionKind.demand_delivered: "催告送达",
    InterruptionKind.acknowledgement: "书面确认",
    InterruptionKind.part_payment: "部分付款",
    InterruptionKind.legal_action: "起诉",
}


async def import_files(session: AsyncSession, estate: Estate, as_of: date) -> dict[str, bytes]:
    """One .xlsx per import kind, in the order they are imported, as the estate stands at the end
    of ``as_of``: each owner's open charges as opening balances (with the late fee open on them,
    what was received of them, and the last interruption of their period's limitation), and each
    owner's prepaid credit. Imported, they give the same balances, aging and limitation analysis
    on that day, and feesvc's late fees run on from it."""
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
    open_fen = _open_at(as_of)
    debits = (
        await session.execute(
            sa_select(
                col(LedgerEntry.id),
                col(LedgerEntry.kind),
                col(LedgerEntry.basis_entry_id),
                col(LedgerEntry.unit_id),
                col(LedgerEntry.owner_id),
                col(LedgerEntry.period),
                col(LedgerEntry.item),
                col(LedgerEntry.due_date),
                col(LedgerEntry.amount_fen),
                open_fen,
            )
            .where(
                col(LedgerEntry.estate_id) == estate.id,
                col(LedgerEntry.kind).in_([EntryKind.charge, EntryKind.late_fee]),
                col(LedgerEntry.effective_date) <= as_of,
            )
            .order_by(col(LedgerEntry.unit_id), col(LedgerEntry.period), col(LedgerEntry.id))
        )
    ).all()
    late: dict[int, int] = defaultdict(int)
    for _, kind, basis, *_rest, fen in debits:
        if kind == EntryKind.late_fee and basis is not None:
            late[basis] += int(fen)
    charges = [d for d in debits if d[1] == EntryKind.charge and (d[9] > 0 or late.get(d[0], 0) > 0)]
    found = await recorded_interruptions(session, sorted({d[3] for d in charges}), as_of)
    balances = []
    for entry_id, _, _, unit_id, owner_id, period, item, due, amount, fen in charges:
        last = None
        if owner_id is not None and due is not None:
            events = found.get((unit_id, owner_id), {}).get(period or "", [])
            last = limitation_status(due, events, as_of).last_interruption
        late_fen = late.get(entry_id, 0)
        balances.append(
            {
                "building": ref[unit_id][0],
                "number": ref[unit_id][1],
                "period": period,
                "item": item,
                "due_date": due.isoformat() if due else "",
                "amount": _yuan(int(fen)),
                "charged": _yuan(amount) if amount != fen else "",
                "source": SOURCE,
                **_owner(owners.get(owner_id or 0)),
                "late_fee": _yuan(late_fen) if late_fen else "",
                "as_of": as_of.isoformat(),
                "interrupted_on": last.on.isoformat() if last else "",
                "interruption": INTERRUPTION_NAMES[last.kind] if last else "",
            }
        )
    return {
        "units": _book(
            "units",
            [{"building": b, "number": n, "area": format(area, "f"), "use": use.value} for b, n, area, use, _ in units],
        ),
        "owners": _book(
            "owners",
            [
                {
                    "name": o.name,
                    "phone": o.phone,
                    "id_number": o.id_number,
                    "postal_address": o.postal_address,
                    "channel": o.preferred_channel.value,
                }
                for o in owners.values()
            ],
        ),
        "ownerships": _book(
            "ownerships",
            [
                {
                    "building": ref[s.unit_id][0],
                    "number": ref[s.unit_id][1],
                    "name": o.name,
                    "phone": o.phone,
                    "starts_on": s.starts_on.isoformat(),
                    "ends_on": s.ends_on.isoformat() if s.ends_on else "",
                }
                for s, o in held
            ],
        ),
        "balances": _book("balances", balances),
        "credits": _book(
            "credits",
            [
                {
                    "building": ref[unit_id][0],
                    "number": ref[unit_id][1],
                    "amount": _yuan(fen),
                    "as_of": as_of.isoformat(),
                    "source": SOURCE,
                    **_owner(owners.get(owner_id)),
                }
                for unit_id, owner_id, fen in await _credits(session, estate.id, as_of)
            ],
        ),
    }


def _owner(owner: Owner | None) -> dict[str, str]:
    return {"owner_name": owner.name, "owner_phone": owner.phone} if owner is not None else {}


def _open_at(as_of: date) -> Any:
    """An entry's amount and what settled it by the end of ``as_of``."""
    settling = aliased(LedgerEntry)
    settled = (
        sa_select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id, col(settling.effective_date) <= as_of)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    return col(LedgerEntry.amount_fen) + settled


async def _credits(session: AsyncSession, estate_id: int, as_of: date) -> list[tuple[int, int, int]]:
    """(unit, owner, fen) of the prepaid credit each owner holds at a unit at the end of ``as_of``."""
    held = (-func.sum(_open_at(as_of))).label("fen")
    rows = await session.execute(
        sa_select(col(LedgerEntry.unit_id), col(LedgerEntry.owner_id), held)
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind) == EntryKind.prepaid_credit,
            col(LedgerEntry.effective_date) <= as_of,
        )
        .group_by(col(LedgerEntry.unit_id), col(LedgerEntry.owner_id))
        .order_by(col(LedgerEntry.unit_id), col(LedgerEntry.owner_id))
    )
    return [(unit_id, owner_id or 0, int(fen)) for unit_id, owner_id, fen in rows.all() if fen]


async def import_folder(session: AsyncSession, estate: Estate, as_of: date) -> dict[str, bytes]:
    """File name → content of the estate's set-up (estate.json, ``feesvc.imports.estate``) and its
    five import files: what ``feesvc import estate`` and ``feesvc import all`` load."""
    files = {"estate.json": await estate_file(session, estate)}
    files |= {f"{kind}.xlsx": content for kind, content in (await import_files(session, estate, as_of)).items()}
    return files


def write_folder(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]
