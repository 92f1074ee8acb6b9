"""The demo data: a small build, checked for the properties a real ledger must have.

Tests share one database and never delete, so each build gets its own estate-code prefix.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.arrears.classifier import T2S
from feesvc.arrears.models import ArrearsCase, ArrearsClassification, ArrearsNote, ArrearsOverride
from feesvc.arrears.views import cause_history
from feesvc.audit.models import AuditEvent
from feesvc.auth.principal import COMMAND_LINE
from feesvc.demo import DemoSummary, Profile, build_demo
from feesvc.demo.feerules import LPR_1Y
from feesvc.demo.history import MANAGER
from feesvc.demo.plan import ARREARS_PROFILES, UnitPlan
from feesvc.errors import Conflict, InvalidInput
from feesvc.latefees.service import accrue_late_fees, court_rates
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.ledger.service import balance, entries_as_of, open_credits, open_debits, open_debits_by_unit
from feesvc.letters.models import Letter
from feesvc.payments.models import Payment, PaymentVoid, Receipt, ReceiptCounter
from feesvc.payments.prepare import fingerprint
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import Designation, PaymentCreate
from feesvc.plans.models import InstallmentPlan, PlanCharge, PlanState
from feesvc.plans.review import review_plans
from feesvc.plans.service import plan_out
from feesvc.prepay.service import list_tiers, prepayment_out
from feesvc.registry.models import Building, Estate, Owner, Ownership, VacancyNotice
from feesvc.sales.models import SaleSettlement
from feesvc.service_records.models import ActivityKind, Complaint, ComplaintChannel, ServiceActivity, StepKind
from feesvc.service_records.service import business_date, complaint_status, service_summary, steps_of

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


async def test_one_units_debits_read_with_their_debts_match_the_batch_read(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The one-unit statement joins each late fee to its charge; the batch statement reads charges
    that are no longer open apart. Both must give every debit the same debt, period and due date."""
    units = list(demo.stories)
    late_fees_of_paid_charges = 0
    async with sessions() as s:
        for as_of in (None, TODAY - timedelta(days=200), TODAY):
            batch = await open_debits_by_unit(s, units, as_of)
            for unit_id in units:
                debits = batch.get(unit_id, [])
                assert await open_debits(s, unit_id, as_of) == debits
                open_ids = {d.entry_id for d in debits}
                late_fees_of_paid_charges += sum(
                    d.kind is EntryKind.late_fee and d.debt_id not in open_ids for d in debits
                )
    assert late_fees_of_paid_charges  # the case the join is for: a late fee whose charge is paid


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


async def _relief(s: AsyncSession, estate_id: int) -> int:
    """Debts forgiven rather than paid: discounts and waivers, less the reversals that took some back."""
    entries = (await s.execute(select(LedgerEntry).where(LedgerEntry.estate_id == estate_id))).scalars().all()
    kind = {e.id: e.kind for e in entries}
    relieving = (EntryKind.discount, EntryKind.waiver)
    return -sum(
        e.amount_fen
        for e in entries
        if e.kind in relieving or (e.kind == EntryKind.reversal and kind.get(e.reverses_entry_id) in relieving)
    )


async def _billed(s: AsyncSession, estate_id: int) -> int:
    """Charges and late fees, less the reversals that undid some: a sale recorded in a billed period
    reverses the whole-period charge and re-issues it as each owner's share, billed once."""
    entries = (await s.execute(select(LedgerEntry).where(LedgerEntry.estate_id == estate_id))).scalars().all()
    kind = {e.id: e.kind for e in entries}
    return sum(
        e.amount_fen
        for e in entries
        if e.kind in DEBIT_KINDS or (e.kind == EntryKind.reversal and kind.get(e.reverses_entry_id) in DEBIT_KINDS)
    )


async def test_each_estate_reconciles(demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Collected + relief + outstanding - credit held == billed, each figure read independently
    (relief: prepay discounts and waived late fees, which settle debts without money)."""
    async with sessions() as s:
        for estate in demo.estates:
            billed = await _billed(s, estate.id)
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
            relief = await _relief(s, estate.id)
            outstanding = credit = 0
            for unit_id, story in demo.stories.items():
                if story.estate.key == estate.code:
                    owed, _, held = await _open_position(s, demo, unit_id)
                    outstanding, credit = outstanding + owed, credit + held
            assert billed > 0 and kept > 0
            assert kept - refunded + relief + outstanding - credit == billed
            assert (
                estate.billed_fen,
                estate.collected_fen,
                estate.relief_fen,
                estate.outstanding_fen,
                estate.credit_fen,
            ) == (billed, kept - refunded, relief, outstanding, credit)
            assert estate.reconciles


def _sold(demo: DemoSummary) -> list[UnitPlan]:
    return [u for u in demo.stories.values() if u.sale is not None]


async def _entries(s: AsyncSession, unit_id: int, kind: EntryKind) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id, LedgerEntry.kind == kind)
    return list((await s.execute(query.order_by(col(LedgerEntry.id)))).scalars())


def _period_days(charge: LedgerEntry) -> tuple[date, date]:
    assert charge.period is not None
    first = date.fromisoformat(charge.period + "-01")
    return first, first + relativedelta(months=charge.period_months or 1) - timedelta(days=1)


async def test_sold_units_changed_hands_in_the_middle_of_a_period_through_the_transfer(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Each sale was recorded as POST /units/{id}/ownerships records it (sales.service.record_transfer)
    on its handover day, between the billing runs: two ownerships, the seller's closed the day
    before; the bills after it are the buyer's; the sale's settlement is kept and the buyer got the
    payment notice (缴费须知)."""
    sold = _sold(demo)
    # Both kinds of seller, a buyer who fell behind, both attention paths, a seller who had prepaid.
    assert {(u.sale.seller_leaves_arrears, u.sale.buyer_stops_on is not None) for u in sold if u.sale} >= {
        (True, False),
        (True, True),
        (False, True),
    }
    assert any(u.sale and u.sale.seller_prepaid for u in sold)
    async with sessions() as s:
        for unit in sold:
            assert unit.unit_id is not None and unit.sale is not None
            handover = unit.sale.on
            seller, buyer = unit.owner.owner_id, unit.sale.buyer.owner_id
            ownerships = (
                (
                    await s.execute(
                        select(Ownership).where(Ownership.unit_id == unit.unit_id).order_by(col(Ownership.starts_on))
                    )
                )
                .scalars()
                .all()
            )
            assert [(o.owner_id, o.starts_on, o.ends_on) for o in ownerships] == [
                (seller, unit.owner_since, handover - timedelta(days=1)),
                (buyer, handover, None),
            ]
            # In the middle of a billing period, recorded by the office through the registry service.
            assert handover.day > 1
            transfers = (
                (
                    await s.execute(
                        select(AuditEvent.detail).where(
                            AuditEvent.action == "ownership.start",
                            AuditEvent.entity_id == str(unit.unit_id),
                            AuditEvent.actor == MANAGER.label,
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert {"owner_id": buyer, "starts_on": handover.isoformat(), "previous_owner_id": seller} in transfers
            settlement = (
                await s.execute(select(SaleSettlement).where(SaleSettlement.unit_id == unit.unit_id))
            ).scalar_one()
            answered = settlement.result["response"]["settlement"]
            assert (answered["seller_id"], answered["buyer_id"]) == (seller, buyer)
            notice = await s.get(Letter, answered["notice_letter_id"])
            assert notice is not None and notice.kind == "payment_notice" and notice.owner_id == buyer
            undone = {e.reverses_entry_id for e in await _entries(s, unit.unit_id, EntryKind.reversal)}
            charges = [c for c in await _entries(s, unit.unit_id, EntryKind.charge) if c.id not in undone]
            for charge in charges:
                first, last = _period_days(charge)
                if first > handover:
                    assert charge.owner_id == buyer, charge.period
                elif last < handover:
                    assert charge.owner_id == seller, charge.period
                else:  # the period of the handover: whole to the seller, or split by days
                    assert charge.owner_id in (seller, buyer)
            assert any(_period_days(c)[0] > handover for c in charges) or handover > TODAY - timedelta(days=92)


async def test_a_seller_who_left_arrears_still_owes_them_after_the_sale(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    leaving = [u for u in _sold(demo) if u.sale is not None and u.sale.seller_leaves_arrears]
    assert len(leaving) >= 2
    async with sessions() as s:
        for unit in leaving:
            assert unit.unit_id is not None and unit.sale is not None
            seller = unit.owner.owner_id
            grace = unit.estate.settings.grace_days
            theirs = [d for d in await open_debits(s, unit.unit_id) if d.owner_id == seller]
            # Overdue, for periods that began before the handover, in the seller's name.
            assert sum(d.open_fen for d in theirs if d.debt_due + timedelta(days=grace) < TODAY) > 0
            for debit in theirs:
                assert debit.period is not None and date.fromisoformat(debit.period + "-01") <= unit.sale.on
            sold = next(x for x in demo.sales if x.unit_id == unit.unit_id)
            assert sold.seller.owed_fen == sum(d.open_fen for d in theirs) > 0


async def test_a_buyer_who_fell_behind_owes_their_own_periods_and_the_seller_is_written_to_elsewhere(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    behind = [u for u in _sold(demo) if u.sale is not None and u.sale.buyer_stops_on is not None]
    assert behind and any(u.sale and u.sale.seller_leaves_arrears for u in behind)  # arrears on both sides
    async with sessions() as s:
        for unit in behind:
            assert unit.unit_id is not None and unit.sale is not None and unit.sale.buyer_stops_on is not None
            buyer = unit.sale.buyer.owner_id
            grace = unit.estate.settings.grace_days
            theirs = [d for d in await open_debits(s, unit.unit_id) if d.owner_id == buyer]
            assert sum(d.open_fen for d in theirs if d.debt_due + timedelta(days=grace) < TODAY) > 0
            # The buyer paid the first bill after the handover, then stopped.
            paid = (
                await s.execute(
                    select(func.count()).where(
                        LedgerEntry.unit_id == unit.unit_id,
                        LedgerEntry.kind == EntryKind.payment,
                        LedgerEntry.owner_id == buyer,
                    )
                )
            ).scalar_one()
            assert paid > 0
        # Sellers' contact addresses: where one moved to, and one left none (never the sold unit's).
        addresses = {}
        for unit in _sold(demo):
            owner = await s.get(Owner, unit.owner.owner_id)
            buyer_row = await s.get(Owner, unit.sale.buyer.owner_id if unit.sale else None)
            assert owner is not None and buyer_row is not None
            assert owner.postal_address != buyer_row.postal_address  # the buyer lives in the unit now
            addresses[unit.unit_id] = owner.postal_address
    assert "" in addresses.values() and any(addresses.values())


async def test_a_seller_who_had_prepaid_sold_with_periods_booked_past_the_handover(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (unit,) = [u for u in _sold(demo) if u.sale is not None and u.sale.seller_prepaid]
    assert unit.unit_id is not None and unit.sale is not None
    sold = next(x for x in demo.sales if x.unit_id == unit.unit_id)
    assert sold.seller_prepaid_through is not None and sold.seller_prepaid_through > f"{unit.sale.on:%Y-%m}"
    async with sessions() as s:
        # The seller's booking (with its discount), paid before the handover.
        discounts = await _entries(s, unit.unit_id, EntryKind.discount)
        assert discounts and all(d.effective_date < unit.sale.on for d in discounts)
        booking = await prepayment_out(s, discounts[-1].payment_id or 0)
        assert booking.payment.payer_name == unit.owner.name
        # The sale took back the periods from the one the handover splits (refunded: the demo's
        # sellers give no consent) and issued that one again as the owners' shares by days.
        of_unit = select(SaleSettlement).where(SaleSettlement.unit_id == unit.unit_id)
        answered = (await s.execute(of_unit)).scalar_one().result["response"]["settlement"]
        assert answered["periods"][0] == f"{unit.sale.on:%Y-%m}" and answered["refunded_fen"] > 0
        split = answered["split_period"]
        assert [share["owner_id"] for share in split["shares"]] == [unit.owner.owner_id, unit.sale.buyer.owner_id]
        assert split["paid_by_seller_fen"] == split["shares"][0]["fen"]
        refunds = await _entries(s, unit.unit_id, EntryKind.refund)
        assert sum(r.amount_fen for r in refunds if r.owner_id == unit.owner.owner_id) == answered["refunded_fen"]


async def test_the_summary_names_the_sold_units_with_each_owners_account(demo: DemoSummary) -> None:
    text = str(demo)
    sold = _sold(demo)
    assert sorted(x.unit_id for x in demo.sales) == sorted(u.unit_id for u in sold if u.unit_id is not None)
    for unit in sold:
        assert unit.unit_id is not None and unit.sale is not None
        line = next(line for line in text.splitlines() if line.startswith(f"  unit {unit.unit_id} "))
        assert unit.number in line and f"handover {unit.sale.on}" in line
        assert f"seller owner {unit.owner.owner_id} owes" in line and f"buyer owner {unit.sale.buyer.owner_id}" in line
        assert ("no address on file" in line) == (unit.sale.seller_address == "")
    # A seller's and a buyer's token on one unit sold with arrears on both sides.
    seller, buyer = [t for t in demo.tokens if t.about.endswith("the sold unit, owes")]
    assert seller.unit_id == buyer.unit_id and seller.owner_id != buyer.owner_id
    both = next(x for x in demo.sales if x.unit_id == seller.unit_id)
    assert (both.seller_id, both.buyer_id) == (seller.owner_id, buyer.owner_id)
    assert both.seller.overdue_fen > 0 and both.buyer.overdue_fen > 0
    assert "seller_arrears" in text and "buyer_arrears" in text


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
    work = demo.casework
    assert f"Late fees: {work.late_fees:,} posted" in text and work.late_fees > 0
    assert f"Complaints: {sum(work.complaints.values())} — open {work.complaints['open']}" in text
    assert f"Arrears cases: {work.cases} with {work.notes} contact notes" in text
    for cause, cases in work.causes.items():
        assert re.search(rf"{cause}\s+{cases} cases", text)
    assert "Installment plans: active 1, broken 1, completed 1." in text


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
                    position.get(e.basis_entry_id),
                    _late_fee_detail(e.detail, position) if e.kind == EntryKind.late_fee else None,
                    paid.get(e.payment_id),
                    people.get(e.owner_id),
                    e.actor,
                    re.sub(r"(payment |plan #)\d+", r"\1#", e.reason or ""),
                )
                for e in entries
            ]
        )
        story.append(
            [
                (
                    p.amount_fen,
                    p.method,
                    p.received_on,
                    p.cashier,
                    p.payer_name,
                    p.external_ref,
                    _designation(p, position),
                )
                for p in payments
            ]
        )
    return story


def _late_fee_detail(detail: dict[str, Any] | None, position: dict[int | None, int]) -> dict[str, Any] | None:
    """A late fee's detail without the ids of its terms' versions, which differ between two builds,
    and with the late fees a correction lowers by position."""
    if not detail:
        return detail
    if "terms" in detail:
        terms = [{k: v for k, v in t.items() if k not in ("terms_id", "rate_terms_id")} for t in detail["terms"]]
        detail = {**detail, "terms": terms}
    if "corrects" in detail:
        detail = {**detail, "corrects": [[position.get(fee_id), fen] for fee_id, fen in detail["corrects"]]}
    return detail


def _designation(payment: Payment, position: dict[int | None, int]) -> Any:
    """A payment's designation with the entries it names (a prepayment's booked charges) by position."""
    if not payment.designation:
        return payment.designation
    return {**payment.designation, "entry_ids": [position.get(i) for i in payment.designation.get("entry_ids", [])]}


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
    """The bulk desk and the bulk late-fee run against record_payment and accrue_late_fees."""
    async with sessions() as s:
        by_service = await build_demo(s, units=20, years=1, seed=5, today=TODAY, code_prefix=prefix(), desk="service")
    async with sessions() as s:
        in_bulk = await build_demo(s, units=20, years=1, seed=5, today=TODAY, code_prefix=prefix(), desk="bulk")
    # Late fees, a prepayment booking and installment plans are in the story compared.
    work = in_bulk.casework
    assert work.late_fees > 0 and work.prepayments > 0 and work.plans
    async with sessions() as s:
        # So are a sale's reattribution (a charge reversed after late fees were posted on it) and the
        # correction of those late fees.
        in_estates = col(LedgerEntry.estate_id).in_(_estate_ids(in_bulk))
        corrected = (
            await s.execute(
                select(LedgerEntry.basis_entry_id).where(
                    in_estates, LedgerEntry.kind == EntryKind.late_fee, LedgerEntry.amount_fen < 0
                )
            )
        ).scalars()
        reversed_charges = (
            await s.execute(
                select(LedgerEntry.reverses_entry_id).where(in_estates, LedgerEntry.kind == EntryKind.reversal)
            )
        ).scalars()
        assert set(corrected) & set(reversed_charges)
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


# ---------------------------------------------------------------------------------------------
# The stories: service log, complaints, arrears cases, fee rules
# ---------------------------------------------------------------------------------------------


def _estate_ids(demo: DemoSummary) -> list[int]:
    return [e.id for e in demo.estates]


async def test_the_service_log_covers_every_month_and_building(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    months = {f"{d:%Y-%m}" for d in _months(demo)}
    async with sessions() as s:
        for estate in demo.estates:
            buildings = (await s.execute(select(Building.id).where(Building.estate_id == estate.id))).scalars().all()
            rows = (
                (await s.execute(select(ServiceActivity).where(ServiceActivity.estate_id == estate.id))).scalars().all()
            )
            totals: dict[tuple[str, int | None, ActivityKind], int] = defaultdict(int)
            for row in rows:
                totals[(row.period, row.building_id, row.kind)] += row.count
                assert row.count > 0 or row.note  # a correction says what it corrects
            for period in months:
                for building_id in buildings:
                    assert 12 <= totals[(period, building_id, ActivityKind.cleaning_rounds)] <= 31
                    assert 5 <= totals[(period, building_id, ActivityKind.repairs_done)] <= 20
                assert totals[(period, None, ActivityKind.security_patrols)] >= 100
                assert totals[(period, None, ActivityKind.greenery)] > 0
            # What a statement of the last month shows an owner of the first building.
            summary = await service_summary(s, estate.id, buildings[0], max(months))
            assert {t.kind for t in summary} == set(ActivityKind) - {ActivityKind.other}


def _months(demo: DemoSummary) -> list[date]:
    first = date.fromisoformat(demo.first_period + "-01")
    last = date.fromisoformat(demo.last_period + "-01")
    months = [first]
    while months[-1] < last:
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    return months


async def test_dissatisfied_owners_complained_when_it_happened_and_some_complaints_are_open(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        complaints = (
            (await s.execute(select(Complaint).where(col(Complaint.estate_id).in_(_estate_ids(demo))))).scalars().all()
        )
        steps = await steps_of(s, [c.id for c in complaints if c.id is not None])
    by_unit = defaultdict(list)
    for complaint in complaints:
        by_unit[complaint.unit_id].append(complaint)
    dissatisfied = [u for u in demo.stories.values() if u.profile == Profile.dissatisfied]
    assert dissatisfied
    for unit in dissatisfied:
        assert unit.incident is not None and unit.unit_id is not None
        (complaint,) = by_unit[unit.unit_id]
        assert complaint.category == unit.incident.category and complaint.text == unit.incident.text
        assert business_date(complaint.opened_at) == unit.incident.on
        assert complaint.owner_id == unit.owner.owner_id
        # Handled, if at all, not to the owner's satisfaction.
        assert complaint.owner_satisfied is not True
    statuses = {complaint_status(c) for c in complaints}
    assert "open" in statuses and "resolved" in statuses
    # Owners who pay complain too; theirs were fixed and inspected to their satisfaction.
    paying = [c for c in complaints if demo.profiles[c.unit_id] in (Profile.on_time, Profile.prepaid)]
    assert paying and all(complaint_status(c) == "resolved" for c in paying)
    assert {c.channel for c in complaints} <= {ComplaintChannel.phone, ComplaintChannel.desk, ComplaintChannel.app}
    for complaint in complaints:
        kinds = [step.kind for step in steps.get(complaint.id or 0, [])]
        if complaint.fixed_at is not None:
            assert kinds[:2] == [StepKind.plan_given, StepKind.fixed]
        assert all(step.at >= complaint.opened_at for step in steps.get(complaint.id or 0, []))
    assert demo.casework.complaints == dict(Counter(complaint_status(c) for c in complaints))


async def _cases(s: AsyncSession, demo: DemoSummary) -> list[ArrearsCase]:
    query = select(ArrearsCase).where(col(ArrearsCase.estate_id).in_(_estate_ids(demo)))
    return list((await s.execute(query)).scalars())


async def test_most_units_in_arrears_have_a_classified_case_with_notes(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    in_arrears = {unit_id for unit_id, p in demo.positions.items() if p.overdue_fen > 0}
    async with sessions() as s:
        cases = await _cases(s, demo)
        causes: Counter[str] = Counter()
        for case in cases:
            assert case.id is not None and case.unit_id in in_arrears
            history = await cause_history(s, case)
            assert history.latest is not None and history.effective is not None
            causes[history.effective.category.value] += 1
            if history.overrides:
                assert history.effective.source == "override" and all(o.reason for o in history.overrides)
            notes = (await s.execute(select(ArrearsNote).where(ArrearsNote.case_id == case.id))).scalars().all()
            assert 1 <= len(notes) <= 5
            assert all(n.noted_on <= TODAY and n.text.strip() and n.author for n in notes)
            # The classifier read this case's own notes and complaints.
            assert sorted(history.latest.facts["note_ids"]) == sorted(n.id for n in notes)
        overrides = (
            await s.execute(
                select(func.count()).where(col(ArrearsOverride.case_id).in_([c.id for c in cases if c.id is not None]))
            )
        ).scalar_one()
    assert len(cases) >= 0.7 * len(in_arrears) and len(cases) < len(in_arrears)
    assert {"hardship", "service_dissatisfaction", "misunderstanding", "unknown"} <= set(causes)
    assert 2 <= overrides <= 3
    assert dict(causes) == demo.casework.causes and len(cases) == demo.casework.cases


async def test_the_classifier_finds_each_profiles_story(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Without a manager's override, the classifier reads each profile's notes as that profile's cause."""
    expected = {
        Profile.hardship.value: "hardship",
        Profile.dissatisfied.value: "service_dissatisfaction",
        Profile.misunderstanding.value: "misunderstanding",
        Profile.long_term.value: "unknown",
        "seller_arrears": "unknown",
        "buyer_arrears": "unknown",
    }
    async with sessions() as s:
        for case in await _cases(s, demo):
            latest = (
                (
                    await s.execute(
                        select(ArrearsClassification)
                        .where(ArrearsClassification.case_id == case.id)
                        .order_by(col(ArrearsClassification.id).desc())
                    )
                )
                .scalars()
                .first()
            )
            assert latest is not None
            assert latest.category.value == expected[demo.arrears_label(case.unit_id)], case.unit_id


async def test_notes_are_written_in_the_owners_language(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        rows = (
            await s.execute(
                select(ArrearsNote.text, Owner.locale)
                .join(ArrearsCase, col(ArrearsCase.id) == ArrearsNote.case_id)
                .join(Owner, col(Owner.id) == ArrearsCase.owner_id)
                .where(col(ArrearsCase.estate_id).in_(_estate_ids(demo)))
            )
        ).all()
    languages: Counter[str] = Counter()
    for text, locale in rows:
        language = _language(text)
        languages[language] += 1
        expected = {"zh_HK": "zh_TW", "zh_TW": "zh_TW", "en": "en"}.get(locale or "", "zh_CN")
        assert language == expected, (text, locale)
    assert languages["zh_TW"] > 0 and languages["en"] > 0
    assert languages["zh_CN"] > languages["zh_TW"] + languages["en"]


def _language(text: str) -> str:
    if sum(ch.isascii() and ch.isalpha() for ch in text) > len(text) / 2:
        return "en"
    return "zh_TW" if any(ord(ch) in T2S for ch in text) else "zh_CN"


async def test_late_fees_were_posted_every_month_end_and_a_rerun_posts_nothing(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        for estate in demo.estates:
            fees = (
                (
                    await s.execute(
                        select(LedgerEntry).where(
                            LedgerEntry.estate_id == estate.id, LedgerEntry.kind == EntryKind.late_fee
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert fees
            for fee in fees:
                assert fee.basis_entry_id is not None and fee.detail is not None
                assert (fee.effective_date + timedelta(days=1)).day == 1  # a month end
                # The court-likely figure (LPR × 1.3) is well below the contract's 0.03% a day.
                assert fee.detail["court_likely_fen"] <= fee.detail["total_to_date_fen"]
            last_run = max(f.effective_date for f in fees)
            again = await accrue_late_fees(s, COMMAND_LINE, estate.id, last_run)
            assert again.late_fees_posted == 0
            # Court-likely rates: 1.3 × the one-year LPR in force from the start of the history on.
            rates = await court_rates(s, estate.id)
            assert rates and rates[0][0] <= date.fromisoformat(demo.first_period + "-01")
            lpr = {day: Decimal(rate) for day, rate in LPR_1Y}
            assert all(rate == lpr[day] * Decimal("0.013") for day, rate in rates)


async def test_three_installment_plans_completed_broken_and_kept(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        plans = (
            (await s.execute(select(InstallmentPlan).where(col(InstallmentPlan.estate_id).in_(_estate_ids(demo)))))
            .scalars()
            .all()
        )
        assert sorted(p.state for p in plans) == [PlanState.active, PlanState.broken, PlanState.completed]
        for plan in plans:
            assert demo.profiles[plan.unit_id] == Profile.hardship and plan.agreed_on is not None
            out = await plan_out(s, plan.id or 0, TODAY)
            due = [i for i in out.schedule if i.due_date + timedelta(days=15) < TODAY]
            if plan.state == PlanState.active:
                assert all(i.status == "paid" for i in due) and any(i.status == "due" for i in out.schedule)
            elif plan.state == PlanState.completed:
                assert out.paid_fen == out.total_fen
            else:
                assert plan.end_reason and "installment 2" in plan.end_reason
        # The review run is idempotent: it finds nothing more to do.
        for estate in demo.estates:
            review = await review_plans(s, COMMAND_LINE, estate.id, TODAY - timedelta(days=1))
            assert not review.completed and not review.broken


async def test_some_prepaying_owners_book_their_prepayment_with_the_discount(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    monthly = next(e for e in demo.estates if e.cycle_months == 1)
    async with sessions() as s:
        assert [(t.min_months, t.percent_off) for t in await list_tiers(s, monthly.id)] == [(6, "5"), (12, "10")]
        discounts = (
            (
                await s.execute(
                    select(LedgerEntry).where(
                        LedgerEntry.estate_id == monthly.id, LedgerEntry.kind == EntryKind.discount
                    )
                )
            )
            .scalars()
            .all()
        )
        assert discounts and all(demo.profiles[d.unit_id] == Profile.prepaid for d in discounts)
        for payment_id in {d.payment_id for d in discounts}:
            booked = await prepayment_out(s, payment_id or 0)
            assert booked.quote.months == 12 and booked.quote.tier is not None
            assert booked.quote.tier.percent_off == "10"
            assert (
                booked.payment.amount_fen == booked.quote.net_fen == booked.quote.gross_fen - booked.quote.discount_fen
            )


async def test_a_reminder_run_over_the_demo_skips_paused_and_paid_up_units(
    demo: DemoSummary, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from feesvc.letters.runs import run_reminders

    async with sessions() as s:
        summaries = [await run_reminders(s, COMMAND_LINE, e.id, TODAY) for e in demo.estates]
        estate_ids = [e.id for e in demo.estates]
        # The runs' letters: the sales' payment notices to buyers were issued at the sales, by no run.
        of_runs = select(Letter).where(col(Letter.estate_id).in_(estate_ids), col(Letter.run_id).is_not(None))
        letters = (await s.execute(of_runs)).scalars().all()
        still_open = col(Complaint.closed_at).is_(None)
        open_complaints = set((await s.execute(
            select(Complaint.unit_id).where(col(Complaint.estate_id).in_(estate_ids), still_open)
        )).scalars())
        # A kept plan pauses the letters for the periods it covers, and only those (issue 14 item 8).
        covered_periods: dict[int, set[str]] = {}
        for unit_id, period in (await s.execute(
            select(InstallmentPlan.unit_id, PlanCharge.period)
            .join(PlanCharge, col(PlanCharge.plan_id) == InstallmentPlan.id)
            .where(col(InstallmentPlan.estate_id).in_(estate_ids), InstallmentPlan.state == PlanState.active)
        )).all():
            covered_periods.setdefault(unit_id, set()).add(period)
        positions = {letter.unit_id: await _open_position(s, demo, letter.unit_id) for letter in letters}
        reruns = [await run_reminders(s, COMMAND_LINE, e.id, TODAY) for e in demo.estates]

    assert sum(sum(x.letters_by_kind.values()) for x in summaries) == len(letters) > 0
    # One letter per account: a sold unit's seller and buyer each get their own (issue 15).
    assert len({(letter.unit_id, letter.owner_id) for letter in letters}) == len(letters)
    for letter in letters:
        if letter.kind != "pre_due_notice":
            assert not set(letter.periods) & covered_periods.get(letter.unit_id, set())
            assert letter.unit_id not in open_complaints or letter.kind in ("hardship_offer", "explanation")
            assert positions[letter.unit_id][0] > 0  # nobody who has paid up is chased
    # A unit keeping its plan is still reminded of a later period the plan does not cover.
    assert any(letter.unit_id in covered_periods and letter.kind != "pre_due_notice" for letter in letters)
    assert all(sum(x.letters_by_kind.values()) == 0 for x in reruns)
