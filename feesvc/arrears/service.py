"""Arrears cases: opening one, contact notes, status, and the writes that decide its cause (a
classification, a manager's override), each of which re-plans the case's actions.

Beside it: ``decisions`` (which decision stands), ``actions`` (the playbook as dated actions),
``pauses`` (what holds the reminder run back) and ``views`` (the API's answers). Every write is
audit-logged in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears import classifier
from feesvc.arrears.actions import replan, supersede_open_actions
from feesvc.arrears.classifier import classification_as_dict, classify
from feesvc.arrears.decisions import (
    decision_of_classification,
    decision_of_override,
    effective_decision,
    latest_classification,
    latest_override,
)
from feesvc.arrears.facts import case_facts
from feesvc.arrears.models import (
    ArrearsCase,
    ArrearsClassification,
    ArrearsNote,
    ArrearsOverride,
    CaseStatus,
    Cause,
)
from feesvc.arrears.schemas import (
    NoteCreate,
    OverrideCreate,
    StatusChange,
)
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import lock_unit, open_debits
from feesvc.service_records.service import current_owner_id


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


async def effective_cause(session: AsyncSession, unit_id: int, owner_id: int | None = None) -> str | None:
    """The cause the reports group an account's arrears by: of its open case, the latest override,
    else the latest classification; None when it has no open case or it is unclassified. Without
    ``owner_id``: the unit's latest open case, whoever's it is."""
    case = await active_case(session, unit_id, owner_id)
    decision = None if case is None else await effective_decision(session, case)
    return None if decision is None else decision.category.value


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
        await supersede_open_actions(session, case_id)
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
# Decisions: the classifier's reading and a manager's override
# ---------------------------------------------------------------------------------------------


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
        await replan(session, case, decision_of_classification(row), today)
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
        belief = decision_of_classification(latest).belief
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
    await replan(session, case, decision_of_override(row), today)
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
