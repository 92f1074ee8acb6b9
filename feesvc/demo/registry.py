"""The demo's registry: estates, fee standards and buildings through the services; units, owners,
ownerships and vacancy notices in bulk.

A thousand units through the services would be some 3,000 transactions. The bulk path writes the
same rows the services write, after validating every row against the API's own request schema,
and writes the same audit events (action, entity, detail) in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.models import AuditEvent
from feesvc.audit.service import audit_row
from feesvc.auth.principal import Principal
from feesvc.demo.people import Person
from feesvc.demo.plan import DemoPlan, EstateSpec, UnitPlan
from feesvc.registry.models import Owner, Ownership, Unit, VacancyNotice
from feesvc.registry.schemas import BuildingCreate, EstateCreate, OwnerCreate, UnitCreate, VacancyNoticeCreate
from feesvc.registry.service import create_building, create_estate
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard

VACANCY_REFERENCE = "业主书面空置申报（称房屋空置，要求免交物业费）"


def table(model: Any) -> Table:
    return model.__table__


async def insert_returning_ids(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many rows in one statement batch and return their ids, in the order of ``rows``."""
    if not rows:
        return []
    t = table(model)
    result = await session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), rows)
    return [int(row[0]) for row in result.all()]


async def insert_audit(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table(AuditEvent)), rows)


async def create_registry(session: AsyncSession, plan: DemoPlan, actor: Principal) -> dict[str, int]:
    """Write the plan's registry; fills in ``unit_id`` and ``owner_id``; returns estate ids by code."""
    estate_ids: dict[str, int] = {}
    for spec in plan.estates:
        estate_ids[spec.key] = await _create_estate(session, spec, actor)
        buildings = await _create_buildings(session, spec, estate_ids[spec.key], plan.units_of(spec), actor)
        await _create_units(session, estate_ids[spec.key], buildings, plan.units_of(spec), actor)
    await _create_owners(session, plan, actor)
    await _create_ownerships(session, plan, actor)
    await _create_vacancy_notices(session, plan, actor)
    await session.commit()
    return estate_ids


async def _create_estate(session: AsyncSession, spec: EstateSpec, actor: Principal) -> int:
    data = EstateCreate(
        code=spec.key,
        name=spec.name,
        company_name=spec.company,
        address=spec.address,
        service_phone=spec.phone,
        settings=spec.settings,
    )
    estate = await create_estate(session, actor, data)
    assert estate.id is not None
    for s in spec.standards:
        standard = FeeStandardCreate(
            unit_use=s.unit_use,
            item=s.item,
            item_name=s.item_name,
            basis=s.basis,
            rate=s.rate,
            effective_from=s.effective_from,
            posted_on=s.posted_on,
            decision_kind=s.decision_kind,
            decision_ref=s.decision_ref,
        )
        await create_fee_standard(session, actor, estate.id, standard)
    return estate.id


async def _create_buildings(
    session: AsyncSession, spec: EstateSpec, estate_id: int, units: list[UnitPlan], actor: Principal
) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name in dict.fromkeys(u.building for u in units):
        building = await create_building(session, actor, estate_id, BuildingCreate(name=name))
        assert building.id is not None
        ids[name] = building.id
    return ids


async def _create_units(
    session: AsyncSession, estate_id: int, buildings: dict[str, int], units: list[UnitPlan], actor: Principal
) -> None:
    rows = []
    for u in units:
        data = validated(
            UnitCreate,
            {"building_id": buildings[u.building], "number": u.number, "floor_area_m2": str(u.area), "use": u.use},
        )
        assert u.area > 0
        rows.append(
            {
                "estate_id": estate_id,
                "building_id": data.building_id,
                "number": data.number,
                "floor_area_m2": u.area,
                "use": data.use,
            }
        )
    ids = await insert_returning_ids(session, Unit, rows)
    for u, unit_id in zip(units, ids, strict=True):
        u.unit_id = unit_id
    await insert_audit(
        session,
        [
            audit_row(actor, "unit.create", "unit", u.unit_id, {"number": u.number, "area": str(u.area), "use": u.use})
            for u in units
        ],
    )


def validated(schema: type[msgspec.Struct], fields: dict[str, Any]) -> Any:
    """The row as the API would accept it: patterns, lengths and enums checked by its request schema."""
    return msgspec.convert(fields, schema, str_keys=True)


def home_address(unit: UnitPlan) -> str:
    return f"{unit.estate.address}{unit.estate.name}{unit.building}{unit.number}室"


def owner_create(person: Person, postal_address: str) -> OwnerCreate:
    """The person as the owner form of the API would take them (POST /owners)."""
    fields = {
        "name": person.name,
        "phone": person.phone,
        "id_number": person.id_number,
        "email": person.email or None,
        "postal_address": postal_address,
        "preferred_channel": person.channel,
        "locale": person.locale,
    }
    data: OwnerCreate = validated(OwnerCreate, fields)
    return data


async def _create_owners(session: AsyncSession, plan: DemoPlan, actor: Principal) -> None:
    """The owners at the start of the history; a buyer is registered on the day of the sale (history.py).

    The contact details are those on file as of the demo's today: a seller's is where they moved
    to, or none when they left no address (plan.Sale.seller_address).
    """
    people: dict[int, tuple[Person, str]] = {}
    for u in plan.units:
        # An owner's postal address is their first home here (a parking space has no letterbox).
        address = u.sale.seller_address if u.sale is not None else home_address(u)
        people.setdefault(id(u.owner), (u.owner, address))
    rows = []
    for person, address in people.values():
        data = owner_create(person, address)
        rows.append(
            {
                "name": data.name,
                "phone": data.phone or "",
                "id_number": data.id_number or "",
                "email": data.email or "",
                "postal_address": data.postal_address,
                "preferred_channel": data.preferred_channel,
                "locale": data.locale,
            }
        )
    ids = await insert_returning_ids(session, Owner, rows)
    for (person, _), owner_id in zip(people.values(), ids, strict=True):
        person.owner_id = owner_id
    # Personal data stays out of the audit log, as in create_owner.
    await insert_audit(session, [audit_row(actor, "owner.create", "owner", owner_id, None) for owner_id in ids])


async def _create_ownerships(session: AsyncSession, plan: DemoPlan, actor: Principal) -> None:
    """Who owns each unit when the history starts; the sales are recorded on their days (history.py)."""
    rows: list[dict[str, Any]] = []
    audits = []
    for u in plan.units:
        assert u.unit_id is not None and u.owner.owner_id is not None
        rows.append({"unit_id": u.unit_id, "owner_id": u.owner.owner_id, "starts_on": u.owner_since, "ends_on": None})
        audits.append(_ownership_audit(actor, u.unit_id, u.owner.owner_id, u.owner_since, None))
    await insert_returning_ids(session, Ownership, rows)
    await insert_audit(session, audits)


def _ownership_audit(
    actor: Principal, unit_id: int, owner_id: int, starts_on: date, previous: int | None
) -> dict[str, Any]:
    detail = {"owner_id": owner_id, "starts_on": starts_on.isoformat(), "previous_owner_id": previous}
    return audit_row(actor, "ownership.start", "unit", unit_id, detail)


async def _create_vacancy_notices(session: AsyncSession, plan: DemoPlan, actor: Principal) -> None:
    rows = []
    audits = []
    for u in plan.units:
        if u.vacant_from is None or u.vacancy_notified_on is None:
            continue
        assert u.unit_id is not None
        data = validated(
            VacancyNoticeCreate,
            {"starts_on": u.vacant_from, "notified_on": u.vacancy_notified_on, "reference": VACANCY_REFERENCE},
        )
        rows.append(
            {
                "unit_id": u.unit_id,
                "starts_on": data.starts_on,
                "ends_on": None,
                "notified_on": data.notified_on,
                "reference": data.reference,
            }
        )
        audits.append(audit_row(actor, "vacancy.notice", "unit", u.unit_id, {"starts_on": data.starts_on.isoformat()}))
    await insert_returning_ids(session, VacancyNotice, rows)
    await insert_audit(session, audits)
