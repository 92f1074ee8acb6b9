"""What to do about a case: DOMAIN.md's playbook per cause ("Why owners don't pay"), and for a
misunderstanding the rule that answers the owner's belief."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from feesvc.arrears.case_record import Belief, Category


@dataclass(frozen=True)
class Approach:
    code: str
    summary: str
    actions: tuple[str, ...]
    pause_reminders: bool
    legal_escalation: bool  # may this case go down the legal route (催告函, suit, 支付令) now?
    belief: Belief | None = None
    legal_basis: str | None = None


# belief → (legal basis, the point the explanation letter makes)
BELIEF_EXPLANATIONS: Final[Mapping[Belief, tuple[str, str]]] = {
    Belief.VACANCY: (
        "民法典 944(1)",
        "not using the service does not exempt an owner; a vacant home pays unless the estate has a "
        "vacancy reduction and a vacancy notice was filed",
    ),
    Belief.UNUSED_SERVICE: (
        "民法典 944(1)",
        "the fee pays for the estate's shared services as a whole; not using one of them (the lift, the "
        "clubhouse) does not reduce it",
    ),
    Belief.PUBLIC_REVENUE: (
        "民法典 282",
        "income from shared parts (advertising, parking) belongs to all owners after reasonable costs; "
        "the owners' assembly decides its use and it does not offset one owner's fee",
    ),
    Belief.NO_CONTRACT: (
        "民法典 939, 280",
        "a service contract concluded by the owners' committee after the owners' assembly chose the "
        "company (or the developer's preliminary contract) binds every owner, signed or not",
    ),
    Belief.DEVELOPER_PROMISE: (
        "民法典 465(2)",
        "a sales promise binds the developer, not the service company; the owner can claim it from the "
        "developer, and the fee stays due",
    ),
    Belief.TENANT_PAYS: (
        "物业管理条例 41(1)",
        "an owner may agree that the tenant pays, but the owner stays jointly liable for the fee",
    ),
    Belief.FEE_INCREASE_WITHOUT_VOTE: (
        "民法典 943, 278",
        "a disputed increase is raised with the owners' assembly or the price authority; the fee at the "
        "undisputed rate stays due meanwhile",
    ),
    Belief.FEE_START: (
        "物业管理条例 41(2); 民法典 939",
        "the fee starts at handover or transfer of the home under the service contract, not at move-in "
        "or when the property certificate is issued",
    ),
    Belief.OTHER_FUNDS: (
        "民法典 281",
        "the special maintenance fund (专项维修资金) belongs to the owners and pays only for major repairs "
        "of shared parts; it is not the monthly service fee, and no other charge (parking, heating, the "
        "rent, the purchase price) includes it unless a contract says so",
    ),
}


def approach_for(category: Category, belief: Belief | None = None) -> Approach:
    """The playbook for a category; for a misunderstanding, tailored to the belief."""
    if category is Category.HARDSHIP:
        return Approach(
            code="installment_plan",
            summary="Talk first and offer an installment plan; no legal escalation.",
            actions=(
                "Call or visit the owner to talk first; record the situation (job, illness, business) in the case.",
                "Propose a 3-installment plan (分期还款协议) for the overdue periods, late fees (违约金) waived "
                "while the plan is kept; a manager approves it.",
                "Once the plan is signed, stop reminders for the covered periods.",
                "Do not escalate: no 催告函, lawsuit or payment order while the owner engages.",
            ),
            pause_reminders=True,
            legal_escalation=False,
        )
    if category is Category.SERVICE_DISSATISFACTION:
        return Approach(
            code="rectify_first",
            summary="Verify and fix the service problem, let the owner inspect, then talk about paying.",
            actions=(
                "Verify the owner's complaint on site at once (respond within 15 minutes, feedback within 24 hours).",
                "Send the owner a rectification plan with dates within 24 hours.",
                "Fix it, then invite the owner to inspect the result and record the verdict on the complaint.",
                "Pause payment reminders until the owner has inspected the fix; only then discuss paying.",
            ),
            pause_reminders=True,
            legal_escalation=False,
        )
    if category is Category.MISUNDERSTANDING:
        basis, point = BELIEF_EXPLANATIONS[belief] if belief else ("", "")
        letter = (
            f"Send the explanation letter for '{belief.value}' citing {basis}: {point}; add a comparable case."
            if belief
            else "Send an explanation letter stating the rule behind the fee, with a comparable case."
        )
        return Approach(
            code="explain_rule",
            summary="Explain the rule the owner has wrong, then follow the normal reminder course.",
            actions=(
                "Call the owner: repeat their claim back, clarify the facts calmly.",
                letter,
                "Then follow the normal reminder course.",
            ),
            pause_reminders=False,
            legal_escalation=True,
            belief=belief,
            legal_basis=basis or None,
        )
    return Approach(
        code="standard_reminders",
        summary="No stated reason: standard reminder course, and find out why.",
        actions=(
            "Reach the owner and ask why they have not paid; record their own words in the note.",
            "Follow the standard reminder course, each reminder delivered provably (EMS tracking, SMS record).",
            "Before any suit, send a 催告函 with amount, periods and a deadline (民法典 944(2)).",
        ),
        pause_reminders=False,
        legal_escalation=True,
    )
