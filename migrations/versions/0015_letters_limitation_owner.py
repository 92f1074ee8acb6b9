"""limitation events per owner: limitation_event.owner_id, backfilled from the best record

After a sale the seller and the buyer each have their own limitation clock (DOMAIN.md, "Change of
owner"): a demand delivered to the buyer interrupts nothing for the seller. Each existing event
gets the owner its own record names: the letter's owner for a delivered demand (the owner it was
addressed to), the plan's owner for an acknowledgement, the paying account's owner (its ledger
entries) for a part payment; failing those, the owner of the period (its charges' owner, else the
ownership covering the period's first day).

Revision ID: 0015_letters
Revises: 0011_search
Create Date: 2026-12-07 13:20:00
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015_letters"
down_revision: str | None = "0014_at_sale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names for SQLite's unnamed constraints, so that batch mode can find them.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
SQLITE_FK = "fk_limitation_event_owner_id_owner"
POSTGRES_FK = "limitation_event_owner_id_fkey"
CHUNK = 5000  # ids per IN list: both databases cap the parameters of one statement

LETTER = re.compile(r"^letter (\S+)$")
PLAN = re.compile(r"^installment plan #([0-9]+)$")
PAYMENT = re.compile(r"^payment #([0-9]+)$")
RECEIPT = re.compile(r"([0-9]{4})-([0-9]{6})")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _sqlite():
        with op.batch_alter_table("limitation_event", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(SQLITE_FK, "owner", ["owner_id"], ["id"])
    else:
        op.add_column("limitation_event", sa.Column("owner_id", sa.Integer(), nullable=True))
        op.create_foreign_key(POSTGRES_FK, "limitation_event", "owner", ["owner_id"], ["id"])
    _backfill(op.get_bind())


def downgrade() -> None:
    if _sqlite():
        with op.batch_alter_table("limitation_event", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint(SQLITE_FK, type_="foreignkey")
            batch_op.drop_column("owner_id")
    else:
        op.drop_constraint(POSTGRES_FK, "limitation_event", type_="foreignkey")
        op.drop_column("limitation_event", "owner_id")


# ---------------------------------------------------------------------------------------------
# The backfill


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _rows(bind: sa.Connection, query: str, values: Iterable[Any]) -> Iterator[sa.Row[Any]]:
    """``query`` with ``:values`` an IN list, run chunk by chunk."""
    statement = sa.text(query).bindparams(sa.bindparam("values", expanding=True))
    for chunk in _chunks(values):
        yield from bind.execute(statement, {"values": chunk}).all()


def _day(value: object) -> str:
    return str(value)[:10]  # a date, or SQLite's text of one


def _backfill(bind: sa.Connection) -> None:
    events = bind.execute(sa.text("SELECT id, unit_id, period, kind, source FROM limitation_event")).all()
    if not events:
        return
    letter_nos = {m.group(1) for e in events if e.kind == "demand_delivered" and (m := LETTER.match(e.source))}
    letters = dict(
        _rows(
            bind,
            "SELECT letter_no, owner_id FROM letter WHERE owner_id IS NOT NULL AND letter_no IN :values",
            letter_nos,
        )  # noqa: E501
    )
    plan_ids = {int(m.group(1)) for e in events if e.kind == "acknowledgement" and (m := PLAN.match(e.source))}
    plans = dict(
        _rows(bind, "SELECT id, owner_id FROM installment_plan WHERE owner_id IS NOT NULL AND id IN :values", plan_ids)
    )
    units = {e.unit_id for e in events}
    payments = _part_payments(bind, [e for e in events if e.kind == "part_payment"], units)
    charge_owners: dict[tuple[int, str], set[int]] = defaultdict(set)
    for unit_id, period, owner_id in _rows(
        bind,
        "SELECT unit_id, period, owner_id FROM ledger_entry"
        " WHERE kind = 'charge' AND owner_id IS NOT NULL AND period IS NOT NULL AND unit_id IN :values",
        units,
    ):
        charge_owners[(unit_id, period)].add(owner_id)
    ownerships: dict[int, list[tuple[str, str | None, int]]] = defaultdict(list)
    for unit_id, owner_id, starts_on, ends_on in _rows(
        bind, "SELECT unit_id, owner_id, starts_on, ends_on FROM ownership WHERE unit_id IN :values", units
    ):
        ownerships[unit_id].append((_day(starts_on), None if ends_on is None else _day(ends_on), owner_id))

    def owner_of_period(unit_id: int, period: str) -> int | None:
        owners = charge_owners.get((unit_id, period), set())
        if len(owners) == 1:
            return next(iter(owners))
        first_day = f"{period}-01"
        for starts_on, ends_on, owner_id in ownerships.get(unit_id, []):
            if starts_on <= first_day and (ends_on is None or ends_on >= first_day):
                return owner_id
        return min(owners) if owners else None

    updates = []
    for event in events:
        owner_id: int | None = None
        if event.kind == "demand_delivered" and (m := LETTER.match(event.source)):
            owner_id = letters.get(m.group(1))
        elif event.kind == "acknowledgement" and (m := PLAN.match(event.source)):
            owner_id = plans.get(int(m.group(1)))
        elif event.kind == "part_payment":
            owner_id = payments.get(event.id)
        if owner_id is None:
            owner_id = owner_of_period(event.unit_id, event.period)
        if owner_id is not None:
            updates.append({"owner": owner_id, "event": event.id})
    if updates:
        bind.execute(sa.text("UPDATE limitation_event SET owner_id = :owner WHERE id = :event"), updates)


def _part_payments(bind: sa.Connection, events: Sequence[sa.Row[Any]], units: set[int]) -> dict[int, int]:
    """event id → the owner of the account that paid: the owner its payment's ledger entries carry
    (of the event's period first). The payment is named as "payment #12" or by its receipt numbers."""
    if not events:
        return {}
    estates = dict(_rows(bind, "SELECT id, estate_id FROM unit WHERE id IN :values", units))
    receipts: dict[tuple[int, int, int], int] = {}
    wanted = {(estates.get(e.unit_id), int(year), int(seq)) for e in events for year, seq in RECEIPT.findall(e.source)}
    if wanted:
        for payment_id, estate_id, year, seq in _rows(
            bind,
            "SELECT payment_id, estate_id, year, seq FROM receipt WHERE estate_id IN :values",
            {estate for estate, _, _ in wanted if estate is not None},
        ):
            if (estate_id, year, seq) in wanted:
                receipts[(estate_id, year, seq)] = payment_id
    paid_by: dict[int, list[int]] = {}
    for event in events:
        if m := PAYMENT.match(event.source):
            paid_by[event.id] = [int(m.group(1))]
        else:
            found = [
                receipts.get((estates.get(event.unit_id), int(y), int(s))) for y, s in RECEIPT.findall(event.source)
            ]
            paid_by[event.id] = [p for p in found if p is not None]
    owners: dict[int, dict[str | None, int]] = defaultdict(dict)
    for payment_id, period, owner_id in _rows(
        bind,
        "SELECT payment_id, period, owner_id FROM ledger_entry WHERE owner_id IS NOT NULL AND payment_id IN :values",
        {p for ids in paid_by.values() for p in ids},
    ):
        owners[payment_id].setdefault(period, owner_id)
    found_owner: dict[int, int] = {}
    for event in events:
        by_period = [owners[p] for p in paid_by[event.id] if p in owners]
        best = [o[event.period] for o in by_period if event.period in o] or [v for o in by_period for v in o.values()]
        if best:
            found_owner[event.id] = best[0]
    return found_owner
