"""Recording a transfer and settling what belongs to whom at the sale, in one transaction (see the
package's docstring for the rules and the default when the seller has not consented)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.billing.sale import reissue_as_shares
from feesvc.errors import Conflict, InvalidInput
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, open_credits
from feesvc.payments.models import Method
from feesvc.payments.refunds import refund_entry
from feesvc.prepay.refund import prepaid_charges_from, take_back_periods
from feesvc.prepay.service import cycle_period, next_period
from feesvc.registry.models import Ownership
from feesvc.registry.schemas import OwnershipCreate, OwnershipOut
from feesvc.registry.service import current_ownership, get_estate, get_owner, get_unit, transfer_ownership
from feesvc.sales.models import SaleSettlement
from feesvc.sales.notice import issue_payment_notice
from feesvc.sales.schemas import SaleSettlementOut, SellerConsent, SplitPeriodOut, SplitShareOut
from feesvc.schemas import period_start
from feesvc.signin.service import OwnerInvite, invite_new_owner

# A first ownership recorded within a month of its start is a handover (交房) as it happens, and the
# owner gets the payment notice; an older one is an owner of an estate already in service being
# put on record, who pays already: no notice.
FIRST_OWNER_NOTICE_DAYS = 31


def first_period_from(handover: date, cycle_months: int) -> str:
    """The first billing period that starts on or after the handover date: the buyer's first whole one."""
    period = cycle_period(handover, cycle_months)
    return period if period_start(period) == handover else next_period(period, cycle_months)


def split_period_of(handover: date, cycle_months: int) -> str | None:
    """The billing period the handover falls inside (None: it starts a period): both owners' days."""
    period = cycle_period(handover, cycle_months)
    return None if period_start(period) == handover else period


def _check_consent(consent: SellerConsent | None, today: date) -> None:
    if consent is None:
        return
    if len(consent.reference.strip()) < 2:
        raise InvalidInput("the seller's written consent needs its reference", field="seller_consent.reference")
    if consent.signed_on > today:
        raise InvalidInput("the seller's consent cannot be signed in the future", field="seller_consent.signed_on")


def _fingerprint(unit_id: int, data: OwnershipCreate) -> str:
    return hashlib.sha256(f"ownership:{unit_id}:".encode() + msgspec.json.encode(data)).hexdigest()


def ownership_out(o: Ownership, settlement: SaleSettlementOut | None = None) -> OwnershipOut:
    assert o.id is not None
    return OwnershipOut(
        id=o.id, unit_id=o.unit_id, owner_id=o.owner_id, starts_on=o.starts_on, ends_on=o.ends_on, settlement=settlement
    )


async def _replay(
    session: AsyncSession, current: Ownership, data: OwnershipCreate, fingerprint: str
) -> OwnershipOut | None:
    """The first answer to this transfer, if it was recorded already; a retry told differently is refused."""
    found = (
        await session.execute(select(SaleSettlement).where(SaleSettlement.ownership_id == current.id))
    ).scalar_one_or_none()
    if found is None:
        return None
    if found.request_fingerprint != fingerprint:
        first = msgspec.convert(found.result["request"], OwnershipCreate)
        field = "seller_consent" if first.seller_consent != data.seller_consent else "refund_method"
        raise Conflict(
            "this transfer was recorded and settled already, differently; the settlement stands", field=field
        )
    return msgspec.convert(found.result["response"], OwnershipOut)


async def record_transfer(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    data: OwnershipCreate,
    today: date,
    files_dir: Path | None = None,
    invite: OwnerInvite | None = None,
) -> tuple[OwnershipOut, bool]:
    """Record the ownership from ``data.starts_on`` and, for a sale, settle it; returns the answer
    and whether it was new (False: a retry of a transfer already recorded, nothing changed).
    ``invite``: invite the new owner to sign in (feesvc.signin), in the same transaction."""
    _check_consent(data.seller_consent, today)
    await get_unit(session, unit_id)
    current = await current_ownership(session, unit_id)
    if current is not None:
        # A sale writes the ledger: the unit's writers wait, and a racing retry sees this one.
        await lock_unit(session, unit_id)
        current = await current_ownership(session, unit_id)
    fingerprint = _fingerprint(unit_id, data)
    if current is not None and current.owner_id == data.owner_id and current.starts_on == data.starts_on:
        replayed = await _replay(session, current, data, fingerprint)
        if replayed is not None:
            return replayed, False
    seller_id = current.owner_id if current is not None else None
    # The transfer re-attributes charges already issued for the buyer's days (a sale recorded late or
    # mid-period; what the seller paid on them becomes the seller's credit) before the settlement
    # below counts the seller's prepaid periods and credit.
    ownership = await transfer_ownership(
        session, actor, unit_id, data.owner_id, data.starts_on, commit=False, today=today
    )
    settlement = None
    if seller_id is not None:
        settlement = await settle_sale(
            session, actor, unit_id, seller_id, ownership, data, today, files_dir
        )
    elif (today - data.starts_on).days <= FIRST_OWNER_NOTICE_DAYS:
        await _first_owners_notice(session, actor, unit_id, ownership, today, files_dir)
    if invite is not None:
        await invite_new_owner(session, actor, data.owner_id, invite)
    out = ownership_out(ownership, settlement)
    assert ownership.id is not None
    session.add(
        SaleSettlement(
            ownership_id=ownership.id,
            unit_id=unit_id,
            request_fingerprint=fingerprint,
            result={"request": msgspec.to_builtins(data), "response": msgspec.to_builtins(out)},
            actor=actor.label,
        )
    )
    if settlement is not None:
        await record_audit(session, actor, "sale.settle", "unit", unit_id, msgspec.to_builtins(settlement))
    await session.commit()
    return out, True


async def _first_owners_notice(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    ownership: Ownership,
    today: date,
    files_dir: Path | None,
) -> None:
    """A first owner (交房 from the developer) is a new owner too: the payment notice says when their
    billing starts and how to pay (DOMAIN.md "Change of owner"). A letter the rules refuse is audited."""
    unit, building = await get_unit(session, unit_id)
    estate = await get_estate(session, unit.estate_id)
    owner = await get_owner(session, ownership.owner_id, field="owner_id")
    first_period = first_period_from(ownership.starts_on, estate.cycle_months)
    notice = await issue_payment_notice(
        session, actor, estate, unit, building, owner, ownership, first_period, today, files_dir
    )
    await record_audit(
        session,
        actor,
        "ownership.payment_notice",
        "unit",
        unit_id,
        {"ownership_id": ownership.id, "letter_id": notice.letter_id, "problems": notice.problems},
    )


def _reason(handover: date, consent: SellerConsent | None) -> str:
    if consent is None:
        return f"过户（{handover.isoformat()}交房）：原业主预缴的未服务期间及未用预存款退还原业主"
    return (
        f"过户（{handover.isoformat()}交房）：经原业主书面同意（{consent.reference}，"
        f"{consent.signed_on.isoformat()}签署），预缴款转入新业主账户"
    )


async def _seller_credits(session: AsyncSession, unit_id: int, seller_id: int) -> list[tuple[LedgerEntry, int]]:
    """The seller's unused prepaid credit on the unit: (credit, fen still held), oldest first."""
    return [(c, -fen) for c, fen in await open_credits(session, unit_id) if c.owner_id == seller_id and fen < 0]


def _transfer(
    credits: list[tuple[LedgerEntry, int]],
    buyer_id: int,
    reason: str,
    consent: SellerConsent,
    today: date,
    actor: Principal,
) -> list[LedgerEntry]:
    """The seller's credit used up (one entry per credit) and one credit held for the buyer: the
    pairs net to zero, so the unit's balance is unchanged and each account shows the move."""
    detail: dict[str, Any] = {
        "consent_reference": consent.reference,
        "consent_signed_on": consent.signed_on.isoformat(),
    }
    used = [
        LedgerEntry(
            estate_id=credit.estate_id,
            unit_id=credit.unit_id,
            owner_id=credit.owner_id,
            kind=EntryKind.credit_applied,
            amount_fen=fen,
            effective_date=today,
            settles_entry_id=credit.id,
            actor=actor.label,
            reason=reason,
            detail={**detail, "transferred_to_owner_id": buyer_id},
        )
        for credit, fen in credits
    ]
    first = credits[0][0]
    held = LedgerEntry(
        estate_id=first.estate_id,
        unit_id=first.unit_id,
        owner_id=buyer_id,
        kind=EntryKind.prepaid_credit,
        amount_fen=-sum(fen for _, fen in credits),
        effective_date=today,
        actor=actor.label,
        reason=reason,
        detail={**detail, "transferred_from_owner_id": first.owner_id, "from_entry_ids": [c.id for c, _ in credits]},
    )
    return [*used, held]


async def settle_sale(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    seller_id: int,
    ownership: Ownership,
    data: OwnershipCreate,
    today: date,
    files_dir: Path | None = None,
) -> SaleSettlementOut:
    """The seller's prepaid periods from the handover and unused credit refunded or transferred, and
    the buyer's payment notice, in the caller's transaction."""
    unit, building = await get_unit(session, unit_id)
    estate = await get_estate(session, unit.estate_id)
    buyer = await get_owner(session, data.owner_id, field="owner_id")
    handover = data.starts_on
    consent = data.seller_consent
    reason = _reason(handover, consent)
    first_period = first_period_from(handover, estate.cycle_months)
    credit_before = sum(fen for _, fen in await _seller_credits(session, unit_id, seller_id))

    # A prepaid period the handover splits is taken back too (it is not served whole to the seller)
    # and issued again as the owners' shares; the seller's is paid from what the seller paid.
    split = split_period_of(handover, estate.cycle_months)
    from_period = split or first_period
    charges = await prepaid_charges_from(session, unit_id, seller_id, from_period)
    taken = (
        await take_back_periods(session, actor, estate, unit_id, charges, from_period, reason, today, None)
        if charges
        else None
    )
    split_out = None
    for charge in (c for c in charges if c.period == split):
        shares, paid = await reissue_as_shares(session, actor, estate, charge, today, seller_id)
        split_out = SplitPeriodOut(
            period=split or "",
            shares=[SplitShareOut(owner_id=o, fen=fen, days=days) for o, fen, days in shares],
            paid_by_seller_fen=paid,
        )
    credits = await _seller_credits(session, unit_id, seller_id)
    held = sum(fen for _, fen in credits)
    refunded = transferred = 0
    if credits and consent is None:
        append(session, [refund_entry(c, fen, today, actor, reason, data.refund_method) for c, fen in credits])
        refunded = held
    elif credits and consent is not None:
        append(session, _transfer(credits, data.owner_id, reason, consent, today, actor))
        transferred = held
    await session.flush()

    notice = await issue_payment_notice(
        session, actor, estate, unit, building, buyer, ownership, first_period, today, files_dir
    )
    return SaleSettlementOut(
        seller_id=seller_id,
        buyer_id=data.owner_id,
        handover=handover,
        periods=taken.periods if taken else [],
        charges_reversed_fen=taken.charges_reversed_fen if taken else 0,
        discount_taken_back_fen=taken.discount_taken_back_fen if taken else 0,
        owed_fen=taken.owed_fen if taken else 0,
        credit_fen=credit_before,
        refunded_fen=refunded,
        refund_method=Method(data.refund_method).value if refunded else None,
        transferred_fen=transferred,
        consent=consent,
        split_period=split_out,
        notice_letter_id=notice.letter_id,
        notice_problems=notice.problems,
    )
