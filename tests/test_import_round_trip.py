"""Moving an estate with real life in it: exported as the import files, imported into an empty
database, it has the same balances, aging and limitation analysis, owner by owner.

The source estate (built through the API as users would) has late fees accrued over three years, a
unit sold (the seller's periods and the buyer's), a partly paid period, a period whose principal was
paid but whose late fee was not, a voided payment, prepaid credit, a legal filing and a part
payment that interrupted limitation, and a period whose limitation expired. All dates are fixed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from feesvc.app import create_app
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.db import create_engine, session_factory
from feesvc.exports.import_files import import_files
from feesvc.migrate import upgrade
from feesvc.payments.voids import void_payment
from feesvc.registry.models import Estate
from feesvc.settings import DatabaseSettings, ServerSettings, Settings
from tests.databases import fresh_postgres_database
from tests.support import Api
from tests.test_reports import pay

AS_OF = "2026-10-15"
TERMS = {"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
ACCRUALS = ("2024-06-30", "2025-06-30", "2026-01-31", "2026-06-30", AS_OF)
KINDS = ("units", "owners", "ownerships", "balances", "credits")


@pytest.fixture
async def empty(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The API of an empty database of its own, built through the migrations."""
    server = os.environ.get("FEESVC_TEST_DATABASE_URL")
    if not server or DatabaseSettings(url=server).is_sqlite:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        await asyncio.to_thread(upgrade, url)
        async for made in _api(url, tmp_path):
            yield made
        return
    # Made and dropped in a thread: they run an event loop of their own.
    database = fresh_postgres_database(server, "roundtrip")
    url = await asyncio.to_thread(database.__enter__)
    try:
        await asyncio.to_thread(upgrade, url)
        async for made in _api(url, tmp_path):
            yield made
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


async def _api(url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(database=DatabaseSettings(url=url), server=ServerSettings(files_dir=str(tmp_path)))
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    tokens = {}
    async with sessions() as s:
        for role in (Role.manager, Role.cashier, Role.system):
            tokens[role], _ = await create_token(s, COMMAND_LINE, role, f"test-{role.value}")
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Api(client, tokens, sessions)
    await engine.dispose()


async def accrue(api: Api, estate_id: int, as_of: str) -> Any:
    return await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate_id, "as_of": as_of}), 200)


async def lived_in(api: Api) -> tuple[int, list[int]]:
    """Units 101 (A), 102 (B), 103 (C, sold on 2026-04-16) of 100 m² at 2.00: 20,000 fen a month."""
    estate = await api.make_estate(
        units=3, rate="2.00", area="100.00", settings=TERMS, effective_from="2023-01-01", owners_from="2023-01-01"
    )
    a, b, c = estate.unit_ids
    for period in ("2023-06", "2023-09", "2025-12", "2026-03"):
        await api.bill(estate.id, period, f"{period}-01")
    await accrue(api, estate.id, ACCRUALS[0])
    await pay(api, a, 5000, "2024-01-10", ["2023-09"])  # a part payment: 2023-09's clock restarts
    await pay(api, b, 5000, "2024-01-10", ["2023-09"])  # the same for B, who owes the rest to the end
    await accrue(api, estate.id, ACCRUALS[1])
    await accrue(api, estate.id, ACCRUALS[2])
    await pay(api, b, 20000, "2026-02-10", ["2025-12"])  # principal first: its late fee stays open
    voided = await pay(api, b, 20000, "2026-03-20", ["2026-03"])
    async with api.sessions() as s:
        await void_payment(s, COMMAND_LINE, voided["id"], "收错户，已退回", date(2026, 3, 25))
        await s.commit()
    buyer = await api.ok(
        await api.post("/api/v1/owners", {"name": "买受人王五", "phone": "13900009999", "postal_address": "新址1号"})
    )
    await api.ok(await api.post(f"/api/v1/units/{c}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-04-16"}))
    for period in ("2026-06", "2026-09"):
        await api.bill(estate.id, period, f"{period}-01")
    await accrue(api, estate.id, ACCRUALS[3])
    filing = {
        "unit_id": c,
        "owner_id": estate.owner_ids[2],
        "kind": "payment_order",
        "filed_on": "2026-08-20",
        "court": "某区人民法院",
        "case_no": "(2026)沪0101民督1号",
        "periods": ["2023-09", "2025-12"],
        "claimed_fen": 40000,
    }
    await api.ok(
        await api.post("/api/v1/limitation/filings", filing, headers={"Idempotency-Key": f"roundtrip-filing-{c}"})
    )
    await pay(api, a, 150000, "2026-09-20")  # everything A owes and more: prepaid credit
    await accrue(api, estate.id, AS_OF)
    return estate.id, estate.unit_ids


async def figures(api: Api, estate_id: int, as_of: str = AS_OF) -> dict[str, Any]:
    """What the API says of the estate on a day, keyed by unit number and owner name (ids differ
    from one database to the other)."""
    units = await api.ok(await api.get(f"/api/v1/estates/{estate_id}/units", params={"page_size": 100}))
    ledgers = {}
    for unit in units["items"]:
        ledger = await api.ledger(unit["id"], as_of)
        # The payoff of the day after: a payment on the balance day itself would take that day's
        # late fee off in the source (paid that day), while the import carries the fee up to and
        # including its balance day; from the next day on both count the same days.
        next_day = await api.ledger(unit["id"], (date.fromisoformat(as_of) + timedelta(days=1)).isoformat())
        ledgers[unit["number"]] = {
            k: ledger[k] for k in ("balance_fen", "owed_fen", "overdue_fen", "prepaid_credit_fen")
        } | {
            f"payoff_{k}": (next_day["payoff"] or {}).get(k)
            for k in ("principal_fen", "late_fee_posted_fen", "late_fee_unposted_fen", "total_fen")
        }
    aging = await api.ok(await api.get(f"/api/v1/estates/{estate_id}/reports/aging", params={"as_of": as_of}))
    watch = await api.ok(
        await api.get(f"/api/v1/estates/{estate_id}/limitation-watch", params={"as_of": as_of, "within_days": 1098})
    )
    accounts = {
        (a["unit_label"], a["owner_name"]): {
            "current_owner": a["current_owner"],
            "expired": a["expired_periods"],
            "periods": [
                {k: v for k, v in p.items() if k not in ("last_interruption", "notice_in_flight")}
                | {"interrupted": (p["last_interruption"] or {}).get("on")}
                for p in a["periods"]
            ],
        }
        for a in watch["accounts"]
    }
    return {
        "ledgers": ledgers,
        "aging": {k: v for k, v in aging["estate"].items() if k not in ("building_id", "name")},
        "limitation": accounts,
    }


async def move(source: Api, estate_id: int, target: Api) -> tuple[int, dict[str, bytes]]:
    async with source.sessions() as s:
        estate = await s.get(Estate, estate_id)
        assert estate is not None
        files = await import_files(s, estate, date.fromisoformat(AS_OF))
    made = await target.make_estate(units=0, rate="2.00", settings=TERMS, effective_from="2023-01-01")
    for kind in KINDS:
        result = await upload(target, made.id, kind, files[kind])
        assert result["written"] and not result["problems"], (kind, result)
    return made.id, files


async def upload(api: Api, estate_id: int, kind: str, content: bytes) -> Any:
    response = await api.client.post(
        f"/api/v1/estates/{estate_id}/imports/{kind}",
        files={"file": (f"{kind}.xlsx", content)},
        headers=api.headers(Role.manager),
    )
    assert response.status_code == 200, (kind, response.text)
    return response.json()


async def test_an_estate_with_late_fees_a_sale_a_void_credit_and_limitation_moves_whole(api: Api, empty: Api) -> None:
    source_id, _ = await lived_in(api)
    before = await figures(api, source_id)
    # The story has what it claims: each of these would be lost by a careless move.
    assert before["ledgers"]["101"]["prepaid_credit_fen"] > 0
    assert before["aging"]["former_owners"]["overdue_fen"] > 0  # C's seller
    assert any(p["interrupted"] for a in before["limitation"].values() for p in a["periods"])
    assert any(a["expired"] for a in before["limitation"].values())

    target_id, files = await move(api, source_id, empty)
    after = await figures(empty, target_id)
    for number, ledger in before["ledgers"].items():
        assert after["ledgers"][number] == ledger, f"{number}: {after['ledgers'][number]} != {ledger}"
    assert after["aging"] == before["aging"]
    assert after["limitation"] == before["limitation"]

    # feesvc's late fees run on from the balance day: nothing more on that day, the same later.
    assert (await accrue(empty, target_id, AS_OF))["late_fees_posted"] == 0
    await accrue(api, source_id, "2026-11-30")
    await accrue(empty, target_id, "2026-11-30")
    assert (await figures(empty, target_id, "2026-11-30")) == (await figures(api, source_id, "2026-11-30"))

    # The same files again change nothing.
    for kind in KINDS:
        result = await upload(empty, target_id, kind, files[kind])
        assert (result["created"], result["updated"], result["reversed"]) == (0, 0, 0), (kind, result)
