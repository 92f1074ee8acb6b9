"""A sold unit, built through the API as a user would: issue 15's reproduction, shared by every
test of what happens across a sale (过户).

The unit (100 m² at 2.50 元/m²·month: 25,000 fen a month) is owned by the seller since 2020-01-01.
The seller leaves 2026-06 unpaid. The buyer owns it from ``handover`` (2026-08-01 by default, a
period start; pass e.g. "2026-08-16" for a sale in the middle of a period). Then 2026-09 and
2026-10 are billed: they are the buyer's. The seller owes 25,000 fen, the buyer 50,000.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.support import Api, Estate


@dataclass
class SoldUnit:
    estate: Estate
    unit_id: int
    seller_id: int
    buyer_id: int
    seller_token: str
    buyer_token: str
    handover: str
    # What recording the sale answered (POST /units/{id}/ownerships): the settlement at the sale.
    transfer: Any = None


async def sold_unit(
    api: Api,
    *,
    handover: str = "2026-08-01",
    settings: dict[str, Any] | None = None,
    billed_after: tuple[str, ...] = ("2026-09", "2026-10"),
    billed_before: tuple[str, ...] = ("2026-06",),
    before_sale: Callable[[Api, Estate, int], Awaitable[None]] | None = None,
    transfer: dict[str, Any] | None = None,
) -> SoldUnit:
    """``billed_before``: the periods billed before the transfer is recorded (to the seller, whole);
    ``before_sale(api, estate, unit_id)`` runs after them and before the sale is recorded (e.g. the
    seller prepays); ``transfer`` adds fields to the sale's request body (e.g. ``seller_consent``)."""
    estate = await api.make_estate(units=1, settings=settings, effective_from="2020-01-01", owners_from="2020-01-01")
    unit_id, seller_id = estate.unit_ids[0], estate.owner_ids[0]
    for period in billed_before:
        await api.bill(estate.id, period, f"{period}-01")
    buyer = await api.ok(
        await api.post(
            "/api/v1/owners",
            {
                "name": "买受人王五",
                "phone": "13900009999",
                "id_number": "110101199001019999",
                "postal_address": "上海市徐汇区买家路9号",
            },
        )
    )
    if before_sale is not None:
        await before_sale(api, estate, unit_id)
    recorded = await api.ok(
        await api.post(
            f"/api/v1/units/{unit_id}/ownerships",
            {"owner_id": buyer["id"], "starts_on": handover, **(transfer or {})},
        )
    )
    for period in billed_after:
        await api.bill(estate.id, period, f"{period}-01")
    return SoldUnit(
        estate=estate,
        unit_id=unit_id,
        seller_id=seller_id,
        buyer_id=buyer["id"],
        seller_token=await api.owner_token(seller_id),
        buyer_token=await api.owner_token(buyer["id"]),
        handover=handover,
        transfer=recorded,
    )
