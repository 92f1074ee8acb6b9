"""Playing the demo history in time order: bill the period, then the payments of the month, then
the month-end runs (late fees, installment plan review).

Each payment is allocated against what was open on the day it came in, because everything before
it has already been written. Who pays what and when follows each unit's profile (plan.py). Plans,
installments and prepayment bookings go through their services on their days, and so do the sales
(sales.py): on the handover day, in the middle of a period, the buyer is registered and the transfer
recorded through ``registry.service.transfer_ownership``, so every later billing run, late-fee run
and payment sees two owners. From then on each owner pays what is open in their own name.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE, Principal
from feesvc.billing.service import run_billing
from feesvc.demo.accrual import Accrual, month_ends
from feesvc.demo.desk import Desk
from feesvc.demo.feerules import PREPAY_MONTHS, prepay_net_fen
from feesvc.demo.people import Person
from feesvc.demo.plan import DemoPlan, EstateSpec, Profile, Sale, UnitPlan
from feesvc.demo.registry import home_address, owner_create
from feesvc.formatting import money
from feesvc.ledger.allocation import allocate
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import open_debits, prepaid_credit_fen
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.refunds import refund_credit
from feesvc.payments.schemas import Designation, PaymentCreate, RefundCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import Installment
from feesvc.plans.review import review_plans
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.plans.standing import covered_charge_ids
from feesvc.prepay.schemas import PrepaymentCreate
from feesvc.prepay.service import record_prepayment
from feesvc.registry.models import AllocationOrder
from feesvc.registry.schemas import OwnershipCreate
from feesvc.registry.service import create_owner
from feesvc.sales.service import record_transfer

# The people behind the actor labels: they show up in the ledger, the receipts and the audit log.
CASHIERS = (
    Principal(role=Role.cashier, name="前台-周敏"),
    Principal(role=Role.cashier, name="前台-吴婷"),
    Principal(role=Role.cashier, name="收费员-郑磊"),
)
MANAGER = Principal(role=Role.manager, name="客服主管-陈静")
# The scheduled month-end runs (late fees, installment plan review).
MONTH_END = Principal(role=Role.system, name="月末批处理")
PARTIAL_YUAN = (300, 500, 800, 1000, 1500)
REFUND_REASON = "业主家中急用，申请退还一半预存物业费"
PLAN_NOTE = "业主经济困难，经面谈同意分3期补缴欠费；按期缴纳期间暂停催缴"


@dataclass(order=True)
class _Event:
    """Something that happens at the desk on a day; ``seq`` keeps the order stable within a day."""

    on: date
    seq: int
    # "pay", "partial", "refund", "prepay" (a booked prepayment), "propose" and "agree" (an
    # installment plan), "installment", "settle" (a seller settles up), "sale" (the handover),
    # "owner_pays" (a buyer pays a bill)
    kind: str = field(compare=False)
    unit: UnitPlan = field(compare=False)
    amount_fen: int = field(default=0, compare=False)
    designated_period: str | None = field(default=None, compare=False)


@dataclass
class Counts:
    billing_runs: int = 0
    payments: int = 0
    voids: int = 0
    refunds: int = 0
    prepayments: int = 0
    late_fee_runs: int = 0
    late_fees: int = 0
    late_fee_fen: int = 0
    sales: int = 0


class History:
    def __init__(
        self,
        session: AsyncSession,
        plan: DemoPlan,
        estate_ids: dict[str, int],
        desk: Desk,
        accrual: Accrual,
        seed: int,
        progress: Callable[[str], None],
    ) -> None:
        self.session = session
        self.plan = plan
        self.today = plan.timeline.today
        self.estate_ids = estate_ids
        self.desk = desk
        self.accrual = accrual
        self.month_ends = month_ends(plan.timeline.months, self.today)
        self.rng = random.Random(f"{seed}:history")
        self.progress = progress
        self.counts = Counts()
        # What each unit owes (negative: credit held), kept in step with every payment.
        self.balance: dict[int, int] = {}
        # Each unit's charge for the period just billed.
        self.period_charge: dict[int, int] = {}
        self.seq = 0
        # Idempotency keys are unique across the database: the estate codes make them unique per demo.
        self.key_prefix = "-".join(e.key for e in plan.estates)
        # Owners who book their prepayments: those who paid their first half year ahead as credit,
        # and the first day of the last period booked for each.
        self.prepaying: set[int] = set()
        self.booked_through: dict[int, date] = {}
        # Installment plans by unit id, once proposed.
        self.plans: dict[int, int] = {}

    async def play(self) -> Counts:
        months = self.plan.timeline.months
        for n, month in enumerate(months, start=1):
            events: list[_Event] = []
            for estate in self.plan.estates:
                if (month.month - 1) % estate.settings.cycle_months == 0:
                    await self._bill(estate, month)
                    events += self._regular_payments(estate, month)
            events += self._dated_events(month)
            for event in sorted(events):
                await self._play(event)
            await self.desk.flush()
            if month in self.month_ends:
                await self._month_end(self.month_ends[month])
            if n % 6 == 0 or n == len(months):
                self.progress(
                    f"history up to {month:%Y-%m}: {self.counts.payments:,} payments, "
                    f"{self.counts.late_fees:,} late fees"
                )
        return self.counts

    # -- month end --------------------------------------------------------------------------------

    async def _month_end(self, last_day: date) -> None:
        """The late-fee run of each estate, then the review of its installment plans."""
        for estate in self.plan.estates:
            estate_id = self.estate_ids[estate.key]
            result = await self.accrual.run(MONTH_END, estate_id, last_day)
            self.counts.late_fee_runs += 1
            self.counts.late_fees += result.late_fees_posted
            self.counts.late_fee_fen += result.posted_fen
            if result.late_fees_posted or result.corrections_posted:
                await self.desk.after_accrual(estate_id, last_day)
            in_plans = [u for u in self.plan.units_of(estate) if u.unit_id in self.plans]
            if in_plans:
                await review_plans(self.session, MONTH_END, estate_id, last_day)
                for unit in in_plans:
                    assert unit.unit_id is not None
                    await self.desk.refresh_unit(unit.unit_id)  # the review may waive or restore late fees

    # -- billing ---------------------------------------------------------------------------------

    async def _bill(self, estate: EstateSpec, month: date) -> None:
        period = f"{month:%Y-%m}"
        estate_id = self.estate_ids[estate.key]
        await self.desk.flush()
        await run_billing(self.session, COMMAND_LINE, estate_id, period, month)
        self.counts.billing_runs += 1
        units = [u.unit_id for u in self.plan.units_of(estate) if u.unit_id is not None]
        await self.desk.after_billing(estate_id, units)
        balances = await self.session.execute(
            select(LedgerEntry.unit_id, func.sum(LedgerEntry.amount_fen))
            .where(LedgerEntry.estate_id == estate_id)
            .group_by(col(LedgerEntry.unit_id))
        )
        self.balance.update({unit_id: int(total) for unit_id, total in balances.all()})
        charges = await self.session.execute(
            select(LedgerEntry.unit_id, func.sum(LedgerEntry.amount_fen))
            .where(
                LedgerEntry.estate_id == estate_id,
                LedgerEntry.kind == EntryKind.charge,
                LedgerEntry.period == period,
            )
            .group_by(col(LedgerEntry.unit_id))
        )
        self.period_charge.update({unit_id: int(total) for unit_id, total in charges.all()})

    # -- deciding who pays what, and when --------------------------------------------------------

    def _regular_payments(self, estate: EstateSpec, month: date) -> list[_Event]:
        events = []
        for unit in self.plan.units_of(estate):
            sale = unit.sale
            if sale is not None and month > sale.on:
                events += self._buyer_pays(unit, sale, month)
                continue
            if self._books_now(unit, month):
                day = self._pay_day(unit, month)
                if day <= self.today and (sale is None or day < sale.on):
                    events.append(self._event(day, "prepay", unit))
                continue
            amount, designated = self._regular_amount(unit, month)
            if amount <= 0:
                continue
            day = self._pay_day(unit, month)
            if day > self.today:
                continue  # not paid yet, and not overdue either
            if sale is not None and day >= sale.on:
                continue  # the seller settles up the day before the handover instead ("settle")
            events.append(self._event(day, "pay", unit, amount, designated))
        return events

    def _buyer_pays(self, unit: UnitPlan, sale: Sale, month: date) -> list[_Event]:
        """The buyer pays each bill after the handover, what is open in the buyer's own name (sized on
        the day), until ``buyer_stops_on``. The seller's arrears stay the seller's."""
        if sale.buyer_stops_on is not None and month >= sale.buyer_stops_on:
            return []
        day = self._pay_day(unit, month)
        return [self._event(day, "owner_pays", unit)] if day <= self.today else []

    def _regular_amount(self, unit: UnitPlan, month: date) -> tuple[int, str | None]:
        """What the owner pays on this bill: nothing once they stopped, else what is due plus any advance."""
        assert unit.unit_id is not None
        balance = self.balance.get(unit.unit_id, 0)
        charge = self.period_charge.get(unit.unit_id, 0)
        cycle = unit.estate.settings.cycle_months
        sale = unit.sale
        stops = sale.seller_stops_on if sale is not None else unit.stops_on
        if stops is not None and month >= stops:
            return 0, None
        if unit.profile == Profile.prepaid:
            if unit.unit_id in self.prepaying:
                return 0, None  # uses up its credit, then books (_books_now)
            # Keeps up to a year paid ahead (the estate's prepay cap); tops up when the next bills are
            # no longer covered. Those who will book their prepayments paid half a year ahead first.
            if -balance >= max(1, 2 // cycle) * charge:
                return 0, None
            if unit.books_prepayment:
                self.prepaying.add(unit.unit_id)
                return balance + (6 // cycle) * charge, None
            return balance + (12 // cycle) * charge, None
        if unit.is_anchor(month):
            return balance + (unit.habit_months // cycle - 1) * charge, None
        return balance, None

    def _books_now(self, unit: UnitPlan, month: date) -> bool:
        """An owner who books prepayments books the next year once the credit and the last booking run out."""
        if unit.unit_id not in self.prepaying:
            return False
        booked = self.booked_through.get(unit.unit_id)
        return self.balance.get(unit.unit_id, 0) >= 0 and (booked is None or booked <= month)

    def _pay_day(self, unit: UnitPlan, month: date) -> date:
        settings = unit.estate.settings
        due = month.replace(day=settings.due_day)
        before_due = (due - month).days
        if unit.profile == Profile.prepaid:
            return month + timedelta(days=self.rng.randrange(before_due))
        late_share = 0.2 if unit.profile == Profile.on_time else 0.5
        if self.rng.random() >= late_share or settings.grace_days < 2:
            return month + timedelta(days=self.rng.randrange(before_due + 1))
        # Late, but inside the grace days.
        return due + timedelta(days=self.rng.randint(1, settings.grace_days - 1))

    def _dated_events(self, month: date) -> list[_Event]:
        """Partial payments of owners in hardship and the refund: planned by date, sized on the day."""
        end = (month + timedelta(days=32)).replace(day=1)
        events = []
        for unit in self.plan.units:
            story = unit.installment_plan
            installments = story.paid_on if story is not None else []
            for day in unit.partial_payments:
                if month <= day < end and day <= self.today:
                    events.append(self._event(day, "installment" if day in installments else "partial", unit))
            if unit.refund_on is not None and month <= unit.refund_on < end:
                events.append(self._event(unit.refund_on, "refund", unit))
            sale = unit.sale
            if sale is not None and month <= sale.on < end and sale.on <= self.today:
                if not sale.seller_leaves_arrears:
                    events.append(self._event(sale.on - timedelta(days=1), "settle", unit))
                events.append(self._event(sale.on, "sale", unit))
            if story is not None:
                for day, kind in ((story.proposed_on, "propose"), (story.agreed_on, "agree")):
                    if month <= day < end and day <= self.today:
                        events.append(self._event(day, kind, unit))
        return events

    def _event(self, day: date, kind: str, unit: UnitPlan, amount: int = 0, designated: str | None = None) -> _Event:
        self.seq += 1
        return _Event(day, self.seq, kind, unit, amount, designated)

    # -- the desk -----------------------------------------------------------------------------------

    async def _play(self, event: _Event) -> None:
        unit = event.unit
        assert unit.unit_id is not None
        if event.kind == "refund":
            await self._refund(unit, event.on)
            return
        if event.kind == "sale":
            await self._sell(unit, event.on)
            return
        if event.kind in ("settle", "owner_pays"):
            # The seller settles up on the last day of ownership; a buyer pays a bill. Each pays what
            # is open in their own name, so each payment settles that owner's debts only.
            await self._pay_own_debts(unit, event.on, unit.payer(event.on))
            return
        if event.kind in ("prepay", "propose", "agree", "installment"):
            await self.desk.flush()
            await {
                "prepay": self._book_prepayment,
                "propose": self._propose_plan,
                "agree": self._agree_plan,
                "installment": self._pay_installment,
            }[event.kind](unit, event.on)
            return
        amount = event.amount_fen
        if event.kind == "partial":
            amount = min(self.balance.get(unit.unit_id, 0), self.rng.choice(PARTIAL_YUAN) * 100)
            if amount <= 0:
                return
        if unit.mistake is not None and unit.mistake_from is not None and event.on >= unit.mistake_from:
            await self._desk_mistake(unit, event.on, amount)
            unit.mistake = None
            return
        data = self._payment(unit, event.on, amount, event.designated_period)
        payer = unit.payer(event.on)
        await self.desk.pay(self._cashier(), data, self._key(), self.estate_ids[unit.estate.key], payer.owner_id)
        self._paid(unit, amount)

    def _payment(
        self, unit: UnitPlan, day: date, amount: int, designated: str | None = None, method: Method | None = None
    ) -> PaymentCreate:
        assert unit.unit_id is not None
        method = method or (unit.method if self.rng.random() < 0.85 else self.rng.choice(list(Method)))
        return PaymentCreate(
            unit_id=unit.unit_id,
            amount_fen=amount,
            method=method,
            external_ref=self._external_ref(method, day),
            payer_name=unit.payer(day).name,
            designation=Designation(periods=[designated]) if designated else None,
            received_on=day,
        )

    def _cashier(self) -> Principal:
        return self.rng.choice(CASHIERS)

    def _key(self) -> str:
        self.seq += 1
        return f"{self.key_prefix}-{self.seq:07d}"

    def _paid(self, unit: UnitPlan, amount: int) -> None:
        assert unit.unit_id is not None
        self.balance[unit.unit_id] = self.balance.get(unit.unit_id, 0) - amount
        self.counts.payments += 1

    async def _desk_mistake(self, unit: UnitPlan, day: date, amount: int) -> None:
        """The day's payment keyed in wrongly and voided by the manager the same day, with the reason.

        Through the services whatever the desk: the void needs the payment's id at once.
        """
        assert unit.unit_id is not None
        await self.desk.flush()
        if unit.mistake == "duplicate":
            # The same WeChat payment entered twice: the first receipt stands, the second is voided.
            await self._record(unit, day, amount, Method.wechat)
            wrong, wrong_fen = await self._record(unit, day, amount, Method.wechat), amount
            reason = "重复录入：同一笔微信支付被登记了两次，作废第二张收据"
        else:
            wrong, wrong_fen = await self._record(unit, day, amount * 10, Method.cash), amount * 10
            reason = f"收银员金额录入错误（多输一个0，实收{money(amount, 'zh_CN')}），作废后按实收金额重开收据"
        await void_payment(self.session, MANAGER, wrong, reason, day)
        self.balance[unit.unit_id] += wrong_fen
        self.counts.voids += 1
        self.counts.payments -= 1
        if unit.mistake == "wrong_amount":
            await self._record(unit, day, amount, Method.cash)
        await self.desk.refresh_unit(unit.unit_id)

    async def _record(self, unit: UnitPlan, day: date, amount: int, method: Method) -> int:
        data = self._payment(unit, day, amount, method=method)
        payment, _ = await record_payment(self.session, self._cashier(), data, self._key(), self.today)
        self._paid(unit, amount)
        return payment.id

    async def _refund(self, unit: UnitPlan, day: date) -> None:
        assert unit.unit_id is not None
        await self.desk.flush()
        held = await prepaid_credit_fen(self.session, unit.unit_id)
        amount = held // 2 // 100 * 100
        if amount <= 0:
            return
        data = RefundCreate(amount_fen=amount, reason=REFUND_REASON, method=Method.bank_transfer)
        await refund_credit(self.session, MANAGER, unit.unit_id, data, day)
        self.balance[unit.unit_id] += amount
        self.counts.refunds += 1
        await self.desk.refresh_unit(unit.unit_id)

    # -- sales ---------------------------------------------------------------------------------------

    async def _sell(self, unit: UnitPlan, day: date) -> None:
        """The buyer registers at the office and the transfer is recorded, as through the API
        (POST /owners, POST /units/{id}/ownerships); whatever the transfer settles is read back."""
        sale = unit.sale
        assert sale is not None and unit.unit_id is not None
        await self.desk.flush()
        buyer = sale.buyer
        owner = await create_owner(self.session, MANAGER, owner_create(buyer, home_address(unit)))
        assert owner.id is not None
        buyer.owner_id = owner.id
        # As POST /units/{id}/ownerships: the sale settles the seller's prepaid periods and credit
        # (refunded: the demo's sellers give no consent) and sends the buyer the payment notice.
        transfer = OwnershipCreate(owner_id=owner.id, starts_on=day)
        await record_transfer(self.session, MANAGER, unit.unit_id, transfer, today=day)
        await self.desk.refresh_unit(unit.unit_id)
        self.counts.sales += 1

    async def _pay_own_debts(self, unit: UnitPlan, day: date, payer: Person) -> None:
        assert unit.unit_id is not None
        await self.desk.flush()
        debits = await open_debits(self.session, unit.unit_id)
        amount = sum(d.open_fen for d in debits if d.owner_id == payer.owner_id)
        if amount <= 0:
            return
        data = self._payment(unit, day, amount)
        await self.desk.pay(self._cashier(), data, self._key(), self.estate_ids[unit.estate.key], payer.owner_id)
        self._paid(unit, amount)

    # -- prepayment bookings and installment plans, through their services ---------------------------

    async def _book_prepayment(self, unit: UnitPlan, day: date) -> None:
        """Settle what the credit left open, then book the next year with the estate's discount."""
        assert unit.unit_id is not None
        owed = self.balance.get(unit.unit_id, 0)
        if owed > 0:
            await self._record(unit, day, owed, unit.method)
            await self.desk.refresh_unit(unit.unit_id)
        first = self.booked_through.get(unit.unit_id, day.replace(day=1)) + relativedelta(months=1)
        net = prepay_net_fen(unit, first, PREPAY_MONTHS)
        data = PrepaymentCreate(
            months=PREPAY_MONTHS,
            method=unit.method,
            expected_net_fen=net,
            first_period=f"{first:%Y-%m}",
            external_ref=self._external_ref(unit.method, day),
            payer_name=unit.payer(day).name,
        )
        await record_prepayment(self.session, self._cashier(), unit.unit_id, data, self._key(), day)
        self.booked_through[unit.unit_id] = first + relativedelta(months=PREPAY_MONTHS - 1)
        self.counts.prepayments += 1
        self.counts.payments += 1

    async def _propose_plan(self, unit: UnitPlan, day: date) -> None:
        story = unit.installment_plan
        assert story is not None and unit.unit_id is not None
        data = PlanCreate(
            unit_id=unit.unit_id,
            installments=story.installments,
            first_due=story.first_due,
            late_fee_treatment=story.treatment,
            note=PLAN_NOTE,
        )
        plan = await propose_plan(self.session, MANAGER, data, day)
        assert plan.id is not None
        self.plans[unit.unit_id] = plan.id

    async def _agree_plan(self, unit: UnitPlan, day: date) -> None:
        assert unit.unit_id is not None
        await agree_plan(self.session, MANAGER, self.plans[unit.unit_id], day)
        await self.desk.refresh_unit(unit.unit_id)  # a plan that waives now has waived the late fees

    async def _pay_installment(self, unit: UnitPlan, day: date) -> None:
        """The owner pays the next installment at the desk, with whatever the desk settles before it.

        An undesignated payment settles the oldest debts first, and the plan covers charges, not
        every older debt: a late fee left on a month paid long ago comes first and would leave the
        installment short (and break the plan). So the cashier asks for that too, as the desk
        screen shows it.
        """
        story = unit.installment_plan
        assert story is not None and unit.unit_id is not None
        number = story.paid_on.index(day) + 1
        plan_id = self.plans[unit.unit_id]
        installment = (
            await self.session.execute(
                select(Installment.amount_fen).where(Installment.plan_id == plan_id, Installment.number == number)
            )
        ).scalar_one()
        covered = frozenset(await covered_charge_ids(self.session, day, unit_id=unit.unit_id))
        debits = await open_debits(self.session, unit.unit_id)
        order = AllocationOrder(unit.estate.settings.allocation_order)
        everything = sum(d.open_fen for d in debits)
        allocations, _ = allocate(debits, everything, order, late_fees_last_for=covered)
        amount, short = 0, installment
        for allocation in allocations:
            towards_plan = allocation.entry_id in covered
            take = min(allocation.amount_fen, short) if towards_plan else allocation.amount_fen
            amount += take
            short -= take if towards_plan else 0
            if short == 0:
                break
        await self._record(unit, day, amount, unit.method)
        await self.desk.refresh_unit(unit.unit_id)

    def _external_ref(self, method: Method, day: date) -> str:
        """A plausible reference of the payment channel (cash has none)."""
        digits = f"{self.rng.randrange(10**12):012d}"
        if method == Method.wechat:
            return f"4200001{self.rng.randrange(1000, 9999)}{day:%Y%m%d}{digits[:9]}"
        if method == Method.alipay:
            return f"{day:%Y%m%d}2200{digits}{self.rng.randrange(1000, 9999)}"
        if method == Method.bank_transfer:
            return f"网银{day:%Y%m%d}{digits[:8]}"
        if method == Method.card:
            return f"POS参考号{digits}"
        return ""
