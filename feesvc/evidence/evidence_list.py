"""The evidence list (01_evidence_list.pdf, 证据规定 §19): numbered items, each with its source, what
it proves and its pages in the other files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feesvc.evidence.document import (
    F_ARREARS,
    F_DEMANDS,
    F_LETTERS,
    F_LIMITATION,
    F_LIST,
    F_PARTIES,
    F_PLANS,
    F_SERVICE,
    Pack,
    Rendered,
)
from feesvc.evidence.facts import Facts
from feesvc.evidence.statements import (
    Statement,
    basis_statements,
    complaint_statements,
    delivered,
    demand_statements,
    plan_statements,
    service_statements,
    to_supply,
)
from feesvc.evidence.words import cn_number


@dataclass(frozen=True)
class EvidenceItem:
    key: str
    name: str
    source: str
    purpose: str  # what the item is offered to prove, in general terms
    refs: tuple[tuple[str, str | None], ...]  # (file, section key or None for the whole file)
    facts: tuple[Statement, ...] = ()  # the recorded facts it shows, each with where (statements)


def evidence_items(pack: Pack, facts: Facts) -> list[EvidenceItem]:
    has_plans = bool(pack.data.plans)
    proofs = tuple((path, None) for path in pack.proofs.values())
    letters = ((F_LETTERS, None),) if pack.letters else ()
    signed = any(p.agreed_on is not None for p in facts.plans)
    return [
        EvidenceItem(
            "parties",
            "当事人身份信息及房屋权属情况",
            "原告业主档案及房屋登记记录（feesvc 房屋、业主、产权登记）",
            "证明被告在主张期间为涉案房屋业主，是物业服务费的缴纳义务人",
            ((F_PARTIES, "parties"),),
        ),
        EvidenceItem(
            "basis",
            "收费标准及其依据、公示情况",
            "原告收费标准登记记录（含决定依据名称及公示日期；合同文本及公示证明见待补充事项）",
            "证明收费标准及其依据（民法典第939条、第943条）",
            ((F_PARTIES, "basis"),),
            tuple(basis_statements(facts)),
        ),
        EvidenceItem(
            "arrears",
            "欠费明细及计算",
            f"原告收费台账，截至{pack.data.as_of.isoformat()}的分户账（快照哈希见 manifest.json）",
            "证明被告欠缴各期物业服务费的金额、计算方式（面积×单价×月数）及已缴情况",
            ((F_ARREARS, "arrears"),),
        ),
        EvidenceItem(
            "late_fees",
            "违约金计算",
            "依据登记的违约金标准及原告收费台账计算",
            "证明按登记标准计算的违约金数额，并列明按法院可能支持标准计算的数额供参考（民法典第585条）",
            ((F_ARREARS, "late_fees"),),
        ),
        EvidenceItem(
            "demands",
            "催缴通知、催告函及送达凭证",
            "原告发出的催缴文书（出件时保存的文件副本）及邮寄、签收等送达凭证原件电子文件",
            (
                "证明原告催告被告缴纳及催告的送达（民法典第944条第2款），送达的催告使诉讼时效中断（民法典第195条）"
                if delivered(facts)
                # Only letters to the defendant count; without a delivered one the pack claims no demand.
                else "列明原告向被告发出的缴费文书；记录中没有已送达被告本人的催告，见待补充事项"
            ),
            ((F_DEMANDS, None), *letters, *proofs),
            tuple(demand_statements(facts)),
        ),
        EvidenceItem(
            "service",
            "物业服务记录及投诉处理记录",
            "原告服务工作记录（按月登记的工作量）及投诉处理记录",
            "列明主张期间的服务记录及被告投诉的处理情况",
            ((F_SERVICE, None),),
            (*service_statements(facts), *complaint_statements(facts)),
        ),
        EvidenceItem(
            "plans",
            "分期还款协议及履行情况、催收处理记录" if has_plans else "催收处理记录",
            "原告分期还款协议记录及欠费催收案件记录",
            (
                "证明被告同意分期还款协议确认欠款（诉讼时效规定第14条）及协议履行情况"
                if signed
                else "列明原告提出的分期方案及催收处理经过"
                if has_plans
                else "列明原告催收处理的经过"
            ),
            ((F_PLANS, None),),
            tuple(plan_statements(facts)),
        ),
        EvidenceItem(
            "limitation",
            "诉讼时效核算表",
            "依据本证据包所列缴费期限、催告送达、债务承认及部分履行记录计算",
            "说明各期欠费诉讼时效的起算、中断及届满日期；已届满期间单独列明",
            ((F_LIMITATION, None),),
        ),
    ]


def list_context(pack: Pack, facts: Facts, rendered: Mapping[str, Rendered]) -> dict[str, Any]:
    items = []
    for number, item in enumerate(evidence_items(pack, facts), start=1):
        pages = []
        for file, section in item.refs:
            doc = rendered.get(file)
            if doc is None:
                pages.append({"file": file, "pages": "原件电子文件"})
                continue
            first, last = doc.sections[section] if section else (1, doc.pages)
            pages.append({"file": file, "pages": f"第{first}页" if first == last else f"第{first}–{last}页"})
        items.append(
            {
                "number": f"证据{cn_number(number)}",
                "name": item.name,
                "source": item.source,
                "purpose": item.purpose,
                "facts": [{"text": f.text, "cites": "；".join(f.cites)} for f in item.facts],
                "pages": pages,
            }
        )
    return {
        **pack.base(F_LIST, "证据清单"),
        "items": items,
        "to_be_supplied": to_supply(facts),
        "submitted_by": pack.data.estate.company_name,
        "date": pack.data.as_of,
    }
