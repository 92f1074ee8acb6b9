"""A unit's position: what the unit search filters on without reading the ledger (issue 18 item 7).

The position is a pure function of the unit's ledger as recorded (every entry, whatever its date):

* ``balance_fen``: the sum of every entry's amount (what the owners owe, net of their credit);
* ``earliest_open_due``: the earliest due date among the unit's open debts, any owner's: a charge
  or late fee whose amount plus what settles it is not zero, a late fee falling due with the charge
  it accrued on (the rule of the ledger's ``overdue_fen`` and of the aging report). None when
  nothing is open.

"In arrears as of a day" is then ``earliest_open_due < day``: nothing stored depends on today.
A unit counts as in arrears if any owner's account on it is (a seller's unpaid periods after a
sale included), and debts under an installment plan count as overdue by their own due dates even
while the plan is kept, as the aging report and the ledger's ``overdue_fen`` count them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Protocol


class Debit(Protocol):
    @property
    def entry_id(self) -> int: ...
    @property
    def open_fen(self) -> int: ...
    @property
    def debt_due(self) -> date: ...


def earliest_open_due(debits: Iterable[Debit], settled_now: Mapping[int, int] | None = None) -> date | None:
    """The earliest due date of the debits still open once ``settled_now`` (fen by entry id) is
    taken off them; None if none is."""
    settled = settled_now or {}
    dues = [d.debt_due for d in debits if d.open_fen != settled.get(d.entry_id, 0)]
    return min(dues, default=None)
