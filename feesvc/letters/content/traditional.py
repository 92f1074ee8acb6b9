"""Traditional letters (zh_TW, zh_HK) are Traditional throughout: the record's own text (fee
names, addresses, names of the estate and company, what an owner reported) is stored as entered,
mostly Simplified, and is shown converted, never rewritten.

OpenCC converts phrase by phrase with the Taiwan (``s2tw``) or Hong Kong (``s2hk``) character
standard; it changes characters only, not vocabulary, so a name or an address stays the same name
in the other script. Text already Traditional passes through unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Final

import opencc

from feesvc.letters.content.model import LetterContext

_CONFIGS: Final = {"zh_TW": "s2tw", "zh_HK": "s2hk"}


@lru_cache(maxsize=2)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=65_536)
def traditional(text: str, locale: str) -> str:
    """``text`` in the Traditional script of ``locale``; as it is for zh_CN and en."""
    config = _CONFIGS.get(locale)
    if config is None or not text:
        return text
    return str(_converter(config).convert(text))


def for_display(ctx: LetterContext) -> LetterContext:
    """The letter as a Traditional reader sees it: every recorded text in their script. The stored
    context stays as recorded; zh_CN and en letters are returned as they are."""
    locale = ctx.locale
    if locale not in _CONFIGS:
        return ctx

    def tr(text: str) -> str:
        return traditional(text, locale)

    complaint = ctx.complaint
    if complaint is not None:
        complaint = replace(
            complaint,
            text=tr(complaint.text),
            contact=tr(complaint.contact),
            category=tr(complaint.category),
            steps=tuple(replace(step, action=tr(step.action)) for step in complaint.steps),
        )
    plan = ctx.plan
    if plan is not None:
        plan = replace(plan, late_fee_treatment=tr(plan.late_fee_treatment))
    return replace(
        ctx,
        company=tr(ctx.company),
        estate=tr(ctx.estate),
        estate_address=tr(ctx.estate_address),
        owner_name=tr(ctx.owner_name),
        postal_address=tr(ctx.postal_address),
        unit_label=tr(ctx.unit_label),
        periods=tuple(replace(line, item_name=tr(line.item_name)) for line in ctx.periods),
        service_summary=tuple((tr(label), count) for label, count in ctx.service_summary),
        fee_standards=tuple(
            replace(s, item_name=tr(s.item_name), rate_text=tr(s.rate_text), decision_ref=tr(s.decision_ref))
            for s in ctx.fee_standards
        ),
        late_fee_clause=tr(ctx.late_fee_clause),
        payment=replace(
            ctx.payment,
            desk_address=tr(ctx.payment.desk_address),
            desk_hours=tr(ctx.payment.desk_hours),
            bank_account_name=tr(ctx.payment.bank_account_name),
            bank_name=tr(ctx.payment.bank_name),
        ),
        dispute=replace(
            ctx.dispute, contact=tr(ctx.dispute.contact), complaint_channel=tr(ctx.dispute.complaint_channel)
        ),
        complaint=complaint,
        plan=plan,
    )
