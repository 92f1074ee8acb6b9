"""Reports over a sold unit (issue 15, item 6): a unit's arrears are split by owner, former owners'
arrears are shown apart, and the totals still add up.

The sold unit of tests/sale_support: the seller (a former owner from 2026-08-01) owes 2026-06,
25,000 fen; the buyer owes 2026-09 and 2026-10, 50,000 fen. Reports are read as of 2026-11-30.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from feesvc.auth.models import Role
from feesvc.ledger.models import EntryKind, LedgerEntry
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api

AS_OF = "2026-11-30"


def url(sold: SoldUnit, tail: str) -> str:
    return f"/api/v1/estates/{sold.estate.id}/reports/{tail}"


def assert_parts_add_up(row: dict[str, Any]) -> None:
    current, former = row["current_owners"], row["former_owners"]
    assert current["overdue_fen"] + former["overdue_fen"] == row["overdue_fen"]
    for total, mine, theirs in zip(row["buckets"], current["buckets"], former["buckets"], strict=True):
        assert total["label"] == mine["label"] == theirs["label"]
        assert mine["overdue_fen"] + theirs["overdue_fen"] == total["overdue_fen"]


async def test_aging_splits_a_sold_units_arrears_by_owner_with_the_sellers_apart(api: Api) -> None:
    sold = await sold_unit(api)
    report = await api.ok(await api.get(url(sold, "aging"), params={"as_of": AS_OF}))
    estate = report["estate"]
    assert (estate["overdue_fen"], estate["units_overdue"], estate["units_total"]) == (75000, 1, 1)
    assert estate["former_owners"]["overdue_fen"] == 25000 and estate["former_owners"]["accounts"] == 1
    assert estate["current_owners"]["overdue_fen"] == 50000 and estate["current_owners"]["accounts"] == 1
    assert_parts_add_up(estate)
    # The seller's June is six months overdue, the buyer's periods are recent: each in its own bucket.
    former_buckets = {b["label"]: b["overdue_fen"] for b in estate["former_owners"]["buckets"] if b["overdue_fen"]}
    current_buckets = {b["label"]: b["overdue_fen"] for b in estate["current_owners"]["buckets"] if b["overdue_fen"]}
    assert former_buckets == {"181-365": 25000}  # due 2026-06-01, 182 days before
    assert sum(current_buckets.values()) == 50000 and "181-365" not in current_buckets
    # A unit with debts of two owners is one unit overdue, in each bucket it has anything in.
    assert sum(b["units"] for b in estate["buckets"] if b["overdue_fen"]) == len(former_buckets | current_buckets)
    [building] = report["buildings"]
    assert building["former_owners"] == estate["former_owners"]
    assert_parts_add_up(building)

    # Before the sale the seller was the owner: nothing is a former owner's.
    before = await api.ok(await api.get(url(sold, "aging"), params={"as_of": "2026-07-31"}))
    assert before["estate"]["overdue_fen"] == 25000 and before["estate"]["former_owners"]["overdue_fen"] == 0
    assert before["estate"]["current_owners"]["overdue_fen"] == 25000


async def test_collection_rate_shows_former_owners_arrears_apart(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sold = await sold_unit(api)
    async with sessions() as s:
        june = (
            await s.execute(
                select(LedgerEntry).where(
                    LedgerEntry.unit_id == sold.unit_id,
                    LedgerEntry.kind == EntryKind.charge,
                    LedgerEntry.period == "2026-06",
                )
            )
        ).scalar_one()
    # In October the seller pays part of June at the desk, naming the debt.
    await api.ok(
        await api.post(
            "/api/v1/payments",
            {
                "unit_id": sold.unit_id,
                "amount_fen": 10000,
                "method": "cash",
                "received_on": "2026-10-12",
                "designation": {"entry_ids": [june.id]},
            },
            Role.cashier,
            headers={"Idempotency-Key": "sale-reports-seller-pays-june"},
        ),
        201,
    )
    report = await api.ok(await api.get(url(sold, "collection-rate"), params={"period": "2026-10", "as_of": AS_OF}))
    # October is the buyer's: none of its outstanding is a former owner's.
    assert report["outstanding_fen"] == 25000 and report["outstanding_former_owners_fen"] == 0
    old = report["old_arrears"]
    # Old arrears at October's start: the seller's June and the buyer's September.
    assert old["open_at_start_fen"] == 50000
    assert old["former_owners_open_at_start_fen"] == 25000 and old["former_owners_accounts_at_start"] == 1
    assert old["collected_fen"] == 10000 and old["former_owners_collected_fen"] == 10000
    assert old["open_at_end_fen"] == 40000 and old["former_owners_open_at_end_fen"] == 15000

    # June itself, measured now: billed to the seller, who is a former owner today.
    june_rate = await api.ok(await api.get(url(sold, "collection-rate"), params={"period": "2026-06", "as_of": AS_OF}))
    assert june_rate["outstanding_fen"] == 15000 and june_rate["outstanding_former_owners_fen"] == 15000


async def test_arrears_by_cause_keeps_the_sellers_debt_apart_from_the_units_case(api: Api) -> None:
    sold = await sold_unit(api)
    report = await api.ok(await api.get(url(sold, "arrears-by-cause"), params={"as_of": AS_OF}))
    causes = {row["cause"]: row["overdue_fen"] for row in report["causes"] if row["overdue_fen"]}
    # The buyer's debt is classified with the unit (no case: unclassified); the seller's is apart.
    assert causes == {"unclassified": 50000}
    assert (report["former_owners_fen"], report["former_owners_units"]) == (25000, 1)
    assert report["overdue_fen"] == 75000 == sum(causes.values()) + report["former_owners_fen"]
    aging = await api.ok(await api.get(url(sold, "aging"), params={"as_of": AS_OF}))
    assert report["former_owners_fen"] == aging["estate"]["former_owners"]["overdue_fen"]


async def test_the_buyers_arrears_are_not_grouped_by_the_sellers_case(api: Api) -> None:
    """A case is one owner's: the seller's, classified hardship, says nothing of why the buyer owes."""
    sold = await sold_unit(api)
    opened = await api.client.post(
        f"/api/v1/units/{sold.unit_id}/arrears-case",
        params={"owner_id": sold.seller_id},
        headers=api.headers(Role.cashier),
    )
    seller_case = await api.ok(opened, 201)
    body = {"category": "hardship", "reason": "上门核实：原业主失业，房屋已出售"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{seller_case['id']}/override", body))
    report = await api.ok(await api.get(url(sold, "arrears-by-cause"), params={"as_of": AS_OF}))
    causes = {row["cause"]: row["overdue_fen"] for row in report["causes"] if row["overdue_fen"]}
    assert causes == {"unclassified": 50000}
    assert (report["former_owners_fen"], report["former_owners_units"]) == (25000, 1)

    # The buyer's own case, classified, is what groups the buyer's arrears.
    opened = await api.client.post(f"/api/v1/units/{sold.unit_id}/arrears-case", headers=api.headers(Role.cashier))
    buyer_case = await api.ok(opened, 201)
    assert buyer_case["owner_id"] == sold.buyer_id
    body = {"category": "misunderstanding", "belief": "vacancy", "reason": "买受人认为未入住不用交"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{buyer_case['id']}/override", body))
    report = await api.ok(await api.get(url(sold, "arrears-by-cause"), params={"as_of": AS_OF}))
    causes = {row["cause"]: row["overdue_fen"] for row in report["causes"] if row["overdue_fen"]}
    assert causes == {"misunderstanding": 50000}
