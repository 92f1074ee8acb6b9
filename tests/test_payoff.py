"""The payoff (issue 14, item 4): what pays an owner off on a day, late fee accrued to the day included.

Every estate here: 2.00 元/m²·month × 100 m² = 200 元 a month, due on the 1st, 5 grace days, late
fee 万分之三 a day (6 fen a day on 200 元, 4.5 fen on 150 元). Dates are explicit and in the past.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.db import create_engine, session_factory
from feesvc.latefees.service import accrue_late_fees, waive_late_fee
from feesvc.ledger.models import EntryKind
from feesvc.ledger.service import balance, open_debits, open_entries, prepaid_credit_fen
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payoff.service import unit_payoff
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.registry.schemas import EstateSettings
from feesvc.settings import DatabaseSettings
from tests.support import Api, Estate, one_unit_estate, problem
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


async def test_after_a_sale_each_owner_pays_off_their_own_periods(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings=SETTINGS)
    unit, seller = estate.unit_ids[0], estate.owner_ids[0]
    buyer = (await api.ok(await api.post("/api/v1/owners", {"name": "新业主"})))["id"]
    await api.ok(await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer, "starts_on": "2026-03-01"}))
    for month in ("2026-01", "2026-02", "2026-03"):
        await api.bill(estate.id, month, f"{month}-01")
    await accrue(api, estate.id, "2026-03-31")  # 504, 318, 150 as above
    # Staff see the owner's on the day, the buyer: March only. The seller sees January and February.
    theirs = await payoff(api, unit, "2026-04-20")
    assert theirs["owner_id"] == buyer and lines(theirs) == [("2026-03", 20000, 150, 114, 20264)]
    sellers = await payoff(api, unit, "2026-04-20", await api.owner_token(seller))
    assert sellers["owner_id"] == seller
    assert lines(sellers) == [("2026-01", 20000, 504, 114, 20618), ("2026-02", 20000, 318, 114, 20432)]

    await pay(api, unit, theirs["total_fen"], "2026-04-20")  # the buyer pays their payoff
    run = await accrue(api, estate.id, "2026-04-30")
    # The buyer's credit settles the buyer's late fee only; the seller's arrears stay the seller's.
    assert run["credit_applied_fen"] == 114
    assert (await payoff(api, unit, "2026-04-30"))["total_fen"] == 0
    ledger = await api.ledger(unit, "2026-04-30")
    assert ledger["prepaid_credit_fen"] == 0 and ledger["balance_fen"] == ledger["owed_fen"] > 0


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


async def test_a_pending_correction_shows_negative_and_lowers_the_payoff(api: Api) -> None:
    # The issue's reproduction: grace 0, 0.001 a day, 25,000 fen due 09-01; the run as of 09-30
    # posts 725 (29 days); then a payment of 25,000 received 09-06 is recorded. The formula gives
    # 100 (09-02 … 09-05): the next run corrects 625.
    settings = {"due_day": 1, "grace_days": 0, "late_fee_daily_rate": "0.001"}
    estate = await api.make_estate(units=1, rate="2.50", area="100.00", settings=settings)
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-09", "2026-09-01")
    assert (await accrue(api, estate.id, "2026-09-30"))["posted_fen"] == 725
    await pay(api, unit, 25000, "2026-09-06")
    quote = await payoff(api, unit, "2026-10-10")
    assert lines(quote) == [("2026-09", 0, 725, -625, 100)]
    assert (quote["late_fee_unposted_fen"], quote["total_fen"], quote["returned_as_credit_fen"]) == (-625, 100, 0)

    await pay(api, unit, 100, "2026-10-10")
    run = await accrue(api, estate.id, "2026-10-31")
    assert (run["corrections_posted"], run["corrected_fen"], run["posted_fen"]) == (1, 625, 0)
    ledger = await api.ledger(unit, "2026-10-31")
    assert (ledger["balance_fen"], ledger["owed_fen"], ledger["prepaid_credit_fen"]) == (0, 0, 0)
    assert (await accrue(api, estate.id, "2026-11-30"))["late_fees_posted"] == 0


async def test_a_payoff_on_the_day_of_a_run_pays_what_is_open_and_gets_the_day_back(api: Api, tmp_path: Path) -> None:
    # The run as of 03-31 counted 03-31; paid that day, 03-31 accrues nothing on what is paid, so
    # the next run corrects one day (6 fen) of each fee. The desk settles oldest debt first, the
    # principal before its late fee: March's late fee, settled last, may be left 6 short (the
    # correction takes that off); January's and February's are paid in full before that, and the
    # correction gives their day back as credit (a payment short of them would leave March's
    # principal open and accruing).
    estate = await billed(api)
    unit = estate.unit_ids[0]
    await accrue(api, estate.id, "2026-03-31")  # 504, 318, 150
    quote = await payoff(api, unit, "2026-03-31")
    assert lines(quote) == [
        ("2026-01", 20000, 504, -6, 20498),
        ("2026-02", 20000, 318, -6, 20312),
        ("2026-03", 20000, 150, -6, 20144),
    ]
    assert (quote["total_fen"], quote["returned_as_credit_fen"]) == (60972 - 6, 12)
    params = {"as_of": "2026-03-31", "from": "2026-01-01", "to": "2026-03-31"}
    response = await api.get(f"/api/v1/units/{unit}/statement", params=params, headers={"Accept": "application/pdf"})
    assert response.status_code == 200, response.text
    flat = compact(pdf_text(response.content, tmp_path))
    assert "2026年3月31日一次结清¥609.66" in flat and "其中尚未计入的违约金-¥0.18" in flat
    assert "下次计算违约金时冲减退回为预存款¥0.12" in flat
    await pay(api, unit, quote["total_fen"], "2026-03-31")
    run = await accrue(api, estate.id, "2026-04-30")
    assert (run["corrected_fen"], run["posted_fen"]) == (18, 0)
    ledger = await api.ledger(unit, "2026-04-30")
    assert (ledger["balance_fen"], ledger["owed_fen"], ledger["prepaid_credit_fen"]) == (-12, 0, 12)


# Any history: paying the payoff on its day, then any later run, leaves the unit at exactly zero.
histories = st.fixed_dictionaries(
    {
        "rate": st.sampled_from(["0.0001", "0.0003", "0.0005", "0.003"]),
        "grace": st.integers(0, 20),
        "cap": st.sampled_from(["none", "principal", "fixed"]),
        "cap_fen": st.integers(100, 5000),
        "order": st.sampled_from(["principal_first", "late_fee_first"]),
        # (days after 2025-01-01, fen): part payments, and the days of late-fee runs, before the payoff.
        "payments": st.lists(st.tuples(st.integers(0, 250), st.integers(1, 30000)), max_size=3),
        "runs": st.lists(st.integers(20, 250), max_size=3),
        # Payments recorded on the payoff day, after the runs, but received earlier: the next run
        # corrects what the runs posted (a negative late fee not yet posted).
        "backdated": st.lists(st.tuples(st.integers(0, 250), st.integers(1, 30000)), max_size=2),
        "waive": st.booleans(),
        "payoff_day": st.integers(59, 250),  # from 03-01, when the last of the three charges is issued
        "later_run": st.integers(0, 90),
    }
)


async def _pay_off(url: str, h: dict[str, Any]) -> None:
    engine = create_engine(DatabaseSettings(url=url))
    start = date(2025, 1, 1)
    try:
        async with session_factory(engine)() as session:
            settings = EstateSettings(
                due_day=10,
                grace_days=h["grace"],
                late_fee_daily_rate=h["rate"],
                late_fee_cap=h["cap"],
                late_fee_cap_fen=h["cap_fen"],
                allocation_order=h["order"],
            )
            estate_id, unit_id = await one_unit_estate(session, settings, area="89.57")
            for period in ("2025-01", "2025-02", "2025-03"):
                await run_billing(session, COMMAND_LINE, estate_id, period, date.fromisoformat(period + "-01"))
            payoff_day = start + timedelta(days=h["payoff_day"])
            events = [(start + timedelta(days=d), "pay", fen) for d, fen in h["payments"]]
            events += [(start + timedelta(days=d), "run", 0) for d in h["runs"]]
            for on, what, fen in sorted(e for e in events if e[0] <= payoff_day):
                if what == "pay":
                    data = PaymentCreate(unit_id=unit_id, amount_fen=fen, method=Method.cash, received_on=on)
                    await record_payment(session, COMMAND_LINE, data, uuid.uuid4().hex, on)
                else:
                    await accrue_late_fees(session, COMMAND_LINE, estate_id, on)
            for d, fen in h["backdated"]:
                received = min(start + timedelta(days=d), payoff_day)
                data = PaymentCreate(unit_id=unit_id, amount_fen=fen, method=Method.cash, received_on=received)
                await record_payment(session, COMMAND_LINE, data, uuid.uuid4().hex, payoff_day)
            fees = await open_entries(session, unit_id, frozenset({EntryKind.late_fee}))
            if h["waive"] and fees:
                fee, open_fen = fees[0]
                assert fee.id is not None
                await waive_late_fee(session, COMMAND_LINE, fee.id, (open_fen + 1) // 2, "困难户", payoff_day)

            quote = await unit_payoff(session, unit_id, payoff_day)
            corrections = any(line.late_fee_unposted_fen < 0 for line in quote.lines)
            owed = quote.principal_fen + quote.late_fee_posted_fen
            if not corrections:
                assert quote.total_fen == sum(line.total_fen for line in quote.lines)
            to_post = sum(max(line.late_fee_unposted_fen, 0) for line in quote.lines)
            assert quote.total_fen <= owed + to_post
            if quote.total_fen:
                data = PaymentCreate(
                    unit_id=unit_id, amount_fen=quote.total_fen, method=Method.cash, received_on=payoff_day
                )
                await record_payment(session, COMMAND_LINE, data, uuid.uuid4().hex, payoff_day)
            later = payoff_day + timedelta(days=h["later_run"])
            run = await accrue_late_fees(session, COMMAND_LINE, estate_id, later)
            # The run posts the late fees not yet posted, settled from the payment's credit, and
            # the pending corrections; nothing else.
            posted = sum(max(line.late_fee_unposted_fen, 0) for line in quote.lines)
            corrected = sum(max(-line.late_fee_unposted_fen, 0) for line in quote.lines)
            assert run.posted_fen == run.credit_applied_fen == posted
            assert run.corrected_fen == corrected
            # Nothing owed; credit the owner held before (an overpayment) is still theirs, and
            # what a correction gave back of late fees paid is theirs too.
            held = quote.prepaid_credit_fen + quote.returned_as_credit_fen
            assert not await open_debits(session, unit_id)
            assert (await balance(session, unit_id), await prepaid_credit_fen(session, unit_id)) == (-held, held)
            again = await accrue_late_fees(session, COMMAND_LINE, estate_id, later + timedelta(days=60))
            assert (again.late_fees_posted, again.corrections_posted) == (0, 0)
            assert await balance(session, unit_id) == -held
    finally:
        await engine.dispose()


def test_paying_the_payoff_leaves_any_history_at_zero(database_url: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(histories)
    @example(  # an overpayment held as credit before the payoff: it stays the owner's
        {
            "rate": "0.0001",
            "grace": 0,
            "cap": "none",
            "cap_fen": 100,
            "order": "principal_first",
            "payments": [(0, 7180), (0, 30000), (0, 30000)],
            "runs": [],
            "backdated": [],
            "waive": False,
            "payoff_day": 59,
            "later_run": 0,
        }
    )
    def check(history: dict[str, Any]) -> None:
        asyncio.run(_pay_off(database_url, history))

    check()
