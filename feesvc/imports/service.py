"""Imports: every row of a file checked first, then (with no problem, and not a dry run) everything
written in one transaction. Rows are matched on their natural keys (building and unit number; an
owner's name and phone; unit, owner and start; unit, item and period), so a file imported again
changes nothing, and a changed registry row is updated with an audit entry. A posted ledger entry is
never rewritten: a changed opening balance or credit is a reversal (with its reason) and a new entry."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.billing.rules import due_date
from feesvc.billing.service import charge_key
from feesvc.db import analyze
from feesvc.errors import DomainError, FieldError
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS, ImportKind
from feesvc.imports.reader import Sheet, read
from feesvc.imports.rules import Problem, Refused
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, entry_rows, insert_entry_rows, lock_units, reversal_of
from feesvc.registry.models import Building, Channel, Estate, Owner, Ownership, Unit, UnitUse
from feesvc.schemas import period_start

OPENING_BALANCE = "opening_balance"
OPENING_CREDIT = "opening_credit"
CHUNK = 5_000
# Past this many rows, refresh the planner's statistics after writing (PostgreSQL; feesvc.db.analyze).
ANALYZE_AFTER = 1_000

Write = Callable[[AsyncSession, Principal], Awaitable[None]]


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


def kind_of(name: str) -> ImportKind:
    if name not in KINDS:
        raise UnknownKind(f"no import {name!r}: send one of {', '.join(KINDS)}", field="kind")
    return KINDS[name]


Row = tuple[int, dict[str, str]]


def _rows(kind: ImportKind, sheet: Sheet, plan: Plan) -> list[Row]:
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


def _column(kind: ImportKind, key: str) -> str:
    return next(f.zh for f in kind.fields if f.key == key)


def _cell(plan: Plan, kind: ImportKind, row: int, cells: dict[str, str], key: str, parse: Callable[[str], Any]) -> Any:
    """The parsed cell, or None with the problem recorded."""
    try:
        return parse(cells.get(key, ""))
    except Refused as reason:
        plan.refuse(row, _column(kind, key), reason)
        return None


async def _units_by_ref(session: AsyncSession, estate_id: int) -> dict[tuple[str, str], Unit]:
    query = (
        select(Unit, Building.name)
        .join(Building, col(Building.id) == Unit.building_id)
        .where(Unit.estate_id == estate_id)
    )
    return {(name, unit.number): unit for unit, name in (await session.execute(query)).all()}


def _unit(
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


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


async def plan_units(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["units"]
    buildings = {
        b.name: b
        for b in (await session.execute(select(Building).where(col(Building.estate_id) == estate.id))).scalars()
    }
    existing = await _units_by_ref(session, estate.id or 0)
    seen: dict[tuple[str, str], int] = {}
    new: list[Unit] = []
    for n, cells in rows:
        name = _cell(plan, kind, n, cells, "building", rules.required)
        number = _cell(plan, kind, n, cells, "number", rules.required)
        area = _cell(plan, kind, n, cells, "area", rules.positive_area)
        use = _cell(plan, kind, n, cells, "use", rules.unit_use)
        if name is not None and name not in buildings:
            plan.refuse(
                n,
                "楼栋",
                Refused("未知楼栋：请先在系统中建立该楼栋", "unknown building: create it in the estate first"),
            )
            continue
        if name is None or number is None:
            continue
        if len(number) > 40:
            plan.refuse(n, "房号", Refused("房号最长40个字符", "the unit number is longer than 40 characters"))
            continue
        if (name, number) in seen:
            plan.refuse(
                n,
                "房号",
                Refused(
                    f"房号重复（与第{seen[(name, number)]}行相同）",
                    f"duplicate unit (the same as row {seen[(name, number)]})",
                ),
            )
            continue
        seen[(name, number)] = n
        if area is None or use is None:
            continue
        unit = existing.get((name, number))
        if unit is None:
            new.append(
                Unit(
                    estate_id=estate.id or 0,
                    building_id=buildings[name].id or 0,
                    number=number,
                    floor_area_m2=area,
                    use=UnitUse(use),
                )
            )
        elif unit.floor_area_m2 != area or unit.use != use:
            plan.updated += 1
            plan.writes.append(_update_unit(unit, area, UnitUse(use)))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(_add_all(new))


def _add_all(objects: list[Any]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        for start in range(0, len(objects), CHUNK):
            session.add_all(objects[start : start + CHUNK])
            await session.flush()

    return write


def _update_unit(unit: Unit, area: Decimal, use: UnitUse) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        before = {"area": str(unit.floor_area_m2), "use": unit.use.value}
        unit.floor_area_m2, unit.use = area, use
        await record_audit(
            session,
            actor,
            "unit.update",
            "unit",
            unit.id,
            {"by": "import", "before": before, "after": {"area": str(area), "use": use.value}},
        )

    return write


# --------------------------------------------------------------------------------------------
# Owners
# --------------------------------------------------------------------------------------------


async def _owners_by_key(session: AsyncSession, phones: Iterable[str]) -> dict[tuple[str, str], Owner]:
    found: dict[tuple[str, str], Owner] = {}
    wanted = sorted(set(phones))
    for start in range(0, len(wanted), CHUNK):
        query = select(Owner).where(col(Owner.phone).in_(wanted[start : start + CHUNK])).order_by(col(Owner.id))
        for owner in (await session.execute(query)).scalars():
            found.setdefault((owner.name, owner.phone), owner)
    return found


async def plan_owners(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["owners"]
    parsed = []
    for n, cells in rows:
        name = _cell(plan, kind, n, cells, "name", rules.required)
        phone = _cell(plan, kind, n, cells, "phone", rules.mobile)
        channel = _cell(plan, kind, n, cells, "channel", rules.channel)
        id_number = cells.get("id_number", "").strip()
        address = cells.get("postal_address", "").strip()
        if name is not None and len(name) > 100:
            plan.refuse(n, "姓名", Refused("姓名最长100个字符", "the name is longer than 100 characters"))
            continue
        if len(id_number) > 40 or len(address) > 400:
            plan.refuse(
                n,
                "证件号码" if len(id_number) > 40 else "联系地址",
                Refused("内容过长", "the value is too long (ID number 40, address 400 characters)"),
            )
            continue
        if None not in (name, phone, channel):
            parsed.append((n, name, phone, channel, id_number, address))
    existing = await _owners_by_key(session, (p[2] for p in parsed))
    seen: dict[tuple[str, str], int] = {}
    new: list[Owner] = []
    for n, name, phone, channel, id_number, address in parsed:
        if (name, phone) in seen:
            plan.refuse(
                n,
                "手机号",
                Refused(
                    f"业主重复（与第{seen[(name, phone)]}行姓名、手机号相同）",
                    f"duplicate owner (same name and phone as row {seen[(name, phone)]})",
                ),
            )
            continue
        seen[(name, phone)] = n
        owner = existing.get((name, phone))
        if owner is None:
            new.append(
                Owner(
                    name=name,
                    phone=phone,
                    id_number=id_number,
                    postal_address=address,
                    preferred_channel=Channel(channel),
                )
            )
            continue
        # An empty cell leaves what is on record.
        change = {
            k: v
            for k, v in (("id_number", id_number), ("postal_address", address), ("preferred_channel", Channel(channel)))
            if v and getattr(owner, k) != v and not (k == "preferred_channel" and not rows_has(rows, n, "channel"))
        }
        if change:
            plan.updated += 1
            plan.writes.append(_update_owner(owner, change))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(_add_all(new))


def rows_has(rows: list[Row], n: int, key: str) -> bool:
    return any(r == n and cells.get(key, "").strip() for r, cells in rows)


def _update_owner(owner: Owner, change: dict[str, Any]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        for key, value in change.items():
            setattr(owner, key, value)
        # Which fields changed, never their values: personal data stays out of the audit log.
        await record_audit(
            session, actor, "owner.update", "owner", owner.id, {"by": "import", "fields": sorted(change)}
        )

    return write


# --------------------------------------------------------------------------------------------
# Ownerships
# --------------------------------------------------------------------------------------------


async def _ownerships(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, list[Ownership]]:
    found: dict[int, list[Ownership]] = defaultdict(list)
    ids = sorted(set(unit_ids))
    for start in range(0, len(ids), CHUNK):
        query = select(Ownership).where(col(Ownership.unit_id).in_(ids[start : start + CHUNK]))
        for o in (await session.execute(query)).scalars():
            found[o.unit_id].append(o)
    return found


async def plan_ownerships(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["ownerships"]
    units = await _units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = _unit(plan, kind, n, cells, units)
        phone = _cell(plan, kind, n, cells, "phone", rules.mobile)
        name = _cell(plan, kind, n, cells, "name", rules.required)
        starts = _cell(plan, kind, n, cells, "starts_on", rules.day)
        ends = _cell(plan, kind, n, cells, "ends_on", rules.optional_day)
        if starts is not None and ends is not None and ends < starts:
            plan.refuse(n, "结束日期", Refused("结束日期早于开始日期", "ends before it starts"))
            continue
        if unit is None or None in (phone, name, starts) or (cells.get("ends_on", "").strip() and ends is None):
            continue
        parsed.append((n, unit, name, phone, starts, ends))
    owners = await _owners_by_key(session, (p[3] for p in parsed))
    held = await _ownerships(session, (p[1] for p in parsed))
    # Per unit, the spans once written: (row or None for one on record, start, end).
    spans: dict[int, list[tuple[int | None, date, date | None]]] = {
        u: [(None, o.starts_on, o.ends_on) for o in rows_] for u, rows_ in held.items()
    }
    for n, unit, name, phone, starts, ends in parsed:
        owner = owners.get((name, phone))
        if owner is None:
            plan.refuse(
                n,
                "业主手机号",
                Refused(
                    "未知业主：没有此姓名和手机号的业主（请先导入业主）",
                    "unknown owner: no owner with this name and phone (import owners first)",
                ),
            )
            continue
        same = next((o for o in held.get(unit, []) if o.owner_id == owner.id and o.starts_on == starts), None)
        if same is not None:
            if same.ends_on == ends:
                plan.unchanged += 1
                continue
            spans[unit] = [s for s in spans[unit] if not (s[0] is None and s[1] == starts)] + [(n, starts, ends)]
            plan.updated += 1
            plan.writes.append(_update_ownership(same, ends))
            continue
        spans.setdefault(unit, []).append((n, starts, ends))
        plan.created += 1
        plan.writes.append(_add_all([Ownership(unit_id=unit, owner_id=owner.id or 0, starts_on=starts, ends_on=ends)]))
    for unit_spans in spans.values():
        for i, j in rules.overlapping([(s, e) for _, s, e in unit_spans]):
            for row, other in ((unit_spans[i][0], unit_spans[j]), (unit_spans[j][0], unit_spans[i])):
                if row is not None:
                    where = f"第{other[0]}行" if other[0] else "系统中已有的产权"
                    where_en = f"row {other[0]}" if other[0] else "an ownership on record"
                    plan.refuse(
                        row,
                        "开始日期",
                        Refused(f"产权期间重叠（与{where}）", f"overlapping ownerships (with {where_en})"),
                    )
    # One problem per row is enough to say what to fix.
    plan.problems = list(dict.fromkeys(plan.problems))


def _update_ownership(ownership: Ownership, ends: date | None) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        before = ownership.ends_on
        ownership.ends_on = ends
        await record_audit(
            session,
            actor,
            "ownership.update",
            "unit",
            ownership.unit_id,
            {
                "by": "import",
                "owner_id": ownership.owner_id,
                "starts_on": ownership.starts_on.isoformat(),
                "ends_on_before": before.isoformat() if before else None,
                "ends_on": ends.isoformat() if ends else None,
            },
        )

    return write


def _owner_on(spans: list[Ownership], day: date) -> int | None:
    for o in spans:
        if o.starts_on <= day and (o.ends_on is None or o.ends_on >= day):
            return o.owner_id
    return None


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
    units = await _units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = _unit(plan, kind, n, cells, units)
        period = _cell(plan, kind, n, cells, "period", partial(rules.past_period, today=today))
        item = _cell(plan, kind, n, cells, "item", rules.required)
        fen = _cell(plan, kind, n, cells, "amount", rules.yuan_to_fen)
        source = _cell(plan, kind, n, cells, "source", rules.required)
        if item is not None and len(item) > 40:
            plan.refuse(n, "收费项目", Refused("收费项目最长40个字符", "the item is longer than 40 characters"))
            continue
        if unit is not None and None not in (period, item, fen, source):
            parsed.append((n, unit, period, item, fen, source[:200]))
    unit_ids = {p[1] for p in parsed}
    held = await _ownerships(session, unit_ids)
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
        owner_id = _owner_on(held.get(unit, []), start)
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
    units = await _units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = _unit(plan, kind, n, cells, units)
        fen = _cell(plan, kind, n, cells, "amount", rules.yuan_to_fen)
        on = _cell(plan, kind, n, cells, "as_of", partial(rules.past_day, today=today))
        source = _cell(plan, kind, n, cells, "source", rules.required)
        if unit is not None and None not in (fen, on, source):
            parsed.append((n, unit, fen, on, source[:200]))
    unit_ids = {p[1] for p in parsed}
    held = await _ownerships(session, unit_ids)
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
        owner_id = _owner_on(held.get(unit, []), on)
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


PLANNERS = {
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
) -> ImportResult:
    """Check every row; with no problem and not a dry run, write it all in one transaction.
    Raises :class:`ImportRefused` (nothing written) when any row has a problem."""
    kind = kind_of(kind_name)
    sha = hashlib.sha256(content).hexdigest()
    try:
        sheet = read(filename, content)
    except Refused as reason:
        plan = Plan(filename)
        plan.refuse(1, "", reason)
    else:
        plan = Plan(sheet.name)
        rows = _rows(kind, sheet, plan)
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
    await session.commit()
    if plan.created + plan.updated >= ANALYZE_AFTER:
        await analyze(session)
    return msgspec.structs.replace(result, written=True)
