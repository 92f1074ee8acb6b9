"""Late fees equal the formula on the facts known at each run, in both directions (issue 14 items 2, 3).

The property test draws, between accrual runs, payments received before the last run but recorded
after it, voids, waivers, installment plans agreed and cancelled, and changes of the late-fee terms,
and after every run compares each
charge's posted late fees with a plain day-by-day computation over the versions of the terms, and
checks that what is open on the ledger's entries still adds up to the balance.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.db import create_engine, session_factory
from feesvc.errors import Conflict, InvalidInput
from feesvc.latefees import terms as late_fee_terms
from feesvc.latefees.service import accrue_late_fees, waive_late_fee
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import LateFeeTreatment, PlanCharge
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, cancel_plan, propose_plan
from feesvc.registry.schemas import EstateSettings
from feesvc.rules.late_fees import LateFeeCap
from feesvc.settings import DatabaseSettings
from tests.support import Api, one_unit_estate
from tests.test_statement_pdf import compact, pdf_text

ONE = timedelta(days=1)


async def test_a_payment_received_before_the_last_run_lowers_the_posted_fee(api: Api, tmp_path: Path) -> None:
    """The issue's reproduction: 725 posted, then a payment received on 09-06 is recorded: 100 stays."""
    estate = await api.make_estate(
        units=1,
        rate="2.50",
        area="100.00",
        settings={"due_day": 1, "grace_days": 0, "late_fee_daily_rate": "0.001", "late_fee_cap": "none"},
    )
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-09", "2026-09-01")
    first = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-09-30"}), 200)
    assert first["posted_fen"] == 725  # 29 days × 25000 × 0.001
    payment = {"unit_id": unit, "amount_fen": 25000, "method": "cash", "received_on": "2026-09-06"}
    await api.ok(await api.post("/api/v1/payments", payment, headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    run = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-31"}), 200)
    assert (run["late_fees_posted"], run["corrections_posted"], run["corrected_fen"]) == (0, 1, 625)
    ledger = await api.ledger(unit)
    fees = [e for e in ledger["entries"] if e["kind"] == "late_fee"]
    assert sum(e["amount_fen"] for e in fees) == 100  # 4 days (09-02 … 09-05) × 25
    [correction] = [e for e in fees if e["amount_fen"] < 0]
    assert correction["amount_fen"] == -625 and "100 fen owed, 725 fen posted" in correction["reason"]
    assert correction["detail"]["corrects"] == [[fees[0]["id"], 625]]
    assert ledger["balance_fen"] == 100  # the fee of the four days is what is owed
    # What is open says the same: the late fee, 100; nothing else.
    assert ledger["owed_fen"] == 100
    # The statement shows the correction as one line, with its formula and reason.
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params={"as_of": "2026-10-31"}))
    [line] = [x for x in statement["lines"] if x["kind"] == "late_fee" and x["amount_fen"] < 0]
    assert line["amount_fen"] == -625
    assert [(x["entry_id"], x["amount_fen"]) for x in line["settles"]] == [(fees[0]["id"], 625)]  # what it lowered
    assert line["calculation"].startswith("更正为 ¥1.00：2026-09-02 至 2026-09-05 共 4 天")
    assert line["reason"] == correction["reason"]
    pdf = await api.get(
        f"/api/v1/units/{unit}/statement", params={"as_of": "2026-10-31"}, headers={"Accept": "application/pdf"}
    )
    assert pdf.status_code == 200, pdf.text
    text = compact(pdf_text(pdf.content, tmp_path))
    assert "-¥6.25" in text and compact("100 fen owed, 725 fen posted") in text
    again = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-31"}), 200)
    assert (again["late_fees_posted"], again["corrections_posted"]) == (0, 0)


async def test_a_late_fee_paid_then_lowered_becomes_prepaid_credit(api: Api) -> None:
    estate = await api.make_estate(
        units=1,
        rate="2.50",
        area="100.00",
        settings={
            "due_day": 1,
            "grace_days": 0,
            "late_fee_daily_rate": "0.001",
            "late_fee_cap": "none",
            "allocation_order": "late_fee_first",
        },
    )
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-09", "2026-09-01")
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-09-30"}), 200)
    # The owner pays the 725 of late fee on 10-01 (late fee first) ...
    pay = {"unit_id": unit, "amount_fen": 725, "method": "cash", "received_on": "2026-10-01"}
    await api.ok(await api.post("/api/v1/payments", pay, headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    # ... and then the cashier records the principal, which had come in on 09-06.
    early = {"unit_id": unit, "amount_fen": 25000, "method": "cash", "received_on": "2026-09-06"}
    await api.ok(await api.post("/api/v1/payments", early, headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-31"}), 200)
    ledger = await api.ledger(unit)
    assert sum(e["amount_fen"] for e in ledger["entries"] if e["kind"] == "late_fee") == 100
    # The 625 paid beyond the fee is the owner's prepaid credit, with its reason.
    [credit] = [e for e in ledger["entries"] if e["kind"] == "prepaid_credit"]
    assert credit["amount_fen"] == -625 and "prepaid credit" in credit["reason"]
    assert ledger["balance_fen"] == -625


def _half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def oracle(
    principal: int,
    due: date,
    settled: list[tuple[date, int]],
    as_of: date,
    versions: list[tuple[date, Decimal, int, str, int | None]],
    frozen: list[tuple[date, date]] = (),  # type: ignore[assignment]
) -> int:
    """Day by day: the terms in force that day, the grace of the terms on the due date, the cap in
    force that day limiting the running total, nothing on a day a plan froze."""

    def in_force(day: date) -> tuple[date, Decimal, int, str, int | None] | None:
        found = [v for v in versions if v[0] <= day]
        return max(found, key=lambda v: v[0]) if found else None

    on_due = in_force(due) or min(versions, key=lambda v: v[0])
    total = Decimal(0)
    day = due + timedelta(days=on_due[2] + 1)
    while day <= as_of:
        version = in_force(day)
        if version is not None and not any(start <= day <= end for start, end in frozen):
            base = max(principal + sum(amount for on, amount in settled if on <= day), 0)
            _, rate, _, cap, cap_fen = version
            limit = principal if cap == "principal" else cap_fen if cap == "fixed" else None
            step = base * rate
            total = total + step if limit is None or total + step <= limit else max(total, Decimal(limit))
        day += ONE
    return _half_up(total)


events = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 40), st.integers(100, 30000)),  # received this many days back
        st.tuples(st.just("void"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("waive"), st.integers(0, 5), st.integers(0, 500)),
        st.tuples(
            st.just("terms"),
            st.integers(0, 20),  # effective this many days ahead
            st.tuples(
                st.sampled_from(["0", "0.0001", "0.0005", "0.001", "0.003"]),
                st.integers(0, 15),
                st.sampled_from(["none", "principal", "fixed"]),
                st.integers(0, 3000),
            ),
        ),
        st.tuples(st.just("plan"), st.sampled_from(["freeze", "waive_now"]), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("run"), st.integers(0, 40), st.just(0)),  # a run this many days later
    ),
    min_size=3,
    max_size=14,
)


async def _scenario(url: str, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            settings = EstateSettings(due_day=1, grace_days=5, late_fee_daily_rate="0.0005", late_fee_cap="principal")
            estate_id, unit_id = await one_unit_estate(session, settings)
            for period in ("2025-01", "2025-02"):
                await run_billing(session, COMMAND_LINE, estate_id, period, date.fromisoformat(period + "-01"))
            today = date(2025, 3, 1)
            versions: list[tuple[date, Decimal, int, str, int | None]] = [
                (date(1900, 1, 1), Decimal("0.0005"), 5, "principal", None)
            ]
            payments: list[int] = []
            plans: dict[int, list[date]] = {}  # plan id → [agreed on] or [agreed on, ended on]
            await _run_and_check(session, estate_id, unit_id, today, versions, plans)
            for kind, n, extra in steps:
                if kind == "pay":
                    out, _ = await record_payment(
                        session,
                        COMMAND_LINE,
                        PaymentCreate(unit_id=unit_id, amount_fen=extra, method="cash", received_on=today - n * ONE),
                        uuid.uuid4().hex,
                        today,
                    )
                    payments.append(out.id)
                elif kind == "void" and payments:
                    await void_payment(session, COMMAND_LINE, payments.pop(n % len(payments)), "录入错误", today)
                elif kind == "waive":
                    fees = await _open_late_fees(session, unit_id)
                    if fees:
                        entry_id, open_fen = fees[n % len(fees)]
                        amount = min(extra, open_fen) or None
                        await waive_late_fee(session, COMMAND_LINE, entry_id, amount, "困难户", today)
                elif kind == "terms":
                    rate, grace, cap, cap_fen = extra
                    effective = today + n * ONE
                    if all(v[0] != effective for v in versions):
                        change = late_fee_terms.TermsChange(
                            effective_from=effective,
                            daily_rate=Decimal(rate),
                            basis="业主大会决议",
                            grace_days=grace,
                            cap=LateFeeCap(cap),
                            cap_fen=cap_fen if cap == "fixed" else None,
                        )
                        await late_fee_terms.add_version(session, COMMAND_LINE, estate_id, change, today)
                        versions.append((effective, Decimal(rate), grace, cap, cap_fen if cap == "fixed" else None))
                elif kind == "plan":
                    try:
                        plan = await propose_plan(
                            session,
                            COMMAND_LINE,
                            # Installments far ahead: none falls due while the scenario runs.
                            PlanCreate(unit_id, 3, date(2030, 1, 1), LateFeeTreatment(n)),
                            today,
                        )
                    except (InvalidInput, Conflict):
                        await session.rollback()  # nothing overdue left that no other plan covers
                    else:
                        assert plan.id is not None
                        await agree_plan(session, COMMAND_LINE, plan.id, today)
                        plans[plan.id] = [today]
                elif kind == "cancel":
                    active = [plan_id for plan_id, days in plans.items() if len(days) == 1]
                    if active:
                        plan_id = active[n % len(active)]
                        await cancel_plan(session, COMMAND_LINE, plan_id, "业主要求取消", today)
                        plans[plan_id].append(today)
                elif kind == "run":
                    today += n * ONE
                    await _run_and_check(session, estate_id, unit_id, today, versions, plans)
            await _run_and_check(session, estate_id, unit_id, today + 30 * ONE, versions, plans)
    finally:
        await engine.dispose()


async def _open_late_fees(session: AsyncSession, unit_id: int) -> list[tuple[int, int]]:
    entries = await _entries(session, unit_id)
    open_of = _open(entries)
    return [
        (e.id, open_of[e.id])
        for e in entries
        if e.kind == EntryKind.late_fee and e.settles_entry_id is None and e.id is not None and open_of[e.id] > 0
    ]


async def _entries(session: AsyncSession, unit_id: int) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id).order_by(col(LedgerEntry.id))
    return list((await session.execute(query)).scalars().all())


def _open(entries: list[LedgerEntry]) -> dict[int | None, int]:
    open_of: dict[int | None, int] = {e.id: e.amount_fen for e in entries if e.settles_entry_id is None}
    for e in entries:
        if e.settles_entry_id is not None:
            open_of[e.settles_entry_id] += e.amount_fen
    return open_of


async def _run_and_check(
    session: AsyncSession,
    estate_id: int,
    unit_id: int,
    as_of: date,
    versions: list[tuple[date, Decimal, int, str, int | None]],
    plans: dict[int, list[date]],
) -> None:
    result = await accrue_late_fees(session, COMMAND_LINE, estate_id, as_of)
    assert result.problems == []
    entries = await _entries(session, unit_id)
    settled: dict[int | None, list[tuple[date, int]]] = defaultdict(list)
    posted: dict[int | None, int] = defaultdict(int)
    for e in entries:
        if e.settles_entry_id is not None and e.effective_date <= as_of:
            settled[e.settles_entry_id].append((e.effective_date, e.amount_fen))
        if e.kind == EntryKind.late_fee:
            posted[e.basis_entry_id] += e.amount_fen
    # A plan freezes its charges' late fees from its agreement to the day before it ended, or on.
    frozen: dict[int, list[tuple[date, date]]] = defaultdict(list)
    if plans:
        covered = await session.execute(
            select(col(PlanCharge.plan_id), col(PlanCharge.entry_id)).where(col(PlanCharge.plan_id).in_(list(plans)))
        )
        for plan_id, entry_id in covered.all():
            agreed, *ended = plans[plan_id]
            last = ended[0] - ONE if ended else as_of
            if agreed <= last:
                frozen[entry_id].append((agreed, last))
    for charge in (e for e in entries if e.kind == EntryKind.charge):
        assert charge.due_date is not None
        expected = oracle(
            charge.amount_fen, charge.due_date, settled[charge.id], as_of, versions, frozen.get(charge.id or 0, [])
        )
        assert posted[charge.id] == expected, (as_of, charge.period, posted[charge.id], expected)
    # What is open on the debts (charges, late fees) and credits, as every reader of the ledger
    # computes it, adds up to the balance: no debt is open below zero, no credit above.
    open_of = {e.id: e.amount_fen for e in entries}
    for e in entries:
        if e.settles_entry_id is not None:
            open_of[e.settles_entry_id] += e.amount_fen
    debts = [e for e in entries if e.kind in (EntryKind.charge, EntryKind.late_fee)]
    credits = [e for e in entries if e.kind == EntryKind.prepaid_credit]
    assert all(open_of[e.id] >= 0 for e in debts), [(e.kind, e.amount_fen, open_of[e.id]) for e in debts]
    assert all(open_of[e.id] <= 0 for e in credits)
    assert sum(open_of[e.id] for e in [*debts, *credits]) == sum(e.amount_fen for e in entries)


def test_posted_late_fees_equal_the_formula_after_every_run(database_url: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(events)
    def check(steps: list[tuple]) -> None:  # type: ignore[type-arg]
        asyncio.run(_scenario(database_url, steps))

    check()
