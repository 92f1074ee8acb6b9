"""Migration 0025_unit_position up and down on the database under test: each existing unit gets the
position its ledger gives (balance; earliest due date of what is open, a late fee due with its
charge), as the ledger's writers keep it from then on."""

from __future__ import annotations

import asyncio

from feesvc.migrate import downgrade, upgrade
from tests.test_migration_desk_payment_account import _execute
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind

BEFORE, REVISION = "0021_online", "0025_unit_position"

ROWS = [
    "INSERT INTO estate (id, code, name, company_name, address, service_phone, locale, cycle_months, due_day,"
    " grace_days, late_fee_daily_rate, late_fee_cap, prepay_cap_months, vacancy_rule_enabled,"
    " vacancy_payable_ratio, vacancy_min_months, final_demand_days, plan_break_restores_waived,"
    " allocation_order, created_at) VALUES (1, 'P25', 'p', 'c', '', '', 'zh_CN', 1, 10, 0, '0.0003', 'principal',"
    " 12, false, '1', 6, 15, true, 'principal_first', '2026-12-07 00:00:00+00:00')",
    "INSERT INTO building (id, estate_id, name) VALUES (1, 1, '1栋')",
    "INSERT INTO unit (id, estate_id, building_id, number, floor_area_m2, use) VALUES"
    " (1, 1, 1, '101', '100.00', 'residential'), (2, 1, 1, '102', '100.00', 'residential'),"
    " (3, 1, 1, '103', '100.00', 'residential')",
    # Unit 1: June open (due 06-10); July paid, but the late fee posted on it is open (due with
    # July, 07-10); August half paid (due 08-10). Unit 2: paid up, 100 fen of credit. Unit 3: nothing.
    "INSERT INTO ledger_entry (id, estate_id, unit_id, kind, amount_fen, effective_date, due_date, period,"
    " settles_entry_id, basis_entry_id, actor, created_at) VALUES"
    " (1, 1, 1, 'charge', 25000, '2026-06-01', '2026-06-10', '2026-06', NULL, NULL, 'run', '2026-06-01 00:00'),"
    " (2, 1, 1, 'charge', 25000, '2026-07-01', '2026-07-10', '2026-07', NULL, NULL, 'run', '2026-07-01 00:00'),"
    " (3, 1, 1, 'payment', -25000, '2026-07-20', NULL, '2026-07', 2, NULL, 'c', '2026-07-20 00:00'),"
    " (4, 1, 1, 'late_fee', 75, '2026-07-31', NULL, '2026-07', NULL, 2, 'run', '2026-07-31 00:00'),"
    " (5, 1, 1, 'charge', 25000, '2026-08-01', '2026-08-10', '2026-08', NULL, NULL, 'run', '2026-08-01 00:00'),"
    " (6, 1, 1, 'payment', -12500, '2026-08-05', NULL, '2026-08', 5, NULL, 'c', '2026-08-05 00:00'),"
    " (7, 1, 2, 'charge', 25000, '2026-06-01', '2026-06-10', '2026-06', NULL, NULL, 'run', '2026-06-01 00:00'),"
    " (8, 1, 2, 'payment', -25000, '2026-06-05', NULL, '2026-06', 7, NULL, 'c', '2026-06-05 00:00'),"
    " (9, 1, 2, 'prepaid_credit', -100, '2026-06-05', NULL, NULL, NULL, NULL, 'c', '2026-06-05 00:00')",
]


def _positions(url: str) -> list[tuple[object, ...]]:
    [rows] = asyncio.run(_execute(url, "SELECT id, balance_fen, earliest_open_due FROM unit ORDER BY id"))
    return [(unit_id, balance, None if due is None else str(due)) for unit_id, balance, due in rows]


def test_0025_fills_each_units_position_from_its_ledger_and_goes_down_and_up(
    scratch_url: str,  # noqa: F811
) -> None:
    upgrade(scratch_url, BEFORE)
    asyncio.run(_execute(scratch_url, *ROWS))
    upgrade(scratch_url, REVISION)
    expected = [(1, 25000 + 75 + 12500, "2026-06-10"), (2, -100, None), (3, 0, None)]
    assert _positions(scratch_url) == expected
    downgrade(scratch_url, BEFORE)
    [columns] = asyncio.run(_execute(scratch_url, "SELECT * FROM unit WHERE id = 1"))
    assert len(columns[0]) == 7  # id, estate, building, number, area, use, ledger_version
    upgrade(scratch_url, REVISION)
    assert _positions(scratch_url) == expected
