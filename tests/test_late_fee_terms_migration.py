"""Migration 0009 turns the late-fee terms each estate and fee standard had into first versions,
on the database under test, and goes back down and up again."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from feesvc.db import create_engine, session_factory
from feesvc.latefees.terms import EstateTerms, estate_terms
from feesvc.migrate import downgrade, upgrade
from feesvc.rules.late_fees import LateFeeCap
from feesvc.settings import DatabaseSettings
from tests.databases import fresh_postgres_database

MIGRATION = Path(__file__).resolve().parents[1] / "migrations/versions/0009_late_fee_terms_versions_and_corrections.py"


def _revisions() -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("migration_0009", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.revision, module.down_revision


@pytest.fixture
def scratch_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if DatabaseSettings(url=database_url).is_sqlite:
        yield f"sqlite:///{tmp_path_factory.mktemp('terms_migration') / 'scratch.db'}"
        return
    with fresh_postgres_database(database_url, "terms_migration") as url:
        yield url


async def _execute(url: str, *statements: str) -> list[list[tuple]]:  # type: ignore[type-arg]
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


async def _estate_terms(url: str, estate_id: int) -> EstateTerms:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            return await estate_terms(session, estate_id)
    finally:
        await engine.dispose()


ESTATES = """
INSERT INTO estate (id, code, name, company_name, address, service_phone, locale, cycle_months, due_day,
    grace_days, late_fee_daily_rate, late_fee_cap, late_fee_cap_fen, late_fee_starts_on, prepay_cap_months,
    vacancy_rule_enabled, vacancy_payable_ratio, vacancy_min_months, allocation_order, created_at)
VALUES
    (1, 'A', 'A', 'A', '', '', 'zh_CN', 1, 1, 10, '0.0003', 'principal', NULL, NULL, 12, false, '1', 6,
     'principal_first', '2026-01-01 00:00:00+00:00'),
    (2, 'B', 'B', 'B', '', '', 'zh_CN', 1, 1, 0, '0.0005', 'fixed', 5000, '2025-07-01', 12, false, '1', 6,
     'principal_first', '2026-01-01 00:00:00+00:00'),
    (3, 'C', 'C', 'C', '', '', 'zh_CN', 1, 1, 5, '0.001', 'fixed', NULL, NULL, 12, false, '1', 6,
     'principal_first', '2026-01-01 00:00:00+00:00')
"""
STANDARDS = """
INSERT INTO fee_standard (id, estate_id, unit_use, item, item_name, basis, rate, effective_from, ends_on,
    posted_on, decision_kind, decision_ref, late_fee_daily_rate)
VALUES
    (1, 1, 'residential', 'service_fee', '物业服务费', 'per_m2_month', '2.50', '2025-01-01', NULL, '2024-12-01',
     'contract', '合同', NULL),
    (2, 1, 'parking', 'parking', '车位管理费', 'fixed_month', '100.00', '2025-03-01', NULL, '2025-02-01',
     'contract', '车位合同', '0.0005')
"""
VERSIONS = (
    "SELECT estate_id, fee_standard_id, effective_from, daily_rate, grace_days, cap, cap_fen, starts_on"
    " FROM late_fee_terms ORDER BY estate_id, fee_standard_id IS NOT NULL, fee_standard_id"
)


def test_existing_terms_become_first_versions_and_the_migration_goes_down_and_up(scratch_url: str) -> None:
    revision, before = _revisions()
    upgrade(scratch_url, before)
    asyncio.run(_execute(scratch_url, ESTATES, STANDARDS))
    upgrade(scratch_url, revision)
    [rows] = asyncio.run(_execute(scratch_url, VERSIONS))
    assert [tuple(str(value) if value is not None else None for value in row) for row in rows] == [
        ("1", None, "1900-01-01", "0.0003", "10", "principal", None, None),
        ("1", "2", "2025-03-01", "0.0005", None, None, None, None),
        ("2", None, "1900-01-01", "0.0005", "0", "fixed", "5000", "2025-07-01"),
        # A fixed cap without an amount was refused by the settings route and never applied.
        ("3", None, "1900-01-01", "0.001", "5", "none", None, None),
    ]
    # The service reads them as the rules' tables: the second estate's terms with its fixed cap.
    terms = asyncio.run(_estate_terms(scratch_url, 2))
    assert [(v.effective_from, v.policy.cap, v.policy.cap_fen) for v in terms.estate] == [
        (date(1900, 1, 1), LateFeeCap.fixed, 5000)
    ]
    # The versions are never rewritten.
    with pytest.raises(Exception, match="append-only"):
        asyncio.run(_execute(scratch_url, "UPDATE late_fee_terms SET daily_rate = '0.01'"))
    downgrade(scratch_url, before)
    [[(estates,)]] = asyncio.run(_execute(scratch_url, "SELECT count(*) FROM estate"))
    assert estates == 3
    upgrade(scratch_url, revision)
    [rows] = asyncio.run(_execute(scratch_url, VERSIONS))
    assert len(rows) == 4
