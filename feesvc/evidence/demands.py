"""The demands and their delivery (04_demands.pdf): every letter with its delivery records, the
letters rendered again as issued, and the stored proofs copied after checking their SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.evidence.collect import PackData
from feesvc.evidence.document import F_DEMANDS, F_LETTERS, EvidenceError, Pack
from feesvc.evidence.statements import demand_statements
from feesvc.evidence.words import DELIVERY_CHANNELS, KIND_WORDS, LETTER_CHANNELS, day_text, periods_text
from feesvc.files import FileStore, StoredFileError, read_all
from feesvc.letters.content import letter_title
from feesvc.letters.issued import issued_copy, read_kept
from feesvc.letters.kinds import PAYMENT_REQUEST_KINDS, LetterKind


def demand_rows(pack: Pack, ranges: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for number, ((letter, ctx), pages) in enumerate(zip(pack.letters, ranges, strict=True), start=1):
        deliveries = []
        for record in pack.data.deliveries.get(letter.id or 0, []):
            deliveries.append(
                {
                    "channel": DELIVERY_CHANNELS.get(record.channel, str(record.channel)),
                    "delivered_on": day_text(record.delivered_on),
                    "tracking_no": record.tracking_no,
                    "signer": record.signer,
                    "proof": pack.proofs.get(record.id or 0, ""),
                    "sha256": record.proof_sha256,
                }
            )
        rows.append(
            {
                "number": number,
                "letter_no": letter.letter_no,
                "title": letter_title(ctx),
                "kind": KIND_WORDS.get(LetterKind(letter.kind), letter.kind),
                "demand": LetterKind(letter.kind) in PAYMENT_REQUEST_KINDS,
                "issued_on": day_text(letter.issued_on),
                "channel": LETTER_CHANNELS.get(letter.channel, letter.channel),
                "deadline": day_text(letter.deadline) if letter.deadline else "—",
                "periods": periods_text(letter.periods),
                "total_fen": letter.total_fen,
                "pages": f"第{pages[0]}页" if pages[0] == pages[1] else f"第{pages[0]}–{pages[1]}页",
                "deliveries": deliveries,
            }
        )
    return rows


def demands_context(pack: Pack, ranges: Sequence[tuple[int, int]]) -> dict[str, Any]:
    rows = demand_rows(pack, ranges)
    assert pack.facts is not None
    return {
        **pack.base(F_DEMANDS, "催缴记录及送达凭证"),
        "statements": [{"text": f.text, "cites": "；".join(f.cites)} for f in demand_statements(pack.facts)],
        "rows": rows,
        "letters_file": F_LETTERS,
        "delivered_demands": sum(1 for r in rows if r["demand"] and r["deliveries"]),
    }


async def read_stored(session: AsyncSession, files: FileStore, data: PackData) -> None:
    """Every stored file the pack copies, read from the file store and checked against the SHA-256
    recorded with it: each letter's PDF as issued (``data.copies``), each delivery proof
    (``data.proofs``). One that is missing or changed: no pack; one the job queue has not rendered
    yet: no pack either (``NotRenderedYet``), never a later rendering in its place."""
    for letter in data.letters:
        kept = await issued_copy(session, letter)
        try:
            if kept is not None:
                data.copies[letter.id or 0] = await read_kept(files, kept)
        except StoredFileError as error:
            raise EvidenceError(f"letter {letter.letter_no} cannot be copied as issued: {error}") from error
        for record in data.deliveries.get(letter.id or 0, []):
            try:
                data.proofs[record.id or 0] = await read_all(files, record.proof_path, record.proof_sha256)
            except StoredFileError as error:
                raise EvidenceError(f"the delivery proof of letter {letter.letter_no}: {error}") from error


def copy_proofs(pack: Pack) -> dict[str, bytes]:
    """Each delivery proof (read and checked by ``read_stored``), under its name in the pack."""
    files: dict[str, bytes] = {}
    suffixes = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
    for letter, _ in pack.letters:
        for record in pack.data.deliveries.get(letter.id or 0, []):
            suffix = suffixes.get(record.proof_media_type, Path(record.proof_path).suffix)
            name = f"demands/proofs/{letter.issued_on:%Y%m%d}-{letter.kind}-{record.id}{suffix}"
            pack.proofs[record.id or 0] = name
            files[name] = pack.data.proofs[record.id or 0]
    return files
