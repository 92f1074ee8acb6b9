"""Effective-dated late-fee terms: reading them as the rules' tables, and adding versions.

A version is never rewritten (DOMAIN.md "Terms change over time"): a change is a new version from
its effective date, which may not lie before the business day of the change, so no day that has
already run changes terms. An estate's version holds every term; a fee standard's version only its
own daily rate, which for the charges of that standard replaces the estate's rate from its date on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.latefees.models import LateFeeTermsVersion
from feesvc.rules.late_fees import TERMS_FROM_THE_START, LateFeeCap, LateFeePolicy, LateFeeTerms, TermsVersion
from feesvc.standards.models import FeeStandard


@dataclass(frozen=True)
class TermsChange:
    """What a manager sends to change the terms (an estate's: every field; a standard's: the rate)."""

    effective_from: date
    daily_rate: Decimal
    basis: str
    grace_days: int | None = None
    cap: LateFeeCap | None = None
    cap_fen: int | None = None
    starts_on: date | None = None
    fee_standard_id: int | None = None


def _policy(row: LateFeeTermsVersion) -> LateFeePolicy:
    assert row.grace_days is not None and row.cap is not None  # an estate's version (check constraint)
    return LateFeePolicy(
        daily_rate=row.daily_rate,
        grace_days=row.grace_days,
        cap=LateFeeCap(row.cap),
        cap_fen=row.cap_fen if row.cap == LateFeeCap.fixed else None,
        starts_on=row.starts_on,
    )


@dataclass
class EstateTerms:
    """An estate's term versions, and the table each fee standard's charges accrue under."""

    estate: list[TermsVersion]
    own_rates: dict[int, list[tuple[date, Decimal, int | None]]]  # standard id → (from, rate, version id)
    _tables: dict[int | None, LateFeeTerms] = field(default_factory=dict)

    def key_for(self, fee_standard_id: int | None) -> int | None:
        """Charges with the same key accrue under the same table."""
        return fee_standard_id if fee_standard_id in self.own_rates else None

    def for_standard(self, fee_standard_id: int | None) -> LateFeeTerms:
        key = self.key_for(fee_standard_id)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._merge(self.own_rates.get(key, []) if key is not None else [])
        return table

    def _merge(self, rates: list[tuple[date, Decimal, int | None]]) -> LateFeeTerms:
        if not rates:
            return LateFeeTerms.of(self.estate)
        estate = LateFeeTerms.of(self.estate)
        days = sorted({v.effective_from for v in self.estate} | {day for day, _, _ in rates})
        merged = []
        for day in days:
            base = estate.in_force(day)
            if base is None:
                continue  # no estate terms yet: a standard's rate alone is no late-fee clause
            own = [r for r in rates if r[0] <= day]
            if own:
                _, rate, ref = own[-1]
                merged.append(TermsVersion(day, replace(base.policy, daily_rate=rate), base.ref, ref))
            else:
                merged.append(TermsVersion(day, base.policy, base.ref))
        return LateFeeTerms.of(merged)


async def versions(session: AsyncSession, estate_id: int) -> list[LateFeeTermsVersion]:
    query = (
        select(LateFeeTermsVersion)
        .where(LateFeeTermsVersion.estate_id == estate_id)
        # The estate's versions first (NULL sorts first on SQLite, last on PostgreSQL: say which).
        .order_by(
            col(LateFeeTermsVersion.fee_standard_id).is_not(None),
            col(LateFeeTermsVersion.fee_standard_id),
            col(LateFeeTermsVersion.effective_from),
        )
    )
    return list((await session.execute(query)).scalars())


async def estate_terms(session: AsyncSession, estate_id: int) -> EstateTerms:
    rows = await versions(session, estate_id)
    own: dict[int, list[tuple[date, Decimal, int | None]]] = {}
    for row in rows:
        if row.fee_standard_id is not None:
            own.setdefault(row.fee_standard_id, []).append((row.effective_from, row.daily_rate, row.id))
    for rates in own.values():
        rates.sort(key=lambda r: r[0])
    estate = [TermsVersion(r.effective_from, _policy(r), r.id) for r in rows if r.fee_standard_id is None]
    return EstateTerms(sorted(estate, key=lambda v: v.effective_from), own)


def initial_version(estate_id: int, policy: LateFeePolicy, actor: Principal) -> LateFeeTermsVersion:
    """An estate's first terms, in force from the start (its charges, however old, fall under them)."""
    return LateFeeTermsVersion(
        estate_id=estate_id,
        effective_from=TERMS_FROM_THE_START,
        daily_rate=policy.daily_rate,
        grace_days=policy.grace_days,
        cap=policy.cap,
        cap_fen=policy.cap_fen,
        starts_on=policy.starts_on,
        basis="the estate's terms when it was set up",
        actor=actor.label,
    )


def standard_rate_version(standard: FeeStandard, actor: Principal) -> LateFeeTermsVersion | None:
    """A fee standard's own late-fee rate as a version from the standard's effective date."""
    if standard.late_fee_daily_rate is None:
        return None
    return LateFeeTermsVersion(
        estate_id=standard.estate_id,
        fee_standard_id=standard.id,
        effective_from=standard.effective_from,
        daily_rate=standard.late_fee_daily_rate,
        basis=f"the fee standard's own rate ({standard.decision_ref})"[:200],
        actor=actor.label,
    )


def version_out(row: LateFeeTermsVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "estate_id": row.estate_id,
        "fee_standard_id": row.fee_standard_id,
        "effective_from": row.effective_from,
        "daily_rate": str(row.daily_rate),
        "grace_days": row.grace_days,
        "cap": row.cap,
        "cap_fen": row.cap_fen,
        "starts_on": row.starts_on,
        "basis": row.basis,
        "actor": row.actor,
    }


def _check(change: TermsChange, today: date) -> None:
    if change.effective_from < today:
        raise InvalidInput(
            f"terms change from {today} or later: days that have run keep the terms in force on them",
            field="effective_from",
        )
    if not Decimal(0) <= change.daily_rate <= Decimal(1):
        raise InvalidInput("a daily rate is a fraction between 0 and 1, e.g. 0.0003", field="daily_rate")
    if change.fee_standard_id is not None:
        for name in ("grace_days", "cap", "cap_fen", "starts_on"):
            if getattr(change, name) is not None:
                raise InvalidInput(
                    "a fee standard's version carries only its own daily rate; send the other terms "
                    "without fee_standard_id",
                    field=name,
                )
        return
    if change.grace_days is None:
        raise InvalidInput("the estate's terms need grace_days (0 to 365)", field="grace_days")
    if change.cap is None:
        raise InvalidInput("the estate's terms need a cap: none, principal or fixed", field="cap")
    if change.cap == LateFeeCap.fixed and change.cap_fen is None:
        raise InvalidInput("a fixed late-fee cap needs cap_fen (integer fen per charge)", field="cap_fen")


async def add_version(
    session: AsyncSession, actor: Principal, estate_id: int, change: TermsChange, today: date, *, commit: bool = True
) -> LateFeeTermsVersion:
    """Add a version of the estate's (or one fee standard's) late-fee terms, audited."""
    _check(change, today)
    if change.fee_standard_id is not None:
        standard = await session.get(FeeStandard, change.fee_standard_id)
        if standard is None or standard.estate_id != estate_id:
            raise NotFound(
                f"fee standard {change.fee_standard_id} is not one of this estate's", field="fee_standard_id"
            )
    clash = select(LateFeeTermsVersion.id).where(
        LateFeeTermsVersion.estate_id == estate_id,
        LateFeeTermsVersion.effective_from == change.effective_from,
        (
            col(LateFeeTermsVersion.fee_standard_id).is_(None)
            if change.fee_standard_id is None
            else LateFeeTermsVersion.fee_standard_id == change.fee_standard_id
        ),
    )
    if (await session.execute(clash)).first():
        raise Conflict("a version of these terms already takes effect on that date", field="effective_from")
    row = LateFeeTermsVersion(
        estate_id=estate_id,
        fee_standard_id=change.fee_standard_id,
        effective_from=change.effective_from,
        daily_rate=change.daily_rate,
        grace_days=change.grace_days,
        cap=change.cap,
        cap_fen=change.cap_fen if change.cap == LateFeeCap.fixed else None,
        starts_on=change.starts_on,
        basis=change.basis,
        actor=actor.label,
    )
    session.add(row)
    await session.flush()
    detail = version_out(row)
    detail["effective_from"] = change.effective_from.isoformat()
    detail["starts_on"] = change.starts_on.isoformat() if change.starts_on else None
    await record_audit(session, actor, "late_fee_terms.add", "estate", estate_id, detail)
    if commit:
        await session.commit()
    return row
