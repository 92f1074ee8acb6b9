"""Collection rate (收缴率), old arrears (清欠) and the monthly series.

Collection rate, by amount and by households (DOMAIN.md: collected ÷ billed)
    Only charges (物业费 and other billed items) count; late fees are not in the rate.

    * billed: the charges of the period posted by ``as_of``, less corrections of them (a reversed
      charge or an adjustment was never owed);
    * collected: money the owner paid that settled those charges by ``as_of``: payment splits and
      prepaid credit applied (prepaid credit is money received, counted when it is applied to the
      charge), less voided payments and reversed applications;
    * discounts (预缴优惠) and waivers are *not* collected money: they are reported apart, and so
      billed = collected + discount + waived + outstanding, to the fen;
    * rate by amount = collected ÷ billed. Rate by households = units whose charges of the period
      are fully settled (by any means, a discount included) ÷ units billed; a unit whose charges
      were wholly reversed is in neither.

Old arrears (清欠), reported apart
    Charges of earlier periods, due before the period's first day: what was open on them at the end
    of the day before (units: those owing any of it), what was collected on them from the first to
    the last day of the period's month (up to ``as_of``; net of payments voided in that window, so
    it can be negative), and how many of those units have nothing of it left open. Amounts are sums
    over all such charges (what is open on a charge is never negative), so the monthly series can
    add them up from a few grouped rows instead of one pass over the ledger per month.

Monthly series
    Each month at its own last day (today for the current month), the 当期收缴率, or all months at
    one ``as_of``. Four queries whatever the number of months (at most ``MAX_MONTHS``).

Former owners' part of the outstanding and of the old arrears: ``aging.former_owner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Subquery, and_, case, func, or_
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from feesvc.formatting import period_label
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.registry.models import Estate
from feesvc.reports.aging import former_owner
from feesvc.reports.common import ReportInputError, int_or_zero, month_end, months_between, rate
from feesvc.reports.schemas import CollectionRate, MonthlyPoint, MonthlySeries, OldArrears
from feesvc.schemas import period_start

MAX_MONTHS: Final = 60
COLLECTING_KINDS: Final = (EntryKind.payment, EntryKind.credit_applied)


@dataclass(frozen=True)
class _Settling:
    """A settling entry ``s`` joined to the charge ``c`` it settles and, for a reversal, the entry
    ``r`` it reverses. A reversal counts against what it reverses: a voided payment un-collects."""

    c: Any
    s: Any
    r: Any

    def of(self, *kinds: EntryKind) -> ColumnElement[bool]:
        return or_(
            col(self.s.kind).in_(kinds),
            and_(col(self.s.kind) == EntryKind.reversal, col(self.r.kind).in_(kinds)),
        )

    @property
    def collected(self) -> ColumnElement[bool]:
        return self.of(*COLLECTING_KINDS)

    @property
    def discount(self) -> ColumnElement[bool]:
        return self.of(EntryKind.discount)

    @property
    def waiver(self) -> ColumnElement[bool]:
        return self.of(EntryKind.waiver)

    @property
    def amount(self) -> Any:
        return col(self.s.amount_fen)

    @property
    def on(self) -> Any:
        return col(self.s.effective_date)

    def fen_if(self, condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, self.amount), else_=0)), 0)

    def grouped(self, *columns: Any, where: Any) -> Subquery:
        """Per settled charge: ``columns`` aggregated over its settling entries."""
        target = col(self.s.settles_entry_id)
        return (
            sa_select(target.label("target_id"), *columns)
            .join(self.c, col(self.c.id) == target)
            .outerjoin(self.r, col(self.r.id) == col(self.s.reverses_entry_id))
            .where(*where)
            .group_by(target)
            .subquery("settling")
        )


def _settling() -> _Settling:
    return _Settling(aliased(LedgerEntry, name="c"), aliased(LedgerEntry, name="s"), aliased(LedgerEntry, name="r"))


@dataclass(frozen=True)
class _Current:
    charged: int
    corrections: int
    collected: int
    discount: int
    waived: int
    outstanding: int
    units_billed: int
    units_settled: int
    outstanding_former: int = 0  # of outstanding, owed by owners who no longer own the unit

    @property
    def billed(self) -> int:
        return self.charged - self.corrections


async def _current(session: AsyncSession, estate_id: int, cutoffs: dict[str, date]) -> dict[str, _Current]:
    """Per period: its charges billed, collected, discounted, waived and open, and its units billed
    and settled, each period as it stood at the end of its own cutoff date. One query."""
    t = _settling()
    c = t.c
    cutoff = case(*((col(c.period) == period, day) for period, day in cutoffs.items()))
    charges = (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period).in_(list(cutoffs)),
        col(c.effective_date) <= cutoff,
    )
    settling = t.grouped(
        t.fen_if(t.collected).label("collected"),
        t.fen_if(t.discount).label("discount"),
        t.fen_if(t.waiver).label("waived"),
        func.sum(t.amount).label("settled"),
        where=(*charges, t.on <= cutoff),
    )
    settled = func.coalesce(settling.c.settled, 0)
    collected = func.coalesce(settling.c.collected, 0)
    discount = func.coalesce(settling.c.discount, 0)
    waived = func.coalesce(settling.c.waived, 0)
    per_charge = (
        sa_select(
            col(c.period).label("period"),
            # "+ 0": grouping on a plain unit_id tempts SQLite to read every charge of the estate
            # through the unit index instead of the period's through (estate, kind, period).
            (col(c.unit_id) + 0).label("unit_id"),
            col(c.amount_fen).label("amount"),
            collected.label("collected"),
            discount.label("discount"),
            waived.label("waived"),
            # Whatever else settles a charge corrects it: its reversal, an adjustment.
            (settled - collected - discount - waived).label("corrected"),
            (col(c.amount_fen) + settled).label("open_fen"),
            # Evaluated only where something is open: a lookup per open charge, not per charge.
            case(
                (
                    and_(col(c.amount_fen) + settled != 0, former_owner(col(c.unit_id), col(c.owner_id), cutoff)),
                    col(c.amount_fen) + settled,
                ),
                else_=0,
            ).label("former_open"),
        )
        .outerjoin(settling, settling.c.target_id == col(c.id))
        .where(*charges)
        .subquery("per_charge")
    )
    pc = per_charge.c
    per_unit = (
        sa_select(
            pc.period,
            func.sum(pc.former_open).label("former_open"),
            func.sum(pc.amount).label("amount"),
            func.sum(pc.collected).label("collected"),
            func.sum(pc.discount).label("discount"),
            func.sum(pc.waived).label("waived"),
            func.sum(pc.corrected).label("corrected"),
            func.sum(pc.open_fen).label("open_fen"),
            func.max(pc.open_fen).label("max_open"),
            func.sum(pc.amount + pc.corrected).label("net"),
        )
        .group_by(pc.period, pc.unit_id)
        .subquery("per_unit")
    )
    pu = per_unit.c
    rows = await session.execute(
        sa_select(
            pu.period,
            func.sum(pu.amount),
            func.sum(pu.corrected),
            func.sum(pu.collected),
            func.sum(pu.discount),
            func.sum(pu.waived),
            func.sum(pu.open_fen),
            # A unit whose charges were wholly reversed was not billed.
            func.sum(case((pu.net > 0, 1), else_=0)),
            func.sum(case((and_(pu.net > 0, pu.max_open <= 0), 1), else_=0)),
            func.sum(pu.former_open),
        ).group_by(pu.period)
    )
    found = {}
    for period, *figures in rows.all():
        (
            charged,
            corrected,
            collected_fen,
            discount_fen,
            waived_fen,
            open_fen,
            units_billed,
            units_settled,
            former_open,
        ) = (int_or_zero(v) for v in figures)
        found[period] = _Current(
            charged=charged,
            corrections=-corrected,
            collected=-collected_fen,
            discount=-discount_fen,
            waived=-waived_fen,
            outstanding=open_fen,
            units_billed=units_billed,
            units_settled=units_settled,
            outstanding_former=former_open,
        )
    return {period: found.get(period, _Current(0, 0, 0, 0, 0, 0, 0, 0)) for period in cutoffs}


def _old_charges(c: Any, estate_id: int, period: str, before: date) -> tuple[ColumnElement[bool], ...]:
    """Charges that were old arrears when ``period`` began: of an earlier period, due before its
    first day, posted by ``before`` (the day before, or as_of when that is earlier)."""
    return (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period) < period,
        col(c.effective_date) <= before,
        func.coalesce(col(c.due_date), col(c.effective_date)) < period_start(period),
    )


async def _old_arrears(session: AsyncSession, estate_id: int, period: str, as_of: date) -> OldArrears:
    """清欠: old arrears open at the period's start and what became of them from the period's first
    day to its last (or ``as_of``). Amounts are sums over all old charges (what is open on a charge
    is never negative); units are counted per unit."""
    start = period_start(period)
    before = min(start - timedelta(days=1), as_of)  # the state "at the period's start"
    window_end = min(month_end(period), as_of)  # before the start when as_of is: an empty window
    t = _settling()
    c = t.c
    charges = _old_charges(c, estate_id, period, before)
    in_window = and_(t.on >= start, t.on <= window_end)
    settling = t.grouped(
        t.fen_if(t.on <= before).label("before"),
        t.fen_if(and_(in_window, t.collected)).label("collected"),
        t.fen_if(and_(in_window, or_(t.discount, t.waiver))).label("relieved"),
        t.fen_if(in_window).label("during"),
        where=(*charges, t.on <= window_end),
    )
    per_charge = (
        sa_select(
            (col(c.unit_id) + 0).label("unit_id"),
            col(c.owner_id).label("owner_id"),
            (col(c.amount_fen) + func.coalesce(settling.c.before, 0)).label("open_start"),
            func.coalesce(settling.c.collected, 0).label("collected"),
            func.coalesce(settling.c.relieved, 0).label("relieved"),
            func.coalesce(settling.c.during, 0).label("during"),
        )
        .outerjoin(settling, settling.c.target_id == col(c.id))
        .where(*charges)
        .subquery("per_charge")
    )
    pc = per_charge.c
    # Per owner's account (unit, owner), then per unit: the units' figures as before, and the former
    # owners' accounts apart.
    per_account = (
        sa_select(
            pc.unit_id.label("unit_id"),
            case((former_owner(pc.unit_id, pc.owner_id, as_of), 1), else_=0).label("former"),
            func.sum(pc.open_start).label("open_start"),
            func.sum(pc.collected).label("collected"),
            func.sum(pc.relieved).label("relieved"),
            func.sum(pc.during).label("during"),
        )
        .group_by(pc.unit_id, pc.owner_id)
        .subquery("per_account")
    )
    pa = per_account.c
    former = pa.former == 1
    per_unit = (
        sa_select(
            func.sum(pa.open_start).label("open_start"),
            func.sum(pa.collected).label("collected"),
            func.sum(pa.relieved).label("relieved"),
            func.sum(pa.during).label("during"),
            func.sum(case((former, pa.open_start), else_=0)).label("former_open_start"),
            func.sum(case((and_(former, pa.open_start > 0), 1), else_=0)).label("former_accounts"),
            func.sum(case((former, pa.collected), else_=0)).label("former_collected"),
            func.sum(case((former, pa.during), else_=0)).label("former_during"),
        )
        .group_by(pa.unit_id)
        .subquery("per_unit")
    )
    pu = per_unit.c
    owing = pu.open_start > 0
    row = (
        await session.execute(
            sa_select(
                func.sum(pu.open_start),
                func.sum(pu.collected),
                func.sum(pu.relieved),
                func.sum(pu.during),
                func.sum(case((owing, 1), else_=0)),
                func.sum(case((and_(owing, pu.open_start + pu.during <= 0), 1), else_=0)),
                func.sum(pu.former_open_start),
                func.sum(pu.former_accounts),
                func.sum(pu.former_collected),
                func.sum(pu.former_during),
            )
        )
    ).one()
    (
        open_start,
        collected,
        relieved,
        during,
        units,
        cleared,
        former_open_start,
        former_accounts,
        former_collected,
        former_during,
    ) = (int_or_zero(v) for v in row)
    return OldArrears(
        open_at_start_fen=open_start,
        units_at_start=units,
        collected_fen=-collected,
        relieved_fen=-relieved,
        corrected_fen=-(during - collected - relieved),
        open_at_end_fen=open_start + during,
        units_cleared=cleared,
        rate=rate(-collected, open_start),
        former_owners_open_at_start_fen=former_open_start,
        former_owners_accounts_at_start=former_accounts,
        former_owners_collected_fen=-former_collected,
        former_owners_open_at_end_fen=former_open_start + former_during,
    )


def _yyyymm(day: date | str) -> int:
    if isinstance(day, str):  # a period, "2026-11"
        year, month = day.split("-")
        return int(year) * 100 + int(month)
    return day.year * 100 + day.month


async def _old_arrears_series(
    session: AsyncSession, estate_id: int, months: list[str], horizon: date
) -> dict[str, tuple[int, int]]:
    """Per month: (old arrears open at its start, collected on them during it), in two passes.

    Every date the figures compare against is a month's first day or ``horizon`` (the fixed as_of,
    else today: earlier months end before it). So the database sums amounts by the dates that
    matter (period, due date, posting date, settling date: few distinct values) up to the horizon,
    and Python adds those groups up per month by the months of those dates.
    """
    last = months[-1]
    t = _settling()
    c = t.c
    due = func.coalesce(col(c.due_date), col(c.effective_date))
    keys: tuple[Any, ...] = (
        col(c.period).label("period"),
        due.label("due"),
        col(c.effective_date).label("posted"),
    )
    # Superset of every month's old charges; the rest is decided per month below.
    charges = (
        col(c.estate_id) == estate_id,
        col(c.kind) == EntryKind.charge,
        col(c.period) < last,
        col(c.effective_date) <= horizon,
        due < period_start(last),
    )
    # Labelled in a subquery and grouped by name (PostgreSQL would not match bound parameters).
    billed = sa_select(*keys, col(c.amount_fen).label("fen")).where(*charges).subquery("billed")
    b = billed.c
    charge_rows = await session.execute(
        sa_select(b.period, b.due, b.posted, func.sum(b.fen)).group_by(b.period, b.due, b.posted)
    )
    settling = (
        sa_select(
            *keys,
            t.on.label("day"),
            case((t.collected, 1), else_=0).label("collecting"),
            t.amount.label("fen"),
        )
        .select_from(t.s)
        .join(c, col(c.id) == col(t.s.settles_entry_id))
        .outerjoin(t.r, col(t.r.id) == col(t.s.reverses_entry_id))
        .where(*charges, t.on <= horizon)
        .subquery("settling")
    )
    g = settling.c
    settle_rows = await session.execute(
        sa_select(g.period, g.due, g.posted, g.day, g.collecting, func.sum(g.fen)).group_by(
            g.period, g.due, g.posted, g.day, g.collecting
        )
    )
    # (period, month due, month posted) → fen billed; and → [(month settled, collecting, fen)]
    billed_groups: dict[tuple[str, int, int], int] = {}
    for period, due_on, posted_on, fen in charge_rows.all():
        group = (period, _yyyymm(due_on), _yyyymm(posted_on))
        billed_groups[group] = billed_groups.get(group, 0) + int_or_zero(fen)
    settled_groups: dict[tuple[str, int, int], list[tuple[int, bool, int]]] = {}
    for period, due_on, posted_on, day, collecting, fen in settle_rows.all():
        group = (period, _yyyymm(due_on), _yyyymm(posted_on))
        settled_groups.setdefault(group, []).append((_yyyymm(day), bool(collecting), int_or_zero(fen)))
    result = {}
    for month in months:
        key = _yyyymm(month)
        open_start = collected = 0
        for group in billed_groups.keys() | settled_groups.keys():
            period, due_month, posted_month = group
            # Old for this month: an earlier period's charge, due and posted before the month began
            # (and, like every date counted here, on or before the horizon).
            if not (period < month and due_month < key and posted_month < key):
                continue
            open_start += billed_groups.get(group, 0)
            for settled_month, collecting, fen in settled_groups.get(group, []):
                if settled_month < key:
                    open_start += fen
                elif settled_month == key and collecting:
                    collected -= fen
        result[month] = (open_start, collected)
    return result


async def collection_rate(session: AsyncSession, estate: Estate, period: str, as_of: date) -> CollectionRate:
    assert estate.id is not None
    now = (await _current(session, estate.id, {period: as_of}))[period]
    return CollectionRate(
        estate_id=estate.id,
        period=period,
        period_label=period_label(period, estate.locale),
        as_of=as_of,
        charged_fen=now.charged,
        corrections_fen=now.corrections,
        billed_fen=now.billed,
        collected_fen=now.collected,
        discount_fen=now.discount,
        waived_fen=now.waived,
        outstanding_fen=now.outstanding,
        outstanding_former_owners_fen=now.outstanding_former,
        rate_by_amount=rate(now.collected, now.billed),
        units_billed=now.units_billed,
        units_settled=now.units_settled,
        rate_by_households=rate(now.units_settled, now.units_billed),
        old_arrears=await _old_arrears(session, estate.id, period, as_of),
    )


def check_range(period_from: str, period_to: str) -> list[str]:
    if period_from > period_to:
        raise ReportInputError(f"'from' ({period_from}) is after 'to' ({period_to})", field="from")
    months = months_between(period_from, period_to)
    if len(months) > MAX_MONTHS:
        raise ReportInputError(f"a series covers at most {MAX_MONTHS} months, not {len(months)}", field="to")
    return months


async def monthly_series(
    session: AsyncSession, estate: Estate, period_from: str, period_to: str, as_of: date | None, today: date
) -> MonthlySeries:
    """The collection rate month by month: each month at its own last day (capped at today), the
    当期收缴率, unless one ``as_of`` is given for all. Four queries, whatever the number of months."""
    assert estate.id is not None
    months = check_range(period_from, period_to)
    cutoffs = {month: as_of or min(month_end(month), today) for month in months}
    current = await _current(session, estate.id, cutoffs)
    old = await _old_arrears_series(session, estate.id, months, as_of or today)
    points = []
    for month in months:
        now = current[month]
        open_start, collected = old[month]
        points.append(
            MonthlyPoint(
                period=month,
                period_label=period_label(month, estate.locale),
                as_of=cutoffs[month],
                billed_fen=now.billed,
                collected_fen=now.collected,
                rate_by_amount=rate(now.collected, now.billed),
                units_billed=now.units_billed,
                units_settled=now.units_settled,
                rate_by_households=rate(now.units_settled, now.units_billed),
                old_arrears_open_at_start_fen=open_start,
                old_arrears_collected_fen=collected,
            )
        )
    return MonthlySeries(estate_id=estate.id, period_from=period_from, period_to=period_to, as_of=as_of, points=points)
