"""What the service did, month by month: cleaning and repairs per building, patrols and greenery per estate.

Statements and letters show it as the period's service summary ("this month: cleaning 30 times,
15 repairs"). Some 1,300 rows for the default demo, so they go in bulk: each row validated
against ``ServiceActivityCreate`` and written with the audit event ``record_activity`` writes.
A building whose owner complained about cleaning shows the thin month behind the complaint, and
one figure keyed in twice is corrected by a negative row with a note, as the service requires.
"""

from __future__ import annotations

import calendar
import random
from datetime import date
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.audit.service import audit_row
from feesvc.auth.models import Role
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.demo.plan import DemoPlan, EstateSpec
from feesvc.demo.registry import insert_audit, insert_returning_ids, validated
from feesvc.registry.models import Building
from feesvc.service_records.models import ActivityKind, ServiceActivity
from feesvc.service_records.schemas import ServiceActivityCreate

# The quality supervisor compiles the month's service log from the sign-in sheets.
RECORDER: Final = Principal(role=Role.manager, name="品质主管-何芳")
GARAGES: Final = ("地下车库",)
CORRECTION_NOTE: Final = "保洁签到表复核：本月有4次保洁被重复登记，冲减4次"
THIN_MONTH_NOTE: Final = "保洁员离职，新人未到岗，本月保洁频次不足"


def _greenery(rng: random.Random, month: date) -> int:
    """Lawns and hedges need most care from spring to autumn."""
    return rng.randint(8, 12) if 4 <= month.month <= 10 else rng.randint(2, 5)


def _rows(plan: DemoPlan, estate: EstateSpec, buildings: dict[str, int], rng: random.Random) -> list[dict[str, Any]]:
    # A building whose owner stopped paying over dirty stairwells had a thin month of cleaning.
    thin = {
        (u.building, f"{u.incident.on:%Y-%m}")
        for u in plan.units_of(estate)
        if u.incident is not None and u.incident.category == "cleaning"
    }
    # One month's cleaning of the first building was keyed in with 4 rounds twice, then corrected:
    # the log only ever adds rows.
    duplicated = (f"{plan.timeline.months[2]:%Y-%m}", next(iter(buildings))) if len(plan.timeline.months) > 2 else None
    rows: list[dict[str, Any]] = []
    for month in plan.timeline.months:
        period = f"{month:%Y-%m}"
        days = calendar.monthrange(month.year, month.month)[1]
        for name, building_id in buildings.items():
            if (name, period) in thin:
                rows.append(
                    _row(period, ActivityKind.cleaning_rounds, rng.randint(12, 18), building_id, THIN_MONTH_NOTE)
                )
            else:
                # The garage is swept every other day; stairwells and shop fronts daily, bar a few days.
                cleaning = rng.randint(days // 2 - 2, days // 2) if name in GARAGES else days - rng.randint(0, 5)
                if (period, name) == duplicated:
                    rows.append(_row(period, ActivityKind.cleaning_rounds, cleaning + 4, building_id))
                    cleaning = -4
                rows.append(
                    _row(
                        period,
                        ActivityKind.cleaning_rounds,
                        cleaning,
                        building_id,
                        CORRECTION_NOTE if cleaning < 0 else "",
                    )
                )
            rows.append(_row(period, ActivityKind.repairs_done, rng.randint(5, 20), building_id))
        # Patrols day and night, four rounds a day; greenery by the season: estate-wide.
        rows.append(_row(period, ActivityKind.security_patrols, days * 4 - rng.randint(0, 6), None))
        rows.append(_row(period, ActivityKind.greenery, _greenery(rng, month), None))
    return rows


def _row(period: str, kind: ActivityKind, count: int, building_id: int | None, note: str = "") -> dict[str, Any]:
    return {"period": period, "kind": kind, "count": count, "building_id": building_id, "note": note}


async def record_service_activity(session: AsyncSession, plan: DemoPlan, estate_ids: dict[str, int], seed: int) -> int:
    """Write the whole history's service activity; returns the number of rows."""
    rng = random.Random(f"{seed}:activity")
    now = utcnow()
    written = 0
    for estate in plan.estates:
        estate_id = estate_ids[estate.key]
        found = await session.execute(select(Building.name, Building.id).where(Building.estate_id == estate_id))
        buildings = {name: int(building_id) for name, building_id in found.all()}
        used = dict.fromkeys(u.building for u in plan.units_of(estate))
        rows = []
        audits = []
        for fields in _rows(plan, estate, {name: buildings[name] for name in used}, rng):
            data = validated(ServiceActivityCreate, fields)
            rows.append(
                {
                    "estate_id": estate_id,
                    "building_id": data.building_id,
                    "period": data.period,
                    "kind": data.kind,
                    "count": data.count,
                    "note": data.note.strip(),
                    "actor": RECORDER.label,
                    "created_at": now,
                }
            )
            detail = {"period": data.period, "building_id": data.building_id, "kind": data.kind, "count": data.count}
            audits.append(audit_row(RECORDER, "service_activity.record", "estate", estate_id, detail))
        await insert_returning_ids(session, ServiceActivity, rows)
        await insert_audit(session, audits)
        written += len(rows)
    await session.commit()
    return written
