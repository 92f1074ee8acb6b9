"""Opening balances and opening prepaid credit: ledger entries with the source system as their
basis. A posted entry is never rewritten: a changed amount is a reversal (with its reason) and a
new entry, and only while nothing has been paid or used on the one on record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from feesvc.auth.principal import Principal
from feesvc.billing.rules import due_date
from feesvc.billing.service import charge_key
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS
from feesvc.imports.plan import CHUNK, Plan, Row, Write, cell, owner_on, ownerships_of, unit_of, units_by_ref
from feesvc.imports.rules import Refused
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, entry_rows, insert_entry_rows, lock_units, reversal_of
from feesvc.registry.models import Estate
from feesvc.schemas import period_start

OPENING_BALANCE = "opening_balance"
OPENING_CREDIT = "opening_credit"

# --------------------------------------------------------------------------------------------
# Opening balances and opening credit: ledger entries
# --------------------------------------------------------------------------------------------


async def _ledger_slots(
    session: AsyncSession, estate_id: int, kind: EntryKind, unit_ids: set[int]
) -> tuple[dict[tuple[int, str, str], tuple[LedgerEntry, int]], dict[tuple[int, str, str], int]]:
    """Standing entries of ``kind`` per (unit, item, period) with their open amount, and how many
    were reversed per slot (the next one's re-issue number)."""
    reversal, settling = aliased(LedgerEntry), aliased(LedgerEntry)
    reversed_ = sa_select(col(reversal.id)).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    settled = (
        sa_select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id)
        .scalar_subquery()
    )
    standing: dict[tuple[int, str, str], tuple[LedgerEntry, int]] = {}
    reissues: dict[tuple[int, str, str], int] = defaultdict(int)
    ids = sorted(unit_ids)
    for start in range(0, len(ids), CHUNK):
        query = sa_select(LedgerEntry, reversed_, settled).where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind) == kind,
            col(LedgerEntry.unit_id).in_(ids[start : start + CHUNK]),
        )
        for entry, was_reversed, settled_fen in (await session.execute(query)).all():
            slot = (entry.unit_id, entry.item or "", entry.period or "")
            if was_reversed:
                reissues[slot] += 1
            else:
                standing[slot] = (entry, entry.amount_fen + int(settled_fen or 0))
    return standing, reissues


async def plan_balances(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["balances"]
    units = await units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = unit_of(plan, kind, n, cells, units)
        period = cell(plan, kind, n, cells, "period", partial(rules.past_period, today=today))
        item = cell(plan, kind, n, cells, "item", rules.required)
        fen = cell(plan, kind, n, cells, "amount", rules.yuan_to_fen)
        source = cell(plan, kind, n, cells, "source", rules.required)
        if item is not None and len(item) > 40:
            plan.refuse(n, "收费项目", Refused("收费项目最长40个字符", "the item is longer than 40 characters"))
            continue
        if unit is not None and None not in (period, item, fen, source):
            parsed.append((n, unit, period, item, fen, source[:200]))
    unit_ids = {p[1] for p in parsed}
    held = await ownerships_of(session, unit_ids)
    standing, reissues = await _ledger_slots(session, estate.id or 0, EntryKind.charge, unit_ids)
    seen: dict[tuple[int, str, str], int] = {}
    new: list[dict[str, Any]] = []
    for n, unit, period, item, fen, source in parsed:
        slot = (unit, item, period)
        if slot in seen:
            plan.refuse(
                n,
                "期间",
                Refused(
                    f"重复（与第{seen[slot]}行的房屋、期间、项目相同）",
                    f"duplicate (same unit, period and item as row {seen[slot]})",
                ),
            )
            continue
        seen[slot] = n
        start = period_start(period)
        owner_id = owner_on(held.get(unit, []), start)
        if owner_id is None:
            plan.refuse(
                n,
                "期间",
                Refused(
                    "该期间首日没有业主（请先导入产权）",
                    "no owner on the period's first day (import the ownerships first)",
                ),
            )
            continue
        row = {
            "estate_id": estate.id,
            "unit_id": unit,
            "owner_id": owner_id,
            "kind": EntryKind.charge.value,
            "amount_fen": fen,
            "effective_date": start,
            "period": period,
            "period_months": 1,
            "item": item,
            "due_date": due_date(start, estate.due_day),
            "actor": "",
            "reason": None,
            "detail": {"basis": OPENING_BALANCE, "source": source},
        }
        if not _entry_plan(
            plan,
            n,
            "欠费金额",
            slot,
            row,
            standing,
            reissues,
            fen,
            new,
            today,
            partial(charge_key, unit, item, period),
            ("期初欠费更正（重新导入）", "opening balance corrected by a new import"),
        ):
            continue
    plan.created += len(new)
    if new:
        plan.writes.append(_insert_entries(new))


def _entry_plan(
    plan: Plan,
    n: int,
    column: str,
    slot: tuple[int, str, str],
    row: dict[str, Any],
    standing: dict[tuple[int, str, str], tuple[LedgerEntry, int]],
    reissues: dict[tuple[int, str, str], int],
    fen: int,
    new: list[dict[str, Any]],
    today: date,
    key: Callable[[int], str],
    reason: tuple[str, str],
) -> bool:
    """An opening entry: new, the same as on record (nothing to do), or a correction (a reversal of
    the one on record, which must still be wholly open, and a new entry)."""
    found = standing.get(slot)
    basis = row["detail"]["basis"]
    if found is not None:
        entry, open_fen = found
        if (entry.detail or {}).get("basis") != basis:
            plan.refuse(
                n,
                column,
                Refused(
                    "本系统已为该房屋、期间、项目开单，不能再导入期初数",
                    "feesvc already charged this unit, period and item: no opening balance",
                ),
            )
            return False
        if entry.amount_fen == row["amount_fen"] and entry.effective_date == row["effective_date"]:
            plan.unchanged += 1
            return True
        if open_fen != entry.amount_fen:
            plan.refuse(
                n,
                column,
                Refused(
                    "原导入的金额已有收款或抵扣，不能更正，请在前台处理",
                    "the amount imported before has been paid in part: correct it at the desk",
                ),
            )
            return False
        plan.reversed += 1
        plan.updated += 1
        reissues[slot] += 1
        plan.writes.append(_reverse(entry, today, f"{reason[0]} / {reason[1]}"))
        plan.created -= 1  # counted below as created; it is an update
    new.append({**row, "dedupe_key": key(reissues[slot])})
    return True


def _reverse(entry: LedgerEntry, today: date, reason: str) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        append(session, [reversal_of(entry, today, actor, reason)])

    return write


def _insert_entries(rows: list[dict[str, Any]]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        await lock_units(session, sorted({r["unit_id"] for r in rows}))
        for row in rows:
            row["actor"] = actor.label
        await session.flush()  # the reversals first: a re-issue's key is free only beside its reversal
        await insert_entry_rows(session, entry_rows(rows))

    return write


async def plan_credits(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["credits"]
    units = await units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = unit_of(plan, kind, n, cells, units)
        fen = cell(plan, kind, n, cells, "amount", rules.yuan_to_fen)
        on = cell(plan, kind, n, cells, "as_of", partial(rules.past_day, today=today))
        source = cell(plan, kind, n, cells, "source", rules.required)
        if unit is not None and None not in (fen, on, source):
            parsed.append((n, unit, fen, on, source[:200]))
    unit_ids = {p[1] for p in parsed}
    held = await ownerships_of(session, unit_ids)
    standing, reissues = await _ledger_slots(session, estate.id or 0, EntryKind.prepaid_credit, unit_ids)
    standing = {k: v for k, v in standing.items() if (v[0].detail or {}).get("basis") == OPENING_CREDIT}
    seen: dict[int, int] = {}
    new: list[dict[str, Any]] = []
    for n, unit, fen, on, source in parsed:
        if unit in seen:
            plan.refuse(
                n, "房号", Refused(f"重复（与第{seen[unit]}行同一房屋）", f"duplicate unit (as row {seen[unit]})")
            )
            continue
        seen[unit] = n
        owner_id = owner_on(held.get(unit, []), on)
        if owner_id is None:
            plan.refuse(
                n,
                "余额日期",
                Refused("该日没有业主（请先导入产权）", "no owner on that day (import the ownerships first)"),
            )
            continue
        slot = (unit, "", "")
        row = {
            "estate_id": estate.id,
            "unit_id": unit,
            "owner_id": owner_id,
            "kind": EntryKind.prepaid_credit.value,
            "amount_fen": -fen,
            "effective_date": on,
            "actor": "",
            "reason": None,
            "detail": {"basis": OPENING_CREDIT, "source": source},
        }
        _entry_plan(
            plan,
            n,
            "预存余额",
            slot,
            row,
            standing,
            reissues,
            fen,
            new,
            today,
            partial(credit_key, unit),
            ("期初预存更正（重新导入）", "opening credit corrected by a new import"),
        )
    plan.created += len(new)
    if new:
        plan.writes.append(_insert_entries(new))


def credit_key(unit_id: int, reissue: int) -> str:
    """The dedupe key of a unit's opening credit (``#n``: the n-th after as many reversals)."""
    return f"opening-credit:{unit_id}#{reissue}" if reissue else f"opening-credit:{unit_id}"
