"""Letters after issue: their copies as issued, the run's print file, holds, policy, delivery proofs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date
from itertools import groupby
from pathlib import Path

import anyio
from sqlalchemy import select as select_columns  # sqlmodel's select types at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, delete, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.files import PRINT_AREA, PROOF_AREA, FileStore, StoredFile, StoredFileError, read_all
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.letters.issued import PDF, Kept, kept_copy, message_sha256, pages_of, read_kept
from feesvc.letters.kinds import LetterKind
from feesvc.letters.models import (
    DeliveryChannel,
    DeliveryRecord,
    EscalationStage,
    Letter,
    OutboxMessage,
    ReminderHold,
    ReminderRun,
)
from feesvc.letters.policy import StageRule
from feesvc.limitation.rules import INTERRUPTING_KINDS
from feesvc.registry.service import get_estate, get_unit

MAX_PROOF_BYTES = 5 * 1024 * 1024
PROOF_TYPES = {
    b"%PDF-": ("application/pdf", ".pdf"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
}


async def get_letter(session: AsyncSession, letter_id: int) -> Letter:
    letter = await session.get(Letter, letter_id)
    if letter is None:
        raise NotFound(f"letter {letter_id} does not exist")
    return letter


async def letter_pdf(session: AsyncSession, letter_id: int, files: FileStore) -> tuple[Letter, Kept, bytes]:
    """The letter's PDF as issued (its pages of the stored file, hash-checked). A letter issued before
    letters were stored is rendered once, kept and stamped as a later rendering (``Kept.at_issue`` False)."""
    letter = await get_letter(session, letter_id)
    kept = await kept_copy(session, letter, files)
    try:
        return letter, kept, await read_kept(files, kept)
    except StoredFileError as error:
        raise Conflict(f"letter {letter.letter_no} cannot be given as issued: {error}") from error


async def letter_messages(session: AsyncSession, letter_id: int) -> tuple[Letter, list[OutboxMessage]]:
    """The electronic messages a letter went out as, each its exact text as issued: the text whose
    SHA-256 the letter recorded at issue (a mismatch is refused, never served as the letter's)."""
    letter = await get_letter(session, letter_id)
    if letter.message_sha256 is None:
        raise NotFound(f"letter {letter.letter_no} went out on paper only: it has no electronic message")
    query = select(OutboxMessage).where(OutboxMessage.letter_id == letter_id).order_by(col(OutboxMessage.id))
    messages = list((await session.execute(query)).scalars().all())
    for message in messages:
        if message_sha256(message.body) != letter.message_sha256:
            raise Conflict(
                f"letter {letter.letter_no}: the stored {message.channel} message does not match the text recorded "
                "at issue; it cannot be given as issued"
            )
    return letter, messages


async def unit_letters(session: AsyncSession, unit_id: int) -> list[Letter]:
    await get_unit(session, unit_id)
    query = select(Letter).where(Letter.unit_id == unit_id).order_by(col(Letter.issued_on), col(Letter.id))
    return list((await session.execute(query)).scalars())


async def get_run(session: AsyncSession, run_id: int) -> ReminderRun:
    run = await session.get(ReminderRun, run_id)
    if run is None:
        raise NotFound(f"reminder run {run_id} does not exist")
    return run


def print_file_name(run_id: int) -> str:
    return f"reminder-run-{run_id}.pdf"


async def print_file(session: AsyncSession, run_id: int, files: FileStore) -> tuple[str, str]:
    """The run's paper letters in one print-ready PDF, by building and unit: their stored PDFs, as
    issued (each file's hash checked), joined; made once, then kept in the file store. Returns its
    ref and SHA-256 there."""
    run = await get_run(session, run_id)
    if run.print_file and run.print_sha256 and await files.exists(run.print_file, run.print_sha256):
        return run.print_file, run.print_sha256
    rows = await session.execute(
        select_columns(
            col(Letter.id),
            col(Letter.document_path),
            col(Letter.document_sha256),
            col(Letter.first_page),
            col(Letter.last_page),
        )
        .where(col(Letter.run_id) == run_id, col(Letter.channel) == "paper")
        .order_by(col(Letter.id))  # a run's letters were added (and stored, a chunk a file) in print order
    )
    pages: list[tuple[str, str, int, int]] = []
    for letter_id, path_, digest, first, last in rows.all():
        if path_ is None or digest is None:  # issued before letters were kept: rendered once now
            kept = await kept_copy(session, await get_letter(session, int(letter_id or 0)), files)
            path_, digest, first, last = kept.ref, kept.sha256, kept.first_page, kept.last_page
        pages.append((path_, digest, first or 1, last or 1))
    if not pages:
        raise NotFound(f"reminder run {run_id} issued no paper letters")
    # Joining takes a while for a large run: no transaction stays open meanwhile (a PostgreSQL
    # snapshot held, a SQLite WAL that cannot be checkpointed), and the event loop stays free.
    await session.commit()
    try:
        stored = await _join_stored(files, pages, run_id)
    except StoredFileError as error:
        raise Conflict(f"reminder run {run_id}: its letters cannot be copied as issued: {error}") from error
    run.print_file = stored.ref
    run.print_sha256 = stored.sha256
    await session.commit()
    return stored.ref, stored.sha256


async def _join_stored(files: FileStore, pages: list[tuple[str, str, int, int]], run_id: int) -> StoredFile:
    """Each stored file's letters, in order, joined (by poppler's ``pdfunite``: it does not hold
    every file in memory at once) in a scratch directory, then kept: a file whose letters all come in
    a row goes in whole; otherwise its letters' pages are cut out. Only one stored file is in memory
    at a time; the store keeps the joined file complete or not at all."""
    with tempfile.TemporaryDirectory(prefix=f"feesvc-run-{run_id}-") as tmp:
        parts: list[Path] = []
        for index, ((ref, digest), group) in enumerate(groupby(pages, key=lambda row: (row[0], row[1]))):
            ranges = [(first, last) for _, _, first, last in group]
            data = await read_all(files, ref, digest)
            part = Path(tmp) / f"{index:06d}.pdf"
            await anyio.to_thread.run_sync(_write_part, data, ranges, part)
            parts.append(part)
        joined = Path(tmp) / print_file_name(run_id)
        if len(parts) == 1:
            await anyio.to_thread.run_sync(shutil.copyfile, parts[0], joined)
        else:
            command = ["pdfunite", *map(str, parts), str(joined)]
            await anyio.to_thread.run_sync(lambda: subprocess.run(command, check=True, capture_output=True))
        return await files.put(PRINT_AREA, joined, PDF)


def _write_part(data: bytes, ranges: list[tuple[int, int]], part: Path) -> None:
    part.write_bytes(pages_of(data, ranges))


async def set_policy(session: AsyncSession, actor: Principal, estate_id: int, rules: list[StageRule]) -> None:
    await get_estate(session, estate_id)
    stages = [r.stage for r in rules]
    if len(set(stages)) != len(stages):
        raise InvalidInput("each stage appears once", field="stages")
    overdue = sorted((r for r in rules if r.stage != "pre_due"), key=lambda r: r.days_from_due)
    if [r.stage for r in overdue] != [s for s in ("friendly", "formal", "final_demand", "legal_review") if s in stages]:
        raise InvalidInput("stages must start later as they escalate", field="stages")
    await session.execute(delete(EscalationStage).where(col(EscalationStage.estate_id) == estate_id))
    session.add_all(
        EscalationStage(
            estate_id=estate_id,
            stage=r.stage,
            days_from_due=r.days_from_due,
            min_overdue_fen=r.min_overdue_fen,
            cooldown_days=r.cooldown_days,
        )
        for r in rules
    )
    await record_audit(
        session,
        actor,
        "escalation.policy",
        "estate",
        estate_id,
        {"stages": [[r.stage, r.days_from_due, r.min_overdue_fen, r.cooldown_days] for r in rules]},
    )
    await session.commit()


async def add_hold(
    session: AsyncSession, actor: Principal, unit_id: int, reason: str, starts_on: date, ends_on: date | None
) -> ReminderHold:
    await get_unit(session, unit_id)
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("a hold cannot end before it starts", field="ends_on")
    hold = ReminderHold(unit_id=unit_id, reason=reason, starts_on=starts_on, ends_on=ends_on, actor=actor.label)
    session.add(hold)
    await session.flush()
    await record_audit(session, actor, "reminders.hold", "unit", unit_id, {"reason": reason})
    await session.commit()
    return hold


def proof_type(content: bytes) -> tuple[str, str]:
    for magic, kind in PROOF_TYPES.items():
        if content.startswith(magic):
            return kind
    raise InvalidInput("a proof file must be a PDF, JPEG or PNG", field="proof")


async def record_delivery(
    session: AsyncSession,
    actor: Principal,
    letter_id: int,
    channel: DeliveryChannel,
    delivered_on: date,
    tracking_no: str,
    signer: str,
    proof: bytes,
    files: FileStore,
    today: date,
) -> DeliveryRecord:
    """Keep the proof file with its SHA-256; a delivered demand interrupts limitation for its periods."""
    letter = await get_letter(session, letter_id)
    if delivered_on > today:
        raise InvalidInput("a letter cannot be delivered in the future", field="delivered_on")
    if delivered_on < letter.issued_on:
        raise InvalidInput("a letter cannot be delivered before it was issued", field="delivered_on")
    if len(proof) > MAX_PROOF_BYTES:
        raise InvalidInput(f"a proof file is at most {MAX_PROOF_BYTES // (1024 * 1024)} MB", field="proof")
    if not proof:
        raise InvalidInput("a proof file is required", field="proof")
    media_type, _ = proof_type(proof)
    if channel in (DeliveryChannel.ems, DeliveryChannel.registered_mail) and not tracking_no:
        raise InvalidInput("mail delivery needs its tracking number", field="tracking_no")
    if channel == DeliveryChannel.hand and not signer:
        raise InvalidInput("hand delivery needs the signer's name", field="signer")
    kept = await files.put(PROOF_AREA, proof, media_type)
    record = DeliveryRecord(
        letter_id=letter_id,
        channel=channel,
        tracking_no=tracking_no,
        signer=signer,
        delivered_on=delivered_on,
        proof_path=kept.ref,
        proof_sha256=kept.sha256,
        proof_size=kept.size,
        proof_media_type=kept.media_type,
        recorded_by=actor.label,
    )
    session.add(record)
    if LetterKind(letter.kind) in INTERRUPTING_KINDS:  # demands, and the hardship offer's gentle one
        session.add_all(
            LimitationEvent(
                unit_id=letter.unit_id,
                # The owner the demand reached: it interrupts nothing for another owner of the unit.
                owner_id=letter.owner_id,
                period=period,
                kind=InterruptionKind.demand_delivered,
                occurred_on=delivered_on,
                source=f"letter {letter.letter_no}",
                actor=actor.label,
            )
            for period in letter.periods
        )
    await session.flush()
    await record_audit(
        session,
        actor,
        "letter.delivered",
        "letter",
        letter_id,
        {"channel": channel, "sha256": kept.sha256, "delivered_on": delivered_on.isoformat()},
    )
    await session.commit()
    return record
