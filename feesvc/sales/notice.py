"""The new owner's payment notice (缴费须知), issued as a letter through the letters package.

It states when billing starts for the buyer (the handover date), the first full period's fee and due
date, the fee standards in force with their basis and posting, how to pay and the estate's prepay
offer (DOMAIN.md "Change of owner"). It is built as every letter is (``LetterContext``), checked by
the compliance check, numbered by the estate, rendered once and kept as issued
(``feesvc.letters.issued``) as a ``Letter`` with its context and, for an owner who prefers SMS,
WeChat or e-mail, queued in the outbox beside the paper letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.billing.rules import charge_amount, due_date
from feesvc.files import FileStore
from feesvc.ledger.models import EntryKind
from feesvc.ledger.service import open_debits
from feesvc.letters.content import (
    FeeStandardLine,
    FirstDays,
    LetterContext,
    PeriodLine,
)
from feesvc.letters.estate_terms import estate_letter_fields
from feesvc.letters.kinds import LetterKind
from feesvc.letters.single import issue_letter
from feesvc.letters.writing import prepay_offer
from feesvc.owner_pages.links import owner_page_fields
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.schemas import period_start
from feesvc.settings import get_settings
from feesvc.standards.models import Basis, FeeStandard
from feesvc.standards.service import standards_in_force


@dataclass(frozen=True)
class NoticeIssued:
    letter_id: int | None
    problems: list[str]


_RATE_UNITS = {
    "hans": {Basis.per_m2_month: "元/平方米·月", Basis.fixed_month: "元/户·月"},
    "hant": {Basis.per_m2_month: "元/平方米·月", Basis.fixed_month: "元/戶·月"},
    "en": {Basis.per_m2_month: "yuan per m² a month", Basis.fixed_month: "yuan a month per home"},
}


def _script(locale: str) -> str:
    return "en" if locale == "en" else "hant" if locale in ("zh_TW", "zh_HK") else "hans"


def _rate_text(standard: FeeStandard, locale: str) -> str:
    return f"{standard.rate:.2f} {_RATE_UNITS[_script(locale)][Basis(standard.basis)]}"


async def _first_days(
    session: AsyncSession, unit_id: int, buyer_id: int, handover: date, first_period: str
) -> FirstDays | None:
    """The buyer's open share of the period the handover falls inside (a billing run's split, or
    one the sale issued again): on the account before the first whole period."""
    shares = [
        d
        for d in await open_debits(session, unit_id)
        if d.owner_id == buyer_id and d.kind == EntryKind.charge and d.period and d.period < first_period and d.open_fen
    ]
    if not shares:
        return None
    last = period_start(first_period) - timedelta(days=1)
    return FirstDays(
        first_day=handover,
        last_day=last,
        days=(last - handover).days + 1,
        amount_fen=sum(d.open_fen for d in shares),
        due_on=max(d.debt_due for d in shares),
    )


async def notice_context(
    session: AsyncSession,
    estate: Estate,
    unit: Unit,
    building: Building,
    buyer: Owner,
    ownership: Ownership,
    first_period: str,
    issued_on: date,
) -> LetterContext:
    """The payment notice of ``buyer``, whose ownership starts ``ownership.starts_on``; ``first_period``
    is the first billing period that starts on or after it."""
    assert estate.id is not None and unit.id is not None and ownership.id is not None
    locale = buyer.locale or estate.locale
    start = period_start(first_period)
    standards = sorted(
        (s for s in await standards_in_force(session, estate.id, start) if s.unit_use == unit.use),
        key=lambda s: s.item,
    )
    lines = tuple(
        PeriodLine(first_period, s.item_name, amount)
        for s in standards
        if (amount := charge_amount(s.basis, s.rate, unit.floor_area_m2, estate.cycle_months, Decimal(1)))
    )
    total = sum(line.amount_fen for line in lines)
    return LetterContext(
        kind=LetterKind.payment_notice,
        locale=locale,
        letter_no=f"{estate.code}-{issued_on:%Y%m%d}-N{ownership.id}",
        issued_on=issued_on,
        company=estate.company_name,
        estate=estate.name,
        estate_address=estate.address,
        service_phone=estate.service_phone,
        owner_name=buyer.name,
        postal_address=buyer.postal_address,
        unit_label=f"{building.name} {unit.number}",
        periods=lines,
        total_fen=total,
        due_on=due_date(start, estate.due_day) if lines else None,
        prepay_offer=await prepay_offer(session, estate, total),
        # The owner's pages, where the new owner signs in; how to pay is the estate's.
        **owner_page_fields(estate, buyer, get_settings()),
        **estate_letter_fields(estate),
        billing_starts_on=ownership.starts_on,
        first_days=await _first_days(session, unit.id, buyer.id or 0, ownership.starts_on, first_period),
        fee_standards=tuple(
            FeeStandardLine(s.item_name, _rate_text(s, locale), s.decision_ref, s.posted_on) for s in standards
        ),
    )


async def issue_payment_notice(
    session: AsyncSession,
    actor: Principal,
    estate: Estate,
    unit: Unit,
    building: Building,
    buyer: Owner,
    ownership: Ownership,
    first_period: str,
    issued_on: date,
    files: FileStore | None = None,
) -> NoticeIssued:
    """Issue the buyer's payment notice in the caller's transaction, as every letter outside a run is
    issued (``letters.single``: checked, numbered, kept as issued); a notice the rules refuse is not
    issued and the problems are returned (the sale goes on). One notice per ownership."""
    assert estate.id is not None and unit.id is not None and ownership.id is not None
    try:
        ctx = await notice_context(
            session, estate, unit, building, buyer, ownership, first_period, issued_on
        )
    except ValueError as error:  # the letter's own rules (feesvc.letters.content) refused it
        return NoticeIssued(None, [f"cannot be written: {error}"])
    issued = await issue_letter(
        session, actor, estate, unit.id, buyer, False, ctx, f"{unit.id}:payment_notice:{ownership.id}", files
    )
    return NoticeIssued(issued.letter_id, issued.problems)
