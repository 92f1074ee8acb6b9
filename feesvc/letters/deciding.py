"""Who gets which letter in a reminder run, and why the others get none.

Each account's stage and letter, from the estate's escalation policy; accounts that must not be
chased are skipped with the reason (open complaint, kept plan, manual hold, hardship escalation,
cool-down). An account reaches legal review only once a final demand to it was delivered and its
deadline has passed; an owner whose limitation period nears its end gets a letter that interrupts
it. Rules read facts: nothing here writes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.decisions import effective_decision
from feesvc.arrears.models import ArrearsCase, CaseStatus
from feesvc.arrears.pauses import reminder_pause_reason
from feesvc.arrears.service import active_case
from feesvc.attention import UnitReport, report
from feesvc.letters.accounts import Account, UnitFacts, give_orphans_the_current_owner, owners_of, unit_debts
from feesvc.letters.content import BELIEFS
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind
from feesvc.letters.models import DeliveryRecord, EscalationStage, Letter, ReminderHold, Stage
from feesvc.letters.policy import DEFAULT_POLICY, StageRule, letter_kind_for, paper_arrives_by, stage_reached
from feesvc.letters.recipients import Reach, reach, unreachable
from feesvc.limitation.notice import limitation_letter, limitation_unserved, notice_needs
from feesvc.plans.standing import covered_charge_ids
from feesvc.registry.models import Estate, Owner, Unit
from feesvc.service_records.models import Complaint


@dataclass
class Planned:
    facts: UnitFacts
    rule: StageRule
    kind: LetterKind
    owner: Owner
    belief: str | None
    reach: Reach
    former: bool  # the owner's ownership of the unit ended before the run's day


async def estate_policy(session: AsyncSession, estate_id: int) -> tuple[StageRule, ...]:
    rows = (await session.execute(select(EscalationStage).where(EscalationStage.estate_id == estate_id))).scalars()
    rules = tuple(StageRule(Stage(r.stage), r.days_from_due, r.min_overdue_fen, r.cooldown_days) for r in rows)
    return rules or DEFAULT_POLICY


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
    accounts: dict[Account, UnitFacts], covered: set[int], stage_of: Callable[[UnitFacts], StageRule | None]
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
) -> tuple[list[Planned], Counter[str], list[int], dict[Account, UnitFacts]]:
    """Every account's stage and letter, or why it gets none. An account whose case cannot be read,
    or a former owner who cannot be reached, is left out and added to ``unreadable`` with the reason."""
    unreadable = [] if unreadable is None else unreadable
    assert estate.id is not None
    rules = await estate_policy(session, estate.id)
    accounts = await unit_debts(session, estate.id, as_of)
    await give_orphans_the_current_owner(session, accounts, as_of)
    covered = await _covered_by_kept_plans(session, estate.id, as_of)
    paused_by_plan = _set_aside_covered(accounts, covered, lambda f: stage_reached(f.position(as_of), as_of, rules))
    stages = ((facts, stage_reached(facts.position(as_of), as_of, rules)) for facts in accounts.values())
    reached = [(facts, rule) for facts, rule in stages if rule is not None]
    owners = await owners_of(session, sorted({facts.unit_id for facts, _ in reached}), as_of)
    held = await _held(session, estate.id, as_of)
    to_ask = await _units_to_ask(session, estate.id)
    last, explained = await _last_letters(session, estate.id)
    demands = await _final_demands(session, estate.id)
    planned: list[Planned] = []
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
        planned.append(Planned(facts, rule, kind, owner, belief, how, former))
    for (unit_id, owner_id), unserved in expiring.items():  # accounts that reached no stage
        unreadable.append(UnitReport(unit_id, limitation_unserved(owner_id, unserved, "no letter due")))
    return planned, skipped, sorted(legal_review), accounts
