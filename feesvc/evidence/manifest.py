"""The pack's manifest and its verification. No database: plain bytes, JSON and ZIP files.

``manifest.json`` lists every other file of the pack with its SHA-256 and size, when and by whom
the pack was generated, and the SHA-256 of the ledger snapshot the figures were computed from
(``ledger_snapshot.json``, the canonical JSON of the unit's ledger entries up to the pack date).

:func:`verify_pack` recomputes each file's hash and reports every changed, missing or added file;
``python -m feesvc.evidence.manifest PACK.zip`` (and ``feesvc evidence verify PACK.zip``) print the
report and exit 1 when anything differs. The manifest proves the files are the ones generated; it
is not a signature: someone who rewrites the manifest too is caught only by comparing its hash with
the one kept elsewhere (the audit log records the ZIP's SHA-256 when the pack is built).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

__all__ = [
    "LEDGER_FIELDS",
    "LEDGER_SNAPSHOT",
    "MANIFEST",
    "VerifyResult",
    "build_manifest",
    "canonical_json",
    "ledger_snapshot",
    "main",
    "report_lines",
    "sha256",
    "verify_pack",
]

MANIFEST = "manifest.json"
LEDGER_SNAPSHOT = "ledger_snapshot.json"
FORMAT = "feesvc-evidence-pack/1"

#: The ledger entry fields the snapshot keeps (its hash must not depend on anything else).
LEDGER_FIELDS = (
    "id",
    "kind",
    "amount_fen",
    "effective_date",
    "period",
    "period_months",
    "item",
    "due_date",
    "fee_standard_id",
    "settles_entry_id",
    "reverses_entry_id",
    "basis_entry_id",
    "payment_id",
    "owner_id",
    "reason",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the same data always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain).encode()


def _plain(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # enums (StrEnum) and Decimals as their text


def ledger_snapshot(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Canonical JSON of ledger entries (mappings or objects' fields), sorted by id."""
    ordered = sorted(rows, key=lambda row: int(row["id"]))
    entries = [{name: _snapshot_value(row.get(name)) for name in LEDGER_FIELDS} for row in ordered]
    return canonical_json({"entries": entries})


def _snapshot_value(value: object) -> object:
    if value is None or isinstance(value, bool | int):
        return value
    return _plain(value)  # dates as ISO text; enum members, strings and Decimals as their text


def build_manifest(
    files: Mapping[str, bytes],
    *,
    generated_at: str,
    generator: str,
    generated_by: str,
    unit_id: int,
    as_of: date,
    ledger_sha256: str,
    ledger_entries: int,
    owner_id: int | None = None,
) -> dict[str, Any]:
    if MANIFEST in files:
        raise ValueError("the manifest does not list itself")
    return {
        "format": FORMAT,
        "generated_at": generated_at,
        "generator": generator,
        "generated_by": generated_by,
        "unit_id": unit_id,
        "owner_id": owner_id,  # the defendant: the pack holds this owner's periods only
        "as_of": as_of.isoformat(),
        "ledger_snapshot": {"file": LEDGER_SNAPSHOT, "sha256": ledger_sha256, "entries": ledger_entries},
        "files": [{"path": path, "sha256": sha256(data), "size": len(data)} for path, data in sorted(files.items())],
    }


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the manifest itself: absent, unreadable, inconsistent

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.problems)


def verify_pack(pack: Path | bytes) -> VerifyResult:
    """Recompute every file's SHA-256 and size against ``manifest.json``."""
    result = VerifyResult()
    try:
        archive = zipfile.ZipFile(io.BytesIO(pack) if isinstance(pack, bytes) else pack)
    except (zipfile.BadZipFile, OSError) as error:
        result.problems.append(f"not a readable ZIP file: {error}")
        return result
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        if MANIFEST not in names:
            result.problems.append(f"{MANIFEST} is missing")
            return result
        try:
            manifest = json.loads(archive.read(MANIFEST))
            listed = {str(f["path"]): (str(f["sha256"]), int(f["size"])) for f in manifest["files"]}
        except (KeyError, TypeError, ValueError, zipfile.BadZipFile, zlib.error) as error:
            result.problems.append(f"{MANIFEST} is unreadable: {error}")
            return result
        present = set(names)
        for path, (digest, size) in sorted(listed.items()):
            if path not in present:
                result.missing.append(path)
                continue
            result.checked += 1
            try:
                data = archive.read(path)
            except (zipfile.BadZipFile, zlib.error):
                result.changed.append(path)  # a changed byte fails the ZIP's own CRC check
                continue
            if len(data) != size or sha256(data) != digest:
                result.changed.append(path)
        result.added = sorted(present - set(listed) - {MANIFEST})
        ledger = manifest.get("ledger_snapshot") or {}
        snapshot = listed.get(str(ledger.get("file", LEDGER_SNAPSHOT)))
        if snapshot is None or snapshot[0] != ledger.get("sha256"):
            result.problems.append("the ledger snapshot hash does not match the snapshot file listed")
    return result


def report_lines(result: VerifyResult, name: str = "pack") -> list[str]:
    lines = [f"problem: {p}" for p in result.problems]
    lines += [f"changed: {p}" for p in result.changed]
    lines += [f"missing: {p}" for p in result.missing]
    lines += [f"added: {p}" for p in result.added]
    if result.ok:
        lines.append(f"{name}: OK, {result.checked} files match the manifest")
    else:
        count = len(result.changed) + len(result.missing) + len(result.added) + len(result.problems)
        lines.append(f"{name}: FAILED, {count} difference(s)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m feesvc.evidence.manifest PACK.zip [...]``: 0 when every pack verifies, else 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m feesvc.evidence.manifest PACK.zip [PACK.zip ...]", file=sys.stderr)
        return 2
    failed = False
    for arg in args:
        result = verify_pack(Path(arg))
        for line in report_lines(result, arg):
            print(line)
        failed = failed or not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
