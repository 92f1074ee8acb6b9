"""A month of desk activity under the README's cron lines (issue 14, "done when").

Day by day over March 2025 (fixed dates) the jobs run as cron runs them, through the command line
and in the README's order and dates: on the 1st ``accrue`` as of yesterday, then ``bill`` the month;
every day ``plans review``; on weekdays ``remind`` then ``outbox send``; at the end ``evidence`` packs
as of days around the plans and the sale. Between the runs the desk
records payments (two backdated), agrees installment plans on the day, voids a payment, waives a
late fee and registers a sale. Every run must exit 0, and the letters each unit got and the plans'
states must be what DOMAIN.md says: a kept plan pauses reminders for its charges only (the next
month's charge gets its pre-due notice and later its friendly reminder), a broken one resumes them.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from click.testing import CliRunner, Result
from sqlmodel import col, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.cli import cli
from feesvc.latefees.service import accrue_late_fees, frozen_intervals, waive_late_fee
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.letters.models import Letter
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import InstallmentPlan, LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.plans.standing import plan_kept
from feesvc.settings import get_settings
from tests.support import Api, Estate

MONTHLY = 20000  # 2.00 元/m²·month × 100 m², due on the 10th, 5 grace days
START, END = date(2025, 3, 1), date(2025, 4, 1)


@pytest.fixture
def smtp_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


class Cron:
    """The README's cron lines, run through the command line with the test database."""

    def __init__(self, database_url: str, smtp_port: int, files: Path, code: str) -> None:
        self.env = {
            "FEESVC_DATABASE_URL": database_url,
            "FEESVC_SMTP_HOST": "127.0.0.1",
            "FEESVC_SMTP_PORT": str(smtp_port),
            "FEESVC_FILES_DIR": str(files),
        }
        self.code = code
        self.outputs: dict[tuple[date, str], str] = {}

    def invoke(self, args: list[str]) -> Result:
        # The settings are read once per process; the command must read this test's environment.
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, args, env=self.env)
        finally:
            get_settings.cache_clear()

    async def run(self, day: date, *args: str) -> str:
        # The command runs its own event loop (asyncio.run), so it runs in a thread of its own.
        result = await asyncio.to_thread(self.invoke, list(args))
        assert result.exit_code == 0, (day, args, result.output, result.exception)
        assert "needs attention" not in result.output
        self.outputs[(day, args[0])] = result.output
        return result.output

    async def day(self, day: date) -> None:
        estate = ("--estate", self.code)
        if day.day == 1:
            await self.run(day, "accrue", *estate, "--as-of", (day - timedelta(days=1)).isoformat())
            await self.run(day, "bill", *estate, "--period", f"{day:%Y-%m}", "--on", day.isoformat())
        await self.run(day, "plans", "review", *estate, "--as-of", day.isoformat())
        if day.weekday() < 5:
            await self.run(day, "remind", *estate, "--as-of", day.isoformat())
            await self.run(day, "outbox", "send")


class Desk:
    """What the staff do during the day, through the services with the day's date."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def balance(self, unit_id: int, day: date) -> int:
        return int((await self.api.ledger(unit_id, as_of=day.isoformat()))["balance_fen"])

    async def pay(self, unit_id: int, amount: int, today: date, received_on: date | None = None) -> int:
        async with self.api.sessions() as s:
            data = PaymentCreate(
                unit_id=unit_id, amount_fen=amount, method=Method.cash, received_on=received_on or today
            )
            payment, _ = await record_payment(s, COMMAND_LINE, data, uuid.uuid4().hex, today)
        return payment.id

    async def pay_everything(self, unit_id: int, today: date, received_on: date | None = None) -> int:
        return await self.pay(unit_id, await self.balance(unit_id, today), today, received_on)

    async def void(self, payment_id: int, today: date) -> None:
        async with self.api.sessions() as s:
            await void_payment(s, COMMAND_LINE, payment_id, "支票退票", today)

    async def waive_first_late_fee(self, unit_id: int, today: date) -> None:
        async with self.api.sessions() as s:
            query = select(LedgerEntry.id).where(LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.late_fee)
            fee_id = (await s.execute(query.order_by(col(LedgerEntry.id)).limit(1))).scalar_one()
            await waive_late_fee(s, COMMAND_LINE, fee_id, None, "经理批准：首次逾期减免", today)

    async def agree_plan(self, unit_id: int, today: date, first_due: date) -> int:
        """Proposed and signed at the desk on the same day: three monthly installments, late fees frozen."""
        async with self.api.sessions() as s:
            data = PlanCreate(
                unit_id=unit_id, installments=3, first_due=first_due, late_fee_treatment=LateFeeTreatment.freeze
            )
            plan = await propose_plan(s, COMMAND_LINE, data, today)
            assert plan.id is not None
            plan_id = plan.id
            await agree_plan(s, COMMAND_LINE, plan_id, today)
        return plan_id

    async def sell(self, unit_id: int, on: date) -> None:
        # The seller leaves the address where their letters reach them now (issue 15: never the unit).
        owned = await self.api.ok(await self.api.get(f"/api/v1/units/{unit_id}/ownerships"))
        seller = next(o["owner_id"] for o in owned if o["ends_on"] is None)
        contact = {"postal_address": "上海市静安区新闸路100号"}
        await self.api.ok(await self.api.patch(f"/api/v1/owners/{seller}", contact))
        buyer = await self.api.ok(await self.api.post("/api/v1/owners", {"name": "新业主", "phone": "13900000001"}))
        body = {"owner_id": buyer["id"], "starts_on": on.isoformat()}
        await self.api.ok(await self.api.post(f"/api/v1/units/{unit_id}/ownerships", body))


async def letters_of(api: Api, estate: Estate) -> dict[int, set[tuple[date, str]]]:
    async with api.sessions() as s:
        rows = await s.execute(
            select(Letter.unit_id, Letter.issued_on, Letter.kind).where(Letter.estate_id == estate.id)
        )
        letters: dict[int, set[tuple[date, str]]] = {u: set() for u in estate.unit_ids}
        for unit_id, issued_on, kind in rows.all():
            letters[unit_id].add((issued_on, kind))
    return letters


def skipped(output: str, reason: str) -> int:
    found = re.search(rf"skipped \d+ \((?:[^)]*, )?{re.escape(reason)}: (\d+)", output)
    return int(found.group(1)) if found else 0


async def test_a_month_of_desk_activity_under_the_cron_lines(
    api: Api, database_url: str, smtp_port: int, tmp_path: Path
) -> None:
    estate = await api.make_estate(
        units=8,
        rate="2.00",
        area="100.00",
        settings={"due_day": 10, "grace_days": 5, "late_fee_daily_rate": "0.0003"},
    )
    paid_up, never, kept, broken, backdated, voided, waived, sold = estate.unit_ids
    # Before the month: January and February billed on the 1st, January's late fees accrued on Feb 1st.
    await api.bill(estate.id, "2025-01", "2025-01-01")
    await api.bill(estate.id, "2025-02", "2025-02-01")
    async with api.sessions() as s:
        await accrue_late_fees(s, COMMAND_LINE, estate.id, date(2025, 1, 31))

    cron, desk = Cron(database_url, smtp_port, tmp_path, estate.code), Desk(api)
    plans: dict[int, int] = {}
    payment_to_void = 0
    day = START
    while day <= END:
        await cron.day(day)
        # The desk opens after the morning's runs.
        if day == date(2025, 3, 3):
            await desk.pay_everything(paid_up, day)
        elif day == date(2025, 3, 4):
            await desk.waive_first_late_fee(waived, day)
            await desk.pay_everything(waived, day)
            plans[kept] = await desk.agree_plan(kept, day, first_due=date(2025, 3, 20))
            plans[broken] = await desk.agree_plan(broken, day, first_due=date(2025, 3, 10))
        elif day == date(2025, 3, 5):
            payment_to_void = await desk.pay_everything(voided, day)
        elif day == date(2025, 3, 6):
            await desk.void(payment_to_void, day)
        elif day == date(2025, 3, 12):
            # Paid by bank transfer on the 5th; the slip reached the desk a week later.
            await desk.pay_everything(backdated, day, received_on=date(2025, 3, 5))
        elif day == date(2025, 3, 15):
            await desk.sell(sold, day)
        elif day == date(2025, 3, 21):
            # The first installment (due the 20th) paid at the bank on the 19th, the slip in on the 21st.
            plan = await api.ok(await api.get(f"/api/v1/installment-plans/{plans[kept]}"))
            await desk.pay(kept, plan["schedule"][0]["amount_fen"], day, received_on=date(2025, 3, 19))
        day += timedelta(days=1)

    # Evidence packs as of days before and after the plans, the break, the void and the sale.
    for unit, as_of in ((kept, date(2025, 3, 3)), (kept, END), (broken, date(2025, 3, 16)), (voided, END), (sold, END)):
        pack = tmp_path / f"pack-{unit}-{as_of}.zip"
        args = ("evidence", "--unit", str(unit), "--as-of", as_of.isoformat(), "--out", str(pack))
        if unit == sold:  # the seller and the buyer of March's days both owe: the pack is the seller's
            args += ("--owner", str(estate.owner_ids[estate.unit_ids.index(sold)]))
        await cron.run(as_of, *args)
        assert pack.stat().st_size > 0

    letters = await letters_of(api, estate)
    march = {u: {(d, k) for d, k in got if d <= date(2025, 3, 31)} for u, got in letters.items()}
    formal, friendly, pre_due = "formal_reminder", "friendly_reminder", "pre_due_notice"
    # Monday 3rd: January is 52 days overdue, every unit gets the formal reminder (the desk opens after).
    first = (date(2025, 3, 3), formal)
    again = (date(2025, 3, 28), formal)  # the formal stage's 25-day cool-down is over
    assert march[paid_up] == {first}
    assert march[waived] == {first}
    assert march[backdated] == {first}
    assert march[never] == {first, again}
    assert march[voided] == {first, again}  # the void put its arrears back
    # The seller's arrears get their reminders; the buyer's share of March (from the 15th, due that
    # day: nobody is late before owning the unit) its friendly reminder on Monday 31st.
    assert march[sold] == {first, again, (date(2025, 3, 31), friendly)}
    # The kept plan covers January and February: no reminder for them; March's charge (due the 10th)
    # follows the normal course: the pre-due notice on Friday 7th, the friendly reminder on the 25th.
    # Each plan's agreement went to its owner the day it was proposed (issue 16 item 7).
    agreement = (date(2025, 3, 4), "plan_agreement")
    assert march[kept] == {first, agreement, (date(2025, 3, 7), pre_due), (date(2025, 3, 25), friendly)}
    # The broken plan (first installment due the 10th, unpaid after 5 grace days: broken on the 16th)
    # paused the reminders while it was kept; the formal ones resume.
    assert march[broken] == {first, agreement, (date(2025, 3, 7), pre_due), again}
    # On the 5th both plan units would have had the formal stage's reminder but for their plans.
    assert skipped(cron.outputs[(date(2025, 3, 5), "remind")], "installment plan being kept") == 2

    view = await api.ok(await api.get(f"/api/v1/installment-plans/{plans[kept]}", params={"as_of": END.isoformat()}))
    assert [i["status"] for i in view["schedule"]] == ["paid", "due", "due"]
    async with api.sessions() as s:
        states = {
            p.unit_id: (p.state, p.ended_on)
            for p in (await s.execute(select(InstallmentPlan).where(col(InstallmentPlan.id).in_(plans.values()))))
            .scalars()
            .all()
        }
        assert states == {kept: ("active", None), broken: ("broken", date(2025, 3, 16))}
        assert await plan_kept(s, kept, END)
        assert not await plan_kept(s, broken, END)
        assert await plan_kept(s, broken, date(2025, 3, 15))  # as it stood then
        # The late fees of the covered charges were frozen while each plan was kept, and only then.
        frozen = await frozen_intervals(s, estate.id, date(2025, 3, 31))
        charges = await _charges(s, [kept, broken], ("2025-01", "2025-02"))
        assert {frozen_days for c in charges[kept] for frozen_days in map(tuple, frozen[c])} == {
            (date(2025, 3, 4), date(2025, 3, 31))
        }
        assert {frozen_days for c in charges[broken] for frozen_days in map(tuple, frozen[c])} == {
            (date(2025, 3, 4), date(2025, 3, 15))
        }
        # March's charges are in no plan: nothing of theirs is frozen.
        outside = await _charges(s, [kept, broken], ("2025-03",))
        assert [c for u in (kept, broken) for c in outside[u] if c in frozen] == []


async def _charges(session: Any, unit_ids: list[int], periods: tuple[str, ...]) -> dict[int, list[int]]:
    """Each unit's charges of these periods."""
    rows = await session.execute(
        select(LedgerEntry.unit_id, LedgerEntry.id, LedgerEntry.period).where(
            col(LedgerEntry.unit_id).in_(unit_ids), LedgerEntry.kind == EntryKind.charge
        )
    )
    found: dict[int, list[int]] = {u: [] for u in unit_ids}
    for unit_id, entry_id, period in rows.all():
        if period in periods:
            found[unit_id].append(entry_id)
    return found
