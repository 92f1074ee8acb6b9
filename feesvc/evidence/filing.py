"""filing.json: the fields of the complaint form (起诉状) and the payment-order (支付令) application."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feesvc.arrears.models import Claim
from feesvc.evidence.arrears import applied_terms_text
from feesvc.evidence.document import Pack
from feesvc.evidence.facts import Facts
from feesvc.evidence.limitation_table import limitation_rows
from feesvc.evidence.statements import (
    Statement,
    basis_statements,
    complaint_statements,
    demand_sentence,
    demand_statements,
    payment_order_blocks,
    plan_statements,
    service_statements,
    to_supply,
)
from feesvc.evidence.words import PACK_LOCALE, periods_text, yuan
from feesvc.formatting import area_text
from feesvc.service_records.service import business_date


def _fen(fen: int | None) -> dict[str, Any] | None:
    return None if fen is None else {"fen": fen, "yuan": yuan(fen)}


def payment_order(pack: Pack, facts: Facts) -> dict[str, Any]:
    """A payment order (支付令, 民事诉讼法 §225) needs a fixed, due money debt, a delivered demand whose
    deadline has passed, a debtor who can be served, and no other dispute between the parties
    (``statements.payment_order_blocks``; a recorded dispute note after the last settled complaint)."""
    data, claim = pack.data, pack.claim
    reasons = []
    if claim.all.principal_fen <= 0:
        reasons.append("只有违约金未付：违约金数额可由法院调整，不属于数额确定的金钱债务")
    reasons += payment_order_blocks(facts)
    settled_at = [
        business_date(s.at) for c, steps in data.complaints for s in steps if s.kind == "inspected" and s.satisfied
    ]
    last_settled = max(settled_at, default=None)
    for record in data.cases:
        for note in record.notes:
            if note.claim == Claim.dispute and (last_settled is None or note.noted_on > last_settled):
                reasons.append(f"业主于{note.noted_on.isoformat()}对收费或服务提出异议（催收记录），尚未解决")
    if reasons:
        return {"eligible": False, "reasons": reasons}
    warnings = []
    if claim.expired.principal_fen:
        warnings.append(
            f"{periods_text([p.period for p in claim.periods if p.expired])}的欠费已过诉讼时效，"
            "被申请人可能据此提出异议"
        )
    defendants = [_party(pack, i) for i in claim.defendants]
    return {
        "eligible": True,
        "reasons": [],
        "warnings": warnings,
        "application": {
            "title": "支付令申请书",
            "applicant": _plaintiff(pack),
            "respondents": defendants,
            "requests": [
                f"请求法院向被申请人发出支付令，督促被申请人给付{periods_text([p.period for p in claim.periods])}"
                f"物业服务费{yuan(claim.all.principal_fen)}元",
                f"给付违约金{yuan(claim.all.late_fen)}元（按{_late_fee_source(facts)}计算至{data.as_of.isoformat()}）",
                "申请费由被申请人负担",
            ],
            "principal": _fen(claim.all.principal_fen),
            "late_fee": _fen(claim.all.late_fen),
            "facts_and_reasons": _facts_text(pack, facts),
            "court": "",
            "date": data.as_of.isoformat(),
        },
    }


def _plaintiff(pack: Pack) -> dict[str, Any]:
    estate = pack.data.estate
    return {
        "name": estate.company_name,
        "kind": "法人",
        "address": estate.address,
        "phone": estate.service_phone,
        "legal_representative": "",
        "unified_social_credit_code": "",
        "project": estate.name,
    }


def _party(pack: Pack, owner_id: int) -> dict[str, Any]:
    owner = pack.owner(owner_id)
    if owner is None:
        return {}
    address = pack.service_address(owner_id)
    return {
        "name": owner.name,
        "kind": "自然人",
        "id_number": owner.id_number,
        "phone": owner.phone,
        "address": address,  # for service (送达地址); None: to be supplied
        "address_source": (
            None if address is None else "contact_address" if owner.postal_address.strip() else "unit_held"
        ),
        "email": owner.email,
    }


def _owner_text(pack: Pack) -> str:
    """How the defendant relates to the unit: the owner, or its owner during the claimed periods."""
    periods = [
        f"{o.starts_on.isoformat()}至{o.ends_on.isoformat()}"
        for o, owner in pack.data.ownerships
        if owner.id in pack.claim.defendants and o.ends_on is not None and o.ends_on < pack.data.as_of
    ]
    if periods and not any(pack.holds_unit(i) for i in pack.claim.defendants):
        return f"在{'、'.join(periods)}期间的业主"
    return "的业主"


def _late_fee_source(facts: Facts) -> str:
    """The late fee's basis as the record names it: the contract only where one is recorded."""
    contracts = sorted({b.decision_ref for b in facts.basis if b.decision_kind == "contract"})
    return f"《{'》《'.join(contracts)}》约定的标准" if contracts else "原告登记的违约金标准"


def _facts_text(pack: Pack, facts: Facts) -> str:
    """The complaint form's facts, each sentence resting on a recorded fact (see ``statements``)."""
    data, claim = pack.data, pack.claim
    periods = periods_text([p.period for p in claim.periods])
    text = (
        f"原告为{data.estate.name}的物业服务人，被告系该小区{pack.unit_label}房屋（建筑面积"
        f"{area_text(data.unit.floor_area_m2, PACK_LOCALE)}）{_owner_text(pack)}。"
    )
    if facts.basis:
        decisions = "、".join(dict.fromkeys(f"{b.decision_name}「{b.decision_ref}」" for b in facts.basis))
        posted = "、".join(dict.fromkeys(b.posted_on.isoformat() for b in facts.basis))
        text += f"收费标准的依据为{decisions}，登记的公示日期为{posted}。"
    if facts.service_periods:
        text += f"原告在{periods_text(facts.service_periods)}提供了物业服务（有服务记录）。"
    text += (
        f"被告欠缴{periods}物业服务费共计{yuan(claim.all.principal_fen)}元"
        f"（各期按建筑面积×收费单价×月数计算，明细见证据），"
    )
    text += demand_sentence(facts)
    if facts.complaints and all(c.state == "resolved" for c in facts.complaints):
        text += f"被告的{len(facts.complaints)}件投诉均已处理完毕并经被告验收满意。"
    text += (
        f"依照{_late_fee_source(facts)}，被告应支付违约金{yuan(claim.all.late_fen)}元（计至{data.as_of.isoformat()}）。"
        "依据《中华人民共和国民法典》第九百三十七条、第九百四十四条之规定，特提起诉讼。"
    )
    return text


def fact_statements(facts: Facts) -> list[Statement]:
    """Every statement of fact the pack makes, each with where it is shown."""
    return [
        *basis_statements(facts),
        *service_statements(facts),
        *complaint_statements(facts),
        *demand_statements(facts),
        *plan_statements(facts),
    ]


def filing(pack: Pack, facts: Facts, demands: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    data, claim = pack.data, pack.claim
    standards_used = sorted(
        {c.entry.fee_standard_id for p in claim.periods for c in p.charges if c.entry.fee_standard_id}
    )
    return {
        "form": "民事起诉状（物业服务合同纠纷）要素",
        "cause_of_action": "物业服务合同纠纷",
        "as_of": data.as_of.isoformat(),
        "generated_at": pack.generated_at.isoformat(),
        "plaintiff": _plaintiff(pack),
        "defendants": [_party(pack, i) for i in claim.defendants],
        "unit": {
            "estate": data.estate.name,
            "building": data.building.name,
            "number": data.unit.number,
            "floor_area_m2": str(data.unit.floor_area_m2),
            "use": str(data.unit.use),
        },
        "claims": {
            "principal": _fen(claim.all.principal_fen),
            "principal_by_period": [
                {
                    "period": p.period,
                    "due_date": p.due.isoformat(),
                    "charges": [
                        {
                            "item": c.item_name,
                            "calculation": c.calculation,
                            "amount_fen": c.amount_fen,
                            "paid_fen": c.paid_fen,
                            "open_fen": c.open_fen,
                            "late_fee_contract_fen": c.late_claim_fen,
                            "late_fee_court_likely_fen": c.court_claim_fen,
                        }
                        for c in p.charges
                    ],
                    "open_fen": p.principal_fen,
                    "late_fee_contract_fen": p.late_fen,
                    "late_fee_court_likely_fen": p.court_fen,
                    "limitation_status": p.limitation.status.value,
                    "limitation_expires_on": p.limitation.expires_on.isoformat(),
                }
                for p in claim.periods
            ],
            "late_fee_contract": _fen(claim.all.late_fen),
            "late_fee_court_likely": _fen(claim.all.court_fen),
            "late_fee_basis": (
                f"按{_late_fee_source(facts)}实际适用的违约金条款（{applied_terms_text(pack)}）"
                f"自各期缴费期限届满次日起计至{data.as_of.isoformat()}，按台账重新计算，已扣除已付及已减免部分；"
                "法院可能支持的数额取按该标准计算的数额与按登记的年利率（如一年期LPR上浮）÷365 计算数额中较低者"
            ),
            "total_contract": _fen(claim.all.total_contract_fen),
            "total_court_likely": _fen(claim.all.total_court_fen),
            "excluding_expired": {
                "principal": _fen(claim.in_time.principal_fen),
                "late_fee_contract": _fen(claim.in_time.late_fen),
                "total_contract": _fen(claim.in_time.total_contract_fen),
            },
            "expired_periods": [p.period for p in claim.periods if p.expired],
            "litigation_costs": "本案诉讼费用由被告承担",
        },
        "facts_and_reasons": {
            "contract": sorted(
                {
                    s.decision_ref
                    for s in data.standards.values()
                    if s.id in standards_used and s.decision_kind == "contract"
                }
            ),
            "fee_standards": [
                {
                    "item": s.item_name,
                    "rate": str(s.rate),
                    "basis": str(s.basis),
                    "effective_from": s.effective_from.isoformat(),
                    "ends_on": s.ends_on.isoformat() if s.ends_on else None,
                    "posted_on": s.posted_on.isoformat(),
                    "decision_kind": str(s.decision_kind),
                    "decision_ref": s.decision_ref,
                }
                for s in sorted(data.standards.values(), key=lambda s: s.effective_from)
                if s.id in standards_used
            ],
            "service_period": {"from": claim.periods[0].period, "to": claim.periods[-1].period},
            "arrears": [
                {"period": p.period, "calculation": c.calculation, "open_fen": c.open_fen}
                for p in claim.periods
                for c in p.charges
            ],
            "demands": [
                {
                    "letter_no": d["letter_no"],
                    "kind": d["kind"],
                    "issued_on": d["issued_on"],
                    "deadline": None if d["deadline"] == "—" else d["deadline"],
                    "delivered": [
                        {"on": x["delivered_on"], "channel": x["channel"], "tracking_no": x["tracking_no"]}
                        for x in d["deliveries"]
                    ],
                }
                for d in demands
                if d["demand"]
            ],
            "text": _facts_text(pack, facts),
            "statements": [s.as_json() for s in fact_statements(facts)],
        },
        "limitation": [
            {
                "period": r["period_key"],
                "due_date": r["due"],
                "clock_start": r["clock_start"],
                "expires_on": r["expires_on"],
                "status": r["status"],
                "interruptions": r["interruptions"],
                "defence_waived_on": r["waived_on"],
            }
            for r in limitation_rows(pack)
        ],
        "payment_order": payment_order(pack, facts),
        "to_be_supplied": to_supply(facts),
    }
