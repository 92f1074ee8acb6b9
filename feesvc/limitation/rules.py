"""Which periods of an account expire soon, and which need a notice that interrupts them. Pure
functions over plain data: no database.

An account is one owner at one unit (DOMAIN.md "Change of owner"): a seller's periods and the
buyer's are watched apart, each with its own owner's interruptions only.

The decisions taken here:

* A period is **watched** while something is open on it (principal or late fee): a paid period
  has nothing to lose. Its clock is ``feesvc.evidence.limitation.limitation_status`` (three years
  from the due date or the last interruption, the last day included).
* The **watch** lists the periods whose last day is from ``as_of`` to ``as_of + within_days``,
  both included. Periods already expired are counted apart (nothing restarts them but the owner's
  acknowledgement).
* A period **needs a notice** when it expires within ``NOTICE_WITHIN_DAYS`` and no interrupting
  letter naming it went to its owner in the last ``NOTICE_IN_FLIGHT_DAYS`` (that letter is on its
  way; its recorded delivery restarts the clock). 90 days leave time for registered mail, a
  second try and, failing both, an acknowledgement or a filing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from feesvc.evidence.limitation import Interruption, LimitationStatus, PeriodLimitation, limitation_status
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind

MAX_WITHIN_DAYS: Final = 3 * 366  # a window past one clock's length would list every period
NOTICE_WITHIN_DAYS: Final = 90
NOTICE_IN_FLIGHT_DAYS: Final = 30

#: Letters whose recorded delivery interrupts limitation: they name the periods and amounts owed
#: and ask for them (民法典 195(1)). The hardship offer asks gently, by installments, but asks.
INTERRUPTING_KINDS: Final = frozenset({*PAYMENT_REQUEST_KINDS, LetterKind.hardship_offer})


@dataclass(frozen=True)
class OpenPeriod:
    """What is open of one billing period of an account: its earliest due date and amounts."""

    period: str
    due: date
    principal_fen: int
    late_fee_fen: int


@dataclass(frozen=True)
class WatchedPeriod:
    period: OpenPeriod
    limitation: PeriodLimitation


@dataclass(frozen=True)
class AccountWatch:
    expiring: tuple[WatchedPeriod, ...]  # last day within the window, soonest first
    expired: tuple[WatchedPeriod, ...]


def watch_account(
    periods: Iterable[OpenPeriod],
    interruptions: Mapping[str, Sequence[Interruption]],
    as_of: date,
    within_days: int,
) -> AccountWatch:
    """The account's periods expiring from ``as_of`` to ``as_of + within_days`` and those expired."""
    expiring, expired = [], []
    for period in periods:
        lim = limitation_status(period.due, interruptions.get(period.period, ()), as_of)
        if lim.status == LimitationStatus.expired:
            expired.append(WatchedPeriod(period, lim))
        elif lim.days_left <= within_days:
            expiring.append(WatchedPeriod(period, lim))
    key = lambda w: (w.limitation.expires_on, w.period.period)  # noqa: E731
    return AccountWatch(tuple(sorted(expiring, key=key)), tuple(sorted(expired, key=key)))


def needing_notice(
    expiring: Iterable[WatchedPeriod], notices: Iterable[tuple[date, Sequence[str]]], as_of: date
) -> list[WatchedPeriod]:
    """The periods among ``expiring`` that expire within ``NOTICE_WITHIN_DAYS`` and were named by
    none of the account's interrupting letters ``notices`` ((issued on, periods)) issued in the last
    ``NOTICE_IN_FLIGHT_DAYS`` days."""
    since = as_of - timedelta(days=NOTICE_IN_FLIGHT_DAYS)
    in_flight = {p for issued_on, named in notices if since < issued_on <= as_of for p in named}
    return [w for w in expiring if w.limitation.days_left <= NOTICE_WITHIN_DAYS and w.period.period not in in_flight]


def interrupting_kind(kind: LetterKind | None, hardship: bool) -> LetterKind:
    """The letter an account with a period nearing expiry gets instead of ``kind`` (the stage's
    letter, or None when the stage sends none): an interrupting letter is kept, a hardship owner
    gets the installment offer (their gentle tone), anyone else the final demand (催告函)."""
    if kind is not None and kind in INTERRUPTING_KINDS:
        return kind
    return LetterKind.hardship_offer if hardship else LetterKind.final_demand
