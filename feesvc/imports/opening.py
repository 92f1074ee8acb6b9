"""Opening balances and opening prepaid credit: ledger entries with the source system as their
basis. A posted entry is never rewritten: a changed amount is a reversal (with its reason) and a
new entry, and only while nothing has been paid or used on the one on record.

An opening balance is one owner's debt of one unit, item and period (the owner on the period's first
day unless the row names one: a seller's periods after a sale, the two shares of a period split by a
handover). It may carry what the source system counted up to its balance day: the late fee still
open on it (a late-fee entry on the charge; feesvc's accrual then counts only the days after that
day, ``latefees.service``) and the last interruption of its limitation (a limitation event).

Balances come in millions of rows: each row is checked as it is read, and (unless it is a dry run)
its entry streams into the ledger meanwhile, in the import's one transaction
(``feesvc.imports.ledger_stream``); a problem anywhere in the file rolls it all back."""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from feesvc.auth.principal import Principal
from feesvc.billing.rules import due_date
from feesvc.billing.service import charge_key
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS, ImportKind
from feesvc.imports.ledger_stream import (
    OPENING_BALANCE,
    OPENING_CREDIT,
    OPENING_LATE_FEE,
    OPENING_PAID,
    EntryStream,
    EntryWriter,
    period_first_day,
)
from feesvc.imports.plan import CHUNK, Plan, Row, Write, column_of
from feesvc.imports.rules import Refused
from feesvc.ledger.limitation import InterruptionKind
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_many_units, reversal_of
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit

Span = tuple[int, date, date | None]  # (owner id, starts on, ends on) of an ownership
NO_SPANS: list[Span] = []


# --------------------------------------------------------------------------------------------
# What the estate holds: units, owners and ownerships as plain columns (no entities)
# --------------------------------------------------------------------------------------------


async def unit_ids_by_ref(session: AsyncSession, estate_id: int) -> dict[tuple[str, str], int]:
    query = (
        select(col(Building.name), col(Unit.number), col(Unit.id))
        .join(Building, col(Building.id) == Unit.building_id)
        .where(col(Unit.estate_id) == estate_id)
    )
    return {(b, n): unit_id or 0 for b, n, unit_id in (await session.execute(query)).all()}


async def estate_ownerships(
    session: AsyncSession, estate_id: int
) -> tuple[dict[int, list[Span]], dict[tuple[str, str], int]]:
    """Per unit its ownerships, and the owners who ever held a unit of the estate by (name, phone)."""
    query = (
        select(
            col(Ownership.unit_id),
            col(Ownership.owner_id),
            col(Ownership.starts_on),
            col(Ownership.ends_on),
            col(Owner.name),
            col(Owner.phone),
        )
        .join(Unit, col(Unit.id) == Ownership.unit_id)
        .join(Owner, col(Owner.id) == Ownership.owner_id)
        .where(col(Unit.estate_id) == estate_id)
        .order_by(col(Ownership.starts_on))
    )
    spans: dict[int, list[Span]] = defaultdict(list)
    owners: dict[tuple[str, str], int] = {}
    for unit_id, owner_id, starts, ends, name, phone in (await session.execute(query)).all():
        spans[unit_id].append((owner_id, starts, ends))
        owners[(name, rules.same_phone(phone))] = owner_id
    return spans, owners


def owner_on(spans: list[Span], day: date) -> int | None:
    for owner_id, starts, ends in spans:
        if starts <= day and (ends is None or ends >= day):
            return owner_id
    return None


def held_between(spans: list[Span], owner_id: int, first: date, last: date) -> bool:
    return any(o == owner_id and s <= last and (e is None or e >= first) for o, s, e in spans)


# --------------------------------------------------------------------------------------------
# Reading a row: cells parsed once per distinct text (a file repeats its periods and amounts)
# --------------------------------------------------------------------------------------------

INTERRUPTIONS = {
    "催告送达": InterruptionKind.demand_delivered,
    "催告": InterruptionKind.demand_delivered,
    "demand_delivered": InterruptionKind.demand_delivered,
    "书面确认": InterruptionKind.acknowledgement,
    "确认": InterruptionKind.acknowledgement,
    "acknowledgement": InterruptionKind.acknowledgement,
    "部分付款": InterruptionKind.part_payment,
    "part_payment": InterruptionKind.part_payment,
    "起诉": InterruptionKind.legal_action,
    "legal_action": InterruptionKind.legal_action,
}


@lru_cache(maxsize=1 << 16)
def yuan(text: str) -> int:
    return rules.yuan_to_fen(text)


@lru_cache(maxsize=1 << 16)
def _open_fen(text: str) -> int:
    fen = rules.yuan_to_fen(text, positive=False)
    if fen < 0:
        raise Refused("金额不能为负数", "the amount must not be negative")
    return fen


@lru_cache(maxsize=1 << 16)
def _charged_fen(text: str) -> int | None:
    return rules.yuan_to_fen(text) if text.strip() else None


@lru_cache(maxsize=1 << 12)
def _late_fen(text: str) -> int:
    return rules.yuan_to_fen(text, positive=False) if text.strip() else 0


@lru_cache(maxsize=1 << 12)
def _period(text: str, today: date) -> str:
    return rules.past_period(text, today)


@lru_cache(maxsize=1 << 12)
def _day(text: str, today: date) -> date | None:
    return rules.past_day(text, today) if text.strip() else None


@lru_cache(maxsize=1 << 12)
def _any_day(text: str) -> date | None:
    return rules.day(text) if text.strip() else None


@lru_cache(maxsize=1 << 10)
def _text(text: str) -> str:
    """Shared strings: a file's million rows name a few items and source systems."""
    return text


class Cells:
    """One row's cells, each parsed by its rule; a refused cell is recorded on the plan."""

    def __init__(self, plan: Plan, kind: ImportKind, n: int, cells: dict[str, str]) -> None:
        self.plan, self.kind, self.n, self.cells, self.ok = plan, kind, n, cells, True

    def get(self, key: str, parse: Any, *args: Any) -> Any:
        try:
            return parse(self.cells.get(key, ""), *args)
        except Refused as reason:
            self.refuse(column_of(self.kind, key), reason)
            return None

    def refuse(self, column: str, reason: Refused) -> None:
        self.plan.refuse(self.n, column, reason)
        self.ok = False


def unit_of(row: Cells, units: dict[tuple[str, str], int]) -> int | None:
    found = units.get((row.cells.get("building", "").strip(), row.cells.get("number", "").strip()))
    if found is None:
        row.refuse(
            "房号", Refused("未知房屋：该楼栋下没有此房号（请先导入房屋）", "unknown unit: import the units first")
        )
    return found


def named_owner(row: Cells, owners: dict[tuple[str, str], int]) -> int | bool | None:
    """The owner the row names (an id), None when it names none, False when it names an unknown one."""
    name, phone = row.cells.get("owner_name", "").strip(), row.cells.get("owner_phone", "").strip()
    if not name and not phone:
        return None
    digits = row.get("owner_phone", rules.mobile)
    if digits is None:
        return False
    found = owners.get((name, digits))
    if found is None:
        row.refuse(
            "业主手机号",
            Refused(
                "未知业主：该房屋没有此姓名和手机号的业主（请先导入产权）",
                "unknown owner: no owner of this unit with this name and phone (import the ownerships first)",
            ),
        )
        return False
    return found


# --------------------------------------------------------------------------------------------
# Opening balances
# --------------------------------------------------------------------------------------------

# What a row says: unit, owner, the owner on the period's first day, period, item, open fen, charged
# fen, source, late fee fen, balance day, due date, (interrupted on, how) or None.
Parsed = tuple[
    int, int, int | None, str, str, int, int, str, int, date | None, date | None, tuple[date, InterruptionKind] | None
]
OPTIONAL = ("owner_name", "owner_phone", "charged", "late_fee", "as_of", "due_date", "interrupted_on", "interruption")


def _plain(
    cells: dict[str, str],
    optional: tuple[str, ...],
    units: dict[tuple[str, str], int],
    spans: dict[int, list[Span]],
    today: date,
) -> Parsed | None:
    """A row with only the required columns, read without a problem; else None (the careful path)."""
    for key in optional:
        if cells[key]:
            return None
    unit = units.get((cells["building"].strip(), cells["number"].strip()))
    item, source = cells["item"].strip(), cells["source"].strip()
    if unit is None or not item or len(item) > 40 or not source:
        return None
    try:
        period = _period(cells["period"], today)
        fen = _open_fen(cells["amount"])
    except Refused:
        return None
    owner = owner_on(spans.get(unit, NO_SPANS), period_first_day(period))
    if owner is None or not fen:
        return None
    return unit, owner, owner, period, _text(item), fen, fen, _text(source[:200]), 0, None, None, None


def _careful(
    row: Cells,
    units: dict[tuple[str, str], int],
    spans: dict[int, list[Span]],
    owners: dict[tuple[str, str], int],
    today: date,
) -> Parsed | None:
    """Every cell of the row by its rule, every problem recorded; None when there is one."""
    unit = unit_of(row, units)
    period = row.get("period", _period, today)
    item = row.get("item", rules.required)
    fen = row.get("amount", _open_fen)
    charged = row.get("charged", _charged_fen)
    source = row.get("source", rules.required)
    late = row.get("late_fee", _late_fen)
    as_of = row.get("as_of", _day, today)
    due = row.get("due_date", _any_day)
    interrupted_on = row.get("interrupted_on", _day, today)
    interruption = row.cells.get("interruption", "").strip()
    named = named_owner(row, owners)
    if item is not None and len(item) > 40:
        row.refuse("收费项目", Refused("收费项目最长40个字符", "the item is longer than 40 characters"))
    if row.ok and charged is not None and charged < fen:
        row.refuse("原应收金额", Refused("原应收金额小于欠费金额", "charged is less than the amount still owed"))
    if row.ok and fen == 0 and (charged is None or not late):
        row.refuse(
            "欠费金额",
            Refused(
                "欠费金额为0时须填原应收金额和违约金（本金已付、违约金未付）",
                "an amount of 0 needs charged and a late fee (the principal paid, its late fee not)",
            ),
        )
    if late and as_of is None and row.ok:
        row.refuse("余额日期", Refused("填写违约金时须填余额日期", "a late fee needs the day it stands at (as of)"))
    if interrupted_on is not None and interruption not in INTERRUPTIONS:
        row.refuse(
            "中断方式",
            Refused(
                "中断方式应为：催告送达、书面确认、部分付款或起诉",
                "send the interruption: demand_delivered, acknowledgement, part_payment or legal_action",
            ),
        )
    if interruption and interrupted_on is None and row.ok:
        row.refuse("时效中断日", Refused("填写中断方式时须填中断日期", "an interruption needs its date"))
    if not row.ok or unit is None:
        return None
    start = period_first_day(period)
    unit_spans = spans.get(unit, NO_SPANS)
    first_owner = owner_on(unit_spans, start)
    if named is None:
        owner = first_owner
        if owner is None:
            row.refuse(
                "期间",
                Refused(
                    "该期间首日没有业主（请先导入产权，或填写业主）",
                    "no owner on the period's first day (import the ownerships first, or name the owner)",
                ),
            )
            return None
    else:
        owner = named
        last = start.replace(day=monthrange(start.year, start.month)[1])
        if not held_between(unit_spans, owner, start, last):
            row.refuse(
                "业主姓名",
                Refused("该业主在该期间不是此房屋的业主", "this owner did not own the unit in that period"),
            )
            return None
    return (
        unit,
        owner,
        first_owner,
        period,
        _text(item),
        fen,
        charged if charged is not None else fen,
        _text(source[:200]),
        late,
        as_of,
        due,
        (interrupted_on, INTERRUPTIONS[interruption]) if interrupted_on else None,
    )


async def standing_entries(
    session: AsyncSession, estate_id: int, kind: EntryKind
) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, int], set[tuple[int, str, str]]]:
    """The estate's entries of ``kind`` not reversed, per (unit, item, period, owner): (id, amount,
    effective date, detail, due date); how many were reversed per slot (the next one's re-issue number); and the
    slots feesvc itself charged (not imported), by (unit, item, period)."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(col(reversal.id)).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    query = select(
        col(LedgerEntry.id),
        col(LedgerEntry.unit_id),
        col(LedgerEntry.item),
        col(LedgerEntry.period),
        col(LedgerEntry.owner_id),
        col(LedgerEntry.amount_fen),
        col(LedgerEntry.effective_date),
        col(LedgerEntry.detail),
        col(LedgerEntry.due_date),
        reversed_,
    ).where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.kind) == kind)
    standing: dict[Any, tuple[Any, ...]] = {}
    reissues: dict[Any, int] = defaultdict(int)
    charged: set[tuple[int, str, str]] = set()
    for entry_id, unit, item, period, owner, fen, day, detail, due, was_reversed in (
        await session.execute(query)
    ).all():
        slot = (unit, item or "", period or "", owner)
        if was_reversed:
            reissues[slot] += 1
        elif (detail or {}).get("basis") in (OPENING_BALANCE, OPENING_CREDIT):
            standing[slot] = (entry_id, fen, day, detail, due)
        else:
            charged.add(slot[:3])
    return standing, reissues, charged


async def _standing_balances(
    session: AsyncSession, estate_id: int, items: dict[str, int]
) -> tuple[dict[int, int], dict[int, int], set[tuple[int, str, str]]]:
    """The estate's charges, compactly (a re-import of millions of rows reads millions): per slot
    (``_slot``) of an opening balance not reversed, its fingerprint << 64 | its id; per slot, how
    many were reversed (the next one's re-issue number); and what feesvc billed itself, by (unit,
    item, period). Read as columns, the detail's fields picked out by the database."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(col(reversal.id)).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    detail = LedgerEntry.__table__.c.detail  # type: ignore[attr-defined]
    query = select(
        col(LedgerEntry.id),
        col(LedgerEntry.unit_id),
        col(LedgerEntry.item),
        col(LedgerEntry.period),
        col(LedgerEntry.owner_id),
        col(LedgerEntry.amount_fen),
        col(LedgerEntry.due_date),
        detail["basis"].as_string(),
        detail["as_of"].as_string(),
        detail["late_fee_fen"].as_integer(),
        detail["paid_fen"].as_integer(),
        reversed_,
    ).where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.kind) == EntryKind.charge)
    standing: dict[int, int] = {}
    reissues: dict[int, int] = defaultdict(int)
    billed: set[tuple[int, str, str]] = set()
    result = await session.stream(query.execution_options(yield_per=CHUNK))
    async for entry_id, unit, item, period, owner, fen, due, basis, as_of, late, paid, was_reversed in result:
        if basis != OPENING_BALANCE:
            if not was_reversed:
                billed.add((unit, item or "", period or ""))
            continue
        slot = _slot(items, unit, period, item, owner)
        if was_reversed:
            reissues[slot] += 1
        else:
            standing[slot] = _fingerprint(fen, due, late or 0, paid or 0, as_of) << 64 | entry_id
    return standing, reissues, billed


def _fingerprint(charged: int, due: date | None, late: int, paid: int, as_of: str | None) -> int:
    """What makes a balance the same as the one on record, as 64 bits (a re-import compares it)."""
    return hash((charged, due, late, paid, as_of)) & (1 << 64) - 1


async def plan_balances(session: AsyncSession, estate: Estate, rows: Iterator[Row], plan: Plan, today: date) -> None:
    kind = KINDS["balances"]
    estate_id = estate.id or 0
    units = await unit_ids_by_ref(session, estate_id)
    spans, owners = await estate_ownerships(session, estate_id)
    items: dict[str, int] = {}
    standing, reissues, billed = await _standing_balances(session, estate_id, items)
    dues: dict[str, date] = {}
    keys: list[int] = []  # per row: its slot (unit, period, item, owner) << 24 | its row number
    corrections: list[tuple[int, int]] = []  # (entry on record, row number)
    written = 0
    optional: tuple[str, ...] | None = None
    writer = stream = None
    if plan.actor is not None:  # not a dry run: entries stream into the ledger while rows are checked
        await lock_many_units(session, list(units.values()))
        writer, stream = EntryWriter(estate, plan.actor), EntryStream(session)
    for n, cells in rows:
        # A plain row (the file's optional columns empty) is read by the fast path; any other row,
        # and any row it cannot read, by the careful one, which reports every problem of the row.
        if optional is None:
            optional = tuple(key for key in OPTIONAL if key in cells)  # the file's optional columns
        parsed = _plain(cells, optional, units, spans, today)
        if parsed is None:
            parsed = _careful(Cells(plan, kind, n, cells), units, spans, owners, today)
            if parsed is None:
                continue
        unit, owner, first_owner, period, item, fen, charged, source, late, as_of, due, interruption = parsed
        if (unit, item, period) in billed:
            plan.refuse(
                n,
                "欠费金额",
                Refused(
                    "本系统已为该房屋、期间、项目开单，不能再导入期初数",
                    "feesvc already charged this unit, period and item: no opening balance",
                ),
            )
            continue
        slot = _slot(items, unit, period, item, owner)
        keys.append(slot << 24 | n)
        record = (unit, owner, period, item, fen, late, as_of, interruption, source, charged, due)
        found = standing.get(slot)
        if found is not None:
            default_due = dues.get(period)
            if default_due is None:
                default_due = dues[period] = due_date(period_first_day(period), estate.due_day)
            same = _fingerprint(charged, due or default_due, late, charged - fen, as_of.isoformat() if as_of else None)
            if found >> 64 == same:
                plan.unchanged += 1
                continue
            corrections.append((found & (1 << 64) - 1, n))
            reissues[slot] += 1
        written += 1
        if writer is not None and stream is not None and not plan.problems:
            # A share of a period whose first day was another owner's names its owner, as a billing
            # run's share of a period split by a handover does (billing.service.charge_key).
            key = charge_key(unit, item, period, reissues.get(slot, 0), owner if owner != first_owner else None)
            await stream.add(writer.entry(record, key))
    _check_keys(plan, keys)
    del keys
    if stream is not None:
        await stream.close(failed=bool(plan.problems))
    if plan.problems:
        return
    await plan_corrections(session, plan, corrections, today)
    if plan.problems:
        return
    plan.created += written - len(corrections)
    plan.updated += len(corrections)
    if writer is not None and written:
        plan.writes.append(writer.after)


def _slot(items: dict[str, int], unit: int, period: str, item: str, owner: int) -> int:
    """(unit, period, item, owner) as one integer: sorted, equal slots are neighbours."""
    item_no = items.setdefault(item, len(items))
    month = int(period[:4]) * 12 + int(period[5:7])
    return ((unit << 20 | month) << 12 | item_no) << 32 | owner


def _check_keys(plan: Plan, keys: list[int]) -> None:
    """Refuse each row with the slot of an earlier row."""
    keys.sort()
    mask = (1 << 24) - 1
    last_slot = -1
    first_row = 0
    for key in keys:
        slot, n = key >> 24, key & mask
        if slot == last_slot:
            plan.refuse(
                n,
                "期间",
                Refused(
                    f"重复（与第{first_row}行的房屋、期间、项目、业主相同）",
                    f"duplicate (same unit, period, item and owner as row {first_row})",
                ),
            )
            continue
        last_slot, first_row = slot, n


async def plan_corrections(session: AsyncSession, plan: Plan, corrections: list[tuple[int, int]], today: date) -> None:
    """A changed balance reverses the one on record (with its opening late fee and what the source
    system received), which must be as imported: what feesvc received on it is the desk's to correct."""
    for entry_id, n in corrections:
        carried = [f"{OPENING_LATE_FEE}:{entry_id}", f"{OPENING_PAID}:{entry_id}"]
        query = select(LedgerEntry).where((col(LedgerEntry.id) == entry_id) | col(LedgerEntry.dedupe_key).in_(carried))
        entries = list((await session.execute(query)).scalars())
        ids = [e.id for e in entries]
        settled = (
            await session.execute(
                select(func.count()).where(col(LedgerEntry.settles_entry_id).in_(ids), col(LedgerEntry.id).not_in(ids))
            )
        ).scalar_one()
        if settled:
            plan.refuse(
                n,
                "欠费金额",
                Refused(
                    "原导入的金额已有收款或抵扣，不能更正，请在前台处理",
                    "the amount imported before has been paid in part: correct it at the desk",
                ),
            )
            continue
        plan.reversed += len(entries)
        plan.writes.append(_reverse(entries, today))


def _reverse(entries: list[LedgerEntry], today: date) -> Write:
    reason = "期初数更正（重新导入） / opening balance corrected by a new import"

    async def write(session: AsyncSession, actor: Principal) -> None:
        append(session, [reversal_of(e, today, actor, reason) for e in entries])
        await session.flush()  # the reversals first: a re-issue's key is free only beside its reversal

    return write
