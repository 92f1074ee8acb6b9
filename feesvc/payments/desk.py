"""The desk's view of a unit: what the cashier reads before taking a payment (issue 15, 过户).

A unit's ledger holds the accounts of every owner it had: a payment is for one of them (the
current owner's unless the cashier chooses another, ``PaymentCreate.owner_id``) and settles that
account's debts only. So the view lists the current owner's account, and apart the accounts of
other owners (a seller) that still owe or hold credit, each with the owner's id and name as the
reader's role may see it (a cashier: 张*明).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.service import open_credits, open_debits
from feesvc.payments.lookup import current_owner
from feesvc.payments.schemas import DeskAccount, DeskDebt, DeskUnitOut
from feesvc.registry.masking import Masking
from feesvc.registry.models import Owner
from feesvc.registry.service import get_unit


def _account(
    owner_id: int | None, name: str, owns_now: bool, debits: Sequence[OpenDebit], credit_fen: int, today: date
) -> DeskAccount:
    ordered = sorted(debits, key=lambda d: (d.debt_due, d.debt_id, d.entry_id))
    return DeskAccount(
        owner_id=owner_id,
        owner_name=name,
        owns_now=owns_now,
        debts=[DeskDebt(d.entry_id, d.kind, d.debt_id, d.period, d.item, d.debt_due, d.open_fen) for d in ordered],
        owed_fen=sum(d.open_fen for d in debits),
        overdue_fen=sum(d.open_fen for d in debits if d.debt_due < today),
        prepaid_credit_fen=credit_fen,
    )


async def desk_unit(session: AsyncSession, unit_id: int, today: date, masking: Masking) -> DeskUnitOut:
    """The unit's accounts on ``today``: the current owner's (listed even when it is square) and
    the other owners' that owe something or hold credit. Debts recorded without an owner (before
    owners were recorded on entries) are settled by any account's payment; they are listed apart
    under no owner."""
    await get_unit(session, unit_id)
    debits_of: dict[int | None, list[OpenDebit]] = defaultdict(list)
    for debit in await open_debits(session, unit_id):
        debits_of[debit.owner_id].append(debit)
    credit_of: dict[int | None, int] = defaultdict(int)
    for credit, open_fen in await open_credits(session, unit_id):
        credit_of[credit.owner_id] += -open_fen
    owner_now = await current_owner(session, unit_id, today)
    others = sorted(
        ({o for o in debits_of if debits_of[o]} | {o for o, fen in credit_of.items() if fen}) - {owner_now},
        key=lambda o: (o is None, o or 0),
    )
    wanted = [o for o in [owner_now, *others] if o is not None]
    rows = await session.execute(select(col(Owner.id), col(Owner.name)).where(col(Owner.id).in_(wanted)))
    names = {owner_id: masking.name(name) for owner_id, name in rows.all()}

    def account(owner_id: int | None, owns_now: bool) -> DeskAccount:
        name = names.get(owner_id, "") if owner_id is not None else ""
        return _account(owner_id, name, owns_now, debits_of.get(owner_id, []), credit_of.get(owner_id, 0), today)

    return DeskUnitOut(
        unit_id=unit_id,
        as_of=today,
        current_owner=None if owner_now is None else account(owner_now, True),
        other_owners=[account(o, False) for o in others],
    )
