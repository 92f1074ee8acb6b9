"""Recording the interruptions of limitation that are not letters or payments: a written
acknowledgement (with its signed copy) and a legal filing (with, later, its outcome). The watch that
reads them is ``limitation.watch``.

Each recorded interruption writes one ``LimitationEvent`` per period for its owner, so the evidence
pack's limitation table (which reads those events) counts it. Recording is retry-safe: a request
carries an Idempotency-Key; the same key and request answer the first result, the same key with
another request is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc import idempotency
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.files import PROOF_AREA, FileStore, StoredFile
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.limitation.models import (
    Acknowledgement,
    AcknowledgementKind,
    FilingOutcome,
    LegalFiling,
)
from feesvc.limitation.schemas import (
    AcknowledgementOut,
    FilingCreate,
    FilingOut,
    FilingOutcomeCreate,
)
from feesvc.payments.lookup import held_unit
from feesvc.registry.service import get_unit

MAX_PROOF_BYTES = 5 * 1024 * 1024
PROOF_TYPES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
}


def acknowledgement_source(ack_id: int) -> str:
    return f"acknowledgement #{ack_id}"


def filing_source(filing: LegalFiling, ended: bool = False) -> str:
    """The event's source names the filing with its court and case number: the pack quotes it."""
    what = "ended" if ended else filing.kind.value
    return f"legal filing #{filing.id} {what} {filing.court} {filing.case_no}"[:200]


# ---------------------------------------------------------------------------------------------------
# Recording acknowledgements and filings


def proof_type(content: bytes) -> tuple[str, str]:
    for magic, kind in PROOF_TYPES.items():
        if content.startswith(magic):
            return kind
    raise InvalidInput("a proof file must be a PDF, JPEG or PNG", field="proof")


def check_proof(proof: bytes) -> tuple[str, str]:
    """The signed copy's media type and file suffix, once it is known to be one we keep."""
    if not proof:
        raise InvalidInput("the signed copy is required", field="proof")
    if len(proof) > MAX_PROOF_BYTES:
        raise InvalidInput(f"a proof file is at most {MAX_PROOF_BYTES // (1024 * 1024)} MB", field="proof")
    return proof_type(proof)


async def _keep_proof(proof: bytes, files: FileStore) -> StoredFile:
    """The signed copy kept under its SHA-256 (a retry stores nothing twice)."""
    media_type, _ = check_proof(proof)
    return await files.put(PROOF_AREA, proof, media_type)


def parse_periods(text: str) -> list[str]:
    """ "2023-01, 2023-02" → ["2023-01", "2023-02"] (a form field carries a list as text)."""
    periods = sorted({p.strip() for p in text.split(",") if p.strip()})
    bad = [
        p for p in periods if len(p) != 7 or p[4] != "-" or not (p[:4] + p[5:]).isdigit() or not 1 <= int(p[5:]) <= 12
    ]
    if not periods or bad:
        raise InvalidInput("send the periods as YYYY-MM separated by commas, e.g. 2023-01,2023-02", field="periods")
    return periods


async def _check_account(
    session: AsyncSession, unit_id: int, owner_id: int, periods: Sequence[str], today: date
) -> int:
    """The unit's estate, once the owner and the periods are known to be theirs: an interruption
    recorded for periods the owner was never charged would be a fact the record does not hold."""
    unit, _ = await get_unit(session, unit_id, field="unit_id")
    if not await held_unit(session, unit_id, owner_id, today):
        raise InvalidInput(f"owner {owner_id} never owned unit {unit_id}", field="owner_id")
    charged = set(
        (
            await session.execute(
                select(LedgerEntry.period).where(
                    LedgerEntry.unit_id == unit_id,
                    LedgerEntry.owner_id == owner_id,
                    LedgerEntry.kind == EntryKind.charge,
                    col(LedgerEntry.period).in_(list(periods)),
                )
            )
        ).scalars()
    )
    missing = [p for p in periods if p not in charged]
    if missing:
        raise InvalidInput(
            f"owner {owner_id} was never charged for {', '.join(missing)} at unit {unit_id}", field="periods"
        )
    return unit.estate_id


def _events(
    unit_id: int, owner_id: int, periods: Sequence[str], kind: InterruptionKind, on: date, source: str, actor: Principal
) -> list[LimitationEvent]:
    return [
        LimitationEvent(
            unit_id=unit_id, owner_id=owner_id, period=p, kind=kind, occurred_on=on, source=source, actor=actor.label
        )
        for p in periods
    ]


def acknowledgement_out(ack: Acknowledgement) -> AcknowledgementOut:
    assert ack.id is not None
    return AcknowledgementOut(
        ack.id,
        ack.unit_id,
        ack.owner_id,
        AcknowledgementKind(ack.kind),
        ack.signed_on,
        list(ack.periods),
        ack.plan_id,
        ack.proof_sha256,
        ack.proof_size,
        ack.proof_media_type,
        ack.recorded_by,
    )


def filing_out(filing: LegalFiling) -> FilingOut:
    assert filing.id is not None
    return FilingOut(
        filing.id,
        filing.unit_id,
        filing.owner_id,
        filing.kind,
        filing.filed_on,
        filing.court,
        filing.case_no,
        list(filing.periods),
        filing.claimed_fen,
        filing.outcome,
        filing.outcome_on,
        filing.outcome_note,
        filing.recorded_by,
    )


async def record_acknowledgement(
    session: AsyncSession,
    actor: Principal,
    *,
    unit_id: int,
    owner_id: int,
    signed_on: date,
    periods: Sequence[str],
    proof: bytes,
    note: str,
    key: str,
    files: FileStore,
    today: date,
    plan_id: int | None = None,
    events: bool = True,
) -> tuple[Acknowledgement, bool]:
    """Keep a signed acknowledgement and its copy; it interrupts limitation of its periods for its
    owner from ``signed_on``. Returns it and whether it is new (False: a retry)."""
    if signed_on > today:
        raise InvalidInput(f"an acknowledgement cannot be signed in the future (today is {today})", field="signed_on")
    digest_of_request = hashlib.sha256(proof).hexdigest()
    fingerprint = idempotency.fingerprint(
        unit=unit_id,
        owner=owner_id,
        on=signed_on,
        periods=sorted(periods),
        proof=digest_of_request,
        plan=plan_id,
        note=note,
    )
    found = await idempotency.replayed(session, Acknowledgement, key, fingerprint)
    if found is not None:
        return found, False
    estate_id = await _check_account(session, unit_id, owner_id, periods, today)
    kept = await _keep_proof(proof, files)
    kind = AcknowledgementKind.installment_plan if plan_id is not None else AcknowledgementKind.written_confirmation
    ack = Acknowledgement(
        estate_id=estate_id,
        unit_id=unit_id,
        owner_id=owner_id,
        kind=kind,
        signed_on=signed_on,
        periods=sorted(periods),
        plan_id=plan_id,
        note=note,
        proof_path=kept.ref,
        proof_sha256=kept.sha256,
        proof_size=kept.size,
        proof_media_type=kept.media_type,
        idempotency_key=key,
        request_fingerprint=fingerprint,
        recorded_by=actor.label,
    )
    ack, new = await idempotency.insert_once(session, ack, Acknowledgement, key, fingerprint)
    if not new:
        return ack, False
    assert ack.id is not None
    if events:  # a plan's agreement wrote its own events (plans.service.agree_plan)
        session.add_all(
            _events(
                unit_id,
                owner_id,
                ack.periods,
                InterruptionKind.acknowledgement,
                signed_on,
                acknowledgement_source(ack.id),
                actor,
            )
        )
    await record_audit(
        session,
        actor,
        "limitation.acknowledgement",
        "acknowledgement",
        ack.id,
        {
            "unit_id": unit_id,
            "owner_id": owner_id,
            "signed_on": signed_on.isoformat(),
            "periods": ack.periods,
            "plan_id": plan_id,
            "sha256": kept.sha256,
        },
    )
    return ack, True


async def record_filing(
    session: AsyncSession, actor: Principal, data: FilingCreate, key: str, today: date
) -> tuple[LegalFiling, bool]:
    """A suit or payment-order application: interrupts limitation of its periods for the owner sued
    from the day it was filed (民法典 195(3))."""
    if data.filed_on > today:
        raise InvalidInput(f"a filing cannot be dated in the future (today is {today})", field="filed_on")
    periods = sorted(set(data.periods))
    fingerprint = idempotency.fingerprint(
        unit=data.unit_id,
        owner=data.owner_id,
        kind=data.kind,
        on=data.filed_on,
        court=data.court,
        case=data.case_no,
        periods=periods,
        fen=data.claimed_fen,
    )
    found = await idempotency.replayed(session, LegalFiling, key, fingerprint)
    if found is not None:
        return found, False
    estate_id = await _check_account(session, data.unit_id, data.owner_id, periods, today)
    filing = LegalFiling(
        estate_id=estate_id,
        unit_id=data.unit_id,
        owner_id=data.owner_id,
        kind=data.kind,
        filed_on=data.filed_on,
        court=data.court.strip(),
        case_no=data.case_no.strip(),
        periods=periods,
        claimed_fen=data.claimed_fen,
        idempotency_key=key,
        request_fingerprint=fingerprint,
        recorded_by=actor.label,
    )
    filing, new = await idempotency.insert_once(session, filing, LegalFiling, key, fingerprint)
    if not new:
        return filing, False
    session.add_all(
        _events(
            data.unit_id,
            data.owner_id,
            periods,
            InterruptionKind.legal_action,
            data.filed_on,
            filing_source(filing),
            actor,
        )
    )
    await record_audit(
        session,
        actor,
        "limitation.filing",
        "legal_filing",
        filing.id,
        {
            "unit_id": data.unit_id,
            "owner_id": data.owner_id,
            "kind": data.kind.value,
            "filed_on": data.filed_on.isoformat(),
            "court": filing.court,
            "case_no": filing.case_no,
            "periods": periods,
        },
    )
    return filing, True


async def get_filing(session: AsyncSession, filing_id: int) -> LegalFiling:
    filing = await session.get(LegalFiling, filing_id)
    if filing is None:
        raise NotFound(f"legal filing {filing_id} does not exist")
    return filing


async def record_outcome(
    session: AsyncSession, actor: Principal, filing_id: int, data: FilingOutcomeCreate, today: date
) -> tuple[LegalFiling, bool]:
    """The end of the proceedings. A new clock runs from it (民法典 195): one more event per period.
    The same outcome again is a retry and changes nothing; another outcome is refused."""
    filing = await get_filing(session, filing_id)
    if filing.outcome is not None:
        if (filing.outcome, filing.outcome_on, filing.outcome_note) == (data.outcome, data.outcome_on, data.note):
            return filing, False
        raise Conflict(
            f"legal filing {filing_id} already ended ({filing.outcome} on {filing.outcome_on})", field="outcome"
        )
    if data.outcome_on > today:
        raise InvalidInput(f"an outcome cannot be dated in the future (today is {today})", field="outcome_on")
    if data.outcome_on < filing.filed_on:
        raise InvalidInput(f"the proceedings cannot end before they were filed ({filing.filed_on})", field="outcome_on")
    filing.outcome = FilingOutcome(data.outcome)
    filing.outcome_on = data.outcome_on
    filing.outcome_note = data.note.strip()
    session.add_all(
        _events(
            filing.unit_id,
            filing.owner_id,
            filing.periods,
            InterruptionKind.legal_action,
            data.outcome_on,
            filing_source(filing, ended=True),
            actor,
        )
    )
    await record_audit(
        session,
        actor,
        "limitation.filing_outcome",
        "legal_filing",
        filing_id,
        {"outcome": data.outcome.value, "outcome_on": data.outcome_on.isoformat()},
    )
    return filing, True
