"""Installment plans and the arrears case (07_plans_and_case.pdf): each plan as it stood on the pack
date and what became of it, the case's classifications, overrides and contact notes.
"""

from __future__ import annotations

from typing import Any

from feesvc.evidence.document import F_PLANS, Pack
from feesvc.evidence.statements import plan_statements
from feesvc.evidence.words import (
    CASE_STATUSES,
    CAUSES,
    CLAIMS,
    CONTACTS,
    INSTALLMENT_STATUS,
    PACK_LOCALE,
    PLAN_STATES,
    TREATMENTS,
    day_text,
    moment_text,
    periods_text,
)
from feesvc.formatting import money
from feesvc.plans.schemas import PlanOut
from feesvc.service_records.service import business_date


def _end_reason(plan: PlanOut) -> str:
    if plan.state == "broken":
        late = next((i for i in plan.schedule if i.status == "late"), None)
        if late is not None:
            return (
                f"第{late.number}期（{money(late.amount_fen, PACK_LOCALE)}，应付日 {day_text(late.due_date)}）"
                f"逾期未付超过宽限期，协议于 {day_text(plan.ended_on)} 终止"
            )
    if plan.state == "completed":
        return "涵盖的欠费已全部付清"
    return plan.end_reason or "—"


def plans_context(pack: Pack) -> dict[str, Any]:
    plans = []
    as_of = pack.data.as_of
    for plan in pack.data.plans:
        # As the plan stood on the pack date: one that ended later was still running then.
        ended = plan.ended_on is not None and plan.ended_on <= as_of
        if plan.agreed_on is not None and plan.agreed_on > as_of:
            state = "proposed"
        elif plan.ended_on is not None and not ended:
            state = "active"
        else:
            state = str(plan.state)
        plans.append(
            {
                "id": plan.id,
                "state": PLAN_STATES.get(state, state),
                "treatment": TREATMENTS.get(plan.late_fee_treatment, str(plan.late_fee_treatment)),
                "total_fen": plan.total_fen,
                "paid_fen": plan.paid_fen,
                "installments": plan.installments,
                "frequency": "按月" if plan.frequency == "monthly" else "按季",
                "created": moment_text(plan.created_at),
                "agreed_on": day_text(plan.agreed_on) if plan.agreed_on and plan.agreed_on <= as_of else "未签署",
                "ended_on": day_text(plan.ended_on) if ended else "—",
                "end_reason": _end_reason(plan) if ended else "—",
                "periods": periods_text(plan.periods),
                "note": plan.note,
                "schedule": [
                    {
                        "number": i.number,
                        "due": day_text(i.due_date),
                        "amount_fen": i.amount_fen,
                        "paid_fen": i.paid_fen,
                        "status": INSTALLMENT_STATUS.get(i.status, str(i.status)),
                    }
                    for i in plan.schedule
                ],
            }
        )
    cases = []
    for record in pack.data.cases:
        history = record.history
        cases.append(
            {
                "id": record.case.id,
                "status": CASE_STATUSES.get(record.case.status, str(record.case.status)),
                "status_reason": record.case.status_reason or "—",
                "opened": moment_text(record.case.opened_at),
                "effective": (
                    f"{CAUSES.get(history.effective.category, history.effective.category)}"
                    f"（{'经理认定' if history.effective.source == 'override' else '自动分类'}）"
                    if history.effective
                    else "—"
                ),
                "classifications": [
                    {
                        "as_of": day_text(c.as_of),
                        "category": CAUSES.get(c.category, str(c.category)),
                        "secondary": CAUSES.get(c.secondary, str(c.secondary)) if c.secondary else "—",
                        "confidence": f"{c.confidence:.0%}",
                        "version": c.classifier_version,
                        "by": c.created_by,
                    }
                    for c in sorted(history.history, key=lambda c: c.id)
                    if business_date(c.created_at) <= pack.data.as_of
                ],
                "overrides": [
                    {
                        "at": moment_text(o.created_at),
                        "category": CAUSES.get(o.category, str(o.category)),
                        "reason": o.reason,
                        "by": o.created_by,
                    }
                    for o in sorted(history.overrides, key=lambda o: o.id)
                    if business_date(o.created_at) <= pack.data.as_of
                ],
                "notes": [
                    {
                        "on": day_text(n.noted_on),
                        "kind": CONTACTS.get(n.kind, str(n.kind)),
                        "claim": CLAIMS.get(n.claim, str(n.claim)) if n.claim else "",
                        "text": n.text,
                        "author": n.author,
                    }
                    for n in record.notes
                ],
            }
        )
    assert pack.facts is not None
    return {
        **pack.base(F_PLANS, "分期还款及催收处理记录"),
        "statements": [{"text": f.text, "cites": "；".join(f.cites)} for f in plan_statements(pack.facts)],
        "no_statement": "",
        "signed": any(p.agreed_on is not None for p in pack.facts.plans),
        "plans": plans,
        "cases": cases,
    }
