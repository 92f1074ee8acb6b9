"""Limitation per owner on a sold unit (issue 15): a demand delivered to the buyer interrupts
nothing for the seller; a signed plan acknowledges its owner's periods; migration 0015_letters gives
every existing event its owner from the best record there is."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import MetaData, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from feesvc.auth.models import Role
from feesvc.db import business_today, create_engine
from feesvc.ledger.limitation import LimitationEvent, owner_limitation_events
from feesvc.letters.models import Letter
from feesvc.migrate import downgrade, upgrade
from feesvc.settings import DatabaseSettings
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api
from tests.test_migrations import scratch_url  # noqa: F401 - the fixture: an empty database of the same kind

SELLER_ADDRESS = "北京市朝阳区卖家路1号 3单元 502"
PROOF = b"%PDF-1.4\n% EMS signed receipt scan\n%%EOF\n"


async def demands(api: Api, sale: SoldUnit) -> dict[int | None, Letter]:
    await api.ok(await api.patch(f"/api/v1/owners/{sale.seller_id}", {"postal_address": SELLER_ADDRESS}))
    body = {"estate_id": sale.estate.id, "as_of": "2026-12-01"}
    assert (await api.ok(await api.post("/api/v1/reminder-runs", body), 200))["letters_by_kind"] == {"final_demand": 2}
    async with api.sessions() as s:
        query = select(Letter).where(col(Letter.unit_id) == sale.unit_id, col(Letter.run_id).is_not(None))
        letters = (await s.execute(query)).scalars().all()
    return {letter.owner_id: letter for letter in letters}


async def deliver(api: Api, letter: Letter, on: str) -> None:
    form = {"channel": "ems", "delivered_on": on, "tracking_no": f"EA{letter.id:09d}CN"}
    response = await api.client.post(
        f"/api/v1/letters/{letter.id}/deliveries",
        data=form,
        files={"proof": ("proof.pdf", PROOF)},
        headers=api.headers(Role.manager),
    )
    await api.ok(response)


async def events_of(api: Api, sale: SoldUnit, owner_id: int) -> list[tuple[str, str, date]]:
    async with api.sessions() as s:
        found = await owner_limitation_events(s, sale.unit_id, owner_id, business_today())
    return [(e.period, e.kind.value, e.occurred_on) for e in found]


async def test_a_demand_delivered_to_the_buyer_interrupts_nothing_for_the_seller(api: Api) -> None:
    sale = await sold_unit(api)
    letters = await demands(api, sale)
    await deliver(api, letters[sale.buyer_id], "2026-12-03")
    delivered = date(2026, 12, 3)
    assert await events_of(api, sale, sale.buyer_id) == [
        ("2026-09", "demand_delivered", delivered),
        ("2026-10", "demand_delivered", delivered),
    ]
    # The seller's 2026-06 clock runs on: the buyer's letter was not a demand on the seller.
    assert await events_of(api, sale, sale.seller_id) == []
    async with api.sessions() as s:
        every = (await s.execute(select(LimitationEvent).where(col(LimitationEvent.unit_id) == sale.unit_id))).scalars()
        assert {(e.owner_id, e.period) for e in every} == {(sale.buyer_id, "2026-09"), (sale.buyer_id, "2026-10")}

    # The seller's own demand, delivered at their address, restarts the seller's clock only.
    await deliver(api, letters[sale.seller_id], "2026-12-04")
    assert await events_of(api, sale, sale.seller_id) == [("2026-06", "demand_delivered", date(2026, 12, 4))]
    assert len(await events_of(api, sale, sale.buyer_id)) == 2
    # As of a day before the delivery, the event is not yet there.
    async with api.sessions() as s:
        assert await owner_limitation_events(s, sale.unit_id, sale.seller_id, date(2026, 12, 3)) == []


async def test_a_signed_plan_acknowledges_the_plan_owners_periods_only(api: Api) -> None:
    sale = await sold_unit(api)
    ledger = await api.ledger(sale.unit_id)
    buyers = [e["id"] for e in ledger["entries"] if e["kind"] == "charge" and e["period"] in ("2026-09", "2026-10")]
    first_due = f"{business_today().year + 1}-01-31"
    body = {
        "unit_id": sale.unit_id,
        "installments": 2,
        "first_due": first_due,
        "late_fee_treatment": "freeze",
        "charge_ids": buyers,
    }
    plan = await api.ok(await api.post("/api/v1/installment-plans", body))
    assert plan["owner_id"] == sale.buyer_id
    await api.ok(await api.post(f"/api/v1/installment-plans/{plan['id']}/agree", {}), 200)
    today = business_today()
    assert await events_of(api, sale, sale.buyer_id) == [
        ("2026-09", "acknowledgement", today),
        ("2026-10", "acknowledgement", today),
    ]
    assert await events_of(api, sale, sale.seller_id) == []


# ---------------------------------------------------------------------------------------------
# Migration 0015_letters: the owner of every existing event, from the best record
# ---------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 7, tzinfo=UTC)


async def _insert(conn: AsyncConnection, tables: MetaData, table_name: str, /, **values: Any) -> int:
    table = tables.tables[table_name]
    key = table.c.payment_id if table_name == "receipt" else table.c.id
    return int((await conn.execute(table.insert().values(**values).returning(key))).scalar_one())


async def _seed(url: str) -> dict[str, int]:
    """A unit sold on 2026-08-01 with one event of each kind, written as before 0012 (no owner)."""
    engine = create_engine(DatabaseSettings(url=url))
    tables = MetaData()
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: tables.reflect(c))
        ids: dict[str, int] = {}
        ids["estate"] = estate = await _insert(
            conn, tables, "estate", code="M0012", name="m", company_name="c", address="", service_phone="",
            locale="zh_CN", cycle_months=1, due_day=1, grace_days=0, late_fee_daily_rate="0.0003",
            late_fee_cap="principal", prepay_cap_months=12, vacancy_rule_enabled=False, vacancy_payable_ratio="1",
            vacancy_min_months=6, final_demand_days=15, plan_break_restores_waived=True,
            allocation_order="principal_first", created_at=NOW,
        )  # fmt: skip
        building = await _insert(conn, tables, "building", estate_id=estate, name="1栋")
        ids["unit"] = unit = await _insert(
            conn, tables, "unit", estate_id=estate, building_id=building, number="101", floor_area_m2="100",
            use="residential", ledger_version=0,
        )  # fmt: skip
        for who in ("seller", "buyer", "tenant"):
            ids[who] = await _insert(
                conn, tables, "owner", name=who, phone="", id_number="", email="", postal_address="",
                preferred_channel="paper",
            )  # fmt: skip
        await _insert(
            conn, tables, "ownership", unit_id=unit, owner_id=ids["seller"], starts_on=date(2020, 1, 1),
            ends_on=date(2026, 7, 31),
        )  # fmt: skip
        await _insert(conn, tables, "ownership", unit_id=unit, owner_id=ids["buyer"], starts_on=date(2026, 8, 1))

        def entry(**values: Any) -> dict[str, Any]:
            return {"estate_id": estate, "unit_id": unit, "actor": "m", "created_at": NOW, **values}

        june = await _insert(
            conn, tables, "ledger_entry", **entry(owner_id=ids["seller"], kind="charge", amount_fen=25000,
            effective_date=date(2026, 6, 1), period="2026-06", due_date=date(2026, 6, 1)),
        )  # fmt: skip
        await _insert(
            conn, tables, "ledger_entry", **entry(owner_id=ids["buyer"], kind="charge", amount_fen=25000,
            effective_date=date(2026, 9, 1), period="2026-09", due_date=date(2026, 9, 1)),
        )  # fmt: skip
        # The seller's part payment of June, paid on the seller's account (receipt 2026-000007).
        payment = await _insert(
            conn, tables, "payment", estate_id=estate, unit_id=unit, payer_name="seller", amount_fen=5000,
            method="cash", external_ref="", received_on=date(2026, 11, 2), received_at=NOW, cashier="c",
            idempotency_key="m0012", request_fingerprint="f",
        )  # fmt: skip
        await _insert(conn, tables, "receipt", payment_id=payment, estate_id=estate, year=2026, seq=7)
        await _insert(
            conn, tables, "ledger_entry", **entry(owner_id=ids["seller"], kind="payment", amount_fen=-5000,
            effective_date=date(2026, 11, 2), period="2026-06", settles_entry_id=june, payment_id=payment),
        )  # fmt: skip
        # The buyer's demand for 2026-06 and 2026-09: the letter run still wrote one letter per unit
        # then, to the current owner. Its delivery counts for the buyer, to whom it went.
        await _insert(
            conn, tables, "letter", estate_id=estate, unit_id=unit, owner_id=ids["buyer"], kind="final_demand",
            stage="final_demand", channel="paper", locale="zh_CN", letter_no="M0012-1", issued_on=date(2026, 11, 1),
            total_fen=50000, periods=["2026-06", "2026-09"], context={}, dedupe_key="m0012-1", actor="m",
            created_at=NOW,
        )  # fmt: skip
        # A plan the tenant signed, however odd: the plan's owner is the record.
        plan = await _insert(
            conn, tables, "installment_plan", estate_id=estate, unit_id=unit, owner_id=ids["tenant"],
            state="active", installments=2, frequency="monthly", first_due=date(2027, 1, 31),
            late_fee_treatment="freeze", total_fen=25000, note="", created_by="m", created_at=NOW,
            agreed_on=date(2026, 11, 5),
        )  # fmt: skip

        def event(period: str, kind: str, source: str) -> dict[str, Any]:
            return {
                "unit_id": unit, "period": period, "kind": kind, "occurred_on": date(2026, 11, 10),
                "source": source, "actor": "m", "created_at": NOW,
            }  # fmt: skip

        for name, values in {
            "letter_june": event("2026-06", "demand_delivered", "letter M0012-1"),
            "letter_september": event("2026-09", "demand_delivered", "letter M0012-1"),
            "plan": event("2026-06", "acknowledgement", f"installment plan #{plan}"),
            "receipt": event("2026-06", "part_payment", "收据 2026-000007"),
            "payment": event("2026-06", "part_payment", f"payment #{payment}"),
            "suit_june": event("2026-06", "legal_action", "payment order application"),
            "suit_september": event("2026-09", "legal_action", "payment order application"),
            "unknown_letter": event("2026-09", "demand_delivered", "letter NOT-ON-FILE"),
        }.items():
            ids[f"event_{name}"] = await _insert(conn, tables, "limitation_event", **values)
    await engine.dispose()
    return ids


async def _owners(url: str) -> dict[int, int | None]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        rows = await conn.execute(select(LimitationEvent.__table__.c.id, LimitationEvent.__table__.c.owner_id))  # type: ignore[attr-defined]
        found = {event_id: owner_id for event_id, owner_id in rows.all()}
    await engine.dispose()
    return found


async def _columns(url: str) -> set[str]:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: {x["name"] for x in inspect(c).get_columns("limitation_event")})
    await engine.dispose()
    return names


def test_0015_letters_gives_every_event_its_owner_and_takes_the_column_away(scratch_url: str) -> None:  # noqa: F811
    upgrade(scratch_url, "0014_at_sale")
    ids = asyncio.run(_seed(scratch_url))
    upgrade(scratch_url, "0015_letters")
    owners = asyncio.run(_owners(scratch_url))
    seller, buyer, tenant = ids["seller"], ids["buyer"], ids["tenant"]
    assert {name: owners[ids[f"event_{name}"]] for name in (
        "letter_june", "letter_september", "plan", "receipt", "payment", "suit_june", "suit_september",
        "unknown_letter",
    )} == {
        "letter_june": buyer,  # the letter's owner: the one it reached
        "letter_september": buyer,
        "plan": tenant,  # the plan's owner
        "receipt": seller,  # the paying account's owner, through the receipt
        "payment": seller,
        "suit_june": seller,  # nothing better: the owner of the period
        "suit_september": buyer,
        "unknown_letter": buyer,
    }  # fmt: skip
    downgrade(scratch_url, "0014_at_sale")
    assert "owner_id" not in asyncio.run(_columns(scratch_url))
    upgrade(scratch_url, "0015_letters")
    assert "owner_id" in asyncio.run(_columns(scratch_url))
    assert asyncio.run(_owners(scratch_url)) == owners
