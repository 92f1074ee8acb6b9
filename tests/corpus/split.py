"""Validate the development corpora and keep each set's original seeded split reproducible.

    python tests/corpus/split.py [NEW.jsonl ...]   # merge new items (by id), validate, re-split, write
    python tests/corpus/split.py --check           # exit 1 if the committed files are not the split

Each set was first split into a development part (``_dev``) and a held-out part. That held-out part
has since been retired (scored too often to stay unseen, README.md) and is now the second
development file, ``_dev2``; the split is kept so that the two files stay what they were and any
item added here keeps the side it is dealt. The union of a set's two committed files is the whole
set, so running this with no arguments reproduces the committed files exactly. Items whose ids
start with "c" are arrears cases, "s" compliance sentences; an item in NEW.jsonl replaces a
committed item with the same id. The probe files (``_probe``, written by the tuner, all development)
the retired third held-out set (``_dev3``, ids ``h3-…``, README.md) and the ordinary lawful letter
sentences (``compliance_lawful.jsonl``, ids ``s9…``) are validated here but never split; the fresh
held-out files (``*heldout2*``, ``*heldout4*``, ``*heldout5*``) are never read here. The fourth and fifth
held-out sets use ids ``c4001``… / ``s4001``… and ``c5001``… / ``s5001``…, which have the development
shape, so those ranges are reserved: an item in NEW.jsonl with an id ``c4NNN``, ``s4NNN``, ``c5NNN`` or
``s5NNN`` is refused rather than merged.

Method: items are grouped into strata (arrears: label x locale; compliance: family, or
"lawful", x locale). Within a stratum, items are taken in id order in blocks of five, and each
block is dealt three to development and two to the (now retired) held-out part in an order shuffled by
random.Random(f"{SEED}:{set}:{stratum}:{block}"). Appending items with higher ids therefore never
moves an earlier item to the other side, and every full block is exactly 60 % / 40 %.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

SEED = 20261207
HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
SETS = {"c": "arrears", "s": "compliance"}
LOCALES = {"zh_CN", "zh_TW", "en"}
CATEGORIES = {"hardship", "service_dissatisfaction", "misunderstanding", "unknown"}
FAMILIES = {"utility_cutoff", "access_blocking", "credit_sanction", "public_shaming", "coercion"}
COMPLAINT_CATEGORIES = {"cleaning", "security", "elevator", "repair", "leak", "parking", "noise", "greenery", "other"}
DATE = re.compile(r"^(2024|2025|2026)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
PERIOD = re.compile(r"^(2024|2025|2026)-(0[1-9]|1[0-2])$")
NOTE = re.compile(r"^((?:2024|2025|2026)-\d\d-\d\d) \S")
AREA = re.compile(r"^\d{1,4}\.\d\d$")
RESERVED_HELDOUT = re.compile(r"^[cs][45]\d{3}$")  # ids of the fourth and fifth held-out sets, never development
HELDOUT_ORDINAL = {"4": "fourth", "5": "fifth"}  # the id's first digit -> the held-out set that owns it


class Invalid(ValueError):
    pass


def _need(cond: bool, item_id: str, what: str) -> None:
    if not cond:
        raise Invalid(f"{item_id}: {what}")


def validate_case(c: dict, id_pattern: str = r"c\d{4}") -> None:
    i = c.get("id", "?")
    allowed = {"id", "locale", "unit", "arrears", "payment_history", "notes", "complaints", "expected", "why"}
    _need(set(c) <= allowed and set(c) >= allowed - {"payment_history"}, i, f"fields {sorted(set(c) ^ allowed)}")
    _need(isinstance(i, str) and re.fullmatch(id_pattern, i) is not None, i, f"id must match {id_pattern}")
    _need(c["locale"] in LOCALES, i, "locale")
    u = c["unit"]
    _need(set(u) == {"vacant", "area_m2"} and isinstance(u["vacant"], bool), i, "unit")
    _need(isinstance(u["area_m2"], str) and AREA.match(u["area_m2"]) is not None, i, "unit.area_m2")
    a = c["arrears"]
    _need(set(a) == {"amount_fen", "months_overdue", "first_unpaid_period"}, i, "arrears fields")
    _need(type(a["amount_fen"]) is int and a["amount_fen"] > 0, i, "arrears.amount_fen")
    _need(type(a["months_overdue"]) is int and a["months_overdue"] > 0, i, "arrears.months_overdue")
    _need(PERIOD.match(a["first_unpaid_period"]) is not None, i, "arrears.first_unpaid_period")
    # amount ~ area x rate x months with a rate of 1.5-4.5 yuan/m2 (plus at most one partial rest)
    per_m2_month = a["amount_fen"] / 100 / float(u["area_m2"]) / a["months_overdue"]
    _need(1.5 <= per_m2_month <= 4.5 * 2, i, f"amount/area/month {per_m2_month:.2f} yuan out of range")
    hist = c.get("payment_history")
    if hist is not None:
        _need(isinstance(hist, list) and len(hist) <= 12, i, "payment_history length")
        periods = [h["period"] for h in hist]
        _need(periods == sorted(periods) and len(set(periods)) == len(periods), i, "history order")
        for h in hist:
            _need(set(h) == {"period", "paid_on", "amount_fen"}, i, "history entry fields")
            _need(PERIOD.match(h["period"]) is not None, i, "history period")
            _need(h["paid_on"] is None or DATE.match(h["paid_on"]) is not None, i, "history paid_on")
            _need(type(h["amount_fen"]) is int and h["amount_fen"] > 0, i, "history amount")
            if h["paid_on"] is None:
                _need(h["period"] >= a["first_unpaid_period"], i, "unpaid period before first_unpaid")
        billed = {h["amount_fen"] for h in hist if h["paid_on"] is None}
        if billed:
            _need(len(billed) == 1, i, "unpaid periods billed different amounts")
            fee = billed.pop()
            _need(
                Decimal("1.5") <= Decimal(fee) / 100 / Decimal(u["area_m2"]) <= Decimal("4.51"),
                i,
                "monthly fee / area outside 1.5-4.5 yuan",
            )
            _need(a["amount_fen"] >= fee * a["months_overdue"], i, "amount_fen below months_overdue x monthly fee")
    notes = c["notes"]
    _need(isinstance(notes, list) and len(notes) <= 5, i, "notes")
    dates = []
    for n in notes:
        m = NOTE.match(n) if isinstance(n, str) else None
        _need(m is not None and DATE.match(m.group(1)) is not None, i, f"note {n!r}")
        dates.append(m.group(1))
    _need(dates == sorted(dates), i, "notes oldest first")
    comps = c["complaints"]
    _need(isinstance(comps, list) and len(comps) <= 4, i, "complaints")
    for k in comps:
        _need(set(k) == {"opened", "closed", "category", "status", "owner_satisfied", "text"}, i, "complaint fields")
        _need(DATE.match(k["opened"]) is not None and k["category"] in COMPLAINT_CATEGORIES, i, "complaint")
        if k["status"] == "open":
            _need(k["closed"] is None and k["owner_satisfied"] is None, i, "open complaint")
        else:
            _need(k["status"] == "closed" and isinstance(k["owner_satisfied"], bool), i, "closed complaint")
            _need(DATE.match(k["closed"]) is not None and k["closed"] >= k["opened"], i, "complaint closed date")
        _need(isinstance(k["text"], str) and k["text"].strip() != "", i, "complaint text")
    e = c["expected"]
    _need(set(e) == {"category", "secondary"} and e["category"] in CATEGORIES, i, "expected")
    _need(e["secondary"] is None or (e["secondary"] in CATEGORIES - {"unknown"}), i, "expected.secondary")
    _need(e["secondary"] != e["category"], i, "secondary equals category")
    _need(e["category"] != "unknown" or e["secondary"] is None, i, "unknown with a secondary")
    _need(isinstance(c["why"], str) and len(c["why"]) > 10, i, "why")


def validate_sentence(s: dict, id_pattern: str = r"s\d{4}") -> None:
    i = s.get("id", "?")
    _need(set(s) == {"id", "locale", "text", "forbidden", "family", "why"}, i, "fields")
    _need(isinstance(i, str) and re.fullmatch(id_pattern, i) is not None, i, f"id must match {id_pattern}")
    _need(s["locale"] in LOCALES, i, "locale")
    _need(isinstance(s["text"], str) and s["text"].strip() != "", i, "text")
    _need(isinstance(s["forbidden"], bool), i, "forbidden")
    if s["forbidden"]:
        _need(s["family"] in FAMILIES, i, "family of a forbidden sentence")
    else:
        _need(s["family"] is None, i, "family of a lawful sentence must be null")
    _need(isinstance(s["why"], str) and len(s["why"]) > 10, i, "why")


def stratum(name: str, item: dict) -> str:
    label = item["expected"]["category"] if name == "arrears" else (item["family"] or "lawful")
    return f"{label}/{item['locale']}"


def split(name: str, items: list[dict]) -> tuple[list[dict], list[dict]]:
    groups: dict[str, list[dict]] = {}
    for item in sorted(items, key=lambda x: x["id"]):
        groups.setdefault(stratum(name, item), []).append(item)
    dev, retired = [], []
    for key, members in sorted(groups.items()):
        for start in range(0, len(members), 5):
            sides = ["dev"] * 3 + ["dev2"] * 2
            random.Random(f"{SEED}:{name}:{key}:{start // 5}").shuffle(sides)
            for side, item in zip(sides, members[start : start + 5], strict=False):
                (dev if side == "dev" else retired).append(item)
    return sorted(dev, key=lambda x: x["id"]), sorted(retired, key=lambda x: x["id"])


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def dump(items: list[dict]) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items)


def counts_table(name: str, dev: list[dict], retired: list[dict], probe: list[dict], dev3: list[dict]) -> str:
    def label(x: dict) -> str:
        return x["expected"]["category"] if name == "arrears" else (x["family"] or "lawful")

    labels = sorted({label(x) for x in dev + retired + probe + dev3})
    rows = [f"| {name} | " + " | ".join(labels) + " | zh_CN | zh_TW | en | total |", "|---" * (len(labels) + 5) + "|"]
    parts = (
        ("development (`_dev`)", dev),
        ("retired held-out (`_dev2`)", retired),
        ("probes (`_probe`)", probe),
        ("retired third held-out (`_dev3`)", dev3),
    )
    for part, items in (*parts, ("all development", dev + retired + probe + dev3)):
        by_label = Counter(label(x) for x in items)
        by_locale = Counter(x["locale"] for x in items)
        cells = [str(by_label[k]) for k in labels] + [str(by_locale[k]) for k in ("zh_CN", "zh_TW", "en")]
        rows.append(f"| {part} | " + " | ".join(cells) + f" | {len(items)} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    new_files = [Path(a) for a in argv if a != "--check"]
    outputs: dict[Path, str] = {}
    tables = []
    for prefix, name in SETS.items():
        items = {x["id"]: x for x in read_jsonl(HERE / f"{name}_dev.jsonl") + read_jsonl(HERE / f"{name}_dev2.jsonl")}
        probe = read_jsonl(HERE / f"{name}_probe.jsonl")
        dev3 = read_jsonl(HERE / f"{name}_dev3.jsonl")  # the retired third held-out set: never split
        # ordinary lawful letter sentences, written for the letter check's model (README): never split
        lawful = read_jsonl(HERE / f"{name}_lawful.jsonl")
        if any(x["forbidden"] for x in lawful):
            raise Invalid(f"{name}_lawful.jsonl: a forbidden sentence")
        for path in new_files:
            for x in read_jsonl(path):
                if RESERVED_HELDOUT.fullmatch(x.get("id", "")):
                    digit = x["id"][1]
                    raise Invalid(
                        f"{x['id']}: ids c{digit}NNN/s{digit}NNN belong to the {HELDOUT_ORDINAL[digit]} held-out set"
                    )
                if x["id"].startswith(prefix):
                    items[x["id"]] = x
        overlap = sorted(set(items) & {x["id"] for x in probe + dev3 + lawful})
        if overlap:
            raise Invalid(f"{name}: probe or dev3 ids {overlap[:3]} already used")
        validate = validate_case if name == "arrears" else validate_sentence
        for x in [*items.values(), *probe, *lawful]:
            validate(x)
        for x in dev3:
            validate(x, rf"h3-{prefix}\d{{4}}")
        texts = Counter(
            json.dumps([x["notes"], x["complaints"]], ensure_ascii=False) if name == "arrears" else x["text"]
            for x in [*items.values(), *probe, *dev3, *lawful]
            if name != "arrears" or x["notes"]
        )
        dupes = [t for t, n in texts.items() if n > 1]
        if dupes:
            raise Invalid(f"{name}: duplicated text {dupes[0][:80]!r}")
        dev, retired = split(name, list(items.values()))
        outputs[HERE / f"{name}_dev.jsonl"] = dump(dev)
        outputs[HERE / f"{name}_dev2.jsonl"] = dump(retired)
        tables.append(counts_table(name, dev, retired, probe, dev3))
        print(f"{name}: {len(dev)} development, {len(retired)} retired held-out, {len(probe)} probes, {len(dev3)} dev3")
    if README.exists():
        text = README.read_text(encoding="utf-8")
        start, end = "<!-- counts:start -->\n", "<!-- counts:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            outputs[README] = head + start + "\n\n".join(tables) + "\n" + end + rest.split(end, 1)[1]
    stale = [p for p, body in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != body]
    if check:
        for p in stale:
            print(f"not the split: {p.name}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.write_text(outputs[p], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
