"""The held-out sets (tests/corpus/*_heldout2.jsonl, *_heldout4.jsonl, *_heldout5.jsonl; the third, now
*_dev3.jsonl) are well-formed, sized and balanced.

These files are only ever scored (the lead wires them into the judgement test); this test checks
their structure and never runs the classifier or the compliance check on them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
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


h = _load("corpus_heldout", "heldout.py")
split = h._split  # the very module whose Invalid the validator raises


@dataclass(frozen=True)
class Shape:
    """What a set promised: its minimum sizes and its label mix."""

    min_cases: int
    min_sentences: int
    cause_share: tuple[float, float]  # each of hardship, dissatisfaction, misunderstanding
    unknown_share: tuple[float, float]


SHAPES = {
    2: Shape(130, 200, (0.25, 0.35), (0.07, 0.13)),
    3: Shape(160, 220, (0.22, 0.32), (0.15, 0.25)),
    4: Shape(200, 300, (0.22, 0.32), (0.18, 0.27)),
    5: Shape(200, 300, (0.22, 0.32), (0.15, 0.25)),
}
# the sets whose ids have the development shape (`c4001`…, `c5001`…): split.py reserves their ranges
NUMBERED = pytest.mark.parametrize("number", [4, 5])
SETS = pytest.mark.parametrize("number", sorted(SHAPES))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_set_is_checked() -> None:
    assert set(SHAPES) == set(h.SETS)


@SETS
def test_every_line_parses_to_an_object(number: int) -> None:
    for path in (h.SETS[number].arrears, h.SETS[number].compliance):
        for n, line in enumerate(_lines(path), 1):
            assert isinstance(json.loads(line), dict), f"{path.name}:{n}"


@SETS
def test_items_are_valid_and_numbers_consistent(number: int) -> None:
    cases, sentences = h.load(number)  # raises Invalid naming the item
    assert all(re.fullmatch(h.SETS[number].case_id, c["id"]) for c in cases)
    assert all(re.fullmatch(h.SETS[number].sentence_id, s["id"]) for s in sentences)


@SETS
def test_ids_unique_and_texts_new_against_the_older_corpus(number: int) -> None:
    cases, sentences = h.load(number)
    ids = [x["id"] for x in cases + sentences]
    assert len(ids) == len(set(ids))
    h.check_collisions(number, cases, sentences)


def test_the_third_set_is_new_against_the_second() -> None:
    assert {"arrears_heldout2.jsonl", "compliance_heldout2.jsonl"} <= set(h.SETS[3].others)


def test_the_fourth_set_is_new_against_every_older_file() -> None:
    others = set(h.SETS[4].others)
    assert {"arrears_heldout2.jsonl", "compliance_heldout2.jsonl", "compliance_lawful.jsonl"} <= others
    for part in ("dev", "dev2", "dev3", "probe"):  # dev3: the third held-out set, retired
        assert {f"arrears_{part}.jsonl", f"compliance_{part}.jsonl"} <= others


def test_the_fifth_set_is_new_against_every_older_file_and_the_fourth_set() -> None:
    others = set(h.SETS[5].others)
    assert set(h.SETS[4].others) <= others
    assert {"arrears_heldout4.jsonl", "compliance_heldout4.jsonl"} <= others


@NUMBERED
def test_a_numbered_set_uses_its_own_id_range(number: int) -> None:
    cases, sentences = h.load(number)
    first = number * 1000 + 1
    assert sorted(c["id"] for c in cases) == [f"c{first + i}" for i in range(len(cases))]
    assert sorted(s["id"] for s in sentences) == [f"s{first + i}" for i in range(len(sentences))]
    # split.py must never merge these ids into the development side
    assert all(split.RESERVED_HELDOUT.fullmatch(x["id"]) for x in cases + sentences)


@pytest.mark.parametrize(
    ("item_id", "owner"), [("s4001", "fourth"), ("c4200", "fourth"), ("s5001", "fifth"), ("c5137", "fifth")]
)
def test_split_refuses_to_merge_a_numbered_sets_ids(tmp_path: Path, item_id: str, owner: str) -> None:
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": item_id, "text": "placeholder"}) + "\n", encoding="utf-8")
    with pytest.raises(split.Invalid, match=f"{owner} held-out"):
        split.main([str(new), "--check"])


def test_the_fifth_set_has_every_family_in_equal_measure_and_its_promised_mix() -> None:
    cases, sentences = h.load(5)
    assert len(cases) == 200 and len(sentences) == 300
    families = Counter(s["family"] for s in sentences if s["forbidden"])
    assert set(families) == split.FAMILIES and all(n == 33 for n in families.values())
    assert sum(not s["forbidden"] for s in sentences) == 135
    by_cat = Counter(c["expected"]["category"] for c in cases)
    assert by_cat == {"hardship": 50, "service_dissatisfaction": 50, "misunderstanding": 60, "unknown": 40}
    assert max(len(c["notes"]) for c in cases) == 5
    assert any(c["complaints"] and not c["notes"] for c in cases)  # complaints as the only signal


@SETS
def test_sizes_mix_and_every_locale_in_every_class(number: int) -> None:
    shape = SHAPES[number]
    cases, sentences = h.load(number)
    assert len(cases) >= shape.min_cases and len(sentences) >= shape.min_sentences
    by_cat = Counter(c["expected"]["category"] for c in cases)
    assert set(by_cat) == split.CATEGORIES
    low, high = shape.cause_share
    for cat in ("hardship", "service_dissatisfaction", "misunderstanding"):
        assert low <= by_cat[cat] / len(cases) <= high, cat
    low, high = shape.unknown_share
    assert low <= by_cat["unknown"] / len(cases) <= high
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


@SETS
def test_secondary_causes_and_vacancy_are_exercised(number: int) -> None:
    cases, _ = h.load(number)
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


def _a_case_with_history(number: int) -> dict:
    cases, _ = h.load(number)
    unpaid = [c for c in cases if sum(h["paid_on"] is None for h in c.get("payment_history", [])) >= 2]
    return copy.deepcopy(unpaid[0])


@SETS
def test_validator_refuses_an_amount_that_is_not_months_times_fee(number: int) -> None:
    case = _a_case_with_history(number)
    fee = next(h["amount_fen"] for h in case["payment_history"] if h["paid_on"] is None)
    case["arrears"]["amount_fen"] += fee
    with pytest.raises(split.Invalid, match="amount_fen"):
        h.check_numbers(case)


@SETS
def test_validator_refuses_gaps_in_the_unpaid_periods(number: int) -> None:
    case = _a_case_with_history(number)
    unpaid = [h for h in case["payment_history"] if h["paid_on"] is None]
    case["payment_history"].remove(unpaid[1])
    with pytest.raises(split.Invalid, match="consecutive"):
        h.check_numbers(case)


@SETS
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "c0001"}, "id must match"),
        ({"locale": "zh_HK"}, "locale"),
        ({"expected": {"category": "broke", "secondary": None}}, "expected"),
    ],
)
def test_validator_refuses_bad_case_fields(number: int, change: dict, message: str) -> None:
    case = _a_case_with_history(number) | change
    with pytest.raises(split.Invalid, match=message):
        split.validate_case(case, h.SETS[number].case_id)


@SETS
def test_validator_refuses_a_lawful_sentence_with_a_family_and_a_colliding_id(number: int) -> None:
    _, sentences = h.load(number)
    lawful = copy.deepcopy(next(s for s in sentences if not s["forbidden"]))
    with pytest.raises(split.Invalid, match="family"):
        split.validate_sentence(lawful | {"family": "coercion"}, h.SETS[number].sentence_id)
    older = [{"id": lawful["id"], "text": "an older sentence"}]
    with pytest.raises(split.Invalid, match="collides"):
        h.check_collisions(number, [], [lawful], older)
    with pytest.raises(split.Invalid, match="repeated"):
        h.check_collisions(number, [], [lawful], [{"id": "s9999", "text": lawful["text"]}])


def test_a_collision_is_reported_by_id_only() -> None:
    secret = "a sentence from an older file that must never be printed"
    with pytest.raises(split.Invalid) as raised:
        h.check_collisions(
            3, [], [{"id": "h3-s0000", "locale": "en", "text": secret}], [{"id": "s9999", "text": secret}]
        )
    assert secret not in str(raised.value) and "h3-s0000" in str(raised.value)


def test_the_validator_wants_a_known_set() -> None:
    assert h.main([]) == 2 and h.main(["7"]) == 2
