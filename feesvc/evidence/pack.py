"""The evidence pack (证据包) of a property-fee case (物业服务合同纠纷) for one unit, as a ZIP.

DOMAIN.md "Legal follow-up: the evidence pack", "Limitation period", "Late fees". The pack holds:

===========================  ===================================================================
``01_evidence_list.pdf``     证据清单: numbered items, each with its source, what it proves and its
                             pages in the other files (证据规定 §19)
``02_parties_and_basis.pdf`` the company; the owner in full (name, ID number, phone, address: the
                             only place personal data is shown whole); unit, ownership periods;
                             the contract and the fee standards with their posting dates
``03_arrears.pdf``           per period: area × rate × months, paid, open; the late fee per charge
                             at the contract rate and the court-likely figure side by side
``04_demands.pdf``           every letter of the unit with its delivery; ``demands/letters.pdf``
                             the letters rendered again as issued; ``demands/proofs/`` the stored
                             delivery proofs, checked against their SHA-256 while copied
``05_service_record.pdf``    the estate's service activity in the claimed months, the unit's
                             complaints with their handling steps and the owner's inspection
``06_limitation.pdf``        the three-year clock per period; expired periods in a table apart
``07_plans_and_case.pdf``    installment plans and what became of them; the case's classifications
                             and overrides
``filing.json``              the fields of the complaint form (起诉状) and, when the debt qualifies,
                             a payment-order (支付令) application
``ledger_snapshot.json``     the unit's ledger entries up to the pack date, canonical JSON
``manifest.json``            every other file with SHA-256 and size (see ``manifest.py``)
===========================  ===================================================================

Decisions:

* **Late fees are recomputed** as of the pack date from the ledger with ``late_fee_for`` and
  ``court_likely_fee`` (the same inputs as the accrual run: the charge's due date, every change of
  its unpaid principal, the estate's grace days and cap, the standard's rate, plan freezes). What
  the ledger already posted is printed beside it. What is claimed is the recomputed figure less
  what was paid or waived on the charge's late fees (a waiver is a release, 民法典 575).
* **Claimed charges**: overdue on the pack date (due date before it) with principal or a posted
  late fee still open.
* **Part payments** (an interruption, 诉讼时效规定 §14) are read from the ledger: every payment,
  not voided, that settled part of a claimed period's charge or late fee; since something of the
  period is still claimed, each of them was a partial performance of that period's debt.
* **Expired periods** stay in the claim (the court does not raise limitation itself, 民法典 193),
  flagged, with totals with and without them; 06 lists them in a table of their own.
* The documents are in Simplified Chinese whatever the estate's locale: they go to a mainland court.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.models import ArrearsCase, ArrearsNote, Claim
from feesvc.arrears.schemas import CauseHistoryOut
from feesvc.arrears.service import cause_history
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ, business_today, utcnow
from feesvc.documents import render
from feesvc.errors import Conflict, InvalidInput
from feesvc.evidence import manifest as mf
from feesvc.evidence.limitation import Interruption, LimitationStatus, PeriodLimitation, limitation_status
from feesvc.formatting import area_text, money, period_label, rate_text
from feesvc.latefees.unit import UnitFeeTerms, unit_fee_terms
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entries_as_of
from feesvc.letters.content import LETTER_STYLESHEETS, LetterContext, letter_title, template_context
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind, template_for
from feesvc.letters.models import DeliveryRecord, Letter
from feesvc.letters.runs import context_of
from feesvc.memory import cyclic_gc_paused
from feesvc.payments.models import Payment, Receipt, receipt_number
from feesvc.plans.schemas import PlanOut
from feesvc.plans.service import unit_plans
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import get_unit
from feesvc.rules.late_fees import (
    TERMS_FROM_THE_START,
    LateFee,
    LateFeeCap,
    LateFeePolicy,
    TermsVersion,
    court_likely_fee,
    explain,
    late_fee_for,
)
from feesvc.service_records.models import ACTIVITY_LABELS, ActivityKind, Complaint, ComplaintStep, ServiceActivity
from feesvc.service_records.service import business_date, open_on, steps_of
from feesvc.standards.models import FeeStandard
from feesvc.statements.service import charge_calculation

if TYPE_CHECKING:
    from weasyprint import Document

__all__ = [
    "PACK_LOCALE",
    "EvidenceError",
    "PackData",
    "assemble_pack",
    "build_evidence_pack",
    "collect",
    "pack_filename",
]

PACK_LOCALE: Final = "zh_CN"


def _generator() -> str:
    try:
        return f"feesvc {version('feesvc')} evidence pack"
    except PackageNotFoundError:
        return "feesvc evidence pack"


GENERATOR: Final = _generator()

F_LIST = "01_evidence_list.pdf"
F_PARTIES = "02_parties_and_basis.pdf"
F_ARREARS = "03_arrears.pdf"
F_DEMANDS = "04_demands.pdf"
F_LETTERS = "demands/letters.pdf"
F_SERVICE = "05_service_record.pdf"
F_LIMITATION = "06_limitation.pdf"
F_PLANS = "07_plans_and_case.pdf"
F_FILING = "filing.json"


class EvidenceError(Conflict):
    """The pack cannot be built from what is recorded (e.g. a proof file does not match its hash)."""

    title = "The evidence pack cannot be built"


def pack_filename(unit_id: int, as_of: date) -> str:
    return f"evidence-unit-{unit_id}-{as_of.isoformat()}.zip"


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

_CN_NUM: Final = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (evidence numbers 证据一 …)."""
    if n < 10:
        return _CN_NUM[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_NUM[tens]) + "十" + (_CN_NUM[ones] if ones else "")


KIND_WORDS: Final = {
    LetterKind.payment_notice: "缴费须知",
    LetterKind.pre_due_notice: "缴费提醒",
    LetterKind.friendly_reminder: "温馨提示（催缴）",
    LetterKind.formal_reminder: "催缴通知",
    LetterKind.final_demand: "催告函",
    LetterKind.hardship_offer: "分期缴费方案",
    LetterKind.explanation: "情况说明函",
    LetterKind.rectification_reply: "整改回复函",
    LetterKind.plan_agreement: "分期缴费协议",
}
LETTER_CHANNELS: Final = {"paper": "纸质信函", "sms": "短信", "wechat": "微信", "email": "电子邮件"}
DELIVERY_CHANNELS: Final = {
    "ems": "EMS 特快专递",
    "registered_mail": "挂号信",
    "hand": "当面送达（签收）",
    "sms": "短信",
    "wechat": "微信",
    "email": "电子邮件",
}
INTERRUPTIONS: Final = {
    InterruptionKind.demand_delivered: "催告送达",
    InterruptionKind.acknowledgement: "债务承认（签署分期协议）",
    InterruptionKind.part_payment: "部分履行（部分缴费）",
    InterruptionKind.legal_action: "起诉／仲裁／申请支付令",
}
STATUSES: Final = {
    LimitationStatus.ok: "正常",
    LimitationStatus.expiring: "即将届满",
    LimitationStatus.expired: "已届满",
}
IGNORED: Final = {
    "before_due": "早于缴费期限，时效尚未起算",
    "after_as_of": "晚于基准日",
    "after_expiry": "时效届满后发生，不能使时效中断",
}
PLAN_STATES: Final = {
    "proposed": "已提出（未签署）",
    "active": "履行中",
    "completed": "已履行完毕",
    "broken": "未按期履行，已终止",
    "cancelled": "已取消",
}
TREATMENTS: Final = {
    "freeze": "分期期间违约金暂停计算",
    "waive_on_completion": "按期履行完毕后免除违约金",
    "waive_now": "签署时免除已产生的违约金",
}
INSTALLMENT_STATUS: Final = {"paid": "已付", "due": "未到期", "late": "逾期未付"}
CAUSES: Final = {
    "hardship": "经济困难型",
    "service_dissatisfaction": "服务不满型",
    "misunderstanding": "认知偏差型",
    "unknown": "原因未明",
}
CASE_STATUSES: Final = {"open": "处理中", "paused": "暂停催缴", "resolved": "已结案", "legal_review": "法务审查"}
CONTACTS: Final = {"call": "电话", "visit": "上门", "sms": "短信", "wechat": "微信", "desk": "前台", "letter": "信函"}
CLAIMS: Final = {"hardship": "称经济困难", "dispute": "对收费或服务有异议", "vacancy": "称房屋空置"}
COMPLAINT_CATEGORIES: Final = {
    "cleaning": "保洁",
    "security": "安保",
    "elevator": "电梯",
    "repair": "维修",
    "leak": "漏水",
    "parking": "停车",
    "noise": "噪音",
    "greenery": "绿化",
    "other": "其他",
}
COMPLAINT_CHANNELS: Final = {"phone": "电话", "desk": "前台", "app": "App", "wechat": "微信", "visit": "上门"}
STEPS: Final = {
    "plan_given": "提供整改方案",
    "fixed": "整改完成",
    "inspected": "业主验收",
    "follow_up": "回访",
    "closed": "关闭",
}
DECISIONS: Final = {
    "contract": "合同约定",
    "owners_vote": "业主大会决定",
    "government_price": "政府指导价",
    "filing": "价格备案",
}
BASES: Final = {"per_m2_month": "按建筑面积（元/平方米·月）", "fixed_month": "按户（元/月）"}
USES: Final = {"residential": "住宅", "commercial": "商业", "parking": "车位"}
ACTIVITY_ORDER: Final = tuple(ActivityKind)


def _day(d: date | None) -> str:
    return d.isoformat() if d else "—"


def _moment(moment: datetime | None) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _yuan(fen: int) -> str:
    """Plain yuan text for JSON: 12345 → "123.45"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def _periods_text(periods: Sequence[str]) -> str:
    """ "2022年12月至2023年03月、2023年06月": consecutive months joined into ranges."""
    months = sorted(set(periods))
    if not months:
        return "—"
    runs: list[list[str]] = [[months[0]]]
    for month in months[1:]:
        year, number = (int(x) for x in runs[-1][-1].split("-"))
        following = f"{year + number // 12}-{number % 12 + 1:02d}"
        if month == following:
            runs[-1].append(month)
        else:
            runs.append([month])
    parts = []
    for run in runs:
        first = period_label(run[0], PACK_LOCALE)
        parts.append(first if len(run) == 1 else f"{first}至{period_label(run[-1], PACK_LOCALE)}")
    return "、".join(parts)


# ---------------------------------------------------------------------------------------------
# What the database holds (read once)
# ---------------------------------------------------------------------------------------------


@dataclass
class CaseRecord:
    case: ArrearsCase
    history: CauseHistoryOut
    notes: list[ArrearsNote]


@dataclass
class PackData:
    as_of: date
    estate: Estate
    unit: Unit
    building: Building
    ownerships: list[tuple[Ownership, Owner]]
    owners: dict[int, Owner]
    entries: list[LedgerEntry]
    standards: dict[int, FeeStandard]
    fee_terms: UnitFeeTerms  # the late-fee terms over time, court rates and plan freezes (latefees.unit)
    letters: list[Letter]
    deliveries: dict[int, list[DeliveryRecord]]
    events: list[LimitationEvent]
    plans: list[PlanOut]
    cases: list[CaseRecord]
    complaints: list[tuple[Complaint, list[ComplaintStep]]]
    activity: dict[str, dict[str, int]]  # period → activity kind → count
    receipts: dict[int, str]  # payment id → receipt number
    claimed_periods: list[str]


class Timings:
    """Seconds per stage of a build, wall clock and this process's CPU time, for the benchmark."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


def _claimed_charges(entries: Sequence[LedgerEntry], as_of: date) -> list[LedgerEntry]:
    """Charges overdue on ``as_of`` with principal or a posted late fee still open."""
    settled: dict[int, int] = defaultdict(int)
    late_open: dict[int, int] = defaultdict(int)
    for entry in entries:
        if entry.settles_entry_id is not None:
            settled[entry.settles_entry_id] += entry.amount_fen
    for entry in entries:
        if entry.kind == EntryKind.late_fee and entry.basis_entry_id is not None and entry.id is not None:
            late_open[entry.basis_entry_id] += entry.amount_fen + settled[entry.id]
    claimed = []
    for entry in entries:
        if entry.kind != EntryKind.charge or entry.id is None or entry.due_date is None or entry.due_date >= as_of:
            continue
        if entry.amount_fen + settled[entry.id] > 0 or late_open[entry.id] > 0:
            claimed.append(entry)
    return claimed


def _period_of(entry: LedgerEntry) -> str:
    return entry.period or (entry.due_date or entry.effective_date).strftime("%Y-%m")


async def collect(session: AsyncSession, unit_id: int, as_of: date) -> PackData:
    """Everything the pack shows, read in one pass; refuses a unit with nothing overdue."""
    unit, building = await get_unit(session, unit_id)
    assert unit.id is not None
    estate = await session.get(Estate, unit.estate_id)
    assert estate is not None and estate.id is not None
    entries = await entries_as_of(session, unit.id, as_of)
    claimed = _claimed_charges(entries, as_of)
    if not claimed:
        raise Conflict(
            f"unit {unit_id} has no arrears on {as_of}: nothing overdue is open, so there is no claim to prove",
            field="unit_id",
        )
    periods = sorted({_period_of(e) for e in claimed})

    ownerships = [
        (row[0], row[1])
        for row in (
            await session.execute(
                select(Ownership, Owner)
                .join(Owner, col(Owner.id) == Ownership.owner_id)
                .where(Ownership.unit_id == unit.id)
                .order_by(col(Ownership.starts_on))
            )
        ).all()
    ]
    owners = {owner.id: owner for _, owner in ownerships if owner.id is not None}
    missing_owners = {e.owner_id for e in claimed if e.owner_id is not None and e.owner_id not in owners}
    if missing_owners:
        for owner in (await session.execute(select(Owner).where(col(Owner.id).in_(missing_owners)))).scalars():
            assert owner.id is not None
            owners[owner.id] = owner

    standards = {
        s.id: s
        for s in (await session.execute(select(FeeStandard).where(FeeStandard.estate_id == estate.id))).scalars()
        if s.id is not None
    }
    letters = list(
        (
            await session.execute(
                select(Letter)
                .where(Letter.unit_id == unit.id, col(Letter.issued_on) <= as_of)
                .order_by(col(Letter.issued_on), col(Letter.id))
            )
        ).scalars()
    )
    deliveries: dict[int, list[DeliveryRecord]] = defaultdict(list)
    if letters:
        rows = await session.execute(
            select(DeliveryRecord)
            .where(
                col(DeliveryRecord.letter_id).in_([x.id for x in letters]), col(DeliveryRecord.delivered_on) <= as_of
            )
            .order_by(col(DeliveryRecord.delivered_on), col(DeliveryRecord.id))
        )
        for record in rows.scalars():
            deliveries[record.letter_id].append(record)
    events = list(
        (
            await session.execute(
                select(LimitationEvent)
                .where(LimitationEvent.unit_id == unit.id, col(LimitationEvent.occurred_on) <= as_of)
                .order_by(col(LimitationEvent.occurred_on), col(LimitationEvent.id))
            )
        ).scalars()
    )
    # A plan signed on paper is entered later, dated as signed: it counts from that date (its
    # acknowledgement and freeze do), whenever the record was made.
    plans = [
        p
        for p in await unit_plans(session, unit.id, as_of)
        if business_date(p.created_at) <= as_of or (p.agreed_on is not None and p.agreed_on <= as_of)
    ]
    plans.sort(key=lambda p: p.id)

    cases = []
    for case in (
        await session.execute(select(ArrearsCase).where(ArrearsCase.unit_id == unit.id).order_by(col(ArrearsCase.id)))
    ).scalars():
        notes = list(
            (
                await session.execute(
                    select(ArrearsNote)
                    .where(ArrearsNote.case_id == case.id, col(ArrearsNote.noted_on) <= as_of)
                    .order_by(col(ArrearsNote.noted_on), col(ArrearsNote.id))
                )
            ).scalars()
        )
        cases.append(CaseRecord(case, await cause_history(session, case), notes))

    complaints = [
        c
        for c in (
            await session.execute(
                select(Complaint).where(Complaint.unit_id == unit.id).order_by(col(Complaint.opened_at))
            )
        ).scalars()
        if business_date(c.opened_at) <= as_of
    ]
    steps = await steps_of(session, [c.id for c in complaints if c.id is not None])
    complaint_rows = [(c, [s for s in steps.get(c.id or 0, []) if business_date(s.at) <= as_of]) for c in complaints]

    activity: dict[str, dict[str, int]] = defaultdict(dict)
    activity_rows = await session.execute(
        select(col(ServiceActivity.period), col(ServiceActivity.kind), func.sum(ServiceActivity.count))
        .where(
            ServiceActivity.estate_id == estate.id,
            col(ServiceActivity.period) >= periods[0],
            col(ServiceActivity.period) <= periods[-1],
            or_(col(ServiceActivity.building_id).is_(None), col(ServiceActivity.building_id) == building.id),
        )
        .group_by(col(ServiceActivity.period), col(ServiceActivity.kind))
    )
    for period, kind, count in activity_rows.all():
        activity[period][str(kind)] = int(count)

    payment_ids = {e.payment_id for e in entries if e.payment_id is not None}
    receipts: dict[int, str] = {}
    if payment_ids:
        for payment_id, year, seq in (
            await session.execute(
                select(col(Payment.id), col(Receipt.year), col(Receipt.seq))
                .join(Receipt, col(Receipt.payment_id) == Payment.id)
                .where(col(Payment.id).in_(payment_ids))
            )
        ).all():
            if payment_id is not None:
                receipts[payment_id] = receipt_number(year, seq)

    return PackData(
        as_of=as_of,
        estate=estate,
        unit=unit,
        building=building,
        ownerships=ownerships,
        owners=owners,
        entries=entries,
        standards=standards,
        fee_terms=await unit_fee_terms(session, estate.id, unit.id, as_of),
        letters=letters,
        deliveries=dict(deliveries),
        events=events,
        plans=plans,
        cases=cases,
        complaints=complaint_rows,
        activity=dict(activity),
        receipts=receipts,
        claimed_periods=periods,
    )


# ---------------------------------------------------------------------------------------------
# The claim: per charge and per period (pure, from PackData)
# ---------------------------------------------------------------------------------------------


@dataclass
class ChargeClaim:
    entry: LedgerEntry
    period: str
    item_name: str
    due_date: date
    owner_id: int | None
    calculation: str
    amount_fen: int
    paid_fen: int
    open_fen: int
    daily_rate: Decimal
    contract: LateFee
    court: LateFee | None
    late_posted_fen: int
    late_settled_fen: int  # paid or waived on the posted late fees (positive)
    payments: list[tuple[date, int, str]]  # (day, fen, receipt) of payments towards this charge

    @property
    def late_claim_fen(self) -> int:
        return max(self.contract.total_fen - self.late_settled_fen, 0)

    @property
    def court_claim_fen(self) -> int | None:
        return None if self.court is None else max(self.court.total_fen - self.late_settled_fen, 0)


@dataclass
class PeriodClaim:
    period: str
    due: date
    charges: list[ChargeClaim]
    limitation: PeriodLimitation
    interruptions: list[Interruption]

    @property
    def principal_fen(self) -> int:
        return sum(c.open_fen for c in self.charges)

    @property
    def late_fen(self) -> int:
        return sum(c.late_claim_fen for c in self.charges)

    @property
    def court_fen(self) -> int | None:
        figures = [c.court_claim_fen for c in self.charges]
        return None if any(f is None for f in figures) else sum(f or 0 for f in figures)

    @property
    def expired(self) -> bool:
        return self.limitation.status == LimitationStatus.expired


@dataclass
class Totals:
    principal_fen: int = 0
    late_fen: int = 0
    court_fen: int | None = 0
    amount_fen: int = 0
    paid_fen: int = 0

    def add(self, period: PeriodClaim) -> None:
        self.principal_fen += period.principal_fen
        self.late_fen += period.late_fen
        court = period.court_fen
        self.court_fen = None if self.court_fen is None or court is None else self.court_fen + court
        self.amount_fen += sum(c.amount_fen for c in period.charges)
        self.paid_fen += sum(c.paid_fen for c in period.charges)

    @property
    def total_contract_fen(self) -> int:
        return self.principal_fen + self.late_fen

    @property
    def total_court_fen(self) -> int | None:
        return None if self.court_fen is None else self.principal_fen + self.court_fen


@dataclass
class ClaimSummary:
    periods: list[PeriodClaim]
    all: Totals
    in_time: Totals
    expired: Totals
    defendants: list[int]  # owner ids, in order of their first claimed period


def analyse(data: PackData) -> ClaimSummary:
    as_of = data.as_of
    settling: dict[int, list[LedgerEntry]] = defaultdict(list)
    reversed_ids = {e.reverses_entry_id for e in data.entries if e.reverses_entry_id is not None}
    for entry in data.entries:
        if entry.settles_entry_id is not None:
            settling[entry.settles_entry_id].append(entry)
    late_fees: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in data.entries:
        if entry.kind == EntryKind.late_fee and entry.basis_entry_id is not None:
            late_fees[entry.basis_entry_id].append(entry)

    charges_by_period: dict[str, list[ChargeClaim]] = defaultdict(list)
    part_payments: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for charge in _claimed_charges(data.entries, as_of):
        assert charge.id is not None and charge.due_date is not None
        period = _period_of(charge)
        standard = data.standards.get(charge.fee_standard_id or 0)
        facts = data.fee_terms.charge(
            charge.id,
            charge.amount_fen,
            charge.due_date,
            charge.fee_standard_id,
            ((s.effective_date, s.amount_fen) for s in settling[charge.id]),
        )
        table = facts.terms
        contract = late_fee_for(facts.principal_fen, facts.due_date, facts.changes, as_of, table, facts.frozen)
        court_rates = data.fee_terms.court_rates
        court = (
            court_likely_fee(
                contract, facts.principal_fen, facts.due_date, facts.changes, as_of, table, court_rates, facts.frozen
            )
            if court_rates
            else None
        )
        on_due = table.in_force(charge.due_date)
        rate = on_due.policy.daily_rate if on_due is not None else Decimal(0)
        fees = late_fees[charge.id]
        late_settlements = [s for fee in fees if fee.id is not None for s in settling[fee.id]]
        towards = [
            s
            for s in [*settling[charge.id], *late_settlements]
            if s.kind == EntryKind.payment and s.id not in reversed_ids
        ]
        payments = sorted(
            (s.effective_date, -s.amount_fen, data.receipts.get(s.payment_id or 0, f"#{s.payment_id}")) for s in towards
        )
        for day, _, receipt in payments:
            part_payments[period][day].add(receipt)
        settled = sum(s.amount_fen for s in settling[charge.id])
        charges_by_period[period].append(
            ChargeClaim(
                entry=charge,
                period=period,
                item_name=(
                    standard.item_name if standard else (charge.detail or {}).get("item_name", charge.item or "")
                ),
                due_date=charge.due_date,
                owner_id=charge.owner_id or _owner_on(data, charge.due_date),
                calculation=charge_calculation(charge, PACK_LOCALE) or money(charge.amount_fen, PACK_LOCALE),
                amount_fen=charge.amount_fen,
                paid_fen=-settled,
                open_fen=max(charge.amount_fen + settled, 0),
                daily_rate=rate,
                contract=contract,
                court=court,
                late_posted_fen=sum(f.amount_fen for f in fees),
                late_settled_fen=-sum(s.amount_fen for s in late_settlements),
                payments=payments,
            )
        )

    events: dict[str, list[Interruption]] = defaultdict(list)
    for event in data.events:
        events[event.period].append(Interruption(InterruptionKind(event.kind), event.occurred_on, event.source))
    periods = []
    for period in sorted(charges_by_period):
        charges = sorted(charges_by_period[period], key=lambda c: (c.due_date, c.entry.id or 0))
        due = min(c.due_date for c in charges)
        found = list(events.get(period, []))
        seen = {(i.kind, i.on) for i in found}
        for day, receipts in sorted(part_payments[period].items()):
            if (InterruptionKind.part_payment, day) not in seen:
                found.append(Interruption(InterruptionKind.part_payment, day, "收据 " + "、".join(sorted(receipts))))
        found.sort(key=lambda i: (i.on, i.kind))
        periods.append(PeriodClaim(period, due, charges, limitation_status(due, found, as_of), found))

    every, in_time, expired = Totals(), Totals(), Totals()
    defendants: list[int] = []
    for p in periods:
        every.add(p)
        (expired if p.expired else in_time).add(p)
        for c in p.charges:
            if c.owner_id is not None and c.owner_id not in defendants:
                defendants.append(c.owner_id)
    return ClaimSummary(periods, every, in_time, expired, defendants)


def _policy_on(data: PackData, fee_standard_id: int | None, day: date) -> LateFeePolicy:
    """The late-fee terms in force on a day (a fee standard's own rate included)."""
    table = data.fee_terms.terms.for_standard(fee_standard_id)
    version = table.in_force(day) or (table.versions[-1] if table.versions else None)
    if version is None:
        return LateFeePolicy(daily_rate=Decimal(0), grace_days=0, cap=LateFeeCap.none)
    return version.policy


def _cap_text(policy: LateFeePolicy) -> str:
    text = {"none": "无上限", "principal": "不超过欠费本金", "fixed": "固定上限"}.get(policy.cap, str(policy.cap))
    if policy.cap == LateFeeCap.fixed and policy.cap_fen is not None:
        text += f"（{money(policy.cap_fen, PACK_LOCALE)}）"
    return text


def _terms_text(version: TermsVersion) -> str:
    """One version of the terms as the pack quotes it."""
    policy = version.policy
    since = "自始" if version.effective_from <= TERMS_FROM_THE_START else f"自{version.effective_from.isoformat()}起"
    parts = [since, f"日利率{rate_text(policy.daily_rate, PACK_LOCALE).split(' (')[0]}"]
    if version.rate_ref is not None:
        parts[-1] += "（收费标准自有利率）"
    parts += [f"宽限{policy.grace_days}天", _cap_text(policy)]
    if policy.starts_on is not None:
        parts.append(f"自{policy.starts_on.isoformat()}起计")
    return "，".join(parts)


def _applied_terms_text(pack: Pack) -> str:
    """The versions the claimed late fees actually used, each once, in date order."""
    used: dict[tuple[date, int | None, int | None], TermsVersion] = {}
    for p in pack.claim.periods:
        for c in p.charges:
            for segment in c.contract.segments:
                if segment.terms is not None:
                    v = segment.terms
                    used.setdefault((v.effective_from, v.ref, v.rate_ref), v)
    if not used:
        return "所列期间未产生合同违约金"
    return "；".join(_terms_text(used[key]) for key in sorted(used, key=lambda k: (k[0], k[1] or 0, k[2] or 0)))


def _owner_on(data: PackData, day: date) -> int | None:
    for ownership, owner in data.ownerships:
        if ownership.starts_on <= day and (ownership.ends_on is None or ownership.ends_on >= day):
            return owner.id
    return None


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    sections: dict[str, tuple[int, int]]  # section key → (first page, last page)


def _sections(document: Document) -> dict[str, tuple[int, int]]:
    """Pages of the sections marked ``id="ev-<key>"``; each evidence section starts a new page."""
    firsts: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor.startswith("ev-"):
                firsts.setdefault(anchor[3:], number)
    ordered = sorted(firsts.items(), key=lambda kv: kv[1])
    spans = {}
    for index, (key, first) in enumerate(ordered):
        following = ordered[index + 1][1] if index + 1 < len(ordered) else len(document.pages) + 1
        spans[key] = (first, max(first, following - 1))
    return spans


def _render(template: str, context: Mapping[str, Any]) -> Rendered:
    # The shared renderer's document step, so the pages (and where each section starts) are known.
    document = render._document(template, context)
    return Rendered(render._write(document), len(document.pages), _sections(document))


def _render_letters(contexts: Sequence[LetterContext]) -> tuple[bytes, list[tuple[int, int]]]:
    """The letters as issued in one PDF (each laid out on its own, written together so fonts are
    embedded once: a pack has a handful), and each letter's page range in it."""
    documents = [render._document(template_for(c.kind), template_context(c), LETTER_STYLESHEETS) for c in contexts]
    ranges, first = [], 1
    for document in documents:
        ranges.append((first, first + len(document.pages) - 1))
        first += len(document.pages)
    pages = [page for document in documents for page in document.pages]
    return render._write(documents[0].copy(pages)), ranges


# ---------------------------------------------------------------------------------------------
# The documents' contexts
# ---------------------------------------------------------------------------------------------


@dataclass
class Pack:
    """Everything the documents and filing.json say, derived once."""

    data: PackData
    claim: ClaimSummary
    generated_at: datetime
    generated_by: str
    letters: list[tuple[Letter, LetterContext]] = field(default_factory=list)
    proofs: dict[int, str] = field(default_factory=dict)  # delivery record id → path in the pack

    @property
    def unit_label(self) -> str:
        return f"{self.data.building.name} {self.data.unit.number}"

    def owner(self, owner_id: int | None) -> Owner | None:
        return self.data.owners.get(owner_id) if owner_id is not None else None

    @property
    def defendant_names(self) -> str:
        names = [o.name for o in (self.owner(i) for i in self.claim.defendants) if o is not None]
        return "、".join(names) or "—"

    def base(self, file: str, title: str) -> dict[str, Any]:
        estate = self.data.estate
        return {
            "locale": PACK_LOCALE,
            "doc_title": title,
            "file": file,
            "pack": {
                "company": estate.company_name,
                "estate": estate.name,
                "unit_label": self.unit_label,
                "as_of": self.data.as_of,
                "generated_at": _moment(self.generated_at),
                "caption": f"{estate.company_name} 诉 {self.defendant_names} 物业服务合同纠纷",
            },
        }


def parties_context(pack: Pack) -> dict[str, Any]:
    data = pack.data
    estate, unit = data.estate, data.unit
    now = _policy_on(data, None, data.as_of)  # the estate's late-fee terms in force on the pack's date
    defendants = []
    for owner_id in pack.claim.defendants:
        owner = pack.owner(owner_id)
        if owner is None:
            continue
        periods = [p.period for p in pack.claim.periods if any(c.owner_id == owner_id for c in p.charges)]
        defendants.append(
            {
                "name": owner.name,
                "id_number": owner.id_number or "（未登记）",
                "phone": owner.phone or "（未登记）",
                "address": owner.postal_address or "（未登记）",
                "email": owner.email or "—",
                "periods": _periods_text(periods),
            }
        )
    ownerships = [
        {
            "owner": owner.name,
            "starts_on": _day(ownership.starts_on),
            "ends_on": _day(ownership.ends_on) if ownership.ends_on else "至今",
            "defendant": owner.id in pack.claim.defendants,
        }
        for ownership, owner in data.ownerships
    ]
    first = pack.claim.periods[0].period
    last = pack.claim.periods[-1].period
    used = {c.entry.fee_standard_id for p in pack.claim.periods for c in p.charges if c.entry.fee_standard_id}
    start, end = date(int(first[:4]), int(first[5:]), 1), date(int(last[:4]), int(last[5:]), 28)
    standards = sorted(
        (
            s
            for s in data.standards.values()
            if s.id in used
            or (s.unit_use == unit.use and s.effective_from <= end and (s.ends_on is None or s.ends_on >= start))
        ),
        key=lambda s: (s.item, s.effective_from),
    )
    return {
        **pack.base(F_PARTIES, "当事人及收费依据"),
        "company": {
            "name": estate.company_name,
            "estate": estate.name,
            "address": estate.address or "—",
            "phone": estate.service_phone or "—",
        },
        "defendants": defendants,
        "unit": {
            "label": f"{estate.name} {pack.unit_label}",
            "building": data.building.name,
            "number": unit.number,
            "area": area_text(unit.floor_area_m2, PACK_LOCALE),
            "use": USES.get(unit.use, str(unit.use)),
        },
        "ownerships": ownerships,
        "contracts": sorted({s.decision_ref for s in standards if s.decision_kind == "contract"}),
        "standards": [
            {
                "item": s.item_name,
                "basis": BASES.get(s.basis, str(s.basis)),
                "rate": f"{s.rate}",
                "effective": f"{_day(s.effective_from)} 至 {_day(s.ends_on) if s.ends_on else '今'}",
                "posted_on": _day(s.posted_on),
                "decision": DECISIONS.get(s.decision_kind, str(s.decision_kind)),
                "decision_ref": s.decision_ref,
                "late_rate": rate_text(_policy_on(data, s.id, data.as_of).daily_rate, PACK_LOCALE),
                "used": s.id in used,
            }
            for s in standards
        ],
        "service_period": f"{period_label(first, PACK_LOCALE)}至{period_label(last, PACK_LOCALE)}",
        "late_policy": {
            "rate": rate_text(now.daily_rate, PACK_LOCALE),
            "grace_days": now.grace_days,
            "cap": _cap_text(now),
            "versions": [_terms_text(v) for v in data.fee_terms.terms.estate],
        },
    }


def arrears_context(pack: Pack) -> dict[str, Any]:
    claim = pack.claim
    rows = []
    late_rows = []
    for p in claim.periods:
        for c in p.charges:
            rows.append(
                {
                    "period": period_label(p.period, PACK_LOCALE),
                    "item": c.item_name,
                    "due": _day(c.due_date),
                    "calculation": c.calculation,
                    "amount_fen": c.amount_fen,
                    "paid_fen": c.paid_fen,
                    "open_fen": c.open_fen,
                    "payments": "；".join(
                        f"{d.isoformat()} {money(f, PACK_LOCALE)}（收据 {r}）" for d, f, r in c.payments
                    ),
                    "expired": p.expired,
                }
            )
            late_rows.append(
                {
                    "period": period_label(p.period, PACK_LOCALE),
                    "item": c.item_name,
                    "rate": rate_text(c.daily_rate, PACK_LOCALE).split(" (")[0],
                    "contract_fen": c.contract.total_fen,
                    "posted_fen": c.late_posted_fen,
                    "settled_fen": c.late_settled_fen,
                    "claim_fen": c.late_claim_fen,
                    "court_fen": c.court_claim_fen,
                    "lines": contract_lines(c.contract),
                    "capped": c.contract.capped,
                    "expired": p.expired,
                }
            )
    rates = [{"from": _day(day), "rate": _percent(rate)} for day, rate in pack.data.fee_terms.court_rates]
    return {
        **pack.base(F_ARREARS, "欠费明细及违约金计算"),
        "rows": rows,
        "late_rows": late_rows,
        "totals": _totals(claim.all),
        "in_time": _totals(claim.in_time),
        "expired_totals": _totals(claim.expired),
        "has_expired": any(p.expired for p in claim.periods),
        "several_items": len({c.item_name for p in claim.periods for c in p.charges}) > 1,
        "court_rates": rates,
        "grace_days": _policy_on(pack.data, None, pack.data.as_of).grace_days,
        "cap": _policy_on(pack.data, None, pack.data.as_of).cap,
    }


def _totals(t: Totals) -> dict[str, Any]:
    return {
        "amount_fen": t.amount_fen,
        "paid_fen": t.paid_fen,
        "principal_fen": t.principal_fen,
        "late_fen": t.late_fen,
        "court_fen": t.court_fen,
        "total_fen": t.total_contract_fen,
        "total_court_fen": t.total_court_fen,
    }


def contract_lines(fee: LateFee) -> list[str]:
    """``explain`` of the contract figure, without its total line when one segment already says it."""
    lines = explain(fee, PACK_LOCALE)
    if not fee.segments:
        return lines
    if len(fee.segments) == 1 and not fee.capped:
        return lines[:1]
    return [line for line in lines if not line.startswith("（")]


def _percent(rate: Decimal) -> str:
    text = f"{rate * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _source_text(source: str, register: Mapping[str, int]) -> str:
    """Where an interruption is recorded, as a reference into the pack: "04 序号2", "07 分期协议 #1"."""
    if source.startswith("letter "):
        number = register.get(source[len("letter ") :])
        return f"04 序号{number}" if number else "文书 " + source[len("letter ") :]
    if source.startswith("installment plan "):
        return "07 分期协议 " + source[len("installment plan ") :]
    return source


def _end_reason(plan: PlanOut) -> str:
    if plan.state == "broken":
        late = next((i for i in plan.schedule if i.status == "late"), None)
        if late is not None:
            return (
                f"第{late.number}期（{money(late.amount_fen, PACK_LOCALE)}，应付日 {_day(late.due_date)}）"
                f"逾期未付超过宽限期，协议于 {_day(plan.ended_on)} 终止"
            )
    if plan.state == "completed":
        return "涵盖的欠费已全部付清"
    return plan.end_reason or "—"


def demand_rows(pack: Pack, ranges: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for number, ((letter, ctx), pages) in enumerate(zip(pack.letters, ranges, strict=True), start=1):
        deliveries = []
        for record in pack.data.deliveries.get(letter.id or 0, []):
            deliveries.append(
                {
                    "channel": DELIVERY_CHANNELS.get(record.channel, str(record.channel)),
                    "delivered_on": _day(record.delivered_on),
                    "tracking_no": record.tracking_no,
                    "signer": record.signer,
                    "proof": pack.proofs.get(record.id or 0, ""),
                    "sha256": record.proof_sha256,
                }
            )
        rows.append(
            {
                "number": number,
                "letter_no": letter.letter_no,
                "title": letter_title(ctx),
                "kind": KIND_WORDS.get(LetterKind(letter.kind), letter.kind),
                "demand": LetterKind(letter.kind) in PAYMENT_REQUEST_KINDS,
                "issued_on": _day(letter.issued_on),
                "channel": LETTER_CHANNELS.get(letter.channel, letter.channel),
                "deadline": _day(letter.deadline) if letter.deadline else "—",
                "periods": _periods_text(letter.periods),
                "total_fen": letter.total_fen,
                "pages": f"第{pages[0]}页" if pages[0] == pages[1] else f"第{pages[0]}–{pages[1]}页",
                "deliveries": deliveries,
            }
        )
    return rows


def demands_context(pack: Pack, ranges: Sequence[tuple[int, int]]) -> dict[str, Any]:
    rows = demand_rows(pack, ranges)
    return {
        **pack.base(F_DEMANDS, "催缴记录及送达凭证"),
        "rows": rows,
        "letters_file": F_LETTERS,
        "delivered_demands": sum(1 for r in rows if r["demand"] and r["deliveries"]),
    }


def service_context(pack: Pack) -> dict[str, Any]:
    data = pack.data
    labels = ACTIVITY_LABELS["zh"]
    first, last = data.claimed_periods[0], data.claimed_periods[-1]
    recorded = sorted(p for p in data.activity if first <= p <= last)
    months = [
        {
            "period": period_label(period, PACK_LOCALE),
            "counts": [data.activity[period].get(kind.value) for kind in ACTIVITY_ORDER],
            "claimed": period in data.claimed_periods,
        }
        for period in recorded
    ]
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    totals = [sum(data.activity.get(p, {}).get(k.value, 0) for p in data.activity) for k in ACTIVITY_ORDER]
    complaints = []
    for complaint, steps in data.complaints:
        inspected = [s for s in steps if s.kind == "inspected"]
        verdict = "—"
        if inspected:
            verdict = "满意" if inspected[-1].satisfied else "不满意"
        complaints.append(
            {
                "opened": _moment(complaint.opened_at),
                "category": COMPLAINT_CATEGORIES.get(complaint.category, str(complaint.category)),
                "channel": COMPLAINT_CHANNELS.get(complaint.channel, str(complaint.channel)),
                "text": complaint.text,
                "responsible": complaint.responsible or "—",
                "plan_due": _moment(complaint.plan_due_at),
                "status": "处理中" if open_on(complaint, data.as_of) else "已办结",
                "verdict": verdict,
                "steps": [
                    {
                        "at": _moment(s.at),
                        "kind": STEPS.get(s.kind, str(s.kind)),
                        "note": s.note,
                        "verdict": "" if s.satisfied is None else ("业主满意" if s.satisfied else "业主不满意"),
                    }
                    for s in steps
                ],
            }
        )
    return {
        **pack.base(F_SERVICE, "物业服务记录及投诉处理"),
        "kinds": [labels[k] for k in ACTIVITY_ORDER],
        "months": months,
        "span": span,
        "range": f"{period_label(first, PACK_LOCALE)}至{period_label(last, PACK_LOCALE)}",
        "totals": totals,
        "complaints": complaints,
    }


def limitation_rows(pack: Pack) -> list[dict[str, Any]]:
    register = {letter.letter_no: number for number, (letter, _) in enumerate(pack.letters, start=1)}
    rows = []
    for p in pack.claim.periods:
        lim = p.limitation
        rows.append(
            {
                "period": period_label(p.period, PACK_LOCALE),
                "period_key": p.period,
                "due": _day(p.due),
                "interruptions": [
                    {"on": _day(i.on), "kind": INTERRUPTIONS[i.kind], "source": _source_text(i.source, register)}
                    for i in lim.counted
                ],
                "ignored": [
                    {
                        "on": _day(x.interruption.on),
                        "kind": INTERRUPTIONS[x.interruption.kind],
                        "why": IGNORED.get(x.reason, x.reason),
                    }
                    for x in lim.ignored
                ],
                "clock_start": _day(lim.clock_start),
                "events_text": "\n".join(
                    f"{_day(i.on)} {INTERRUPTIONS[i.kind]}"
                    + (f"（{_source_text(i.source, register)}）" if i.source else "")
                    for i in lim.counted
                ),
                "ignored_text": "\n".join(
                    f"{_day(x.interruption.on)} {INTERRUPTIONS[x.interruption.kind]}：{IGNORED.get(x.reason, x.reason)}"
                    for x in lim.ignored
                ),
                "expires_on": _day(lim.expires_on),
                "days_left": lim.days_left,
                "status": lim.status.value,
                "status_text": STATUSES[lim.status],
                "waived_on": _day(lim.defence_waived_on) if lim.defence_waived_on else None,
                "expired_on": _day(lim.expired_on) if lim.expired_on else None,
                "principal_fen": p.principal_fen,
                "late_fen": p.late_fen,
            }
        )
    return rows


def limitation_context(pack: Pack) -> dict[str, Any]:
    rows = limitation_rows(pack)
    return {
        **pack.base(F_LIMITATION, "诉讼时效核算"),
        "in_time": [r for r in rows if r["status"] != "expired"],
        "expired": [r for r in rows if r["status"] == "expired"],
        "expired_totals": _totals(pack.claim.expired),
        "counts": {s.value: sum(1 for r in rows if r["status"] == s.value) for s in LimitationStatus},
    }


def plans_context(pack: Pack) -> dict[str, Any]:
    plans = []
    as_of = pack.data.as_of
    for plan in pack.data.plans:
        # As the plan stood on the pack date: one that ended later was still running then.
        ended = plan.ended_on is not None and plan.ended_on <= as_of
        if plan.agreed_on is not None and plan.agreed_on > as_of:
            state = "proposed"
        elif plan.ended_on is not None and not ended:
            state = "active"
        else:
            state = str(plan.state)
        plans.append(
            {
                "id": plan.id,
                "state": PLAN_STATES.get(state, state),
                "treatment": TREATMENTS.get(plan.late_fee_treatment, str(plan.late_fee_treatment)),
                "total_fen": plan.total_fen,
                "paid_fen": plan.paid_fen,
                "installments": plan.installments,
                "frequency": "按月" if plan.frequency == "monthly" else "按季",
                "created": _moment(plan.created_at),
                "agreed_on": _day(plan.agreed_on) if plan.agreed_on and plan.agreed_on <= as_of else "未签署",
                "ended_on": _day(plan.ended_on) if ended else "—",
                "end_reason": _end_reason(plan) if ended else "—",
                "periods": _periods_text(plan.periods),
                "note": plan.note,
                "schedule": [
                    {
                        "number": i.number,
                        "due": _day(i.due_date),
                        "amount_fen": i.amount_fen,
                        "paid_fen": i.paid_fen,
                        "status": INSTALLMENT_STATUS.get(i.status, str(i.status)),
                    }
                    for i in plan.schedule
                ],
            }
        )
    cases = []
    for record in pack.data.cases:
        history = record.history
        cases.append(
            {
                "id": record.case.id,
                "status": CASE_STATUSES.get(record.case.status, str(record.case.status)),
                "status_reason": record.case.status_reason or "—",
                "opened": _moment(record.case.opened_at),
                "effective": (
                    f"{CAUSES.get(history.effective.category, history.effective.category)}"
                    f"（{'经理认定' if history.effective.source == 'override' else '自动分类'}）"
                    if history.effective
                    else "—"
                ),
                "classifications": [
                    {
                        "as_of": _day(c.as_of),
                        "category": CAUSES.get(c.category, str(c.category)),
                        "secondary": CAUSES.get(c.secondary, str(c.secondary)) if c.secondary else "—",
                        "confidence": f"{c.confidence:.0%}",
                        "version": c.classifier_version,
                        "by": c.created_by,
                    }
                    for c in sorted(history.history, key=lambda c: c.id)
                    if business_date(c.created_at) <= pack.data.as_of
                ],
                "overrides": [
                    {
                        "at": _moment(o.created_at),
                        "category": CAUSES.get(o.category, str(o.category)),
                        "reason": o.reason,
                        "by": o.created_by,
                    }
                    for o in sorted(history.overrides, key=lambda o: o.id)
                    if business_date(o.created_at) <= pack.data.as_of
                ],
                "notes": [
                    {
                        "on": _day(n.noted_on),
                        "kind": CONTACTS.get(n.kind, str(n.kind)),
                        "claim": CLAIMS.get(n.claim, str(n.claim)) if n.claim else "",
                        "text": n.text,
                        "author": n.author,
                    }
                    for n in record.notes
                ],
            }
        )
    return {**pack.base(F_PLANS, "分期还款及催收处理记录"), "plans": plans, "cases": cases}


@dataclass(frozen=True)
class EvidenceItem:
    key: str
    name: str
    source: str
    purpose: str
    refs: tuple[tuple[str, str | None], ...]  # (file, section key or None for the whole file)


def evidence_items(pack: Pack) -> list[EvidenceItem]:
    has_plans = bool(pack.data.plans)
    proofs = tuple((path, None) for path in pack.proofs.values())
    letters = ((F_LETTERS, None),) if pack.letters else ()
    return [
        EvidenceItem(
            "parties",
            "当事人身份信息及房屋权属情况",
            "原告业主档案及房屋登记记录（feesvc 房屋、业主、产权登记）",
            "证明被告在主张期间为涉案房屋业主，是物业服务费的缴纳义务人",
            ((F_PARTIES, "parties"),),
        ),
        EvidenceItem(
            "basis",
            "物业服务合同、收费标准及公示情况",
            "原告收费标准登记记录（含公示日期及决定依据）",
            "证明原、被告之间存在物业服务合同关系，收费标准有合同或决定依据并已公示（民法典第939条、第943条）",
            ((F_PARTIES, "basis"),),
        ),
        EvidenceItem(
            "arrears",
            "欠费明细及计算",
            f"原告收费台账，截至{pack.data.as_of.isoformat()}的分户账（快照哈希见 manifest.json）",
            "证明被告欠缴各期物业服务费的金额、计算方式（面积×单价×月数）及已缴情况",
            ((F_ARREARS, "arrears"),),
        ),
        EvidenceItem(
            "late_fees",
            "违约金计算",
            "依据合同约定标准及原告收费台账计算",
            "证明按合同约定计算的违约金数额，并列明按法院可能支持标准计算的数额供参考（民法典第585条）",
            ((F_ARREARS, "late_fees"),),
        ),
        EvidenceItem(
            "demands",
            "催缴通知、催告函及送达凭证",
            "原告发出的催缴文书（按发出时内容重新生成）及邮寄、签收等送达凭证原件电子文件",
            "证明原告已书面催告被告在合理期限内缴纳（民法典第944条第2款），催告已送达，诉讼时效中断（民法典第195条）",
            ((F_DEMANDS, None), *letters, *proofs),
        ),
        EvidenceItem(
            "service",
            "物业服务记录及投诉处理记录",
            "原告服务工作记录（保洁、维修、安保巡逻等月度记录）及投诉处理记录",
            "证明原告在主张期间持续提供物业服务，被告投诉均已及时处理并经验收，被告不得以服务瑕疵为由拒缴",
            ((F_SERVICE, None),),
        ),
        EvidenceItem(
            "plans",
            "分期还款协议及履行情况、催收处理记录" if has_plans else "催收处理记录",
            "原告分期还款协议记录及欠费催收案件记录",
            (
                "证明被告曾签署分期还款协议确认欠款（诉讼时效规定第14条）及协议履行情况"
                if has_plans
                else "证明原告就欠费与被告沟通协商的经过"
            ),
            ((F_PLANS, None),),
        ),
        EvidenceItem(
            "limitation",
            "诉讼时效核算表",
            "依据本证据包所列缴费期限、催告送达、债务承认及部分履行记录计算",
            "说明各期欠费诉讼时效的起算、中断及届满日期；已届满期间单独列明",
            ((F_LIMITATION, None),),
        ),
    ]


def list_context(pack: Pack, rendered: Mapping[str, Rendered]) -> dict[str, Any]:
    items = []
    for number, item in enumerate(evidence_items(pack), start=1):
        pages = []
        for file, section in item.refs:
            doc = rendered.get(file)
            if doc is None:
                pages.append({"file": file, "pages": "原件电子文件"})
                continue
            first, last = doc.sections[section] if section else (1, doc.pages)
            pages.append({"file": file, "pages": f"第{first}页" if first == last else f"第{first}–{last}页"})
        items.append(
            {
                "number": f"证据{cn_number(number)}",
                "name": item.name,
                "source": item.source,
                "purpose": item.purpose,
                "pages": pages,
            }
        )
    return {
        **pack.base(F_LIST, "证据清单"),
        "items": items,
        "submitted_by": pack.data.estate.company_name,
        "date": pack.data.as_of,
    }


# ---------------------------------------------------------------------------------------------
# filing.json: the complaint form and the payment order
# ---------------------------------------------------------------------------------------------


def _fen(fen: int | None) -> dict[str, Any] | None:
    return None if fen is None else {"fen": fen, "yuan": _yuan(fen)}


def payment_order(pack: Pack) -> dict[str, Any]:
    """A payment order (支付令, 民事诉讼法 §225) needs a fixed, due money debt, a debtor who can be
    served, and no other dispute between the parties: an open complaint or a recorded dispute
    about the charge or the service rules it out."""
    data, claim = pack.data, pack.claim
    reasons = []
    if claim.all.principal_fen <= 0:
        reasons.append("只有违约金未付：违约金数额可由法院调整，不属于数额确定的金钱债务")
    for owner_id in claim.defendants:
        owner = pack.owner(owner_id)
        if owner is not None and not (owner.postal_address.strip() or owner.phone.strip()):
            reasons.append(f"被申请人{owner.name}无登记的地址或电话，支付令无法送达")
    open_complaints = [c for c, _ in data.complaints if open_on(c, data.as_of) and c.owner_id in claim.defendants]
    for complaint in open_complaints:
        reasons.append(
            f"业主于{_moment(complaint.opened_at)}提出的"
            f"{COMPLAINT_CATEGORIES.get(complaint.category, '')}投诉尚未办结，双方就服务存在争议"
        )
    settled_at = [
        business_date(s.at) for c, steps in data.complaints for s in steps if s.kind == "inspected" and s.satisfied
    ]
    last_settled = max(settled_at, default=None)
    for record in data.cases:
        for note in record.notes:
            if note.claim == Claim.dispute and (last_settled is None or note.noted_on > last_settled):
                reasons.append(f"业主于{note.noted_on.isoformat()}对收费或服务提出异议（催收记录），尚未解决")
    if reasons:
        return {"eligible": False, "reasons": reasons}
    warnings = []
    if claim.expired.principal_fen:
        warnings.append(
            f"{_periods_text([p.period for p in claim.periods if p.expired])}的欠费已过诉讼时效，"
            "被申请人可能据此提出异议"
        )
    defendants = [_party(pack.owner(i)) for i in claim.defendants]
    return {
        "eligible": True,
        "reasons": [],
        "warnings": warnings,
        "application": {
            "title": "支付令申请书",
            "applicant": _plaintiff(pack),
            "respondents": defendants,
            "requests": [
                f"请求法院向被申请人发出支付令，督促被申请人给付{_periods_text([p.period for p in claim.periods])}"
                f"物业服务费{_yuan(claim.all.principal_fen)}元",
                f"给付违约金{_yuan(claim.all.late_fen)}元（按合同约定标准计算至{data.as_of.isoformat()}）",
                "申请费由被申请人负担",
            ],
            "principal": _fen(claim.all.principal_fen),
            "late_fee": _fen(claim.all.late_fen),
            "facts_and_reasons": _facts_text(pack),
            "court": "",
            "date": data.as_of.isoformat(),
        },
    }


def _plaintiff(pack: Pack) -> dict[str, Any]:
    estate = pack.data.estate
    return {
        "name": estate.company_name,
        "kind": "法人",
        "address": estate.address,
        "phone": estate.service_phone,
        "legal_representative": "",
        "unified_social_credit_code": "",
        "project": estate.name,
    }


def _party(owner: Owner | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {
        "name": owner.name,
        "kind": "自然人",
        "id_number": owner.id_number,
        "phone": owner.phone,
        "address": owner.postal_address,
        "email": owner.email,
    }


def _facts_text(pack: Pack) -> str:
    data, claim = pack.data, pack.claim
    periods = _periods_text([p.period for p in claim.periods])
    delivered = [
        (letter, record)
        for letter, _ in pack.letters
        if LetterKind(letter.kind) in PAYMENT_REQUEST_KINDS
        for record in data.deliveries.get(letter.id or 0, [])
    ]
    demands = "、".join(f"{r.delivered_on.isoformat()}" for _, r in delivered)
    text = (
        f"原告为{data.estate.name}的物业服务人，被告系该小区{pack.unit_label}房屋（建筑面积"
        f"{area_text(data.unit.floor_area_m2, PACK_LOCALE)}）的业主。原告依约提供物业服务，"
        f"收费标准已依法公示。被告欠缴{periods}物业服务费共计{_yuan(claim.all.principal_fen)}元"
        f"（各期按建筑面积×收费单价×月数计算，明细见证据），"
    )
    if demands:
        text += f"经原告催告（催告送达日期：{demands}），被告在合理期限内仍未缴纳。"
    else:
        text += "经原告催告，被告仍未缴纳。"
    text += (
        f"依照合同约定，被告应支付违约金{_yuan(claim.all.late_fen)}元（计至{data.as_of.isoformat()}）。"
        "依据《中华人民共和国民法典》第九百三十七条、第九百四十四条之规定，特提起诉讼。"
    )
    return text


def filing(pack: Pack, demands: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    data, claim = pack.data, pack.claim
    standards_used = sorted(
        {c.entry.fee_standard_id for p in claim.periods for c in p.charges if c.entry.fee_standard_id}
    )
    return {
        "form": "民事起诉状（物业服务合同纠纷）要素",
        "cause_of_action": "物业服务合同纠纷",
        "as_of": data.as_of.isoformat(),
        "generated_at": pack.generated_at.isoformat(),
        "plaintiff": _plaintiff(pack),
        "defendants": [_party(pack.owner(i)) for i in claim.defendants],
        "unit": {
            "estate": data.estate.name,
            "building": data.building.name,
            "number": data.unit.number,
            "floor_area_m2": str(data.unit.floor_area_m2),
            "use": str(data.unit.use),
        },
        "claims": {
            "principal": _fen(claim.all.principal_fen),
            "principal_by_period": [
                {
                    "period": p.period,
                    "due_date": p.due.isoformat(),
                    "charges": [
                        {
                            "item": c.item_name,
                            "calculation": c.calculation,
                            "amount_fen": c.amount_fen,
                            "paid_fen": c.paid_fen,
                            "open_fen": c.open_fen,
                            "late_fee_contract_fen": c.late_claim_fen,
                            "late_fee_court_likely_fen": c.court_claim_fen,
                        }
                        for c in p.charges
                    ],
                    "open_fen": p.principal_fen,
                    "late_fee_contract_fen": p.late_fen,
                    "late_fee_court_likely_fen": p.court_fen,
                    "limitation_status": p.limitation.status.value,
                    "limitation_expires_on": p.limitation.expires_on.isoformat(),
                }
                for p in claim.periods
            ],
            "late_fee_contract": _fen(claim.all.late_fen),
            "late_fee_court_likely": _fen(claim.all.court_fen),
            "late_fee_basis": (
                f"按实际适用的合同违约金条款（{_applied_terms_text(pack)}）"
                f"自各期缴费期限届满次日起计至{data.as_of.isoformat()}，按台账重新计算，已扣除已付及已减免部分；"
                "法院可能支持的数额取合同约定数额与按登记的年利率（如一年期LPR上浮）÷365 计算数额中较低者"
            ),
            "total_contract": _fen(claim.all.total_contract_fen),
            "total_court_likely": _fen(claim.all.total_court_fen),
            "excluding_expired": {
                "principal": _fen(claim.in_time.principal_fen),
                "late_fee_contract": _fen(claim.in_time.late_fen),
                "total_contract": _fen(claim.in_time.total_contract_fen),
            },
            "expired_periods": [p.period for p in claim.periods if p.expired],
            "litigation_costs": "本案诉讼费用由被告承担",
        },
        "facts_and_reasons": {
            "contract": sorted(
                {
                    s.decision_ref
                    for s in data.standards.values()
                    if s.id in standards_used and s.decision_kind == "contract"
                }
            ),
            "fee_standards": [
                {
                    "item": s.item_name,
                    "rate": str(s.rate),
                    "basis": str(s.basis),
                    "effective_from": s.effective_from.isoformat(),
                    "ends_on": s.ends_on.isoformat() if s.ends_on else None,
                    "posted_on": s.posted_on.isoformat(),
                    "decision_kind": str(s.decision_kind),
                    "decision_ref": s.decision_ref,
                }
                for s in sorted(data.standards.values(), key=lambda s: s.effective_from)
                if s.id in standards_used
            ],
            "service_period": {"from": claim.periods[0].period, "to": claim.periods[-1].period},
            "arrears": [
                {"period": p.period, "calculation": c.calculation, "open_fen": c.open_fen}
                for p in claim.periods
                for c in p.charges
            ],
            "demands": [
                {
                    "letter_no": d["letter_no"],
                    "kind": d["kind"],
                    "issued_on": d["issued_on"],
                    "deadline": None if d["deadline"] == "—" else d["deadline"],
                    "delivered": [
                        {"on": x["delivered_on"], "channel": x["channel"], "tracking_no": x["tracking_no"]}
                        for x in d["deliveries"]
                    ],
                }
                for d in demands
                if d["demand"]
            ],
            "text": _facts_text(pack),
        },
        "limitation": [
            {
                "period": r["period_key"],
                "due_date": r["due"],
                "clock_start": r["clock_start"],
                "expires_on": r["expires_on"],
                "status": r["status"],
                "interruptions": r["interruptions"],
                "defence_waived_on": r["waived_on"],
            }
            for r in limitation_rows(pack)
        ],
        "payment_order": payment_order(pack),
    }


# ---------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------


def _copy_proofs(pack: Pack) -> dict[str, bytes]:
    """Each stored proof file, checked against the SHA-256 recorded with it."""
    files: dict[str, bytes] = {}
    suffixes = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
    for letter, _ in pack.letters:
        for record in pack.data.deliveries.get(letter.id or 0, []):
            path = Path(record.proof_path)
            try:
                content = path.read_bytes()
            except OSError as error:
                raise EvidenceError(
                    f"the delivery proof of letter {letter.letter_no} ({record.proof_path}) cannot be read: {error}"
                ) from error
            digest = mf.sha256(content)
            if digest != record.proof_sha256:
                raise EvidenceError(
                    f"the delivery proof of letter {letter.letter_no} ({record.proof_path}) does not match its "
                    f"recorded SHA-256 ({record.proof_sha256[:12]}…, file {digest[:12]}…): "
                    "it was changed after it was recorded"
                )
            suffix = suffixes.get(record.proof_media_type, path.suffix)
            name = f"demands/proofs/{letter.issued_on:%Y%m%d}-{letter.kind}-{record.id}{suffix}"
            pack.proofs[record.id or 0] = name
            files[name] = content
    return files


def assemble_pack(data: PackData, generated_by: str, generated_at: datetime, timings: Timings | None = None) -> bytes:
    """Render every document and write the ZIP (synchronous and CPU-bound: run it off the event loop)."""
    with cyclic_gc_paused():
        return _assemble(data, generated_by, generated_at, timings or Timings())


def _assemble(data: PackData, generated_by: str, generated_at: datetime, timer: Timings) -> bytes:
    with timer.stage("analyse"):
        pack = Pack(data, analyse(data), generated_at, generated_by)
        pack.letters = [(letter, context_of(letter)) for letter in data.letters]
    files: dict[str, bytes] = {}
    rendered: dict[str, Rendered] = {}
    with timer.stage("proofs"):
        files.update(_copy_proofs(pack))
    ranges: list[tuple[int, int]] = []
    if pack.letters:
        with timer.stage(F_LETTERS):
            files[F_LETTERS], ranges = _render_letters([ctx for _, ctx in pack.letters])
    demands = demand_rows(pack, ranges)
    documents: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        (F_PARTIES, "evidence_parties.html", lambda: parties_context(pack)),
        (F_ARREARS, "evidence_arrears.html", lambda: arrears_context(pack)),
        (F_DEMANDS, "evidence_demands.html", lambda: demands_context(pack, ranges)),
        (F_SERVICE, "evidence_service.html", lambda: service_context(pack)),
        (F_LIMITATION, "evidence_limitation.html", lambda: limitation_context(pack)),
        (F_PLANS, "evidence_plans.html", lambda: plans_context(pack)),
    ]
    for file, template, context in documents:
        with timer.stage(file):
            rendered[file] = _render(template, context())
            files[file] = rendered[file].pdf
    with timer.stage(F_LIST):
        rendered[F_LIST] = _render("evidence_list.html", list_context(pack, rendered))
        files[F_LIST] = rendered[F_LIST].pdf
    with timer.stage("zip"):
        files[F_FILING] = json.dumps(filing(pack, demands), ensure_ascii=False, indent=2).encode()
        snapshot = mf.ledger_snapshot({name: getattr(e, name) for name in mf.LEDGER_FIELDS} for e in data.entries)
        files[mf.LEDGER_SNAPSHOT] = snapshot
        manifest = mf.build_manifest(
            files,
            generated_at=generated_at.isoformat(),
            generator=GENERATOR,
            generated_by=generated_by,
            unit_id=data.unit.id or 0,
            as_of=data.as_of,
            ledger_sha256=mf.sha256(snapshot),
            ledger_entries=len(data.entries),
        )
        files[mf.MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
        stamp = generated_at.astimezone(BUSINESS_TZ).timetuple()[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in _zip_order(files):
                info = zipfile.ZipInfo(name, date_time=stamp)
                # PDFs, JPEGs and PNGs are compressed already: stored, the JSON files deflated.
                info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                archive.writestr(info, files[name])
    return buffer.getvalue()


def _zip_order(files: Mapping[str, bytes]) -> list[str]:
    """The evidence list first, then the documents in order, the demands' files, the JSON files."""
    return sorted(files, key=lambda name: (name.endswith(".json"), name))


async def build_evidence_pack(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    generated_by: Principal,
    timings: Timings | None = None,
) -> bytes:
    """The unit's evidence pack as of ``as_of``, as ZIP bytes; the build is audit-logged.

    Raises ``NotFound`` for an unknown unit, ``Conflict`` when the unit has no arrears on ``as_of``
    and ``EvidenceError`` when a stored delivery proof no longer matches its recorded hash.
    """
    timer = timings or Timings()
    if as_of > business_today():
        raise InvalidInput("an evidence pack cannot be dated in the future", field="as_of")
    with timer.stage("queries"):
        data = await collect(session, unit_id, as_of)
    generated_at = utcnow()
    zipped = await asyncio.to_thread(assemble_pack, data, generated_by.label, generated_at, timer)
    await record_audit(
        session,
        generated_by,
        "evidence_pack.build",
        "unit",
        unit_id,
        {"as_of": as_of.isoformat(), "sha256": mf.sha256(zipped), "size": len(zipped)},
    )
    await session.commit()
    return zipped
