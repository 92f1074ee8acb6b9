"""The kinds of letter feesvc prints and sends, in the order an owner may meet them.

Each kind has one template, ``letters/letter_<kind>.html``, and one short message (SMS, WeChat,
e-mail) of the same stage, both built by :mod:`feesvc.letters.content`.

================== ===========================================================================
kind               what it is for (DOMAIN.md, "Reminders and letters", "Why owners don't pay")
================== ===========================================================================
payment_notice     缴费须知 for a new owner: when billing starts, how and where to pay, prepay offer
pre_due_notice     before the due date, owner up to date: the amount and date, the prepay offer
friendly_reminder  warm reminder with the period's service summary (保洁 30 次、维修 15 次)
formal_reminder    催缴通知: the open periods and amounts, a request to pay, an offer to talk
final_demand       催告函: amount, periods, a deadline and that suit or arbitration may follow;
                   nothing else (民法典 944(2))
hardship_offer     an installment plan proposal; no legal action while it is kept
explanation        the rule behind a misunderstanding (vacancy → 民法典 944, …) with a case
rectification_reply reply to a complaint: rectification plan with times, invitation to inspect
plan_agreement     the installment plan agreement (分期缴费协议) for both parties to sign
================== ===========================================================================
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["LEGAL_STAGE", "PAYMENT_REQUEST_KINDS", "LetterKind", "template_for"]


class LetterKind(StrEnum):
    payment_notice = "payment_notice"
    pre_due_notice = "pre_due_notice"
    friendly_reminder = "friendly_reminder"
    formal_reminder = "formal_reminder"
    final_demand = "final_demand"
    hardship_offer = "hardship_offer"
    explanation = "explanation"
    rectification_reply = "rectification_reply"
    plan_agreement = "plan_agreement"


#: Kinds that ask for overdue money; a case whose reminders are paused (hardship, an open
#: complaint) gets none of these.
PAYMENT_REQUEST_KINDS: Final = frozenset(
    {LetterKind.friendly_reminder, LetterKind.formal_reminder, LetterKind.final_demand}
)

#: The demand that must precede suit or arbitration (民法典 944(2)); its delivery must be provable.
LEGAL_STAGE: Final = LetterKind.final_demand


def template_for(kind: LetterKind | str) -> str:
    """The template file of a kind, relative to ``letters/``: "letter_final_demand.html"."""
    return f"letter_{LetterKind(kind).value}.html"
