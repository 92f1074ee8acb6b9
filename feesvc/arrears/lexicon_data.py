"""Reading the classifier's data files (``feesvc/arrears/lexicon/*.toml``, shipped as package data)."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from typing import Any

_PACKAGE = "feesvc.arrears.lexicon"


def load(name: str) -> dict[str, Any]:
    """One data file, parsed."""
    return tomllib.loads(resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


def digest() -> str:
    """A digest of every data file: a classification records which rules produced it."""
    sha = hashlib.sha256()
    for item in sorted(resources.files(_PACKAGE).iterdir(), key=lambda entry: entry.name):
        if item.name.endswith(".toml"):
            sha.update(item.name.encode())
            sha.update(item.read_bytes())
    return sha.hexdigest()


def cue_pattern(entries: list[list[str]], name: str) -> str:
    """The alternatives of a ``[pattern, why]`` list joined with "|"; every entry must say why."""
    for entry in entries:
        if len(entry) != 2 or not entry[0] or not entry[1].strip():
            raise ValueError(f"{name}: each entry is [pattern, why], got {entry!r}")
    return "|".join(f"(?:{pattern})" for pattern, _ in entries)
