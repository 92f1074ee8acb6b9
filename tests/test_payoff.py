"""The payoff (issue 14, item 4): what pays an owner off on a day, late fee accrued to the day included.

Every estate here: 2.00 元/m²·month × 100 m² = 200 元 a month, due on the 1st, 5 grace days, late
fee 万分之三 a day (6 fen a day on 200 元, 4.5 fen on 150 元). Dates are explicit and in the past.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from tests.support import Api, Estate, problem
from tests.test_statement_pdf import compact, pdf_text

SETTINGS = {"due_day": 1, "grace_days": 5, "late_fee_daily_rate": "0.0003"}


async def billed(api: Api, months: tuple[str, ...] = ("2026-01", "2026-02", "2026-03"), units: int = 1) -> Estate:
    estate = await api.make_estate(units=units, rate="2.00", area="100.00", settings=SETTINGS)
    for month in months:
        await api.bill(estate.id, month, f"{month}-01")
    return estate


async def pay(api: Api, unit_id: int, amount_fen: int, on: str) -> Any:
    body = {"unit_id": unit_id, "amount_fen": amount_fen, "method": "cash", "received_on": on}
    return await api.ok(
        await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}), 201
    )


async def accrue(api: Api, estate_id: int, as_of: str) -> Any:
    return await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate_id, "as_of": as_of}), 200)


async def payoff(api: Api, unit_id: int, as_of: str, role: Role | str = Role.cashier) -> Any:
    return await api.ok(await api.get(f"/api/v1/units/{unit_id}/payoff", role, params={"as_of": as_of}))


def lines(payoff: dict[str, Any]) -> list[tuple[str, int, int, int, int]]:
    return [
        (x["period"], x["principal_fen"], x["late_fee_posted_fen"], x["late_fee_unposted_fen"], x["total_fen"])
        for x in payoff["lines"]
    ]


async def test_the_payoff_matches_a_hand_computation_and_paying_it_leaves_nothing_owed(api: Api) -> None:
    estate = await billed(api)
    unit = estate.unit_ids[0]
    await pay(api, unit, 5000, "2026-02-15")  # January's charge: 150 元 unpaid from 02-15
    run = await accrue(api, estate.id, "2026-03-31")
    # January: 01-07 … 02-14, 39 days × 6 = 234; 02-15 … 03-31, 45 days × 4.5 = 202.5; 436.5 → 437.
    # February: 02-07 … 03-31, 53 days × 6 = 318. March: 03-07 … 03-31, 25 days × 6 = 150.
    assert run["posted_fen"] == 437 + 318 + 150

    quote = await payoff(api, unit, "2026-04-20")
    # Paid on 04-20, that day accrues nothing: 04-01 … 04-19 is 19 more days. January 436.5 + 85.5
    # = 522 (85 more than posted); February 72 days × 6 = 432 (114 more); March 44 × 6 = 264 (114).
    assert lines(quote) == [
        ("2026-01", 15000, 437, 85, 15522),
        ("2026-02", 20000, 318, 114, 20432),
        ("2026-03", 20000, 150, 114, 20264),
    ]
    assert (quote["principal_fen"], quote["late_fee_posted_fen"], quote["late_fee_unposted_fen"]) == (55000, 905, 313)
    assert quote["total_fen"] == 56218 and quote["owner_id"] == estate.owner_ids[0]
    # The desk sees it with the unit's ledger, where the cashier looks before taking money.
    desk = await api.ledger(unit, "2026-04-20", Role.cashier)
    assert desk["payoff"] == quote and desk["owed_fen"] == 55905  # the ledger's own figure: posted debts only

    paid = await pay(api, unit, 56218, "2026-04-20")
    assert paid["prepaid_credit_fen"] == 313  # the fee no run has posted yet: held until one does
    run = await accrue(api, estate.id, "2026-04-30")
    # The run posts exactly the unposted fees and settles them from that credit: nothing net.
    assert (run["posted_fen"], run["credit_applied_fen"]) == (313, 313)
    ledger = await api.ledger(unit, "2026-04-30")
    assert (ledger["balance_fen"], ledger["owed_fen"], ledger["prepaid_credit_fen"]) == (0, 0, 0)
    assert (await payoff(api, unit, "2026-04-30"))["total_fen"] == 0

    later = await accrue(api, estate.id, "2026-05-31")
    assert (later["late_fees_posted"], later["credit_applied_fen"]) == (0, 0)
    assert (await api.ledger(unit, "2026-05-31"))["balance_fen"] == 0


async def test_a_past_day_shows_the_payoff_as_it_was_then(api: Api) -> None:
    estate = await billed(api)
    unit = estate.unit_ids[0]
    await pay(api, unit, 5000, "2026-02-15")
    await accrue(api, estate.id, "2026-03-31")
    # Asked after the 03-31 run, as of 03-20: none of its fees posted yet. To 03-19: January
    # 234 + 33 days × 4.5 = 382.5 → 383; February 41 days × 6 = 246; March 13 × 6 = 78.
    quote = await payoff(api, unit, "2026-03-20")
    assert lines(quote) == [
        ("2026-01", 15000, 0, 383, 15383),
        ("2026-02", 20000, 0, 246, 20246),
        ("2026-03", 20000, 0, 78, 20078),
    ]
    assert quote["total_fen"] == 55707
    # Before anything fell due (due 01-01, grace to 01-06): the January charge alone, no fee.
    assert lines(await payoff(api, unit, "2026-01-06")) == [("2026-01", 20000, 0, 0, 20000)]


async def test_a_plan_freeze_stops_the_payoff_late_fee_of_the_charges_it_covers(api: Api) -> None:
    estate = await billed(api)
    unit = estate.unit_ids[0]
    await accrue(api, estate.id, "2026-03-31")  # 504, 318, 150 (84, 53, 25 days × 6)
    ledger = await api.ledger(unit, "2026-03-31")
    charges = {e["period"]: e["id"] for e in ledger["entries"] if e["kind"] == "charge"}
    async with api.sessions() as s:
        plan = await propose_plan(
            s,
            COMMAND_LINE,
            PlanCreate(
                unit_id=unit,
                installments=2,
                first_due=date(2026, 4, 30),
                late_fee_treatment=LateFeeTreatment.freeze,
                charge_ids=[charges["2026-01"], charges["2026-02"]],
            ),
            date(2026, 4, 1),
        )
        assert plan.id is not None
        await agree_plan(s, COMMAND_LINE, plan.id, date(2026, 4, 5))
    quote = await payoff(api, unit, "2026-04-20")
    # January and February accrue 04-01 … 04-04 only (frozen from the agreement): 4 days × 6 = 24;
    # March, outside the plan, 19 days × 6 = 114.
    assert lines(quote) == [
        ("2026-01", 20000, 504, 24, 20528),
        ("2026-02", 20000, 318, 24, 20342),
        ("2026-03", 20000, 150, 114, 20264),
    ]
    await pay(api, unit, quote["total_fen"], "2026-04-20")
    run = await accrue(api, estate.id, "2026-04-30")
    assert (run["posted_fen"], run["credit_applied_fen"]) == (162, 162)
    assert (await api.ledger(unit, "2026-04-30"))["balance_fen"] == 0
    assert (await accrue(api, estate.id, "2026-05-31"))["late_fees_posted"] == 0


async def test_an_owner_reads_their_own_payoff_only(api: Api) -> None:
    estate = await billed(api, ("2026-01",), units=2)
    mine, theirs = estate.unit_ids
    owner = await api.owner_token(estate.owner_ids[0])
    quote = await payoff(api, mine, "2026-01-31", owner)
    # 01-07 … 01-30: 24 days × 6.
    assert lines(quote) == [("2026-01", 20000, 0, 144, 20144)]
    assert quote["owner_id"] == estate.owner_ids[0]
    problem(await api.get(f"/api/v1/units/{theirs}/payoff", owner, params={"as_of": "2026-01-31"}), 403)
    problem(await api.get("/api/v1/units/999999999/payoff", owner, params={"as_of": "2026-01-31"}), 404)
    problem(await api.get(f"/api/v1/units/{mine}/payoff", params={"as_of": "2999-01-01"}), 422, "as_of")
    problem(await api.get(f"/api/v1/units/{mine}/payoff", params={"as_of": "31/01/2026"}), 400)


async def test_the_statement_shows_the_payoff_as_of_its_date(api: Api, tmp_path: Path) -> None:
    estate = await billed(api)
    unit = estate.unit_ids[0]
    await pay(api, unit, 5000, "2026-02-15")
    await accrue(api, estate.id, "2026-03-31")
    params = {"as_of": "2026-04-20", "from": "2026-01-01", "to": "2026-04-20"}
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params=params))
    assert statement["payoff"] == await payoff(api, unit, "2026-04-20")
    assert (statement["payoff"]["total_fen"], statement["payoff"]["late_fee_unposted_fen"]) == (56218, 313)
    owner = await api.owner_token(estate.owner_ids[0])
    mine = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", owner, params=params))
    assert mine["payoff"]["total_fen"] == 56218

    response = await api.get(f"/api/v1/units/{unit}/statement", params=params, headers={"Accept": "application/pdf"})
    assert response.status_code == 200, response.text
    flat = compact(pdf_text(response.content, tmp_path))
    assert "2026年4月20日一次结清¥562.18" in flat
    assert "其中尚未计入的违约金¥3.13" in flat
    assert "含截至该日已产生、尚未计入账单的违约金" in flat
