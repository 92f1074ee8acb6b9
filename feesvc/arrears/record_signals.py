"""Evidence from the record beside the owner's words: the payment pattern and the unit.

The arrears classifier (``feesvc.arrears.classifier``) weighs every piece of evidence as a ``Signal``.
Most come from the notes and complaints; these come from the structured record and never decide a case
on their own (``classifier.DECIDING_ORIGINS``): paying later and later, partial payments and payments
that stopped after a regular run are weak hardship evidence; a unit recorded as vacant backs an owner's
vacancy claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from feesvc.arrears.case_record import Belief, CaseFacts, Category, Origin, PaymentEntry


@dataclass(frozen=True)
class Signal:
    """One piece of evidence. ``quote`` is verbatim input text when ``verbatim`` is true
    (a substring of the note or complaint named by ``source``), else a description built
    from structured fields."""

    cause: Category
    weight: float  # 0 for a denial ("*.denied"): it ranks the causes, it adds no evidence
    origin: Origin
    source: str  # "note 2025-06-19", "complaint 2025-03-11 repair", "payment_history", "unit"
    quote: str
    rule: str  # e.g. "hardship.illness_or_accident", "misunderstanding.vacancy"
    verbatim: bool
    belief: Belief | None = None
    denial: bool = False  # the owner said this cause is not (the main) reason
    ranked_first: bool = False  # the owner called this the main reason ("这是不交的主要原因")


def payment_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    if not facts.payment_history:
        return []
    # A payment made after the as-of date had not been made yet.
    history = [
        entry if entry.paid_on is None or entry.paid_on <= as_of else PaymentEntry(entry.period, None, entry.amount_fen)
        for entry in facts.payment_history
    ]
    found = (_later_and_later(history), _partial_payments(history), _regular_then_stopped(history))
    return [signal for signal in found if signal is not None]


def _payment_signal(rule: str, weight: float, description: str) -> Signal:
    return Signal(
        cause=Category.HARDSHIP,
        weight=weight,
        origin=Origin.PAYMENT_HISTORY,
        source="payment_history",
        quote=description,
        rule=f"hardship.{rule}",
        verbatim=False,
    )


def _single_payments(history: Sequence[PaymentEntry]) -> list[tuple[PaymentEntry, int]]:
    """Paid entries with their delay in days after the period began. Entries paid together with
    others (a year at once, a catch-up) say nothing about when this period was paid."""
    paid_on_count: dict[date, int] = {}
    for entry in history:
        if entry.paid_on is not None:
            paid_on_count[entry.paid_on] = paid_on_count.get(entry.paid_on, 0) + 1
    return [
        (entry, (entry.paid_on - entry.period_start).days)
        for entry in history
        if entry.paid_on is not None and paid_on_count[entry.paid_on] == 1
    ]


def _later_and_later(history: Sequence[PaymentEntry]) -> Signal | None:
    singles = _single_payments(history)
    run = 1
    while run < len(singles) and singles[-run - 1][1] < singles[-run][1]:
        run += 1
    last_delay = singles[-1][1] if singles else 0
    if run < 3 or last_delay <= 31:  # three rising delays, the last one past the month
        return None
    tail = singles[-run:]
    delays = "→".join(str(delay) for _, delay in tail)
    return _payment_signal(
        "paying_later_and_later",
        1.0,
        f"payment_history {tail[0][0].period}..{tail[-1][0].period}: paid {delays} days after each period began",
    )


def _partial_payments(history: Sequence[PaymentEntry]) -> Signal | None:
    """A paid amount below both neighbours' amounts. A rate change moves every later amount
    together, so it is not a dip; a partial payment is."""
    partial = []
    for i, entry in enumerate(history):
        if entry.paid_on is None:
            continue
        neighbours = [history[j].amount_fen for j in (i - 1, i + 1) if 0 <= j < len(history)]
        if neighbours and all(entry.amount_fen < amount for amount in neighbours):
            partial.append(f"{entry.period} paid {entry.amount_fen} of {max(neighbours)} fen")
    if not partial:
        return None
    return _payment_signal("partial_payment", 1.0, f"payment_history partial: {'; '.join(partial)}")


def _regular_then_stopped(history: Sequence[PaymentEntry]) -> Signal | None:
    """Six on-time payments, then nothing for at least two periods: something changed."""
    paid_at = [i for i, entry in enumerate(history) if entry.paid_on is not None]
    if not paid_at:
        return None
    paid, unpaid = history[: paid_at[-1] + 1], history[paid_at[-1] + 1 :]
    recent = paid[-6:]
    on_time = all(
        entry.paid_on is not None and 0 <= (entry.paid_on - entry.period_start).days <= 31 for entry in recent
    )
    if len(recent) < 6 or not on_time or len(unpaid) < 2:
        return None
    return _payment_signal(
        "stopped_after_regular_payments",
        0.5,
        f"payment_history: paid on time through {paid[-1].period}, nothing since {unpaid[0].period}",
    )


def vacancy_signal(facts: CaseFacts, signals: Sequence[Signal]) -> list[Signal]:
    """A recorded vacancy backs up an owner's vacancy claim. It is never a reason by itself."""
    claimed = any(signal.belief is Belief.VACANCY and signal.weight > 0 for signal in signals)
    if not (facts.vacant and claimed):
        return []
    return [
        Signal(
            cause=Category.MISUNDERSTANDING,
            weight=0.5,
            origin=Origin.UNIT,
            source="unit",
            quote="unit recorded as vacant (backs the owner's claim that an empty home is exempt)",
            rule="misunderstanding.vacancy_recorded",
            verbatim=False,
            belief=Belief.VACANCY,
        )
    ]
