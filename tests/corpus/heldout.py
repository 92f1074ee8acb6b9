"""Validate a fresh held-out set (arrears_heldoutN.jsonl, compliance_heldoutN.jsonl).

    python tests/corpus/heldout.py 2           # the second set; print the counts table; exit 1 on a problem
    python tests/corpus/heldout.py 3           # the third set (retired to development: ``*_dev3.jsonl``)
    python tests/corpus/heldout.py 4           # the fourth set (ids c4001… / s4001…)
    python tests/corpus/heldout.py 5           # the fifth set (ids c5001… / s5001…)

These files are not split: they are held-out as a whole and only ever scored. Each line gets
split.py's checks (with ids `hN-c0000` / `hN-s0000`; the fourth set `c4001` / `s4001`, the fifth
`c5001` / `s5001`) plus stricter number checks for the arrears cases, and both files are checked against
the older corpus files for colliding ids and repeated texts (a collision is reported by id only, so running
this never shows another file's text).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType


def _split_module() -> ModuleType:
    """split.py, loaded by path (tests/corpus is not a package); shared with tests/test_corpus_split.py."""
    if "corpus_split" in sys.modules:
        return sys.modules["corpus_split"]
    spec = importlib.util.spec_from_file_location("corpus_split", Path(__file__).resolve().parent / "split.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_split = _split_module()
Invalid, _need, read_jsonl = _split.Invalid, _split._need, _split.read_jsonl
validate_case, validate_sentence = _split.validate_case, _split.validate_sentence
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class HeldoutSet:
    """One held-out set: its files, its id patterns and the older files it must not repeat."""

    number: int
    others: tuple[str, ...]  # the files the set must not collide with (ids and texts)
    id_prefix: str | None = None  # ids `c<prefix>NNN` / `s<prefix>NNN` instead of `hN-c0000` / `hN-s0000`
    part: str = "heldout"  # "dev" once the set is retired to development (README.md): same lines, new name

    @property
    def arrears(self) -> Path:
        return HERE / f"arrears_{self.part}{self.number}.jsonl"

    @property
    def compliance(self) -> Path:
        return HERE / f"compliance_{self.part}{self.number}.jsonl"

    @property
    def case_id(self) -> str:
        if self.id_prefix is not None:
            return rf"c{self.id_prefix}\d{{3}}"
        return rf"h{self.number}-c\d{{4}}"

    @property
    def sentence_id(self) -> str:
        if self.id_prefix is not None:
            return rf"s{self.id_prefix}\d{{3}}"
        return rf"h{self.number}-s\d{{4}}"


_DEV = ("arrears_dev.jsonl", "compliance_dev.jsonl")
# The corpus files older than the third set, and than the fourth: a set must repeat none of them.
_BEFORE_THE_THIRD = (
    *_DEV,
    "arrears_dev2.jsonl",
    "compliance_dev2.jsonl",
    "arrears_probe.jsonl",
    "compliance_probe.jsonl",
    "arrears_heldout2.jsonl",
    "compliance_heldout2.jsonl",
)
_BEFORE_THE_FOURTH = (*_BEFORE_THE_THIRD, "arrears_dev3.jsonl", "compliance_dev3.jsonl", "compliance_lawful.jsonl")
SETS = {
    # the second set was checked against the development files of its day (unchanged)
    2: HeldoutSet(2, (*_DEV, "arrears_heldout.jsonl", "compliance_heldout.jsonl")),
    # the third against all development files and the second set; scored once, then retired to development
    3: HeldoutSet(3, _BEFORE_THE_THIRD, part="dev"),
    # the fourth (ids c4001… / s4001…) against all development files and the second and third sets
    4: HeldoutSet(4, _BEFORE_THE_FOURTH, id_prefix="4"),
    # the fifth (ids c5001… / s5001…) against every older corpus file, the fourth set included
    5: HeldoutSet(5, (*_BEFORE_THE_FOURTH, "arrears_heldout4.jsonl", "compliance_heldout4.jsonl"), id_prefix="5"),
}


def _next_period(p: str) -> str:
    y, m = int(p[:4]), int(p[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def check_numbers(c: dict) -> None:
    """FORMAT.md's arithmetic, exactly: what split.py checks loosely, checked to the fen."""
    i, a, hist = c["id"], c["arrears"], c.get("payment_history")
    if not hist:
        return
    unpaid = [h for h in hist if h["paid_on"] is None]
    paid = [h for h in hist if h["paid_on"] is not None]
    _need(all(h["period"] < a["first_unpaid_period"] for h in paid), i, "a paid period on or after first_unpaid_period")
    if not unpaid:
        return
    fee = unpaid[0]["amount_fen"]
    _need(
        unpaid[0]["period"] == a["first_unpaid_period"], i, "history's first unpaid period is not first_unpaid_period"
    )
    expect = a["first_unpaid_period"]
    for h in unpaid:
        _need(h["period"] == expect, i, "unpaid periods in history are not consecutive")
        expect = _next_period(expect)
    _need(len(unpaid) <= a["months_overdue"], i, "more unpaid periods in history than months_overdue")
    rest = a["amount_fen"] - fee * a["months_overdue"]
    _need(0 <= rest < fee, i, f"amount_fen is not months_overdue x monthly fee (+ a partial rest): rest {rest}")
    if rest:
        last = paid[-1] if paid else None
        _need(
            last is not None and _next_period(last["period"]) == a["first_unpaid_period"],
            i,
            "a partial rest without the partially paid period just before first_unpaid_period",
        )
        _need(last is not None and last["amount_fen"] + rest == fee, i, "partial payment + rest is not the monthly fee")
    rate = Decimal(fee) / 100 / Decimal(c["unit"]["area_m2"])
    _need(Decimal("1.5") <= rate <= Decimal("4.51"), i, f"rate {rate:.2f} yuan/m2 outside 1.5-4.5")
    for h in c["complaints"]:
        _need(h["closed"] is None or h["closed"] >= h["opened"], i, "complaint closed before opened")


def load(number: int) -> tuple[list[dict], list[dict]]:
    hs = SETS[number]
    for path in (hs.arrears, hs.compliance):
        _need(path.exists(), path.name, "missing")
    cases, sentences = read_jsonl(hs.arrears), read_jsonl(hs.compliance)
    for c in cases:
        validate_case(c, hs.case_id)
        check_numbers(c)
    for s in sentences:
        validate_sentence(s, hs.sentence_id)
    for name, items in (("arrears", cases), ("compliance", sentences)):
        ids = Counter(x["id"] for x in items)
        dup = [k for k, n in ids.items() if n > 1]
        _need(not dup, dup[0] if dup else "", f"{name}: duplicated id")
    return cases, sentences


def _texts(name: str, items: list[dict]) -> dict[str, str]:
    if name == "arrears":
        return {json.dumps([x["notes"], x["complaints"]], ensure_ascii=False): x["id"] for x in items if x["notes"]}
    return {x["text"].strip(): x["id"] for x in items}


def older_items(number: int) -> list[dict]:
    return [x for name in SETS[number].others for x in read_jsonl(HERE / name)]


def check_collisions(number: int, cases: list[dict], sentences: list[dict], old: list[dict] | None = None) -> None:
    """No id or text of set `number` may appear in the older corpus files."""
    if old is None:
        old = older_items(number)
    old_ids = {x.get("id") for x in old}
    for x in cases + sentences:
        _need(x["id"] not in old_ids, x["id"], "id collides with another corpus file")
    for name, mine in (("arrears", cases), ("compliance", sentences)):
        own = _texts(name, mine)
        _need(
            len(own) == len([x for x in mine if name != "arrears" or x["notes"]]), name, "duplicated text in the file"
        )
        theirs = _texts(name, [x for x in old if ("notes" in x) == (name == "arrears")])
        clash = sorted(own[t] for t in set(own) & set(theirs))
        _need(not clash, ",".join(clash[:5]), "text repeated from an older corpus file")


def counts(cases: list[dict], sentences: list[dict]) -> str:
    rows = []
    for name, items, label in (
        ("arrears", cases, lambda x: x["expected"]["category"]),
        ("compliance", sentences, lambda x: x["family"] or "lawful"),
    ):
        labels = sorted({label(x) for x in items})
        rows.append(f"| {name} | " + " | ".join(["zh_CN", "zh_TW", "en", "total"]) + " |")
        rows.append("|---" * 5 + "|")
        for lab in [*labels, "total"]:
            sel = [x for x in items if lab == "total" or label(x) == lab]
            loc = Counter(x["locale"] for x in sel)
            rows.append(f"| {lab} | {loc['zh_CN']} | {loc['zh_TW']} | {loc['en']} | {len(sel)} |")
        rows.append("")
    return "\n".join(rows).rstrip() + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or int(argv[0]) not in SETS:
        print(f"usage: heldout.py {{{'|'.join(map(str, SETS))}}}", file=sys.stderr)
        return 2
    number = int(argv[0])
    try:
        cases, sentences = load(number)
        check_collisions(number, cases, sentences)
    except (Invalid, KeyError, TypeError, json.JSONDecodeError) as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    print(counts(cases, sentences), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
