"""A bank statement's payments posted as a batch (``record_payments``, the unit views read set-based)
decide and write exactly what the desk's one-at-a-time path does: the same set of payments is posted
both ways on two fresh databases built alike, and their answers, ledgers, payments, receipts and
units' positions compared. The estate has a sold unit (the seller's arrears and the buyer's apart),
a unit under an active plan with late fees, a unit holding prepaid credit, a unit paid twice in the
batch, and payments the desk refuses or replays.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select

import feesvc.models  # noqa: F401  (every table, so foreign keys resolve)
from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.db import Database, create_engine, session_factory
from feesvc.errors import DomainError
from feesvc.latefees.service import accrue_late_fees
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.migrate import upgrade
from feesvc.payments.models import Method, Payment, Receipt
from feesvc.payments.recording import post_payment, record_payment, record_payments
from feesvc.payments.schemas import PaymentCreate, PaymentOut
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.registry.models import Building, Owner, Ownership, Unit, UnitUse
from feesvc.registry.schemas import EstateCreate, EstateSettings, OwnershipCreate
from feesvc.registry.service import create_estate
from feesvc.sales.service import record_transfer
from feesvc.settings import DatabaseSettings
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard
from tests.databases import fresh_postgres_database

TODAY = date(2026, 6, 15)
# Units by their part in the story (ids are the same on both databases: built alike, from empty).
PLAIN, SOLD, PLANNED, CREDIT, OTHER = range(5)


def _in_thread(work: Any) -> Any:
    """Blocking setup (Alembic and the database maker run event loops of their own)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def two_databases(tmp_path: Path) -> Iterator[tuple[str, str]]:
    server = os.environ.get("FEESVC_TEST_DATABASE_URL")
    with ExitStack() as stack:
        if server and not DatabaseSettings(url=server).is_sqlite:
            urls = [_in_thread(lambda: stack.enter_context(fresh_postgres_database(server, "bankbatch"))) for _ in "ab"]
        else:
            urls = [f"sqlite:///{tmp_path / name}.db" for name in "ab"]
        for url in urls:
            _in_thread(lambda url=url: upgrade(url))
        yield urls[0], urls[1]
        # The PostgreSQL databases are dropped on leaving the stack, away from the test's loop.
        _in_thread(stack.close)


async def _seed(database: Database) -> dict[str, int]:
    """Five units billed 2026-01 to 03 with late fees to 04-01; unit SOLD sold on 03-01 (the seller
    owes 01 and 02, the buyer 03); unit PLANNED's owner in an agreed plan; unit CREDIT overpaid at
    the desk (credit held), that payment's key being ``prior``."""
    async with database.session() as session:
        settings = EstateSettings(due_day=1, grace_days=5, late_fee_daily_rate="0.0003")
        estate = await create_estate(
            session,
            COMMAND_LINE,
            EstateCreate(code="BATCH", name="批量测试小区", company_name="测试物业", settings=settings),
        )
        assert estate.id is not None
        standard = FeeStandardCreate(
            unit_use="residential",
            item="service_fee",
            item_name="物业服务费",
            basis="per_m2_month",
            rate="2.50",
            effective_from=date(2024, 1, 1),
            posted_on=date(2024, 1, 1),
            decision_kind="contract",
            decision_ref="合同",
        )
        await create_fee_standard(session, COMMAND_LINE, estate.id, standard)
        building = (
            await session.execute(insert(Building).values(estate_id=estate.id, name="1栋").returning(Building.id))  # type: ignore[arg-type]
        ).scalar_one()
        units = [
            {
                "estate_id": estate.id,
                "building_id": building,
                "number": f"10{n}",
                "floor_area_m2": Decimal("100.00"),
                "use": UnitUse.residential,
                "ledger_version": 0,
            }
            for n in range(5)
        ]
        unit_ids = [r[0] for r in (await session.execute(insert(Unit).returning(Unit.id), units)).all()]  # type: ignore[arg-type]
        owners = [{"name": f"业主{n}", "phone": f"1390000000{n}"} for n in range(6)]
        owner_ids = [r[0] for r in (await session.execute(insert(Owner).returning(Owner.id), owners)).all()]  # type: ignore[arg-type]
        holdings = [
            {"unit_id": u, "owner_id": o, "starts_on": date(2024, 1, 1)}
            for u, o in zip(unit_ids, owner_ids[:5], strict=True)
        ]
        await session.execute(insert(Ownership), holdings)
        await session.commit()
        for month in ("2026-01", "2026-02"):
            await run_billing(session, COMMAND_LINE, estate.id, month, date.fromisoformat(f"{month}-01"))
        buyer = owner_ids[5]
        sale = OwnershipCreate(owner_id=buyer, starts_on=date(2026, 3, 1))
        await record_transfer(session, COMMAND_LINE, unit_ids[SOLD], sale, date(2026, 3, 1))
        await run_billing(session, COMMAND_LINE, estate.id, "2026-03", date(2026, 3, 1))
        await accrue_late_fees(session, COMMAND_LINE, estate.id, date(2026, 4, 1))
        plan = PlanCreate(
            unit_id=unit_ids[PLANNED],
            installments=3,
            first_due=date(2026, 7, 31),
            late_fee_treatment=LateFeeTreatment.freeze,
        )
        proposed = await propose_plan(session, COMMAND_LINE, plan, TODAY)
        assert proposed.id is not None
        await agree_plan(session, COMMAND_LINE, proposed.id, TODAY)
    async with database.session() as session:
        await record_payment(session, COMMAND_LINE, _prior(unit_ids[CREDIT]), "prior", TODAY)
    return {"estate": estate.id, "buyer": buyer, **{f"unit{n}": u for n, u in enumerate(unit_ids)}} | {
        f"owner{n}": o for n, o in enumerate(owner_ids)
    }


def _prior(unit_id: int) -> PaymentCreate:
    return PaymentCreate(unit_id=unit_id, amount_fen=100_000, method=Method.cash, received_on=date(2026, 4, 10))


def _requests(ids: dict[str, int]) -> list[tuple[PaymentCreate, str]]:
    def line(unit: int, fen: int, on: str, owner: int | None = None, txn: str = "") -> PaymentCreate:
        return PaymentCreate(
            unit_id=unit,
            amount_fen=fen,
            method=Method.bank_transfer,
            external_ref=txn,
            payer_name="转账人",
            received_on=date.fromisoformat(on),
            owner_id=owner,
        )

    plain, sold, planned, credit = (ids[f"unit{n}"] for n in (PLAIN, SOLD, PLANNED, CREDIT))
    twice = line(plain, 30_000, "2026-05-03", txn="T5")  # all of 2026-01 and some of 02
    return [
        (line(sold, 30_000, "2026-05-10", txn="T1"), "k1"),  # the buyer's account, on the day
        (line(sold, 10_000, "2026-05-10", owner=ids["owner1"], txn="T2"), "k2"),  # the seller's, named
        (line(sold, 8_000, "2026-02-15", txn="T3"), "k3"),  # received before the sale: the seller's
        (line(planned, 30_000, "2026-05-11", owner=ids["owner2"], txn="T4"), "k4"),  # principal before fees
        (twice, "k5"),
        (line(plain, 20_000, "2026-05-04", txn="T6"), "k6"),  # the same unit again in the batch
        (line(credit, 5_000, "2026-05-12", txn="T7"), "k7"),  # all of it credit
        (line(plain, 1_000, "2026-05-12", owner=ids["owner4"], txn="T8"), "k8"),  # never owned it: refused
        (line(999_999, 1_000, "2026-05-12", txn="T9"), "k9"),  # no such unit: refused
        (_prior(credit), "prior"),  # a key used before: the same payment answered
        (twice, "k5"),  # a key used earlier in the batch: the same payment answered
        (line(sold, 30_000, "2026-05-10", txn="T1"), "k2"),  # a used key for another payment: refused
        (line(ids["unit4"], 99_999, "2026-06-15", txn="T10"), "k10"),  # everything and credit
    ]


def _answer(answer: tuple[PaymentOut, bool] | DomainError) -> Any:
    if isinstance(answer, DomainError):
        return type(answer).__name__, [e.field for e in answer.errors]
    payment, new = answer
    return {**msgspec.to_builtins(payment), "id": None}, new


async def _state(database: Database, estate_id: int) -> dict[str, Any]:
    """The estate's ledger, payments with their receipts and units' positions, without row ids
    (the payments' own) and times."""
    async with database.session() as session:
        receipts = {
            payment_id: f"{year}-{seq}"
            for payment_id, year, seq in await session.execute(
                select(Receipt.payment_id, Receipt.year, Receipt.seq).where(Receipt.estate_id == estate_id)
            )
        }
        entry = LedgerEntry.__table__  # type: ignore[attr-defined]
        kept = [c for c in entry.columns if c.name not in ("id", "created_at", "payment_id")]
        ledger = [
            (*row[:-1], receipts.get(row[-1]))
            for row in await session.execute(
                select(*kept, entry.c.payment_id).where(entry.c.estate_id == estate_id).order_by(entry.c.id)
            )
        ]
        payment = Payment.__table__  # type: ignore[attr-defined]
        columns = [c for c in payment.columns if c.name not in ("id", "received_at")]
        payments = sorted(
            (receipts[row[-1]], *row[:-1])
            for row in await session.execute(select(*columns, payment.c.id).where(payment.c.estate_id == estate_id))
        )
        unit = Unit.__table__  # type: ignore[attr-defined]
        positions = (
            await session.execute(
                select(unit.c.id, unit.c.balance_fen, unit.c.earliest_open_due)
                .where(unit.c.estate_id == estate_id)
                .order_by(unit.c.id)
            )
        ).all()
        unit_ids = [p[0] for p in positions]
        late_fees = select(entry.c.unit_id).where(entry.c.estate_id == estate_id, entry.c.kind == EntryKind.late_fee)
        late_fee_units = {unit_ids.index(u) for u in (await session.execute(late_fees)).scalars()}
    return {
        "ledger": ledger,
        "payments": payments,
        "positions": [tuple(p) for p in positions],
        "late_fee_units": late_fee_units,
    }


async def _posted(url: str, batch: bool) -> tuple[list[str], list[Any], dict[str, Any], dict[str, Any]]:
    engine = create_engine(DatabaseSettings(url=url))
    database = Database(engine, session_factory(engine))
    try:
        ids = await _seed(database)
        before = await _state(database, ids["estate"])
        requests = _requests(ids)
        if batch:
            async with database.session() as session:
                answers = await record_payments(session, COMMAND_LINE, requests, TODAY)
        else:
            answers = []
            for data, key in requests:
                try:
                    answers.append(await post_payment(database, COMMAND_LINE, data, key, TODAY))
                except DomainError as refused:
                    answers.append(refused)
        keys = [key for _, key in requests]
        return keys, [_answer(a) for a in answers], before, await _state(database, ids["estate"])
    finally:
        await engine.dispose()


async def test_a_batch_posts_what_the_desk_posts_one_at_a_time(two_databases: tuple[str, str]) -> None:
    batch_url, desk_url = two_databases
    (keys, batch, batch_before, batch_after), (_, desk, desk_before, desk_after) = await asyncio.gather(
        _posted(batch_url, batch=True), _posted(desk_url, batch=False)
    )
    assert batch_before == desk_before  # built alike
    assert batch == desk
    assert batch_after == desk_after
    # The story the comparison stands on: what each kind of payment did.
    outcomes = [a[1] if isinstance(a[0], dict) else a[0] for a in batch]
    assert outcomes == [*[True] * 7, "InvalidInput", "NotFound", False, False, "Conflict", True]
    paid = {key: a[0] for key, a in zip(keys, batch, strict=True) if isinstance(a[0], dict)}
    buyer, seller = paid["k1"]["owner_id"], paid["k2"]["owner_id"]
    assert buyer != seller and paid["k3"]["owner_id"] == seller
    assert {a["period"] for a in paid["k1"]["allocations"]} == {"2026-03"}
    assert {a["period"] for a in paid["k2"]["allocations"]} <= {"2026-01", "2026-02"}
    assert PLANNED in batch_before["late_fee_units"]  # the plan's rule has late fees to put last
    assert paid["k4"]["allocations"] and {a["kind"] for a in paid["k4"]["allocations"]} == {"charge"}
    assert paid["k7"]["allocations"] == [] and paid["k7"]["prepaid_credit_fen"] == 5_000
    assert paid["k5"]["allocations"][0]["period"] < paid["k6"]["allocations"][0]["period"]
    assert paid["k10"]["prepaid_credit_fen"] > 0
    assert len(batch_after["payments"]) - len(batch_before["payments"]) == 8
