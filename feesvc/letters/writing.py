"""A reminder run's letters written and checked: each letter's context, its short message, and
whether it may go (the compliance check), before it is numbered and issued.

A letter that cannot go as chosen falls back (a short message without the owner page link, else
the paper letter alone) or comes back with the reasons it cannot be issued: none is dropped
silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.attention import reason_of
from feesvc.ledger.models import EntryKind
from feesvc.letters.accounts import UnitFacts
from feesvc.letters.compliance import check_html, check_text
from feesvc.letters.content import (
    LetterContext,
    PeriodLine,
    PlanTerms,
    PrepayOffer,
    render_letter_html,
    short_message,
)
from feesvc.letters.deciding import Planned
from feesvc.letters.estate_terms import EstateTerms
from feesvc.letters.issued import letter_number
from feesvc.letters.kinds import LetterKind
from feesvc.owner_pages.links import owner_page_fields
from feesvc.prepay.models import PrepayDiscountTier
from feesvc.registry.models import Estate
from feesvc.rules.installments import schedule
from feesvc.service_records.models import ACTIVITY_LABELS
from feesvc.service_records.service import service_summary
from feesvc.settings import get_settings

HARDSHIP_INSTALLMENTS = 3


@dataclass
class Ready:
    """A letter that passed its checks, waiting for its number, its rendering and its row."""

    plan: Planned
    ctx: LetterContext
    channel: str
    electronic: str | None
    text: str


def _period_lines(facts: UnitFacts, as_of: date, item_names: dict[str, str]) -> tuple[PeriodLine, ...]:
    by_period: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for debt in facts.debts:
        if debt.due >= as_of or debt.period is None:
            continue
        item = debt.item or "service_fee"
        slot = by_period[(debt.period, item)]
        slot[0 if debt.kind == EntryKind.charge else 1] += debt.open_fen
    return tuple(
        PeriodLine(period=period, item_name=item_names.get(item, item), amount_fen=principal, late_fee_fen=late)
        for (period, item), (principal, late) in sorted(by_period.items())
    )


async def prepay_offer(session: AsyncSession, estate: Estate, cycle_fen: int) -> PrepayOffer | None:
    """The estate's smallest prepay tier, with what it would save an owner whose fee is ``cycle_fen``
    a billing cycle (reminders' offer, and a new owner's payment notice's)."""
    tiers = (
        (
            await session.execute(
                select(PrepayDiscountTier)
                .where(PrepayDiscountTier.estate_id == estate.id)
                .order_by(col(PrepayDiscountTier.min_months))
            )
        )
        .scalars()
        .first()
    )
    if tiers is None or cycle_fen <= 0:
        return None
    monthly = Decimal(cycle_fen) / estate.cycle_months
    saving = int((monthly * tiers.min_months * tiers.percent_off / 100).quantize(Decimal(1), ROUND_HALF_UP))
    return PrepayOffer(months=tiers.min_months, percent_off=tiers.percent_off, saving_fen=saving)


def _provisional_number(estate: Estate, as_of: date) -> str:
    """Stands for the letter's number while it is checked; the number is given once it passed."""
    return letter_number(estate.code, as_of.year, 0)


async def _context(
    session: AsyncSession,
    estate: Estate,
    plan: Planned,
    as_of: date,
    letter_terms: EstateTerms,
    summaries: dict[int, tuple[tuple[str, int], ...]],
) -> LetterContext:
    assert estate.id is not None
    facts = plan.facts
    item_names = letter_terms.item_names(facts.unit_id)  # the unit's own use's fee names
    locale = plan.owner.locale or estate.locale
    periods = _period_lines(facts, as_of, item_names)
    if plan.kind == LetterKind.pre_due_notice:
        upcoming = [d for d in facts.debts if d.due >= as_of]
        periods = tuple(
            PeriodLine(d.period or "", item_names.get(d.item or "", d.item or ""), d.open_fen, 0) for d in upcoming
        )
    total = sum(p.amount_fen + p.late_fee_fen for p in periods)
    if facts.building_id not in summaries:
        last_month = f"{as_of - relativedelta(months=1):%Y-%m}"
        labels = ACTIVITY_LABELS["en" if estate.locale.startswith("en") else "zh"]
        summaries[facts.building_id] = tuple(
            (labels[t.kind], t.count) for t in await service_summary(session, estate.id, facts.building_id, last_month)
        )
    prepay = await prepay_offer(session, estate, total) if plan.kind == LetterKind.pre_due_notice else None
    terms = _proposed_plan(estate, periods, as_of) if plan.kind == LetterKind.hardship_offer else None
    return LetterContext(
        kind=plan.kind,
        locale=locale,
        letter_no=_provisional_number(estate, as_of),
        issued_on=as_of,
        company=estate.company_name,
        estate=estate.name,
        estate_address=estate.address,
        service_phone=estate.service_phone,
        owner_name=plan.owner.name,
        postal_address=plan.owner.postal_address,
        unit_label=f"{facts.building} {facts.number}",
        periods=periods,
        total_fen=total,
        due_on=min((d.due for d in facts.debts if d.due >= as_of), default=None),
        deadline=as_of + timedelta(days=estate.final_demand_days) if plan.kind == LetterKind.final_demand else None,
        service_summary=summaries[facts.building_id],
        prepay_offer=prepay,
        plan=terms,
        belief=plan.belief,
        # The owner's pages (signed in there: the link names no one); how to pay and dispute come
        # from the estate's settings.
        **owner_page_fields(estate, plan.owner, get_settings()),
        **letter_terms.letter_fields(facts.unit_id, plan.kind, periods, locale),
    )


def _proposed_plan(estate: Estate, periods: tuple[PeriodLine, ...], as_of: date) -> PlanTerms:
    """The hardship playbook's offer: three monthly installments of the principal, late fees waived."""
    principal = sum(p.amount_fen for p in periods)
    return PlanTerms(
        installments=tuple(schedule(principal, HARDSHIP_INSTALLMENTS, as_of + timedelta(days=15))),
        late_fee_treatment="waive_on_completion",
        grace_days=estate.grace_days,
        waived_fees_return=estate.plan_break_restores_waived,
    )


async def prepare(
    session: AsyncSession,
    estate: Estate,
    plan: Planned,
    as_of: date,
    letter_terms: EstateTerms,
    summaries: dict[int, tuple[tuple[str, int], ...]],
    fallbacks: list[dict[str, Any]],
) -> Ready | list[str]:
    """The letter and its message, checked; or why it cannot be issued. A message that cannot be
    written as chosen falls back (``_message``), and the fallback is recorded in ``fallbacks``."""
    channel, electronic = plan.reach.channel, plan.reach.electronic
    try:
        ctx = await _context(session, estate, plan, as_of, letter_terms, summaries)
        problems = [f"{v.family}: {v.sentence}" for v in check_html(render_letter_html(ctx))]
    except Exception as error:  # noqa: BLE001 - reported by the caller; the run goes on
        return [f"cannot be written: {reason_of(error)}"]
    text = ""
    if electronic is not None:
        text, fallback = _message(ctx)
        if fallback is not None:
            if not text:
                if _paper_instead(plan) is None:
                    return [f"cannot be written: {fallback}, and the owner has no postal address for a paper letter"]
                channel, electronic = "paper", None
                fallback += "; the paper letter alone is sent"
            fallbacks.append({"unit_id": plan.facts.unit_id, "kind": plan.kind.value, "reason": fallback})
    problems += [f"{v.family}: {v.sentence}" for v in (check_text(text) if text else [])]
    if problems:
        return problems
    return Ready(plan, ctx, channel, electronic, text)


def _message(ctx: LetterContext) -> tuple[str, str | None]:
    """The short message, and why it is not the usual one (None: it is). One that does not fit goes
    without the owner page link (the letter itself says how to pay); if even that does not fit there
    is none ("")."""
    try:
        return short_message(ctx), None
    except ValueError as error:
        reason = str(error).replace(f" for {ctx.letter_no}", "")  # the number is not given yet
    if ctx.owner_page_url:
        try:
            shorter = short_message(replace(ctx, owner_page_url=None))
        except ValueError:
            pass
        else:
            return shorter, f"short message sent without the owner page link: {reason}"
    return "", f"no short message fits: {reason}"


def _paper_instead(plan: Planned) -> str | None:
    """The paper letter, when the owner can get one: the current owner (at the unit, or their postal
    address), a former owner only at their postal address."""
    return "paper" if not plan.former or plan.owner.postal_address else None
