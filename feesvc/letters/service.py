"""Letters after issue: their copies as issued, the run's print file, holds, policy, delivery proofs."""

from __future__ import annotations

import hashlib
import os
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
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.letters import storage
from feesvc.letters.issued import Kept, kept_copy, message_sha256, pages_of, read_kept
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
from feesvc.letters.runs import print_file_path
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


async def letter_pdf(session: AsyncSession, letter_id: int, files_dir: Path) -> tuple[Letter, Kept, bytes]:
    """The letter's PDF as issued (its stored bytes, hash-checked). A letter issued before letters
    were stored is rendered once, kept and stamped as a later rendering (``Kept.at_issue`` False)."""
    letter = await get_letter(session, letter_id)
    kept = await kept_copy(session, letter, files_dir)
    try:
        return letter, kept, await anyio.to_thread.run_sync(read_kept, kept)
    except storage.StoredFileError as error:
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


async def print_file(session: AsyncSession, run_id: int, files_dir: Path) -> Path:
    """The run's paper letters in one print-ready PDF, by building and unit: their stored PDFs, as
    issued (each file's hash checked), joined; made once, then kept."""
    run = await get_run(session, run_id)
    path = print_file_path(files_dir, run_id)
    if run.print_file and path.exists():
        return path
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
            kept = await kept_copy(session, await get_letter(session, int(letter_id or 0)), files_dir)
            path_, digest, first, last = kept.path, kept.sha256, kept.first_page, kept.last_page
        pages.append((path_, digest, first or 1, last or 1))
    if not pages:
        raise NotFound(f"reminder run {run_id} issued no paper letters")
    # Joining takes a while for a large run: no transaction stays open meanwhile (a PostgreSQL
    # snapshot held, a SQLite WAL that cannot be checkpointed), and the event loop stays free.
    await session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        await anyio.to_thread.run_sync(_join_stored, pages, path)
    except storage.StoredFileError as error:
        raise Conflict(f"reminder run {run_id}: its letters cannot be copied as issued: {error}") from error
    run.print_file = str(path)
    run.print_sha256 = _file_sha256(path)
    await session.commit()
    return path


def _join_stored(pages: list[tuple[str, str, int, int]], target: Path) -> None:
    """Each stored file's letters, in order, joined into ``target`` (by poppler's ``pdfunite``: it
    does not hold every file in memory at once). A file whose letters all come in a row goes in
    whole; otherwise its letters' pages are cut out. The target appears complete or not at all."""
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        parts: list[Path] = []
        for index, ((file, digest), group) in enumerate(groupby(pages, key=lambda row: (row[0], row[1]))):
            rows = list(group)
            data = storage.get(file, digest)
            part = Path(tmp) / f"{index:06d}.pdf"
            part.write_bytes(pages_of(data, [(first, last) for _, _, first, last in rows]))
            parts.append(part)
        joined = Path(tmp) / "joined.pdf"
        if len(parts) == 1:
            shutil.copyfile(parts[0], joined)
        else:
            subprocess.run(["pdfunite", *map(str, parts), str(joined)], check=True, capture_output=True)
        os.replace(joined, target)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    files_dir: Path,
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
    media_type, suffix = proof_type(proof)
    if channel in (DeliveryChannel.ems, DeliveryChannel.registered_mail) and not tracking_no:
        raise InvalidInput("mail delivery needs its tracking number", field="tracking_no")
    if channel == DeliveryChannel.hand and not signer:
        raise InvalidInput("hand delivery needs the signer's name", field="signer")
    digest = hashlib.sha256(proof).hexdigest()
    path = files_dir / "proofs" / f"{digest}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(proof)
    record = DeliveryRecord(
        letter_id=letter_id,
        channel=channel,
        tracking_no=tracking_no,
        signer=signer,
        delivered_on=delivered_on,
        proof_path=str(path),
        proof_sha256=digest,
        proof_size=len(proof),
        proof_media_type=media_type,
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
        {"channel": channel, "sha256": digest, "delivered_on": delivered_on.isoformat()},
    )
    await session.commit()
    return record
