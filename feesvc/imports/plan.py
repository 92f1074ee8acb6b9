"""What an import plans while it checks a file: the problems found and the writes to make."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.imports.kinds import ImportKind
from feesvc.imports.reader import Sheet
from feesvc.imports.rules import Problem, Refused
from feesvc.registry.models import Building, Estate, Ownership, Unit

CHUNK = 5_000  # rows a statement reads or writes at a time

# A deferred write: planned while checking, run only when the whole file passed.
Write = Callable[[AsyncSession, Principal], Awaitable[None]]
Row = tuple[int, dict[str, str]]
Planner = Callable[[AsyncSession, Estate, list[Row], "Plan", date], Awaitable[None]]


@dataclass
class Plan:
    sheet: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reversed: int = 0
    problems: list[Problem] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def refuse(self, row: int, column: str, reason: Refused) -> None:
        self.problems.append(Problem(self.sheet, row, column, reason.zh, reason.en))


def rows_of(kind: ImportKind, sheet: Sheet, plan: Plan) -> list[Row]:
    """Each row as {field key: text}, with its spreadsheet row number; a missing column is a problem."""
    names = {h.strip().lower(): i for i, h in enumerate(sheet.header) if h and h.strip()}
    where: dict[str, int] = {}
    for f in kind.fields:
        index = names.get(f.zh.lower(), names.get(f.en.lower()))
        if index is not None:
            where[f.key] = index
        elif f.required:
            plan.refuse(1, f.zh, Refused(f"缺少“{f.zh}”列", f"the column {f.en!r} ({f.zh}) is missing"))
    out = []
    for n, cells in enumerate(sheet.rows, start=2):
        if not any(c.strip() for c in cells):
            continue
        out.append((n, {k: cells[i] if i < len(cells) else "" for k, i in where.items()}))
    plan.rows = len(out)
    return out


def column_of(kind: ImportKind, key: str) -> str:
    return next(f.zh for f in kind.fields if f.key == key)


def cell(plan: Plan, kind: ImportKind, row: int, cells: dict[str, str], key: str, parse: Callable[[str], Any]) -> Any:
    """The parsed cell, or None with the problem recorded."""
    try:
        return parse(cells.get(key, ""))
    except Refused as reason:
        plan.refuse(row, column_of(kind, key), reason)
        return None


async def units_by_ref(session: AsyncSession, estate_id: int) -> dict[tuple[str, str], Unit]:
    query = (
        select(Unit, Building.name)
        .join(Building, col(Building.id) == Unit.building_id)
        .where(Unit.estate_id == estate_id)
    )
    return {(name, unit.number): unit for unit, name in (await session.execute(query)).all()}


def unit_of(
    plan: Plan, kind: ImportKind, n: int, cells: dict[str, str], units: dict[tuple[str, str], Unit]
) -> int | None:
    """The id of the row's unit (building and number), or None with the problem recorded."""
    ref = (cells.get("building", "").strip(), cells.get("number", "").strip())
    found = units.get(ref)
    unit = found.id if found is not None else None
    if unit is None:
        plan.refuse(
            n, "房号", Refused("未知房屋：该楼栋下没有此房号（请先导入房屋）", "unknown unit: import the units first")
        )
    return unit


async def ownerships_of(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, list[Ownership]]:
    found: dict[int, list[Ownership]] = defaultdict(list)
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), CHUNK):
        query = select(Ownership).where(col(Ownership.unit_id).in_(ids[start : start + CHUNK]))
        for o in (await session.execute(query)).scalars():
            found[o.unit_id].append(o)
    return found


def owner_on(spans: list[Ownership], day: date) -> int | None:
    for o in spans:
        if o.starts_on <= day and (o.ends_on is None or o.ends_on >= day):
            return o.owner_id
    return None


def add_all(objects: list[Any]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        for start in range(0, len(objects), CHUNK):
            session.add_all(objects[start : start + CHUNK])
            await session.flush()

    return write
