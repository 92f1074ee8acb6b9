"""Reading a staff note: normalisation, sentences, clauses, who speaks, quotes and contrast.

Notes are normalised (Traditional → Simplified with the map in ``lexicon/traditional.toml``, lower
case, full-width → half-width); every step keeps the length, so a match position in the normalised
text is the same position in the original and quotes stay verbatim. Each note is cut into sentences
and clauses, and every clause gets a speaker: the owner (or the owner's family), staff (explaining,
informing), a third party (neighbour, tenant) or plain narration. The cues live in
``lexicon/speech.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from feesvc.arrears import lexicon_data

T2S_PAIRS: Final[str] = lexicon_data.load("traditional.toml")["pairs"]


def _build_t2s() -> dict[int, str]:
    table: dict[int, str] = {}
    for token in T2S_PAIRS.split():
        table[ord(token[0])] = token[1]
    return table


T2S: Final[Mapping[int, str]] = _build_t2s()
# Traditional → Simplified, full-width ASCII (，：！？ＡＢ１) → half-width, ideographic space → space.
_FOLD: Final[dict[int, str]] = {
    **T2S,
    **{code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
    0x3000: " ",
}


def normalise_text(text: str) -> str:
    """Simplified, lower-case, half-width text of exactly the same length as ``text``.

    Same length is the point: a match at position i..j in the result is the same span in the
    original, so signals can quote the owner verbatim.
    """
    folded = text.translate(_FOLD)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters lower-case to two ("İ"): keep those as they are.
    return "".join(low if len(low) == 1 else ch for ch in folded for low in (ch.lower(),))


class Speaker(StrEnum):
    OWNER = "owner"  # the owner or the owner's family, explicitly
    NARRATION = "narration"  # staff reporting what happened, no explicit speaker
    THIRD_PARTY = "third_party"  # neighbour, tenant
    STAFF = "staff"  # staff explaining or informing


_SPEECH: Final = lexicon_data.load("speech.toml")


def _cue(name: str) -> re.Pattern[str]:
    return re.compile(lexicon_data.cue_pattern(_SPEECH[name], name))


_SENTENCE_END: Final = re.compile(r"[。!?\n]+|(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bdr)\.(?=\s|$|['\"”’])", re.ASCII)
# A semicolon joins the parts of one thought ("the flat is empty; why pay for nothing?"): a clause.
_CLAUSE_END: Final = re.compile(r"[,:、;]")
_QUOTE_SPANS: Final = re.compile(r"“[^”]*”?|「[^」]*」?|『[^』]*』?|\"[^\"]*\"|(?<!\w)'.+?'(?!\w)", re.ASCII)
_CLAUSE_LEAD: Final = re.compile(r"[\s“”「」『』\"'(（]*")
_STAFF_CUE: Final = _cue("staff")
_STAFF_UNLESS_OWNER_CUE: Final = _cue("staff_unless_owner")
_THIRD_PARTY_CUE: Final = _cue("third_party")
_OWNER_CUE: Final = _cue("owner")
_OWNER_SPEAKING_CUE: Final = _cue("owner_speaking")
_CONTRAST: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["contrast"], "contrast"), re.ASCII)
_ADDITION: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["addition"], "addition"), re.ASCII)
_QUESTION: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["question"], "question"), re.ASCII)
_RETRACTION: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["retraction"], "retraction"), re.ASCII)
_RESOLUTION: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["resolution"], "resolution"), re.ASCII)
_PRESSED: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["pressed"], "pressed"), re.ASCII)
GUESS: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["guess"], "guess"), re.ASCII)
_RANKED_FIRST: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["ranked_first"], "ranked_first"), re.ASCII)
_REFERS_BACK: Final = re.compile(r"[\s“”「」\"']*(?:这|那|此|that|this|these|those|it)", re.ASCII)
_ZH_NEGATED: Final = _cue("negated_zh")
_EN_NEGATED: Final = re.compile(lexicon_data.cue_pattern(_SPEECH["negated_en"], "negated_en"), re.ASCII)

EMPHASIS_FACTOR: Final = 1.5  # after "但/主要是/but/mainly"
CONCESSION_FACTOR: Final = 0.75  # before it: conceded, still present, not the main point
QUESTION_FACTOR: Final = 0.5  # "询问空屋是否可以减免": asking is not yet claiming
RETRACTED_FACTOR: Final = 0.25  # what the owner took back ("上次说的…是气话")
GUESS_FACTOR: Final = 0.5  # staff's or a third party's guess ("客服估计业主手头紧")


@dataclass(frozen=True)
class Clause:
    start: int
    end: int
    speaker: Speaker


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    clauses: tuple[Clause, ...]
    markers: tuple[int, ...]  # contrast marker positions
    additions: tuple[int, ...] = ()  # "另外/also": what follows is a lesser point
    question: bool = False  # the owner asks rather than claims (weighs a belief, QUESTION_FACTOR)
    retracted_before: int = -1  # the owner takes back what stands before this position
    ranked: tuple[int, int] | None = None  # the span the owner ranks as the main reason
    ranks_previous: bool = False  # "这是主要原因": the main reason is the sentence before

    def is_ranked(self, pos: int) -> bool:
        return self.ranked is not None and self.ranked[0] <= pos < self.ranked[1]

    def clause_at(self, pos: int) -> Clause:
        for clause in self.clauses:
            if clause.start <= pos < clause.end:
                return clause
        return self.clauses[-1]

    def contrast_factor(self, pos: int) -> float:
        """How much the sentence's own structure weighs a match at ``pos``."""
        factor = 1.0
        if pos < self.retracted_before:
            factor *= RETRACTED_FACTOR
        if any(addition < pos for addition in self.additions):
            # "主要是A；另外B": B is a lesser point, whatever stress came before it
            return factor * CONCESSION_FACTOR
        if any(marker > pos for marker in self.markers):
            return factor * CONCESSION_FACTOR
        if self.markers:
            return factor * EMPHASIS_FACTOR
        return factor


@dataclass(frozen=True)
class NoteText:
    """One note (or complaint) text, normalised and cut up."""

    original: str
    norm: str
    sentences: tuple[Sentence, ...]
    quoted: tuple[tuple[int, int], ...]
    retracts: bool = False  # the owner takes back something an earlier note recorded
    resolves: bool = False  # the owner accepted the explanation of a belief
    presses: bool = False  # the owner still refuses after the answer: a question here is a claim

    def is_quoted(self, pos: int) -> bool:
        return any(start < pos < end for start, end in self.quoted)

    def is_negated(self, sentence: Sentence, pos: int) -> bool:
        before = self.norm[max(sentence.start, pos - 20) : pos]
        return bool(_ZH_NEGATED.search(before) or _EN_NEGATED.search(before))

    def quote(self, sentence: Sentence, start: int, end: int) -> str:
        """The clauses spanning [start, end), cut to the owner's quoted words when the match lies
        inside a quotation, trimmed of punctuation and quote marks."""
        begin = sentence.clause_at(start).start
        finish = sentence.clause_at(max(start, end - 1)).end
        for q_start, q_end in self.quoted:
            if q_start < start and end <= q_end:
                begin, finish = max(begin, q_start + 1), min(finish, q_end)
        return self.original[begin:finish].strip(" \t\n,，:：、。.!！?？;；“”「」『』\"'()（）")


@lru_cache(maxsize=64)  # one case: the rules and the model's quote both read each note
def analyse(original: str) -> NoteText:
    norm = normalise_text(original)
    quoted = tuple((m.start(), m.end()) for m in _QUOTE_SPANS.finditer(norm))
    sentences = tuple(_sentence(norm, start, end, quoted) for start, end in _spans(norm, _SENTENCE_END, 0, len(norm)))
    return NoteText(
        original,
        norm,
        sentences,
        quoted,
        retracts=_RETRACTION.search(norm) is not None,
        resolves=_RESOLUTION.search(norm) is not None,
        presses=_PRESSED.search(norm) is not None,
    )


def _spans(text: str, separator: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """Non-empty pieces of text[start:end] between separators (separators stay with the piece
    before them, so a quote never loses its closing mark)."""
    spans, begin = [], start
    for match in separator.finditer(text, start, end):
        if match.end() > begin:
            spans.append((begin, match.end()))
        begin = match.end()
    if begin < end:
        spans.append((begin, end))
    return [(a, b) for a, b in spans if text[a:b].strip(" ,:、。!?;.\n")]


def _sentence(norm: str, start: int, end: int, quoted: tuple[tuple[int, int], ...]) -> Sentence:
    clauses: list[Clause] = []
    markers = [m.start() for m in _CONTRAST.finditer(norm, start, end)]
    speaker, seen_negation = Speaker.NARRATION, False
    for c_start, c_end in _spans(norm, _CLAUSE_END, start, end):
        lead = _CLAUSE_LEAD.match(norm, c_start)
        head = lead.end() if lead else c_start
        inside_quote = any(q_start < head < q_end for q_start, q_end in quoted)
        if not inside_quote:  # inside a quote the speaker is whoever is being quoted
            speaker = _speaker_cue(norm, head, speaker) or speaker
        # "不是A，是B": a clause opening with 是 after a denial is the real point.
        if seen_negation and norm.startswith("是", head):
            markers.append(head)
        seen_negation = seen_negation or "不是" in norm[c_start:c_end]
        clauses.append(Clause(c_start, c_end, speaker))
    if not clauses:
        clauses.append(Clause(start, end, speaker))
    retraction = _RETRACTION.search(norm, start, end)
    ranked, ranks_previous = _ranked_span(norm, clauses, start, end)
    return Sentence(
        start,
        end,
        tuple(clauses),
        tuple(sorted(markers)),
        additions=tuple(m.start() for m in _ADDITION.finditer(norm, start, end)),
        question=_QUESTION.search(norm, start, end) is not None,
        # the retracted words stand in the clause of the cue or before it
        retracted_before=-1 if retraction is None else next(c.end for c in clauses if c.end >= retraction.end()),
        ranked=ranked,
        ranks_previous=ranks_previous,
    )


def _ranked_span(norm: str, clauses: list[Clause], start: int, end: int) -> tuple[tuple[int, int] | None, bool]:
    """Where the owner's "main reason" is: the cue's clause, and the next one when the cue ends its
    clause ("主要原因是，…"); or, for "这是主要原因", the sentence before."""
    cue = _RANKED_FIRST.search(norm, start, end)
    if cue is None:
        return None, False
    index = next(i for i, c in enumerate(clauses) if c.end >= cue.end())
    clause = clauses[index]
    finish = clause.end
    if len(norm[cue.end() : clause.end].strip(" ,:、。!?;.")) <= 1 and index + 1 < len(clauses):
        finish = clauses[index + 1].end
    refers_back = _REFERS_BACK.match(norm, clause.start) is not None and len(norm[clause.start : cue.start()]) <= 4
    if not refers_back:
        return (clause.start, finish), False
    # "…，这是不交的主要原因": the clauses before it in this sentence, or else the sentence before
    return (start, clause.end), index == 0


def _speaker_cue(norm: str, pos: int, current: Speaker) -> Speaker | None:
    # Staff first: "向朱先生出示…" is staff speaking to the owner, not the owner.
    for cue, speaker in (
        (_STAFF_CUE, Speaker.STAFF),
        (_STAFF_UNLESS_OWNER_CUE, None if current is Speaker.OWNER else Speaker.STAFF),
        (_THIRD_PARTY_CUE, Speaker.THIRD_PARTY),
        (_OWNER_CUE, Speaker.OWNER),
    ):
        if cue.match(norm, pos):
            if speaker is Speaker.OWNER and current is Speaker.THIRD_PARTY and not _OWNER_SPEAKING_CUE.match(norm, pos):
                return None  # "邻居说，业主好像失业了": still the neighbour's report
            return speaker
    return None
