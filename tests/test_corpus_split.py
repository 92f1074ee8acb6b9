"""The evaluation corpora (tests/corpus) are valid and are exactly their committed, seeded split.

The held-out halves are only ever scored; this test reads them only to check the split itself.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CORPUS = Path(__file__).resolve().parent / "corpus"


def _split_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_split", CORPUS / "split.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_the_seeded_split_of_valid_items() -> None:
    assert _split_module().main(["--check"]) == 0


def test_sizes_and_class_balance() -> None:
    split = _split_module()
    cases = split.read_jsonl(CORPUS / "arrears_dev.jsonl") + split.read_jsonl(CORPUS / "arrears_heldout.jsonl")
    sentences = split.read_jsonl(CORPUS / "compliance_dev.jsonl") + split.read_jsonl(
        CORPUS / "compliance_heldout.jsonl"
    )
    assert len(cases) >= 260 and len(sentences) >= 360
    assert {c["expected"]["category"] for c in cases} == split.CATEGORIES
    assert {s["family"] for s in sentences if s["forbidden"]} == split.FAMILIES
    assert {c["locale"] for c in cases} == {s["locale"] for s in sentences} == split.LOCALES
    # both parts hold every label in every locale, so held-out recall is measurable per class
    for name, label in (("arrears", lambda x: x["expected"]["category"]), ("compliance", lambda x: x["forbidden"])):
        dev = split.read_jsonl(CORPUS / f"{name}_dev.jsonl")
        held = split.read_jsonl(CORPUS / f"{name}_heldout.jsonl")
        assert {(label(x), x["locale"]) for x in dev} == {(label(x), x["locale"]) for x in held}
        assert 0.55 <= len(dev) / (len(dev) + len(held)) <= 0.65
