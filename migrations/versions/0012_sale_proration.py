"""estate.sale_proration; charges across a recorded sale become each owner's share of the period

A billing period split by a handover (过户, DOMAIN.md "Change of owner") is now charged to each
owner for their days (the estate's ``sale_proration``; existing estates get ``by_days``). The
billing run used to charge a period whole to the owner on its first day, and a sale recorded after
its handover left charges with the seller for days the buyer owned. This migration converts them
as ``feesvc.billing.sale.reattribute_charges`` does for a sale recorded from now on:

* a unit's standing charges of a period and item that are not what the ownerships give (a period
  split by a handover, charged whole; a charge whose owner is not the owner of its period) are
  reversed and re-issued as the owners' shares, by days, half-up, the last owner taking the rest
  (the rounding stated on each share), from the day the reversed charge took effect (or fell due,
  if earlier), so the next late-fee accrual brings the reversed charge's late fees to nothing and
  the shares accrue their own;
* what was paid on a reversed charge (a payment's split, prepaid credit applied) is reversed on the
  day it was paid and held from that day as prepaid credit of the owner who paid it;
* a charge settled by anything else (a prepayment's discount, a rate difference, an adjustment) or
  in an installment plan is left as it is (listed in the migration's log: convert it by hand).

Every entry written carries actor ``migration 0012`` and a reason; the days nobody on record owned,
in a period somebody did, are charged to nobody. The rules are copied here as they were at 0012
(``feesvc.rules.proration.period_shares``, ``feesvc.billing.service.charge_key``), so this
migration does the same whatever the code becomes.

Downgrade deletes exactly the entries this migration wrote (by their actor), then the column. It
stops (nothing lost) if a later entry refers to one of them (a payment on a re-issued share).

Revision ID: 0012_sale
Revises: 0011_search
Create Date: 2026-12-07 13:00:00
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from dateutil.relativedelta import relativedelta

from migrations.append_only import allow_changes, forbid_changes

revision: str = "0012_sale"
down_revision: str | None = "0011_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

ACTOR = "migration 0012"
REASON = (
    "migration 0012: charged by days to each owner of the period (handover recorded on the ownership); "
    "this charge was issued before, whole or to another owner"
)
ROUNDING_NOTE = "按日分摊：本期金额×持有天数÷本期天数，四舍五入到分，尾差计入本期最后一位业主"
SHARE_KEYS = ("owner_days", "period_days", "first_day", "last_day", "period_amount_fen", "rounding")
PAID_KINDS = ("payment", "credit_applied")

ENTRY = sa.table(
    "ledger_entry",
    sa.column("id", sa.BigInteger),
    sa.column("estate_id", sa.Integer),
    sa.column("unit_id", sa.Integer),
    sa.column("owner_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("amount_fen", sa.BigInteger),
    sa.column("effective_date", sa.Date),
    sa.column("period", sa.String),
    sa.column("period_months", sa.Integer),
    sa.column("item", sa.String),
    sa.column("due_date", sa.Date),
    sa.column("fee_standard_id", sa.Integer),
    sa.column("settles_entry_id", sa.BigInteger),
    sa.column("reverses_entry_id", sa.BigInteger),
    sa.column("basis_entry_id", sa.BigInteger),
    sa.column("payment_id", sa.BigInteger),
    sa.column("dedupe_key", sa.String),
    sa.column("actor", sa.String),
    sa.column("reason", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
OWNERSHIP = sa.table(
    "ownership",
    sa.column("unit_id", sa.Integer),
    sa.column("owner_id", sa.Integer),
    sa.column("starts_on", sa.Date),
    sa.column("ends_on", sa.Date),
)
ESTATE = sa.table("estate", sa.column("id", sa.Integer), sa.column("cycle_months", sa.Integer))
PLAN_CHARGE = sa.table("plan_charge", sa.column("entry_id", sa.BigInteger))
COLUMNS = [c.name for c in ENTRY.columns if c.name != "id"]


def upgrade() -> None:
    with op.batch_alter_table("estate") as batch:
        batch.add_column(
            sa.Column(
                "sale_proration",
                sa.Enum("by_days", "owner_on_period_start", name="saleproration", native_enum=False, length=24),
                nullable=False,
                server_default="by_days",
            )
        )
    _convert(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    allow_changes(["ledger_entry"])
    bind.execute(sa.delete(ENTRY).where(ENTRY.c.actor == ACTOR))
    forbid_changes(["ledger_entry"])
    with op.batch_alter_table("estate") as batch:
        batch.drop_column("sale_proration")


# --- the rules as they were at 0012 ------------------------------------------------------------


def _shares(
    amount_fen: int, first: date, last: date, holdings: list[tuple[int, date, date | None]]
) -> list[tuple[int | None, date, date, int, int, int]]:
    """(owner or None, first day, last day, days, period days, fen) of each part of the period."""
    period_days = (last - first).days + 1
    spans: list[tuple[int | None, date, date]] = []
    for owner, starts, ends in sorted(holdings, key=lambda h: h[1]):
        start, end = max(starts, first), min(ends or last, last)
        if start <= end:
            spans.append((owner, start, end))
    covered: list[tuple[int | None, date, date]] = []
    day = first
    for owner, start, end in spans:
        if start > day:
            covered.append((None, day, start - timedelta(days=1)))
        covered.append((owner, start, end))
        day = end + timedelta(days=1)
    if day <= last:
        covered.append((None, day, last))
    shares, given = [], 0
    for index, (owner, start, end) in enumerate(covered):
        days = (end - start).days + 1
        if index == len(covered) - 1:
            fen = amount_fen - given
        else:
            fen = int((Decimal(amount_fen) * days / period_days).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        given += fen
        shares.append((owner, start, end, days, period_days, fen))
    return shares


def _key(unit_id: int, item: str, period: str, owner_id: int | None = None) -> str:
    return f"charge:{unit_id}:{item}:{period}" if owner_id is None else f"charge:{unit_id}:{item}:{period}:o{owner_id}"


# --- the conversion ------------------------------------------------------------------------------


def _candidate_units(bind: sa.Connection) -> list[int]:
    """Units sold (more than one ownership), or with a charge owned by nobody on their record."""
    sold = sa.select(OWNERSHIP.c.unit_id).group_by(OWNERSHIP.c.unit_id).having(sa.func.count() > 1)
    owned = sa.exists().where(OWNERSHIP.c.unit_id == ENTRY.c.unit_id)
    own = sa.exists().where(OWNERSHIP.c.unit_id == ENTRY.c.unit_id, OWNERSHIP.c.owner_id == ENTRY.c.owner_id)
    strays = sa.select(ENTRY.c.unit_id).where(ENTRY.c.kind == "charge", owned, ~own).distinct()
    return sorted({unit_id for (unit_id,) in bind.execute(sa.union(sold, strays)).all()})


def _convert(bind: sa.Connection) -> None:
    units = _candidate_units(bind)
    if not units:
        return
    cycles = dict(bind.execute(sa.select(ESTATE.c.id, ESTATE.c.cycle_months)).all())
    in_plans = {entry_id for (entry_id,) in bind.execute(sa.select(PLAN_CHARGE.c.entry_id)).all()}
    now = datetime.now(UTC)
    for start in range(0, len(units), 500):
        batch = units[start : start + 500]
        holdings: dict[int, list[tuple[int, date, date | None]]] = defaultdict(list)
        for unit_id, owner_id, starts_on, ends_on in bind.execute(
            sa.select(OWNERSHIP).where(OWNERSHIP.c.unit_id.in_(batch))
        ).all():
            holdings[unit_id].append((owner_id, starts_on, ends_on))
        entries = bind.execute(sa.select(ENTRY).where(ENTRY.c.unit_id.in_(batch)).order_by(ENTRY.c.id)).mappings().all()
        rows: list[dict[str, Any]] = []
        for unit_id in batch:
            mine = [e for e in entries if e["unit_id"] == unit_id]
            rows += _unit_rows(mine, holdings[unit_id], cycles, in_plans, now)
        for at in range(0, len(rows), 1000):
            bind.execute(sa.insert(ENTRY), rows[at : at + 1000])


def _unit_rows(
    entries: Sequence[Any],
    holdings: list[tuple[int, date, date | None]],
    cycles: dict[int, int],
    in_plans: set[int],
    now: datetime,
) -> list[dict[str, Any]]:
    reversed_ids = {e["reverses_entry_id"] for e in entries if e["reverses_entry_id"] is not None}
    settling: dict[int, list[Any]] = defaultdict(list)
    for e in entries:
        if e["settles_entry_id"] is not None and e["kind"] != "reversal" and e["id"] not in reversed_ids:
            settling[e["settles_entry_id"]].append(e)
    slots: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in entries:
        if e["kind"] == "charge" and e["period"]:
            slots[(e["period"], e["item"] or "")].append(e)
    rows: list[dict[str, Any]] = []
    for (period, item), issued in sorted(slots.items()):
        standing = [c for c in issued if c["id"] not in reversed_ids]
        if not standing:
            continue
        first = date.fromisoformat(f"{period}-01")
        last = first + relativedelta(months=standing[0]["period_months"] or cycles[standing[0]["estate_id"]])
        last -= timedelta(days=1)
        overlapping = [h for h in holdings if h[1] <= last and (h[2] is None or h[2] >= first)]
        if not overlapping:
            continue  # nobody on record in the period: billed to nobody in particular, as the run does
        total = sum(c["amount_fen"] for c in standing)
        shares = _shares(total, first, last, overlapping)
        owners = [s[0] for s in shares]
        wanted = sorted((s[0], s[5]) for s in shares if s[0] is not None and s[5] != 0)
        if wanted == sorted((c["owner_id"] or 0, c["amount_fen"]) for c in standing):
            continue
        others = [e for c in standing for e in settling[c["id"]] if e["kind"] not in PAID_KINDS]
        if others or any(c["id"] in in_plans for c in standing):
            why = f"a {others[0]['kind']} entry settles it" if others else "an installment plan covers it"
            log.warning("0012: unit %s %s %s left as it was (%s)", standing[0]["unit_id"], period, item, why)
            continue
        counts: dict[str, int] = defaultdict(int)
        for c in issued:
            if c["dedupe_key"]:
                counts[c["dedupe_key"].partition("#")[0]] += 1
        on = min(min(c["effective_date"], c["due_date"] or c["effective_date"]) for c in standing)
        mark = {"migration": revision}
        for charge in standing:
            for paid in settling[charge["id"]]:
                rows.append(
                    _entry(
                        paid,
                        now,
                        kind="reversal",
                        amount_fen=-paid["amount_fen"],
                        settles_entry_id=paid["settles_entry_id"],
                        reverses_entry_id=paid["id"],
                        reason=REASON,
                        detail=mark,
                    )
                )
                rows.append(
                    _entry(
                        paid,
                        now,
                        kind="prepaid_credit",
                        amount_fen=paid["amount_fen"],
                        period=None,
                        item=None,
                        due_date=None,
                        payment_id=None,
                        detail={**mark, "from_entry_ids": [paid["id"]], "from_payment_id": paid["payment_id"]},
                    )
                )
            rows.append(
                _entry(
                    charge,
                    now,
                    kind="reversal",
                    amount_fen=-charge["amount_fen"],
                    effective_date=on,
                    settles_entry_id=charge["id"],
                    reverses_entry_id=charge["id"],
                    due_date=None,
                    period_months=None,
                    fee_standard_id=None,
                    reason=REASON,
                    detail=mark,
                )
            )
        base = {k: v for k, v in (standing[0]["detail"] or {}).items() if k not in SHARE_KEYS and k != "reattributed"}
        unit_id = standing[0]["unit_id"]
        for owner, start, end, days, period_days, fen in shares:
            if owner is None or fen == 0:
                continue
            whole = days == period_days
            key = _key(unit_id, item, period) if whole else _key(unit_id, item, period, owner)
            if not whole and owners.count(owner) > 1:
                key = f"{key}:{start.isoformat()}"
            reissue = counts.get(key, 0)
            detail = {**base, **mark, "reissues": [c["id"] for c in standing]}
            if not whole:
                detail |= {
                    "owner_days": days,
                    "period_days": period_days,
                    "first_day": start.isoformat(),
                    "last_day": end.isoformat(),
                    "period_amount_fen": total,
                    "rounding": ROUNDING_NOTE,
                }
            rows.append(
                _entry(
                    standing[0],
                    now,
                    owner_id=owner,
                    amount_fen=fen,
                    effective_date=on,
                    dedupe_key=f"{key}#{reissue}" if reissue else key,
                    detail=detail,
                )
            )
    return rows


def _entry(source: Any, now: datetime, **changes: Any) -> dict[str, Any]:
    """A new entry like ``source`` (a row read), with ``changes``, written by this migration."""
    row = {name: source[name] for name in COLUMNS}
    row.update(
        settles_entry_id=None,
        reverses_entry_id=None,
        basis_entry_id=None,
        dedupe_key=None,
        reason=None,
        actor=ACTOR,
        created_at=now,
    )
    row.update(changes)
    return row
