"""Registry rows of an import: units, owners and ownerships, matched on their natural keys
(building and unit number; an owner's name and phone; unit, owner and start)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS
from feesvc.imports.opening import unit_ids_by_ref
from feesvc.imports.plan import CHUNK, Plan, Row, Write, cell, insert_all
from feesvc.imports.rules import Refused
from feesvc.registry.models import Building, Channel, Estate, Owner, Ownership, Unit, UnitUse

# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


async def plan_units(session: AsyncSession, estate: Estate, rows: Iterator[Row], plan: Plan, today: date) -> None:
    kind = KINDS["units"]
    buildings = {
        name: building_id
        for name, building_id in (
            await session.execute(
                select(col(Building.name), col(Building.id)).where(col(Building.estate_id) == estate.id)
            )
        ).all()
    }
    existing = {
        (b, n): (unit_id or 0, area, use)
        for b, n, unit_id, area, use in (
            await session.execute(
                select(col(Building.name), col(Unit.number), col(Unit.id), col(Unit.floor_area_m2), col(Unit.use))
                .join(Building, col(Building.id) == Unit.building_id)
                .where(col(Unit.estate_id) == estate.id)
            )
        ).all()
    }
    seen: dict[tuple[str, str], int] = {}
    new: list[dict[str, Any]] = []
    for n, cells in rows:
        name = cell(plan, kind, n, cells, "building", rules.required)
        number = cell(plan, kind, n, cells, "number", rules.required)
        area = cell(plan, kind, n, cells, "area", rules.positive_area)
        use = cell(plan, kind, n, cells, "use", rules.unit_use)
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
        found = existing.get((name, number))
        if found is None:
            new.append(
                {
                    "estate_id": estate.id,
                    "building_id": buildings[name],
                    "number": number,
                    "floor_area_m2": area,
                    "use": UnitUse(use),
                    "ledger_version": 0,
                }
            )
        elif found[1] != area or found[2] != use:
            plan.updated += 1
            plan.writes.append(_update_unit(found, area, UnitUse(use)))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(insert_all(Unit, new))


def _update_unit(found: tuple[int, Decimal, UnitUse], area: Decimal, use: UnitUse) -> Write:
    unit_id, area_before, use_before = found

    async def write(session: AsyncSession, actor: Principal) -> None:
        await session.execute(update(Unit).where(col(Unit.id) == unit_id).values(floor_area_m2=area, use=use))
        await record_audit(
            session,
            actor,
            "unit.update",
            "unit",
            unit_id,
            {
                "by": "import",
                "before": {"area": str(area_before), "use": UnitUse(use_before).value},
                "after": {"area": str(area), "use": use.value},
            },
        )

    return write


# --------------------------------------------------------------------------------------------
# Owners
# --------------------------------------------------------------------------------------------


OWNER_COLUMNS = ("id", "name", "phone", "id_number", "postal_address", "preferred_channel")


async def _owners_by_key(session: AsyncSession, phones: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Owners by (name, phone), as columns; of two with the same name and phone, the first."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = sorted(set(phones))
    columns = [getattr(Owner, c) for c in OWNER_COLUMNS]
    for start in range(0, len(wanted), CHUNK):
        query = select(*columns).where(col(Owner.phone).in_(wanted[start : start + CHUNK])).order_by(col(Owner.id))
        for values in (await session.execute(query)).all():
            owner = dict(zip(OWNER_COLUMNS, values, strict=True))
            found.setdefault((owner["name"], owner["phone"]), owner)
    return found


async def plan_owners(session: AsyncSession, estate: Estate, rows: Iterator[Row], plan: Plan, today: date) -> None:
    kind = KINDS["owners"]
    parsed = []
    for n, cells in rows:
        name = cell(plan, kind, n, cells, "name", rules.required)
        phone = cell(plan, kind, n, cells, "phone", rules.mobile)
        channel = cell(plan, kind, n, cells, "channel", rules.channel)
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
            # An empty channel cell leaves an owner's channel on record as it is.
            parsed.append((n, name, phone, channel if cells.get("channel", "").strip() else "", id_number, address))
    existing = await _owners_by_key(session, (p[2] for p in parsed))
    seen: dict[tuple[str, str], int] = {}
    new: list[dict[str, Any]] = []
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
                {
                    "name": name,
                    "phone": phone,
                    "id_number": id_number,
                    "email": "",
                    "postal_address": address,
                    "preferred_channel": Channel(channel or Channel.paper),
                    "locale": None,
                }
            )
            continue
        # An empty cell leaves what is on record.
        change = {
            k: v
            for k, v in (("id_number", id_number), ("postal_address", address), ("preferred_channel", channel))
            if v and owner[k] != v
        }
        if change:
            plan.updated += 1
            plan.writes.append(_update_owner(owner, change))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(insert_all(Owner, new))


def _update_owner(owner: dict[str, Any], change: dict[str, Any]) -> Write:
    async def write(session: AsyncSession, actor: Principal) -> None:
        await session.execute(update(Owner).where(col(Owner.id) == owner["id"]).values(**change))
        # Which fields changed, never their values: personal data stays out of the audit log.
        await record_audit(
            session, actor, "owner.update", "owner", owner["id"], {"by": "import", "fields": sorted(change)}
        )

    return write


# --------------------------------------------------------------------------------------------
# Ownerships
# --------------------------------------------------------------------------------------------


async def plan_ownerships(session: AsyncSession, estate: Estate, rows: Iterator[Row], plan: Plan, today: date) -> None:
    kind = KINDS["ownerships"]
    units = await unit_ids_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        ref = (cells.get("building", "").strip(), cells.get("number", "").strip())
        unit = units.get(ref)
        if unit is None:
            plan.refuse(
                n,
                "房号",
                Refused("未知房屋：该楼栋下没有此房号（请先导入房屋）", "unknown unit: import the units first"),
            )
        phone = cell(plan, kind, n, cells, "phone", rules.mobile)
        name = cell(plan, kind, n, cells, "name", rules.required)
        starts = cell(plan, kind, n, cells, "starts_on", rules.day)
        ends = cell(plan, kind, n, cells, "ends_on", rules.optional_day)
        if starts is not None and ends is not None and ends < starts:
            plan.refuse(n, "结束日期", Refused("结束日期早于开始日期", "ends before it starts"))
            continue
        if unit is None or None in (phone, name, starts) or (cells.get("ends_on", "").strip() and ends is None):
            continue
        parsed.append((n, unit, name, phone, starts, ends))
    owners = await _owners_by_key(session, (p[3] for p in parsed))
    held: dict[int, list[tuple[int, int, date, date | None]]] = defaultdict(list)
    query = (
        select(
            col(Ownership.id),
            col(Ownership.unit_id),
            col(Ownership.owner_id),
            col(Ownership.starts_on),
            col(Ownership.ends_on),
        )
        .join(Unit, col(Unit.id) == Ownership.unit_id)
        .where(col(Unit.estate_id) == estate.id)
    )
    for ownership_id, unit_id, owner_id, starts_on, ends_on in (await session.execute(query)).all():
        held[unit_id].append((ownership_id or 0, owner_id, starts_on, ends_on))
    # Per unit, the spans once written: (row or None for one on record, start, end).
    spans: dict[int, list[tuple[int | None, date, date | None]]] = {
        u: [(None, s, e) for _, _, s, e in rows_] for u, rows_ in held.items()
    }
    new: list[dict[str, Any]] = []
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
        same = next((o for o in held.get(unit, []) if o[1] == owner["id"] and o[2] == starts), None)
        if same is not None:
            if same[3] == ends:
                plan.unchanged += 1
                continue
            spans[unit] = [s for s in spans[unit] if not (s[0] is None and s[1] == starts)] + [(n, starts, ends)]
            plan.updated += 1
            plan.writes.append(_update_ownership(same, unit, ends))
            continue
        spans.setdefault(unit, []).append((n, starts, ends))
        new.append({"unit_id": unit, "owner_id": owner["id"], "starts_on": starts, "ends_on": ends})
    for unit_spans in spans.values():
        if len(unit_spans) < 2:
            continue
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
    plan.created += len(new)
    if new:
        plan.writes.append(insert_all(Ownership, new))


def _update_ownership(held: tuple[int, int, date, date | None], unit_id: int, ends: date | None) -> Write:
    ownership_id, owner_id, starts, before = held

    async def write(session: AsyncSession, actor: Principal) -> None:
        await session.execute(update(Ownership).where(col(Ownership.id) == ownership_id).values(ends_on=ends))
        await record_audit(
            session,
            actor,
            "ownership.update",
            "unit",
            unit_id,
            {
                "by": "import",
                "owner_id": owner_id,
                "starts_on": starts.isoformat(),
                "ends_on_before": before.isoformat() if before else None,
                "ends_on": ends.isoformat() if ends else None,
            },
        )

    return write
