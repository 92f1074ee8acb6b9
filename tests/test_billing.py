from __future__ import annotations

from datetime import timedelta

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.models import LedgerEntry
from tests.support import Api, problem


async def test_billing_run_issues_one_charge_per_unit_and_is_idempotent(api: Api) -> None:
    estate = await api.make_estate(units=3, rate="2.35", area="89.57", settings={"due_day": 15})
    first = await api.bill(estate.id, "2026-03", "2026-03-01")
    assert first["charges_issued"] == 3 and first["charges_already_issued"] == 0
    again = await api.bill(estate.id, "2026-03", "2026-03-02")
    assert again["charges_issued"] == 0 and again["charges_already_issued"] == 3
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id) == 3

    ledger = await api.ledger(estate.unit_ids[0], "2026-03-31")
    [charge] = ledger["entries"]
    # 89.57 m² × 2.35 元 = 210.4895 元 → 210.49 元, rounded half-up once.
    assert charge["amount_fen"] == 21049
    assert charge["due_date"] == "2026-03-15" and charge["period"] == "2026-03"
    assert charge["detail"] == {
        "basis": "per_m2_month",
        "rate": "2.35",
        "months": 1,
        "item_name": "物业服务费",
        "area_m2": "89.57",
    }
    assert ledger["balance_fen"] == 21049 and ledger["overdue_fen"] == 21049


async def test_quarterly_cycle_bills_three_months_and_refuses_mid_cycle(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="50.00", settings={"cycle_months": 3})
    problem(await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": "2026-02"}), 422, "period")
    await api.bill(estate.id, "2026-04", "2026-04-01")
    ledger = await api.ledger(estate.unit_ids[0], "2026-04-30")
    assert [e["amount_fen"] for e in ledger["entries"]] == [30000]


async def test_new_standard_applies_from_its_date_and_leaves_issued_charges(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00")
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await api.ok(
        await api.post(
            f"/api/v1/estates/{estate.id}/fee-standards",
            {
                "unit_use": "residential",
                "item": "service_fee",
                "item_name": "物业服务费",
                "basis": "per_m2_month",
                "rate": "2.40",
                "effective_from": "2026-02-01",
                "posted_on": "2026-01-10",
                "decision_kind": "owners_vote",
                "decision_ref": "2025年业主大会第3号决议",
            },
        )
    )
    await api.bill(estate.id, "2026-02", "2026-02-01")
    ledger = await api.ledger(estate.unit_ids[0], "2026-02-28")
    assert [(e["period"], e["amount_fen"]) for e in ledger["entries"]] == [
        ("2026-01", 20000),
        ("2026-02", 24000),
    ]


async def test_vacancy_rule_reduces_per_m2_fees_only_where_enabled(api: Api) -> None:
    settings = {"vacancy_rule_enabled": True, "vacancy_payable_ratio": "0.6", "vacancy_min_months": 6}
    estate = await api.make_estate(units=2, rate="2.00", area="100.00", settings=settings)
    vacant, occupied = estate.unit_ids
    await api.ok(
        await api.post(
            f"/api/v1/units/{vacant}/vacancy-notices",
            {
                "starts_on": "2025-06-01",
                "notified_on": "2025-06-03",
                "reference": "书面空置申报 2025-017",
            },
        )
    )
    await api.bill(estate.id, "2025-11", "2025-11-01")  # vacant 5 months: full fee
    await api.bill(estate.id, "2025-12", "2025-12-01")  # 6 months: 60 %
    assert [e["amount_fen"] for e in (await api.ledger(vacant, "2025-12-31"))["entries"]] == [20000, 12000]
    assert [e["amount_fen"] for e in (await api.ledger(occupied, "2025-12-31"))["entries"]] == [20000, 20000]


async def test_charge_belongs_to_the_owner_of_the_period(api: Api, session) -> None:  # type: ignore[no-untyped-def]
    estate = await api.make_estate(units=1)
    unit = estate.unit_ids[0]
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买方"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-02-01"})
    )
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await api.bill(estate.id, "2026-02", "2026-02-01")
    from sqlmodel import select

    owners = (
        await session.execute(
            select(LedgerEntry.period, LedgerEntry.owner_id)
            .where(LedgerEntry.unit_id == unit)
            .order_by(LedgerEntry.period)
        )
    ).all()
    assert [tuple(r) for r in owners] == [("2026-01", estate.owner_ids[0]), ("2026-02", buyer["id"])]


async def test_billing_input_errors(api: Api) -> None:
    estate = await api.make_estate(units=1)
    problem(await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": "2026-13"}), 400, "period")
    problem(await api.post("/api/v1/billing-runs", {"estate_id": 987654, "period": "2026-01"}), 404, "estate_id")
    tomorrow = (business_today() + timedelta(days=1)).isoformat()
    problem(
        await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": "2026-01", "issued_on": tomorrow}),
        422,
        "issued_on",
    )
    problem(
        await api.post("/api/v1/billing-runs", {"estate_id": estate.id, "period": "2026-01"}, Role.cashier),
        403,
    )
    assert await api.count(LedgerEntry, LedgerEntry.estate_id == estate.id) == 0
