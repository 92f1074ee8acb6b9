"""The evidence pack (证据包) of a property-fee case (物业服务合同纠纷) for one owner's periods of a
unit, as a ZIP (a sold unit has a pack per owner: see ``collect``).

DOMAIN.md "Legal follow-up: the evidence pack", "Limitation period", "Late fees". The pack holds:

===========================  ===================================================================
``01_evidence_list.pdf``     证据清单: numbered items, each with its source, what it proves and its
                             pages in the other files (证据规定 §19)
``02_parties_and_basis.pdf`` the company; the owner in full (name, ID number, phone, address: the
                             only place personal data is shown whole); unit, ownership periods;
                             the contract and the fee standards with their posting dates
``03_arrears.pdf``           per period: area × rate × months, paid, open; the late fee per charge
                             at the contract rate and the court-likely figure side by side
``04_demands.pdf``           every letter of the unit with its delivery; ``demands/letters.pdf``
                             the letters rendered again as issued; ``demands/proofs/`` the stored
                             delivery proofs, checked against their SHA-256 while copied
``05_service_record.pdf``    the estate's service activity in the claimed months, the unit's
                             complaints with their handling steps and the owner's inspection
``06_limitation.pdf``        the three-year clock per period; expired periods in a table apart
``07_plans_and_case.pdf``    installment plans and what became of them; the case's classifications
                             and overrides
``filing.json``              the fields of the complaint form (起诉状) and, when the debt qualifies,
                             a payment-order (支付令) application; what the record lacks, to be
                             supplied
``ledger_snapshot.json``     the unit's ledger entries up to the pack date, canonical JSON
``manifest.json``            every other file with SHA-256 and size (see ``manifest.py``)
===========================  ===================================================================

Decisions:

* **Late fees are recomputed** as of the pack date from the ledger with ``late_fee_for`` and
  ``court_likely_fee`` (the same inputs as the accrual run: the charge's due date, every change of
  its unpaid principal, the estate's grace days and cap, the standard's rate, plan freezes). What
  the ledger already posted is printed beside it. What is claimed is the recomputed figure less
  what was paid or waived on the charge's late fees (a waiver is a release, 民法典 575).
* **Claimed charges**: overdue on the pack date (due date before it) with principal or a posted
  late fee still open.
* **Part payments** (an interruption, 诉讼时效规定 §14) are read from the ledger: every payment,
  not voided, that settled part of a claimed period's charge or late fee; since something of the
  period is still claimed, each of them was a partial performance of that period's debt.
* **Expired periods** stay in the claim (the court does not raise limitation itself, 民法典 193),
  flagged, with totals with and without them; 06 lists them in a table of their own.
* The documents are in Simplified Chinese whatever the estate's locale: they go to a mainland court.

Where each part lives (this module reads, analyses and assembles; each document has its own):

=======================  ======================================================================
``collect``              what is read from the database (``PackData``) and which charges are claimed
``arrears``              the claim per charge and period: arrears and late-fee calculation (03)
``parties``              the parties and the fee basis (02)
``demands``              the demands, their delivery and the copied proofs (04)
``service_record``       service activity and complaints (05)
``limitation_table``     the limitation clock per claimed period as a table (06); the clock itself
                         is ``limitation``
``plans_and_case``       installment plans and the arrears case (07)
``evidence_list``        the numbered evidence list (01)
``facts``, ``statements`` the recorded facts the sentences rest on, and the sentences chosen from
                         them, each citing where the pack shows its fact; what is to be supplied
``filing``               ``filing.json``: the complaint form and the payment order
``document``, ``words``  file names, the derived ``Pack``, rendering; the Chinese words
=======================  ======================================================================
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import BUSINESS_TZ, business_today, utcnow
from feesvc.errors import InvalidInput
from feesvc.evidence import manifest as mf
from feesvc.evidence.arrears import analyse, arrears_context
from feesvc.evidence.collect import PackData, collect
from feesvc.evidence.demands import copy_proofs, demand_rows, demands_context, read_stored
from feesvc.evidence.document import (
    F_ARREARS,
    F_DEMANDS,
    F_FILING,
    F_LETTERS,
    F_LIMITATION,
    F_LIST,
    F_PARTIES,
    F_PLANS,
    F_SERVICE,
    EvidenceError,
    Pack,
    Rendered,
    render_document,
    render_letters,
)
from feesvc.evidence.evidence_list import list_context
from feesvc.evidence.facts import facts_of
from feesvc.evidence.filing import filing
from feesvc.evidence.limitation_table import limitation_context
from feesvc.evidence.parties import parties_context
from feesvc.evidence.plans_and_case import plans_context
from feesvc.evidence.service_record import service_context
from feesvc.evidence.words import PACK_LOCALE
from feesvc.files import EVIDENCE_AREA, FileStore, StoredFile, session_store
from feesvc.letters.runs import context_of
from feesvc.memory import cyclic_gc_paused

__all__ = [
    "PACK_LOCALE",
    "EvidenceError",
    "PackData",
    "assemble_pack",
    "build_evidence_pack",
    "collect",
    "keep_evidence_pack",
    "pack_filename",
]


def _generator() -> str:
    try:
        return f"feesvc {version('feesvc')} evidence pack"
    except PackageNotFoundError:
        return "feesvc evidence pack"


GENERATOR: Final = _generator()
ZIP: Final = "application/zip"


def pack_filename(unit_id: int, as_of: date) -> str:
    return f"evidence-unit-{unit_id}-{as_of.isoformat()}.zip"


class Timings:
    """Seconds per stage of a build, wall clock and this process's CPU time, for the benchmark."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - started
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


def assemble_pack(data: PackData, generated_by: str, generated_at: datetime, timings: Timings | None = None) -> bytes:
    """Render every document and write the ZIP (synchronous and CPU-bound: run it off the event loop)."""
    with cyclic_gc_paused():
        return _assemble(data, generated_by, generated_at, timings or Timings())


def _assemble(data: PackData, generated_by: str, generated_at: datetime, timer: Timings) -> bytes:
    with timer.stage("analyse"):
        pack = Pack(data, analyse(data), generated_at, generated_by)
        pack.letters = [(letter, context_of(letter)) for letter in data.letters]
    files: dict[str, bytes] = {}
    rendered: dict[str, Rendered] = {}
    with timer.stage("proofs"):
        files.update(copy_proofs(pack))
    facts = pack.facts = facts_of(pack)
    ranges: list[tuple[int, int]] = []
    if pack.letters:
        with timer.stage(F_LETTERS):
            files[F_LETTERS], ranges = render_letters(pack.letters, data.copies)
    demands = demand_rows(pack, ranges)
    documents: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        (F_PARTIES, "evidence_parties.html", lambda: parties_context(pack)),
        (F_ARREARS, "evidence_arrears.html", lambda: arrears_context(pack)),
        (F_DEMANDS, "evidence_demands.html", lambda: demands_context(pack, ranges)),
        (F_SERVICE, "evidence_service.html", lambda: service_context(pack)),
        (F_LIMITATION, "evidence_limitation.html", lambda: limitation_context(pack)),
        (F_PLANS, "evidence_plans.html", lambda: plans_context(pack)),
    ]
    for file, template, context in documents:
        with timer.stage(file):
            rendered[file] = render_document(template, context())
            files[file] = rendered[file].pdf
    with timer.stage(F_LIST):
        rendered[F_LIST] = render_document("evidence_list.html", list_context(pack, facts, rendered))
        files[F_LIST] = rendered[F_LIST].pdf
    with timer.stage("zip"):
        files[F_FILING] = json.dumps(filing(pack, facts, demands), ensure_ascii=False, indent=2).encode()
        snapshot = mf.ledger_snapshot({name: getattr(e, name) for name in mf.LEDGER_FIELDS} for e in data.entries)
        files[mf.LEDGER_SNAPSHOT] = snapshot
        manifest = mf.build_manifest(
            files,
            generated_at=generated_at.isoformat(),
            generator=GENERATOR,
            generated_by=generated_by,
            unit_id=data.unit.id or 0,
            as_of=data.as_of,
            ledger_sha256=mf.sha256(snapshot),
            ledger_entries=len(data.entries),
            owner_id=data.owner_id,
        )
        files[mf.MANIFEST] = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
        stamp = generated_at.astimezone(BUSINESS_TZ).timetuple()[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in _zip_order(files):
                info = zipfile.ZipInfo(name, date_time=stamp)
                # PDFs, JPEGs and PNGs are compressed already: stored, the JSON files deflated.
                info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                archive.writestr(info, files[name])
    return buffer.getvalue()


def _zip_order(files: Mapping[str, bytes]) -> list[str]:
    """The evidence list first, then the documents in order, the demands' files, the JSON files."""
    return sorted(files, key=lambda name: (name.endswith(".json"), name))


async def build_evidence_pack(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    generated_by: Principal,
    timings: Timings | None = None,
    owner_id: int | None = None,
    files: FileStore | None = None,
) -> bytes:
    """The evidence pack of one owner's periods of the unit as of ``as_of``, as ZIP bytes; the
    build is audit-logged. ``owner_id`` names the defendant; without it, the only owner with arrears.

    Raises ``NotFound`` for an unknown unit, ``Conflict`` when the unit (or the owner) has no arrears
    on ``as_of`` or several owners have arrears and none is named, and ``EvidenceError`` when a
    stored letter or delivery proof (read from ``files``, default the settings' store) is missing
    or no longer matches its recorded hash.
    """
    files = files if files is not None else session_store(session)
    zipped, owner = await _build(session, unit_id, as_of, owner_id, generated_by, files, timings or Timings())
    await _audit(session, generated_by, unit_id, as_of, owner, zipped, None)
    return zipped


async def keep_evidence_pack(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    generated_by: Principal,
    files: FileStore,
    owner_id: int | None = None,
) -> StoredFile:
    """``build_evidence_pack``, the pack kept in the file store as given out (never deleted: the
    audit record names it) and handed out from there."""
    zipped, owner = await _build(session, unit_id, as_of, owner_id, generated_by, files, Timings())
    kept = await files.put(EVIDENCE_AREA, zipped, ZIP)
    await _audit(session, generated_by, unit_id, as_of, owner, zipped, kept.ref)
    return kept


async def _build(
    session: AsyncSession,
    unit_id: int,
    as_of: date,
    owner_id: int | None,
    generated_by: Principal,
    files: FileStore,
    timer: Timings,
) -> tuple[bytes, int | None]:
    if as_of > business_today():
        raise InvalidInput("an evidence pack cannot be dated in the future", field="as_of")
    with timer.stage("queries"):
        data = await collect(session, unit_id, as_of, owner_id)
    with timer.stage("stored files"):
        await read_stored(session, files, data)
    generated_at = utcnow()
    zipped = await asyncio.to_thread(assemble_pack, data, generated_by.label, generated_at, timer)
    return zipped, data.owner_id


async def _audit(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    as_of: date,
    owner_id: int | None,
    zipped: bytes,
    ref: str | None,
) -> None:
    details: dict[str, Any] = {"as_of": as_of.isoformat(), "owner_id": owner_id}
    details |= {"sha256": mf.sha256(zipped), "size": len(zipped)} | ({"ref": ref} if ref else {})
    await record_audit(session, actor, "evidence_pack.build", "unit", unit_id, details)
    await session.commit()
