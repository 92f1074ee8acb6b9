"""Imports: every row of a file checked first, then (with no problem, and not a dry run) everything
written in one transaction. Rows are matched on their natural keys (building and unit number; an
owner's name and phone; unit, owner and start; unit, item and period), so a file imported again
changes nothing, and a changed registry row is updated with an audit entry. A posted ledger entry is
never rewritten: a changed opening balance or credit is a reversal (with its reason) and a new entry."""

from __future__ import annotations

import hashlib
from datetime import date

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import analyze
from feesvc.errors import DomainError, FieldError
from feesvc.imports.credits import plan_credits
from feesvc.imports.kinds import KINDS, ImportKind
from feesvc.imports.opening import plan_balances
from feesvc.imports.plan import Plan, Planner, rows_of
from feesvc.imports.reader import read
from feesvc.imports.registry_rows import plan_owners, plan_ownerships, plan_units
from feesvc.imports.rules import Refused
from feesvc.registry.models import Estate

# Past this many rows, refresh the planner's statistics of the tables written (PostgreSQL;
# feesvc.db.analyze): until autovacuum gets to them, freshly filled tables look empty to the planner.
ANALYZE_AFTER = 1_000
FILLS = {
    "units": ["unit"],
    "owners": ["owner"],
    "ownerships": ["ownership"],
    "balances": ["ledger_entry", "limitation_event"],
    "credits": ["ledger_entry"],
}


class ProblemOut(msgspec.Struct):
    sheet: str
    row: int
    column: str
    reason_zh: str
    reason_en: str


class ImportResult(msgspec.Struct):
    kind: str
    file_sha256: str
    rows: int
    created: int
    updated: int
    unchanged: int
    reversed: int  # ledger entries reversed by a corrected opening balance or credit
    dry_run: bool
    written: bool
    problems: list[ProblemOut]


class ImportRefused(DomainError):
    """A file with problems: nothing was written; every problem is listed."""

    status_code = 422
    title = "The file cannot be imported"

    def __init__(self, result: ImportResult) -> None:
        errors = [
            FieldError(f"{p.sheet}!{p.column} row {p.row}", f"{p.reason_zh} / {p.reason_en}") for p in result.problems
        ]
        super().__init__(f"{len(result.problems)} problems in the file; nothing was written", errors=errors)
        self.result = result


class UnknownKind(DomainError):
    status_code = 404
    title = "Not found"


def kind_of(name: str) -> ImportKind:
    if name not in KINDS:
        raise UnknownKind(f"no import {name!r}: send one of {', '.join(KINDS)}", field="kind")
    return KINDS[name]


PLANNERS: dict[str, Planner] = {
    "units": plan_units,
    "owners": plan_owners,
    "ownerships": plan_ownerships,
    "balances": plan_balances,
    "credits": plan_credits,
}


async def run_import(
    session: AsyncSession,
    actor: Principal,
    estate: Estate,
    kind_name: str,
    filename: str,
    content: bytes,
    *,
    dry_run: bool,
    today: date,
    commit: bool = True,
) -> ImportResult:
    """Check every row; with no problem and not a dry run, write it all in one transaction.
    Raises :class:`ImportRefused` (nothing written) when any row has a problem. ``commit=False``
    leaves the transaction open (the caller's: several files checked as one move, then rolled back)."""
    kind = kind_of(kind_name)
    sha = hashlib.sha256(content).hexdigest()
    try:
        sheet = read(filename, content)
    except Refused as reason:
        plan = Plan(filename)
        plan.refuse(1, "", reason)
    else:
        plan = Plan(sheet.name, actor=None if dry_run else actor)
        rows = rows_of(kind, sheet, plan)
        if not plan.problems:
            await PLANNERS[kind.name](session, estate, rows, plan, today)
    problems = [ProblemOut(p.sheet, p.row, p.column, p.zh, p.en) for p in sorted(plan.problems, key=lambda p: p.row)]
    result = ImportResult(
        kind.name, sha, plan.rows, plan.created, plan.updated, plan.unchanged, plan.reversed, dry_run, False, problems
    )
    if problems:
        await session.rollback()
        raise ImportRefused(result)
    if dry_run or not plan.writes:
        if commit:
            await session.rollback()
        return result
    for write in plan.writes:
        await write(session, actor)
    await record_audit(
        session,
        actor,
        f"import.{kind.name}",
        "estate",
        estate.id,
        {
            "file_sha256": sha,
            "rows": plan.rows,
            "created": plan.created,
            "updated": plan.updated,
            "unchanged": plan.unchanged,
            "reversed": plan.reversed,
        },
    )
    if not commit:
        await session.flush()
        return msgspec.structs.replace(result, written=True)
    await session.commit()
    if plan.created + plan.updated >= ANALYZE_AFTER:
        await analyze(session, FILLS[kind.name])
    return msgspec.structs.replace(result, written=True)
