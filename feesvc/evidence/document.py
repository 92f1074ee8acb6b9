"""What every document of the pack shares: the file names, the derived ``Pack`` the contexts read,
and rendering (pages and where each evidence section starts).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pypdf import PdfReader, PdfWriter

from feesvc.documents import render
from feesvc.errors import Conflict
from feesvc.evidence.words import PACK_LOCALE, moment_text
from feesvc.letters.content import LetterContext, render_letter_pdf
from feesvc.letters.issued import stamped_later
from feesvc.letters.models import Letter
from feesvc.registry.models import Owner

if TYPE_CHECKING:
    from weasyprint import Document

    from feesvc.evidence.arrears import ClaimSummary
    from feesvc.evidence.collect import PackData
    from feesvc.evidence.facts import Facts


F_LIST = "01_evidence_list.pdf"
F_PARTIES = "02_parties_and_basis.pdf"
F_ARREARS = "03_arrears.pdf"
F_DEMANDS = "04_demands.pdf"
F_LETTERS = "demands/letters.pdf"
F_SERVICE = "05_service_record.pdf"
F_LIMITATION = "06_limitation.pdf"
F_PLANS = "07_plans_and_case.pdf"
F_FILING = "filing.json"


class EvidenceError(Conflict):
    """The pack cannot be built from what is recorded (e.g. a proof file does not match its hash)."""

    title = "The evidence pack cannot be built"


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    sections: dict[str, tuple[int, int]]  # section key → (first page, last page)


def sections_of(document: Document) -> dict[str, tuple[int, int]]:
    """Pages of the sections marked ``id="ev-<key>"``; each evidence section starts a new page."""
    firsts: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor.startswith("ev-"):
                firsts.setdefault(anchor[3:], number)
    ordered = sorted(firsts.items(), key=lambda kv: kv[1])
    spans = {}
    for index, (key, first) in enumerate(ordered):
        following = ordered[index + 1][1] if index + 1 < len(ordered) else len(document.pages) + 1
        spans[key] = (first, max(first, following - 1))
    return spans


def render_document(template: str, context: Mapping[str, Any]) -> Rendered:
    # The shared renderer's document step, so the pages (and where each section starts) are known.
    document = render._document(template, context)
    return Rendered(render._write(document), len(document.pages), sections_of(document))


def render_letters(
    letters: Sequence[tuple[Letter, LetterContext]], copies: Mapping[int, bytes]
) -> tuple[bytes, list[tuple[int, int]]]:
    """The letters as issued in one PDF, and each letter's page range in it: each letter's pages are
    its stored PDF's (``copies``, read back and checked against the hash kept at issue,
    ``Letter.document_sha256``), never rendered again. A letter issued before letters were kept has
    no stored PDF: it is rendered from its stored context, and its pages are stamped as a later
    rendering, not the original."""
    writer = PdfWriter()
    ranges, first = [], 1
    for letter, ctx in letters:
        issued = copies.get(letter.id or 0) or stamped_later(render_letter_pdf(ctx))
        copy = PdfReader(io.BytesIO(issued))
        for page in copy.pages:
            writer.add_page(page)
        ranges.append((first, first + len(copy.pages) - 1))
        first += len(copy.pages)
    # Letters of one run chunk carry the same embedded fonts: kept once in the pack's file.
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), ranges


@dataclass
class Pack:
    """Everything the documents and filing.json say, derived once."""

    data: PackData
    claim: ClaimSummary
    generated_at: datetime
    generated_by: str
    letters: list[tuple[Letter, LetterContext]] = field(default_factory=list)
    proofs: dict[int, str] = field(default_factory=dict)  # delivery record id → path in the pack
    facts: Facts | None = None  # what the sentences rest on (facts.facts_of), once the proofs are copied

    @property
    def unit_label(self) -> str:
        return f"{self.data.building.name} {self.data.unit.number}"

    def owner(self, owner_id: int | None) -> Owner | None:
        return self.data.owners.get(owner_id) if owner_id is not None else None

    def holds_unit(self, owner_id: int | None) -> bool:
        """Whether the owner still owns the unit on the pack date."""
        as_of = self.data.as_of
        return any(
            owner.id == owner_id and o.starts_on <= as_of and (o.ends_on is None or o.ends_on >= as_of)
            for o, owner in self.data.ownerships
        )

    @property
    def unit_address(self) -> str:
        estate = self.data.estate
        return f"{estate.address or ''}{estate.name} {self.unit_label}".strip()

    def service_address(self, owner_id: int | None) -> str | None:
        """Where the defendant is served (送达地址): the owner's contact address; for the current owner
        without one, the unit the owner holds. A former owner no longer lives in the sold unit, so
        it is never given as theirs: without a contact address there is none (to be supplied)."""
        owner = self.owner(owner_id)
        if owner is None:
            return None
        if owner.postal_address.strip():
            return owner.postal_address.strip()
        return self.unit_address if self.holds_unit(owner_id) else None

    def ownership_end(self, owner_id: int | None) -> date | None:
        """The last day of the owner's (latest) ownership when it has ended by the pack date."""
        ends = [o.ends_on for o, owner in self.data.ownerships if owner.id == owner_id]
        if not ends or any(end is None for end in ends) or self.holds_unit(owner_id):
            return None
        return max(end for end in ends if end is not None)

    @property
    def defendant_names(self) -> str:
        names = [o.name for o in (self.owner(i) for i in self.claim.defendants) if o is not None]
        return "、".join(names) or "—"

    def base(self, file: str, title: str) -> dict[str, Any]:
        estate = self.data.estate
        return {
            "locale": PACK_LOCALE,
            "doc_title": title,
            "file": file,
            "pack": {
                "company": estate.company_name,
                "estate": estate.name,
                "unit_label": self.unit_label,
                "as_of": self.data.as_of,
                "generated_at": moment_text(self.generated_at),
                "caption": f"{estate.company_name} 诉 {self.defendant_names} 物业服务合同纠纷",
            },
        }
