"""The playbook as dated actions (DOMAIN.md, "Why owners don't pay"): while a case's effective
decision stays the same its actions stay too, so re-classifying does not reset work in progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears import classifier
from feesvc.arrears.classifier import BELIEF_EXPLANATIONS, approach_for
from feesvc.arrears.decisions import Decision
from feesvc.arrears.models import (
    ActionState,
    ArrearsAction,
    ArrearsCase,
    Cause,
)
from feesvc.arrears.schemas import (
    ActionDone,
)
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, NotFound
from feesvc.service_records.models import Complaint
from feesvc.service_records.service import business_date, open_on

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


async def replan(session: AsyncSession, case: ArrearsCase, decision: Decision, today: date) -> None:
    """Replace the case's plan with the decision's, unless the decision is the same as before."""
    assert case.id is not None
    current = await current_actions(session, case.id)
    if current and current[0].basis == decision.basis:
        return
    await supersede_open_actions(session, case.id)
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


async def supersede_open_actions(session: AsyncSession, case_id: int) -> None:
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
