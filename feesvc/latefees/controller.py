from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers, managers_or_system, staff
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.latefees import service, terms
from feesvc.latefees.service import AccrualResult
from feesvc.ledger.schemas import LedgerEntryOut, entry_out
from feesvc.registry.service import get_estate
from feesvc.rules.late_fees import LateFeeCap
from feesvc.schemas import (
    FEN_HINT,
    INT4_MAX,
    Body,
    DailyRateText,
    Id,
    Line,
    LongPathId,
    PathId,
    PositiveFen,
    RateText,
    Reason,
    exact,
)


class AccrualCreate(Body):
    estate_id: Id
    as_of: date | None = None


class CourtRateCreate(Body):
    effective_from: date
    annual_rate: RateText
    basis: Annotated[Line, msgspec.Meta(min_length=2, max_length=200, examples=["1年期LPR 3.00% × 1.3"])]


class CourtRateOut(msgspec.Struct):
    id: int
    estate_id: int
    effective_from: date
    annual_rate: str
    basis: str


class LateFeeTermsCreate(Body):
    """A new version of the late-fee terms. Without ``fee_standard_id``: the estate's terms, every
    field; with it: that fee standard's own daily rate only."""

    effective_from: date
    daily_rate: DailyRateText
    basis: Annotated[Line, msgspec.Meta(min_length=2, max_length=200, examples=["业主大会决议 2026-3 号"])]
    grace_days: Annotated[int, msgspec.Meta(ge=0, le=365)] | None = None
    cap: LateFeeCap | None = None
    cap_fen: Annotated[int, msgspec.Meta(ge=0, le=INT4_MAX, extra={"send": FEN_HINT})] | None = None
    starts_on: date | None = None
    fee_standard_id: Id | None = None


class LateFeeTermsOut(msgspec.Struct):
    id: int
    estate_id: int
    fee_standard_id: int | None
    effective_from: date
    daily_rate: str
    grace_days: int | None
    cap: LateFeeCap | None
    cap_fen: int | None
    starts_on: date | None
    basis: str
    actor: str


class WaiverCreate(Body):
    reason: Reason
    amount_fen: PositiveFen | None = None


class LateFeeController(Controller):
    path = "/api/v1"
    tags = ["late fees"]

    @post("/late-fee-runs", guards=[managers_or_system], status_code=200)
    async def accrue(self, db: AsyncSession, principal: Principal, data: AccrualCreate) -> AccrualResult:
        """Post late fees due up to ``as_of`` (default today); a rerun posts nothing new."""
        today = business_today()
        as_of = data.as_of or today
        if as_of > today:
            raise InvalidInput("late fees cannot be accrued for a future date", field="as_of")
        return await service.accrue_late_fees(db, principal, data.estate_id, as_of)

    @post("/estates/{estate_id:int}/court-rates", guards=[managers])
    async def add_court_rate(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: CourtRateCreate
    ) -> CourtRateOut:
        """Record the annual rate a court would likely allow from a date (e.g. 1-year LPR × 1.3)."""
        rate = await service.add_court_rate(
            db, principal, estate_id, data.effective_from, exact(data.annual_rate), data.basis
        )
        assert rate.id is not None
        return CourtRateOut(rate.id, estate_id, rate.effective_from, str(rate.annual_rate), rate.basis)

    @get("/estates/{estate_id:int}/court-rates", guards=[staff])
    async def list_court_rates(self, db: AsyncSession, estate_id: PathId) -> list[tuple[date, str]]:
        """The court reference rates (LPR) recorded for the estate, by the day they took effect."""
        await get_estate(db, estate_id)
        return [(day, str(rate)) for day, rate in await service.court_rates(db, estate_id)]

    @get("/estates/{estate_id:int}/late-fee-terms", guards=[staff])
    async def list_terms(self, db: AsyncSession, estate_id: PathId) -> list[LateFeeTermsOut]:
        """Every version of the estate's late-fee terms and of its fee standards' own rates."""
        await get_estate(db, estate_id)
        return [msgspec.convert(terms.version_out(row), LateFeeTermsOut) for row in await terms.versions(db, estate_id)]

    @post("/estates/{estate_id:int}/late-fee-terms", guards=[managers])
    async def add_terms(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: LateFeeTermsCreate
    ) -> LateFeeTermsOut:
        """Add a version of the terms from ``effective_from`` (today or later); the past keeps its terms."""
        await get_estate(db, estate_id)
        change = terms.TermsChange(
            effective_from=data.effective_from,
            daily_rate=exact(data.daily_rate),
            basis=data.basis,
            grace_days=data.grace_days,
            cap=data.cap,
            cap_fen=data.cap_fen,
            starts_on=data.starts_on,
            fee_standard_id=data.fee_standard_id,
        )
        row = await terms.add_version(db, principal, estate_id, change, business_today())
        return msgspec.convert(terms.version_out(row), LateFeeTermsOut)

    @post("/late-fees/{entry_id:int}/waivers", guards=[managers])
    async def waive(
        self, db: AsyncSession, principal: Principal, entry_id: LongPathId, data: WaiverCreate
    ) -> LedgerEntryOut:
        """Waive a late fee fully (no amount) or in part, with a reason."""
        waiver = await service.waive_late_fee(db, principal, entry_id, data.amount_fen, data.reason, business_today())
        return entry_out(waiver, balance_after_fen=0)
