from __future__ import annotations

from datetime import date

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.ledger import service
from feesvc.ledger.schemas import LedgerOut, entry_out
from feesvc.payoff.service import unit_payoff
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId


class LedgerController(Controller):
    path = "/api/v1/units/{unit_id:int}/ledger"
    tags = ["ledger"]

    @get("/", guards=[anyone])
    async def ledger(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, as_of: date | None = None
    ) -> LedgerOut:
        """The unit's ledger and balance as they stood at the end of ``as_of`` (default: today)."""
        await get_unit(db, unit_id)
        await can_read_unit(db, principal, unit_id)
        day = as_of or business_today()
        entries = await service.entries_as_of(db, unit_id, day)
        running = 0
        rows = []
        for entry in entries:
            running += entry.amount_fen
            rows.append(entry_out(entry, running))
        debits = await service.open_debits(db, unit_id, day)
        payoff = await unit_payoff(db, unit_id, day, principal.owner_id) if day <= business_today() else None
        return LedgerOut(
            unit_id=unit_id,
            as_of=day,
            entries=rows,
            balance_fen=running,
            owed_fen=sum(d.open_fen for d in debits),
            overdue_fen=sum(d.open_fen for d in debits if d.debt_due < day),
            prepaid_credit_fen=await service.prepaid_credit_fen(db, unit_id, day),
            payoff=payoff,
        )
