"""The arrears and late-fee calculation (03_arrears.pdf): the claim per charge and per period,
recomputed from the ledger as of the pack date, its totals, and the document's context.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from feesvc.evidence.collect import PackData, claimed_charges, period_of
from feesvc.evidence.document import F_ARREARS
from feesvc.evidence.limitation import Interruption, LimitationStatus, PeriodLimitation, limitation_status
from feesvc.evidence.words import PACK_LOCALE, day_text
from feesvc.formatting import money, period_label, rate_text
from feesvc.ledger.limitation import InterruptionKind
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.rules.late_fees import (
    TERMS_FROM_THE_START,
    LateFee,
    LateFeeCap,
    LateFeePolicy,
    TermsVersion,
    court_likely_fee,
    explain,
    late_fee_for,
)
from feesvc.statements.service import charge_calculation

if TYPE_CHECKING:
    from feesvc.evidence.document import Pack


@dataclass
class ChargeClaim:
    entry: LedgerEntry
    period: str
    item_name: str
    due_date: date
    owner_id: int | None
    calculation: str
    amount_fen: int
    paid_fen: int
    open_fen: int
    daily_rate: Decimal
    contract: LateFee
    court: LateFee | None
    late_posted_fen: int
    late_settled_fen: int  # paid or waived on the posted late fees (positive)
    payments: list[tuple[date, int, str]]  # (day, fen, receipt) of payments towards this charge

    @property
    def late_claim_fen(self) -> int:
        return max(self.contract.total_fen - self.late_settled_fen, 0)

    @property
    def court_claim_fen(self) -> int | None:
        return None if self.court is None else max(self.court.total_fen - self.late_settled_fen, 0)


@dataclass
class PeriodClaim:
    period: str
    due: date
    charges: list[ChargeClaim]
    limitation: PeriodLimitation
    interruptions: list[Interruption]

    @property
    def principal_fen(self) -> int:
        return sum(c.open_fen for c in self.charges)

    @property
    def late_fen(self) -> int:
        return sum(c.late_claim_fen for c in self.charges)

    @property
    def court_fen(self) -> int | None:
        figures = [c.court_claim_fen for c in self.charges]
        return None if any(f is None for f in figures) else sum(f or 0 for f in figures)

    @property
    def expired(self) -> bool:
        return self.limitation.status == LimitationStatus.expired


@dataclass
class Totals:
    principal_fen: int = 0
    late_fen: int = 0
    court_fen: int | None = 0
    amount_fen: int = 0
    paid_fen: int = 0

    def add(self, period: PeriodClaim) -> None:
        self.principal_fen += period.principal_fen
        self.late_fen += period.late_fen
        court = period.court_fen
        self.court_fen = None if self.court_fen is None or court is None else self.court_fen + court
        self.amount_fen += sum(c.amount_fen for c in period.charges)
        self.paid_fen += sum(c.paid_fen for c in period.charges)

    @property
    def total_contract_fen(self) -> int:
        return self.principal_fen + self.late_fen

    @property
    def total_court_fen(self) -> int | None:
        return None if self.court_fen is None else self.principal_fen + self.court_fen


@dataclass
class ClaimSummary:
    periods: list[PeriodClaim]
    all: Totals
    in_time: Totals
    expired: Totals
    defendants: list[int]  # owner ids, in order of their first claimed period


def analyse(data: PackData) -> ClaimSummary:
    as_of = data.as_of
    settling: dict[int, list[LedgerEntry]] = defaultdict(list)
    reversed_ids = {e.reverses_entry_id for e in data.entries if e.reverses_entry_id is not None}
    for entry in data.entries:
        if entry.settles_entry_id is not None:
            settling[entry.settles_entry_id].append(entry)
    late_fees: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in data.entries:
        if entry.kind == EntryKind.late_fee and entry.basis_entry_id is not None:
            late_fees[entry.basis_entry_id].append(entry)

    charges_by_period: dict[str, list[ChargeClaim]] = defaultdict(list)
    part_payments: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for charge in claimed_charges(data.entries, as_of):
        assert charge.id is not None and charge.due_date is not None
        period = period_of(charge)
        standard = data.standards.get(charge.fee_standard_id or 0)
        facts = data.fee_terms.charge(
            charge.id,
            charge.amount_fen,
            charge.due_date,
            charge.fee_standard_id,
            ((s.effective_date, s.amount_fen) for s in settling[charge.id]),
        )
        table = facts.terms
        contract = late_fee_for(facts.principal_fen, facts.due_date, facts.changes, as_of, table, facts.frozen)
        court_rates = data.fee_terms.court_rates
        court = (
            court_likely_fee(
                contract, facts.principal_fen, facts.due_date, facts.changes, as_of, table, court_rates, facts.frozen
            )
            if court_rates
            else None
        )
        on_due = table.in_force(charge.due_date)
        rate = on_due.policy.daily_rate if on_due is not None else Decimal(0)
        fees = late_fees[charge.id]
        late_settlements = [s for fee in fees if fee.id is not None for s in settling[fee.id]]
        towards = [
            s
            for s in [*settling[charge.id], *late_settlements]
            if s.kind == EntryKind.payment and s.id not in reversed_ids
        ]
        payments = sorted(
            (s.effective_date, -s.amount_fen, data.receipts.get(s.payment_id or 0, f"#{s.payment_id}")) for s in towards
        )
        for day, _, receipt in payments:
            part_payments[period][day].add(receipt)
        settled = sum(s.amount_fen for s in settling[charge.id])
        charges_by_period[period].append(
            ChargeClaim(
                entry=charge,
                period=period,
                item_name=(
                    standard.item_name if standard else (charge.detail or {}).get("item_name", charge.item or "")
                ),
                due_date=charge.due_date,
                owner_id=data.owner_id or charge.owner_id or _owner_on(data, charge.due_date),
                calculation=charge_calculation(charge, PACK_LOCALE) or money(charge.amount_fen, PACK_LOCALE),
                amount_fen=charge.amount_fen,
                paid_fen=-settled,
                open_fen=max(charge.amount_fen + settled, 0),
                daily_rate=rate,
                contract=contract,
                court=court,
                late_posted_fen=sum(f.amount_fen for f in fees),
                late_settled_fen=-sum(s.amount_fen for s in late_settlements),
                payments=payments,
            )
        )

    events: dict[str, list[Interruption]] = defaultdict(list)
    for event in data.events:
        events[event.period].append(Interruption(InterruptionKind(event.kind), event.occurred_on, event.source))
    periods = []
    for period in sorted(charges_by_period):
        charges = sorted(charges_by_period[period], key=lambda c: (c.due_date, c.entry.id or 0))
        due = min(c.due_date for c in charges)
        found = list(events.get(period, []))
        seen = {(i.kind, i.on) for i in found}
        for day, receipts in sorted(part_payments[period].items()):
            if (InterruptionKind.part_payment, day) not in seen:
                found.append(Interruption(InterruptionKind.part_payment, day, "收据 " + "、".join(sorted(receipts))))
        found.sort(key=lambda i: (i.on, i.kind))
        periods.append(PeriodClaim(period, due, charges, limitation_status(due, found, as_of), found))

    every, in_time, expired = Totals(), Totals(), Totals()
    defendants: list[int] = []
    for p in periods:
        every.add(p)
        (expired if p.expired else in_time).add(p)
        for c in p.charges:
            if c.owner_id is not None and c.owner_id not in defendants:
                defendants.append(c.owner_id)
    return ClaimSummary(periods, every, in_time, expired, defendants)


def policy_on(data: PackData, fee_standard_id: int | None, day: date) -> LateFeePolicy:
    """The late-fee terms in force on a day (a fee standard's own rate included)."""
    table = data.fee_terms.terms.for_standard(fee_standard_id)
    version = table.in_force(day) or (table.versions[-1] if table.versions else None)
    if version is None:
        return LateFeePolicy(daily_rate=Decimal(0), grace_days=0, cap=LateFeeCap.none)
    return version.policy


def cap_text(policy: LateFeePolicy) -> str:
    text = {"none": "无上限", "principal": "不超过欠费本金", "fixed": "固定上限"}.get(policy.cap, str(policy.cap))
    if policy.cap == LateFeeCap.fixed and policy.cap_fen is not None:
        text += f"（{money(policy.cap_fen, PACK_LOCALE)}）"
    return text


def terms_text(version: TermsVersion) -> str:
    """One version of the terms as the pack quotes it."""
    policy = version.policy
    since = "自始" if version.effective_from <= TERMS_FROM_THE_START else f"自{version.effective_from.isoformat()}起"
    parts = [since, f"日利率{rate_text(policy.daily_rate, PACK_LOCALE).split(' (')[0]}"]
    if version.rate_ref is not None:
        parts[-1] += "（收费标准自有利率）"
    parts += [f"宽限{policy.grace_days}天", cap_text(policy)]
    if policy.starts_on is not None:
        parts.append(f"自{policy.starts_on.isoformat()}起计")
    return "，".join(parts)


def applied_terms_text(pack: Pack) -> str:
    """The versions the claimed late fees actually used, each once, in date order."""
    used: dict[tuple[date, int | None, int | None], TermsVersion] = {}
    for p in pack.claim.periods:
        for c in p.charges:
            for segment in c.contract.segments:
                if segment.terms is not None:
                    v = segment.terms
                    used.setdefault((v.effective_from, v.ref, v.rate_ref), v)
    if not used:
        return "所列期间未产生合同违约金"
    return "；".join(terms_text(used[key]) for key in sorted(used, key=lambda k: (k[0], k[1] or 0, k[2] or 0)))


def _owner_on(data: PackData, day: date) -> int | None:
    for ownership, owner in data.ownerships:
        if ownership.starts_on <= day and (ownership.ends_on is None or ownership.ends_on >= day):
            return owner.id
    return None


def arrears_context(pack: Pack) -> dict[str, Any]:
    claim = pack.claim
    rows = []
    late_rows = []
    for p in claim.periods:
        for c in p.charges:
            rows.append(
                {
                    "period": period_label(p.period, PACK_LOCALE),
                    "item": c.item_name,
                    "due": day_text(c.due_date),
                    "calculation": c.calculation,
                    "amount_fen": c.amount_fen,
                    "paid_fen": c.paid_fen,
                    "open_fen": c.open_fen,
                    "payments": "；".join(
                        f"{d.isoformat()} {money(f, PACK_LOCALE)}（收据 {r}）" for d, f, r in c.payments
                    ),
                    "expired": p.expired,
                }
            )
            late_rows.append(
                {
                    "period": period_label(p.period, PACK_LOCALE),
                    "item": c.item_name,
                    "rate": rate_text(c.daily_rate, PACK_LOCALE).split(" (")[0],
                    "contract_fen": c.contract.total_fen,
                    "posted_fen": c.late_posted_fen,
                    "settled_fen": c.late_settled_fen,
                    "claim_fen": c.late_claim_fen,
                    "court_fen": c.court_claim_fen,
                    "lines": contract_lines(c.contract),
                    "capped": c.contract.capped,
                    "expired": p.expired,
                }
            )
    rates = [{"from": day_text(day), "rate": _percent(rate)} for day, rate in pack.data.fee_terms.court_rates]
    return {
        **pack.base(F_ARREARS, "欠费明细及违约金计算"),
        "rows": rows,
        "late_rows": late_rows,
        "totals": totals_row(claim.all),
        "in_time": totals_row(claim.in_time),
        "expired_totals": totals_row(claim.expired),
        "has_expired": any(p.expired for p in claim.periods),
        "several_items": len({c.item_name for p in claim.periods for c in p.charges}) > 1,
        "court_rates": rates,
        "grace_days": policy_on(pack.data, None, pack.data.as_of).grace_days,
        "cap": policy_on(pack.data, None, pack.data.as_of).cap,
    }


def totals_row(t: Totals) -> dict[str, Any]:
    return {
        "amount_fen": t.amount_fen,
        "paid_fen": t.paid_fen,
        "principal_fen": t.principal_fen,
        "late_fen": t.late_fen,
        "court_fen": t.court_fen,
        "total_fen": t.total_contract_fen,
        "total_court_fen": t.total_court_fen,
    }


def contract_lines(fee: LateFee) -> list[str]:
    """``explain`` of the contract figure, without its total line when one segment already says it."""
    lines = explain(fee, PACK_LOCALE)
    if not fee.segments:
        return lines
    if len(fee.segments) == 1 and not fee.capped:
        return lines[:1]
    return [line for line in lines if not line.startswith("（")]


def _percent(rate: Decimal) -> str:
    text = f"{rate * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"
