"""What every letter of an estate states from its records, read once per run: the fee names and
standards of each unit's own use (a shop's "物业服务费（商铺）" never reaches a home), how to pay and
how to dispute (the estate's settings), and how Traditional letters write money.

DOMAIN.md "What documents may say": letters name the fee of the unit's own fee standard, how and
where to pay (desk, bank account, a payment link only where online payment is set up) and how to
raise a dispute; each only as far as the record shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.letters.content import DisputeWays, FeeStandardLine, PaymentWays, PeriodLine
from feesvc.letters.kinds import LetterKind
from feesvc.registry.models import Estate, Unit
from feesvc.schemas import period_start
from feesvc.standards.models import Basis, FeeStandard

_RATE_UNITS: Final = {
    "hans": {Basis.per_m2_month: "元/平方米·月", Basis.fixed_month: "元/户·月"},
    "hant": {Basis.per_m2_month: "元/平方米·月", Basis.fixed_month: "元/戶·月"},
    "en": {Basis.per_m2_month: "yuan per m² a month", Basis.fixed_month: "yuan a month per home"},
}


def rate_text(basis: Basis | str, rate: Decimal, locale: str) -> str:
    """A standard's rate as printed: "2.50 元/平方米·月", "2.50 yuan per m² a month"."""
    script = "en" if locale == "en" else "hant" if locale in ("zh_TW", "zh_HK") else "hans"
    return f"{rate:.2f} {_RATE_UNITS[script][Basis(basis)]}"


def payment_ways(estate: Estate) -> PaymentWays:
    return PaymentWays(
        desk_address=estate.desk_address,
        desk_hours=estate.desk_hours,
        bank_account_name=estate.bank_account_name,
        bank_name=estate.bank_name,
        bank_account_no=estate.bank_account_no,
        online_url=estate.online_payment_url,
    )


def dispute_ways(estate: Estate) -> DisputeWays:
    return DisputeWays(
        contact=estate.dispute_contact,
        complaint_channel=estate.complaint_channel,
        arbitration=estate.arbitration_clause,
    )


def estate_letter_fields(estate: Estate) -> dict[str, Any]:
    """The ``LetterContext`` fields every letter of the estate shares."""
    return {
        "payment": payment_ways(estate),
        "dispute": dispute_ways(estate),
        "late_fee_clause": estate.late_fee_clause,
        "money_style": estate.money_style,
    }


@dataclass(frozen=True)
class _Standard:
    use: str
    item: str
    name: str
    basis: str
    rate: Decimal
    effective_from: date
    ends_on: date | None
    posted_on: date
    decision_ref: str


@dataclass
class EstateTerms:
    """An estate's letter terms for a run on ``as_of``."""

    estate: Estate
    as_of: date
    unit_uses: dict[int, str] = field(default_factory=dict)
    standards: list[_Standard] = field(default_factory=list)  # by effective_from
    _names: dict[str, dict[str, str]] = field(default_factory=dict)

    def item_names(self, unit_id: int) -> dict[str, str]:
        """item → name for the unit's own use: the latest standard started by the run's day (else
        the earliest recorded), never another use's."""
        use = self.unit_uses.get(unit_id, "")
        names = self._names.get(use)
        if names is None:
            names = {}
            for s in self.standards:
                if s.use == use and (s.effective_from <= self.as_of or s.item not in names):
                    names[s.item] = s.name
            self._names[use] = names
        return names

    def basis(self, unit_id: int, periods: tuple[PeriodLine, ...], locale: str) -> tuple[FeeStandardLine, ...]:
        """The standards of the unit's use that the claimed periods were billed under."""
        if not periods:
            return ()
        use = self.unit_uses.get(unit_id, "")
        names = {line.item_name for line in periods}
        first = period_start(min(line.period for line in periods))
        return tuple(
            FeeStandardLine(s.name, rate_text(s.basis, s.rate, locale), s.decision_ref, s.posted_on)
            for s in self.standards
            if s.use == use
            and s.name in names
            and s.effective_from <= self.as_of
            and (s.ends_on is None or s.ends_on >= first)
        )

    def letter_fields(
        self, unit_id: int, kind: LetterKind, periods: tuple[PeriodLine, ...], locale: str
    ) -> dict[str, Any]:
        """The ``LetterContext`` fields of a unit's letter: the estate's, and a final demand's basis."""
        fields = estate_letter_fields(self.estate)
        if kind is LetterKind.final_demand:
            fields["fee_standards"] = self.basis(unit_id, periods, locale)
        return fields


async def estate_terms(session: AsyncSession, estate: Estate, as_of: date) -> EstateTerms:
    """The estate's letter terms: two queries (its units' uses, its fee standards)."""
    assert estate.id is not None
    uses = await session.execute(select(Unit.id, Unit.use).where(Unit.estate_id == estate.id))
    rows = await session.execute(
        select(FeeStandard).where(FeeStandard.estate_id == estate.id).order_by(col(FeeStandard.effective_from))
    )
    standards = [
        _Standard(
            str(s.unit_use),
            s.item,
            s.item_name,
            str(s.basis),
            s.rate,
            s.effective_from,
            s.ends_on,
            s.posted_on,
            s.decision_ref,
        )
        for s in rows.scalars()
    ]
    return EstateTerms(
        estate, as_of, {unit_id: str(use) for unit_id, use in uses.all() if unit_id is not None}, standards
    )
