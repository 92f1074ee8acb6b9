"""Registry rows of an import: units, owners and ownerships, matched on their natural keys
(building and unit number; an owner's name and phone; unit, owner and start)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.imports import rules
from feesvc.imports.kinds import KINDS
from feesvc.imports.plan import (
    CHUNK,
    Plan,
    Row,
    Write,
    add_all,
    cell,
    ownerships_of,
    unit_of,
    units_by_ref,
)
from feesvc.imports.rules import Refused
from feesvc.registry.models import Building, Channel, Estate, Owner, Ownership, Unit, UnitUse

# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


async def plan_units(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["units"]
    buildings = {
        b.name: b
        for b in (await session.execute(select(Building).where(col(Building.estate_id) == estate.id))).scalars()
    }
    existing = await units_by_ref(session, estate.id or 0)
    seen: dict[tuple[str, str], int] = {}
    new: list[Unit] = []
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
            plan.writes.append(_updateunit_of(unit, area, UnitUse(use)))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(add_all(new))


def _updateunit_of(unit: Unit, area: Decimal, use: UnitUse) -> Write:
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
                    preferred_channel=Channel(channel or Channel.paper),
                )
            )
            continue
        # An empty cell leaves what is on record.
        change = {
            k: v
            for k, v in (("id_number", id_number), ("postal_address", address), ("preferred_channel", channel))
            if v and getattr(owner, k) != v
        }
        if change:
            plan.updated += 1
            plan.writes.append(_update_owner(owner, change))
        else:
            plan.unchanged += 1
    plan.created += len(new)
    if new:
        plan.writes.append(add_all(new))


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


# --------------------------------------------------------------------------------------------
# Ownerships
# --------------------------------------------------------------------------------------------


async def plan_ownerships(session: AsyncSession, estate: Estate, rows: list[Row], plan: Plan, today: date) -> None:
    kind = KINDS["ownerships"]
    units = await units_by_ref(session, estate.id or 0)
    parsed = []
    for n, cells in rows:
        unit = unit_of(plan, kind, n, cells, units)
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
    held = await ownerships_of(session, (p[1] for p in parsed))
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
        plan.writes.append(add_all([Ownership(unit_id=unit, owner_id=owner.id or 0, starts_on=starts, ends_on=ends)]))
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
