"""Migration 0012_sale up and down with the demo data, on the database under test.

The demo is built at head (its own sales are billed by days already), the database taken down to
0011, and sales recorded there as a sale recorded late would have been before 0012: three units
billed whole to their owner for a year are sold mid-period, so the charges of the handover's period
and of every period after it name the seller. Up converts them to each owner's share (the seller's
payments on them becoming the seller's credit) and leaves everything else alone; the service then
finds nothing left to bring in line; down removes exactly what up wrote.
"""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.sale import reattribute_charges
from feesvc.db import create_engine, session_factory
from feesvc.demo import build_demo
from feesvc.migrate import downgrade, upgrade
from feesvc.rules.proration import Holding, period_shares
from feesvc.settings import DatabaseSettings
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind

MIGRATION = Path(__file__).resolve().parents[1] / "migrations/versions/0012_sale_proration.py"
TODAY = date(2026, 11, 22)
ENTRY_COLUMNS = (
    "id, unit_id, owner_id, kind, amount_fen, effective_date, period, item, due_date, settles_entry_id,"
    " reverses_entry_id, payment_id, dedupe_key, actor, reason"
)


def _revisions() -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("migration_0012_sale", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.revision, module.down_revision


async def _query(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _build_demo(url: str) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            await build_demo(session, units=24, years=1, seed=5, today=TODAY, code_prefix=f"M{uuid.uuid4().hex[:4]}-")
    finally:
        await engine.dispose()


async def _record_late_sales(url: str) -> dict[int, tuple[int, int, date]]:
    """At 0011: three units owned by one owner, billed for the year and paid on, without a
    prepayment discount or an installment plan (those are left as they are, and logged), sold on
    the 16th of a middle month. Unit → (seller, buyer, handover)."""
    units = await _query(
        url,
        "SELECT o.unit_id, o.owner_id, min(c.period), max(c.period) FROM ownership o"
        " JOIN ledger_entry c ON c.unit_id = o.unit_id AND c.kind = 'charge'"
        " WHERE o.unit_id NOT IN (SELECT unit_id FROM ownership GROUP BY unit_id HAVING count(*) > 1)"
        " AND o.unit_id NOT IN (SELECT unit_id FROM ledger_entry WHERE kind IN ('discount', 'adjustment'))"
        " AND o.unit_id IN (SELECT unit_id FROM ledger_entry WHERE kind = 'payment')"
        " AND o.unit_id NOT IN (SELECT e.unit_id FROM plan_charge p JOIN ledger_entry e ON e.id = p.entry_id)"
        " AND c.period_months = 1"
        " GROUP BY o.unit_id, o.owner_id ORDER BY o.unit_id",
    )
    sold: dict[int, tuple[int, int, date]] = {}
    for unit_id, seller, first, last in units[:3]:
        months = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:])
        middle = date(int(first[:4]), int(first[5:]), 16)
        for _ in range(months // 2):
            middle = (middle.replace(day=1) + timedelta(days=32)).replace(day=16)
        await _query(
            url,
            "INSERT INTO owner (name, phone, id_number, email, postal_address, preferred_channel)"
            " VALUES ('迁移买受人', '', '', '', '上海', 'paper')",
        )
        [(buyer,)] = await _query(url, "SELECT max(id) FROM owner")
        await _query(
            url,
            "UPDATE ownership SET ends_on = :ends WHERE unit_id = :unit",
            ends=middle - timedelta(days=1),
            unit=unit_id,
        )
        await _query(
            url,
            "INSERT INTO ownership (unit_id, owner_id, starts_on) VALUES (:unit, :buyer, :starts)",
            unit=unit_id,
            buyer=buyer,
            starts=middle,
        )
        sold[unit_id] = (seller, buyer, middle)
    assert len(sold) == 3
    return sold


def _entries(url: str) -> list[tuple[Any, ...]]:
    return asyncio.run(_query(url, f"SELECT {ENTRY_COLUMNS} FROM ledger_entry ORDER BY id"))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _reattribute_all(url: str, units: list[int]) -> list[Any]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            return [await reattribute_charges(session, COMMAND_LINE, u, TODAY, commit=False) for u in units]
    finally:
        await engine.dispose()


def test_0012_converts_charges_across_recorded_sales_and_goes_back_down(scratch_url: str) -> None:  # noqa: F811
    revision, before = _revisions()
    upgrade(scratch_url, "head")
    asyncio.run(_build_demo(scratch_url))
    demo_sales = asyncio.run(
        _query(
            scratch_url, "SELECT count(*) FROM (SELECT unit_id FROM ownership GROUP BY unit_id HAVING count(*) > 1) s"
        )
    )[0][0]
    downgrade(scratch_url, before)
    sold = asyncio.run(_record_late_sales(scratch_url))
    at_0011 = _entries(scratch_url)

    upgrade(scratch_url, revision)
    assert "sale_proration" in asyncio.run(_columns(scratch_url))
    after = _entries(scratch_url)
    assert after[: len(at_0011)] == at_0011  # nothing changed, only appended
    written = after[len(at_0011) :]
    assert written and all(row[13] == "migration 0012" for row in written)
    assert {row[1] for row in written} == set(sold)  # the demo's own sales were billed by days already
    assert demo_sales >= 1

    by_unit: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in after:
        by_unit[row[1]].append(row)
    before_by_unit: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in at_0011:
        before_by_unit[row[1]].append(row)
    credits = 0
    for unit_id, (seller, buyer, handover) in sold.items():
        rows = by_unit[unit_id]
        # The unit's balance is what it was: reversals and shares net out, paid money is credit.
        assert sum(r[4] for r in rows) == sum(r[4] for r in before_by_unit[unit_id])
        reversed_ids = {r[10] for r in rows if r[10] is not None}
        standing = [r for r in rows if r[3] == "charge" and r[0] not in reversed_ids]
        keys = [r[12] for r in standing]
        assert len(keys) == len(set(keys))
        periods: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for r in standing:
            periods[r[6]].append((r[2], r[4]))
        holdings = [Holding(seller, date(2000, 1, 1), handover - timedelta(days=1)), Holding(buyer, handover, None)]
        for period, charged in periods.items():
            first = date.fromisoformat(f"{period}-01")
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            total = sum(fen for _, fen in charged)
            shares = period_shares(total, first, last, holdings)
            assert charged == [(s.owner_id, s.amount_fen) for s in shares], (unit_id, period)
        assert any(len(c) == 2 for c in periods.values())  # the handover's period, split
        for r in rows:
            if r[13] == "migration 0012" and r[3] == "reversal" and r[0] is not None:
                assert r[14] and "migration 0012" in r[14]
        credits += sum(1 for r in rows if r[13] == "migration 0012" and r[3] == "prepaid_credit")
    assert credits  # the sellers had paid for periods that became the buyers'

    # The service finds nothing more to bring in line, whatever the later migrations add.
    upgrade(scratch_url, "head")
    results = asyncio.run(_reattribute_all(scratch_url, sorted(sold)))
    assert all(r.periods == [] and r.needs_attention == [] for r in results)

    downgrade(scratch_url, before)
    assert "sale_proration" not in asyncio.run(_columns(scratch_url))
    assert _entries(scratch_url) == at_0011
    upgrade(scratch_url, revision)
    assert [r[1:] for r in _entries(scratch_url)[len(at_0011) :]] == [r[1:] for r in written]


async def _columns(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("estate")})
    await engine.dispose()
    return names
