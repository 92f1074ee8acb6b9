"""An issued letter's rows, built one way for a reminder run's letters (``feesvc.letters.issuing``)
and for a single letter on demand (``feesvc.letters.single``): the ``Letter`` with its context
whole, and its electronic message waiting in the outbox.
"""

from __future__ import annotations

import msgspec

from feesvc.auth.principal import Principal
from feesvc.letters.content import LetterContext
from feesvc.letters.issued import message_sha256
from feesvc.letters.models import Letter, OutboxMessage, OutboxStatus, Stage


def letter_row(
    estate_id: int,
    unit_id: int,
    owner_id: int | None,
    ctx: LetterContext,
    *,
    channel: str,
    dedupe_key: str,
    actor: Principal,
    message: str | None,
    run_id: int | None = None,
    stage: Stage | None = None,
) -> Letter:
    """The letter as issued: what it says (its context, whole) and, for one that also goes out
    electronically, the hash of its ``message``'s exact text."""
    return Letter(
        estate_id=estate_id,
        unit_id=unit_id,
        owner_id=owner_id,
        run_id=run_id,
        kind=ctx.kind.value,
        stage=stage,
        channel=channel,
        locale=ctx.locale,
        letter_no=ctx.letter_no,
        issued_on=ctx.issued_on,
        deadline=ctx.deadline,
        total_fen=ctx.total_fen,
        periods=[p.period for p in ctx.periods],
        context=msgspec.to_builtins(ctx),
        dedupe_key=dedupe_key,
        actor=actor.label,
        message_sha256=message_sha256(message) if message is not None else None,
    )


def outbox_row(letter: Letter, channel: str, to: str, subject: str, body: str) -> OutboxMessage:
    """A letter's electronic message waiting for its gateway; one per letter and channel."""
    assert letter.id is not None
    return OutboxMessage(
        letter_id=letter.id,
        channel=channel,
        recipient=to,
        subject=subject,
        body=body,
        status=OutboxStatus.pending,
        dedupe_key=f"{letter.letter_no}:{channel}",
    )
