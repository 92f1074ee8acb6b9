"""The arrears API's answers: notes, actions, classifications, overrides, a case with its history."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.actions import current_actions
from feesvc.arrears.decisions import effective_decision
from feesvc.arrears.facts import account_arrears
from feesvc.arrears.models import (
    ArrearsAction,
    ArrearsCase,
    ArrearsClassification,
    ArrearsNote,
    ArrearsOverride,
    CaseStatus,
)
from feesvc.arrears.pauses import reminder_pause_reason
from feesvc.arrears.schemas import (
    ActionOut,
    CaseOut,
    CauseHistoryOut,
    ClassificationOut,
    NoteOut,
    OverrideOut,
)

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
