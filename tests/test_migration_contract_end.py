"""Migration 0010 (estate.service_contract_ends_on) up and down, on the database under test."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from sqlalchemy import Date, DateTime, bindparam, inspect, text

from feesvc.db import create_engine
from feesvc.migrate import downgrade, upgrade
from feesvc.settings import DatabaseSettings
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind


async def _estate_columns(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("estate")})
    await engine.dispose()
    return names


async def _write_and_read(url: str) -> list[tuple[str, object]]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO estate (code, name, company_name, address, service_phone, locale, cycle_months, due_day,"
                " grace_days, late_fee_daily_rate, late_fee_cap, prepay_cap_months, vacancy_rule_enabled,"
                " vacancy_payable_ratio, vacancy_min_months, final_demand_days, plan_break_restores_waived,"
                " allocation_order, created_at, service_contract_ends_on) VALUES ('M0010', 'm', 'c', '', '', 'zh_CN',"
                " 1, 1, 0, '0.0003', 'principal', 12, false, '1', 6, 15, true, 'principal_first', :now, :ends)"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("ends", type_=Date())),
            {"now": datetime(2026, 12, 7, tzinfo=UTC), "ends": date(2027, 6, 30)},
        )
        rows = await conn.execute(text("SELECT code, service_contract_ends_on FROM estate ORDER BY code"))
        found = [(code, ends) for code, ends in rows.all()]
    await engine.dispose()
    return found


def test_0010_adds_the_contract_end_and_takes_it_away(scratch_url: str) -> None:  # noqa: F811
    upgrade(scratch_url, "0010")
    assert "service_contract_ends_on" in asyncio.run(_estate_columns(scratch_url))
    [(code, ends)] = asyncio.run(_write_and_read(scratch_url))
    assert code == "M0010" and str(ends) == "2027-06-30"
    downgrade(scratch_url, "-1")
    assert "service_contract_ends_on" not in asyncio.run(_estate_columns(scratch_url))
    upgrade(scratch_url, "0010")
    assert "service_contract_ends_on" in asyncio.run(_estate_columns(scratch_url))
