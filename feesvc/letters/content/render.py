"""Letters rendered: one as HTML or PDF, many into one print file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from feesvc.documents.render import CHUNK_DOCUMENTS, render_html, render_pdf, write_pdf_many
from feesvc.letters.content.model import LETTER_STYLESHEETS, LetterContext
from feesvc.letters.content.phrasing import template_context
from feesvc.letters.kinds import template_for


def render_letter_html(ctx: LetterContext) -> str:
    """The letter as HTML (links ``base.css``: previews in a browser opened on ``letters/``)."""
    return render_html(template_for(ctx.kind), template_context(ctx))


def render_letter_pdf(ctx: LetterContext) -> bytes:
    """The letter as a PDF, fonts embedded."""
    return render_pdf(template_for(ctx.kind), template_context(ctx), LETTER_STYLESHEETS)


def write_letters_pdf(contexts: Iterable[LetterContext], target: Path, *, chunk_size: int = CHUNK_DOCUMENTS) -> None:
    """One combined print file at ``target``, the letters in the given order, each starting on a new
    page (rendered in chunks, on every CPU for a large run: ``feesvc.documents.render.write_pdf_many``)."""
    pages = ((template_for(c.kind), template_context(c)) for c in contexts)
    write_pdf_many(pages, target, LETTER_STYLESHEETS, chunk_size=chunk_size)
