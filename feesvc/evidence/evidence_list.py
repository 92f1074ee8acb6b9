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
from feesvc.evidence.filing import to_be_supplied
from feesvc.evidence.words import cn_number


@dataclass(frozen=True)
class EvidenceItem:
    key: str
    name: str
    source: str
    purpose: str
    refs: tuple[tuple[str, str | None], ...]  # (file, section key or None for the whole file)


def evidence_items(pack: Pack) -> list[EvidenceItem]:
    has_plans = bool(pack.data.plans)
    proofs = tuple((path, None) for path in pack.proofs.values())
    letters = ((F_LETTERS, None),) if pack.letters else ()
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
            "物业服务合同、收费标准及公示情况",
            "原告收费标准登记记录（含公示日期及决定依据）",
            "证明原、被告之间存在物业服务合同关系，收费标准有合同或决定依据并已公示（民法典第939条、第943条）",
            ((F_PARTIES, "basis"),),
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
            "依据合同约定标准及原告收费台账计算",
            "证明按合同约定计算的违约金数额，并列明按法院可能支持标准计算的数额供参考（民法典第585条）",
            ((F_ARREARS, "late_fees"),),
        ),
        EvidenceItem(
            "demands",
            "催缴通知、催告函及送达凭证",
            "原告发出的催缴文书（按发出时内容重新生成）及邮寄、签收等送达凭证原件电子文件",
            (
                "证明原告已书面催告被告在合理期限内缴纳（民法典第944条第2款），催告已送达，诉讼时效中断（民法典第195条）"
                if pack.delivered_demands
                # Only letters to the defendant count; without a delivered one the pack claims no demand.
                else "列明原告向被告发出的缴费文书；记录中没有已送达被告本人的催告，见待补充事项"
            ),
            ((F_DEMANDS, None), *letters, *proofs),
        ),
        EvidenceItem(
            "service",
            "物业服务记录及投诉处理记录",
            "原告服务工作记录（保洁、维修、安保巡逻等月度记录）及投诉处理记录",
            "证明原告在主张期间持续提供物业服务，被告投诉均已及时处理并经验收，被告不得以服务瑕疵为由拒缴",
            ((F_SERVICE, None),),
        ),
        EvidenceItem(
            "plans",
            "分期还款协议及履行情况、催收处理记录" if has_plans else "催收处理记录",
            "原告分期还款协议记录及欠费催收案件记录",
            (
                "证明被告曾签署分期还款协议确认欠款（诉讼时效规定第14条）及协议履行情况"
                if has_plans
                else "证明原告就欠费与被告沟通协商的经过"
            ),
            ((F_PLANS, None),),
        ),
        EvidenceItem(
            "limitation",
            "诉讼时效核算表",
            "依据本证据包所列缴费期限、催告送达、债务承认及部分履行记录计算",
            "说明各期欠费诉讼时效的起算、中断及届满日期；已届满期间单独列明",
            ((F_LIMITATION, None),),
        ),
    ]


def list_context(pack: Pack, rendered: Mapping[str, Rendered]) -> dict[str, Any]:
    items = []
    for number, item in enumerate(evidence_items(pack), start=1):
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
                "pages": pages,
            }
        )
    return {
        **pack.base(F_LIST, "证据清单"),
        "items": items,
        "to_be_supplied": to_be_supplied(pack),
        "submitted_by": pack.data.estate.company_name,
        "date": pack.data.as_of,
    }
