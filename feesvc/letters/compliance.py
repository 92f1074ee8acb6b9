"""The compliance check for letters: nothing illegal leaves the system.

Every reminder, demand letter (催告函) and notice is checked before it is sent. A letter may state the
amount, the periods, a deadline and that suit or arbitration may follow (民法典 944(2)); it may not
threaten anything in the five families below. Each family has patterns in Simplified Chinese,
Traditional Chinese (臺灣/香港 wording) and English.

=================  ===========================================================================
family             what is forbidden, and why
=================  ===========================================================================
utility_cutoff     cutting or threatening to cut water, power, heating or gas (民法典 944(3))
access_blocking    blocking entry, door cards, elevators/lifts or parking (e.g. 郑州 §42)
credit_sanction    blacklists, 失信被执行人, 限制高消费, 征信, travel bans: only after a judgment
public_shaming     notice boards, group chats, lift notices, naming owners in public (个保法 §25)
coercion           violent or threatening language (后果自负, 上门讨债, "you will regret it")
=================  ===========================================================================

How text is read
----------------
* Traditional characters are folded to simplified and full-width ASCII to half-width before matching,
  one character for one, so a pattern written once covers 斷電 and 断电 alike. The sentence and term
  reported are the letter's own text.
* The text is split into **sentences** at 。！？； . ! ? ; and line breaks; a violation reports its
  sentence. Sentences are split into **clauses** at commas and colons and at linking words that start a
  new thought (但是, 否则, 如果, 届时, 立即, 就 …; but, otherwise, if, unless, then, we …).

The rule for lawful mentions (what template authors need to know)
-----------------------------------------------------------------
Explaining the law is not a threat. A forbidden term is **exempt** when a *negation marker* governs it:

1. The marker stands **before** the term, in the **same clause**, with at most 16 words/characters in
   between (other forbidden terms listed in between do not count, so "不得以停水、停电、停气等方式" is
   one lawful enumeration).
2. Plain negations count on their own: 不得, 不会, 不能, 不可, 不应, 不准, 不许, 不允许, 无权, 决不,
   绝不, 从不, 永不, 法律规定…不, 违法/非法; will not, won't, never, may not, must not, cannot,
   not allowed/permitted/entitled, no right, illegal, unlawful, under no circumstances.
3. Prohibition words (禁止, 严禁, 杜绝; forbid, prohibit, ban, bar) count **only when the sentence
   also refers to the law or to the company/us** (法律, 规定, 民法典, 物业公司, 我们 …; law, regulation,
   Civil Code, the company, we/us). "法律禁止通过停水停电催交" is lawful; a bare "禁止停车" is not.
4. A prohibition aimed at the owner **is itself the violation**: "禁止停车", "严禁欠费业主进入小区",
   "不准进入", "车辆不予放行", "you may not use the lift", "not allowed to park" are patterns of
   access_blocking, and a marker that is part of a matched term never exempts anything.
   "物业公司不得禁止业主停车" is lawful: 不得 governs the owner-directed term 禁止…停车.
5. Markers followed by threat idioms do not count: 不会手软/不会客气/不会再等/不得不, "will not
   hesitate to", "won't wait", nor negations of the owner's own act (不缴费, "do not pay", "cannot pay").
6. A legal verdict **after** the term also exempts it: "以停水方式催费是违法的", "Cutting off water is
   illegal"; "…is prohibited / 被禁止" only when the sentence refers to the law.

So write "依照法律规定，物业公司不得以停水、停电等方式催缴物业费" or "We will never cut your water or
power". A negation never reaches past a comma (except one inside an English list: "employers,
relatives or group chats") or a linking word: in "我们不会再等，届时停水" the 停水
stands in a clause of its own and is flagged.

Beyond the words (issue 17)
---------------------------
* *Structure.* A restriction near an object of a family (a utility, its meter card or valve; an entry,
  card, lift, barrier, parcel, visitor or permit) is forbidden when the sentence ties it to paying, makes
  it last until something is done, or aims it at the addressee's household ("IC卡水表将不予售水",
  "your gas top-up requests cannot be processed until …"). Negation-like restrictions (不得, 不能)
  restrict only what follows them in their clause.
  Verb and object may stand 40 characters apart in Chinese, 64 in English. A refusal of the service
  act itself ("will not top up", "不会签字", "can only be purchased once …") is a restriction.
* *Neutral notices.* A maintenance, inspection, drill or weather outage, a safety tip or a service the
  owner asked for, with no payment tie, is lawful (a works notice to everyone also when posted in the
  owners' group); so is the 公示 of the fee's accounts and standards naming no debtor (943).
* *Any other consequence.* A sentence that makes anything but a lawful route (a reminder, the 催告,
  late fees, help, mediation, suit, arbitration, payment order) follow from not paying is pressure
  even in words no family lists; it is reported with the family whose objects it names, else coercion.

*The trained reading.* A sentence the rules leave undecided (no family's words, no neutral notice, no
  condition of not paying) is read by a character n-gram model (``compliance_model``) trained on the
  development corpora, ordinary lawful letter sentences and every shipped letter's sentences; it blocks
  only a sentence with content (an action, an actor, an exposure: ``[model]`` in the lexicon) whose
  lawful reading is unlikely, and reports the family it reads and the whole sentence.

A notice board or group chat is flagged (public_shaming) unless the sentence is the 公示 of accounts or
standards naming no debtor. Whether a letter names an owner other than its addressee cannot be seen
from text alone and is not checked here. The vocabulary lives in ``lexicon/compliance.toml``, each entry
with the reason it is there.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from feesvc.letters.compliance_model import model_family
from feesvc.letters.letter_text import (
    HTML_SUFFIXES,
    LOOKS_LIKE_HTML_RE,
    LetterCheckError,
    decode_letter,
    html_to_text,
    pdf_to_text,
    read_stdin,
    strip_template_tags,
)


class Family(StrEnum):
    """The kinds of forbidden content a letter is checked for."""

    UTILITY_CUTOFF = "utility_cutoff"
    ACCESS_BLOCKING = "access_blocking"
    CREDIT_SANCTION = "credit_sanction"
    PUBLIC_SHAMING = "public_shaming"
    COERCION = "coercion"


#: Why each family is forbidden, for messages shown to template authors.
FAMILY_BASIS: dict[Family, str] = {
    Family.UTILITY_CUTOFF: "no cutting or threatening to cut water, power, heating or gas (民法典 944(3))",
    Family.ACCESS_BLOCKING: "no blocking entry, door cards, elevators or parking (local rules, e.g. 郑州 §42)",
    Family.CREDIT_SANCTION: "no blacklist, credit or consumption-ban threats before a court judgment",
    Family.PUBLIC_SHAMING: "no notice boards, group chats or naming owners in public (个人信息保护法 §25)",
    Family.COERCION: "no violent or threatening language",
}


@dataclass(frozen=True)
class Violation:
    """One forbidden term found in a letter, with the sentence it stands in."""

    family: Family
    sentence: str
    term: str

    def __str__(self) -> str:
        return f"[{self.family.value}] {self.term}: {self.sentence}"


# --------------------------------------------------------------------------------------------------
# Folding: traditional → simplified, full-width → half-width, one character for one so that offsets
# found in the folded text point at the same characters in the letter's own text.
# --------------------------------------------------------------------------------------------------

_LEXICON = tomllib.loads(resources.files("feesvc.letters.lexicon").joinpath("compliance.toml").read_text("utf-8"))
_TRAD_SIMP_PAIRS: str = _LEXICON["fold"]["pairs"]

_TRAD_TO_SIMP: dict[int, int] = {
    ord(pair[0]): ord(pair[1]) for pair in _TRAD_SIMP_PAIRS.split() if len(pair) == 2 and pair[0] != pair[1]
}
# Full-width ASCII (ＡＢＣ！，) and the ideographic space fold to half-width; curly quotes to straight ones.
_WIDTH_FOLD: dict[int, int] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_WIDTH_FOLD.update({0x3000: 0x20, 0x2018: 0x27, 0x2019: 0x27, 0x201C: 0x22, 0x201D: 0x22})
_FOLD_TABLE: dict[int, int] = {**_TRAD_TO_SIMP, **_WIDTH_FOLD}


def fold(text: str) -> str:
    """Fold traditional characters to simplified and full-width to half-width, keeping every offset."""
    return text.translate(_FOLD_TABLE)


class _Role(Enum):
    """Where a marker stands relative to the term, and whether it needs a reference to the law."""

    BEFORE = "before"  # 不得停水, never cut
    BEFORE_IF_LAW = "before_if_law"  # 法律禁止…停水, the law forbids cutting
    AFTER = "after"  # 停水是违法的, cutting water is illegal
    AFTER_IF_LAW = "after_if_law"  # 停水被法律禁止, is prohibited by law


def _entries(kind: str, key: str = "pattern") -> list[dict[str, Any]]:
    """The ``[[kind]]`` entries of the data file; every entry must say why it is there."""
    entries: list[dict[str, Any]] = _LEXICON[kind]
    for entry in entries:
        if not entry.get(key) or not str(entry.get("why", "")).strip():
            raise ValueError(f"lexicon/compliance.toml [[{kind}]]: each entry needs a pattern and a why: {entry!r}")
    return entries


_PIECES: dict[str, str] = _LEXICON["pieces"]
_TERM_TABLE: tuple[tuple[Family, str], ...] = tuple((Family(e["family"]), e["pattern"]) for e in _entries("term"))
_MARKER_TABLE: tuple[tuple[_Role, str], ...] = tuple((_Role(e["role"]), e["pattern"]) for e in _entries("marker"))
# A reference to the law or to the company, which a prohibition word needs to read as a legal statement.
_LAW_OR_COMPANY: str = _LEXICON["scope"]["law_or_company"]
# Where a clause ends: a marker in one clause never governs a term in the next.
_CLAUSE_BREAK: str = _LEXICON["scope"]["clause_break"]


def _cues(entries: list[list[str]], where: str) -> str:
    """A ``[pattern, why]`` list as one pattern; every entry must say why it is there."""
    for entry in entries:
        if len(entry) != 2 or not entry[0] or not entry[1].strip():
            raise ValueError(f"lexicon/compliance.toml {where}: each entry is [pattern, why], got {entry!r}")
    return "|".join(f"(?:{pattern})" for pattern, _ in entries)


@dataclass(frozen=True)
class _Consequence:
    """An adverse action of one family: a restriction near one of the family's objects."""

    family: Family
    objects: re.Pattern[str]
    restrictions: re.Pattern[str]
    prohibitions: re.Pattern[str] | None  # restrict only an object after them, in their clause


_STRUCTURE = _LEXICON["structure"]
_NEUTRAL = _LEXICON["neutral"]
_MAX_DISTANCE: int = _STRUCTURE["max_distance"]
_MAX_DISTANCE_LATIN: int = _STRUCTURE["max_distance_latin"]


_MAX_GAP_TOKENS = 16  # words or characters between a marker and the term it governs


def _compile(pattern: str) -> re.Pattern[str]:
    """Fill in the shared pieces, fold traditional characters, compile once."""
    return re.compile(fold(pattern % _PIECES), re.IGNORECASE)


_TERMS: tuple[tuple[Family, re.Pattern[str]], ...] = tuple((family, _compile(p)) for family, p in _TERM_TABLE)
_MARKERS: tuple[tuple[_Role, re.Pattern[str]], ...] = tuple((role, _compile(p)) for role, p in _MARKER_TABLE)
_LAW_OR_COMPANY_RE = _compile(_LAW_OR_COMPANY)
_CLAUSE_BREAK_RE = _compile(_CLAUSE_BREAK)
_PAYMENT_RE = _compile(_cues(_STRUCTURE["payment"], "structure.payment"))
_UNTIL_RE = _compile(_cues(_STRUCTURE["until"], "structure.until"))
_TARGETED_RE = _compile(_cues(_STRUCTURE["targeted"], "structure.targeted"))
_PROMISE_BETWEEN_RE = _compile(_cues(_STRUCTURE["promise_between"], "structure.promise_between"))
_CONSEQUENCES: tuple[_Consequence, ...] = tuple(
    _Consequence(
        Family(e["family"]),
        _compile("|".join(e["objects"])),
        _compile("|".join(e["restrictions"])),
        _compile("|".join(e["prohibitions"])) if e.get("prohibitions") else None,
    )
    for e in _entries("consequence", key="objects")
)
_MAINTENANCE_RE = _compile(_cues(_NEUTRAL["maintenance"], "neutral.maintenance"))
_FALLBACK = _LEXICON["consequence_of_not_paying"]
_NOT_PAYING_RE = _compile(_cues(_FALLBACK["condition"], "consequence_of_not_paying.condition"))
_ACTION_RE = _compile(_cues(_FALLBACK["action"], "consequence_of_not_paying.action"))
_LAWFUL_ROUTE_RE = _compile(_cues(_FALLBACK["lawful"], "consequence_of_not_paying.lawful"))
_JUDGMENT_RULE_RE = _compile(_cues(_NEUTRAL["judgment_rule"], "neutral.judgment_rule"))
_SECURITY_RULE_RE = _compile(_cues(_NEUTRAL["security_rule"], "neutral.security_rule"))
_ON_REQUEST_RE = _compile(_cues(_NEUTRAL["on_request"], "neutral.on_request"))
_SAFETY_TIP_RE = _compile(_cues(_NEUTRAL["safety_tip"], "neutral.safety_tip"))
_ACCOUNTS_RE = _compile(_cues(_NEUTRAL["accounts"], "neutral.accounts"))
_UNRELATED_RE = _compile(_cues(_NEUTRAL["unrelated_to_payment"], "neutral.unrelated_to_payment"))
_DENIED_DEBTOR_RE = _compile(_cues(_NEUTRAL["debtor_info_denied"], "neutral.debtor_info_denied"))
_DEBTOR_INFO_RE = _compile(_cues(_NEUTRAL["debtor_info"], "neutral.debtor_info"))
_MODEL = _LEXICON["model"]
_MODEL_CONTENT_RE = _compile(_cues(_MODEL["content"], "model.content"))
_MODEL_PROMISE_RE = _compile(_cues(_MODEL["promise"], "model.promise"))
_MODEL_TO_THE_OWNER_RE = _compile(_cues(_MODEL["to_the_owner"], "model.to_the_owner"))
_MODEL_OWN_TERM_RE = _compile(_cues(_MODEL["own_term"], "model.own_term"))
_MODEL_BLOCK_BELOW_LAWFUL: float = _MODEL["block_below_lawful"]
_TOKEN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z0-9]+")

# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
_CJK_SPACE_RE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
# A sentence ends at 。！？； ! ? ; , at a full stop followed by a space (not 0.03% or 3.5), or a line end.
_SENTENCE_RE = re.compile(r"[^\n。！？；!?;]*?(?:[。！？；!?;]+|\.(?=\s)|\.$|\n|$)")


def normalize(text: str) -> str:
    """One space for a run of spaces, none between Chinese characters (PDF and HTML layout artefacts)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = (_CJK_SPACE_RE.sub("", _SPACES_RE.sub(" ", line)).strip() for line in text.split("\n"))
    return "\n".join(lines)


def split_sentences(text: str) -> list[str]:
    """The sentences of a letter, in order, each with its closing punctuation."""
    sentences = (match.group().strip() for match in _SENTENCE_RE.finditer(normalize(text)))
    return [sentence for sentence in sentences if sentence]


# --------------------------------------------------------------------------------------------------
# Finding terms and deciding whether a negation makes them lawful
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int

    def overlaps(self, other: _Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class _Hit:
    family: Family
    span: _Span


def _every_match(pattern: re.Pattern[str], text: str) -> Iterable[_Span]:
    """The leftmost match at every starting point, so "不得禁止停车" also yields "禁止停车"."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        if match.end() > match.start():
            yield _Span(match.start(), match.end())
        position = match.start() + 1


def _has_marker(text: str) -> bool:
    return any(role is _Role.BEFORE or role is _Role.BEFORE_IF_LAW for role, _ in _markers_in(text))


def _markers_in(text: str) -> Iterable[tuple[_Role, _Span]]:
    for role, pattern in _MARKERS:
        for match in pattern.finditer(text):
            yield role, _Span(match.start(), match.end())


def _family_hits(folded: str, family: Family, spans: Sequence[_Span]) -> list[_Hit]:
    """Merge one family's overlapping matches into single hits.

    An outer match that starts with a negation governing an inner one is dropped, so the inner term
    can be judged with that negation in front of it: "不得禁止业主进入" is judged as 不得 + "禁止业主进入".
    """
    kept = [
        outer
        for outer in spans
        if not any(
            outer.start < inner.start < outer.end and _has_marker(folded[outer.start : inner.start]) for inner in spans
        )
    ]
    merged: list[_Span] = []
    for span in sorted(set(kept), key=lambda s: (s.start, -s.end)):
        if merged and merged[-1].overlaps(span):
            merged[-1] = _Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return [_Hit(family, span) for span in merged]


def _consequence_hits(folded: str) -> Iterable[tuple[Family, _Span]]:
    """Each restriction with the object it acts on, as one span of that object's family.

    The object is the nearest one of any family, preferring one in the same clause: in
    "停水停电，并停用您的门禁卡" 停用 acts on the door card, not on the power before the comma.
    """
    objects = [(c.family, span) for c in _CONSEQUENCES for span in _every_match(c.objects, folded)]
    breaks = [_Span(m.start(), m.end()) for m in _CLAUSE_BREAK_RE.finditer(folded)]
    for consequence in _CONSEQUENCES:
        found = [(r, False) for r in _every_match(consequence.restrictions, folded)]
        if consequence.prohibitions is not None:
            found += [(r, True) for r in _every_match(consequence.prohibitions, folded)]
        for restriction, forward_only in found:
            near = []
            for family, obj in objects:
                if obj.overlaps(restriction) or (forward_only and obj.start < restriction.end):
                    continue
                if obj.end <= restriction.start and _PROMISE_BETWEEN_RE.search(folded, obj.end, restriction.start):
                    continue  # "access will never be restricted": a promise
                gap = _Span(min(obj.end, restriction.end), max(obj.start, restriction.start))
                same_clause = _same_clause(gap, breaks)
                limit = _MAX_DISTANCE_LATIN if folded[gap.start : gap.end].isascii() else _MAX_DISTANCE
                if gap.end - gap.start <= limit and (same_clause or not forward_only):
                    near.append((not same_clause, gap.end - gap.start, family, obj))
            if near:
                _, _, family, obj = min(near, key=lambda item: (item[0], item[1]))
                if family is consequence.family:
                    yield family, _Span(min(obj.start, restriction.start), max(obj.end, restriction.end))


def _ties(folded: str) -> str:
    """The sentence as read for a payment tie or a debtor: words denying either ("与缴费无关",
    "regardless of payment", "不涉及具体房号", "never for anyone's account") are blanked, so they do
    not count as the tie or the debtor they deny."""
    for denial in (_UNRELATED_RE, _DENIED_DEBTOR_RE):
        if denial.search(folded) is not None:
            folded = denial.sub(lambda match: " " * len(match.group()), folded)
    return folded


def _find_hits(folded: str) -> list[_Hit]:
    by_family: dict[Family, list[_Span]] = {}
    for family, pattern in _TERMS:
        if pattern.search(folded) is not None:  # most sentences match no term: one search, no generator
            by_family.setdefault(family, []).extend(_every_match(pattern, folded))
    # An adverse action counts when tied to paying, lasting until something is done, or aimed at the addressee.
    tied = _ties(folded)
    if _PAYMENT_RE.search(tied) or _UNTIL_RE.search(tied) or _TARGETED_RE.search(tied):
        for family, span in _consequence_hits(folded):
            by_family.setdefault(family, []).append(span)
    hits = [hit for family, spans in by_family.items() for hit in _family_hits(folded, family, spans)]
    return sorted(hits, key=lambda hit: (hit.span.start, hit.span.end))


def _gap_tokens(folded: str, gap: _Span, hits: Sequence[_Hit]) -> int:
    """Words/characters between a marker and a term, not counting other forbidden terms listed there."""
    characters = list(folded[gap.start : gap.end])
    for hit in hits:
        for index in range(max(hit.span.start, gap.start), min(hit.span.end, gap.end)):
            characters[index - gap.start] = " "
    return len(_TOKEN_RE.findall("".join(characters)))


def _same_clause(gap: _Span, breaks: Sequence[_Span]) -> bool:
    return not any(gap.start <= brk.start < gap.end for brk in breaks)


def _governs(folded: str, gap: _Span, hits: Sequence[_Hit], breaks: Sequence[_Span]) -> bool:
    return _same_clause(gap, breaks) and _gap_tokens(folded, gap, hits) <= _MAX_GAP_TOKENS


def _is_exempt(folded: str, hit: _Hit, hits: Sequence[_Hit], markers: Sequence[tuple[_Role, _Span]]) -> bool:
    """True when a negation or legal verdict governs the term (the rule in the module docstring)."""
    breaks = [_Span(m.start(), m.end()) for m in _CLAUSE_BREAK_RE.finditer(folded)]
    refers_to_law = _LAW_OR_COMPANY_RE.search(folded) is not None
    for role, marker in markers:
        if role in (_Role.BEFORE_IF_LAW, _Role.AFTER_IF_LAW) and not refers_to_law:
            continue
        if role in (_Role.BEFORE, _Role.BEFORE_IF_LAW) and marker.end <= hit.span.start:
            gap = _Span(marker.end, hit.span.start)
        elif role in (_Role.AFTER, _Role.AFTER_IF_LAW) and marker.start >= hit.span.end:
            gap = _Span(hit.span.end, marker.start)
        else:
            continue
        if _governs(folded, gap, hits, breaks):
            return True
    return False


def _neutral_families(folded: str) -> frozenset[Family]:
    """Families whose words this sentence uses lawfully: a maintenance outage, a safety tip or a service
    the owner asked for, with no payment tie (a works notice to everyone also when posted in the
    owners' group); the 公示 of the fee's accounts that points at no debtor (民法典 943); a credit
    sanction stated as what only a judgment brings; a security rule for outsiders."""
    neutral: set[Family] = set()
    on_request = _ON_REQUEST_RE.search(folded)
    tied = _ties(folded)
    if (_MAINTENANCE_RE.search(folded) or _SAFETY_TIP_RE.search(folded) or on_request) and not _PAYMENT_RE.search(tied):
        neutral |= {Family.UTILITY_CUTOFF, Family.ACCESS_BLOCKING}
    works_notice_for_all = bool(_MAINTENANCE_RE.search(folded)) and not (
        _PAYMENT_RE.search(tied) or _TARGETED_RE.search(tied)
    )
    if (_ACCOUNTS_RE.search(folded) or works_notice_for_all) and not _DEBTOR_INFO_RE.search(tied):
        neutral.add(Family.PUBLIC_SHAMING)  # the accounts, or a works notice to everyone, shared
    if _JUDGMENT_RULE_RE.search(folded):  # the rule: only a judgment brings these (lists included)
        neutral |= {Family.CREDIT_SANCTION, Family.PUBLIC_SHAMING}
    if _SECURITY_RULE_RE.search(folded) and not _PAYMENT_RE.search(tied):
        neutral.add(Family.ACCESS_BLOCKING)
    return frozenset(neutral)


# The letters of a run repeat their templates' prose: 19,850 letters have 812,225 sentences, of
# which 24 % distinct. The check is pure, so it runs once per distinct sentence (75 % hits; the run's
# CPU a third lower). A tuple, so no caller can change a result another caller is given.
@lru_cache(maxsize=65_536)
def check_sentence(sentence: str) -> tuple[Violation, ...]:
    """The violations in one sentence."""
    folded = fold(sentence)
    found_hits = _find_hits(folded)
    neutral = _neutral_families(folded) if found_hits else frozenset()
    hits = [hit for hit in found_hits if hit.family not in neutral]
    # A marker that is part of a forbidden term ("禁止停车", "may not use the lift") exempts nothing.
    markers = [(role, span) for role, span in _markers_in(folded) if not any(span.overlaps(hit.span) for hit in hits)]
    found = tuple(
        Violation(hit.family, sentence, sentence[hit.span.start : hit.span.end])
        for hit in hits
        if not _is_exempt(folded, hit, hits, markers)
    )
    if found or hits:  # a term judged lawful (a promise, the rule) is not judged again below
        return found
    condition = _condition_and_action(folded)
    if condition is not None:  # the rules read the consequence: a lawful route, a promise, or pressure
        other = _other_consequence(folded, markers, *condition)
        return () if other is None else (Violation(other[0], sentence, sentence[other[1].start : other[1].end]),)
    if found_hits:  # a family's words used lawfully: a notice, the accounts, the rule
        return ()
    family = _model_reading(folded)
    return () if family is None else (Violation(family, sentence, sentence.rstrip("。.!！?？;；")),)


def _model_reading(folded: str) -> Family | None:
    """The trained reading of a sentence the rules left undecided: only one with content, that is no
    neutral notice, no promise that service goes on and no document sent to the owner alone."""
    if _MODEL_CONTENT_RE.search(folded) is None:
        return None  # checked first: most sentences of a letter stop here, cheaply
    if any(cue.search(folded) for cue in (_MODEL_PROMISE_RE, _MODEL_TO_THE_OWNER_RE, _MODEL_OWN_TERM_RE)):
        return None
    if _neutral_families(folded):
        return None
    family = model_family(folded, _MODEL_CONTENT_RE, _MODEL_BLOCK_BELOW_LAWFUL)
    return None if family is None else Family(family)


def _condition_and_action(folded: str) -> tuple[re.Match[str], re.Match[str]] | None:
    """A condition of not paying and what the sentence says will then happen ("逾期未缴，将…", "if you
    do not pay, we will …"), or None when it states no such consequence."""
    condition = _NOT_PAYING_RE.search(folded)
    action = None if condition is None else _ACTION_RE.search(folded, condition.end())
    return None if condition is None or action is None else (condition, action)


def _other_consequence(
    folded: str, markers: Sequence[tuple[_Role, _Span]], condition: re.Match[str], action: re.Match[str]
) -> tuple[Family, _Span] | None:
    """Something other than a lawful route made to follow from not paying (the last rule of the
    module docstring), as (family, the words from the condition to the sentence's end)."""
    rest = folded[action.start() :]
    if _LAWFUL_ROUTE_RE.search(rest):
        return None  # a reminder, the late fee, help, mediation, a suit, arbitration, a payment order
    if any(role is _Role.BEFORE and span.start >= action.start() for role, span in markers):
        return None  # a promise not to ("即使未缴费，我们也不会…")
    span = _Span(condition.start(), len(folded.rstrip("。.!！?？;；")))
    family = next((c.family for c in _CONSEQUENCES if c.objects.search(rest)), Family.COERCION)
    return family, span


def check_text(text: str) -> list[Violation]:
    """Every violation in a plain-text letter, in reading order."""
    return [violation for sentence in split_sentences(text) for violation in check_sentence(sentence)]


# --------------------------------------------------------------------------------------------------
# HTML, PDF, files and templates (read by feesvc.letters.letter_text)
# --------------------------------------------------------------------------------------------------


def check_html(html: str) -> list[Violation]:
    """Every violation in an HTML letter's visible text."""
    return check_text(html_to_text(html))


def check_pdf(path: str | Path) -> list[Violation]:
    """Every violation in a PDF letter."""
    return check_text(pdf_to_text(path))


def _check_markup_or_text(text: str, html_hint: bool = False) -> list[Violation]:
    text = strip_template_tags(text)
    if html_hint or LOOKS_LIKE_HTML_RE.search(text):
        return check_html(text)
    return check_text(text)


def check_file(path_or_dash: str | Path, stdin: TextIO | None = None) -> list[Violation]:
    """Check a letter file: PDF (by ``%PDF`` magic or suffix), HTML (suffix or tags) or text; ``-`` is stdin."""
    if str(path_or_dash) == "-":
        return _check_markup_or_text(read_stdin(stdin or sys.stdin))
    path = Path(path_or_dash)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LetterCheckError(f"cannot read {path}: {error.strerror or error}") from error
    if data.lstrip()[:5] == b"%PDF-" or path.suffix.lower() == ".pdf":
        return check_pdf(path)
    return _check_markup_or_text(decode_letter(data, str(path)), html_hint=path.suffix.lower() in HTML_SUFFIXES)
