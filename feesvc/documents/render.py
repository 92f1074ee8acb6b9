"""Render the templates in the repository's ``letters/`` directory to HTML and PDF.

One Jinja2 environment and one WeasyPrint font configuration serve the whole process. WeasyPrint
(and its Pango/HarfBuzz bindings) takes a good fraction of a second to import, so it is imported
inside the PDF functions: the API and the command line start without it.

Templates receive plain data (no ORM objects) plus ``locale`` (one of
``feesvc.formatting.SUPPORTED_LOCALES``) and ``lang`` (its BCP 47 tag for ``<html lang>``, which
``base.css`` uses to pick Simplified or Traditional glyphs). Filters:

* ``fen|money(locale)``        → "¥1,234.56" (zh_CN) / "CN¥1,234.56"
* ``fen|capitals(locale)``     → "壹仟贰佰叁拾肆元伍角陆分" (traditional digits for zh_TW/zh_HK)
* ``day|date_long(locale)``    → "2026年11月22日"
* ``"2026-11"|period_label(locale)`` → "2026年11月"
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import feesvc
from feesvc import formatting
from feesvc.memory import cyclic_gc_paused

if TYPE_CHECKING:
    from weasyprint import CSS, Document
    from weasyprint.text.fonts import FontConfiguration

__all__ = [
    "CHUNK_DOCUMENTS",
    "LETTERS_DIR",
    "environment",
    "html_lang",
    "render_html",
    "render_pdf",
    "render_pdf_pages",
    "write_pdf_many",
]

LETTERS_DIR: Final = Path(feesvc.__file__).resolve().parents[1] / "letters"

DEFAULT_LOCALE: Final = "zh_CN"

_LANG_TAGS: Final[dict[str, str]] = {"zh_CN": "zh-CN", "zh_TW": "zh-TW", "zh_HK": "zh-HK", "en": "en"}
_TRADITIONAL: Final = frozenset({"zh_TW", "zh_HK"})


# ---------------------------------------------------------------------------
# Filters: thin wrappers, so templates never format money or dates themselves
# ---------------------------------------------------------------------------


def _money(fen: int, locale: str, style: str | None = None) -> str:
    return formatting.money(fen, locale, style)


def _capitals(fen: int, locale: str = DEFAULT_LOCALE) -> str:
    traditional = formatting.normalize_locale(locale) in _TRADITIONAL
    return formatting.amount_in_chinese_capitals(fen, traditional=traditional)


def _date_long(d: date, locale: str) -> str:
    return formatting.date_long(d, locale)


def _period_label(period: str, locale: str) -> str:
    return formatting.period_label(period, locale)


def html_lang(locale: str) -> str:
    """BCP 47 tag for ``<html lang>``: "zh_TW" → "zh-TW"."""
    return _LANG_TAGS[formatting.normalize_locale(locale)]


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment over ``letters/``, built once per process."""
    env = Environment(
        loader=FileSystemLoader(LETTERS_DIR),
        autoescape=select_autoescape(["html", "htm", "xml"]),
        # A misspelt variable must fail loudly, never print an empty amount.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; no stat() per render
    )
    env.filters.update(
        money=_money,
        capitals=_capitals,
        date_long=_date_long,
        period_label=_period_label,
    )
    return env


def _render(template: str, context: Mapping[str, Any], *, link_base_css: bool) -> str:
    locale = formatting.normalize_locale(context.get("locale", DEFAULT_LOCALE))
    full = {**context, "locale": locale, "lang": html_lang(locale), "link_base_css": link_base_css}
    return environment().get_template(template).render(full)


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """Render ``letters/<template>`` with ``context`` (``locale`` defaults to zh_CN).

    The page links ``base.css``, so it previews in a browser opened on ``letters/``.
    """
    return _render(template, context, link_base_css=True)


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------


# Pango and fontconfig are not documented as thread-safe and every render shares one font
# configuration, so renders run one at a time; callers may still use worker threads.
_RENDER_LOCK: Final = threading.Lock()


@lru_cache(maxsize=1)
def _font_config() -> FontConfiguration:
    # One FontConfiguration per process: fontconfig and Pango font maps are costly to rebuild.
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _stylesheet(name: str) -> CSS:
    # Parsed once per process instead of once per document (base.css alone was about a fifth of a
    # 50-letter run). Given to WeasyPrint as user stylesheets, so each template's own <style>
    # overrides them.
    from weasyprint import CSS

    return CSS(filename=str(LETTERS_DIR / name), font_config=_font_config())


def _document(template: str, context: Mapping[str, Any], stylesheets: Sequence[str] = ()) -> Document:
    """Lay out one document; ``stylesheets`` are further files in ``letters/``, applied after base.css."""
    from weasyprint import HTML

    html = _render(template, context, link_base_css=False)
    with _RENDER_LOCK:
        # base_url resolves images and other files relative to letters/.
        page = HTML(string=html, base_url=str(LETTERS_DIR))
        sheets = [_stylesheet(name) for name in ("base.css", *stylesheets)]
        return page.render(font_config=_font_config(), stylesheets=sheets)


def _write(document: Document) -> bytes:
    with _RENDER_LOCK:
        pdf = document.write_pdf()
    assert pdf is not None  # write_pdf returns bytes when no target is given
    return pdf


def render_pdf(template: str, context: Mapping[str, Any], stylesheets: Sequence[str] = ()) -> bytes:
    """Render ``letters/<template>`` to PDF bytes."""
    return _write(_document(template, context, stylesheets))


#: One document of a combined PDF: its template in ``letters/`` and its context.
Page: TypeAlias = tuple[str, Mapping[str, Any]]

#: Documents per chunk of a combined PDF. A chunk's documents stay in memory until it is written
#: (~1 MiB a letter) and each chunk embeds its own font subsets (~0.6 MiB a chunk), so 100 keeps a
#: worker under ~450 MiB and the file at most about twice the size of one written in one piece.
CHUNK_DOCUMENTS: Final = 100

#: Documents laid out between collections while the collector is paused: its garbage (~0.6 MiB a
#: letter) would otherwise add a third to a worker's peak (100 letters: 375 → 304 MiB, 7 % more CPU).
COLLECT_EVERY: Final = 25


def write_pdf_many(
    pages: Iterable[Page],
    target: Path,
    stylesheets: Sequence[str] = (),
    *,
    chunk_size: int = CHUNK_DOCUMENTS,
    workers: int | None = None,
) -> None:
    """Render several documents, in order, into one PDF file (e.g. a run's combined print file).

    Each document is laid out on its own, so page counters and named pages stay per document. They
    are rendered in chunks, each written as one PDF (so fonts are subset once per chunk, not per
    document). More than one chunk go to a pool of processes, one per CPU, and are joined with
    poppler's ``pdfunite``: memory stays bounded whatever the number of documents, and every core
    works. ``pages`` is consumed as chunks are handed out, so a generator keeps the caller's memory
    small too. The file appears complete or not at all.
    """
    chunks = _chunks(pages, chunk_size)
    first = next(chunks, None)
    if first is None:
        raise ValueError("write_pdf_many needs at least one document")
    second = next(chunks, None)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        directory = Path(tmp)
        joined = directory / "joined.pdf"
        if second is None:
            # One chunk: a pool would only add the workers' start-up (WeasyPrint's import and fonts).
            joined.write_bytes(_render_chunk(first, stylesheets))
        else:
            parts = _render_parts(itertools.chain((first, second), chunks), directory, stylesheets, workers)
            subprocess.run(["pdfunite", *map(str, parts), str(joined)], check=True, capture_output=True)
        os.replace(joined, target)


def _chunks(pages: Iterable[Page], size: int) -> Iterator[list[Page]]:
    if size < 1:
        raise ValueError("a chunk holds at least one document")
    iterator = iter(pages)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _render_chunk(pages: Sequence[Page], stylesheets: Sequence[str]) -> bytes:
    """The chunk's documents laid out one by one and written together as one PDF."""
    return render_pdf_pages(pages, stylesheets)[0]


def render_pdf_pages(pages: Sequence[Page], stylesheets: Sequence[str] = ()) -> tuple[bytes, list[int]]:
    """Several documents laid out one by one and written together as one PDF (fonts embedded once),
    with each document's number of pages, in order (a run's letters are stored so, a chunk at a time)."""
    documents: list[Document] = []
    with cyclic_gc_paused():
        for template, context in pages:
            documents.append(_document(template, context, stylesheets))
            if len(documents) % COLLECT_EVERY == 0:
                gc.collect()
        counts = [len(document.pages) for document in documents]
        pdf = _write(documents[0].copy([page for document in documents for page in document.pages]))
    del documents
    gc.collect()  # the cycles the pause left, before the next chunk adds its own
    return pdf, counts


def _write_chunk(pages: Sequence[Page], stylesheets: Sequence[str], path: Path) -> None:
    path.write_bytes(_render_chunk(pages, stylesheets))


def _render_parts(
    chunks: Iterable[list[Page]],
    directory: Path,
    stylesheets: Sequence[str],
    workers: int | None,
) -> list[Path]:
    """Each chunk rendered to its own file in ``directory`` by a pool of processes; the files in order."""
    workers = workers or len(os.sched_getaffinity(0))
    parts: list[Path] = []
    pending: deque[Future[None]] = deque()
    # Spawned, never forked: the caller may hold database connections, an event loop and threads.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            for index, chunk in enumerate(chunks):
                part = directory / f"{index:06d}.pdf"
                pending.append(pool.submit(_write_chunk, chunk, tuple(stylesheets), part))
                parts.append(part)
                # A couple of chunks queued per worker, not the whole file: the parent holds no more.
                while len(pending) > 2 * workers:
                    pending.popleft().result()
            for future in pending:
                future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return parts
