"""Issuing one letter outside a reminder run (a plan agreement, a rectification reply, a payment
notice): the same checks and records as a run's letter, in the caller's transaction.

The letter is built as every letter is (``LetterContext``), checked by the compliance check,
numbered by the estate, rendered once and kept as issued (``feesvc.letters.issued``), recorded as a
``Letter`` with its context and, for an owner who prefers SMS, WeChat or e-mail, its electronic
message is queued in the outbox with the hash of its exact text. A letter the rules refuse is not
issued: the problems are returned for the caller to report (the act that asked for it goes on).
One letter per ``dedupe_key``: a retried act issues nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from feesvc.auth.principal import Principal
from feesvc.files import FileStore, session_store
from feesvc.letters.compliance import check_html, check_text
from feesvc.letters.content import LetterContext, email_subject, render_letter_html, short_message
from feesvc.letters.issued import allocate_numbers, record_copy, render_and_store
from feesvc.letters.models import Letter
from feesvc.letters.recipients import reach, recipient, unreachable
from feesvc.letters.rows import letter_row, outbox_row
from feesvc.registry.models import Estate, Owner


@dataclass(frozen=True)
class Issued:
    letter_id: int | None
    problems: list[str]


async def issue_letter(
    session: AsyncSession,
    actor: Principal,
    estate: Estate,
    unit_id: int,
    owner: Owner,
    former: bool,
    ctx: LetterContext,
    dedupe_key: str,
    files: FileStore | None = None,
) -> Issued:
    """Issue ``ctx`` to ``owner`` (``former``: their ownership of the unit has ended, so never at the
    unit), unless a letter of ``dedupe_key`` exists already (then that one is answered). Its number
    is the estate's next; ``files``: where the issued bytes are kept (default: the settings' store)."""
    assert estate.id is not None
    existing = (await session.execute(select(Letter.id).where(Letter.dedupe_key == dedupe_key))).scalar_one_or_none()
    if existing is not None:
        return Issued(existing, [])
    how = reach(ctx.kind, owner, former)
    if how is None:
        return Issued(None, [unreachable(ctx.kind, owner)])
    try:
        text = short_message(ctx) if how.electronic else ""
        problems = [f"{v.family}: {v.sentence}" for v in check_html(render_letter_html(ctx))]
        problems += [f"{v.family}: {v.sentence}" for v in (check_text(text) if text else [])]
    except ValueError as error:  # the letter's own rules (feesvc.letters.content) refused it
        return Issued(None, [f"cannot be written: {error}"])
    if problems:
        return Issued(None, problems)
    [number] = await allocate_numbers(session, estate.id, estate.code, ctx.issued_on.year, 1)
    ctx = replace(ctx, letter_no=number)
    [copy] = await render_and_store(files if files is not None else session_store(session), [ctx])
    letter = letter_row(
        estate.id,
        unit_id,
        owner.id,
        ctx,
        channel=how.channel,
        dedupe_key=dedupe_key,
        actor=actor,
        message=text if how.electronic else None,
    )
    record_copy(letter, copy)
    session.add(letter)
    await session.flush()
    if how.electronic is not None:
        session.add(outbox_row(letter, how.electronic, recipient(owner, how.electronic), email_subject(ctx), text))
    return Issued(letter.id, [])
