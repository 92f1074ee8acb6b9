"""Each unit's stored position (balance, earliest open due date: what the unit search filters on)
always equals what recomputing it from the ledger gives (issue 18 item 7; feesvc/ledger/position.py).

The random test drives a sequence of writes through the API (billing runs, payments, backdated
payments, payments for a former owner's account, late-fee runs, voids, waivers, refunds of credit,
sales) and after each compares every unit's stored position with one recomputed from the ledger
the way the ledger route reads it (its open debits with their debts, the sum of its entries).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.models import Role
from feesvc.cli import NEEDS_ATTENTION
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.position import disagreements
from feesvc.ledger.service import open_debits_by_unit
from feesvc.payments.models import Payment, PaymentVoid
from feesvc.registry.models import Unit
from feesvc.rules.position import earliest_open_due
from tests.support import Api, Estate
from tests.test_operations import _invoke

SETTINGS = {"due_day": 10, "grace_days": 0, "late_fee_daily_rate": "0.001", "late_fee_cap": "none"}
MONTHLY = 25_000  # 2.50 元/m² × 100 m²


async def _stored_and_recomputed(session: AsyncSession, unit_ids: list[int]) -> tuple[dict[int, Any], dict[int, Any]]:
    stored_rows = await session.execute(
        select(Unit.id, Unit.balance_fen, Unit.earliest_open_due).where(Unit.id.in_(unit_ids))  # type: ignore[union-attr]
    )
    stored = {unit_id: (balance, due) for unit_id, balance, due in stored_rows}
    sums = await session.execute(
        select(LedgerEntry.unit_id, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.unit_id.in_(unit_ids))  # type: ignore[attr-defined]
        .group_by(LedgerEntry.unit_id)
    )
    balances = {unit_id: int(total) for unit_id, total in sums}
    debits = await open_debits_by_unit(session, unit_ids)
    recomputed = {u: (balances.get(u, 0), earliest_open_due(debits.get(u, []))) for u in unit_ids}
    return stored, recomputed


class Writes:
    """The writes a random sequence draws from, each through the API as its user would."""

    def __init__(self, api: Api, estate: Estate, rng: random.Random) -> None:
        self.api, self.estate, self.rng = api, estate, rng
        self.months: list[date] = []  # billed periods' first days, in order
        self.sold: set[int] = set()
        self.former: dict[int, int] = {}  # unit -> its seller

    def _last_day(self) -> date:
        """The latest business date the sequence has reached: the end of the last billed month."""
        first = self.months[-1]
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    async def bill(self) -> str:
        if len(self.months) == 12:  # the year 2025 is enough, and all of it is in the past
            return await self.accrue()
        first = date(2025, 1, 1) if not self.months else (self._last_day() + timedelta(days=1))
        self.months.append(first)
        await self.api.bill(self.estate.id, f"{first:%Y-%m}", first.isoformat())
        return f"bill {first:%Y-%m}"

    async def pay(self) -> str:
        if not self.months:
            return await self.bill()
        unit = self.rng.choice(self.estate.unit_ids)
        # Backdated: received any day since the first billed month (recorded now, in any order).
        span = (self._last_day() - self.months[0]).days
        received = self.months[0] + timedelta(days=self.rng.randint(0, span))
        amount = self.rng.choice([MONTHLY, MONTHLY // 2, 2 * MONTHLY + 700, self.rng.randint(1, 80_000)])
        body: dict[str, Any] = {"unit_id": unit, "amount_fen": amount, "method": "cash"}
        body["received_on"] = received.isoformat()
        if unit in self.former and self.rng.random() < 0.5:
            body["owner_id"] = self.former[unit]  # the seller pays off their own periods
        response = await self.api.post(
            "/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if response.status_code == 422:  # e.g. received before the account's owner owned the unit
            return f"payment refused: {response.json()['detail']}"
        await self.api.ok(response, 201)
        return f"payment {amount} on unit {unit} received {received}"

    async def accrue(self) -> str:
        if not self.months:
            return await self.bill()
        as_of = self._last_day() - timedelta(days=self.rng.choice([0, 0, 10]))
        await self.api.ok(
            await self.api.post("/api/v1/late-fee-runs", {"estate_id": self.estate.id, "as_of": str(as_of)}), 200
        )
        return f"late fees as of {as_of}"

    async def void(self) -> str:
        async with self.api.sessions() as session:
            voided = select(PaymentVoid.payment_id)
            payments = (
                await session.execute(
                    select(Payment.id).where(
                        Payment.estate_id == self.estate.id,
                        Payment.id.not_in(voided),  # type: ignore[union-attr]
                    )
                )
            ).scalars()
            candidates = sorted(payments)
        if not candidates:
            return await self.pay()
        payment_id = self.rng.choice(candidates)
        body = {"reason": "收款员录错金额"}
        await self.api.ok(await self.api.post(f"/api/v1/payments/{payment_id}/void", body), 200)
        return f"void payment {payment_id}"

    async def waive(self) -> str:
        async with self.api.sessions() as session:
            debits = await open_debits_by_unit(session, self.estate.unit_ids)
        fees = [d for ds in debits.values() for d in ds if d.kind is EntryKind.late_fee and d.open_fen > 0]
        if not fees:
            return await self.accrue()
        fee = self.rng.choice(fees)
        amount = self.rng.choice([None, max(1, fee.open_fen // 2)])
        body: dict[str, Any] = {"reason": "经理批准减免违约金"}
        if amount is not None:
            body["amount_fen"] = amount
        await self.api.ok(await self.api.post(f"/api/v1/late-fees/{fee.entry_id}/waivers", body), 201)
        return f"waive {amount or 'all'} of late fee {fee.entry_id}"

    async def refund(self) -> str:
        unit = self.rng.choice(self.estate.unit_ids)
        body = {"amount_fen": self.rng.randint(1, 5_000), "reason": "业主申请退还预存款"}
        response = await self.api.post(f"/api/v1/units/{unit}/refunds", body)
        if response.status_code in (409, 422):  # not that much credit held
            return "refund refused"
        await self.api.ok(response, 201)
        return f"refund on unit {unit}"

    async def sell(self) -> str:
        unsold = [u for u in self.estate.unit_ids if u not in self.sold]
        if not unsold or not self.months:
            return await self.bill()
        unit = self.rng.choice(unsold)
        # Handed over inside the last billed month or at its start: charges move to the buyer.
        handover = self.months[-1] + timedelta(days=self.rng.choice([0, 14]))
        buyer = await self.api.ok(await self.api.post("/api/v1/owners", {"name": "买受人", "phone": "13900001111"}))
        sale = {"owner_id": buyer["id"], "starts_on": handover.isoformat()}
        response = await self.api.post(f"/api/v1/units/{unit}/ownerships", sale)
        if response.status_code == 422:
            return f"sale refused: {response.json()['detail']}"
        await self.api.ok(response, 201)
        self.former[unit] = self.estate.owner_ids[self.estate.unit_ids.index(unit)]
        self.sold.add(unit)
        return f"sale of unit {unit} from {handover}"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_writes_keep_every_position_equal_to_its_ledger(api: Api, seed: int) -> None:
    rng = random.Random(seed)
    estate = await api.make_estate(units=3, settings=SETTINGS)
    writes = Writes(api, estate, rng)
    steps = [writes.bill, writes.pay, writes.pay, writes.pay, writes.accrue, writes.void, writes.waive]
    steps += [writes.refund, writes.sell]
    done: list[str] = [await writes.bill()]
    arrears_seen = paid_up_seen = False
    for _ in range(30):
        done.append(await rng.choice(steps)())
        async with api.sessions() as session:
            stored, recomputed = await _stored_and_recomputed(session, estate.unit_ids)
            assert stored == recomputed, done
            assert await disagreements(session, estate.id) == [], done
        arrears_seen |= any(due is not None for _, due in stored.values())
        paid_up_seen |= any(due is None for _, due in stored.values())
    assert arrears_seen  # the sequence did reach units with debts open


async def test_a_payment_a_void_and_a_late_fee_move_the_earliest_open_due(api: Api) -> None:
    """Paying the oldest debt moves the date on; voiding the payment brings it back; a late fee
    posted on a charge paid late reopens that charge's due date."""
    estate = await api.make_estate(units=1, settings=SETTINGS)
    unit = estate.unit_ids[0]

    async def position() -> tuple[int, date | None]:
        async with api.sessions() as session:
            row = (await session.execute(select(Unit.balance_fen, Unit.earliest_open_due).where(Unit.id == unit))).one()
        return int(row[0]), row[1]

    assert await position() == (0, None)
    await api.bill(estate.id, "2025-01", "2025-01-01")
    await api.bill(estate.id, "2025-02", "2025-02-01")
    assert await position() == (2 * MONTHLY, date(2025, 1, 10))
    body = {"unit_id": unit, "amount_fen": MONTHLY, "method": "cash", "received_on": "2025-02-20"}
    paid = await api.ok(
        await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex})
    )
    assert await position() == (MONTHLY, date(2025, 2, 10))  # the oldest debt first (民法典 560)
    await api.ok(await api.post(f"/api/v1/payments/{paid['id']}/void", {"reason": "录错单元"}), 200)
    assert await position() == (2 * MONTHLY, date(2025, 1, 10))
    body |= {"amount_fen": 2 * MONTHLY}
    await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))
    assert await position() == (0, None)
    # Both were paid late: the run posts their late fees, due with their charges.
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2025-02-28"}), 200)
    balance, due = await position()
    assert balance > 0 and due == date(2025, 1, 10)
    found = await api.ok(
        await api.get(f"/api/v1/estates/{estate.id}/units", Role.cashier, params={"in_arrears": "true"})
    )
    assert [u["id"] for u in found["items"]] == [unit]


async def test_check_positions_lists_a_unit_that_disagrees_and_repairs_it(
    api: Api, database_url: str, tmp_path: Any
) -> None:
    estate = await api.make_estate(units=2, settings=SETTINGS)
    await api.bill(estate.id, "2025-01", "2025-01-01")
    broken = estate.unit_ids[1]
    async with api.sessions() as session:
        await session.execute(update(Unit).where(Unit.id == broken).values(balance_fen=1, earliest_open_due=None))
        await session.commit()
    env = {"FEESVC_DATABASE_URL": database_url, "FEESVC_FILES_DIR": str(tmp_path)}
    check = ["ledger", "check-positions", "--estate", estate.code]
    found = await asyncio.to_thread(_invoke, env, check)
    assert found.exit_code == NEEDS_ATTENTION, found.output
    assert f"unit {broken}: stored balance 1 fen" in found.output and "1 unit position(s)" in found.output
    repaired = await asyncio.to_thread(_invoke, env, [*check, "--repair"])
    assert repaired.exit_code == NEEDS_ATTENTION and "repaired" in repaired.output
    clean = await asyncio.to_thread(_invoke, env, check)
    assert clean.exit_code == 0, clean.output
    async with api.sessions() as session:
        stored, recomputed = await _stored_and_recomputed(session, estate.unit_ids)
    assert stored == recomputed and stored[broken] == (MONTHLY, date(2025, 1, 10))
