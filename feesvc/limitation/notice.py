"""What the reminder run owes an account whose limitation nears its end: the decision, kept here so
``letters.runs`` only asks. The run gives each account in ``notice_needs`` an interrupting letter
(``limitation_letter``), or lists it for attention with why not (``limitation_unserved``)."""

from __future__ import annotations

from collections.abc import Sequence

from feesvc.letters.kinds import LetterKind
from feesvc.letters.models import Stage
from feesvc.letters.policy import StageRule
from feesvc.limitation.rules import WatchedPeriod, interrupting_kind
from feesvc.limitation.watch import notice_needs

__all__ = ["limitation_letter", "limitation_unserved", "notice_needs"]


def limitation_letter(
    kind: LetterKind | None, rule: StageRule, rules: Sequence[StageRule], hardship: bool
) -> tuple[LetterKind, StageRule]:
    """The letter (and the stage it is numbered and cooled down by) of an account with a period
    nearing expiry: the stage's own letter when it interrupts, else the hardship offer for a
    hardship owner, else a final demand (at the legal-review stage too: a fresh demand, not silence)."""
    chosen = interrupting_kind(kind, hardship)
    if chosen == LetterKind.final_demand and rule.stage != Stage.final_demand:
        rule = next((r for r in rules if r.stage == Stage.final_demand), rule)
    return chosen, rule


def limitation_unserved(owner_id: int | None, need: Sequence[WatchedPeriod], reason: str) -> str:
    """Why an account whose limitation ends soon got no interrupting letter, for "needs attention"."""
    soonest = min(w.limitation.expires_on for w in need)
    periods = ", ".join(w.period.period for w in need)
    return (
        f"limitation of owner #{owner_id}'s {periods} ends {soonest.isoformat()} and no interrupting letter "
        f"was issued ({reason}): "
        "deliver a demand, or record the owner's written acknowledgement or a filing"
    )
