"""The second held-out set (tests/corpus/*_heldout2.jsonl) is well-formed, sized and balanced.

These files are only ever scored (the lead wires them into the judgement test); this test checks
their structure and never runs the classifier or the compliance check on them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"


def _load(name: str, file: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CORPUS / file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


h2 = _load("corpus_heldout2", "heldout2.py")
split = h2._split  # the very module whose Invalid the validator raises


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_line_parses_to_an_object() -> None:
    for path in (h2.ARREARS, h2.COMPLIANCE):
        for n, line in enumerate(_lines(path), 1):
            assert isinstance(json.loads(line), dict), f"{path.name}:{n}"


def test_items_are_valid_and_numbers_consistent() -> None:
    cases, sentences = h2.load()  # raises Invalid naming the item
    assert all(c["id"].startswith("h2-c") for c in cases)
    assert all(s["id"].startswith("h2-s") for s in sentences)


def test_ids_unique_and_texts_new_against_the_older_corpus() -> None:
    cases, sentences = h2.load()
    ids = [x["id"] for x in cases + sentences]
    assert len(ids) == len(set(ids))
    h2.check_collisions(cases, sentences)


def test_sizes_mix_and_every_locale_in_every_class() -> None:
    cases, sentences = h2.load()
    assert len(cases) >= 130 and len(sentences) >= 200
    by_cat = Counter(c["expected"]["category"] for c in cases)
    assert set(by_cat) == split.CATEGORIES
    for cat in ("hardship", "service_dissatisfaction", "misunderstanding"):
        assert 0.25 <= by_cat[cat] / len(cases) <= 0.35, cat
    assert 0.07 <= by_cat["unknown"] / len(cases) <= 0.13
    forbidden = sum(s["forbidden"] for s in sentences)
    assert 0.50 <= forbidden / len(sentences) <= 0.60
    assert {s["family"] for s in sentences if s["forbidden"]} == split.FAMILIES
    for items, label in (
        (cases, lambda x: x["expected"]["category"]),
        (sentences, lambda x: x["family"] or "lawful"),
    ):
        locales = Counter(x["locale"] for x in items)
        assert 0.45 <= locales["zh_CN"] / len(items) <= 0.55
        assert locales["zh_TW"] >= 0.2 * len(items) and locales["en"] >= 0.2 * len(items)
        pairs = {(label(x), x["locale"]) for x in items}
        assert pairs == {(lab, loc) for lab in {label(x) for x in items} for loc in split.LOCALES}


def test_secondary_causes_and_vacancy_are_exercised() -> None:
    cases, _ = h2.load()
    assert {c["expected"]["secondary"] for c in cases} >= {
        None,
        "hardship",
        "service_dissatisfaction",
        "misunderstanding",
    }
    assert any(c["unit"]["vacant"] and c["expected"]["category"] != "misunderstanding" for c in cases)
    assert any(not c["notes"] for c in cases) and any(len(c["notes"]) >= 2 for c in cases)
    assert any("payment_history" not in c for c in cases)


# The validator must refuse what it is there to refuse.


def _a_case_with_history() -> dict:
    cases, _ = h2.load()
    unpaid = [c for c in cases if sum(h["paid_on"] is None for h in c.get("payment_history", [])) >= 2]
    return copy.deepcopy(unpaid[0])


def test_validator_refuses_an_amount_that_is_not_months_times_fee() -> None:
    case = _a_case_with_history()
    fee = next(h["amount_fen"] for h in case["payment_history"] if h["paid_on"] is None)
    case["arrears"]["amount_fen"] += fee
    with pytest.raises(split.Invalid, match="amount_fen"):
        h2.check_numbers(case)


def test_validator_refuses_gaps_in_the_unpaid_periods() -> None:
    case = _a_case_with_history()
    unpaid = [h for h in case["payment_history"] if h["paid_on"] is None]
    case["payment_history"].remove(unpaid[1])
    with pytest.raises(split.Invalid, match="consecutive"):
        h2.check_numbers(case)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "c0001"}, "id must match"),
        ({"locale": "zh_HK"}, "locale"),
        ({"expected": {"category": "broke", "secondary": None}}, "expected"),
    ],
)
def test_validator_refuses_bad_case_fields(change: dict, message: str) -> None:
    case = _a_case_with_history() | change
    with pytest.raises(split.Invalid, match=message):
        split.validate_case(case, h2.CASE_ID)


def test_validator_refuses_a_lawful_sentence_with_a_family_and_a_colliding_id() -> None:
    _, sentences = h2.load()
    lawful = copy.deepcopy(next(s for s in sentences if not s["forbidden"]))
    with pytest.raises(split.Invalid, match="family"):
        split.validate_sentence(lawful | {"family": "coercion"}, h2.SENTENCE_ID)
    older = [{"id": lawful["id"], "text": "an older sentence"}]
    with pytest.raises(split.Invalid, match="collides"):
        h2.check_collisions([], [lawful], older)
    with pytest.raises(split.Invalid, match="repeated"):
        h2.check_collisions([], [lawful], [{"id": "s9999", "text": lawful["text"]}])
