"""The recorded facts the pack's sentences rest on, as plain data, and where each is shown in the pack.

DOMAIN.md "What documents may say": a sentence of the pack is chosen from these facts (see
``statements``), never written in advance. ``facts_of`` reads them off the derived ``Pack`` once the
delivery proofs are copied (a demand's proof is cited by its path in the pack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from feesvc.evidence.document import Pack
from feesvc.evidence.words import ACTIVITY_ORDER, COMPLAINT_CATEGORIES, DECISIONS, DELIVERY_CHANNELS, KIND_WORDS
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind
from feesvc.service_records.models import ACTIVITY_LABELS
from feesvc.service_records.service import business_date

ComplaintState = Literal["open", "resolved", "closed"]


@dataclass(frozen=True)
class DemandFact:
    """A payment request (催缴文书) to the defendant, numbered as in 04."""

    row: int
    letter_no: str
    kind: str  # its Chinese name: 催告函, 催缴通知, …
    issued_on: date
    deadline: date | None  # only a final demand sets one
    periods: tuple[str, ...]  # the periods it demanded
    delivered_on: date | None  # the first delivery recorded by the pack date; None: none recorded
    channel: str = ""
    tracking_no: str = ""
    proof: str = ""  # the proof's path in the pack


@dataclass(frozen=True)
class ComplaintFact:
    """A complaint of the defendant as it stood on the pack date, numbered as in 05."""

    number: int
    category: str
    opened_on: date
    state: ComplaintState  # open; resolved (closed by a satisfied inspection); closed without one
    satisfied: bool | None  # the latest inspection's verdict; None: never inspected


@dataclass(frozen=True)
class PlanFact:
    id: int
    agreed_on: date | None  # signed by the pack date; None: proposed only
    periods: tuple[str, ...]
    signed_copy: str | None = None  # the signed agreement in the pack; the record keeps none yet


@dataclass(frozen=True)
class BasisFact:
    """A fee standard the claim uses: its decision and its posting (公示)."""

    item_name: str
    rate: str
    effective_from: date
    decision_kind: str  # contract, owners_vote, …
    decision_name: str  # its Chinese name
    decision_ref: str
    posted_on: date
    posting_proof: str | None = None  # a photo or notice of the posting; the record keeps none yet


@dataclass(frozen=True)
class DefendantFact:
    name: str
    has_service_address: bool
    ownership_ended: date | None  # the last day of the defendant's ownership, when it has ended


@dataclass(frozen=True)
class Facts:
    as_of: date
    defendants: tuple[DefendantFact, ...]
    claimed_periods: tuple[str, ...]
    service_periods: tuple[str, ...]  # claimed periods with recorded service activity
    service_kinds: tuple[str, ...]  # what was recorded in them (保洁, 维修, …), in the record's order
    demands: tuple[DemandFact, ...]
    complaints: tuple[ComplaintFact, ...]
    plans: tuple[PlanFact, ...]
    basis: tuple[BasisFact, ...]
    contract_document: str | None = None  # the service contract's text in the pack; the record keeps none
    title_document: str | None = None  # proof of the defendant's title (不动产登记); the record keeps none


def facts_of(pack: Pack) -> Facts:
    data, as_of = pack.data, pack.data.as_of
    demands = []
    for row, (letter, _) in enumerate(pack.letters, start=1):
        if LetterKind(letter.kind) not in PAYMENT_REQUEST_KINDS:
            continue
        records = [r for r in data.deliveries.get(letter.id or 0, []) if r.delivered_on <= as_of]
        first = records[0] if records else None
        demands.append(
            DemandFact(
                row=row,
                letter_no=letter.letter_no,
                kind=KIND_WORDS.get(LetterKind(letter.kind), str(letter.kind)),
                issued_on=letter.issued_on,
                deadline=letter.deadline,
                periods=tuple(letter.periods),
                delivered_on=first.delivered_on if first else None,
                channel=DELIVERY_CHANNELS.get(first.channel, str(first.channel)) if first else "",
                tracking_no=first.tracking_no if first else "",
                proof=pack.proofs.get(first.id or 0, "") if first else "",
            )
        )
    complaints = []
    for number, (complaint, steps) in enumerate(data.complaints, start=1):
        inspected = [s for s in steps if s.kind == "inspected"]
        satisfied = inspected[-1].satisfied if inspected else None
        closing = any(s.kind == "closed" for s in steps) or any(s.satisfied for s in inspected)
        state: ComplaintState = "open" if not closing else "resolved" if satisfied else "closed"
        complaints.append(
            ComplaintFact(
                number=number,
                category=COMPLAINT_CATEGORIES.get(complaint.category, str(complaint.category)),
                opened_on=business_date(complaint.opened_at),
                state=state,
                satisfied=satisfied,
            )
        )
    plans = tuple(
        PlanFact(
            id=p.id,
            agreed_on=p.agreed_on if p.agreed_on is not None and p.agreed_on <= as_of else None,
            periods=tuple(p.periods),
        )
        for p in data.plans
    )
    used = {c.entry.fee_standard_id for p in pack.claim.periods for c in p.charges if c.entry.fee_standard_id}
    basis = tuple(
        BasisFact(
            item_name=s.item_name,
            rate=str(s.rate),
            effective_from=s.effective_from,
            decision_kind=str(s.decision_kind),
            decision_name=DECISIONS.get(s.decision_kind, str(s.decision_kind)),
            decision_ref=s.decision_ref,
            posted_on=s.posted_on,
        )
        for s in sorted(data.standards.values(), key=lambda s: (s.effective_from, s.id or 0))
        if s.id in used
    )
    defendants = tuple(
        DefendantFact(
            name=owner.name,
            has_service_address=pack.service_address(owner_id) is not None,
            ownership_ended=pack.ownership_end(owner_id),
        )
        for owner_id in pack.claim.defendants
        if (owner := pack.owner(owner_id)) is not None
    )
    claimed = tuple(p.period for p in pack.claim.periods)
    labels = ACTIVITY_LABELS["zh"]
    kinds = tuple(
        labels[kind] for kind in ACTIVITY_ORDER if any(data.activity.get(p, {}).get(kind.value) for p in claimed)
    )
    return Facts(
        as_of=as_of,
        defendants=defendants,
        claimed_periods=claimed,
        service_periods=tuple(p for p in claimed if any(data.activity.get(p, {}).values())),
        service_kinds=kinds,
        demands=tuple(demands),
        complaints=tuple(complaints),
        plans=plans,
        basis=basis,
    )
