from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput
from feesvc.latefees import terms as late_fee_terms
from feesvc.registry.service import get_estate
from feesvc.schemas import exact
from feesvc.standards.models import FeeStandard
from feesvc.standards.schemas import FeeStandardCreate, FeeStandardOut


async def create_fee_standard(
    session: AsyncSession, actor: Principal, estate_id: int, data: FeeStandardCreate
) -> FeeStandard:
    await get_estate(session, estate_id)
    if data.posted_on > data.effective_from:
        # 民法典 943: a fee must be publicly posted before owners can be charged by it.
        raise InvalidInput("a fee standard must be publicly posted before it takes effect", field="posted_on")
    if data.ends_on is not None and data.ends_on < data.effective_from:
        raise InvalidInput("a fee standard cannot end before it takes effect", field="ends_on")
    duplicate = select(FeeStandard.id).where(
        FeeStandard.estate_id == estate_id,
        FeeStandard.unit_use == data.unit_use,
        FeeStandard.item == data.item,
        FeeStandard.effective_from == data.effective_from,
    )
    if (await session.execute(duplicate)).first():
        raise Conflict("a standard for this use and item already starts on that date", field="effective_from")
    standard = FeeStandard(
        estate_id=estate_id,
        unit_use=data.unit_use,
        item=data.item,
        item_name=data.item_name,
        basis=data.basis,
        rate=exact(data.rate),
        effective_from=data.effective_from,
        ends_on=data.ends_on,
        posted_on=data.posted_on,
        decision_kind=data.decision_kind,
        decision_ref=data.decision_ref,
        late_fee_daily_rate=exact(data.late_fee_daily_rate) if data.late_fee_daily_rate else None,
    )
    session.add(standard)
    await session.flush()
    own_rate = late_fee_terms.standard_rate_version(standard, actor)
    if own_rate is not None:
        session.add(own_rate)  # the standard's own late-fee rate, as a version of the terms
    await record_audit(
        session,
        actor,
        "fee_standard.create",
        "fee_standard",
        standard.id,
        {
            "item": data.item,
            "unit_use": data.unit_use,
            "rate": data.rate,
            "effective_from": str(data.effective_from),
        },
    )
    await session.commit()
    return standard


async def list_fee_standards(session: AsyncSession, estate_id: int) -> list[FeeStandard]:
    await get_estate(session, estate_id)
    query = (
        select(FeeStandard)
        .where(FeeStandard.estate_id == estate_id)
        .order_by(FeeStandard.unit_use, FeeStandard.item, FeeStandard.effective_from)  # type: ignore[arg-type]
    )
    return list((await session.execute(query)).scalars())


async def standards_in_force(session: AsyncSession, estate_id: int, on: date) -> list[FeeStandard]:
    """For each unit use and item, the latest standard that has started by ``on`` and not ended."""
    candidates = (
        await session.execute(
            select(FeeStandard)
            .where(FeeStandard.estate_id == estate_id, FeeStandard.effective_from <= on)
            .order_by(FeeStandard.effective_from)  # type: ignore[arg-type]
        )
    ).scalars()
    latest: dict[tuple[str, str], FeeStandard] = {}
    for standard in candidates:
        latest[(standard.unit_use, standard.item)] = standard
    return [s for s in latest.values() if s.ends_on is None or s.ends_on >= on]


def fee_standard_out(s: FeeStandard) -> FeeStandardOut:
    assert s.id is not None
    return FeeStandardOut(
        id=s.id,
        estate_id=s.estate_id,
        unit_use=s.unit_use,
        item=s.item,
        item_name=s.item_name,
        basis=s.basis,
        rate=s.rate,
        effective_from=s.effective_from,
        ends_on=s.ends_on,
        posted_on=s.posted_on,
        decision_kind=s.decision_kind,
        decision_ref=s.decision_ref,
        late_fee_daily_rate=s.late_fee_daily_rate,
    )
