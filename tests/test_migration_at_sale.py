"""Migration 0014_at_sale (sale_settlement, settlement_certificate) up and down, on the database
under test; both tables are append-only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam, inspect, text

from feesvc.db import create_engine
from feesvc.migrate import downgrade, upgrade
from feesvc.settings import DatabaseSettings
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind

TABLES = {"sale_settlement", "settlement_certificate"}


async def _tables(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def _settle_then_change(url: str) -> tuple[int, str]:
    """A settlement row written, then an UPDATE of it tried: (rows, the refusal)."""
    engine = create_engine(DatabaseSettings(url=url))
    now = bindparam("now", type_=DateTime(timezone=True))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO estate (code, name, company_name, address, service_phone, locale, cycle_months, due_day,"
                " grace_days, late_fee_daily_rate, late_fee_cap, prepay_cap_months, vacancy_rule_enabled,"
                " vacancy_payable_ratio, vacancy_min_months, final_demand_days, plan_break_restores_waived,"
                " allocation_order, created_at) VALUES ('M0012', 'm', 'c', '', '', 'zh_CN',"
                " 1, 1, 0, '0.0003', 'principal', 12, false, '1', 6, 15, true, 'principal_first', :now)"
            ).bindparams(now),
            {"now": datetime(2026, 12, 7, tzinfo=UTC)},
        )
        await conn.execute(text("INSERT INTO building (estate_id, name) SELECT id, 'A' FROM estate"))
        await conn.execute(
            text(
                "INSERT INTO unit (estate_id, building_id, number, floor_area_m2, use, ledger_version)"
                " SELECT estate_id, id, '101', '100.00', 'residential', 0 FROM building"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO owner (name, phone, id_number, email, postal_address, preferred_channel)"
                " VALUES ('买家', '', '', '', '', 'paper')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO ownership (unit_id, owner_id, starts_on)"
                " SELECT unit.id, owner.id, '2026-08-01' FROM unit, owner"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO sale_settlement (ownership_id, unit_id, request_fingerprint, result, actor, created_at)"
                " SELECT id, unit_id, 'f', '{}', 'test', :now FROM ownership"
            ).bindparams(now),
            {"now": datetime(2026, 12, 7, tzinfo=UTC)},
        )
    refusal = "accepted"
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE sale_settlement SET actor = 'someone else'"))
    except Exception as error:  # noqa: BLE001 - the refusal is what we look for
        refusal = str(error)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*) FROM sale_settlement"))).scalar_one()
    await engine.dispose()
    return int(rows), refusal


def test_0014_at_sale_adds_the_settlement_tables_and_takes_them_away(scratch_url: str) -> None:  # noqa: F811
    upgrade(scratch_url, "0014_at_sale")
    assert asyncio.run(_tables(scratch_url)) >= TABLES
    rows, refusal = asyncio.run(_settle_then_change(scratch_url))
    assert rows == 1 and "append-only" in refusal
    downgrade(scratch_url, "0013_desk")
    assert not TABLES & asyncio.run(_tables(scratch_url))
    upgrade(scratch_url, "0014_at_sale")
    assert asyncio.run(_tables(scratch_url)) >= TABLES
