"""The benchmarks' sold units (issue 15: "with 5 % of the 100,000 units sold (some mid-period)").

One seeding for every benchmark that seeds a registry of its own (the billing run, the late-fee
accrual, the reminder run, payments over HTTP), so their sold units are the same kind of data:

- every twentieth unit (ids 10, 30, 50, …) changed hands: 5 % of the units;
- the seller is the unit's original owner (owner id = unit id, as every benchmark seeds owners);
  the buyer is a new owner numbered after them (units + 1, units + 2, …);
- alternately, the handover (``Ownership.starts_on`` of the buyer) is the middle day of the
  benchmark's chosen billing period (a mid-period sale) or that period's first day;
- the seller's ownership ends the day before the handover, as ``transfer_ownership`` records it;
- every fourth seller left no postal address when moving away (a letter for the seller's periods
  needs attention), the others left where they live now.

Entries a benchmark seeds for a sold unit carry the owner of their period (``owner_of_period``:
the owner on its first day, which is what the billing run charges when it does not split a
period) and payments the owner whose debts they settle. ``charge_shares`` gives the split by days
(``feesvc.rules.proration``) for figures that depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from feesvc.rules.proration import Holding, SaleProration, period_shares

SOLD_EVERY = 20  # one unit in twenty: 5 %
NO_ADDRESS_EVERY = 4  # one seller in four left no postal address


@dataclass(frozen=True)
class Sale:
    unit_id: int
    seller_id: int
    buyer_id: int
    handover: date
    # Counted from 0 in unit order: decides mid-period or not, and whether the address is known.
    index: int

    @property
    def seller_address_known(self) -> bool:
        return self.index % NO_ADDRESS_EVERY != NO_ADDRESS_EVERY - 1


@dataclass(frozen=True)
class SoldShare:
    units: int
    period_first: date
    period_last: date
    sales: dict[int, Sale]

    @property
    def mid_period(self) -> int:
        """How many sales have their handover after the period's first day."""
        return sum(1 for sale in self.sales.values() if sale.handover > self.period_first)

    def owner_on(self, unit_id: int, day: date) -> int:
        sale = self.sales.get(unit_id)
        return sale.buyer_id if sale is not None and day >= sale.handover else unit_id

    def owner_of_period(self, unit_id: int, first_day: date) -> int:
        """Who a period's whole charge is seeded to: the owner on its first day."""
        return self.owner_on(unit_id, first_day)

    def holdings(self, unit_id: int) -> list[Holding]:
        sale = self.sales.get(unit_id)
        if sale is None:
            return [Holding(unit_id, date.min, None)]
        return [
            Holding(sale.seller_id, date.min, sale.handover - timedelta(days=1)),
            Holding(sale.buyer_id, sale.handover, None),
        ]

    def charge_shares(
        self, unit_id: int, amount_fen: int, first: date, last: date, proration: SaleProration
    ) -> list[tuple[int | None, int]]:
        """(owner id, fen) of a period's charge, as ``feesvc.rules.proration`` splits it."""
        shares = period_shares(amount_fen, first, last, self.holdings(unit_id), proration)
        return [(share.owner_id, share.amount_fen) for share in shares]

    def ownership_rows(self, template: dict[str, Any]) -> list[dict[str, Any]]:
        """Every unit's ownerships: the original owner's (id = unit id, closed the day before a
        handover) and, for the sold units, the buyer's from the handover (ids after the units)."""
        rows = []
        for unit_id in range(1, self.units + 1):
            sale = self.sales.get(unit_id)
            ends_on = sale.handover - timedelta(days=1) if sale is not None else None
            rows.append({**template, "id": unit_id, "unit_id": unit_id, "owner_id": unit_id, "ends_on": ends_on})
        for sale in self.sales.values():
            rows.append(
                {
                    **template,
                    "id": self.units + sale.index + 1,
                    "unit_id": sale.unit_id,
                    "owner_id": sale.buyer_id,
                    "starts_on": sale.handover,
                    "ends_on": None,
                }
            )
        return rows

    def buyer_rows(
        self, template: dict[str, Any], columns: Callable[[Sale], dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The buyers' owner rows: ``template`` with the id, a name, and whatever ``columns`` adds."""
        return [
            {**template, "id": sale.buyer_id, "name": f"Buyer {sale.unit_id}", **(columns(sale) if columns else {})}
            for sale in self.sales.values()
        ]


def sold_share(units: int, period_first: date, period_months: int = 1) -> SoldShare:
    """5 % of ``units`` sold, alternately in the middle of the billing period starting
    ``period_first`` (its middle day) and on its first day."""
    last = period_first + relativedelta(months=period_months) - timedelta(days=1)
    middle = period_first + timedelta(days=(last - period_first).days // 2 + 1)
    sales = {}
    for index, unit_id in enumerate(range(SOLD_EVERY // 2, units + 1, SOLD_EVERY)):
        handover = middle if index % 2 == 0 else period_first
        sales[unit_id] = Sale(unit_id, unit_id, units + index + 1, handover, index)
    return SoldShare(units, period_first, last, sales)
