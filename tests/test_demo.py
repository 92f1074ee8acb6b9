"""The demo data: a small build, checked for the properties a real ledger must have.

Tests share one database and never delete, so each build gets its own estate-code prefix.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.demo import DemoSummary, Profile, build_demo
from feesvc.demo.plan import ARREARS_PROFILES
from feesvc.errors import Conflict, InvalidInput
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.ledger.service import balance, entries_as_of, open_credits, open_debits
from feesvc.payments.models import Payment, PaymentVoid, Receipt, ReceiptCounter
from feesvc.payments.schemas import Designation, PaymentCreate
from feesvc.payments.service import fingerprint, record_payment
from feesvc.registry.models import Estate, Owner, Ownership, VacancyNotice

TODAY = date(2026, 11, 22)


def prefix() -> str:
    return f"T{uuid.uuid4().hex[:6]}-"


@pytest.fixture(scope="module")
async def demo(sessions: async_sessionmaker[AsyncSession]) -> DemoSummary:
    async with sessions() as s:
        return await build_demo(s, units=60, years=1, seed=11, today=TODAY, code_prefix=prefix())


async def _open_position(s: AsyncSession, demo: DemoSummary, unit_id: int) -> tuple[int, int, int]:
    """(owed, overdue beyond the estate's grace days, credit held), read through the ledger service."""
    grace = demo.stories[unit_id].estate.settings.grace_days
    debits = await open_debits(s, unit_id)
    credit = -sum(open_fen for _, open_fen in await open_credits(s, unit_id))
    overdue = sum(d.open_fen for d in debits if d.debt_due + timedelta(days=grace) < TODAY)
    return sum(d.open_fen for d in debits), overdue, credit


async def test_every_balance_is_the_sum_of_its_entries_and_of_what_is_open(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        for unit_id in demo.stories:
            entries = await entries_as_of(s, unit_id)
            total = await balance(s, unit_id)
            assert total == sum(e.amount_fen for e in entries)
            debits = await open_debits(s, unit_id)
            credits = await open_credits(s, unit_id)
            # Nothing is settled beyond its amount: debits stay positive, credits negative.
            assert all(d.open_fen > 0 for d in debits)
            assert all(open_fen < 0 for _, open_fen in credits)
            assert total == sum(d.open_fen for d in debits) + sum(open_fen for _, open_fen in credits)


async def test_every_arrears_profile_is_in_arrears_and_on_time_payers_are_not(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    in_arrears: dict[str, int] = defaultdict(int)
    async with sessions() as s:
        for unit_id in demo.stories:
            _, overdue, _ = await _open_position(s, demo, unit_id)
            assert overdue == demo.positions[unit_id].overdue_fen
            label = demo.arrears_label(unit_id)
            if label in (Profile.on_time, Profile.prepaid):
                assert overdue == 0, (unit_id, label)
            if overdue:
                in_arrears[label] += 1
    for profile in ARREARS_PROFILES:
        assert in_arrears[profile.value] > 0, profile
    assert demo.arrears_by_profile().keys() == in_arrears.keys()


async def test_hardship_owners_paid_before_they_stopped_and_a_little_since(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    hardship = [u for u in demo.stories.values() if u.profile == Profile.hardship]
    paid_since = 0
    async with sessions() as s:
        for unit in hardship:
            assert unit.stops_on is not None
            days = (await s.execute(select(Payment.received_on).where(Payment.unit_id == unit.unit_id))).scalars().all()
            first_bill = (
                await s.execute(select(func.min(LedgerEntry.due_date)).where(LedgerEntry.unit_id == unit.unit_id))
            ).scalar_one()
            if first_bill < unit.stops_on:
                assert any(d < unit.stops_on for d in days), unit.unit_id
            # After the regular payments of the last bill before the stop, only the few partial ones.
            since = [d for d in days if d >= unit.stops_on + timedelta(days=31)]
            assert len(since) <= len(unit.partial_payments)
            paid_since += len(since)
    assert hardship and paid_since > 0


async def test_prepaid_units_hold_credit_or_had_it_applied(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    prepaid = [unit_id for unit_id, profile in demo.profiles.items() if profile == Profile.prepaid]
    assert prepaid
    applied_somewhere = False
    async with sessions() as s:
        for unit_id in prepaid:
            held = -sum(open_fen for _, open_fen in await open_credits(s, unit_id))
            applied = (
                await s.execute(
                    select(func.count()).where(
                        LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.credit_applied
                    )
                )
            ).scalar_one()
            assert held > 0 or applied > 0, unit_id
            applied_somewhere = applied_somewhere or applied > 0
    assert applied_somewhere


async def test_owners_who_claim_vacancy_have_a_vacancy_notice(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    vacant = [u for u in demo.stories.values() if u.profile == Profile.misunderstanding]
    assert vacant
    async with sessions() as s:
        for unit in vacant:
            notice = (await s.execute(select(VacancyNotice).where(VacancyNotice.unit_id == unit.unit_id))).scalar_one()
            assert notice.starts_on == unit.vacant_from and notice.notified_on >= notice.starts_on


async def test_each_estate_reconciles(demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Collected + outstanding - credit held == billed, each figure read independently."""
    async with sessions() as s:
        for estate in demo.estates:
            billed = (
                await s.execute(
                    select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                        LedgerEntry.estate_id == estate.id, col(LedgerEntry.kind).in_(DEBIT_KINDS)
                    )
                )
            ).scalar_one()
            kept = (
                await s.execute(
                    select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                        Payment.estate_id == estate.id, col(Payment.id).not_in(select(PaymentVoid.payment_id))
                    )
                )
            ).scalar_one()
            refunded = (
                await s.execute(
                    select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                        LedgerEntry.estate_id == estate.id, LedgerEntry.kind == EntryKind.refund
                    )
                )
            ).scalar_one()
            outstanding = credit = 0
            for unit_id, story in demo.stories.items():
                if story.estate.key == estate.code:
                    owed, _, held = await _open_position(s, demo, unit_id)
                    outstanding, credit = outstanding + owed, credit + held
            assert billed > 0 and kept > 0
            assert kept - refunded + outstanding - credit == billed
            assert (estate.billed_fen, estate.collected_fen, estate.outstanding_fen, estate.credit_fen) == (
                billed,
                kept - refunded,
                outstanding,
                credit,
            )
            assert estate.reconciles


async def test_a_sale_leaves_the_sellers_arrears_with_the_seller(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sold = [u for u in demo.stories.values() if u.sale is not None and u.sale.seller_leaves_arrears]
    assert sold
    async with sessions() as s:
        for unit in sold:
            assert unit.unit_id is not None and unit.sale is not None
            seller, buyer = unit.owner.owner_id, unit.sale.buyer.owner_id
            owners = (
                (await s.execute(select(Ownership.owner_id).where(Ownership.unit_id == unit.unit_id))).scalars().all()
            )
            assert sorted(owners) == sorted([seller, buyer])
            debits = await open_debits(s, unit.unit_id)
            assert debits
            charges = {d.entry_id: await s.get(LedgerEntry, d.entry_id) for d in debits}
            assert {c.owner_id for c in charges.values() if c is not None} == {seller}


async def test_desk_mistakes_are_voided_with_a_reason_and_one_credit_is_refunded(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate_ids = [e.id for e in demo.estates]
    async with sessions() as s:
        voids = (
            (
                await s.execute(
                    select(PaymentVoid)
                    .join(Payment, col(Payment.id) == PaymentVoid.payment_id)
                    .where(col(Payment.estate_id).in_(estate_ids))
                )
            )
            .scalars()
            .all()
        )
        assert len(voids) == 2 and all(v.reason and v.actor.startswith("manager:") for v in voids)
        refunds = (
            (
                await s.execute(
                    select(LedgerEntry).where(
                        col(LedgerEntry.estate_id).in_(estate_ids), LedgerEntry.kind == EntryKind.refund
                    )
                )
            )
            .scalars()
            .all()
        )
        assert len(refunds) >= 1 and all(r.reason for r in refunds)


async def test_summary_lists_tokens_and_reads_well(demo: DemoSummary) -> None:
    text = str(demo)
    roles = {t.role.value for t in demo.tokens}
    assert roles == {"manager", "cashier", "system", "owner"}
    owner = next(t for t in demo.tokens if t.role.value == "owner")
    assert owner.unit_id is not None and demo.positions[owner.unit_id].overdue_fen > 0
    for token in demo.tokens:
        assert token.secret in text
    assert f"/api/v1/units/{owner.unit_id}/ledger" in text
    assert "¥" in text and "reconciles" in text and "DOES NOT" not in text


async def test_a_second_build_with_the_same_codes_refuses(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code_prefix = demo.estates[0].code.removesuffix("JXHY")
    async with sessions() as s:
        with pytest.raises(Conflict, match="demo data is already loaded"):
            await build_demo(s, units=60, years=1, seed=11, today=TODAY, code_prefix=code_prefix)
        count = (await s.execute(select(func.count()).where(col(Estate.code).startswith(code_prefix)))).scalar_one()
        assert count == 2
        with pytest.raises(InvalidInput):
            await build_demo(s, units=5, today=TODAY, code_prefix=prefix())


# ---------------------------------------------------------------------------------------------
# The bulk desk writes what record_payment writes
# ---------------------------------------------------------------------------------------------


async def _ledger_story(s: AsyncSession, summary: DemoSummary) -> list[Any]:
    """Every unit's ledger and payments, with database ids replaced by positions and owners by person."""
    people = {o.id: (o.name, o.id_number) for o in (await s.execute(select(Owner))).scalars()}
    story: list[Any] = []
    for unit_id in sorted(summary.stories):
        entries = list(
            (
                await s.execute(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id).order_by(col(LedgerEntry.id)))
            ).scalars()
        )
        payments = list(
            (await s.execute(select(Payment).where(Payment.unit_id == unit_id).order_by(col(Payment.id)))).scalars()
        )
        position = {e.id: n for n, e in enumerate(entries)}
        paid = {p.id: n for n, p in enumerate(payments)}
        story.append(
            [
                (
                    e.kind,
                    e.amount_fen,
                    e.effective_date,
                    e.period,
                    e.item,
                    e.due_date,
                    position.get(e.settles_entry_id),
                    position.get(e.reverses_entry_id),
                    paid.get(e.payment_id),
                    people.get(e.owner_id),
                    e.actor,
                    re.sub(r"payment \d+", "payment #", e.reason or ""),
                )
                for e in entries
            ]
        )
        story.append(
            [
                (p.amount_fen, p.method, p.received_on, p.cashier, p.payer_name, p.external_ref, p.designation)
                for p in payments
            ]
        )
    return story


async def _receipts_are_gapless(s: AsyncSession, summary: DemoSummary) -> None:
    for estate in summary.estates:
        seqs: dict[int, list[int]] = defaultdict(list)
        for year, seq in (
            await s.execute(select(Receipt.year, Receipt.seq).where(Receipt.estate_id == estate.id))
        ).all():
            seqs[year].append(seq)
        for year, numbers in seqs.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))
            counter = await s.get(ReceiptCounter, (estate.id, year))
            assert counter is not None and counter.last_seq == len(numbers)


async def test_the_bulk_desk_writes_what_record_payment_writes(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s:
        by_service = await build_demo(s, units=20, years=1, seed=5, today=TODAY, code_prefix=prefix(), desk="service")
    async with sessions() as s:
        in_bulk = await build_demo(s, units=20, years=1, seed=5, today=TODAY, code_prefix=prefix(), desk="bulk")
    async with sessions() as s:
        assert await _ledger_story(s, in_bulk) == await _ledger_story(s, by_service)
        await _receipts_are_gapless(s, in_bulk)
        # A bulk-written payment answers a retry with the same key exactly as record_payment would.
        payment = (
            await s.execute(
                select(Payment).where(Payment.estate_id == in_bulk.estates[0].id).order_by(col(Payment.id)).limit(1)
            )
        ).scalar_one()
        data = PaymentCreate(
            unit_id=payment.unit_id,
            amount_fen=payment.amount_fen,
            method=payment.method,
            external_ref=payment.external_ref,
            payer_name=payment.payer_name,
            designation=Designation(**payment.designation) if payment.designation else None,
            received_on=payment.received_on,
        )
        assert payment.request_fingerprint == fingerprint(data)
        replay, created = await record_payment(s, COMMAND_LINE, data, payment.idempotency_key, TODAY)
        assert not created and replay.id == payment.id
