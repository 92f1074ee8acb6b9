"""The pack's statements of fact, each chosen from recorded facts and citing where the pack shows them.

DOMAIN.md "What documents may say": "经原告催告" needs a delivered demand; "在合理期限内仍未缴纳"
needs that demand's deadline to have passed; "complaints were handled" needs complaints closed with
the owner's acceptance; what a court wants and the record lacks is listed as to be supplied (待补充).
Plain functions over ``facts.Facts``: no database, no documents, so each sentence can be checked alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from feesvc.evidence.document import F_DEMANDS, F_LETTERS, F_PARTIES, F_PLANS, F_SERVICE
from feesvc.evidence.facts import ComplaintFact, DemandFact, Facts
from feesvc.evidence.words import periods_text


@dataclass(frozen=True)
class Statement:
    text: str
    cites: tuple[str, ...]  # where the pack shows the fact: "04_demands.pdf 序号2", a proof's path

    def as_json(self) -> dict[str, object]:
        return {"text": self.text, "cites": list(self.cites)}


# --- demands ------------------------------------------------------------------------------------


def delivered(facts: Facts) -> list[DemandFact]:
    return [d for d in facts.demands if d.delivered_on is not None]


def lapsed_demand(facts: Facts) -> DemandFact | None:
    """The latest delivered demand whose deadline has passed on the pack date (the deadline is the
    last day to pay: on that day it has not passed)."""
    lapsed = [d for d in delivered(facts) if d.deadline is not None and d.deadline < facts.as_of]
    return max(lapsed, key=lambda d: (d.deadline, d.row), default=None)


def _demand_cites(d: DemandFact) -> tuple[str, ...]:
    return (f"{F_DEMANDS} 序号{d.row}", F_LETTERS, *((d.proof,) if d.proof else ()))


def _delivery_text(d: DemandFact) -> str:
    tracking = f"，单号{d.tracking_no}" if d.tracking_no else ""
    return (
        f"{d.kind}（{d.letter_no}，{d.issued_on.isoformat()}发出，催缴{periods_text(d.periods)}欠费）"
        f"于{d.delivered_on}以{d.channel}送达被告{tracking}"
    )


def demand_statements(facts: Facts) -> list[Statement]:
    """Each delivered demand; whether the deadline of the latest one with a deadline has passed."""
    sent = delivered(facts)
    if not sent:
        return [Statement("记录中没有已送达被告本人的催缴文书", (F_DEMANDS,))]
    found = [Statement(f"原告向被告发出的{_delivery_text(d)}", _demand_cites(d)) for d in sent]
    lapsed = lapsed_demand(facts)
    if lapsed is not None:
        found.append(
            Statement(
                f"{lapsed.kind}（{lapsed.letter_no}）所限缴款期限{lapsed.deadline}已届满，"
                f"截至{facts.as_of.isoformat()}被告仍未缴纳",
                (f"{F_DEMANDS} 序号{lapsed.row}", "03_arrears.pdf"),
            )
        )
    else:
        pending = [d for d in sent if d.deadline is not None]
        if pending:
            d = max(pending, key=lambda d: (d.deadline, d.row))
            found.append(
                Statement(f"{d.kind}（{d.letter_no}）所限缴款期限{d.deadline}尚未届满", (f"{F_DEMANDS} 序号{d.row}",))
            )
        else:
            found.append(Statement("已送达的催缴文书均未载明缴款期限", tuple(f"{F_DEMANDS} 序号{d.row}" for d in sent)))
    return found


def demand_sentence(facts: Facts) -> str:
    """The complaint form's sentence on the demand, as far as the record carries it: "经原告催告" with a
    delivered demand, "在合理期限内仍未缴纳" only once that demand's deadline has passed."""
    lapsed = lapsed_demand(facts)
    if lapsed is not None:
        return (
            f"经原告催告（{lapsed.kind}{lapsed.letter_no}于{lapsed.delivered_on}送达，限{lapsed.deadline}前缴纳"
            f"{_uncovered(facts, lapsed)}），被告在合理期限内仍未缴纳。"
        )
    sent = delivered(facts)
    if sent:
        last = sent[-1]
        pending = f"，所限缴款期限{last.deadline}尚未届满" if last.deadline is not None else ""
        return (
            f"经原告催告（{last.kind}{last.letter_no}于{last.delivered_on}送达{pending}{_uncovered(facts, last)}），"
            "被告至今未缴纳。"
        )
    return "被告至今未缴纳。"


def _uncovered(facts: Facts, d: DemandFact) -> str:
    """The claimed periods a demand did not name: it was no demand for them."""
    left = [p for p in facts.claimed_periods if p not in d.periods]
    return f"；该催告未涉及{periods_text(left)}" if left else ""


# --- service and complaints ---------------------------------------------------------------------


def _complaint_cite(c: ComplaintFact) -> str:
    return f"{F_SERVICE} 投诉{c.number}"


def complaint_statements(facts: Facts) -> list[Statement]:
    complaints = facts.complaints
    if not complaints:
        return [Statement(f"截至{facts.as_of.isoformat()}记录中没有被告的投诉", (F_SERVICE,))]
    if all(c.state == "resolved" for c in complaints):
        return [
            Statement(
                f"被告的{len(complaints)}件投诉均已处理完毕并经被告验收满意",
                tuple(_complaint_cite(c) for c in complaints),
            )
        ]
    found = []
    for c in complaints:
        opened = f"被告于{c.opened_on.isoformat()}提出的{c.category}投诉"
        if c.state == "resolved":
            text = f"{opened}已处理完毕并经被告验收满意"
        elif c.state == "closed":
            verdict = "被告验收不满意" if c.satisfied is False else "未经被告验收"
            text = f"{opened}已关闭，{verdict}"
        else:
            verdict = "，被告验收不满意" if c.satisfied is False else ""
            text = f"{opened}截至{facts.as_of.isoformat()}尚未办结{verdict}"
        found.append(Statement(text, (_complaint_cite(c),)))
    return found


def service_statements(facts: Facts) -> list[Statement]:
    if not facts.service_periods:
        return [Statement("记录中没有主张期间的物业服务记录", (F_SERVICE,))]
    months = len(facts.service_periods)
    return [
        Statement(
            f"原告在{periods_text(facts.service_periods)}（主张期间{len(facts.claimed_periods)}个月中的{months}个月）"
            f"有{'、'.join(facts.service_kinds)}服务记录",
            (f"{F_SERVICE} 一",),
        )
    ]


# --- basis and plans ----------------------------------------------------------------------------


def basis_statements(facts: Facts) -> list[Statement]:
    return [
        Statement(
            f"{b.item_name}收费标准（{b.rate}，{b.effective_from.isoformat()}起）的依据登记为{b.decision_name}"
            f"「{b.decision_ref}」，登记的公示日期为{b.posted_on.isoformat()}",
            (f"{F_PARTIES} 六",),
        )
        for b in facts.basis
    ]


def plan_statements(facts: Facts) -> list[Statement]:
    found = []
    for plan in facts.plans:
        cite = (f"{F_PLANS} 分期协议 #{plan.id}",)
        if plan.agreed_on is not None:
            periods = periods_text(plan.periods)
            text = f"被告于{plan.agreed_on.isoformat()}同意分期还款协议（#{plan.id}），确认{periods}的欠款"
        else:
            text = f"原告提出的分期还款方案（#{plan.id}，{periods_text(plan.periods)}）未经被告签署"
        found.append(Statement(text, cite))
    return found


# --- what the record lacks, and the payment order -----------------------------------------------


def to_supply(facts: Facts) -> list[str]:
    """What a court expects that the record lacks (DOMAIN.md "What documents may say")."""
    missing = []
    for d in facts.defendants:
        if not d.has_service_address:
            since = f"自{d.ownership_ended.isoformat()}后" if d.ownership_ended else ""
            missing.append(
                f"被告{d.name}的送达地址：其{since}已不是涉案房屋业主，记录中没有其联系地址，涉案房屋不能作为其送达地址"
            )
    if not delivered(facts):
        names = "、".join(d.name for d in facts.defendants) or ""
        missing.append(f"向被告{names}送达的催缴文书及送达凭证：记录中没有已送达被告本人的催告")
    if facts.title_document is None:
        missing.append("被告的房屋权属证明，如不动产登记信息或购房合同（记录中只有原告的业主登记）")
    if facts.contract_document is None:
        contracts = sorted({b.decision_ref for b in facts.basis if b.decision_kind == "contract"})
        named = f"（记录中只登记了合同名称「{'」「'.join(contracts)}」）" if contracts else "（记录中没有登记）"
        missing.append(f"物业服务合同文本{named}")
    for b in facts.basis:
        if b.decision_kind != "contract":
            missing.append(f"{b.item_name}收费标准的{b.decision_name}文件「{b.decision_ref}」（记录中只有其名称）")
        if b.posting_proof is None:
            missing.append(
                f"{b.item_name}收费标准（{b.effective_from.isoformat()}起）公示的证明，如公告照片或公示记录"
                f"（记录中只登记了公示日期{b.posted_on.isoformat()}）"
            )
    for plan in facts.plans:
        if plan.agreed_on is not None and plan.signed_copy is None:
            missing.append(
                f"分期还款协议（#{plan.id}）的签字原件（记录中只登记了签署日期{plan.agreed_on.isoformat()}）"
            )
    unrecorded = [p for p in facts.claimed_periods if p not in facts.service_periods]
    if unrecorded:
        missing.append(f"{periods_text(unrecorded)}的物业服务记录（记录中没有这些月份的服务记录）")
    return missing


def payment_order_blocks(facts: Facts) -> list[str]:
    """What rules out a payment order (支付令) on the recorded facts: it needs a delivered demand whose
    deadline has passed, a debtor who can be served, and no open or unsettled service dispute."""
    reasons = []
    sent = delivered(facts)
    if not sent:
        reasons.append("记录中没有已送达被申请人的催缴文书，不能证明已催告")
    elif lapsed_demand(facts) is None:
        pending = [d for d in sent if d.deadline is not None]
        if pending:
            last = max(pending, key=lambda d: (d.deadline, d.row))
            reasons.append(f"催告所限缴款期限{last.deadline}尚未届满，债务尚不能认定为到期未履行")
        else:
            reasons.append("已送达的催缴文书均未载明缴款期限，不能证明合理期限已届满")
    for d in facts.defendants:
        if not d.has_service_address:
            reasons.append(
                f"被申请人{d.name}已不是涉案房屋业主，且无登记的联系地址，支付令无法送达"
                "（涉案房屋不是其送达地址）；送达地址待补充"
            )
    # The complaints are the defendant's already: another owner's complaint is no dispute between these parties.
    for c in facts.complaints:
        if c.state == "open":
            reasons.append(f"业主于{c.opened_on.isoformat()}提出的{c.category}投诉尚未办结，双方就服务存在争议")
        elif c.state == "closed" and c.satisfied is False:
            reasons.append(f"业主于{c.opened_on.isoformat()}提出的{c.category}投诉经验收不满意，双方就服务存在争议")
    return reasons
