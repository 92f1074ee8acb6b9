"""Charges across a sale (issue 15 item 1): a period split by the handover is charged to each owner
by days, and charges issued before the sale was recorded follow the ownerships."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.sale import reattribute_charges
from feesvc.billing.service import unit_charge_rows
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.registry.models import Estate, Unit
from feesvc.rules.proration import ROUNDING_NOTE
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem

ITEM = "service_fee"


async def _entries(api: Api, unit_id: int, *where: Any) -> list[LedgerEntry]:
    async with api.sessions() as s:
        query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id, *where).order_by(col(LedgerEntry.id))
        return list((await s.execute(query)).scalars())


async def _standing_charges(api: Api, unit_id: int) -> list[LedgerEntry]:
    entries = await _entries(api, unit_id)
    reversed_ids = {e.reverses_entry_id for e in entries}
    return [e for e in entries if e.kind == EntryKind.charge and e.id not in reversed_ids]


def _by_period(charges: list[LedgerEntry]) -> dict[str, list[tuple[int | None, int]]]:
    periods: dict[str, list[tuple[int | None, int]]] = {}
    for c in charges:
        periods.setdefault(c.period or "", []).append((c.owner_id, c.amount_fen))
    return periods


async def test_a_period_split_by_the_handover_is_charged_to_each_owner_by_days(api: Api) -> None:
    sold = await sold_unit(api, handover="2026-08-16", billed_after=("2026-08", "2026-09"))
    charges = _by_period(await _standing_charges(api, sold.unit_id))
    # 25,000 fen × 15/31 = 12,096.77 → 12,097 for the seller; the buyer, last, takes the rest.
    assert charges == {
        "2026-06": [(sold.seller_id, 25000)],
        "2026-08": [(sold.seller_id, 12097), (sold.buyer_id, 12903)],
        "2026-09": [(sold.buyer_id, 25000)],
    }
    august = [c for c in await _standing_charges(api, sold.unit_id) if c.period == "2026-08"]
    seller, buyer = august
    assert seller.detail is not None and buyer.detail is not None
    assert {k: seller.detail[k] for k in ("owner_days", "period_days", "first_day", "last_day", "rounding")} == {
        "owner_days": 15,
        "period_days": 31,
        "first_day": "2026-08-01",
        "last_day": "2026-08-15",
        "rounding": ROUNDING_NOTE,
    }
    assert (buyer.detail["owner_days"], buyer.detail["first_day"], buyer.detail["last_day"]) == (
        16,
        "2026-08-16",
        "2026-08-31",
    )
    assert seller.detail["period_amount_fen"] == buyer.detail["period_amount_fen"] == 25000
    # Nobody is late before owning the unit: the buyer's share falls due on the handover day.
    assert (seller.due_date, buyer.due_date) == (date(2026, 8, 1), date(2026, 8, 16))
    # Keys per owner for the split period; a whole period keeps the key it always had.
    u = sold.unit_id
    assert [c.dedupe_key for c in august] == [
        f"charge:{u}:{ITEM}:2026-08:o{sold.seller_id}",
        f"charge:{u}:{ITEM}:2026-08:o{sold.buyer_id}",
    ]
    september = [c for c in await _standing_charges(api, u) if c.period == "2026-09"]
    assert [c.dedupe_key for c in september] == [f"charge:{u}:{ITEM}:2026-09"]
    # Running billing again issues nothing twice.
    again = await api.bill(sold.estate.id, "2026-08", "2026-08-20")
    # Both owners' shares stand: a rerun finds the two charges it issued.
    assert again["charges_issued"] == 0 and again["charges_already_issued"] == 2
    assert len(await _entries(api, u)) == 4
    # The owner's statement reads the split charge with its days (the API shows the detail).
    ledger = await api.ledger(u, "2026-09-30")
    shown = [e for e in ledger["entries"] if e["period"] == "2026-08"]
    assert [e["amount_fen"] for e in shown] == [12097, 12903] and shown[0]["detail"]["rounding"] == ROUNDING_NOTE


async def test_a_quarterly_estate_splits_its_quarter_by_days(api: Api) -> None:
    sold = await sold_unit(
        api,
        handover="2026-08-20",
        settings={"cycle_months": 3},
        billed_before=("2026-04",),
        billed_after=("2026-07", "2026-10"),
    )
    # The quarter 2026-07-01..09-30 has 92 days: the seller 50 (to 08-19), the buyer 42.
    # 75,000 × 50/92 = 40,760.87 → 40,761; the buyer 34,239.
    assert _by_period(await _standing_charges(api, sold.unit_id)) == {
        "2026-04": [(sold.seller_id, 75000)],
        "2026-07": [(sold.seller_id, 40761), (sold.buyer_id, 34239)],
        "2026-10": [(sold.buyer_id, 75000)],
    }
    [seller, _] = [c for c in await _standing_charges(api, sold.unit_id) if c.period == "2026-07"]
    assert seller.detail is not None
    assert (seller.detail["owner_days"], seller.detail["period_days"], seller.detail["last_day"]) == (
        50,
        92,
        "2026-08-19",
    )


async def test_owner_on_period_start_charges_the_split_period_whole_to_the_first_days_owner(api: Api) -> None:
    sold = await sold_unit(
        api, handover="2026-08-16", settings={"sale_proration": "owner_on_period_start"}, billed_after=("2026-08",)
    )
    estate = await api.ok(await api.get(f"/api/v1/estates/{sold.estate.id}"))
    assert estate["settings"]["sale_proration"] == "owner_on_period_start"
    assert _by_period(await _standing_charges(api, sold.unit_id))["2026-08"] == [(sold.seller_id, 25000)]


async def test_the_estate_setting_defaults_to_days_and_refuses_other_values(api: Api) -> None:
    estate = await api.make_estate(units=1)
    shown = await api.ok(await api.get(f"/api/v1/estates/{estate.id}"))
    assert shown["settings"]["sale_proration"] == "by_days"
    bad = await api.put(f"/api/v1/estates/{estate.id}/settings", {**shown["settings"], "sale_proration": "by_month"})
    problem(bad, (400, 422), "sale_proration")


async def test_days_before_the_first_owner_are_charged_to_nobody_and_reported(api: Api) -> None:
    # A new unit handed over to its first buyer on 2026-08-11: the days before are the developer's.
    estate = await api.make_estate(units=1, owners_from="2026-08-11")
    result = await api.bill(estate.id, "2026-08", "2026-08-01")
    assert result["charges_issued"] == 1
    # 25,000 × 10/31 = 8,064.52 → 8,065 not charged; the buyer's 21 days: 16,935.
    assert result["unowned"] == [
        {
            "unit_id": estate.unit_ids[0],
            "item": ITEM,
            "first_day": "2026-08-01",
            "last_day": "2026-08-10",
            "days": 10,
            "amount_fen": 8065,
        }
    ]
    assert _by_period(await _standing_charges(api, estate.unit_ids[0])) == {"2026-08": [(estate.owner_ids[0], 16935)]}
    again = await api.bill(estate.id, "2026-08", "2026-08-02")
    assert again["charges_issued"] == 0 and len(again["unowned"]) == 0  # issued: nothing looked at again
    assert len(await _entries(api, estate.unit_ids[0])) == 1


async def test_prepay_books_the_same_per_owner_rows_the_billing_run_issues(api: Api) -> None:
    sold = await sold_unit(api, handover="2026-08-16", billed_after=())
    async with api.sessions() as s:
        estate = await s.get(Estate, sold.estate.id)
        unit = await s.get(Unit, sold.unit_id)
        assert estate is not None and unit is not None
        rows = await unit_charge_rows(s, estate, unit, "2026-08", date(2026, 8, 1), "test")
    await api.bill(sold.estate.id, "2026-08", "2026-08-01")
    issued = [c for c in await _standing_charges(api, sold.unit_id) if c.period == "2026-08"]
    assert [(r["dedupe_key"], r["owner_id"], r["amount_fen"], r["detail"]) for r in rows] == [
        (c.dedupe_key, c.owner_id, c.amount_fen, c.detail) for c in issued
    ]


async def _late_sale(api: Api, **kw: Any) -> SoldUnit:
    """The seller billed whole for 2026-06 to 2026-09; then the sale with handover 2026-08-16 is
    recorded (late), and 2026-10 billed."""
    return await sold_unit(api, handover="2026-08-16", billed_before=("2026-06", "2026-07", "2026-08", "2026-09"), **kw)


async def test_a_sale_recorded_after_billing_moves_the_buyers_days_to_the_buyer(api: Api) -> None:
    sold = await _late_sale(api, billed_after=("2026-10",))
    u = sold.unit_id
    assert _by_period(await _standing_charges(api, u)) == {
        "2026-06": [(sold.seller_id, 25000)],
        "2026-07": [(sold.seller_id, 25000)],
        "2026-08": [(sold.seller_id, 12097), (sold.buyer_id, 12903)],
        "2026-09": [(sold.buyer_id, 25000)],
        "2026-10": [(sold.buyer_id, 25000)],
    }
    entries = await _entries(api, u)
    reversals = [e for e in entries if e.kind == EntryKind.reversal]
    assert len(reversals) == 2
    for reversal in reversals:
        [charge] = [e for e in entries if e.id == reversal.reverses_entry_id]
        assert charge.owner_id == sold.seller_id and charge.period in ("2026-08", "2026-09")
        assert reversal.amount_fen == -charge.amount_fen and reversal.owner_id == sold.seller_id
        assert reversal.reason and "ownership" in reversal.reason and reversal.actor
        # Undone from the day it took effect: it never was the seller's to owe as issued.
        assert reversal.effective_date == charge.effective_date
    [september] = [c for c in await _standing_charges(api, u) if c.period == "2026-09"]
    assert september.dedupe_key == f"charge:{u}:{ITEM}:2026-09#1"  # a re-issue, as charge_key numbers them
    assert september.effective_date == september.due_date == date(2026, 9, 1)
    # The balance is what the periods cost: nothing charged twice, nothing lost.
    assert sum(e.amount_fen for e in entries) == 5 * 25000
    # Billing again and reattributing again change nothing.
    for period in ("2026-08", "2026-09", "2026-10"):
        assert (await api.bill(sold.estate.id, period, f"{period}-02"))["charges_issued"] == 0
    async with api.sessions() as s:
        result = await reattribute_charges(s, COMMAND_LINE, u, date(2026, 12, 1))
    assert result.periods == [] and result.needs_attention == []
    assert len(await _entries(api, u)) == len(entries)


async def test_what_the_seller_paid_on_a_moved_charge_becomes_the_sellers_credit(api: Api) -> None:
    estate = await api.make_estate(units=1, effective_from="2020-01-01", owners_from="2020-01-01")
    unit_id, seller_id = estate.unit_ids[0], estate.owner_ids[0]
    for period in ("2026-08", "2026-09"):
        await api.bill(estate.id, period, f"{period}-01")
    payment = {
        "unit_id": unit_id,
        "amount_fen": 50000,
        "method": "cash",
        "received_on": "2026-09-05",
        "designation": {"periods": ["2026-08", "2026-09"]},
    }
    await api.ok(await api.post("/api/v1/payments", payment, headers={"Idempotency-Key": uuid.uuid4().hex}))
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买受人", "postal_address": "上海"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit_id}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-08-16"})
    )

    entries = await _entries(api, unit_id)
    credits = [e for e in entries if e.kind == EntryKind.prepaid_credit]
    # All the seller paid for 2026-08 and 2026-09 is held for the seller, from the day they paid.
    assert sum(c.amount_fen for c in credits) == -50000
    assert {(c.owner_id, c.effective_date) for c in credits} == {(seller_id, date(2026, 9, 5))}
    assert all(c.payment_id is None for c in credits)  # the payment and its receipt stay as received
    # What the seller paid for August settles the seller's own 15 days of it; the buyer owes the rest.
    open_by_owner: dict[int | None, int] = {}
    reversed_ids = {e.reverses_entry_id for e in entries}
    for charge in (e for e in entries if e.kind == EntryKind.charge and e.id not in reversed_ids):
        settled = sum(e.amount_fen for e in entries if e.settles_entry_id == charge.id)
        open_by_owner[charge.owner_id] = open_by_owner.get(charge.owner_id, 0) + charge.amount_fen + settled
    assert open_by_owner == {seller_id: 0, buyer["id"]: 12903 + 25000}
    # The rest of the seller's money (the buyer's days) is not the buyer's: the sale refunded it.
    refunds = [e for e in entries if e.kind == EntryKind.refund]
    assert {e.owner_id for e in refunds} == {seller_id}
    assert sum(e.amount_fen for e in refunds) == 50000 - 12097
    await api.bill(estate.id, "2026-10", "2026-10-01")
    assert (await api.ledger(unit_id))["prepaid_credit_fen"] == 0
    assert sum(e.amount_fen for e in await _entries(api, unit_id)) == 12903 + 25000 + 25000


async def _late_fees_on(s: AsyncSession, charge_id: int) -> int:
    query = select(LedgerEntry.amount_fen).where(
        LedgerEntry.basis_entry_id == charge_id, LedgerEntry.kind == EntryKind.late_fee
    )
    return sum((await s.execute(query)).scalars())


async def test_late_fees_of_a_moved_charge_come_to_nothing_and_each_share_accrues_its_own(api: Api) -> None:
    settings = {"late_fee_daily_rate": "0.001"}
    # The sold unit and a twin never sold, billed and accrued alike.
    sold = await api.make_estate(units=1, settings=settings, owners_from="2020-01-01")
    twin = await api.make_estate(units=1, settings=settings, owners_from="2020-01-01")
    for estate in (sold, twin):
        for period in ("2026-06", "2026-07", "2026-08", "2026-09"):
            await api.bill(estate.id, period, f"{period}-01")
        await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-15"}), 200)
    # Paid late fees too: the seller paid August's late fee so far (designated).
    async with api.sessions() as s:
        [august_fee] = (
            await s.execute(
                select(LedgerEntry).where(
                    LedgerEntry.unit_id == sold.unit_ids[0],
                    LedgerEntry.kind == EntryKind.late_fee,
                    LedgerEntry.period == "2026-08",
                )
            )
        ).scalars()
    paid_fee = august_fee.amount_fen
    payment = {
        "unit_id": sold.unit_ids[0],
        "amount_fen": paid_fee,
        "method": "cash",
        "received_on": "2026-10-15",
        "designation": {"entry_ids": [august_fee.id]},
    }
    await api.ok(await api.post("/api/v1/payments", payment, headers={"Idempotency-Key": uuid.uuid4().hex}))
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买受人", "postal_address": "上海"}))
    await api.ok(
        await api.post(
            f"/api/v1/units/{sold.unit_ids[0]}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-08-16"}
        )
    )
    for estate in (sold, twin):
        await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-20"}), 200)

    entries = await _entries(api, sold.unit_ids[0])
    reversed_ids = {e.reverses_entry_id for e in entries if e.kind == EntryKind.reversal}
    reversed_charges = [e for e in entries if e.kind == EntryKind.charge and e.id in reversed_ids]
    assert {c.period for c in reversed_charges} == {"2026-08", "2026-09"}
    shares = await _standing_charges(api, sold.unit_ids[0])
    twin_charges = await _standing_charges(api, twin.unit_ids[0])
    async with api.sessions() as s:
        for charge in reversed_charges:
            assert await _late_fees_on(s, charge.id or 0) == 0, charge.period  # nobody owes them
        fees = {(c.period, c.owner_id): await _late_fees_on(s, c.id or 0) for c in shares}
        twin_fees = {c.period: await _late_fees_on(s, c.id or 0) for c in twin_charges}
    seller = sold.owner_ids[0]
    # Each share accrues from its due date: the buyer's September as the twin's; August split, the
    # buyer's share from the handover (nobody is late before owning the unit).
    assert fees[("2026-09", buyer["id"])] == twin_fees["2026-09"] > 0
    assert fees[("2026-06", seller)] == twin_fees["2026-06"]
    assert 0 < fees[("2026-08", seller)] < twin_fees["2026-08"]
    days_late = (date(2026, 10, 20) - date(2026, 8, 1)).days  # the twin's August, to the fen per day
    assert twin_fees["2026-08"] == 25000 * days_late // 1000
    assert fees[("2026-08", buyer["id"])] == round(12903 * (days_late - 15) / 1000)
    # The late fee the seller paid on the reversed charge is not lost: it is the seller's credit.
    credits = [e for e in entries if e.kind == EntryKind.prepaid_credit]
    assert sum(c.amount_fen for c in credits if c.owner_id == seller) == -paid_fee
    assert all(c.owner_id == seller for c in credits)
