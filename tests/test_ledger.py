from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, func, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import create_engine, session_factory, utcnow
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import LedgerError, append, balance, entries_as_of, reversal_of, stream_entry_rows
from feesvc.registry.models import Unit
from feesvc.registry.schemas import BuildingCreate, EstateCreate, UnitCreate
from feesvc.registry.service import create_building, create_estate, create_unit
from feesvc.settings import DatabaseSettings
from tests.support import Api


async def test_database_refuses_update_and_delete_of_entries(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=1)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    async with sessions() as s:
        entry_id = (await s.execute(select(LedgerEntry.id).where(LedgerEntry.estate_id == estate.id))).scalar_one()
    for statement in (
        f"UPDATE ledger_entry SET amount_fen = 1 WHERE id = {entry_id}",
        f"DELETE FROM ledger_entry WHERE id = {entry_id}",
    ):
        async with sessions() as s:
            with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
                await s.execute(text(statement))
                await s.commit()
    async with sessions() as s:
        entry = (await s.execute(select(LedgerEntry).where(LedgerEntry.id == entry_id))).scalar_one()
        assert entry.amount_fen > 1


async def test_database_refuses_to_delete_an_owner_the_ledger_names(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # ledger_entry.owner_id has no foreign key (bulk runs): the owner's row is kept instead.
    estate = await api.make_estate(units=1)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    async with sessions() as s:
        owner_id = (
            await s.execute(select(LedgerEntry.owner_id).where(LedgerEntry.estate_id == estate.id))
        ).scalar_one()
    assert owner_id is not None
    async with sessions() as s:
        with pytest.raises((DBAPIError, IntegrityError), match="owners are kept"):
            await s.execute(text(f"DELETE FROM owner WHERE id = {owner_id}"))
            await s.commit()
    async with sessions() as s:
        assert (await s.execute(text(f"SELECT count(*) FROM owner WHERE id = {owner_id}"))).scalar_one() == 1


async def test_ledger_as_of_reproduces_past_balances(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00")
    for month in ("2026-01", "2026-02", "2026-03"):
        await api.bill(estate.id, month, f"{month}-01")
    unit = estate.unit_ids[0]
    assert (await api.ledger(unit, "2025-12-31"))["balance_fen"] == 0
    assert (await api.ledger(unit, "2026-01-31"))["balance_fen"] == 20000
    feb = await api.ledger(unit, "2026-02-15")
    assert feb["balance_fen"] == 40000 and len(feb["entries"]) == 2
    assert [e["balance_after_fen"] for e in feb["entries"]] == [20000, 40000]
    assert (await api.ledger(unit, "2026-03-31"))["balance_fen"] == 60000


postings = st.lists(
    st.tuples(
        st.sampled_from([EntryKind.charge, EntryKind.late_fee, EntryKind.adjustment, EntryKind.discount]),
        st.integers(min_value=1, max_value=10**9),
        st.integers(min_value=0, max_value=400),
        st.booleans(),  # reverse it afterwards?
    ),
    min_size=1,
    max_size=12,
)


async def _post_and_check(
    url: str,
    unit: Unit,
    batch: list[tuple[EntryKind, int, int, bool]],
    seen: dict[int, tuple[int, date, str]],
) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    start = date(2024, 1, 1)
    try:
        async with session_factory(engine)() as s:
            made = [
                LedgerEntry(
                    estate_id=unit.estate_id,
                    unit_id=unit.id,
                    kind=kind,
                    amount_fen=-amount if kind is EntryKind.discount else amount,
                    effective_date=start + timedelta(days=day),
                    actor="test",
                    reason="property test" if kind is EntryKind.adjustment else None,
                )
                for kind, amount, day, _ in batch
            ]
            append(s, made)
            await s.flush()
            reversals = [
                reversal_of(e, e.effective_date, COMMAND_LINE, "property test")
                for e, (*_, reverse) in zip(made, batch, strict=True)
                if reverse
            ]
            append(s, reversals)
            await s.commit()
            for e in [*made, *reversals]:
                assert e.id is not None
                seen[e.id] = (e.amount_fen, e.effective_date, e.kind)

            entries = await entries_as_of(s, unit.id)
            # Every entry ever posted is still there, unchanged, and nothing else is.
            assert {e.id: (e.amount_fen, e.effective_date, e.kind) for e in entries} == seen
            assert await balance(s, unit.id) == sum(e.amount_fen for e in entries)
            for probe in (start, start + timedelta(days=200), start + timedelta(days=400)):
                assert await balance(s, unit.id, probe) == sum(a for a, d, _ in seen.values() if d <= probe)
    finally:
        await engine.dispose()


async def _make_unit(url: str) -> Unit:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as s:
            estate = await create_estate(
                s,
                COMMAND_LINE,
                EstateCreate(code="P" + uuid.uuid4().hex[:8], name="性质测试小区", company_name="测试物业"),
            )
            assert estate.id is not None
            building = await create_building(s, COMMAND_LINE, estate.id, BuildingCreate(name="1栋"))
            assert building.id is not None
            unit, _ = await create_unit(s, COMMAND_LINE, UnitCreate(building.id, "101", "88.00"))
            return unit
    finally:
        await engine.dispose()


def test_balance_is_always_the_sum_of_entries_and_entries_never_change(database_url: str) -> None:
    unit = asyncio.run(_make_unit(database_url))
    seen: dict[int, tuple[int, date, str]] = {}

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(postings)
    def check(batch: list[tuple[EntryKind, int, int, bool]]) -> None:
        asyncio.run(_post_and_check(database_url, unit, batch, seen))

    check()
    assert len(seen) >= 30


def entry_row(estate_id: int, unit_id: int, **values: object) -> dict[str, object]:
    """A ledger entry as a bulk run hands it over: every column, NULL unless given."""
    columns = (c.name for c in LedgerEntry.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
    row: dict[str, object] = dict.fromkeys(columns)
    return row | {"estate_id": estate_id, "unit_id": unit_id, "actor": "test", "created_at": utcnow(), **values}


async def batches_of(rows: list[dict[str, object]], size: int = 1000) -> AsyncIterator[list[dict[str, object]]]:
    """Rows as a run hands them to ``stream_entry_rows``: in batches, as they are computed."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def test_streamed_entries_are_checked_and_a_taken_dedupe_key_fails_the_whole_stream(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=4)
    await api.bill(estate.id, "2026-01", "2026-01-01")

    def row(unit_id: int, amount_fen: int, key: str) -> dict[str, object]:
        return entry_row(
            estate.id,
            unit_id,
            kind=EntryKind.adjustment,
            amount_fen=amount_fen,
            effective_date=date(2026, 2, 1),
            period="2026-01",
            dedupe_key=key,
            reason="测试",
            detail={"n": 1},
        )

    prefix = uuid.uuid4().hex
    rows = [row(unit, 100 + i, f"{prefix}:{i}") for i, unit in enumerate(estate.unit_ids * 3000)]
    async with sessions() as s:
        await stream_entry_rows(s, batches_of(rows))
        await s.commit()
    async with sessions() as s:
        count = select(func.count()).where(col(LedgerEntry.dedupe_key).like(f"{prefix}:%"))
        assert (await s.execute(count)).scalar_one() == len(rows)
        stored = (await s.execute(select(LedgerEntry).where(LedgerEntry.dedupe_key == f"{prefix}:7"))).scalar_one()
        assert (stored.unit_id, stored.amount_fen, stored.detail) == (rows[7]["unit_id"], 107, {"n": 1})

    async with sessions() as s:
        with pytest.raises(LedgerError, match="non-zero"):
            rows = [row(estate.unit_ids[0], 5, f"{prefix}:new"), row(estate.unit_ids[1], 0, f"{prefix}:zero")]
            await stream_entry_rows(s, batches_of(rows))
        await s.rollback()
    # The key is taken: nothing of the stream stays, on any of its connections (batches of one row
    # take turns, so every stream has some).
    fresh = [row(unit, 1, f"{prefix}:again:{unit}") for unit in estate.unit_ids]
    async with sessions() as s:
        with pytest.raises(IntegrityError):
            await stream_entry_rows(s, batches_of([*fresh, row(estate.unit_ids[0], 1, f"{prefix}:0")], size=1))
            await s.commit()
        await s.rollback()
    async with sessions() as s:
        again = select(func.count()).where(col(LedgerEntry.dedupe_key).like(f"{prefix}:again:%"))
        assert (await s.execute(again)).scalar_one() == 0


async def test_one_late_fee_per_charge_and_date_without_a_dedupe_key(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await api.make_estate(units=2)
    await api.bill(estate.id, "2026-01", "2026-01-01")
    async with sessions() as s:
        charges = (
            await s.execute(
                select(col(LedgerEntry.id), col(LedgerEntry.unit_id)).where(
                    LedgerEntry.estate_id == estate.id, LedgerEntry.kind == EntryKind.charge
                )
            )
        ).all()

    def late_fee(charge_id: int | None, unit_id: int, on: date) -> dict[str, object]:
        return entry_row(
            estate.id,
            unit_id,
            kind=EntryKind.late_fee,
            amount_fen=12,
            effective_date=on,
            period="2026-01",
            basis_entry_id=charge_id,
        )

    (first, first_unit), (second, second_unit) = charges
    async with sessions() as s:
        await stream_entry_rows(s, batches_of([late_fee(first, first_unit, date(2026, 3, 1))]))
        await s.commit()
    async with sessions() as s:
        with pytest.raises(LedgerError, match="names the charge"):
            await stream_entry_rows(s, batches_of([late_fee(None, first_unit, date(2026, 3, 1))]))
    # The same charge on the same day again: refused, and the other charge's fee with it.
    async with sessions() as s:
        with pytest.raises(IntegrityError):
            rows = [late_fee(second, second_unit, date(2026, 3, 1)), late_fee(first, first_unit, date(2026, 3, 1))]
            await stream_entry_rows(s, batches_of(rows, size=1))
            await s.commit()
        await s.rollback()
    # Another day is another late fee.
    async with sessions() as s:
        await stream_entry_rows(s, batches_of([late_fee(first, first_unit, date(2026, 4, 1))]))
        await s.commit()
    async with sessions() as s:
        posted = select(col(LedgerEntry.basis_entry_id), col(LedgerEntry.effective_date)).where(
            LedgerEntry.estate_id == estate.id, LedgerEntry.kind == EntryKind.late_fee
        )
        assert sorted((await s.execute(posted)).all()) == [(first, date(2026, 3, 1)), (first, date(2026, 4, 1))]


async def test_an_entry_belongs_to_its_units_estate(api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    first, second = await api.make_estate(units=1), await api.make_estate(units=1)
    entry = LedgerEntry(
        estate_id=second.id,
        unit_id=first.unit_ids[0],
        kind=EntryKind.adjustment,
        amount_fen=100,
        effective_date=date(2026, 1, 1),
        actor="test",
        reason="测试",
    )
    async with sessions() as s:
        append(s, [entry])
        with pytest.raises(IntegrityError):
            await s.commit()
