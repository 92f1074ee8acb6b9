"""An estate's set-up as a file (estate.json): its settings, buildings and fee standards, in the
API's own request bodies. Written beside the import files (``feesvc.exports.import_files``), it
makes the estate the files import into, on a database that does not have it yet."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.errors import InvalidInput
from feesvc.registry.models import Building, Estate
from feesvc.registry.schemas import BuildingCreate, EstateCreate
from feesvc.registry.service import create_building, create_estate, estate_out
from feesvc.standards.models import FeeStandard
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard


class EstateFile(msgspec.Struct, forbid_unknown_fields=True):
    estate: EstateCreate
    buildings: list[BuildingCreate]
    fee_standards: list[FeeStandardCreate]


async def estate_file(session: AsyncSession, estate: Estate) -> bytes:
    out = estate_out(estate)
    buildings = (
        await session.execute(select(Building.name).where(Building.estate_id == estate.id).order_by(col(Building.id)))
    ).scalars()
    standards = (
        await session.execute(
            select(FeeStandard).where(FeeStandard.estate_id == estate.id).order_by(col(FeeStandard.id))
        )
    ).scalars()
    made = EstateFile(
        estate=EstateCreate(
            code=estate.code,
            name=estate.name,
            company_name=estate.company_name,
            address=estate.address,
            service_phone=estate.service_phone,
            settings=out.settings,
        ),
        buildings=[BuildingCreate(name=name) for name in buildings],
        fee_standards=[
            FeeStandardCreate(
                unit_use=s.unit_use,
                item=s.item,
                item_name=s.item_name,
                basis=s.basis,
                rate=str(s.rate),
                effective_from=s.effective_from,
                posted_on=s.posted_on,
                decision_kind=s.decision_kind,
                decision_ref=s.decision_ref,
                ends_on=s.ends_on,
                late_fee_daily_rate=str(s.late_fee_daily_rate) if s.late_fee_daily_rate is not None else None,
            )
            for s in standards
        ],
    )
    return msgspec.json.format(msgspec.json.encode(made), indent=2)


async def set_up_estate(session: AsyncSession, actor: Principal, content: bytes) -> tuple[Estate, int]:
    """The estate of the file, made through the services if its code is new, with the buildings and
    fee standards it lacks; returns it and how many things were made (0: nothing to do)."""
    try:
        wanted = msgspec.json.decode(content, type=EstateFile)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"estate file: {error}", field="estate") from None
    except msgspec.DecodeError:
        raise InvalidInput(
            "estate file: not JSON (write it with `feesvc demo --export-files`)", field="estate"
        ) from None
    made = 0
    estate = (await session.execute(select(Estate).where(Estate.code == wanted.estate.code))).scalar_one_or_none()
    if estate is None:
        estate = await create_estate(session, actor, wanted.estate)
        made += 1
    assert estate.id is not None
    names = set((await session.execute(select(Building.name).where(Building.estate_id == estate.id))).scalars())
    for building in wanted.buildings:
        if building.name not in names:
            await create_building(session, actor, estate.id, building)
            made += 1
    standards = {
        (s.unit_use, s.item, s.effective_from)
        for s in (await session.execute(select(FeeStandard).where(FeeStandard.estate_id == estate.id))).scalars()
    }
    for standard in wanted.fee_standards:
        if (standard.unit_use, standard.item, standard.effective_from) not in standards:
            await create_fee_standard(session, actor, estate.id, standard)
            made += 1
    await session.commit()
    return estate, made
