"""Service records and complaints (05_service_record.pdf): the estate's service activity in the
claimed months and the unit's complaints with their handling and the owner's inspection.
"""

from __future__ import annotations

from typing import Any

from feesvc.evidence.document import F_SERVICE, Pack
from feesvc.evidence.statements import complaint_statements, service_statements
from feesvc.evidence.words import (
    ACTIVITY_ORDER,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CHANNELS,
    PACK_LOCALE,
    STEPS,
    moment_text,
)
from feesvc.formatting import period_label
from feesvc.service_records.models import ACTIVITY_LABELS
from feesvc.service_records.service import open_on


def service_context(pack: Pack) -> dict[str, Any]:
    data = pack.data
    labels = ACTIVITY_LABELS["zh"]
    first, last = data.claimed_periods[0], data.claimed_periods[-1]
    recorded = sorted(p for p in data.activity if first <= p <= last)
    months = [
        {
            "period": period_label(period, PACK_LOCALE),
            "counts": [data.activity[period].get(kind.value) for kind in ACTIVITY_ORDER],
            "claimed": period in data.claimed_periods,
        }
        for period in recorded
    ]
    span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    totals = [sum(data.activity.get(p, {}).get(k.value, 0) for p in data.activity) for k in ACTIVITY_ORDER]
    complaints = []
    for complaint, steps in data.complaints:
        inspected = [s for s in steps if s.kind == "inspected"]
        verdict = "—"
        if inspected:
            verdict = "满意" if inspected[-1].satisfied else "不满意"
        complaints.append(
            {
                "opened": moment_text(complaint.opened_at),
                "category": COMPLAINT_CATEGORIES.get(complaint.category, str(complaint.category)),
                "channel": COMPLAINT_CHANNELS.get(complaint.channel, str(complaint.channel)),
                "text": complaint.text,
                "responsible": complaint.responsible or "—",
                "plan_due": moment_text(complaint.plan_due_at),
                "status": "处理中" if open_on(complaint, data.as_of) else "已办结",
                "verdict": verdict,
                "steps": [
                    {
                        "at": moment_text(s.at),
                        "kind": STEPS.get(s.kind, str(s.kind)),
                        "note": s.note,
                        "verdict": "" if s.satisfied is None else ("业主满意" if s.satisfied else "业主不满意"),
                    }
                    for s in steps
                ],
            }
        )
    assert pack.facts is not None
    return {
        **pack.base(F_SERVICE, "物业服务记录及投诉处理"),
        "statements": [
            {"text": f.text, "cites": "；".join(f.cites)}
            for f in (*service_statements(pack.facts), *complaint_statements(pack.facts))
        ],
        "kinds": [labels[k] for k in ACTIVITY_ORDER],
        "months": months,
        "span": span,
        "range": f"{period_label(first, PACK_LOCALE)}至{period_label(last, PACK_LOCALE)}",
        "totals": totals,
        "complaints": complaints,
    }
