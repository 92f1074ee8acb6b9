"""The classifier's lexicon rules, read from ``lexicon/{hardship,service,misunderstanding,complaint}.toml``.

A rule is a weighted pattern for one cause, with a ``why`` saying what it recognises. Patterns run
on normalised text (Simplified, lower case, half-width punctuation), one sentence at a time, and
compile with ``re.ASCII`` (with Unicode ``\\w`` a CJK character counts as a letter and "拿到一个offer"
would have no word boundary before "offer"). Conventions of the data files:

* ``…`` is one character of the same clause other than a negator: "电梯…{0,6}坏" matches 电梯又坏了
  and 电梯三天两头坏, not 电梯没坏 or "电梯，灯坏了";
* ``@name`` stands for the list ``[sets].name`` of the same file (a shared condition such as
  "the owner says they should not be billed");
* ``requires``: the rule fires only if one of these also matches in the same sentence; a list of
  lists is several such conditions, all of which must hold ("the fee" and "another payment");
* ``negatable = false``: the pattern handles negation itself ("不修就不交" is a threat, not a denial);
* ``denial = true``: weight 0; the owner says this cause is not (the main) reason;
* ``generic = true``: the general shape of a cause ("凭什么交", "insists"), not a specific reason:
  it counts only when the same note gives no specific reason of another cause ("服务太差，凭什么交钱"
  is a protest at the service).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from feesvc.arrears import lexicon_data
from feesvc.arrears.case_record import Belief, Category
from feesvc.arrears.note_text import T2S

_GAP: Final = "[^,:、没不]"


@dataclass(frozen=True)
class Rule:
    name: str
    cause: Category
    weight: float
    pattern: re.Pattern[str]
    why: str
    requires: tuple[re.Pattern[str], ...] = ()  # each must also match somewhere in the same sentence
    belief: Belief | None = None
    denial: bool = False  # the owner says this cause is not (the main) reason
    negatable: bool = True  # skip a match with a negator right before it ("不是没钱")
    generic: bool = False  # yields to a specific reason of another cause in the same note
    # The same pattern cut to the alternatives that can match a text in one script: an all-Chinese
    # note never needs the English alternatives tried, nor an English note the Chinese ones.
    chinese: re.Pattern[str] | None = None
    latin: re.Pattern[str] | None = None

    def pattern_for(self, has_chinese: bool, has_latin: bool) -> re.Pattern[str] | None:
        if has_chinese and has_latin:
            return self.pattern
        return self.chinese if has_chinese else self.latin if has_latin else None


def _compile(alternatives: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(alternatives).replace("…", _GAP), re.ASCII)


def _script_split(alternatives: list[str]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """(Chinese, Latin) sub-patterns: an alternative with a non-ASCII character needs Chinese text,
    an ASCII one with a word in it needs Latin letters."""
    chinese = [a for a in alternatives if not a.isascii()]
    latin = [a for a in alternatives if a.isascii()]
    return (_compile(chinese) if chinese else None, _compile(latin) if latin else None)


def _expand(patterns: list[str], sets: dict[str, list[str]], where: str) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        if pattern.startswith("@"):
            if pattern[1:] not in sets:
                raise ValueError(f"{where}: no set {pattern!r}")
            out += sets[pattern[1:]]
        else:
            out.append(pattern)
    return out


def _rule(entry: dict[str, Any], cause: Category, sets: dict[str, list[str]], where: str) -> Rule:
    name = entry.get("name")
    why = entry.get("why", "")
    if not name or not isinstance(why, str) or not why.strip() or not entry.get("patterns"):
        raise ValueError(f"{where}: every rule needs a name, patterns and a why: {entry!r}")
    patterns = _expand(entry["patterns"], sets, where)
    traditional = {chr(code) for code in T2S} & set("".join(patterns))
    if traditional:  # text is normalised first: a Traditional character could never match
        raise ValueError(f"{where} {name}: Traditional characters {sorted(traditional)} in a pattern")
    conditions = entry.get("requires", [])
    if conditions and all(isinstance(item, str) for item in conditions):
        conditions = [conditions]  # one condition given as a flat list of alternatives
    requires = tuple(_compile(_expand(condition, sets, where)) for condition in conditions)
    denial = bool(entry.get("denial", False))
    chinese, latin = _script_split(patterns)
    return Rule(
        name=f"{cause.value}.{name}",
        cause=cause,
        weight=0.0 if denial else float(entry["weight"]),
        pattern=_compile(patterns),
        why=why.strip(),
        requires=requires,
        belief=Belief(entry["belief"]) if entry.get("belief") else None,
        denial=denial,
        negatable=bool(entry.get("negatable", not denial)),
        generic=bool(entry.get("generic", False)),
        chinese=chinese,
        latin=latin,
    )


def load_rules(file: str, cause: Category) -> tuple[Rule, ...]:
    data = lexicon_data.load(file)
    sets = data.get("sets", {})
    return tuple(_rule(entry, cause, sets, f"lexicon/{file}") for entry in data.get("rule", []))


HARDSHIP_RULES: Final = load_rules("hardship.toml", Category.HARDSHIP)
SERVICE_RULES: Final = load_rules("service.toml", Category.SERVICE_DISSATISFACTION)
MISUNDERSTANDING_RULES: Final = load_rules("misunderstanding.toml", Category.MISUNDERSTANDING)
# Applied to the text of complaints that count (open, or closed unsatisfied).
COMPLAINT_TEXT_RULES: Final = load_rules("complaint.toml", Category.SERVICE_DISSATISFACTION)
NOTE_RULES: Final = HARDSHIP_RULES + SERVICE_RULES + MISUNDERSTANDING_RULES
