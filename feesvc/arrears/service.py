"""Arrears cases: contact notes, cause classification, manager overrides and the next actions.

The effective cause of a case is the latest manager override, else the latest classification.
Its playbook (DOMAIN.md, "Why owners don't pay") becomes dated actions; while the effective
decision stays the same its actions stay too, so re-classifying does not reset work in progress.
Every write is audit-logged in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears import classifier
from feesvc.arrears.classifier import BELIEF_EXPLANATIONS, Belief, approach_for, classification_as_dict, classify
from feesvc.arrears.facts import account_arrears, case_facts
from feesvc.arrears.models import (
    ActionState,
    ArrearsAction,
    ArrearsCase,
    ArrearsClassification,
    ArrearsNote,
    ArrearsOverride,
    CaseStatus,
    Cause,
)
from feesvc.arrears.schemas import (
    ActionDone,
    ActionOut,
    CaseOut,
    CauseHistoryOut,
    ClassificationOut,
    EffectiveCause,
    NoteCreate,
    NoteOut,
    OverrideCreate,
    OverrideOut,
    StatusChange,
)
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import lock_unit, open_debits
from feesvc.service_records.models import Complaint
from feesvc.service_records.service import business_date, current_owner_id, open_on


def _classifier_version() -> str:
    """The classifier's declared version, else a digest of its rules file (it changes often)."""
    declared = getattr(classifier, "VERSION", None)
    if isinstance(declared, str) and declared:
        return declared[:40]
    digest = hashlib.sha256(Path(classifier.__file__).read_bytes()).hexdigest()
    return f"rules-sha256:{digest[:16]}"


CLASSIFIER_VERSION = _classifier_version()
ACTIVE = (CaseStatus.open, CaseStatus.paused, CaseStatus.legal_review)


# ---------------------------------------------------------------------------------------------
# Cases and notes
# ---------------------------------------------------------------------------------------------


async def active_case(session: AsyncSession, unit_id: int, owner_id: int | None = None) -> ArrearsCase | None:
    """The case of an owner's account at the unit that is not resolved (there is at most one per
    account); without ``owner_id``, the unit's latest such case, whoever's it is."""
    query = select(ArrearsCase).where(ArrearsCase.unit_id == unit_id, col(ArrearsCase.status).in_(ACTIVE))
    if owner_id is not None:
        query = query.where(ArrearsCase.owner_id == owner_id)
    return (await session.execute(query.order_by(col(ArrearsCase.id).desc()).limit(1))).scalars().first()


async def open_case(
    session: AsyncSession, actor: Principal, unit_id: int, today: date, owner_id: int | None = None
) -> tuple[ArrearsCase, bool]:
    """The open case of an owner's account at the unit, opened now if there is none; True when it
    was created. A case is one owner's: after a sale the seller and the buyer each have their own.
    Without ``owner_id``: the current owner's account when they owe anything, else the account of
    the latest overdue period."""
    # Holding the unit row makes two clerks opening a case at once get the same one.
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    overdue = [d for d in await open_debits(session, unit_id, today) if d.debt_due < today]
    debtor = await _debtor(session, unit_id, overdue, today) if owner_id is None else owner_id
    existing = await active_case(session, unit_id, debtor)
    if existing is not None:
        await session.commit()  # ends the transaction that holds the unit row; nothing was written
        return existing, False
    if owner_id is not None:
        overdue = [d for d in overdue if d.owner_id == owner_id]
    if sum(d.open_fen for d in overdue) <= 0:
        whose = "" if owner_id is None else f" for owner {owner_id}"
        raise Conflict(
            f"unit {unit_id} has nothing overdue{whose}: no arrears case to open",
            field="unit_id" if owner_id is None else "owner_id",
        )
    case = ArrearsCase(
        estate_id=unit.estate_id, unit_id=unit_id, owner_id=debtor, status=CaseStatus.open, opened_by=actor.label
    )
    session.add(case)
    await session.flush()
    await record_audit(
        session, actor, "arrears_case.open", "arrears_case", case.id, {"unit_id": unit_id, "owner_id": debtor}
    )
    await session.commit()
    return case, True


async def _debtor(session: AsyncSession, unit_id: int, overdue: Sequence[OpenDebit], today: date) -> int | None:
    """Whom the case is about: arrears stay with the owner of the period, so after a sale the
    seller may be the one who owes. The current owner when they owe anything, else the owner of
    the latest overdue period."""
    debts = sorted(overdue, key=lambda d: d.debt_due)
    query = select(LedgerEntry.id, LedgerEntry.owner_id).where(col(LedgerEntry.id).in_([d.debt_id for d in debts]))
    owner_of = {entry_id: owner_id for entry_id, owner_id in (await session.execute(query)).all()}
    owing = [owner_of.get(d.debt_id) for d in debts if owner_of.get(d.debt_id) is not None]
    current = await current_owner_id(session, unit_id, today)
    if current in owing or not owing:
        return current
    return owing[-1]


async def get_case(session: AsyncSession, case_id: int) -> ArrearsCase:
    case = await session.get(ArrearsCase, case_id)
    if case is None:
        raise NotFound(f"arrears case {case_id} does not exist")
    return case


async def unit_case(session: AsyncSession, unit_id: int, owner_id: int | None = None) -> ArrearsCase:
    case = await active_case(session, unit_id, owner_id)
    if case is None:
        whose = "" if owner_id is None else f" for owner {owner_id}"
        raise NotFound(f"unit {unit_id} has no open arrears case{whose}")
    return case


def _require_active(case: ArrearsCase) -> None:
    if case.status is CaseStatus.resolved:
        raise Conflict(f"arrears case {case.id} is resolved; open a new one", field="status")


async def add_note(session: AsyncSession, actor: Principal, case_id: int, data: NoteCreate, today: date) -> ArrearsNote:
    case = await get_case(session, case_id)
    _require_active(case)
    if not data.text.strip():
        raise InvalidInput("the note says nothing", field="text")
    noted_on = data.noted_on or today
    if noted_on > today:
        raise InvalidInput("a contact note cannot be dated in the future", field="noted_on")
    note = ArrearsNote(
        case_id=case_id,
        kind=data.kind,
        noted_on=noted_on,
        text=data.text.strip(),
        claim=data.claim,
        author=(data.author or actor.name).strip(),
        recorded_by=actor.label,
    )
    session.add(note)
    await session.flush()
    await record_audit(
        session,
        actor,
        "arrears_case.note",
        "arrears_case",
        case_id,
        {"note_id": note.id, "kind": data.kind, "claim": data.claim, "noted_on": noted_on.isoformat()},
    )
    await session.commit()
    return note


async def change_status(
    session: AsyncSession, actor: Principal, case_id: int, data: StatusChange, now: datetime
) -> ArrearsCase:
    case = await get_case(session, case_id)
    _require_active(case)
    reason = data.reason.strip()
    if len(reason) < 2:
        raise InvalidInput("say why the status changes", field="reason")
    if data.status is case.status:
        raise Conflict(f"arrears case {case_id} is {case.status} already", field="status")
    if data.status is CaseStatus.legal_review:
        await _check_legal_route(session, case)
    before = case.status
    case.status = data.status
    case.status_reason = reason
    case.status_changed_at = now
    if data.status is CaseStatus.resolved:
        await _supersede_open_actions(session, case_id)
    await record_audit(
        session,
        actor,
        "arrears_case.status",
        "arrears_case",
        case_id,
        {"from": before, "to": data.status, "reason": reason},
    )
    await session.commit()
    return case


async def _check_legal_route(session: AsyncSession, case: ArrearsCase) -> None:
    """Hardship and service complaints are talked through, not taken to court (DOMAIN.md)."""
    decision = await effective_decision(session, case)
    if decision is not None and not decision.legal_escalation:
        raise Conflict(
            f"the effective cause is {decision.category.value}"
            + (f" (secondary {decision.secondary.value})" if decision.secondary else "")
            + ": no legal escalation; a manager can override the cause with a reason first",
            field="status",
        )


# ---------------------------------------------------------------------------------------------
# Decisions: classifications and overrides
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The effective cause of a case and where it came from."""

    category: Cause
    secondary: Cause | None
    belief: Belief | None
    classification_id: int | None = None
    override_id: int | None = None

    @property
    def basis(self) -> str:
        belief = self.belief.value if self.belief and self.category is Cause.misunderstanding else ""
        return f"{self.category.value}|{self.secondary.value if self.secondary else ''}|{belief}"

    @property
    def legal_escalation(self) -> bool:
        gentle = {Cause.hardship, Cause.service_dissatisfaction}
        return self.category not in gentle and self.secondary is not Cause.hardship

    @property
    def source(self) -> EffectiveCause:
        if self.override_id is not None:
            return EffectiveCause(self.category, self.secondary, "override", self.override_id)
        assert self.classification_id is not None
        return EffectiveCause(self.category, self.secondary, "classification", self.classification_id)


def _belief(value: object) -> Belief | None:
    try:
        return Belief(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _strongest_belief(signals: Sequence[dict[str, Any]]) -> Belief | None:
    """The misunderstanding the owner voiced most strongly, even if it was not the main cause."""
    weights: dict[Belief, float] = {}
    for signal in signals:
        belief = _belief(signal.get("belief"))
        if belief is not None and signal.get("cause") == Cause.misunderstanding.value:
            weights[belief] = weights.get(belief, 0.0) + float(signal.get("weight") or 0)
    return max(weights, key=lambda b: weights[b]) if weights else None


def _from_classification(row: ArrearsClassification) -> Decision:
    return Decision(
        category=row.category,
        secondary=row.secondary,
        belief=_belief(row.approach.get("belief")) or _strongest_belief(row.signals),
        classification_id=row.id,
    )


def _from_override(row: ArrearsOverride) -> Decision:
    return Decision(category=row.category, secondary=row.secondary, belief=_belief(row.belief), override_id=row.id)


async def latest_classification(session: AsyncSession, case_id: int) -> ArrearsClassification | None:
    query = select(ArrearsClassification).where(ArrearsClassification.case_id == case_id)
    return (await session.execute(query.order_by(col(ArrearsClassification.id).desc()).limit(1))).scalars().first()


async def latest_override(session: AsyncSession, case_id: int) -> ArrearsOverride | None:
    query = select(ArrearsOverride).where(ArrearsOverride.case_id == case_id)
    return (await session.execute(query.order_by(col(ArrearsOverride.id).desc()).limit(1))).scalars().first()


async def effective_decision(session: AsyncSession, case: ArrearsCase) -> Decision | None:
    assert case.id is not None
    override = await latest_override(session, case.id)
    if override is not None:
        return _from_override(override)
    classification = await latest_classification(session, case.id)
    return None if classification is None else _from_classification(classification)


async def effective_cause(session: AsyncSession, unit_id: int, owner_id: int | None = None) -> str | None:
    """The cause the reports group an account's arrears by: of its open case, the latest override,
    else the latest classification; None when it has no open case or it is unclassified. Without
    ``owner_id``: the unit's latest open case, whoever's it is."""
    case = await active_case(session, unit_id, owner_id)
    decision = None if case is None else await effective_decision(session, case)
    return None if decision is None else decision.category.value


async def classify_case(session: AsyncSession, actor: Principal, case_id: int, today: date) -> ArrearsClassification:
    """Run the classifier on the case as it stands today and keep the result beside the earlier ones."""
    case = await get_case(session, case_id)
    _require_active(case)
    facts, summary = await case_facts(session, case, today)
    result = classify(facts, today)
    shown = classification_as_dict(facts.id, result)
    row = ArrearsClassification(
        case_id=case_id,
        category=Cause(result.category.value),
        secondary=None if result.secondary is None else Cause(result.secondary.value),
        confidence=result.confidence,
        as_of=today,
        signals=shown["signals"],
        approach=shown["approach"],
        scores={cause.value: score for cause, score in result.scores},
        facts=summary,
        classifier_version=CLASSIFIER_VERSION,
        created_by=actor.label,
    )
    session.add(row)
    await session.flush()
    # A manager's override stands until another override: the new result is history only.
    if await latest_override(session, case_id) is None:
        await _replan(session, case, _from_classification(row), today)
    await record_audit(
        session,
        actor,
        "arrears_case.classify",
        "arrears_case",
        case_id,
        {
            "classification_id": row.id,
            "category": row.category,
            "secondary": row.secondary,
            "confidence": row.confidence,
            "classifier_version": CLASSIFIER_VERSION,
        },
    )
    await session.commit()
    return row


async def override_cause(
    session: AsyncSession, actor: Principal, case_id: int, data: OverrideCreate, today: date
) -> ArrearsOverride:
    case = await get_case(session, case_id)
    _require_active(case)
    reason = _check_override(data)
    latest = await latest_classification(session, case_id)
    belief = data.belief
    if belief is None and data.category is Cause.misunderstanding and latest is not None:
        belief = _from_classification(latest).belief
    row = ArrearsOverride(
        case_id=case_id,
        category=data.category,
        secondary=data.secondary,
        belief=belief.value if belief and data.category is Cause.misunderstanding else None,
        reason=reason,
        classification_id=None if latest is None else latest.id,
        created_by=actor.label,
    )
    session.add(row)
    await session.flush()
    await _replan(session, case, _from_override(row), today)
    await record_audit(
        session,
        actor,
        "arrears_case.override",
        "arrears_case",
        case_id,
        {
            "override_id": row.id,
            "category": row.category,
            "secondary": row.secondary,
            "reason": reason,
            "classification_id": row.classification_id,
            "classified_as": None if latest is None else latest.category,
        },
    )
    await session.commit()
    return row


def _check_override(data: OverrideCreate) -> str:
    reason = data.reason.strip()
    if len(reason) < 2:
        raise InvalidInput("an override needs a reason", field="reason")
    if data.secondary is Cause.unknown:
        raise InvalidInput("a secondary cause is one of the three causes, never unknown", field="secondary")
    if data.secondary is data.category:
        raise InvalidInput("the secondary cause must differ from the category", field="secondary")
    if data.category is Cause.unknown and data.secondary is not None:
        raise InvalidInput("an unknown cause has no secondary cause", field="secondary")
    if data.belief is not None and data.category is not Cause.misunderstanding:
        raise InvalidInput("a belief goes with the misunderstanding category only", field="belief")
    return reason


# ---------------------------------------------------------------------------------------------
# The playbook as dated actions
# ---------------------------------------------------------------------------------------------


RECORD_COMPLAINT = "record_complaint"


@dataclass(frozen=True)
class PlannedAction:
    code: str
    text: str
    due_on: date | None  # None: a standing instruction
    pauses_reminders: bool = False


def playbook(decision: Decision, open_complaints: Sequence[Complaint], today: date) -> list[PlannedAction]:
    """DOMAIN.md's approach for the decision, as next actions due from ``today``."""
    plan = {
        Cause.hardship: _hardship_actions,
        Cause.service_dissatisfaction: _dissatisfaction_actions,
        Cause.misunderstanding: _misunderstanding_actions,
        Cause.unknown: _unknown_actions,
    }[decision.category](decision, open_complaints, today)
    if decision.secondary is not None and decision.secondary is not decision.category:
        plan.append(_secondary_action(decision))
    return plan


def _hardship_actions(decision: Decision, _: Sequence[Complaint], today: date) -> list[PlannedAction]:
    return [
        PlannedAction(
            "talk_first",
            "Call or visit the owner to talk first; record the situation (job, illness, business) in a note.",
            today + timedelta(days=1),
        ),
        PlannedAction(
            "propose_installment_plan",
            "Propose a 3-installment plan (分期还款协议) for the overdue periods with late fees (违约金) waived "
            "while it is kept; a manager approves it. Reminders wait until it is proposed.",
            today + timedelta(days=3),
            pauses_reminders=True,
        ),
        PlannedAction(
            "no_legal_escalation",
            "No legal escalation: no 催告函, lawsuit or payment order while the owner engages.",
            None,
        ),
    ]


def _dissatisfaction_actions(
    decision: Decision, open_complaints: Sequence[Complaint], today: date
) -> list[PlannedAction]:
    if open_complaints:
        numbers = ", ".join(f"#{c.id}" for c in open_complaints)
        first = PlannedAction(
            "verify_complaint",
            f"Verify complaint {numbers} on site at once (respond within 15 minutes, feedback within 24 hours).",
            today,
        )
        waiting = [c for c in open_complaints if c.plan_given_at is None]
        plan_due = min((business_date(c.plan_due_at) for c in waiting), default=today + timedelta(days=1))
    else:
        # Reminders wait until the complaint is on file; from then on the complaint itself holds
        # them until the owner has inspected the fix.
        first = PlannedAction(
            RECORD_COMPLAINT,
            "Record the owner's complaint (what, where) so the 24-hour rectification clock runs, and verify it "
            "on site at once.",
            today,
            pauses_reminders=True,
        )
        plan_due = today + timedelta(days=1)
    return [
        first,
        PlannedAction(
            "rectification_plan",
            "Give the owner a rectification plan with dates within 24 hours.",
            max(plan_due, today),
        ),
        PlannedAction(
            "invite_inspection",
            "Fix it, then invite the owner to inspect the result and record the verdict on the complaint; "
            "reminders pause until the owner has inspected the fix.",
            today + timedelta(days=7),
        ),
        PlannedAction(
            "discuss_payment_after_inspection",
            "Only after the owner has inspected the fix, talk about paying; follow up afterwards.",
            None,
        ),
    ]


def _misunderstanding_actions(decision: Decision, _: Sequence[Complaint], today: date) -> list[PlannedAction]:
    if decision.belief is not None:
        basis, point = BELIEF_EXPLANATIONS[decision.belief]
        letter = (
            f"Send the explanation letter for '{decision.belief.value}' citing {basis}: {point}; add a comparable case."
        )
    else:
        letter = "Send an explanation letter stating the rule behind the fee, with a comparable case."
    return [
        PlannedAction(
            "clarify_facts",
            "Call the owner: repeat their claim back and clarify the facts calmly.",
            today + timedelta(days=1),
        ),
        PlannedAction("explanation_letter", letter, today + timedelta(days=3)),
        PlannedAction(
            "normal_course", "Then follow the normal reminder course, delivered provably.", today + timedelta(days=10)
        ),
    ]


def _unknown_actions(decision: Decision, _: Sequence[Complaint], today: date) -> list[PlannedAction]:
    return [
        PlannedAction(
            "ask_reason",
            "Reach the owner and ask why they have not paid; record their own words in a note.",
            today + timedelta(days=3),
        ),
        PlannedAction(
            "standard_reminders",
            "Follow the standard reminder course, each reminder delivered provably (EMS tracking, SMS record).",
            today + timedelta(days=7),
        ),
        PlannedAction(
            "demand_before_suit",
            "Before any suit or arbitration, send a 催告函 with the amount, the periods and a deadline "
            "(民法典 944(2)).",
            None,
        ),
    ]


def _secondary_action(decision: Decision) -> PlannedAction:
    assert decision.secondary is not None
    text = {
        Cause.hardship: "The owner also named money trouble: when paying is discussed, offer a 3-installment plan "
        "with late fees waived; no legal escalation.",
        Cause.service_dissatisfaction: "The owner also complained about the service: record the complaint and "
        "give a rectification plan within 24 hours.",
        Cause.misunderstanding: "The owner also holds a mistaken belief about the fee: explain the rule ("
        + (approach_for(classifier.Category.MISUNDERSTANDING, decision.belief).legal_basis or "the fee standard")
        + ").",
    }.get(decision.secondary, "")
    return PlannedAction(f"secondary_{decision.secondary.value}", text, None)


async def _open_complaints(session: AsyncSession, case: ArrearsCase, today: date) -> list[Complaint]:
    query = select(Complaint).where(Complaint.unit_id == case.unit_id, col(Complaint.closed_at).is_(None))
    if case.owner_id is not None:
        query = query.where(Complaint.owner_id == case.owner_id)
    rows = (await session.execute(query.order_by(col(Complaint.id)))).scalars()
    return [c for c in rows if open_on(c, today)]


async def _replan(session: AsyncSession, case: ArrearsCase, decision: Decision, today: date) -> None:
    """Replace the case's plan with the decision's, unless the decision is the same as before."""
    assert case.id is not None
    current = await current_actions(session, case.id)
    if current and current[0].basis == decision.basis:
        return
    await _supersede_open_actions(session, case.id)
    planned = playbook(decision, await _open_complaints(session, case, today), today)
    for seq, action in enumerate(planned, start=1):
        session.add(
            ArrearsAction(
                case_id=case.id,
                classification_id=decision.classification_id,
                override_id=decision.override_id,
                basis=decision.basis,
                seq=seq,
                code=action.code,
                text=action.text[:500],
                due_on=action.due_on,
                pauses_reminders=action.pauses_reminders,
                state=ActionState.open,
            )
        )
    await session.flush()


async def _supersede_open_actions(session: AsyncSession, case_id: int) -> None:
    query = select(ArrearsAction).where(ArrearsAction.case_id == case_id, ArrearsAction.state == ActionState.open)
    for action in (await session.execute(query)).scalars():
        action.state = ActionState.superseded


async def current_actions(session: AsyncSession, case_id: int) -> list[ArrearsAction]:
    """The plan in force: the actions of the latest decision that were not superseded, in order
    (done ones from an earlier plan stay in the database, not in the plan)."""
    query = (
        select(ArrearsAction)
        .where(ArrearsAction.case_id == case_id, ArrearsAction.state != ActionState.superseded)
        .order_by(col(ArrearsAction.id))
    )
    actions = list((await session.execute(query)).scalars())
    if not actions:
        return []
    latest = (actions[-1].classification_id, actions[-1].override_id)
    return sorted(
        (a for a in actions if (a.classification_id, a.override_id) == latest),
        key=lambda a: a.seq,
    )


async def mark_action_done(
    session: AsyncSession, actor: Principal, action_id: int, data: ActionDone, now: datetime
) -> ArrearsAction:
    action = await session.get(ArrearsAction, action_id)
    if action is None:
        raise NotFound(f"action {action_id} does not exist")
    if action.state is not ActionState.open:
        raise Conflict(f"action {action_id} is {action.state} already", field="state")
    if action.due_on is None:
        raise Conflict("a standing instruction is followed, not done", field="state")
    action.state = ActionState.done
    action.done_at = now
    action.done_by = actor.label
    action.done_note = data.note.strip()
    await record_audit(
        session,
        actor,
        "arrears_case.action_done",
        "arrears_case",
        action.case_id,
        {"action_id": action_id, "code": action.code},
    )
    await session.commit()
    return action


# ---------------------------------------------------------------------------------------------
# For the reminder run
# ---------------------------------------------------------------------------------------------


async def reminder_pause_reason(
    session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None = None
) -> str | None:
    """Why no payment reminder may go to this owner at the unit on ``as_of``, or None; without
    ``owner_id``, to the unit's current owner (a case of any owner of the unit counts then).

    In order: a manager's hold on the case; an open complaint of the owner (DOMAIN.md: reminders
    pause until the owner has inspected the fix); a pending step of the case's plan that holds
    reminders (a hardship case's installment offer, a dissatisfied owner's inspection).
    Complaints are read as they stood on ``as_of``; the case and its actions as they are now.
    """
    case = await active_case(session, unit_id, owner_id)
    if case is not None and case.status is CaseStatus.paused:
        return f"case #{case.id} paused by manager hold: {case.status_reason}"
    complaint_reason = await _complaint_pause(session, unit_id, as_of, owner_id)
    if complaint_reason is not None:
        return complaint_reason
    if case is not None:
        return await _action_pause(session, case, as_of)
    return None


async def _complaint_pause(session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None) -> str | None:
    if owner_id is None:
        owner_id = await current_owner_id(session, unit_id, as_of)
    query = select(Complaint).where(Complaint.unit_id == unit_id)
    if owner_id is not None:
        query = query.where(Complaint.owner_id == owner_id)
    for complaint in (await session.execute(query.order_by(col(Complaint.opened_at), col(Complaint.id)))).scalars():
        if not open_on(complaint, as_of):
            continue
        if complaint.owner_satisfied is False and complaint.inspected_at is not None:
            inspected = business_date(complaint.inspected_at).isoformat()
            return (
                f"open complaint #{complaint.id} ({complaint.category.value}): the owner was not satisfied with "
                f"the fix inspected on {inspected}"
            )
        return f"open complaint #{complaint.id} ({complaint.category.value}) not yet inspected by the owner"
    return None


async def _action_pause(session: AsyncSession, case: ArrearsCase, as_of: date) -> str | None:
    assert case.id is not None
    for action in await current_actions(session, case.id):
        if action.state is not ActionState.open or not action.pauses_reminders:
            continue
        if business_date(action.created_at) > as_of:
            continue
        if action.code == RECORD_COMPLAINT and await _complaint_filed_since(session, case, action.created_at, as_of):
            continue  # done in effect: the complaint now holds the reminders until it is inspected
        cause = action.basis.split("|", 1)[0]
        return f"case #{case.id} ({cause}): waiting for '{action.code}' due {action.due_on}"
    return None


async def _complaint_filed_since(session: AsyncSession, case: ArrearsCase, since: datetime, as_of: date) -> bool:
    query = select(Complaint.opened_at).where(Complaint.unit_id == case.unit_id, col(Complaint.created_at) >= since)
    if case.owner_id is not None:
        query = query.where(Complaint.owner_id == case.owner_id)
    return any(business_date(opened) <= as_of for opened in (await session.execute(query)).scalars())


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def note_out(note: ArrearsNote) -> NoteOut:
    assert note.id is not None
    return NoteOut(
        id=note.id,
        case_id=note.case_id,
        kind=note.kind,
        noted_on=note.noted_on,
        text=note.text,
        claim=note.claim,
        author=note.author,
    )


def action_out(action: ArrearsAction) -> ActionOut:
    assert action.id is not None
    return ActionOut(
        id=action.id,
        seq=action.seq,
        code=action.code,
        text=action.text,
        due_on=action.due_on,
        pauses_reminders=action.pauses_reminders,
        state=action.state,
        source="override" if action.override_id is not None else "classification",
        done_at=action.done_at,
        done_note=action.done_note,
    )


def classification_out(row: ArrearsClassification) -> ClassificationOut:
    assert row.id is not None
    return ClassificationOut(
        id=row.id,
        category=row.category,
        secondary=row.secondary,
        confidence=row.confidence,
        as_of=row.as_of,
        signals=row.signals,
        approach=row.approach,
        scores=row.scores,
        facts=row.facts,
        classifier_version=row.classifier_version,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def override_out(row: ArrearsOverride) -> OverrideOut:
    assert row.id is not None
    return OverrideOut(
        id=row.id,
        category=row.category,
        secondary=row.secondary,
        belief=row.belief,
        reason=row.reason,
        classification_id=row.classification_id,
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def cause_history(session: AsyncSession, case: ArrearsCase) -> CauseHistoryOut:
    assert case.id is not None
    classifications = (
        await session.execute(
            select(ArrearsClassification)
            .where(ArrearsClassification.case_id == case.id)
            .order_by(col(ArrearsClassification.id).desc())
        )
    ).scalars()
    history = [classification_out(row) for row in classifications]
    overrides = (
        await session.execute(
            select(ArrearsOverride).where(ArrearsOverride.case_id == case.id).order_by(col(ArrearsOverride.id).desc())
        )
    ).scalars()
    decision = await effective_decision(session, case)
    return CauseHistoryOut(
        case_id=case.id,
        effective=None if decision is None else decision.source,
        latest=history[0] if history else None,
        history=history,
        overrides=[override_out(row) for row in overrides],
        actions=[action_out(a) for a in await current_actions(session, case.id)],
    )


async def case_out(session: AsyncSession, case: ArrearsCase, today: date) -> CaseOut:
    assert case.id is not None
    notes = (
        await session.execute(
            select(ArrearsNote)
            .where(ArrearsNote.case_id == case.id)
            .order_by(col(ArrearsNote.noted_on), col(ArrearsNote.id))
        )
    ).scalars()
    arrears = await account_arrears(session, case, today)
    decision = await effective_decision(session, case)
    active = case.status is not CaseStatus.resolved
    return CaseOut(
        id=case.id,
        estate_id=case.estate_id,
        unit_id=case.unit_id,
        owner_id=case.owner_id,
        status=case.status,
        status_reason=case.status_reason,
        opened_at=case.opened_at,
        overdue_fen=arrears.amount_fen,
        months_overdue=len(arrears.periods),
        effective=None if decision is None else decision.source,
        reminder_pause_reason=(
            await reminder_pause_reason(session, case.unit_id, today, case.owner_id) if active else None
        ),
        notes=[note_out(n) for n in notes],
        actions=[action_out(a) for a in await current_actions(session, case.id)],
    )
