"""The limitation table (06_limitation.pdf): the three-year clock of each claimed period, its
interruptions and where in the pack each is proved; expired periods in a table apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feesvc.evidence.arrears import totals_row
from feesvc.evidence.document import F_LIMITATION, Pack
from feesvc.evidence.limitation import LimitationStatus
from feesvc.evidence.words import IGNORED, INTERRUPTIONS, PACK_LOCALE, STATUSES, day_text
from feesvc.formatting import period_label
from feesvc.ledger.limitation import InterruptionKind


def _source_text(source: str, register: Mapping[str, int]) -> str:
    """Where an interruption is recorded, as a reference into the pack: "04 序号2", "07 分期协议 #1"."""
    if source.startswith("letter "):
        number = register.get(source[len("letter ") :])
        return f"04 序号{number}" if number else "文书 " + source[len("letter ") :]
    if source.startswith("installment plan "):
        return "07 分期协议 " + source[len("installment plan ") :]
    if source.startswith("acknowledgement #"):
        return "书面确认 " + source[len("acknowledgement ") :] + "（业主签署件存档）"
    if source.startswith("legal filing #"):
        # "legal filing #3 payment_order 某法院 (2026)…号": the court and case number as recorded.
        words = [*source[len("legal filing ") :].split(" ", 2), "", ""]
        return f"{words[2]}（登记{words[0]}）".strip()  # the kind is the interruption's own text
    if source.startswith("payment #"):
        return "缴费记录 " + source[len("payment ") :]
    return source



def _kind_text(kind: InterruptionKind, source: str) -> str:
    """A written confirmation is an acknowledgement, but not a signed plan: say which it is."""
    if kind == InterruptionKind.acknowledgement and source.startswith("acknowledgement #"):
        return "债务承认（书面确认）"
    if kind == InterruptionKind.legal_action and source.startswith("legal filing #"):
        what = source[len("legal filing ") :].split(" ", 2)[1:2]
        return {"suit": "起诉", "payment_order": "申请支付令", "ended": "诉讼程序终结（时效重新计算）"}.get(
            what[0] if what else "", INTERRUPTIONS[kind]
        )
    return INTERRUPTIONS[kind]


def limitation_rows(pack: Pack) -> list[dict[str, Any]]:
    register = {letter.letter_no: number for number, (letter, _) in enumerate(pack.letters, start=1)}
    rows = []
    for p in pack.claim.periods:
        lim = p.limitation
        rows.append(
            {
                "period": period_label(p.period, PACK_LOCALE),
                "period_key": p.period,
                "due": day_text(p.due),
                "interruptions": [
                    {
                        "on": day_text(i.on),
                        "kind": _kind_text(i.kind, i.source),
                        "source": _source_text(i.source, register),
                    }
                    for i in lim.counted
                ],
                "ignored": [
                    {
                        "on": day_text(x.interruption.on),
                        "kind": INTERRUPTIONS[x.interruption.kind],
                        "why": IGNORED.get(x.reason, x.reason),
                    }
                    for x in lim.ignored
                ],
                "clock_start": day_text(lim.clock_start),
                "events_text": "\n".join(
                    f"{day_text(i.on)} {_kind_text(i.kind, i.source)}"
                    + (f"（{_source_text(i.source, register)}）" if i.source else "")
                    for i in lim.counted
                ),
                "ignored_text": "\n".join(
                    f"{day_text(x.interruption.on)} {INTERRUPTIONS[x.interruption.kind]}："
                    f"{IGNORED.get(x.reason, x.reason)}"
                    for x in lim.ignored
                ),
                "expires_on": day_text(lim.expires_on),
                "days_left": lim.days_left,
                "status": lim.status.value,
                "status_text": STATUSES[lim.status],
                "waived_on": day_text(lim.defence_waived_on) if lim.defence_waived_on else None,
                "expired_on": day_text(lim.expired_on) if lim.expired_on else None,
                "principal_fen": p.principal_fen,
                "late_fen": p.late_fen,
            }
        )
    return rows


def limitation_context(pack: Pack) -> dict[str, Any]:
    rows = limitation_rows(pack)
    return {
        **pack.base(F_LIMITATION, "诉讼时效核算"),
        "in_time": [r for r in rows if r["status"] != "expired"],
        "expired": [r for r in rows if r["status"] == "expired"],
        "expired_totals": totals_row(pack.claim.expired),
        "counts": {s.value: sum(1 for r in rows if r["status"] == s.value) for s in LimitationStatus},
    }
