"""The limitation watch per owner, and recording the interruptions that are not letters or payments:
a written acknowledgement (with its signed copy) and a legal filing (with, later, its outcome).

Each recorded interruption writes one ``LimitationEvent`` per period for its owner, so the evidence
pack's limitation table (which reads those events) counts it. Recording is retry-safe: a request
carries an Idempotency-Key; the same key and request answer the first result, the same key with
another request is refused.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc import idempotency
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.evidence.limitation import LIMITATION_YEARS, Interruption
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.letters.models import DeliveryRecord, Letter
from feesvc.limitation.models import (
    Acknowledgement,
    AcknowledgementKind,
    FilingOutcome,
    LegalFiling,
)
from feesvc.limitation.rules import (
    INTERRUPTING_KINDS,
    MAX_WITHIN_DAYS,
    NOTICE_IN_FLIGHT_DAYS,
    NOTICE_WITHIN_DAYS,
    OpenPeriod,
    WatchedPeriod,
    needing_notice,
    watch_account,
)
from feesvc.limitation.schemas import (
    AccountWatchOut,
    AcknowledgementOut,
    FilingCreate,
    FilingOut,
    FilingOutcomeCreate,
    InterruptionOut,
    LimitationWatchOut,
    WatchedPeriodOut,
)
from feesvc.payments.lookup import held_unit
from feesvc.registry.models import Building, Owner, Ownership, Unit
from feesvc.registry.service import get_estate, get_unit, ownership_covering

Account = tuple[int, int]  # (unit id, owner id)
MAX_PROOF_BYTES = 5 * 1024 * 1024
UNIT_BATCH = 10_000  # unit ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766
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
# Reading: open periods, interruptions and letters in flight, per account


def _due_by(as_of: date, within_days: int) -> date:
    """The latest due date whose clock can end by ``as_of + within_days``: a clock starts at the due
    date or later, so a period due after this cannot be listed. Two days' slack for Feb 29."""
    return as_of + timedelta(days=within_days + 2) - relativedelta(years=LIMITATION_YEARS)


async def _open_periods(
    session: AsyncSession, estate_id: int, as_of: date, due_by: date
) -> dict[Account, list[OpenPeriod]]:
    """Every account's periods due by ``due_by`` with something open (principal or late fee), by the
    owner each entry carries; entries written before entries carried their owner are the unit's
    current owner's. Only old debts are read: a large estate's run reads a few rows, not its ledger."""
    settling = aliased(LedgerEntry)
    # Per candidate entry (an old debt), not an aggregate over the estate's ledger.
    settled = (
        select_columns(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id)
        .scalar_subquery()
    )
    charge = aliased(LedgerEntry)
    open_fen = LedgerEntry.amount_fen + settled
    rows = await session.execute(
        select_columns(
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            func.coalesce(LedgerEntry.period, charge.period),
            col(LedgerEntry.kind),
            open_fen,
            func.coalesce(charge.due_date, LedgerEntry.due_date),
        )
        .outerjoin(charge, col(charge.id) == LedgerEntry.basis_entry_id)
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind).in_(DEBIT_KINDS),
            # The period bounds the index range (estate, kind, period): no period falls due more than
            # a year before it starts (billing in advance); the due date then decides exactly.
            or_(
                col(LedgerEntry.period) <= f"{due_by + relativedelta(years=1):%Y-%m}", col(LedgerEntry.period).is_(None)
            ),
            func.coalesce(charge.due_date, LedgerEntry.due_date) <= due_by,
            open_fen > 0,
        )
    )
    found = rows.all()
    orphans = sorted({unit_id for unit_id, owner_id, *_ in found if owner_id is None})
    current: dict[int, int] = {}
    if orphans:
        owners = await session.execute(
            select(Ownership.unit_id, Ownership.owner_id).where(
                col(Ownership.unit_id).in_(orphans), ownership_covering(as_of)
            )
        )
        current = dict(owners.all())
    sums: dict[Account, dict[str, list[Any]]] = defaultdict(dict)
    for unit_id, owner_id, period, kind, fen, due in found:
        owner = owner_id if owner_id is not None else current.get(unit_id)
        if owner is None or period is None or due is None:
            continue
        slot = sums[(unit_id, owner)].setdefault(period, [due, 0, 0])
        slot[0] = min(slot[0], due)
        slot[1 if kind == EntryKind.charge else 2] += int(fen)
    return {
        account: [OpenPeriod(p, due, principal, late) for p, (due, principal, late) in sorted(periods.items())]
        for account, periods in sums.items()
    }


async def _interruptions(
    session: AsyncSession, unit_ids: Sequence[int], as_of: date
) -> dict[Account, dict[str, list[Interruption]]]:
    """The recorded interruptions (events) and part payments of the units' owners, per period, up
    to ``as_of``."""
    found: dict[Account, dict[str, list[Interruption]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(unit_ids), UNIT_BATCH):  # databases cap the parameters of one query
        batch = list(unit_ids[start : start + UNIT_BATCH])
        events = await session.execute(
            select(LimitationEvent).where(
                col(LimitationEvent.unit_id).in_(batch), col(LimitationEvent.occurred_on) <= as_of
            )
        )
        for event in events.scalars():
            if event.owner_id is not None:
                found[(event.unit_id, event.owner_id)][event.period].append(
                    Interruption(InterruptionKind(event.kind), event.occurred_on, event.source)
                )
        # A part payment acknowledges the debt of the period it paid towards (诉讼时效规定 §14).
        debit, reversal = aliased(LedgerEntry), aliased(LedgerEntry)
        payments = await session.execute(
            select_columns(
                col(debit.unit_id),
                col(debit.owner_id),
                col(debit.period),
                col(LedgerEntry.effective_date),
                func.min(LedgerEntry.payment_id),
            )
            .join(debit, col(debit.id) == LedgerEntry.settles_entry_id)
            .where(
                col(LedgerEntry.unit_id).in_(batch),
                col(LedgerEntry.kind) == EntryKind.payment,
                col(LedgerEntry.effective_date) <= as_of,
                ~select_columns(col(reversal.id)).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists(),
            )
            .group_by(col(debit.unit_id), col(debit.owner_id), col(debit.period), col(LedgerEntry.effective_date))
        )
        for unit_id, owner_id, period, day, payment_id in payments.all():
            if owner_id is not None and period is not None:
                found[(unit_id, owner_id)][period].append(
                    Interruption(InterruptionKind.part_payment, day, f"payment #{payment_id}")
                )
    return found


async def _notices(
    session: AsyncSession, estate_id: int, as_of: date
) -> dict[Account, list[tuple[date, str, list[str]]]]:
    """Interrupting letters of the last ``NOTICE_IN_FLIGHT_DAYS`` days: (issued on, number, periods)."""
    rows = await session.execute(
        select_columns(
            col(Letter.unit_id), col(Letter.owner_id), col(Letter.issued_on), col(Letter.letter_no), col(Letter.periods)
        ).where(
            col(Letter.estate_id) == estate_id,
            col(Letter.kind).in_([k.value for k in INTERRUPTING_KINDS]),
            col(Letter.issued_on) > as_of - timedelta(days=NOTICE_IN_FLIGHT_DAYS),
            col(Letter.issued_on) <= as_of,
        )
    )
    found: dict[Account, list[tuple[date, str, list[str]]]] = defaultdict(list)
    for unit_id, owner_id, issued_on, number, periods in rows.all():
        if owner_id is not None:
            found[(unit_id, owner_id)].append((issued_on, number, list(periods)))
    return found


async def notice_needs(session: AsyncSession, estate_id: int, as_of: date) -> dict[Account, list[WatchedPeriod]]:
    """The accounts with periods expiring within ``NOTICE_WITHIN_DAYS`` that no interrupting letter
    in flight names: each must get one from this reminder run (``letters.runs``)."""
    periods = await _open_periods(session, estate_id, as_of, _due_by(as_of, NOTICE_WITHIN_DAYS))
    if not periods:
        return {}
    interruptions = await _interruptions(session, sorted({unit_id for unit_id, _ in periods}), as_of)
    notices = await _notices(session, estate_id, as_of)
    needs: dict[Account, list[WatchedPeriod]] = {}
    for account, open_periods in periods.items():
        watch = watch_account(open_periods, interruptions.get(account, {}), as_of, NOTICE_WITHIN_DAYS)
        sent = [(issued_on, named) for issued_on, _, named in notices.get(account, [])]
        need = needing_notice(watch.expiring, sent, as_of)
        if need:
            needs[account] = need
    return needs


async def _proof_of(session: AsyncSession, account: Account, interruption: Interruption) -> str:
    """What proves an interruption, from its record: the delivery, the signed copy, the filing."""
    source = interruption.source
    if source.startswith("letter "):
        number = source[len("letter ") :]
        row = (
            await session.execute(
                select(DeliveryRecord)
                .join(Letter, col(Letter.id) == DeliveryRecord.letter_id)
                .where(Letter.letter_no == number, DeliveryRecord.delivered_on == interruption.on)
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            return ""
        parts = [row.channel.value, row.tracking_no, row.signer, f"sha256 {row.proof_sha256}"]
        return " ".join(p for p in parts if p)
    if source.startswith("acknowledgement #") or source.startswith("installment plan #"):
        if source.startswith("acknowledgement #"):
            query = select(Acknowledgement).where(Acknowledgement.id == int(source.split("#")[1].split()[0]))
        else:
            plan_id = int(source.split("#")[1].split()[0])
            query = select(Acknowledgement).where(Acknowledgement.plan_id == plan_id)
        ack = (await session.execute(query.limit(1))).scalar_one_or_none()
        return f"signed copy sha256 {ack.proof_sha256}" if ack is not None else "signed copy not on file"
    if source.startswith("legal filing #"):
        return source[len("legal filing #") :].split(" ", 2)[-1]
    return source


def _bounded(within_days: int) -> int:
    if not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise InvalidInput(f"within_days is a number of days from 0 to {MAX_WITHIN_DAYS}", field="within_days")
    return within_days


async def limitation_watch(
    session: AsyncSession, estate_id: int, as_of: date, within_days: int = NOTICE_WITHIN_DAYS
) -> LimitationWatchOut:
    """Each owner's periods expiring from ``as_of`` to ``as_of + within_days``, with their last
    interruption and what proves it; the account's expired periods are named apart."""
    _bounded(within_days)
    await get_estate(session, estate_id, field="estate_id")
    periods = await _open_periods(session, estate_id, as_of, _due_by(as_of, within_days))
    interruptions = await _interruptions(session, sorted({unit_id for unit_id, _ in periods}), as_of)
    notices = await _notices(session, estate_id, as_of)
    watches = {
        account: watch_account(open_periods, interruptions.get(account, {}), as_of, within_days)
        for account, open_periods in periods.items()
    }
    watches = {account: w for account, w in watches.items() if w.expiring}
    if not watches:
        return LimitationWatchOut(estate_id, as_of, within_days, [])
    unit_ids = sorted({unit_id for unit_id, _ in watches})
    unit_rows = await session.execute(
        select_columns(col(Unit.id), col(Building.name), col(Unit.number))
        .join(Building, col(Building.id) == Unit.building_id)
        .where(col(Unit.id).in_(unit_ids))
    )
    labels: dict[int | None, str] = {unit_id: f"{building} {number}" for unit_id, building, number in unit_rows.all()}
    owners = await session.execute(
        select(Ownership, Owner)
        .join(Owner, col(Owner.id) == Ownership.owner_id)
        .where(col(Ownership.unit_id).in_(unit_ids))
    )
    names: dict[int, str] = {}
    current: set[Account] = set()
    for ownership, owner in owners.all():
        assert owner.id is not None
        names[owner.id] = owner.name
        if ownership.ends_on is None or ownership.ends_on >= as_of:
            current.add((ownership.unit_id, owner.id))
    accounts = []
    for account in sorted(watches, key=lambda a: (watches[a].expiring[0].limitation.expires_on, a)):
        watch = watches[account]
        rows = []
        for w in watch.expiring:
            last = w.limitation.last_interruption
            in_flight = [n for issued, n, named in notices.get(account, []) if w.period.period in named]
            rows.append(
                WatchedPeriodOut(
                    period=w.period.period,
                    due_date=w.period.due,
                    principal_fen=w.period.principal_fen,
                    late_fee_fen=w.period.late_fee_fen,
                    clock_start=w.limitation.clock_start,
                    expires_on=w.limitation.expires_on,
                    days_left=w.limitation.days_left,
                    last_interruption=None
                    if last is None
                    else InterruptionOut(
                        last.kind.value, last.on, last.source, await _proof_of(session, account, last)
                    ),
                    notice_in_flight=in_flight[-1] if in_flight else None,
                )
            )
        accounts.append(
            AccountWatchOut(
                unit_id=account[0],
                unit_label=labels.get(account[0], ""),
                owner_id=account[1],
                owner_name=names.get(account[1], ""),
                current_owner=account in current,
                periods=rows,
                expired_periods=[w.period.period for w in watch.expired],
            )
        )
    return LimitationWatchOut(estate_id, as_of, within_days, accounts)


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


def _keep_proof(proof: bytes, files_dir: Path) -> tuple[Path, str, str]:
    """The signed copy stored under its SHA-256 (a retry stores nothing twice)."""
    media_type, suffix = check_proof(proof)
    digest = hashlib.sha256(proof).hexdigest()
    path = files_dir / "proofs" / f"{digest}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(proof)
    return path, digest, media_type


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
    files_dir: Path,
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
    path, digest, media_type = _keep_proof(proof, files_dir)
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
        proof_path=str(path),
        proof_sha256=digest,
        proof_size=len(proof),
        proof_media_type=media_type,
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
            "sha256": digest,
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
