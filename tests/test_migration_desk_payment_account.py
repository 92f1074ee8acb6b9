"""Migration 0013_desk (payment.owner_id, the account a payment is for) up and down on the database
under test: existing payments get the owner their own payment and credit entries name."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from feesvc.db import create_engine
from feesvc.migrate import downgrade, upgrade
from feesvc.settings import DatabaseSettings
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind

BEFORE, REVISION = "0012_sale", "0013_desk"

ROWS = [
    "INSERT INTO estate (id, code, name, company_name, address, service_phone, locale, cycle_months, due_day,"
    " grace_days, late_fee_daily_rate, late_fee_cap, prepay_cap_months, vacancy_rule_enabled,"
    " vacancy_payable_ratio, vacancy_min_months, final_demand_days, plan_break_restores_waived,"
    " allocation_order, created_at) VALUES (1, 'D12', 'd', 'c', '', '', 'zh_CN', 1, 1, 0, '0.0003', 'principal',"
    " 12, false, '1', 6, 15, true, 'principal_first', '2026-12-07 00:00:00+00:00')",
    "INSERT INTO building (id, estate_id, name) VALUES (1, 1, '1栋')",
    "INSERT INTO unit (id, estate_id, building_id, number, floor_area_m2, use)"
    " VALUES (1, 1, 1, '101', '100.00', 'residential')",
    "INSERT INTO owner (id, name, phone, id_number, email, postal_address, preferred_channel)"
    " VALUES (1, '卖方', '', '', '', '', 'paper'), (2, '买方', '', '', '', '', 'paper')",
    "INSERT INTO payment (id, estate_id, unit_id, payer_name, amount_fen, method, external_ref, received_on,"
    " received_at, cashier, idempotency_key, request_fingerprint) VALUES"
    " (1, 1, 1, '', 30000, 'cash', '', '2026-11-16', '2026-11-16 02:00:00+00:00', 'c', 'key-1', 'f'),"
    " (2, 1, 1, '', 20000, 'cash', '', '2026-11-17', '2026-11-17 02:00:00+00:00', 'c', 'key-2', 'f'),"
    " (3, 1, 1, '', 100, 'cash', '', '2026-11-18', '2026-11-18 02:00:00+00:00', 'c', 'key-3', 'f')",
    # Payment 1 is the seller's: its split and its credit name owner 1. Payment 2 is the buyer's, on
    # a charge of the seller's it designated; its discount (a prepayment's) names the charge's
    # owner and does not count. Payment 3's entries name nobody (before owners were recorded).
    "INSERT INTO ledger_entry (id, estate_id, unit_id, owner_id, kind, amount_fen, effective_date, period,"
    " settles_entry_id, payment_id, actor, created_at) VALUES"
    " (1, 1, 1, 1, 'charge', 25000, '2026-06-01', '2026-06', NULL, NULL, 'run', '2026-06-01 00:00:00+00:00'),"
    " (2, 1, 1, 1, 'charge', 25000, '2026-07-01', '2026-07', NULL, NULL, 'run', '2026-07-01 00:00:00+00:00'),"
    " (3, 1, 1, 1, 'payment', -25000, '2026-11-16', '2026-06', 1, 1, 'c', '2026-11-16 00:00:00+00:00'),"
    " (4, 1, 1, 1, 'prepaid_credit', -5000, '2026-11-16', NULL, NULL, 1, 'c', '2026-11-16 00:00:00+00:00'),"
    " (5, 1, 1, 1, 'discount', -1000, '2026-11-17', '2026-07', 2, 2, 'c', '2026-11-17 00:00:00+00:00'),"
    " (6, 1, 1, 2, 'payment', -20000, '2026-11-17', '2026-07', 2, 2, 'c', '2026-11-17 00:00:00+00:00'),"
    " (7, 1, 1, NULL, 'prepaid_credit', -100, '2026-11-18', NULL, NULL, 3, 'c', '2026-11-18 00:00:00+00:00')",
]


async def _execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_engine(DatabaseSettings(url=url))
    results = []
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                results.append([tuple(row) for row in result.all()] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return results


def _still_append_only(url: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        asyncio.run(_execute(url, "UPDATE payment SET payer_name = 'changed' WHERE id = 1"))


async def _payment_columns(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("payment")})
    finally:
        await engine.dispose()


def test_0013_desk_gives_each_payment_the_account_its_entries_name_and_goes_down_and_up(
    scratch_url: str,  # noqa: F811
) -> None:
    upgrade(scratch_url, BEFORE)
    asyncio.run(_execute(scratch_url, *ROWS))
    upgrade(scratch_url, REVISION)
    [accounts] = asyncio.run(_execute(scratch_url, "SELECT id, owner_id FROM payment ORDER BY id"))
    assert accounts == [(1, 1), (2, 2), (3, None)]
    _still_append_only(scratch_url)
    downgrade(scratch_url, BEFORE)
    assert "owner_id" not in asyncio.run(_payment_columns(scratch_url))
    _still_append_only(scratch_url)
    [[(payments,)]] = asyncio.run(_execute(scratch_url, "SELECT count(*) FROM payment"))
    assert payments == 3
    upgrade(scratch_url, REVISION)
    [accounts] = asyncio.run(_execute(scratch_url, "SELECT id, owner_id FROM payment ORDER BY id"))
    assert accounts == [(1, 1), (2, 2), (3, None)]
    _still_append_only(scratch_url)
