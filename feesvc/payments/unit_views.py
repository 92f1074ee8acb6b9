"""The unit views of a batch of payments (an import's), read in a few set-based statements.

The desk reads one payment's unit view in one statement (``payments.recording``); a batch of 500
bank lines read that way spent most of its time in 500 round trips through the session. Here the
same facts are read for all the batch's units and keys at once: the units with their estate's
allocation order, their ownerships, their open debits (``ledger.service.open_debits_by_unit``), the
debts under an active plan, and the payments already made under the keys. :meth:`BatchViews.view`
then gives each payment the :class:`~feesvc.payments.prepare.UnitView` the desk's statement would
have read, and ``prepare_payment`` decides it as at the desk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Select, any_, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.db import is_postgres
from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import open_debits_by_unit
from feesvc.payments.models import Payment
from feesvc.payments.prepare import UnitView
from feesvc.payments.schemas import PaymentCreate
from feesvc.plans.models import InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import AllocationOrder, Estate, Ownership, Unit

# Units or keys per statement: databases cap the parameters of one query.
CHUNK = 1_000

_UNIT, _ESTATE, _OWNERSHIP = Unit.__table__, Estate.__table__, Ownership.__table__  # type: ignore[attr-defined]
_PLAN, _PLAN_CHARGE = InstallmentPlan.__table__, PlanCharge.__table__  # type: ignore[attr-defined]
_ENTRY, _PAYMENT = LedgerEntry.__table__, Payment.__table__  # type: ignore[attr-defined]


def _among(column: Any, name: str, postgres: bool) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``: on PostgreSQL one array parameter, where an
    expanding ``IN`` of 500 values cost more CPU to render on every execution than to run."""
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _statements(postgres: bool) -> dict[str, Select[Any]]:
    """The reads, built once per dialect, each over a list of unit ids (``ids``) or keys."""
    units = (
        sa_select(_UNIT.c.id, _UNIT.c.estate_id, _ESTATE.c.allocation_order, _UNIT.c.ledger_version)
        .join(_ESTATE, _ESTATE.c.id == _UNIT.c.estate_id)
        .where(_among(_UNIT.c.id, "ids", postgres))
    )
    ownerships = sa_select(
        _OWNERSHIP.c.unit_id, _OWNERSHIP.c.owner_id, _OWNERSHIP.c.starts_on, _OWNERSHIP.c.ends_on
    ).where(_among(_OWNERSHIP.c.unit_id, "ids", postgres))
    # The units' debts (charges) under an active plan, found through the debt's own unit: a late
    # fee's debt is its charge, of the same unit.
    planned = (
        sa_select(_PLAN_CHARGE.c.entry_id)
        .join(_PLAN, _PLAN.c.id == _PLAN_CHARGE.c.plan_id)
        .join(_ENTRY, _ENTRY.c.id == _PLAN_CHARGE.c.entry_id)
        .where(_PLAN.c.state == PlanState.active, _among(_ENTRY.c.unit_id, "ids", postgres))
    )
    keys = sa_select(_PAYMENT.c.idempotency_key, _PAYMENT.c.id, _PAYMENT.c.request_fingerprint).where(
        _among(_PAYMENT.c.idempotency_key, "keys", postgres)
    )
    return {"units": units, "ownerships": ownerships, "planned": planned, "keys": keys}


_STATEMENTS = {postgres: _statements(postgres) for postgres in (False, True)}


@dataclass(frozen=True)
class _UnitFacts:
    estate_id: int
    allocation_order: AllocationOrder
    ledger_version: int


@dataclass(frozen=True)
class _Holding:
    owner_id: int
    starts_on: date
    ends_on: date | None


@dataclass
class BatchViews:
    """What a batch's payments are decided on, by unit and by idempotency key."""

    units: dict[int, _UnitFacts] = field(default_factory=dict)
    holdings: dict[int, list[_Holding]] = field(default_factory=dict)
    debits: dict[int, list[OpenDebit]] = field(default_factory=dict)
    planned: set[int] = field(default_factory=set)
    # The payment made under each key already used: its id and request fingerprint.
    existing: dict[str, tuple[int, str]] = field(default_factory=dict)

    def view(self, data: PaymentCreate, key: str, today: date) -> UnitView | None:
        """The payment's unit view, as the desk's one statement reads it; None if there is no such
        unit. Its ownership facts follow ``registry.service.ownership_covering``: the owner on the
        day received is the one whose holding started by then and had not ended before."""
        unit = self.units.get(data.unit_id)
        if unit is None:
            return None
        on = data.received_on or today
        holdings = self.holdings.get(data.unit_id, ())
        owner_id = next(
            (h.owner_id for h in holdings if h.starts_on <= on and (h.ends_on is None or h.ends_on >= on)), None
        )
        account_held = any(h.owner_id == data.owner_id and h.starts_on <= on for h in holdings)
        debits = self.debits.get(data.unit_id, [])
        return UnitView(
            estate_id=unit.estate_id,
            allocation_order=unit.allocation_order,
            owner_id=owner_id,
            account_held=account_held,
            existing=self.existing.get(key),
            ledger_version=unit.ledger_version,
            debits=debits,
            in_plan=frozenset(d.debt_id for d in debits if d.debt_id in self.planned),
        )


async def read_batch_views(session: AsyncSession, unit_ids: Iterable[int], keys: Iterable[str]) -> BatchViews:
    """The views of these units and keys, in the session's transaction (the units locked first)."""
    views = BatchViews()
    await reread(session, views, unit_ids, keys)
    return views


async def reread(session: AsyncSession, views: BatchViews, unit_ids: Iterable[int], keys: Iterable[str]) -> None:
    """Read (again) these units' facts and these keys' payments into ``views``: after a payment of
    the batch was written to a unit another one of the batch pays too, or under a key it uses."""
    statements = _STATEMENTS[is_postgres(session)]
    ids = sorted(set(unit_ids))
    for chunk in _chunks(ids):
        params = {"ids": chunk}
        for unit_id, estate_id, order, version in await session.execute(statements["units"], params):
            views.units[unit_id] = _UnitFacts(estate_id, AllocationOrder(order), version)
        holdings: dict[int, list[_Holding]] = {unit_id: [] for unit_id in chunk}
        for unit_id, owner_id, starts_on, ends_on in await session.execute(statements["ownerships"], params):
            holdings[unit_id].append(_Holding(owner_id, starts_on, ends_on))
        views.holdings.update(holdings)
        debits = await open_debits_by_unit(session, chunk)
        views.debits.update({unit_id: debits.get(unit_id, []) for unit_id in chunk})
        views.planned.update((await session.execute(statements["planned"], params)).scalars())
    for chunk_keys in _chunks(sorted(set(keys))):
        rows = await session.execute(statements["keys"], {"keys": chunk_keys})
        views.existing.update({key: (payment_id, fingerprint) for key, payment_id, fingerprint in rows})


def _chunks(items: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])
