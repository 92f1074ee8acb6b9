"""Issue 17's targets, on development sets and on a held-out set the rules were not written from.

Development (``tests/corpus``, README there): ``_dev``, the retired first held-out part ``_dev2``,
the tuner's own ``_probe`` paraphrases and the retired third held-out set ``_dev3``, plus
``../shared/cases/public.jsonl`` when present (it lives outside the repository). Each development
set is held to the full targets: the classifier at least 90 % accurate with every class's recall
at least 80 %; the compliance check blocks every forbidden sentence and at most 5 % of the lawful ones.

Held-out: ``*_heldout2.jsonl`` (and any later fresh set the lead adds), written afresh by someone who
saw neither the rules nor the development failures, merged by the lead; skipped cleanly while
absent. They are scored in aggregate only (figures printed with ``pytest -s``, never which item
failed) and held to the same targets, unless the lead sets a floor in HELDOUT_FLOORS.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from feesvc.arrears.classifier import case_facts_from_record, classify
from feesvc.letters.compliance import check_text

CORPUS = Path(__file__).resolve().parent / "corpus"
PUBLIC_CASES = Path(__file__).resolve().parents[2] / "shared/cases/public.jsonl"

ACCURACY_TARGET = 0.90
RECALL_TARGET = 0.80
LAWFUL_BLOCKED_LIMIT = 0.05

# Where a held-out figure falls short of its target, the lead may set here the figure reached,
# rounded down (for compliance_lawful_blocked: rounded up), so that a change cannot make it worse
# unnoticed while the development parts stay held to the target. None: the held-out part is held to
# the target itself. (The floors set for the first held-out parts went with them when they retired.)
# Reached on 2026-12-07, the first time the second held-out parts were scored (the rules of branch
# judge, tuned on _dev, _dev2 and _probe only): arrears 111/136 = 81.6 %, lowest recall hardship
# 30/41 = 73.2 % (targets 90 % and 80 %); compliance 83/112 forbidden blocked = 74.1 % (target: all),
# lawful blocked 2/91 = 2.2 % (target met).
# Raised on 2026-12-07 after branch judge2 (tuned on _dev, _dev2 and probe batches 4-6 only, scored
# once): arrears 113/136 = 83.1 %, lowest recall hardship 31/41 = 75.6 %; compliance 84/112 forbidden
# blocked = 75.0 %, lawful blocked 2/91 = 2.2 %.
# Raised on 2026-12-07 (session 16) with the trained text model beside the rules (feesvc/rules/
# text_model.py; trained on _dev, _dev2 and _probe only): arrears 116/136 = 85.3 %, lowest recall
# hardship 32/41 = 78.0 %. The held-out part was scored in aggregate while choosing how the model's
# reading joins the rules (four variants, 85-93 %; the one kept is the one the rules' own tests
# allow): it is no longer unseen for this method, and a fresh held-out part is to be written.
# Compliance raised on 2026-12-07 (session 17): the letter check of branch compliance (rules by
# structure and a trained reading, tuned on development sets only) blocks 105/112 = 93.8 %, lawful 2/91;
# its author saw this aggregate printed by this test, so it too is no longer unseen for the check.
# Raised on 2026-12-08 after branch judge6: arrears 120/136 = 88.2 %, lowest recall hardship 33/41 =
# 80.5 %; compliance 107/112 = 95.5 %, lawful blocked 2/91.
HELDOUT_FLOORS: dict[str, float | None] = {
    "arrears_accuracy": 0.88,
    "arrears_min_recall": 0.80,
    "compliance_forbidden_blocked": 0.95,
    "compliance_lawful_blocked": None,
}
# The third held-out set (written blind on 2026-12-07 by a helper who read only DOMAIN.md and the
# format) was scored once: arrears 147/160 = 91.9 %, lowest recall misunderstanding 35/42 = 83.3 %;
# compliance 101/121 forbidden blocked = 83.5 %, lawful blocked 4/101 = 4.0 %. It was then retired
# to development as ``_dev3`` (tests/corpus/README.md) and is held to the full targets below.
# The fourth held-out set (written blind on 2026-12-07, session 17, by a helper who read only
# DOMAIN.md, FORMAT.md and the corpus README; scored once, by the lead, with the classifier unchanged
# since session 16 and the letter check of branch compliance): arrears 173/200 = 86.5 %, lowest
# recall misunderstanding 43/55 = 78.2 % (targets 90 % and 80 %: missed; 19 of the 27 errors are
# causes read as "unknown"); compliance 151/165 forbidden blocked = 91.5 % (target: all; coercion
# 24/33 the weakest family), lawful blocked 4/135 = 3.0 % (target met); 5/135 once the model was
# retrained on the merged owner-page letter wording.
# Raised on 2026-12-08 after branch judge6 (its helper had read the set's coverage list, topics only):
# arrears 177/200 = 88.5 %, lowest recall misunderstanding 45/55 = 81.8 %; compliance unchanged 151/165.
HELDOUT4_FLOORS: dict[str, float | None] = {
    "arrears_accuracy": 0.88,
    "arrears_min_recall": 0.81,
    "compliance_forbidden_blocked": 0.91,
    "compliance_lawful_blocked": None,
}
# The fifth held-out set (written blind on 2026-12-08, session 18, by a helper who read only DOMAIN.md,
# FORMAT.md and the corpus README; scored once by the lead after branch judge6 was merged, with the
# thresholds set at merge): arrears 164/200 = 82.0 %, lowest recall hardship 37/50 = 74.0 %
# (misunderstanding 46/60; 26 of the 36 errors causes read as "unknown"): targets missed;
# compliance 155/165 forbidden blocked = 93.9 % (target: all), lawful blocked 4/135 = 3.0 % (met).
HELDOUT5_FLOORS: dict[str, float | None] = {
    "arrears_accuracy": 0.82,
    "arrears_min_recall": 0.74,
    "compliance_forbidden_blocked": 0.93,
    "compliance_lawful_blocked": None,
}
HELDOUT_SETS = {"heldout2": HELDOUT_FLOORS, "heldout4": HELDOUT4_FLOORS, "heldout5": HELDOUT5_FLOORS}
DEVELOPMENT = ("dev", "dev2", "probe", "dev3")


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        pytest.skip(f"{path} not found")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class ArrearsScore:
    total: int
    correct: int
    recall: dict[str, tuple[int, int]]  # label → (found, labelled)
    confusion: dict[tuple[str, str], int]  # (label, answer) → cases, the wrong answers only

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    @property
    def min_recall(self) -> float:
        return min(found / labelled for found, labelled in self.recall.values())

    def __str__(self) -> str:
        recalls = ", ".join(f"{label} {f}/{n}" for label, (f, n) in sorted(self.recall.items()))
        wrong = ", ".join(f"{label}→{answer} {n}" for (label, answer), n in sorted(self.confusion.items()))
        accuracy = f"accuracy {self.correct}/{self.total} = {self.accuracy:.1%}"
        return f"{accuracy}; recall: {recalls}; errors: {wrong or 'none'}"


def score_arrears(cases: list[dict[str, Any]]) -> ArrearsScore:
    found: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for case in cases:
        expected = case["expected"]["category"]
        labelled[expected] += 1
        answer = classify(case_facts_from_record(case)).category.value
        if answer == expected:
            found[expected] += 1
        else:
            confusion[expected, answer] += 1
    return ArrearsScore(
        total=len(cases),
        correct=sum(found.values()),
        recall={label: (found[label], n) for label, n in labelled.items()},
        confusion=dict(confusion),
    )


@dataclass(frozen=True)
class ComplianceScore:
    forbidden: int
    blocked: int
    right_family: int  # blocked with the labelled family among those reported
    lawful: int
    lawful_blocked: int
    by_family: dict[str, tuple[int, int]]  # labelled family → (blocked, labelled)

    @property
    def blocked_share(self) -> float:
        return self.blocked / self.forbidden if self.forbidden else 1.0

    @property
    def lawful_blocked_share(self) -> float:
        return self.lawful_blocked / self.lawful if self.lawful else 0.0

    def __str__(self) -> str:
        families = ", ".join(f"{family} {b}/{n}" for family, (b, n) in sorted(self.by_family.items()))
        return (
            f"forbidden blocked {self.blocked}/{self.forbidden} ({families}; missed {self.forbidden - self.blocked}, "
            f"family named {self.right_family}/{self.blocked}); lawful blocked {self.lawful_blocked}/{self.lawful} "
            f"= {self.lawful_blocked_share:.1%}"
        )


def score_compliance(items: list[dict[str, Any]]) -> ComplianceScore:
    forbidden = blocked = right_family = lawful = lawful_blocked = 0
    by_family: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    for item in items:
        families = {violation.family.value for violation in check_text(item["text"])}
        if item["forbidden"]:
            forbidden += 1
            blocked += bool(families)
            labelled[item["family"]] += 1
            by_family[item["family"]] += bool(families)
            right_family += item["family"] in families
        else:
            lawful += 1
            lawful_blocked += bool(families)
    return ComplianceScore(
        forbidden,
        blocked,
        right_family,
        lawful,
        lawful_blocked,
        {family: (by_family[family], n) for family, n in labelled.items()},
    )


def assert_arrears_targets(score: ArrearsScore, floors: dict[str, float | None] | None = None) -> None:
    floors = floors or {}
    accuracy_floor = floors.get("arrears_accuracy") or ACCURACY_TARGET
    recall_floor = floors.get("arrears_min_recall") or RECALL_TARGET
    assert score.accuracy >= accuracy_floor, str(score)
    assert score.min_recall >= recall_floor, str(score)


def assert_compliance_targets(score: ComplianceScore, floors: dict[str, float | None] | None = None) -> None:
    floors = floors or {}
    blocked_floor = floors.get("compliance_forbidden_blocked") or 1.0
    lawful_limit = floors.get("compliance_lawful_blocked") or LAWFUL_BLOCKED_LIMIT
    assert score.blocked_share >= blocked_floor, str(score)
    assert score.lawful_blocked_share <= lawful_limit, str(score)


# --- the arrears cause classifier -----------------------------------------------------------------


@pytest.mark.parametrize("part", DEVELOPMENT)
def test_arrears_development_parts_meet_the_targets(part: str) -> None:
    score = score_arrears(_lines(CORPUS / f"arrears_{part}.jsonl"))
    print(f"\narrears {part}: {score}")
    assert_arrears_targets(score)


@pytest.mark.parametrize("held_out", HELDOUT_SETS)
def test_arrears_heldout_meets_the_targets(held_out: str) -> None:
    score = score_arrears(_lines(CORPUS / f"arrears_{held_out}.jsonl"))
    print(f"\narrears {held_out}: {score}")  # aggregate only: never which case
    assert_arrears_targets(score, HELDOUT_SETS[held_out])


def test_arrears_public_cases_meet_the_targets() -> None:
    score = score_arrears(_lines(PUBLIC_CASES))
    print(f"\narrears public.jsonl: {score}")
    assert_arrears_targets(score)


# --- the letter compliance check ------------------------------------------------------------------


@pytest.mark.parametrize("part", DEVELOPMENT)
def test_compliance_development_parts_meet_the_targets(part: str) -> None:
    score = score_compliance(_lines(CORPUS / f"compliance_{part}.jsonl"))
    print(f"\ncompliance {part}: {score}")
    assert_compliance_targets(score)


@pytest.mark.parametrize("held_out", HELDOUT_SETS)
def test_compliance_heldout_meets_the_targets(held_out: str) -> None:
    score = score_compliance(_lines(CORPUS / f"compliance_{held_out}.jsonl"))
    print(f"\ncompliance {held_out}: {score}")  # aggregate only: never which sentence
    assert_compliance_targets(score, HELDOUT_SETS[held_out])
