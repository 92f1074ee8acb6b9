"""A case's decisions: the classifier's readings and the managers' overrides, and which one stands.

The effective cause of a case is the latest manager override, else the latest classification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.classifier import Belief
from feesvc.arrears.models import (
    ArrearsCase,
    ArrearsClassification,
    ArrearsOverride,
    Cause,
)
from feesvc.arrears.schemas import (
    EffectiveCause,
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


def decision_of_classification(row: ArrearsClassification) -> Decision:
    return Decision(
        category=row.category,
        secondary=row.secondary,
        belief=_belief(row.approach.get("belief")) or _strongest_belief(row.signals),
        classification_id=row.id,
    )


def decision_of_override(row: ArrearsOverride) -> Decision:
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
        return decision_of_override(override)
    classification = await latest_classification(session, case.id)
    return None if classification is None else decision_of_classification(classification)
