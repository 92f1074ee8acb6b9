from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.ledger import service
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.schemas import LedgerOut, entry_out
from feesvc.payoff.accounts import AccountOwnerId, account_owner, entry_owner, unit_owners
from feesvc.payoff.service import unit_payoff
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId


class LedgerController(Controller):
    path = "/api/v1/units/{unit_id:int}/ledger"
    tags = ["ledger"]

    @get("/", guards=[anyone])
    async def ledger(
        self,
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        as_of: date | None = None,
        owner_id: AccountOwnerId = None,
    ) -> LedgerOut:
        """The unit's ledger and balance as they stood at the end of ``as_of`` (default: today).

        Staff read the whole unit, or with ``owner_id`` one owner's account (a seller's or a
        buyer's, DOMAIN "Change of owner"); an owner reads their own account only. An account's
        ledger holds its entries, and another account's settling its debts without saying whose."""
        await get_unit(db, unit_id)
        await can_read_unit(db, principal, unit_id)
        day = as_of or business_today()
        entries = await service.entries_as_of(db, unit_id, day)
        debits = await service.open_debits(db, unit_id, day)
        mine: set[int] | None = None
        account = owner_id if principal.is_staff else principal.owner_id
        if account is not None or not principal.is_staff:
            owners = await unit_owners(db, unit_id)
            if principal.is_staff:
                account_owner(owners, account, day)  # one of the unit's owners, else 422 naming owner_id
            mine = {e.id or 0 for e in entries if entry_owner(e.owner_id, e.effective_date, owners) == account}
            entries = [e for e in entries if e.id in mine or e.settles_entry_id in mine]
            debits = [d for d in debits if d.entry_id in mine]
        running = 0
        rows = []
        for entry in entries:
            running += entry.amount_fen
            row = entry_out(entry, running)
            if mine is not None and entry.id not in mine:
                row = msgspec.structs.replace(row, payment_id=None, actor="", detail=None)
            rows.append(row)
        payoff = await unit_payoff(db, unit_id, day, account) if day <= business_today() else None
        credit = await service.prepaid_credit_fen(db, unit_id, day) if mine is None else _credit_held(entries, mine)
        return LedgerOut(
            unit_id=unit_id,
            as_of=day,
            entries=rows,
            balance_fen=running,
            owed_fen=sum(d.open_fen for d in debits),
            overdue_fen=sum(d.open_fen for d in debits if d.debt_due < day),
            prepaid_credit_fen=credit,
            payoff=payoff,
        )


def _credit_held(entries: list[LedgerEntry], mine: set[int]) -> int:
    """The prepaid credit an owner's account holds: their credit entries less what has used them."""
    open_fen = {e.id: e.amount_fen for e in entries if e.id in mine and e.kind == EntryKind.prepaid_credit}
    for e in entries:
        if e.settles_entry_id in open_fen:
            open_fen[e.settles_entry_id] += e.amount_fen
    return -sum(open_fen.values())
