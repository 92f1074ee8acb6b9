"""Registry operations. Every write is audit-logged in the same transaction."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from feesvc.latefees import terms as late_fee_terms
from feesvc.registry.masking import Masking
from feesvc.registry.models import Building, Channel, Estate, Owner, Ownership, Unit, VacancyNotice
from feesvc.registry.schemas import (
    BuildingCreate,
    EstateCreate,
    EstateOut,
    EstateSettings,
    OwnerContactOut,
    OwnerContactUpdate,
    OwnerCreate,
    OwnerOut,
    UnitCreate,
    UnitOut,
    VacancyNoticeCreate,
)
from feesvc.rules.late_fees import LateFeePolicy, LateFeeTerms
from feesvc.schemas import exact


def _settings_columns(settings: EstateSettings) -> dict[str, object]:
    ratio = exact(settings.vacancy_payable_ratio)
    if ratio > 1:
        raise InvalidInput(
            "the payable share of a vacant unit's fee is at most 1", field="settings.vacancy_payable_ratio"
        )
    if settings.late_fee_cap == "fixed" and settings.late_fee_cap_fen is None:
        raise InvalidInput("a fixed late-fee cap needs late_fee_cap_fen", field="settings.late_fee_cap_fen")
    if 12 % settings.cycle_months:
        raise InvalidInput("the billing cycle is 1, 2, 3, 4, 6 or 12 months", field="settings.cycle_months")
    return {
        "cycle_months": settings.cycle_months,
        "due_day": settings.due_day,
        "grace_days": settings.grace_days,
        "late_fee_daily_rate": exact(settings.late_fee_daily_rate),
        "late_fee_cap": settings.late_fee_cap,
        "late_fee_cap_fen": settings.late_fee_cap_fen,
        "late_fee_starts_on": settings.late_fee_starts_on,
        "prepay_cap_months": settings.prepay_cap_months,
        "service_contract_ends_on": settings.service_contract_ends_on,
        "vacancy_rule_enabled": settings.vacancy_rule_enabled,
        "vacancy_payable_ratio": ratio,
        "vacancy_min_months": settings.vacancy_min_months,
        "allocation_order": settings.allocation_order,
        "plan_break_restores_waived": settings.plan_break_restores_waived,
        "final_demand_days": settings.final_demand_days,
        **_letter_columns(settings),
        "locale": settings.locale,
        "sale_proration": settings.sale_proration,
        "fapiao_tax_code": settings.fapiao_tax_code,
        "fapiao_tax_rate": exact(settings.fapiao_tax_rate),
        "fapiao_category": settings.fapiao_category,
    }


#: The settings of what letters tell owners, stored as they are sent.
LETTER_SETTINGS = (
    "desk_address",
    "desk_hours",
    "bank_account_name",
    "bank_name",
    "bank_account_no",
    "online_payment_url",
    "dispute_contact",
    "complaint_channel",
    "late_fee_clause",
    "arbitration_clause",
    "money_style",
    "paper_lead_days",
)


def _letter_columns(settings: EstateSettings) -> dict[str, object]:
    if bool(settings.bank_account_no) != bool(settings.bank_account_name):
        missing = "bank_account_name" if settings.bank_account_no else "bank_account_no"
        raise InvalidInput(
            "a bank account in letters needs both the account holder's name and the account number",
            field=f"settings.{missing}",
        )
    if settings.bank_name and not settings.bank_account_no:
        raise InvalidInput("a bank name needs the account number as well", field="settings.bank_account_no")
    return {column: getattr(settings, column) for column in LETTER_SETTINGS}


def estate_out(estate: Estate) -> EstateOut:
    assert estate.id is not None
    return EstateOut(
        id=estate.id,
        code=estate.code,
        name=estate.name,
        company_name=estate.company_name,
        address=estate.address,
        service_phone=estate.service_phone,
        settings=EstateSettings(
            cycle_months=estate.cycle_months,
            due_day=estate.due_day,
            grace_days=estate.grace_days,
            late_fee_daily_rate=str(estate.late_fee_daily_rate),
            late_fee_cap=estate.late_fee_cap,
            late_fee_cap_fen=estate.late_fee_cap_fen,
            late_fee_starts_on=estate.late_fee_starts_on,
            prepay_cap_months=estate.prepay_cap_months,
            service_contract_ends_on=estate.service_contract_ends_on,
            vacancy_rule_enabled=estate.vacancy_rule_enabled,
            vacancy_payable_ratio=str(estate.vacancy_payable_ratio),
            vacancy_min_months=estate.vacancy_min_months,
            allocation_order=estate.allocation_order,
            plan_break_restores_waived=estate.plan_break_restores_waived,
            final_demand_days=estate.final_demand_days,
            locale=estate.locale,
            **{column: getattr(estate, column) for column in LETTER_SETTINGS},
            sale_proration=estate.sale_proration,
            fapiao_tax_code=estate.fapiao_tax_code,
            fapiao_tax_rate=str(estate.fapiao_tax_rate),
            fapiao_category=estate.fapiao_category,
        ),
    )


async def create_estate(session: AsyncSession, actor: Principal, data: EstateCreate) -> Estate:
    if (await session.execute(select(Estate.id).where(Estate.code == data.code))).first():
        raise Conflict(f"an estate with code {data.code!r} exists already", field="code")
    estate = Estate(
        code=data.code,
        name=data.name,
        company_name=data.company_name,
        address=data.address,
        service_phone=data.service_phone,
        **_settings_columns(data.settings),  # type: ignore[arg-type]
    )
    session.add(estate)
    await session.flush()
    assert estate.id is not None
    session.add(late_fee_terms.initial_version(estate.id, _late_fee_policy(data.settings), actor))
    await record_audit(session, actor, "estate.create", "estate", estate.id, {"code": data.code})
    await session.commit()
    return estate


async def update_estate_settings(
    session: AsyncSession, actor: Principal, estate_id: int, settings: EstateSettings, today: date
) -> Estate:
    """Change an estate's settings; a change of its late-fee terms is a new version of them from
    ``settings.late_fee_terms_from`` (default ``today``, the business day of the change)."""
    estate = await get_estate(session, estate_id)
    before = estate_out(estate).settings
    policy = _late_fee_policy(settings)  # refuses an impossible policy before anything is written
    columns = _settings_columns(settings)
    await _new_late_fee_terms(session, actor, estate_id, policy, settings.late_fee_terms_from, today)
    for column, value in columns.items():
        setattr(estate, column, value)
    await record_audit(
        session,
        actor,
        "estate.settings",
        "estate",
        estate_id,
        {"before": _plain(before), "after": _plain(settings)},
    )
    await session.commit()
    return estate


def _late_fee_policy(settings: EstateSettings) -> LateFeePolicy:
    if settings.late_fee_cap == "fixed" and settings.late_fee_cap_fen is None:
        raise InvalidInput("a fixed late-fee cap needs late_fee_cap_fen", field="settings.late_fee_cap_fen")
    rate = exact(settings.late_fee_daily_rate)
    if rate > 1:
        raise InvalidInput("a daily late-fee rate is at most 1 (100% a day)", field="settings.late_fee_daily_rate")
    return LateFeePolicy(
        daily_rate=rate,
        grace_days=settings.grace_days,
        cap=settings.late_fee_cap,
        cap_fen=settings.late_fee_cap_fen if settings.late_fee_cap == "fixed" else None,
        starts_on=settings.late_fee_starts_on,
    )


async def _new_late_fee_terms(
    session: AsyncSession,
    actor: Principal,
    estate_id: int,
    policy: LateFeePolicy,
    effective_from: date | None,
    today: date,
) -> None:
    """A version of the late-fee terms from ``effective_from`` when the settings change them."""
    day = effective_from or today
    in_force = LateFeeTerms.of((await late_fee_terms.estate_terms(session, estate_id)).estate).in_force(day)
    if in_force is not None and in_force.policy == policy:
        return
    change = late_fee_terms.TermsChange(
        effective_from=day,
        daily_rate=policy.daily_rate,
        basis="小区设置中修改的违约金条款",
        grace_days=policy.grace_days,
        cap=policy.cap,
        cap_fen=policy.cap_fen,
        starts_on=policy.starts_on,
    )
    try:
        await late_fee_terms.add_version(session, actor, estate_id, change, today, commit=False)
    except (InvalidInput, Conflict) as error:
        raise type(error)(str(error), field="settings.late_fee_terms_from") from error


def _plain(settings: EstateSettings) -> dict[str, object]:
    return msgspec.to_builtins(settings)


async def get_estate(session: AsyncSession, estate_id: int, field: str | None = None) -> Estate:
    estate = await session.get(Estate, estate_id)
    if estate is None:
        raise NotFound(f"estate {estate_id} does not exist", field=field)
    return estate


async def list_estates(session: AsyncSession) -> list[Estate]:
    return list((await session.execute(select(Estate).order_by(col(Estate.id)))).scalars())


async def create_building(session: AsyncSession, actor: Principal, estate_id: int, data: BuildingCreate) -> Building:
    await get_estate(session, estate_id)
    duplicate = select(Building.id).where(Building.estate_id == estate_id, Building.name == data.name)
    if (await session.execute(duplicate)).first():
        raise Conflict(f"building {data.name!r} exists already in this estate", field="name")
    building = Building(estate_id=estate_id, name=data.name)
    session.add(building)
    await session.flush()
    await record_audit(session, actor, "building.create", "building", building.id, {"name": data.name})
    await session.commit()
    return building


async def list_buildings(session: AsyncSession, estate_id: int) -> list[Building]:
    await get_estate(session, estate_id)
    query = select(Building).where(Building.estate_id == estate_id).order_by(Building.name)
    return list((await session.execute(query)).scalars())


async def create_unit(session: AsyncSession, actor: Principal, data: UnitCreate) -> tuple[Unit, Building]:
    building = await session.get(Building, data.building_id)
    if building is None:
        raise NotFound(f"building {data.building_id} does not exist", field="building_id")
    area = exact(data.floor_area_m2)
    if area <= 0:
        raise InvalidInput("the floor area must be greater than 0 m²", field="floor_area_m2")
    duplicate = select(Unit.id).where(Unit.building_id == building.id, Unit.number == data.number)
    if (await session.execute(duplicate)).first():
        raise Conflict(f"unit {data.number!r} exists already in building {building.name}", field="number")
    unit = Unit(
        estate_id=building.estate_id,
        building_id=data.building_id,
        number=data.number,
        floor_area_m2=area,
        use=data.use,
    )
    session.add(unit)
    await session.flush()
    await record_audit(
        session,
        actor,
        "unit.create",
        "unit",
        unit.id,
        {"number": data.number, "area": str(area), "use": data.use},
    )
    await session.commit()
    return unit, building


def unit_out(unit: Unit, building: Building) -> UnitOut:
    assert unit.id is not None
    return UnitOut(
        id=unit.id,
        estate_id=unit.estate_id,
        building_id=unit.building_id,
        building=building.name,
        number=unit.number,
        floor_area_m2=unit.floor_area_m2,
        use=unit.use,
    )


async def get_unit(session: AsyncSession, unit_id: int, field: str | None = None) -> tuple[Unit, Building]:
    row = (
        await session.execute(
            select(Unit, Building).join(Building, col(Building.id) == Unit.building_id).where(Unit.id == unit_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"unit {unit_id} does not exist", field=field)
    return row[0], row[1]


async def can_read_unit(session: AsyncSession, principal: Principal, unit_id: int) -> None:
    """Staff read any unit; an owner only units they own or owned (their arrears stay theirs)."""
    if principal.is_staff:
        return
    owned = select(Ownership.id).where(Ownership.unit_id == unit_id, Ownership.owner_id == principal.owner_id)
    if (await session.execute(owned.limit(1))).first() is None:
        raise Forbidden("this unit is not yours")


async def create_owner(session: AsyncSession, actor: Principal, data: OwnerCreate) -> Owner:
    owner = Owner(
        name=data.name,
        phone=data.phone or "",
        id_number=data.id_number or "",
        email=data.email or "",
        postal_address=data.postal_address,
        preferred_channel=data.preferred_channel,
        locale=data.locale,
    )
    session.add(owner)
    await session.flush()
    # Personal data stays out of the audit log too.
    await record_audit(session, actor, "owner.create", "owner", owner.id)
    await session.commit()
    return owner


def owner_out(owner: Owner, masking: Masking) -> OwnerOut:
    assert owner.id is not None
    return OwnerOut(
        id=owner.id,
        name=masking.name(owner.name),
        phone=masking.phone(owner.phone),
        id_number=masking.id_number(owner.id_number),
        email=masking.email(owner.email),
        preferred_channel=owner.preferred_channel,
        locale=owner.locale,
    )


async def update_owner_contact(
    session: AsyncSession, actor: Principal, owner_id: int, data: OwnerContactUpdate
) -> Owner:
    """Change where an owner is reached; the audit log names what changed, never the values."""
    owner = await get_owner(session, owner_id)
    changed = []
    for name in ("phone", "email", "postal_address", "preferred_channel", "locale"):
        value = getattr(data, name)
        if value is not None and value != getattr(owner, name):
            setattr(owner, name, value)
            changed.append(name)
    if owner.preferred_channel == Channel.email and not owner.email:
        raise InvalidInput("letters by e-mail need the owner's e-mail address", field="email")
    if owner.preferred_channel in (Channel.sms, Channel.wechat) and not owner.phone:
        raise InvalidInput(f"letters by {owner.preferred_channel.value} need the owner's phone", field="phone")
    await record_audit(session, actor, "owner.contact", "owner", owner_id, {"changed": changed})
    await session.commit()
    return owner


def owner_contact_out(owner: Owner, masking: Masking) -> OwnerContactOut:
    return OwnerContactOut(
        **msgspec.structs.asdict(owner_out(owner, masking)), has_postal_address=bool(owner.postal_address)
    )


async def get_owner(session: AsyncSession, owner_id: int, field: str | None = None) -> Owner:
    owner = await session.get(Owner, owner_id)
    if owner is None:
        raise NotFound(f"owner {owner_id} does not exist", field=field)
    return owner


async def current_ownership(session: AsyncSession, unit_id: int) -> Ownership | None:
    """The unit's ownership that has not ended (the latest recorded)."""
    query = select(Ownership).where(Ownership.unit_id == unit_id, col(Ownership.ends_on).is_(None))
    return (await session.execute(query)).scalar_one_or_none()


async def transfer_ownership(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    owner_id: int,
    starts_on: date,
    *,
    commit: bool = True,
    today: date | None = None,
) -> Ownership:
    """Record who owns the unit from ``starts_on`` (the handover date); a sale closes the previous
    ownership the day before, and charges already issued for the new owner's days follow them
    (billing.sale). ``commit=False``: in the caller's transaction (a sale settles what belongs to
    whom in the same one, feesvc.sales). ``today``: the business day (default: now's)."""
    await get_unit(session, unit_id)
    await get_owner(session, owner_id, field="owner_id")
    current = await current_ownership(session, unit_id)
    if current is not None:
        if starts_on <= current.starts_on:
            raise InvalidInput(
                f"the new ownership must start after the current one ({current.starts_on})", field="starts_on"
            )
        if current.owner_id == owner_id:
            raise Conflict("this owner already owns the unit", field="owner_id")
        current.ends_on = starts_on - timedelta(days=1)
    ownership = Ownership(unit_id=unit_id, owner_id=owner_id, starts_on=starts_on)
    session.add(ownership)
    await session.flush()
    await record_audit(
        session,
        actor,
        "ownership.start",
        "unit",
        unit_id,
        {
            "owner_id": owner_id,
            "starts_on": starts_on.isoformat(),
            "previous_owner_id": current.owner_id if current else None,
        },
    )
    # Charges issued for days the new owner owns (a sale recorded late, or mid-period) follow them.
    from feesvc.billing.sale import reattribute_charges  # here: billing imports the registry

    await reattribute_charges(session, actor, unit_id, today or business_today(), commit=False)
    if commit:
        await session.commit()
    return ownership


async def ownerships(session: AsyncSession, unit_id: int) -> list[Ownership]:
    query = select(Ownership).where(Ownership.unit_id == unit_id).order_by(col(Ownership.starts_on))
    return list((await session.execute(query)).scalars())


async def ownership_span(session: AsyncSession, unit_id: int, owner_id: int) -> tuple[date, date | None]:
    """The first and last day an owner owned a unit (None: still owns it)."""
    rows = (
        (await session.execute(select(Ownership).where(Ownership.unit_id == unit_id, Ownership.owner_id == owner_id)))
        .scalars()
        .all()
    )
    if not rows:
        raise Forbidden("this unit is not yours")
    ends = [o.ends_on for o in rows]
    return min(o.starts_on for o in rows), None if None in ends else max(e for e in ends if e is not None)


def ownership_covering(on: date | ColumnElement[date]) -> ColumnElement[bool]:
    """SQL condition: the ownership row in force on a date (or a bound parameter for one).

    On the table's columns, so Core statements built once can use it too."""
    ownership = Ownership.__table__  # type: ignore[attr-defined]
    return and_(ownership.c.starts_on <= on, or_(ownership.c.ends_on.is_(None), ownership.c.ends_on >= on))


async def add_vacancy_notice(
    session: AsyncSession, actor: Principal, unit_id: int, data: VacancyNoticeCreate
) -> VacancyNotice:
    await get_unit(session, unit_id)
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise InvalidInput("a vacancy cannot end before it starts", field="ends_on")
    notice = VacancyNotice(
        unit_id=unit_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        notified_on=data.notified_on,
        reference=data.reference,
    )
    session.add(notice)
    await session.flush()
    await record_audit(session, actor, "vacancy.notice", "unit", unit_id, {"starts_on": data.starts_on.isoformat()})
    await session.commit()
    return notice
