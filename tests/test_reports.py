"""Management reports: aging, collection rate (by amount, by households, old arrears), arrears by cause.

One estate with two buildings is built through the API and carried through seven billing periods;
every figure below is worked out by hand from the story in ``story`` and checked against the unit
ledgers as well.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from feesvc.auth.models import Role
from feesvc.ledger.models import EntryKind, LedgerEntry
from tests.support import Api, problem


def key() -> str:
    return uuid.uuid4().hex


async def pay(
    api: Api, unit_id: int, amount: int, received_on: str, periods: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"unit_id": unit_id, "amount_fen": amount, "method": "wechat", "received_on": received_on}
    if periods:
        body["designation"] = {"periods": periods}
    response = await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": key()})
    result: dict[str, Any] = await api.ok(response, 201)
    return result


@dataclass
class Story:
    estate_id: int
    building_ids: list[int]
    a: int
    b: int
    c: int
    d: int
    e: int

    @property
    def units(self) -> list[int]:
        return [self.a, self.b, self.c, self.d, self.e]

    def url(self, tail: str) -> str:
        return f"/api/v1/estates/{self.estate_id}/reports/{tail}"


async def add_unit(api: Api, building_id: int, number: str, area: str, owner: str) -> int:
    unit = await api.ok(
        await api.post("/api/v1/units", {"building_id": building_id, "number": number, "floor_area_m2": area})
    )
    person = await api.ok(await api.post("/api/v1/owners", {"name": owner, "phone": "13900000000"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit['id']}/ownerships", {"owner_id": person["id"], "starts_on": "2024-01-01"})
    )
    return int(unit["id"])


async def charge_id(api: Api, unit_id: int, period: str) -> int:
    ledger = await api.ledger(unit_id)
    return next(e["id"] for e in ledger["entries"] if e["kind"] == "charge" and e["period"] == period)


@pytest.fixture
async def story(api: Api) -> Story:
    """Building 1栋: A, B, C (100 m², 200.00 a month); building 2栋: D (80 m², 160.00), E (120 m², 240.00).

    2025-09, 2025-12 billed; A, B, D pay both; C pays only 2025-12; E only 2025-09.
    2026-06: A pays in full, B half, C nothing, D prepays three months (credit 320.00), E in full.
    2026-07: credit covers D; A in full; B pays June's rest and July; C pays 50.00 (goes to 2025-09).
    2026-08: credit covers D; A half; B in full (voided later, today); E pays July and August.
    2026-09: A pays August's rest and September; D pays 152.00 and gets an 8.00 prepay discount.
    2026-10: billed, nobody pays. Today (2026-11-22 or later) B's August payment is voided.
    """
    estate = await api.make_estate(units=3, rate="2.00", area="100.00")
    second = await api.ok(await api.post(f"/api/v1/estates/{estate.id}/buildings", {"name": "2栋"}))
    d = await add_unit(api, second["id"], "201", "80.00", "业主D")
    e = await add_unit(api, second["id"], "202", "120.00", "业主E")
    a, b, c = estate.unit_ids
    s = Story(estate.id, [estate.building_id, second["id"]], a, b, c, d, e)

    await api.bill(s.estate_id, "2025-09", "2025-09-01")
    await api.bill(s.estate_id, "2025-12", "2025-12-01")
    for unit, fen in ((a, 40000), (b, 40000), (d, 32000)):
        await pay(api, unit, fen, "2025-12-10")
    await pay(api, c, 20000, "2025-12-10", ["2025-12"])
    await pay(api, e, 24000, "2025-12-10", ["2025-09"])

    await api.bill(s.estate_id, "2026-06", "2026-06-01")
    await pay(api, d, 48000, "2026-06-05")
    await pay(api, a, 20000, "2026-06-10")
    await pay(api, b, 10000, "2026-06-15")
    await pay(api, e, 24000, "2026-06-20", ["2026-06"])

    await api.bill(s.estate_id, "2026-07", "2026-07-01")
    await pay(api, a, 20000, "2026-07-08")
    await pay(api, b, 30000, "2026-07-20")
    await pay(api, c, 5000, "2026-07-25")

    await api.bill(s.estate_id, "2026-08", "2026-08-01")
    await pay(api, a, 10000, "2026-08-10")
    voided = await pay(api, b, 20000, "2026-08-12")
    await pay(api, e, 48000, "2026-08-15", ["2026-07", "2026-08"])

    await api.bill(s.estate_id, "2026-09", "2026-09-01")
    await pay(api, d, 15200, "2026-09-03")
    await pay(api, a, 30000, "2026-09-05")
    # The prepay desk books only periods not yet served; back-date its discount entry as it writes
    # one (a discount settling the charge) to give September a discount.
    september = await charge_id(api, d, "2026-09")
    async with api.sessions() as session:
        session.add(
            LedgerEntry(
                estate_id=s.estate_id,
                unit_id=d,
                kind=EntryKind.discount,
                amount_fen=-800,
                effective_date=date(2026, 9, 3),
                period="2026-09",
                settles_entry_id=september,
                actor="test",
            )
        )
        await session.commit()

    await api.bill(s.estate_id, "2026-10", "2026-10-01")
    await api.ok(await api.post(f"/api/v1/payments/{voided['id']}/void", {"reason": "收错户，已退回"}), 200)
    return s


# ---------------------------------------------------------------------------------------------
# Reference figures computed from the unit ledgers (the API's own view of each unit)
# ---------------------------------------------------------------------------------------------


async def ledger_overdue(api: Api, units: list[int], as_of: str) -> int:
    return sum([(await api.ledger(unit, as_of))["overdue_fen"] for unit in units])


async def ledger_collection(api: Api, units: list[int], period: str, as_of: str) -> tuple[int, int, int]:
    """(billed, collected, discount) of the period's charges, recomputed from each unit's ledger."""
    billed = collected = discount = 0
    for unit in units:
        entries = (await api.ledger(unit, as_of))["entries"]
        by_id = {e["id"]: e for e in entries}
        charges = {e["id"] for e in entries if e["kind"] == "charge" and e["period"] == period}
        billed += sum(by_id[i]["amount_fen"] for i in charges)
        for entry in entries:
            if entry["settles_entry_id"] not in charges:
                continue
            kind = entry["kind"]
            if kind == "reversal":
                kind = by_id[entry["reverses_entry_id"]]["kind"]
            if kind in ("payment", "credit_applied"):
                collected -= entry["amount_fen"]
            elif kind == "discount":
                discount -= entry["amount_fen"]
    return billed, collected, discount


# ---------------------------------------------------------------------------------------------
# Aging
# ---------------------------------------------------------------------------------------------


def bucket_map(row: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {b["label"]: (b["overdue_fen"], b["units"]) for b in row["buckets"]}


async def test_aging_by_bucket_estate_and_building(api: Api, story: Story) -> None:
    report = await api.ok(await api.get(story.url("aging"), params={"as_of": "2026-10-15"}))
    assert report["as_of"] == "2026-10-15"
    estate = report["estate"]
    assert estate["building_id"] is None
    assert (estate["overdue_fen"], estate["units_overdue"], estate["units_total"]) == (263000, 5, 5)
    assert bucket_map(estate) == {
        "0-30": (100000, 5),  # October, everyone
        "31-90": (84000, 3),  # September of B, C, E; August of C
        "91-180": (40000, 1),  # June and July of C
        "181-365": (24000, 1),  # 2025-12 of E
        ">365": (15000, 1),  # what is left of 2025-09 of C
    }
    first, second = report["buildings"]
    assert [first["building_id"], second["building_id"]] == story.building_ids
    assert (first["name"], first["overdue_fen"], first["units_overdue"], first["units_total"]) == ("1栋", 175000, 3, 3)
    assert bucket_map(first) == {
        "0-30": (60000, 3),
        "31-90": (60000, 2),
        "91-180": (40000, 1),
        "181-365": (0, 0),
        ">365": (15000, 1),
    }
    assert (second["name"], second["overdue_fen"], second["units_overdue"], second["units_total"]) == (
        "2栋",
        88000,
        2,
        2,
    )
    assert bucket_map(second) == {
        "0-30": (40000, 2),
        "31-90": (24000, 1),
        "91-180": (0, 0),
        "181-365": (24000, 1),
        ">365": (0, 0),
    }


@pytest.mark.parametrize("as_of", ["2025-12-31", "2026-06-30", "2026-08-31", "2026-10-15", None])
async def test_aging_total_reconciles_with_the_unit_ledgers(api: Api, story: Story, as_of: str | None) -> None:
    day = as_of or (await api.ledger(story.a))["as_of"]
    report = await api.ok(await api.get(story.url("aging"), params={"as_of": day}))
    expected = await ledger_overdue(api, story.units, day)
    assert report["estate"]["overdue_fen"] == expected
    assert sum(b["overdue_fen"] for b in report["estate"]["buckets"]) == expected
    assert sum(r["overdue_fen"] for r in report["buildings"]) == expected
    by_cause = await api.ok(await api.get(story.url("arrears-by-cause"), params={"as_of": day}))
    assert by_cause["overdue_fen"] == expected
    assert by_cause["units"] == report["estate"]["units_overdue"]


async def test_late_fees_age_with_their_charge_and_reconcile(api: Api) -> None:
    estate = await api.make_estate(units=2, rate="2.00", area="100.00")
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await api.bill(estate.id, "2026-02", "2026-02-01")
    await pay(api, estate.unit_ids[0], 20000, "2026-01-20")
    url = f"/api/v1/estates/{estate.id}/reports/aging"
    before = await api.ok(await api.get(url, params={"as_of": "2026-04-30"}))
    run = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-04-30"}), 200)
    assert run["posted_fen"] > 0
    after = await api.ok(await api.get(url, params={"as_of": "2026-04-30"}))
    assert after["estate"]["overdue_fen"] == before["estate"]["overdue_fen"] + run["posted_fen"]
    assert after["estate"]["overdue_fen"] == await ledger_overdue(api, estate.unit_ids, "2026-04-30")
    # Late fees sit in their charge's bucket: January's (119 days) and February's (88 days).
    moved = {
        label: bucket_map(after["estate"])[label][0] - bucket_map(before["estate"])[label][0]
        for label in ("31-90", "91-180")
    }
    assert sum(moved.values()) == run["posted_fen"] and all(v > 0 for v in moved.values())
    # The day before the run, the late fees did not exist yet.
    earlier = await api.ok(await api.get(url, params={"as_of": "2026-04-29"}))
    assert earlier["estate"]["overdue_fen"] == await ledger_overdue(api, estate.unit_ids, "2026-04-29")
    # A waiver (posted today) takes the waived part out of the aging from today on.
    today = (await api.ledger(estate.unit_ids[1]))["as_of"]
    before_waiver = (await api.ok(await api.get(url, params={"as_of": today})))["estate"]["overdue_fen"]
    fee = next(e for e in (await api.ledger(estate.unit_ids[1]))["entries"] if e["kind"] == "late_fee")
    body = {"reason": "疫情期间困难，经理批准减免", "amount_fen": 100}
    await api.ok(await api.post(f"/api/v1/late-fees/{fee['id']}/waivers", body))
    after_waiver = (await api.ok(await api.get(url, params={"as_of": today})))["estate"]["overdue_fen"]
    assert after_waiver == before_waiver - 100 == await ledger_overdue(api, estate.unit_ids, today)
    # Late fees are not in the collection rate: only the period's charges are.
    rate = await api.ok(
        await api.get(
            f"/api/v1/estates/{estate.id}/reports/collection-rate", params={"period": "2026-01", "as_of": today}
        )
    )
    assert (rate["billed_fen"], rate["collected_fen"], rate["waived_fen"]) == (40000, 20000, 0)


async def test_a_reversed_charge_is_not_billed(api: Api) -> None:
    """A charge corrected by its reversal was never owed: out of billed and out of the households."""
    estate = await api.make_estate(units=2, rate="2.00", area="100.00")
    await api.bill(estate.id, "2026-03", "2026-03-01")
    await pay(api, estate.unit_ids[0], 20000, "2026-03-10")
    wrong = await charge_id(api, estate.unit_ids[1], "2026-03")
    # No API reverses a charge yet: post the entry ledger.service.reversal_of would make.
    async with api.sessions() as session:
        session.add(
            LedgerEntry(
                estate_id=estate.id,
                unit_id=estate.unit_ids[1],
                kind=EntryKind.reversal,
                amount_fen=-20000,
                effective_date=date(2026, 3, 5),
                period="2026-03",
                settles_entry_id=wrong,
                reverses_entry_id=wrong,
                actor="test",
                reason="空置房误计费，冲正",
            )
        )
        await session.commit()
    url = f"/api/v1/estates/{estate.id}/reports"
    report = await api.ok(await api.get(f"{url}/collection-rate", params={"period": "2026-03", "as_of": "2026-03-31"}))
    assert (report["charged_fen"], report["corrections_fen"], report["billed_fen"]) == (40000, 20000, 20000)
    assert (report["collected_fen"], report["outstanding_fen"], report["rate_by_amount"]) == (20000, 0, "1.0000")
    assert (report["units_billed"], report["units_settled"], report["rate_by_households"]) == (1, 1, "1.0000")
    aging = await api.ok(await api.get(f"{url}/aging", params={"as_of": "2026-03-31"}))
    assert aging["estate"]["overdue_fen"] == 0 == await ledger_overdue(api, estate.unit_ids, "2026-03-31")
    # Before the reversal, both units were billed and one had paid nothing yet.
    early = await api.ok(await api.get(f"{url}/collection-rate", params={"period": "2026-03", "as_of": "2026-03-04"}))
    assert (early["billed_fen"], early["units_billed"], early["units_settled"]) == (40000, 2, 0)


async def test_empty_estate_reports_zeros(api: Api) -> None:
    estate = await api.make_estate(units=1)
    base = f"/api/v1/estates/{estate.id}/reports"
    aging = await api.ok(await api.get(f"{base}/aging"))
    assert aging["estate"]["overdue_fen"] == 0 and aging["estate"]["units_total"] == 1
    rate = await api.ok(await api.get(f"{base}/collection-rate", params={"period": "2026-01"}))
    assert rate["billed_fen"] == 0 and rate["rate_by_amount"] is None and rate["rate_by_households"] is None
    assert rate["old_arrears"]["rate"] is None
    causes = await api.ok(await api.get(f"{base}/arrears-by-cause"))
    assert causes["overdue_fen"] == 0 and all(c["overdue_fen"] == 0 for c in causes["causes"])


# ---------------------------------------------------------------------------------------------
# Collection rate
# ---------------------------------------------------------------------------------------------


def current(report: dict[str, Any]) -> tuple[Any, ...]:
    return (
        report["billed_fen"],
        report["collected_fen"],
        report["discount_fen"],
        report["outstanding_fen"],
        report["rate_by_amount"],
        report["units_billed"],
        report["units_settled"],
        report["rate_by_households"],
    )


def old(report: dict[str, Any]) -> tuple[Any, ...]:
    o = report["old_arrears"]
    return (o["open_at_start_fen"], o["units_at_start"], o["collected_fen"], o["units_cleared"], o["rate"])


@pytest.mark.parametrize(
    ("period", "as_of", "now", "arrears"),
    [
        # June: A, D (from its prepayment), E paid in full, B half. Old: C's 2025-09, E's 2025-12.
        ("2026-06", "2026-06-30", (100000, 70000, 0, 30000, "0.7000", 5, 3, "0.6000"), (44000, 2, 0, 0, "0.0000")),
        # July: D by prepaid credit. Old: B's June rest (paid, cleared), C's 50.00 to 2025-09.
        ("2026-07", "2026-07-31", (100000, 56000, 0, 44000, "0.5600", 5, 3, "0.6000"), (74000, 3, 15000, 1, "0.2027")),
        # August before the void: B counts. Old: E paid July (designated), still owes 2025-12.
        ("2026-08", "2026-08-31", (100000, 70000, 0, 30000, "0.7000", 5, 3, "0.6000"), (103000, 2, 24000, 0, "0.2330")),
        # September: D's 8.00 discount is not collected, yet D is settled. Old: A's August rest.
        (
            "2026-09",
            "2026-09-30",
            (100000, 35200, 800, 64000, "0.3520", 5, 2, "0.4000"),
            (109000, 3, 10000, 1, "0.0917"),
        ),
        ("2026-10", "2026-10-31", (100000, 0, 0, 100000, "0.0000", 5, 0, "0.0000"), (163000, 3, 0, 0, "0.0000")),
        # Nothing billed for November: no rate.
        ("2026-11", "2026-11-21", (0, 0, 0, 0, None, 0, 0, None), (263000, 5, 0, 0, "0.0000")),
    ],
)
async def test_collection_rate_of_a_period(
    api: Api, story: Story, period: str, as_of: str, now: tuple[Any, ...], arrears: tuple[Any, ...]
) -> None:
    report = await api.ok(await api.get(story.url("collection-rate"), params={"period": period, "as_of": as_of}))
    assert report["period"] == period and report["as_of"] == as_of
    assert current(report) == now
    assert old(report) == arrears
    # billed = collected + discount + waived + outstanding, to the fen
    assert report["billed_fen"] == (
        report["collected_fen"] + report["discount_fen"] + report["waived_fen"] + report["outstanding_fen"]
    )
    assert report["corrections_fen"] == 0 and report["charged_fen"] == report["billed_fen"]
    o = report["old_arrears"]
    assert o["open_at_end_fen"] == o["open_at_start_fen"] - o["collected_fen"] - o["relieved_fen"] - o["corrected_fen"]
    assert (report["billed_fen"], report["collected_fen"], report["discount_fen"]) == await ledger_collection(
        api, story.units, period, as_of
    )


async def test_prepayment_discount_is_not_collected_and_its_refund_unbills(api: Api) -> None:
    """The prepay desk books the covered periods' charges, settles each with a discount share and a
    payment; a refund of unserved periods reverses all three."""
    estate = await api.make_estate(units=2, rate="2.00", area="100.00")
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/prepay-tiers", [{"min_months": 6, "percent_off": "5"}]))
    prepaid = estate.unit_ids[0]
    quote = await api.ok(await api.post(f"/api/v1/units/{prepaid}/prepayments/quote", {"months": 6}, Role.cashier), 200)
    body = {"months": 6, "method": "wechat", "expected_net_fen": quote["net_fen"]}
    headers = {"Idempotency-Key": key()}
    await api.ok(await api.post(f"/api/v1/units/{prepaid}/prepayments", body, Role.cashier, headers=headers), 201)
    first, second = quote["periods"][0], quote["periods"][1]
    assert first["discount_fen"] > 0 and first["gross_fen"] == first["net_fen"] + first["discount_fen"]
    today = (await api.ledger(prepaid))["as_of"]
    url = f"/api/v1/estates/{estate.id}/reports/collection-rate"

    async def report(period: str) -> dict[str, Any]:
        result: dict[str, Any] = await api.ok(await api.get(url, params={"period": period, "as_of": today}))
        assert (result["charged_fen"], result["collected_fen"], result["discount_fen"]) == await ledger_collection(
            api, estate.unit_ids, period, today
        )
        return result

    booked = await report(first["period"])
    assert (booked["billed_fen"], booked["collected_fen"], booked["discount_fen"], booked["outstanding_fen"]) == (
        first["gross_fen"],
        first["net_fen"],
        first["discount_fen"],
        0,
    )
    assert booked["rate_by_amount"] == "0.9500"  # the discount is not collected money …
    assert (booked["units_billed"], booked["units_settled"], booked["rate_by_households"]) == (
        1,
        1,
        "1.0000",
    )  # … yet settles

    # The billing run of that period bills the other unit only (the prepaid charge is already booked).
    await api.bill(estate.id, first["period"], today)
    billed = await report(first["period"])
    assert (billed["billed_fen"], billed["collected_fen"], billed["outstanding_fen"]) == (
        2 * first["gross_fen"],
        first["net_fen"],
        first["gross_fen"],
    )
    assert (billed["units_billed"], billed["units_settled"], billed["rate_by_households"]) == (2, 1, "0.5000")

    # Refunding the unserved periods reverses their charges, discounts and payments: nothing billed.
    refund = {"from_period": second["period"], "reason": "房屋出售，退还未到期预缴款"}
    await api.ok(await api.post(f"/api/v1/units/{prepaid}/prepayments/refund", refund))
    refunded = await report(second["period"])
    assert (refunded["charged_fen"], refunded["corrections_fen"], refunded["billed_fen"]) == (
        second["gross_fen"],
        second["gross_fen"],
        0,
    )
    assert (refunded["collected_fen"], refunded["discount_fen"], refunded["outstanding_fen"]) == (0, 0, 0)
    assert (refunded["units_billed"], refunded["rate_by_amount"], refunded["rate_by_households"]) == (0, None, None)
    # The served period stays paid, re-priced: one month kept earns no tier (DOMAIN.md "Prepay
    # discount"), so its discount is taken back and settled from the refund: collected in full.
    kept = await report(first["period"])
    assert (kept["collected_fen"], kept["discount_fen"]) == (first["gross_fen"], 0)
    assert kept["outstanding_fen"] == first["gross_fen"]  # the neighbour's charge, unpaid, only


async def test_a_voided_payment_is_no_longer_collected(api: Api, story: Story) -> None:
    today = (await api.ledger(story.a))["as_of"]
    report = await api.ok(await api.get(story.url("collection-rate"), params={"period": "2026-08", "as_of": today}))
    # August as of today: B's 200.00 voided, A's August rest (paid 2026-09-05) now collected.
    assert current(report) == (100000, 60000, 0, 40000, "0.6000", 5, 3, "0.6000")
    assert (report["billed_fen"], report["collected_fen"], 0) == await ledger_collection(
        api, story.units, "2026-08", today
    )
    assert report["period_label"] == "2026年8月"


async def test_monthly_series_each_month_at_its_end(api: Api, story: Story) -> None:
    series = await api.ok(
        await api.get(story.url("collection-rate/monthly"), params={"from": "2026-06", "to": "2026-11"})
    )
    points = series["points"]
    assert [p["period"] for p in points] == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert [p["as_of"] for p in points[:5]] == ["2026-06-30", "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31"]
    assert [p["rate_by_amount"] for p in points] == ["0.7000", "0.5600", "0.7000", "0.3520", "0.0000", None]
    assert [p["rate_by_households"] for p in points] == ["0.6000", "0.6000", "0.6000", "0.4000", "0.0000", None]
    assert [p["old_arrears_collected_fen"] for p in points[:5]] == [0, 15000, 24000, 10000, 0]
    assert [p["old_arrears_open_at_start_fen"] for p in points[:5]] == [44000, 74000, 103000, 109000, 163000]
    assert points[0]["period_label"] == "2026年6月"
    # Each point is the single-period report at that month's last day.
    for point in points[:5]:
        single = await api.ok(
            await api.get(story.url("collection-rate"), params={"period": point["period"], "as_of": point["as_of"]})
        )
        assert (point["billed_fen"], point["collected_fen"], point["units_settled"]) == (
            single["billed_fen"],
            single["collected_fen"],
            single["units_settled"],
        )
        assert (point["old_arrears_open_at_start_fen"], point["old_arrears_collected_fen"]) == (
            single["old_arrears"]["open_at_start_fen"],
            single["old_arrears"]["collected_fen"],
        )
    # One as-of date for the whole series: today, after B's August payment was voided.
    today = (await api.ledger(story.a))["as_of"]
    fixed = await api.ok(
        await api.get(story.url("collection-rate/monthly"), params={"from": "2026-08", "to": "2026-08", "as_of": today})
    )
    assert fixed["as_of"] == today and fixed["points"][0]["collected_fen"] == 60000
    # This month so far: B's voided August payment counts against old-arrears collection.
    this_month = today[:7]
    so_far = await api.ok(
        await api.get(
            story.url("collection-rate/monthly"), params={"from": this_month, "to": this_month, "as_of": today}
        )
    )
    single = await api.ok(await api.get(story.url("collection-rate"), params={"period": this_month, "as_of": today}))
    assert so_far["points"][0]["old_arrears_collected_fen"] == single["old_arrears"]["collected_fen"] == -20000
    assert single["old_arrears"]["open_at_start_fen"] == 263000
    assert single["old_arrears"]["open_at_end_fen"] == 283000


# ---------------------------------------------------------------------------------------------
# Arrears by cause
# ---------------------------------------------------------------------------------------------


async def test_arrears_by_cause(api: Api, story: Story) -> None:
    async def case_with(unit: int, category: str | None) -> None:
        case = await api.ok(await api.post(f"/api/v1/units/{unit}/arrears-case", {}, Role.cashier))
        if category:
            body = {"category": category, "reason": "业主面谈后主管确认"}
            await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", body))

    await case_with(story.c, "hardship")
    await case_with(story.e, "service_dissatisfaction")
    await case_with(story.a, None)  # a case nobody has classified yet
    today = (await api.ledger(story.a))["as_of"]
    report = await api.ok(await api.get(story.url("arrears-by-cause"), params={"as_of": today}))
    causes = {c["cause"]: (c["overdue_fen"], c["units"]) for c in report["causes"]}
    assert causes == {
        "hardship": (115000, 1),  # C: 2025-09 rest and June to October
        "service_dissatisfaction": (72000, 1),  # E: 2025-12, September, October
        "misunderstanding": (0, 0),
        "unknown": (0, 0),
        "unclassified": (20000 + 60000 + 16000, 3),  # A (case, no decision), B (August reopened by the void), D
    }
    assert {c["cause"]: c["label"] for c in report["causes"]}["hardship"] == "经济困难型"
    aging = await api.ok(await api.get(story.url("aging"), params={"as_of": today}))
    assert report["overdue_fen"] == aging["estate"]["overdue_fen"] == 283000
    assert report["overdue_fen"] == await ledger_overdue(api, story.units, today)


# ---------------------------------------------------------------------------------------------
# The printed report
# ---------------------------------------------------------------------------------------------


async def test_monthly_pdf_renders_title_and_months(api: Api, story: Story, tmp_path: Path) -> None:
    response = await api.get(story.url("collection-rate/monthly.pdf"), params={"from": "2026-06", "to": "2026-11"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.content.startswith(b"%PDF")
    pdf = tmp_path / "report.pdf"
    await asyncio.to_thread(pdf.write_bytes, response.content)
    process = await asyncio.create_subprocess_exec(
        "pdftotext", "-layout", str(pdf), "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    text = out.decode()
    assert "物业费收缴率月度报表" in text
    assert "2026年6月" in text and "2026年11月" in text
    assert "70.00%" in text and "35.20%" in text
    svg = await api.get(story.url("collection-rate/monthly.svg"), params={"from": "2026-06", "to": "2026-11"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "2026年6月" in svg.text


# ---------------------------------------------------------------------------------------------
# Access and input
# ---------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("aging", {}),
    ("collection-rate", {"period": "2026-06"}),
    ("collection-rate/monthly", {"from": "2026-06", "to": "2026-07"}),
    ("collection-rate/monthly.pdf", {"from": "2026-06", "to": "2026-07"}),
    ("arrears-by-cause", {}),
]


@pytest.mark.parametrize(("tail", "params"), ENDPOINTS)
async def test_only_managers_read_reports(api: Api, tail: str, params: dict[str, str]) -> None:
    estate = await api.make_estate(units=1)
    url = f"/api/v1/estates/{estate.id}/reports/{tail}"
    problem(await api.get(url, Role.cashier, params=params), 403)
    problem(await api.get(url, await api.owner_token(estate.owner_ids[0]), params=params), 403)
    problem(await api.get(f"/api/v1/estates/987654321/reports/{tail}", params=params), 404)
    response = await api.get(url, params=params)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("tail", "params", "field"),
    [
        ("collection-rate", {"period": "2026-13"}, "period"),
        ("collection-rate", {"period": "2026-6"}, "period"),
        ("collection-rate", {}, "period"),
        ("collection-rate", {"period": "2026-06", "as_of": "2026-02-30"}, "as_of"),
        ("collection-rate/monthly", {"from": "26-01", "to": "2026-02"}, "from"),
        ("collection-rate/monthly", {"from": "2026-01", "to": "2026-00"}, "to"),
        ("aging", {"as_of": "yesterday"}, "as_of"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(api: Api, tail: str, params: dict[str, str], field: str) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.get(f"/api/v1/estates/{estate.id}/reports/{tail}", params=params), 400, field)


@pytest.mark.parametrize(
    ("tail", "params", "field"),
    [
        ("collection-rate/monthly", {"from": "2026-05", "to": "2026-02"}, "from"),
        ("collection-rate/monthly", {"from": "2020-01", "to": "2026-02"}, "to"),
        ("collection-rate/monthly.pdf", {"from": "2026-05", "to": "2026-02"}, "from"),
    ],
)
async def test_months_that_make_no_series_are_422_naming_the_field(
    api: Api, tail: str, params: dict[str, str], field: str
) -> None:
    """Each month is well formed (the schema's); together they break a rule the description names."""
    estate = await api.make_estate(units=1)
    problem(await api.get(f"/api/v1/estates/{estate.id}/reports/{tail}", params=params), 422, field)
