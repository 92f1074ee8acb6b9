"""Opening prepaid credit: one entry per owner and unit, with the source system as its basis; a
changed amount is a reversal (with its reason) and a new entry (``feesvc.imports.opening``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS
from feesvc.imports.opening import (
    OPENING_CREDIT,
    Cells,
    estate_ownerships,
    named_owner,
    owner_on,
    plan_corrections,
    standing_entries,
    unit_ids_by_ref,
    unit_of,
    yuan,
)
from feesvc.imports.plan import Plan, Row, Write
from feesvc.imports.rules import Refused
from feesvc.ledger.models import EntryKind
from feesvc.ledger.service import entry_rows, insert_entry_rows, lock_many_units
from feesvc.registry.models import Estate


async def plan_credits(session: AsyncSession, estate: Estate, rows: Iterator[Row], plan: Plan, today: date) -> None:
    kind = KINDS["credits"]
    estate_id = estate.id or 0
    units = await unit_ids_by_ref(session, estate_id)
    spans, owners = await estate_ownerships(session, estate_id)
    standing, reissues, _ = await standing_entries(session, estate_id, EntryKind.prepaid_credit)
    seen: dict[tuple[int, int], int] = {}
    new: list[dict[str, Any]] = []
    corrections: list[tuple[int, int]] = []
    for n, cells in rows:
        row = Cells(plan, kind, n, cells)
        unit = unit_of(row, units)
        fen = row.get("amount", yuan)
        on = row.get("as_of", rules.past_day, today)
        source = row.get("source", rules.required)
        named = named_owner(row, owners)
        if not row.ok or unit is None:
            continue
        unit_spans = spans.get(unit, [])
        owner = owner_on(unit_spans, on) if named is None else named
        if owner is None or not any(o == owner for o, _, _ in unit_spans):
            row.refuse(
                "余额日期",
                Refused("该日没有业主（请先导入产权）", "no owner on that day (import the ownerships first)"),
            )
            continue
        if (unit, owner) in seen:
            row.refuse(
                "房号",
                Refused(
                    f"重复（与第{seen[(unit, owner)]}行同一房屋、业主）",
                    f"duplicate unit and owner (as row {seen[(unit, owner)]})",
                ),
            )
            continue
        seen[(unit, owner)] = n
        slot = (unit, "", "", owner)
        found = standing.get(slot)
        if found is not None:
            if found[1] == -fen and found[2] == on:
                plan.unchanged += 1
                continue
            corrections.append((found[0], n))
        new.append(
            {
                "estate_id": estate_id,
                "unit_id": unit,
                "owner_id": owner,
                "kind": EntryKind.prepaid_credit.value,
                "amount_fen": -fen,
                "effective_date": on,
                "actor": "",
                "reason": None,
                "detail": {"basis": OPENING_CREDIT, "source": source[:200]},
                "dedupe_key": credit_key(unit, reissues.get(slot, 0) + (found is not None), owner),
            }
        )
    if plan.problems:
        return
    await plan_corrections(session, plan, corrections, today)
    plan.created += len(new) - len(corrections)
    plan.updated += len(corrections)
    if new:
        plan.writes.append(_insert_credits(new))


def _insert_credits(rows: list[dict[str, Any]]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        await lock_many_units(session, [r["unit_id"] for r in rows])
        for row in rows:
            row["actor"] = actor.label
        await insert_entry_rows(session, entry_rows(rows))

    return write


def credit_key(unit_id: int, reissue: int, owner_id: int) -> str:
    """The dedupe key of an owner's opening credit at a unit (``#n``: the n-th after as many reversals)."""
    key = f"opening-credit:{unit_id}:o{owner_id}"
    return f"{key}#{reissue}" if reissue else key
