"""A letter's text as the compliance check reads it: the visible text of an HTML letter, the text of a
PDF through poppler's ``pdftotext``, a template without its Jinja tags, a file or stdin in UTF-8 or
GB18030 (feesvc.letters.compliance checks what these return)."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import TextIO

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"


class LetterCheckError(Exception):
    """A letter could not be read (unreadable file, PDF text extraction failed)."""


_BLOCK_TAGS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure"),
        *("footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"),
        *("section", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul"),
    )
)
_HIDDEN_TAGS = frozenset({"style", "script", "template", "noscript"})


class _TextExtractor(HTMLParser):
    """Visible text of an HTML letter: block elements become line breaks, <style>/<script> are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            # Line breaks inside an element's source are only layout, as in a browser.
            self._parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        return "".join(self._parts)


def html_to_text(html: str) -> str:
    """The visible text of an HTML letter, one line per block element."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()


_SENTENCE_END = tuple("。！？；!?;.：:")


def _unwrap_layout(text: str) -> str:
    """Join the lines a PDF wrapped inside a paragraph, so a term split by a line break is still found.

    Blank lines (and lines ending a sentence) stay breaks; Chinese joins without a space.
    """
    paragraphs: list[str] = []
    current = ""
    for raw in text.replace("\f", "\n").split("\n"):
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif not current or current.endswith(_SENTENCE_END):
            if current:
                paragraphs.append(current)
            current = line
        else:
            joiner = "" if re.match(rf"[{_CJK}]", current[-1]) and re.match(rf"[{_CJK}]", line[0]) else " "
            current = current + joiner + line
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def pdf_to_text(path: str | Path) -> str:
    """The text of a PDF letter through poppler's ``pdftotext -layout``."""
    try:
        result = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=False, timeout=60)
    except FileNotFoundError as error:
        raise LetterCheckError("pdftotext not found: install poppler-utils") from error
    except subprocess.TimeoutExpired as error:
        raise LetterCheckError(f"pdftotext timed out on {path}") from error
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise LetterCheckError(f"pdftotext failed on {path}: {detail}")
    return _unwrap_layout(result.stdout.decode("utf-8", "replace"))


_JINJA_TAG_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
LOOKS_LIKE_HTML_RE = re.compile(r"<!doctype\s+html|</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>", re.IGNORECASE)
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".j2", ".jinja", ".jinja2"})


def strip_template_tags(text: str) -> str:
    """Remove Jinja ``{{ … }}``, ``{% … %}`` and ``{# … #}`` so a template's own wording can be checked."""
    return _JINJA_TAG_RE.sub(" ", text)


def decode_letter(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) first; older Chinese files are often GB18030/GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LetterCheckError(f"{name}: not UTF-8 or GB18030 text")


def read_stdin(stream: TextIO) -> str:
    """Stdin as bytes when possible, so a GB18030 letter piped in decodes like a file does."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return stream.read()
    data: bytes = buffer.read()
    return decode_letter(data, "stdin")
