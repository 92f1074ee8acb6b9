from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payoff.schemas import Payoff


class LedgerEntryOut(msgspec.Struct):
    id: int
    kind: EntryKind
    amount_fen: int
    effective_date: date
    period: str | None
    item: str | None
    due_date: date | None
    settles_entry_id: int | None
    reverses_entry_id: int | None
    basis_entry_id: int | None
    payment_id: int | None
    actor: str
    reason: str | None
    detail: dict[str, Any] | None
    balance_after_fen: int


class LedgerOut(msgspec.Struct):
    unit_id: int
    as_of: date
    entries: list[LedgerEntryOut]
    balance_fen: int
    owed_fen: int
    overdue_fen: int
    prepaid_credit_fen: int
    # What the cashier takes to pay the owner off on the day, late fee accrued since the last run
    # included (None for a day after today: no late fee is posted ahead).
    payoff: Payoff | None


def entry_out(entry: LedgerEntry, balance_after_fen: int) -> LedgerEntryOut:
    assert entry.id is not None
    return LedgerEntryOut(
        id=entry.id,
        kind=EntryKind(entry.kind),
        amount_fen=entry.amount_fen,
        effective_date=entry.effective_date,
        period=entry.period,
        item=entry.item,
        due_date=entry.due_date,
        settles_entry_id=entry.settles_entry_id,
        reverses_entry_id=entry.reverses_entry_id,
        basis_entry_id=entry.basis_entry_id,
        payment_id=entry.payment_id,
        actor=entry.actor,
        reason=entry.reason,
        detail=entry.detail,
        balance_after_fen=balance_after_fen,
    )
