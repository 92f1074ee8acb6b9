"""The parties and the fee basis (02_parties_and_basis.pdf): the company, the defendant in full, the
unit, its ownerships, the contract and the fee standards with their posting.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from feesvc.evidence.arrears import cap_text, policy_on, terms_text
from feesvc.evidence.document import F_PARTIES, Pack
from feesvc.evidence.statements import basis_statements
from feesvc.evidence.words import BASES, DECISIONS, PACK_LOCALE, USES, day_text, periods_text
from feesvc.formatting import area_text, period_label, rate_text


def parties_context(pack: Pack) -> dict[str, Any]:
    data = pack.data
    estate, unit = data.estate, data.unit
    now = policy_on(data, None, data.as_of)  # the estate's late-fee terms in force on the pack's date
    defendants = []
    for owner_id in pack.claim.defendants:
        owner = pack.owner(owner_id)
        if owner is None:
            continue
        periods = [p.period for p in pack.claim.periods if any(c.owner_id == owner_id for c in p.charges)]
        defendants.append(
            {
                "name": owner.name,
                "id_number": owner.id_number or "（未登记）",
                "phone": owner.phone or "（未登记）",
                "address": _address_text(pack, owner_id),
                "email": owner.email or "—",
                "periods": periods_text(periods),
            }
        )
    ownerships = [
        {
            "owner": owner.name,
            "starts_on": day_text(ownership.starts_on),
            "ends_on": day_text(ownership.ends_on) if ownership.ends_on else "至今",
            "defendant": owner.id in pack.claim.defendants,
        }
        for ownership, owner in data.ownerships
    ]
    first = pack.claim.periods[0].period
    last = pack.claim.periods[-1].period
    used = {c.entry.fee_standard_id for p in pack.claim.periods for c in p.charges if c.entry.fee_standard_id}
    start, end = date(int(first[:4]), int(first[5:]), 1), date(int(last[:4]), int(last[5:]), 28)
    standards = sorted(
        (
            s
            for s in data.standards.values()
            if s.id in used
            or (s.unit_use == unit.use and s.effective_from <= end and (s.ends_on is None or s.ends_on >= start))
        ),
        key=lambda s: (s.item, s.effective_from),
    )
    assert pack.facts is not None
    return {
        **pack.base(F_PARTIES, "当事人及收费依据"),
        "statements": [{"text": f.text, "cites": "；".join(f.cites)} for f in basis_statements(pack.facts)],
        "no_statement": "记录中没有本案所用的收费标准",
        "company": {
            "name": estate.company_name,
            "estate": estate.name,
            "address": estate.address or "—",
            "phone": estate.service_phone or "—",
        },
        "defendants": defendants,
        "unit": {
            "label": f"{estate.name} {pack.unit_label}",
            "building": data.building.name,
            "number": unit.number,
            "area": area_text(unit.floor_area_m2, PACK_LOCALE),
            "use": USES.get(unit.use, str(unit.use)),
        },
        "ownerships": ownerships,
        "contracts": sorted({s.decision_ref for s in standards if s.decision_kind == "contract"}),
        "standards": [
            {
                "item": s.item_name,
                "basis": BASES.get(s.basis, str(s.basis)),
                "rate": f"{s.rate}",
                "effective": f"{day_text(s.effective_from)} 至 {day_text(s.ends_on) if s.ends_on else '今'}",
                "posted_on": day_text(s.posted_on),
                "decision": DECISIONS.get(s.decision_kind, str(s.decision_kind)),
                "decision_ref": s.decision_ref,
                "late_rate": rate_text(policy_on(data, s.id, data.as_of).daily_rate, PACK_LOCALE),
                "used": s.id in used,
            }
            for s in standards
        ],
        "service_period": f"{period_label(first, PACK_LOCALE)}至{period_label(last, PACK_LOCALE)}",
        "late_policy": {
            "rate": rate_text(now.daily_rate, PACK_LOCALE),
            "grace_days": now.grace_days,
            "cap": cap_text(now),
            "versions": [terms_text(v) for v in data.fee_terms.terms.estate],
        },
    }


def _address_text(pack: Pack, owner_id: int) -> str:
    """The address for service: the owner's contact address; the unit only for its current owner."""
    address = pack.service_address(owner_id)
    if address is None:
        return "（未登记，待补充：该业主已不是涉案房屋业主，涉案房屋不是其送达地址）"
    owner = pack.owner(owner_id)
    if owner is not None and not owner.postal_address.strip():
        return f"{address}（涉案房屋，现业主未登记其他联系地址）"
    return address
