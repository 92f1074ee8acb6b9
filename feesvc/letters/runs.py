"""The scheduled reminder run: the right letter to the right owner at the right stage, never twice.

A run reads the ledger as it stands at the moment of the run (so nobody who has paid gets a
reminder), decides each account's stage and letter, skips accounts that must not be chased (open
complaint, kept plan, manual hold, hardship escalation, cool-down), checks every letter for
forbidden content, and issues the rest with their electronic messages in batches. An account is an
owner at a unit (DOMAIN.md, "Change of owner"): after a sale the seller is asked for the periods
before the handover, at the seller's own address (letters.recipients), the buyer for the rest.
Letters carry a dedupe key per account, stage and day: a rerun, or a run resumed after a crash,
issues nothing twice. Each letter is rendered once, at issue, and its PDF kept (``issued``); its
number is the estate's (``JXHY-2026-HJ000123``), never a stage's name. A letter that cannot go as
chosen falls back (a short message without the owner page link, else the paper letter alone) or is
listed under "needs attention" with the reason: none is dropped silently. An account reaches legal
review only once a final demand to it was delivered and its deadline has passed.
Only one run per estate can be running (a partial unique index); a run left "running" by a crash
for longer than ``STALE_AFTER`` is taken over.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import msgspec
from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.arrears.decisions import effective_decision
from feesvc.arrears.models import ArrearsCase, CaseStatus
from feesvc.arrears.pauses import reminder_pause_reason
from feesvc.arrears.service import active_case
from feesvc.attention import UnitReport, reason_of, report
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.errors import Conflict
from feesvc.files import FileStore, session_store
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.letters.compliance import check_html, check_text
from feesvc.letters.content import (
    BELIEFS,
    LetterContext,
    PeriodLine,
    PlanTerms,
    PrepayOffer,
    email_subject,
    render_letter_html,
    short_message,
)
from feesvc.letters.estate_terms import EstateTerms, estate_terms
from feesvc.letters.issued import (
    ChunkRenderer,
    allocate_numbers,
    letter_number,
    message_sha256,
    record_copy,
    store_rendered,
)
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind
from feesvc.letters.models import (
    DeliveryRecord,
    EscalationStage,
    Letter,
    OutboxMessage,
    OutboxStatus,
    ReminderHold,
    ReminderRun,
    RunStatus,
    Stage,
)
from feesvc.letters.policy import (
    DEFAULT_POLICY,
    Position,
    StageRule,
    letter_kind_for,
    paper_arrives_by,
    stage_reached,
)
from feesvc.letters.recipients import Reach, reach, recipient, unreachable
from feesvc.limitation.notice import limitation_letter, limitation_unserved, notice_needs
from feesvc.owner_pages.links import owner_page_fields
from feesvc.plans.standing import covered_charge_ids
from feesvc.prepay.models import PrepayDiscountTier
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import get_estate, ownership_covering
from feesvc.rules.installments import schedule
from feesvc.service_records.models import ACTIVITY_LABELS, Complaint
from feesvc.service_records.service import service_summary
from feesvc.settings import get_settings

# A run renders and keeps every letter it issues: a large estate's takes a quarter of an hour or
# more, so a run is taken for crashed (and taken over) only well after that.
STALE_AFTER = timedelta(hours=3)
HARDSHIP_INSTALLMENTS = 3
BATCH = 500
CHUNK = 100  # letters rendered into one stored PDF (fonts embedded once a chunk): documents.render
OWNER_BATCH = 10_000  # unit ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766
# An owner's account at a unit: (unit id, owner id). None: debts written before entries carried
# their owner, until they are given the unit's current owner (_give_orphans_the_current_owner).
Account = tuple[int, int | None]


class RunSummary(msgspec.Struct):
    estate_id: int
    as_of: date
    dry_run: bool
    run_id: int | None
    letters_by_kind: dict[str, int]
    messages_by_channel: dict[str, int]
    skipped_by_reason: dict[str, int]
    blocked: list[dict[str, Any]]
    legal_review_units: list[int]
    # Every unit that was due a letter and got none for a reason other than the rules (a blocked
    # letter, a case that could not be read): somebody must look. The command exits non-zero.
    needs_attention: list[UnitReport] = msgspec.field(default_factory=list)
    # Letters issued otherwise than first chosen (a short message without its link, the paper
    # letter alone), each with the reason: issued, but a person may want to know.
    fallbacks: list[dict[str, Any]] = msgspec.field(default_factory=list)


@dataclass
class _Debt:
    period: str | None
    item: str | None
    kind: str
    open_fen: int
    due: date
    charge_id: int  # the charge itself, or the charge a late fee accrued on


@dataclass
class _UnitFacts:
    """One account's open debts at a unit (its owner's, not the unit's)."""

    unit_id: int
    owner_id: int | None
    building: str
    building_id: int
    number: str
    debts: list[_Debt] = field(default_factory=list)

    def owes_principal(self, as_of: date) -> bool:
        return any(d.kind == EntryKind.charge and d.due < as_of and d.open_fen > 0 for d in self.debts)

    def position(self, as_of: date) -> Position:
        overdue = [d for d in self.debts if d.due < as_of]
        upcoming = [d.due for d in self.debts if d.due >= as_of]
        return Position(
            unit_id=self.unit_id,
            oldest_overdue_due=min((d.due for d in overdue), default=None),
            overdue_fen=sum(d.open_fen for d in overdue),
            next_unpaid_due=min(upcoming, default=None),
        )


@dataclass
class _Planned:
    facts: _UnitFacts
    rule: StageRule
    kind: LetterKind
    owner: Owner
    belief: str | None
    reach: Reach
    former: bool  # the owner's ownership of the unit ended before the run's day


@dataclass
class _Ready:
    """A letter that passed its checks, waiting for its number, its rendering and its row."""

    plan: _Planned
    ctx: LetterContext
    channel: str
    electronic: str | None
    text: str


class _Message(NamedTuple):
    """An electronic message of an issued letter, added to the outbox once the letter has its id."""

    letter: Letter
    channel: str
    recipient: str
    subject: str
    body: str


async def estate_policy(session: AsyncSession, estate_id: int) -> tuple[StageRule, ...]:
    rows = (await session.execute(select(EscalationStage).where(EscalationStage.estate_id == estate_id))).scalars()
    rules = tuple(StageRule(Stage(r.stage), r.days_from_due, r.min_overdue_fen, r.cooldown_days) for r in rows)
    return rules or DEFAULT_POLICY


async def _unit_debts(session: AsyncSession, estate_id: int, as_of: date) -> dict[Account, _UnitFacts]:
    """Every account of the estate with something open on its charges and late fees, in one query:
    the debts of each unit by the owner each entry carries (the owner of the period)."""
    settling = aliased(LedgerEntry)
    settled = (
        select(settling.settles_entry_id.label("entry_id"), func.sum(settling.amount_fen).label("fen"))  # type: ignore[union-attr]
        .where(settling.estate_id == estate_id, col(settling.settles_entry_id).is_not(None))
        .group_by(col(settling.settles_entry_id))
        .subquery()
    )
    charge = aliased(LedgerEntry)
    open_fen = LedgerEntry.amount_fen + func.coalesce(settled.c.fen, 0)
    rows = await session.execute(
        select_columns(
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            col(LedgerEntry.period),
            col(LedgerEntry.item),
            col(LedgerEntry.kind),
            open_fen,
            func.coalesce(charge.due_date, LedgerEntry.due_date),
            func.coalesce(LedgerEntry.basis_entry_id, LedgerEntry.id),
        )
        .outerjoin(settled, settled.c.entry_id == LedgerEntry.id)
        .outerjoin(charge, col(charge.id) == LedgerEntry.basis_entry_id)
        .where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS), open_fen > 0)
    )
    units = {
        unit_id: (building, building_id, number)
        for unit_id, building, building_id, number in (
            await session.execute(
                select(Unit.id, Building.name, Building.id, Unit.number)
                .join(Building, col(Building.id) == Unit.building_id)
                .where(Unit.estate_id == estate_id)
            )
        ).all()
        if unit_id is not None and building_id is not None
    }
    accounts: dict[Account, _UnitFacts] = {}
    for unit_id, owner_id, period, item, kind, fen, due, charge_id in rows.all():
        if due is not None and unit_id in units:
            facts = accounts.get((unit_id, owner_id))
            if facts is None:
                facts = accounts[(unit_id, owner_id)] = _UnitFacts(unit_id, owner_id, *units[unit_id])
            facts.debts.append(_Debt(period, item, kind, int(fen), due, int(charge_id)))
    return accounts


@dataclass
class _Owners:
    """The owners of the accounts that reached a stage, and which of them still own their unit."""

    by_id: dict[int, Owner] = field(default_factory=dict)
    # (unit, owner) whose ownership has not ended before the run's day: current (or future) owners.
    owning: set[tuple[int, int]] = field(default_factory=set)

    def former(self, unit_id: int, owner_id: int) -> bool:
        return (unit_id, owner_id) not in self.owning


async def _owners(session: AsyncSession, unit_ids: Sequence[int], on: date) -> _Owners:
    """Every owner of these units, past and present: only the units that reached a stage, a fifth of
    a large estate's, so a tenth of the time of reading every owner (a sold unit adds a row)."""
    owners = _Owners()
    for start in range(0, len(unit_ids), OWNER_BATCH):  # databases cap the parameters of one query
        rows = await session.execute(
            select(col(Ownership.unit_id), col(Ownership.ends_on), Owner)
            .join(Owner, col(Owner.id) == Ownership.owner_id)
            .where(col(Ownership.unit_id).in_(unit_ids[start : start + OWNER_BATCH]))
        )
        for unit_id, ends_on, owner in rows.all():
            assert owner.id is not None
            owners.by_id[owner.id] = owner
            if ends_on is None or ends_on >= on:
                owners.owning.add((unit_id, owner.id))
    return owners


async def _current_owner_ids(session: AsyncSession, unit_ids: Sequence[int], on: date) -> dict[int, int]:
    owners: dict[int, int] = {}
    for start in range(0, len(unit_ids), OWNER_BATCH):
        rows = await session.execute(
            select(Ownership.unit_id, Ownership.owner_id).where(
                col(Ownership.unit_id).in_(unit_ids[start : start + OWNER_BATCH]), ownership_covering(on)
            )
        )
        owners.update((unit_id, owner_id) for unit_id, owner_id in rows.all())
    return owners


async def _give_orphans_the_current_owner(session: AsyncSession, accounts: dict[Account, _UnitFacts], on: date) -> None:
    """Debts whose entries carry no owner (written before they did) are the current owner's. Rare:
    one query for the few units that have them, none otherwise."""
    orphans = [account for account in accounts if account[1] is None]
    if not orphans:
        return
    current = await _current_owner_ids(session, [unit_id for unit_id, _ in orphans], on)
    for unit_id, _ in orphans:
        owner_id = current.get(unit_id)
        if owner_id is None:
            continue  # no owner on record: the run reports it as such
        facts = accounts.pop((unit_id, None))
        into = accounts.setdefault((unit_id, owner_id), replace(facts, owner_id=owner_id, debts=[]))
        into.debts.extend(facts.debts)


async def _held(session: AsyncSession, estate_id: int, on: date) -> set[int]:
    rows = await session.execute(
        select(ReminderHold.unit_id)
        .join(Unit, col(Unit.id) == ReminderHold.unit_id)
        .where(
            Unit.estate_id == estate_id,
            col(ReminderHold.starts_on) <= on,
            (col(ReminderHold.ends_on).is_(None)) | (col(ReminderHold.ends_on) >= on),
        )
    )
    return set(rows.scalars())


async def _covered_by_kept_plans(session: AsyncSession, estate_id: int, as_of: date) -> set[int]:
    """Charges in a plan kept on ``as_of``, by the ledger (a plan broken today no longer covers)."""
    return await covered_charge_ids(session, as_of, estate_id=estate_id)


def _set_aside_covered(
    accounts: dict[Account, _UnitFacts], covered: set[int], stage_of: Callable[[_UnitFacts], StageRule | None]
) -> set[Account]:
    """Take the debts a kept plan covers (its charges and their late fees) out of the accounts' facts:
    no reminder for them; the account's other debts follow the normal course. Returns the accounts
    that reached a stage with those debts."""
    paused: set[Account] = set()
    if not covered:
        return paused
    for account, facts in accounts.items():
        rest = [d for d in facts.debts if d.charge_id not in covered]
        if len(rest) != len(facts.debts):
            if stage_of(facts) is not None:
                paused.add(account)
            facts.debts = rest
    return paused


async def _units_to_ask(session: AsyncSession, estate_id: int) -> set[int]:
    """Units with an open case or a complaint: only these can have a pause or a cause."""
    cases = await session.execute(
        select(ArrearsCase.unit_id).where(ArrearsCase.estate_id == estate_id, ArrearsCase.status != CaseStatus.resolved)
    )
    complaints = await session.execute(
        select(Complaint.unit_id).where(Complaint.estate_id == estate_id, col(Complaint.closed_at).is_(None))
    )
    return set(cases.scalars()) | set(complaints.scalars())


async def _last_letters(
    session: AsyncSession, estate_id: int
) -> tuple[dict[tuple[int, int | None, str], date], set[Account]]:
    """(unit, owner, stage) → the day its last letter went out, and the accounts already sent an
    explanation: one owner's letters neither cool down nor explain anything to another."""
    rows = await session.execute(
        select_columns(
            col(Letter.unit_id), col(Letter.owner_id), col(Letter.stage), col(Letter.kind), func.max(Letter.issued_on)
        )
        .where(col(Letter.estate_id) == estate_id)
        .group_by(col(Letter.unit_id), col(Letter.owner_id), col(Letter.stage), col(Letter.kind))
    )
    last: dict[tuple[int, int | None, str], date] = {}
    explained: set[Account] = set()
    for unit_id, owner_id, stage, kind, issued_on in rows.all():
        if stage is not None:
            key = (unit_id, owner_id, stage)
            last[key] = max(last.get(key, issued_on), issued_on)
        if kind == LetterKind.explanation:
            explained.add((unit_id, owner_id))
    return last, explained


@dataclass(frozen=True)
class _Demand:
    """A final demand to an account: when it went out, its deadline and when it was delivered."""

    issued_on: date
    deadline: date | None
    delivered_on: date | None

    def deadline_passed(self, as_of: date) -> bool:
        """Delivered, and the time it gave has run out, counted from its delivery when that came
        later than its issue (民法典 944(2): a demand and a reasonable period)."""
        if self.delivered_on is None or self.deadline is None:
            return False
        given = self.deadline - self.issued_on
        return as_of > max(self.deadline, self.delivered_on + given)


async def _final_demands(session: AsyncSession, estate_id: int) -> dict[Account, list[_Demand]]:
    """Every final demand of the estate's accounts, with its first recorded delivery."""
    rows = await session.execute(
        select_columns(
            col(Letter.unit_id),
            col(Letter.owner_id),
            col(Letter.issued_on),
            col(Letter.deadline),
            func.min(DeliveryRecord.delivered_on),
        )
        .outerjoin(DeliveryRecord, col(DeliveryRecord.letter_id) == Letter.id)
        .where(col(Letter.estate_id) == estate_id, col(Letter.kind) == LetterKind.final_demand.value)
        .group_by(
            col(Letter.id), col(Letter.unit_id), col(Letter.owner_id), col(Letter.issued_on), col(Letter.deadline)
        )
    )
    demands: dict[Account, list[_Demand]] = defaultdict(list)
    for unit_id, owner_id, issued_on, deadline, delivered_on in rows.all():
        demands[(unit_id, owner_id)].append(_Demand(issued_on, deadline, delivered_on))
    return demands


def _legal_review_hold(demands: list[_Demand], as_of: date) -> str | None:
    """Why an account past the legal-review stage is not for legal review yet (None: it is)."""
    if any(d.deadline_passed(as_of) for d in demands):
        return None
    if any(d.delivered_on is not None for d in demands):
        return "final demand delivered, deadline not passed"
    return "final demand not delivered yet (record its delivery)"


async def decide(
    session: AsyncSession, estate: Estate, as_of: date, unreadable: list[UnitReport] | None = None
) -> tuple[list[_Planned], Counter[str], list[int], dict[Account, _UnitFacts]]:
    """Every account's stage and letter, or why it gets none. An account whose case cannot be read,
    or a former owner who cannot be reached, is left out and added to ``unreadable`` with the reason."""
    unreadable = [] if unreadable is None else unreadable
    assert estate.id is not None
    rules = await estate_policy(session, estate.id)
    accounts = await _unit_debts(session, estate.id, as_of)
    await _give_orphans_the_current_owner(session, accounts, as_of)
    covered = await _covered_by_kept_plans(session, estate.id, as_of)
    paused_by_plan = _set_aside_covered(accounts, covered, lambda f: stage_reached(f.position(as_of), as_of, rules))
    stages = ((facts, stage_reached(facts.position(as_of), as_of, rules)) for facts in accounts.values())
    reached = [(facts, rule) for facts, rule in stages if rule is not None]
    owners = await _owners(session, sorted({facts.unit_id for facts, _ in reached}), as_of)
    held = await _held(session, estate.id, as_of)
    to_ask = await _units_to_ask(session, estate.id)
    last, explained = await _last_letters(session, estate.id)
    demands = await _final_demands(session, estate.id)
    planned: list[_Planned] = []
    skipped: Counter[str] = Counter()
    # An account whose only reminders were for debts a kept plan covers gets none.
    left_to_plan = paused_by_plan - {(facts.unit_id, facts.owner_id) for facts, _ in reached}
    if left_to_plan:
        skipped["installment plan being kept"] = len(left_to_plan)
    legal_review: set[int] = set()
    expiring = await notice_needs(session, estate.id, as_of)  # limitation: periods needing a notice
    for facts, rule in reached:  # the others are paid up, or have nothing due soon
        reason: str | None = None
        cause, belief, pause = None, None, None
        account = (facts.unit_id, facts.owner_id)
        owner = None if facts.owner_id is None else owners.by_id.get(facts.owner_id)
        if owner is None:
            reason = "no owner on record"
        elif facts.unit_id in held:  # a manager's hold on the unit holds every account of it
            reason = "manual hold"
        elif facts.unit_id in to_ask:
            try:
                pause = await reminder_pause_reason(session, facts.unit_id, as_of, owner_id=facts.owner_id)
                case = await active_case(session, facts.unit_id, owner_id=facts.owner_id)
                decision = None if case is None else await effective_decision(session, case)
            except Exception as error:  # noqa: BLE001 - the unit is reported; the run goes on
                report(unreadable, facts.unit_id, error)
                continue
            if decision is not None:
                cause, belief = decision.category.value, decision.belief.value if decision.belief else None
        kind = None if reason else letter_kind_for(rule.stage, cause, account in explained)
        awaiting_demand = False
        if kind is None and reason is None and rule.stage == Stage.legal_review:
            # Suit needs a demand delivered and its deadline passed first (民法典 944(2)): an owner
            # who never had one gets it now; one whose demand is out waits for it.
            if not demands.get(account):
                rule = next((r for r in rules if r.stage == Stage.final_demand), rule)
                kind = letter_kind_for(rule.stage, cause, account in explained)
            else:
                reason = _legal_review_hold(demands[account], as_of)
                awaiting_demand = reason is not None
        need = expiring.pop((facts.unit_id, facts.owner_id), None) if facts.owner_id is not None else None
        # A period about to expire needs a notice delivered in time: waiting on a demand that has not
        # arrived (a delivered one would have interrupted it) does not hold that notice back.
        if need and (reason is None or awaiting_demand):
            reason = None
            kind, rule = limitation_letter(kind, rule, rules, cause == "hardship")
            last.pop((*account, rule.stage), None)  # no cool-down holds it back
        if kind == LetterKind.explanation and belief not in BELIEFS:
            kind = letter_kind_for(rule.stage, None, True)  # no belief on record to explain
        if kind == LetterKind.hardship_offer and not facts.owes_principal(as_of):
            # Only late fees are overdue: there is no principal to spread over installments.
            kind = LetterKind.friendly_reminder
        if reason is None and pause is not None and rule.stage != Stage.pre_due:
            # An open complaint stops every letter; a case's own pause (an offer or an inspection still
            # pending) stops demands for money, not the offer or explanation the case calls for.
            if "complaint" in pause:
                reason = "complaint or case pause"
            elif kind in PAYMENT_REQUEST_KINDS:
                reason = "case pause"
        if reason is None:
            sent = last.get((*account, rule.stage))
            if sent is not None and (as_of - sent).days < rule.cooldown_days:
                reason = "same stage within cool-down" if sent != as_of else "already issued today"
        if reason is not None:
            skipped[reason] += 1
            if need:
                unreadable.append(UnitReport(facts.unit_id, limitation_unserved(facts.owner_id, need, reason)))
            continue
        assert owner is not None and owner.id is not None
        if kind is None:
            legal_review.add(facts.unit_id)
            continue
        former = owners.former(facts.unit_id, owner.id)
        in_time = paper_arrives_by(as_of, facts.position(as_of).next_unpaid_due, estate.paper_lead_days)
        how = reach(kind, owner, former, paper_in_time=in_time)
        if how is None and kind == LetterKind.pre_due_notice:
            skipped["pre-due notice: paper would arrive after the due date, no phone or e-mail"] += 1
            continue
        if how is None:  # a former owner with no address on file: never to the unit, where others live
            unreadable.append(UnitReport(facts.unit_id, unreachable(kind, owner)))
            continue
        planned.append(_Planned(facts, rule, kind, owner, belief, how, former))
    for (unit_id, owner_id), unserved in expiring.items():  # accounts that reached no stage
        unreadable.append(UnitReport(unit_id, limitation_unserved(owner_id, unserved, "no letter due")))
    return planned, skipped, sorted(legal_review), accounts


def _period_lines(facts: _UnitFacts, as_of: date, item_names: dict[str, str]) -> tuple[PeriodLine, ...]:
    by_period: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for debt in facts.debts:
        if debt.due >= as_of or debt.period is None:
            continue
        item = debt.item or "service_fee"
        slot = by_period[(debt.period, item)]
        slot[0 if debt.kind == EntryKind.charge else 1] += debt.open_fen
    return tuple(
        PeriodLine(period=period, item_name=item_names.get(item, item), amount_fen=principal, late_fee_fen=late)
        for (period, item), (principal, late) in sorted(by_period.items())
    )


async def prepay_offer(session: AsyncSession, estate: Estate, cycle_fen: int) -> PrepayOffer | None:
    """The estate's smallest prepay tier, with what it would save an owner whose fee is ``cycle_fen``
    a billing cycle (reminders' offer, and a new owner's payment notice's)."""
    tiers = (
        (
            await session.execute(
                select(PrepayDiscountTier)
                .where(PrepayDiscountTier.estate_id == estate.id)
                .order_by(col(PrepayDiscountTier.min_months))
            )
        )
        .scalars()
        .first()
    )
    if tiers is None or cycle_fen <= 0:
        return None
    monthly = Decimal(cycle_fen) / estate.cycle_months
    saving = int((monthly * tiers.min_months * tiers.percent_off / 100).quantize(Decimal(1), ROUND_HALF_UP))
    return PrepayOffer(months=tiers.min_months, percent_off=tiers.percent_off, saving_fen=saving)


def _provisional_number(estate: Estate, as_of: date) -> str:
    """Stands for the letter's number while it is checked; the number is given once it passed."""
    return letter_number(estate.code, as_of.year, 0)


def _former_owner_id(plan: _Planned) -> int | None:
    return plan.owner.id if plan.former else None


async def _context(
    session: AsyncSession,
    estate: Estate,
    plan: _Planned,
    as_of: date,
    letter_terms: EstateTerms,
    summaries: dict[int, tuple[tuple[str, int], ...]],
) -> LetterContext:
    assert estate.id is not None
    facts = plan.facts
    item_names = letter_terms.item_names(facts.unit_id)  # the unit's own use's fee names
    locale = plan.owner.locale or estate.locale
    periods = _period_lines(facts, as_of, item_names)
    if plan.kind == LetterKind.pre_due_notice:
        upcoming = [d for d in facts.debts if d.due >= as_of]
        periods = tuple(
            PeriodLine(d.period or "", item_names.get(d.item or "", d.item or ""), d.open_fen, 0) for d in upcoming
        )
    total = sum(p.amount_fen + p.late_fee_fen for p in periods)
    if facts.building_id not in summaries:
        last_month = f"{as_of - relativedelta(months=1):%Y-%m}"
        labels = ACTIVITY_LABELS["en" if estate.locale.startswith("en") else "zh"]
        summaries[facts.building_id] = tuple(
            (labels[t.kind], t.count) for t in await service_summary(session, estate.id, facts.building_id, last_month)
        )
    prepay = await prepay_offer(session, estate, total) if plan.kind == LetterKind.pre_due_notice else None
    terms = _proposed_plan(estate, periods, as_of) if plan.kind == LetterKind.hardship_offer else None
    return LetterContext(
        kind=plan.kind,
        locale=locale,
        letter_no=_provisional_number(estate, as_of),
        issued_on=as_of,
        company=estate.company_name,
        estate=estate.name,
        estate_address=estate.address,
        service_phone=estate.service_phone,
        owner_name=plan.owner.name,
        postal_address=plan.owner.postal_address,
        unit_label=f"{facts.building} {facts.number}",
        periods=periods,
        total_fen=total,
        due_on=min((d.due for d in facts.debts if d.due >= as_of), default=None),
        deadline=as_of + timedelta(days=estate.final_demand_days) if plan.kind == LetterKind.final_demand else None,
        service_summary=summaries[facts.building_id],
        prepay_offer=prepay,
        plan=terms,
        belief=plan.belief,
        # The owner's pages (signed in there: the link names no one); how to pay and dispute come
        # from the estate's settings.
        **owner_page_fields(estate, plan.owner, get_settings()),
        **letter_terms.letter_fields(facts.unit_id, plan.kind, periods, locale),
    )


def _proposed_plan(estate: Estate, periods: tuple[PeriodLine, ...], as_of: date) -> PlanTerms:
    """The hardship playbook's offer: three monthly installments of the principal, late fees waived."""
    principal = sum(p.amount_fen for p in periods)
    return PlanTerms(
        installments=tuple(schedule(principal, HARDSHIP_INSTALLMENTS, as_of + timedelta(days=15))),
        late_fee_treatment="waive_on_completion",
        grace_days=estate.grace_days,
        waived_fees_return=estate.plan_break_restores_waived,
    )


async def _mark_failed(session: AsyncSession, run_id: int | None) -> None:
    """A run that broke off is marked failed at once, so the next run need not wait to take over."""
    await session.rollback()
    run = await session.get(ReminderRun, run_id)
    if run is not None and run.status == RunStatus.running:
        run.status = RunStatus.failed
        run.finished_at = utcnow()
        await session.commit()


async def _claim_run(session: AsyncSession, estate_id: int, as_of: date, actor: Principal) -> ReminderRun:
    stale = await session.execute(
        select(ReminderRun).where(ReminderRun.estate_id == estate_id, ReminderRun.status == RunStatus.running)
    )
    for running in stale.scalars():
        if utcnow() - running.started_at < STALE_AFTER:
            raise Conflict(f"reminder run #{running.id} for this estate is still running", field="estate_id")
        running.status = RunStatus.failed
        running.finished_at = utcnow()
    run = ReminderRun(estate_id=estate_id, as_of=as_of, status=RunStatus.running, actor=actor.label)
    session.add(run)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise Conflict("another reminder run for this estate has just started", field="estate_id") from error
    return run


async def run_reminders(
    session: AsyncSession,
    actor: Principal,
    estate_id: int,
    as_of: date,
    *,
    dry_run: bool = False,
    files: FileStore | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    estate = await get_estate(session, estate_id, field="estate_id")
    files = files if files is not None else session_store(session)
    run = None if dry_run else await _claim_run(session, estate_id, as_of, actor)
    renderer: ChunkRenderer | None = None
    try:
        attention: list[UnitReport] = []
        planned, skipped, legal_review, _ = await decide(session, estate, as_of, attention)
        # In print order (building, unit): a run's paper letters are stored a chunk at a time, as printed.
        planned.sort(key=lambda p: (p.facts.building, p.facts.number, p.owner.id or 0))
        renderer = ChunkRenderer(pooled=len(planned) > CHUNK)
        letters: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        blocked: list[dict[str, Any]] = []
        fallbacks: list[dict[str, Any]] = []
        letter_terms = await estate_terms(session, estate, as_of)
        summaries: dict[int, tuple[tuple[str, int], ...]] = {}
        done = 0
        for start in range(0, len(planned), BATCH):
            ready: list[_Ready] = []
            for plan in planned[start : start + BATCH]:
                done += 1
                prepared = await _prepare(session, estate, plan, as_of, letter_terms, summaries, fallbacks)
                if isinstance(prepared, _Ready):
                    ready.append(prepared)
                    letters[plan.kind.value] += 1
                    if prepared.electronic:
                        messages[prepared.electronic] += 1
                else:
                    blocked.append({"unit_id": plan.facts.unit_id, "kind": plan.kind.value, "violations": prepared})
                    reason = f"{plan.kind.value} not issued: {'; '.join(prepared)}"
                    attention.append(UnitReport(plan.facts.unit_id, reason))
                if progress is not None:
                    progress(done, len(planned))
            if run is not None and ready:
                await _issue_batch(session, run, estate, ready, actor, renderer, files)
                await session.commit()  # progress survives a crash; a rerun skips what is issued
        summary = RunSummary(
            estate_id=estate_id,
            as_of=as_of,
            dry_run=dry_run,
            run_id=run.id if run else None,
            letters_by_kind=dict(letters),
            messages_by_channel=dict(messages),
            skipped_by_reason=dict(skipped),
            blocked=blocked,
            legal_review_units=sorted(legal_review),
            needs_attention=attention,
            fallbacks=fallbacks,
        )
        if run is not None:
            run.status = RunStatus.completed
            run.finished_at = utcnow()
            run.summary = msgspec.to_builtins(summary)
            await record_audit(
                session,
                actor,
                "reminders.run",
                "estate",
                estate_id,
                {
                    "run_id": run.id,
                    "as_of": as_of.isoformat(),
                    "letters": sum(letters.values()),
                    "needs_attention": len(attention),
                },
            )
            await session.commit()
        return summary
    except BaseException:
        if run is not None:
            await _mark_failed(session, run.id)
        raise
    finally:
        if renderer is not None:
            renderer.close()


async def _prepare(
    session: AsyncSession,
    estate: Estate,
    plan: _Planned,
    as_of: date,
    letter_terms: EstateTerms,
    summaries: dict[int, tuple[tuple[str, int], ...]],
    fallbacks: list[dict[str, Any]],
) -> _Ready | list[str]:
    """The letter and its message, checked; or why it cannot be issued. A message that cannot be
    written as chosen falls back (``_message``), and the fallback is recorded in ``fallbacks``."""
    channel, electronic = plan.reach.channel, plan.reach.electronic
    try:
        ctx = await _context(session, estate, plan, as_of, letter_terms, summaries)
        problems = [f"{v.family}: {v.sentence}" for v in check_html(render_letter_html(ctx))]
    except Exception as error:  # noqa: BLE001 - reported by the caller; the run goes on
        return [f"cannot be written: {reason_of(error)}"]
    text = ""
    if electronic is not None:
        text, fallback = _message(ctx)
        if fallback is not None:
            if not text:
                if _paper_instead(plan) is None:
                    return [f"cannot be written: {fallback}, and the owner has no postal address for a paper letter"]
                channel, electronic = "paper", None
                fallback += "; the paper letter alone is sent"
            fallbacks.append({"unit_id": plan.facts.unit_id, "kind": plan.kind.value, "reason": fallback})
    problems += [f"{v.family}: {v.sentence}" for v in (check_text(text) if text else [])]
    if problems:
        return problems
    return _Ready(plan, ctx, channel, electronic, text)


def _message(ctx: LetterContext) -> tuple[str, str | None]:
    """The short message, and why it is not the usual one (None: it is). One that does not fit goes
    without the owner page link (the letter itself says how to pay); if even that does not fit there
    is none ("")."""
    try:
        return short_message(ctx), None
    except ValueError as error:
        reason = str(error).replace(f" for {ctx.letter_no}", "")  # the number is not given yet
    if ctx.owner_page_url:
        try:
            shorter = short_message(replace(ctx, owner_page_url=None))
        except ValueError:
            pass
        else:
            return shorter, f"short message sent without the owner page link: {reason}"
    return "", f"no short message fits: {reason}"


def _paper_instead(plan: _Planned) -> str | None:
    """The paper letter, when the owner can get one: the current owner (at the unit, or their postal
    address), a former owner only at their postal address."""
    return "paper" if not plan.former or plan.owner.postal_address else None


async def _issue_batch(
    session: AsyncSession,
    run: ReminderRun,
    estate: Estate,
    ready: list[_Ready],
    actor: Principal,
    renderer: ChunkRenderer,
    files: FileStore,
) -> None:
    """Number the batch's letters, render each once and keep it, then add the letters and their
    messages. The numbers are committed before rendering (their counter is not held meanwhile): a
    crash while rendering leaves a gap in the numbers, never a letter without its document."""
    assert estate.id is not None
    numbers = await allocate_numbers(session, estate.id, estate.code, ready[0].ctx.issued_on.year, len(ready))
    await session.commit()
    for item, number in zip(ready, numbers, strict=True):
        item.ctx = replace(item.ctx, letter_no=number)
    paper = [item for item in ready if item.channel == "paper"]
    other = [item for item in ready if item.channel != "paper"]
    chunks = [chunk for group in (paper, other) for chunk in _chunked(group, renderer)]
    rendered = await renderer.render([[item.ctx for item in chunk] for chunk in chunks])
    outbox: list[_Message] = []
    for chunk, (pdf, counts) in zip(chunks, rendered, strict=True):
        contexts = [item.ctx for item in chunk]
        copies = await store_rendered(files, contexts, pdf, counts)
        for item, copy in zip(chunk, copies, strict=True):
            record_copy(_issue(session, run, estate, item, actor, outbox), copy)
    await _add_outbox(session, outbox)


def _chunked(items: list[_Ready], renderer: ChunkRenderer) -> list[list[_Ready]]:
    """Chunks of at most ``CHUNK`` letters; on a pool, as many as a multiple of its workers, of even
    size, so that no worker waits idle for the batch's last chunk."""
    count = -(-len(items) // CHUNK)
    if renderer.pooled and count:
        count = -(-count // renderer.workers) * renderer.workers
    size = -(-len(items) // count) if count else 1
    return [items[i : i + size] for i in range(0, len(items), size)]


def _issue(
    session: AsyncSession,
    run: ReminderRun,
    estate: Estate,
    item: _Ready,
    actor: Principal,
    outbox: list[_Message],
) -> Letter:
    """Add the letter; its electronic message waits in ``outbox`` until the batch's letters have ids."""
    assert estate.id is not None
    plan, ctx = item.plan, item.ctx
    letter = Letter(
        estate_id=estate.id,
        unit_id=plan.facts.unit_id,
        owner_id=plan.owner.id,
        run_id=run.id,
        kind=plan.kind.value,
        stage=plan.rule.stage,
        channel=item.channel,
        locale=ctx.locale,
        letter_no=ctx.letter_no,
        issued_on=ctx.issued_on,
        deadline=ctx.deadline,
        total_fen=ctx.total_fen,
        periods=[p.period for p in ctx.periods],
        context=msgspec.to_builtins(ctx),
        dedupe_key=_dedupe_key(plan, ctx.issued_on),
        actor=actor.label,
        message_sha256=message_sha256(item.text) if item.electronic else None,
    )
    session.add(letter)
    if item.electronic is not None:
        to = recipient(plan.owner, item.electronic)
        outbox.append(_Message(letter, item.electronic, to, email_subject(ctx), item.text))
    return letter


def _dedupe_key(plan: _Planned, issued_on: date) -> str:
    """One letter per account, stage and day (the current owner's key is the unit's, as before sales)."""
    key = f"{plan.facts.unit_id}:{plan.rule.stage.value}:{issued_on}"
    former = _former_owner_id(plan)
    return key if former is None else f"{key}:{former}"


async def _add_outbox(session: AsyncSession, outbox: list[_Message]) -> None:
    """One flush gives the batch's letters their ids, then their messages go in beside them (instead
    of a flush, a round trip, for every letter with a message). Empties ``outbox``."""
    if not outbox:
        return
    await session.flush()
    for message in outbox:
        assert message.letter.id is not None
        session.add(
            OutboxMessage(
                letter_id=message.letter.id,
                channel=message.channel,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                status=OutboxStatus.pending,
                dedupe_key=f"{message.letter.letter_no}:{message.channel}",
            )
        )
    outbox.clear()


def context_of(letter: Letter) -> LetterContext:
    """The letter exactly as it was issued, to render it again."""
    return stored_context(letter.context)


def stored_context(stored: dict[str, Any]) -> LetterContext:
    """A letter's stored ``context`` column back as its ``LetterContext``."""
    return msgspec.convert(stored, LetterContext)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
