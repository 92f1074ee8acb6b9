"""What an import plans while it checks a file: the problems found and the writes to make."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.db import is_postgres
from feesvc.imports.kinds import ImportKind
from feesvc.imports.reader import Sheet
from feesvc.imports.rules import Problem, Refused
from feesvc.ledger.service import copy_records
from feesvc.registry.models import Estate

CHUNK = 5_000  # rows a statement reads or writes at a time

# A deferred write: planned while checking, run only when the whole file passed.
Write = Callable[[AsyncSession, Principal], Awaitable[None]]
Row = tuple[int, dict[str, str]]
Planner = Callable[[AsyncSession, Estate, Iterator[Row], "Plan", date], Awaitable[None]]


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
    # Who writes, when the import is not a dry run: a planner may write while it checks (rolled
    # back if any problem is found), as the balances do.
    actor: Principal | None = None

    def refuse(self, row: int, column: str, reason: Refused) -> None:
        self.problems.append(Problem(self.sheet, row, column, reason.zh, reason.en))


def rows_of(kind: ImportKind, sheet: Sheet, plan: Plan) -> Iterator[Row]:
    """Each row as {field key: text}, with its spreadsheet row number, as it is read (``plan.rows``
    counts them); a missing column is a problem, found before any row is read."""
    names = {h.strip().lower(): i for i, h in enumerate(sheet.header) if h and h.strip()}
    where: dict[str, int] = {}
    for f in kind.fields:
        index = names.get(f.zh.lower(), names.get(f.en.lower()))
        if index is not None:
            where[f.key] = index
        elif f.required:
            plan.refuse(1, f.zh, Refused(f"缺少“{f.zh}”列", f"the column {f.en!r} ({f.zh}) is missing"))
    return _rows(sheet, where, plan)


def _rows(sheet: Sheet, where: dict[str, int], plan: Plan) -> Iterator[Row]:
    keys, indexes = list(where), list(where.values())
    width = max(indexes, default=-1) + 1
    for n, cells in enumerate(sheet.rows, start=2):
        if not (cells and cells[0].strip()) and not any(map(str.strip, cells)):
            continue  # a blank line
        plan.rows += 1
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield n, dict(zip(keys, [cells[i] for i in indexes], strict=True))


def column_of(kind: ImportKind, key: str) -> str:
    return next(f.zh for f in kind.fields if f.key == key)


def cell(plan: Plan, kind: ImportKind, row: int, cells: dict[str, str], key: str, parse: Callable[[str], Any]) -> Any:
    """The parsed cell, or None with the problem recorded."""
    try:
        return parse(cells.get(key, ""))
    except Refused as reason:
        plan.refuse(row, column_of(kind, key), reason)
        return None


def insert_all(model: Any, rows: list[dict[str, Any]]) -> Write:
    """New registry rows, no entity per row: by COPY in the import's transaction on PostgreSQL
    (values converted as an INSERT would send them), by batches of executemany on SQLite."""
    table = model.__table__

    async def write(session: AsyncSession, actor: Principal) -> None:
        if not is_postgres(session):
            for start in range(0, len(rows), CHUNK):
                await session.execute(insert(table), rows[start : start + CHUNK])
            return
        connection = await session.connection()
        dialect = connection.dialect
        names = list(rows[0])
        convert = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        records = (
            tuple(value if process is None else process(value) for value, process in zip(values, convert, strict=True))
            for values in (itemgetter(*names)(row) for row in rows)
        )
        await copy_records(connection, table.name, names, records)

    return write
