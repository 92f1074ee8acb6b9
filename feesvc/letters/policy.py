"""Which letter a unit gets on a run day. Pure functions over plain data.

A unit's stage is the highest stage its oldest unpaid due date has reached (all its overdue
periods go into one letter); the case's cause then picks the kind: hardship gets an installment
offer and never legal escalation, a misunderstanding gets its explanation letter once, the rest
follow the normal course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from feesvc.letters.kinds import LetterKind
from feesvc.letters.models import Stage

STAGE_ORDER = (Stage.pre_due, Stage.friendly, Stage.formal, Stage.final_demand, Stage.legal_review)


@dataclass(frozen=True)
class StageRule:
    stage: Stage
    days_from_due: int
    min_overdue_fen: int = 0
    cooldown_days: int = 30


DEFAULT_POLICY = (
    StageRule(Stage.pre_due, -3, 0, 25),
    StageRule(Stage.friendly, 15, 0, 25),
    StageRule(Stage.formal, 45, 0, 25),
    StageRule(Stage.final_demand, 90, 0, 60),
    StageRule(Stage.legal_review, 120, 0, 90),
)


@dataclass(frozen=True)
class Position:
    """What the ledger says of one unit at the moment of the run."""

    unit_id: int
    oldest_overdue_due: date | None
    overdue_fen: int
    next_unpaid_due: date | None = None


def stage_reached(position: Position, as_of: date, rules: tuple[StageRule, ...]) -> StageRule | None:
    if position.overdue_fen > 0 and position.oldest_overdue_due is not None:
        days = (as_of - position.oldest_overdue_due).days
        reached = [
            r
            for r in rules
            if r.days_from_due >= 0 and days >= r.days_from_due and position.overdue_fen >= r.min_overdue_fen
        ]
        return max(reached, key=lambda r: STAGE_ORDER.index(r.stage), default=None)
    if position.next_unpaid_due is not None:
        days_to_due = (position.next_unpaid_due - as_of).days
        for rule in rules:
            if rule.stage == Stage.pre_due and 0 <= days_to_due <= -rule.days_from_due:
                return rule
    return None


def paper_arrives_by(issued_on: date, due_on: date | None, lead_days: int) -> bool:
    """Whether a paper letter issued on ``issued_on`` reaches the owner by ``due_on``, taking the
    estate's ``lead_days`` (a pre-due notice arriving after the due date is no notice)."""
    return due_on is not None and (due_on - issued_on).days >= lead_days


def letter_kind_for(stage: Stage, cause: str | None, explained: bool) -> LetterKind | None:
    """The letter for a stage given the case's cause; None when the stage sends no letter."""
    if stage == Stage.pre_due:
        return LetterKind.pre_due_notice
    if cause == "hardship":
        # Hardship: talk and offer a plan; never escalate to legal action (DOMAIN.md).
        return LetterKind.hardship_offer
    if stage == Stage.legal_review:
        return None
    if cause == "misunderstanding" and not explained:
        return LetterKind.explanation
    return {
        Stage.friendly: LetterKind.friendly_reminder,
        Stage.formal: LetterKind.formal_reminder,
        Stage.final_demand: LetterKind.final_demand,
    }[stage]
