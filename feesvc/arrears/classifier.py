"""Why is this owner not paying? A transparent, rule-based arrears cause classifier (the engine).

The training material's "三维分析" sorts non-paying owners into three causes, each with its own
playbook (DOMAIN.md, "Why owners don't pay"): hardship 经济困难型, service dissatisfaction 服务不满型
and misunderstanding 认知偏差型; ``unknown`` when the case gives no usable reason.

How a case is read (deterministic; every piece of evidence becomes a ``Signal`` saying where it came from):

1. Each note is normalised and cut into sentences and clauses with a speaker (``note_text``):
   the owner's own quoted words weigh most, staff explanations least.
2. The lexicon rules (``rulebook``, data in ``lexicon/*.toml``) fire on sentences. A rule's weight
   is scaled by the speaker, by contrast ("但/主要是/but/mainly" weights what follows, concedes
   what precedes; "不是A，是B"), and by age. A negated match ("不是没钱") does not fire. Denials
   ("不是钱的事", "money is not the issue") stop a cause from being the main one. A staff member's or
   a neighbour's guess ("客服估计…", "probably") weighs half of their report; a question weighs half
   unless the owner presses it (still refuses after the answer).
3. Complaints that are open, or closed with the owner unsatisfied, are dissatisfaction signals;
   one closed to the owner's satisfaction is not a reason by itself.
4. The payment pattern (paying later and later, partial payments, paid regularly then stopped)
   adds weak hardship evidence, and a recorded vacancy corroborates an owner's vacancy claim,
   but neither can decide a case on its own.
5. Notes relate to each other: a later note that retracts a claim ("上次说的…是气话") or records
   the owner accepting an explanation settles what came before; generic words of a belief ("凭什么
   交", "insists") yield to a specific reason of another cause in the same note; complaints the
   notes never raise weigh half beside another reason in the owner's words.
6. A cause needs one piece of evidence of some weight (hints and guesses alone decide nothing); the
   trained reading of the owner's words is such evidence when it is sure of the cause, or sure that the
   words speak to some cause (``unknown`` only when nothing in the case does).
   The cause the owner ranks first ("失业是主要原因", "mainly") wins; else the top score, unless the
   owner denied it as the reason; a second cause the owner clearly raised becomes ``secondary``.
   Confidence comes from the margin between the scores.

Amounts stay integer fen; the only floats here are rule weights, scores and the confidence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from feesvc.arrears import lexicon_data
from feesvc.arrears.case_record import (
    CAUSES,
    COMPLAINT_CATEGORIES,
    COMPLAINT_STATUSES,
    LOCALES,
    Belief,
    CaseFacts,
    CaseFormatError,
    Category,
    Complaint,
    Note,
    Origin,
    PaymentEntry,
    case_facts_from_record,
)
from feesvc.arrears.cause_model import MODEL_PATH, ModelReading, read_case
from feesvc.arrears.note_text import (
    GUESS,
    GUESS_FACTOR,
    QUESTION_FACTOR,
    RETRACTED_FACTOR,
    T2S,
    T2S_PAIRS,
    NoteText,
    Sentence,
    Speaker,
    analyse,
    normalise_text,
)
from feesvc.arrears.playbook import BELIEF_EXPLANATIONS, Approach, approach_for
from feesvc.arrears.record_signals import Signal, payment_signals, vacancy_signal
from feesvc.arrears.rulebook import (
    COMPLAINT_TEXT_RULES,
    HARDSHIP_RULES,
    MISUNDERSTANDING_RULES,
    NOTE_RULES,
    SERVICE_RULES,
    Rule,
)

__all__ = [
    "BELIEF_EXPLANATIONS",
    "CAUSES",
    "COMPLAINT_CATEGORIES",
    "COMPLAINT_STATUSES",
    "HARDSHIP_RULES",
    "LOCALES",
    "MISUNDERSTANDING_RULES",
    "NOTE_RULES",
    "SERVICE_RULES",
    "T2S",
    "T2S_PAIRS",
    "VERSION",
    "Approach",
    "Belief",
    "CaseFacts",
    "CaseFormatError",
    "Category",
    "Classification",
    "Complaint",
    "Note",
    "Origin",
    "PaymentEntry",
    "Signal",
    "approach_for",
    "case_facts_from_record",
    "classification_as_dict",
    "classify",
    "normalise_text",
]

RECORD_SIGNALS_PATH: Final = Path(__file__).with_name("record_signals.py")
#: Which rules produced a classification: the engine, its record signals, every lexicon file, the model.
VERSION: Final = (
    "rules-sha256:"
    + hashlib.sha256(
        Path(__file__).read_bytes()
        + RECORD_SIGNALS_PATH.read_bytes()
        + lexicon_data.digest().encode()
        + MODEL_PATH.read_bytes()
    ).hexdigest()[:16]
)


@dataclass(frozen=True)
class Classification:
    category: Category
    secondary: Category | None  # never UNKNOWN, never equal to category
    confidence: float  # in [0, 1]
    signals: tuple[Signal, ...]  # strongest first
    approach: Approach
    scores: tuple[tuple[Category, float], ...]  # per cause, in CAUSES order


SPEAKER_WEIGHT: Final[Mapping[Speaker, float]] = {
    Speaker.OWNER: 1.0,
    Speaker.NARRATION: 0.9,
    Speaker.THIRD_PARTY: 0.3,  # hearsay (a neighbour, the tenant): not the owner's own reason
    Speaker.STAFF: 0.3,  # the staff's own explanation says little about the owner's reason
}
QUOTED_FACTOR: Final = 1.25  # the owner's words, verbatim
_GENERIC: Final[Mapping[str, bool]] = {rule.name: rule.generic for rule in NOTE_RULES}
_CHINESE: Final = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN: Final = re.compile(r"[a-z]")
COMPLAINT_BESIDE_OTHER_REASON: Final = 0.5
RANKABLE_WEIGHT: Final = 1.0  # a hint ('refuses') cannot be what the owner ranks first
STALE_AFTER: Final = timedelta(days=365)
STALE_FACTOR: Final = 0.5

# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


def _text_signals(
    text: NoteText, origin: Origin, source: str, rules: Sequence[Rule], age_factor: float
) -> list[Signal]:
    """The strongest firing of each rule in one text (a rule repeated in one note counts once)."""
    fired: list[Signal] = []
    previous: list[Signal] = []
    # One search over the whole text first: most rules match nowhere in a note (and this is most of
    # the classifier's time on 100,000 cases).
    has_chinese, has_latin = _CHINESE.search(text.norm) is not None, _LATIN.search(text.norm) is not None
    candidates = [
        (rule, pattern)
        for rule in rules
        if (pattern := rule.pattern_for(has_chinese, has_latin)) is not None and pattern.search(text.norm)
    ]
    for sentence in text.sentences:
        here = [
            s
            for rule, pattern in candidates
            if (s := _fire(rule, pattern, text, sentence, origin, source, age_factor)) is not None
        ]
        if sentence.ranks_previous and not any(s.ranked_first for s in here):
            # "…，这是不交的主要原因": the sentence before holds the main reason
            fired = [replace(s, ranked_first=s.weight >= RANKABLE_WEIGHT) if s in previous else s for s in fired]
        fired += here
        previous = here
    best: dict[str, Signal] = {}
    for signal in fired:
        kept = best.get(signal.rule)
        if kept is None or signal.weight > kept.weight:
            best[signal.rule] = replace(signal, ranked_first=signal.ranked_first or bool(kept and kept.ranked_first))
        elif signal.ranked_first and not kept.ranked_first:
            best[signal.rule] = replace(kept, ranked_first=True)
    return list(best.values())


def _fire(
    rule: Rule,
    pattern: re.Pattern[str],
    text: NoteText,
    sentence: Sentence,
    origin: Origin,
    source: str,
    age_factor: float,
) -> Signal | None:
    """The rule's signal in this sentence (``pattern``: the rule's, for the text's scripts), or None.
    Only the first firing counts."""
    match = _first_match(pattern, rule, text, sentence)
    if match is None:
        return None
    start, end = match.start(), match.end()
    for condition in rule.requires:  # quote both halves of a paired rule ("空着" … "凭什么收钱")
        required = _first_match(condition, rule, text, sentence)
        if required is None:
            return None
        start, end = min(start, required.start()), max(end, required.end())
    weight = rule.weight * _speaker_factor(text, sentence, match.start())
    weight *= sentence.contrast_factor(match.start()) * age_factor
    if sentence.question and rule.cause is Category.MISUNDERSTANDING and not text.presses:
        weight *= QUESTION_FACTOR  # "空置房是否可以减免？" asks; it does not yet claim (unless pressed)
    return Signal(
        cause=rule.cause,
        weight=round(weight, 3),
        origin=origin,
        source=source,
        quote=text.quote(sentence, start, end),
        rule=rule.name,
        verbatim=True,
        belief=rule.belief,
        denial=rule.denial,
        ranked_first=sentence.is_ranked(match.start()) and rule.weight >= RANKABLE_WEIGHT,
    )


def _first_match(pattern: re.Pattern[str], rule: Rule, text: NoteText, sentence: Sentence) -> re.Match[str] | None:
    """The first match in the sentence that no negator cancels ("空置房不免" is no exemption claim)."""
    for match in pattern.finditer(text.norm, sentence.start, sentence.end):
        if not (rule.negatable and text.is_negated(sentence, match.start())):
            return match
    return None


def _speaker_factor(text: NoteText, sentence: Sentence, pos: int) -> float:
    clause = sentence.clause_at(pos)
    speaker = clause.speaker
    if text.is_quoted(pos) and speaker in (Speaker.OWNER, Speaker.NARRATION):
        return QUOTED_FACTOR
    if speaker in (Speaker.STAFF, Speaker.THIRD_PARTY) and GUESS.search(text.norm, clause.start, clause.end):
        return SPEAKER_WEIGHT[speaker] * GUESS_FACTOR  # a guess about the owner, not a report of them
    return SPEAKER_WEIGHT[speaker]


def _age_factor(on: date, as_of: date) -> float:
    return STALE_FACTOR if as_of - on > STALE_AFTER else 1.0


def _note_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    """Each note's signals; a later note can take back earlier ones.

    When the owner retracts an earlier claim ("上次说的免物业费是气话"), every earlier note weighs
    little; when the owner accepted the explanation of a belief ("说明后业主表示了解"), the
    misunderstandings recorded up to then are settled.
    """
    per_note: list[list[Signal]] = []
    for note in facts.notes:
        if note.on > as_of:  # a note written after the as-of date is not known yet
            continue
        text = analyse(note.text)
        signals = _without_yielding(
            _text_signals(text, Origin.NOTE, note.source, NOTE_RULES, _age_factor(note.on, as_of))
        )
        if text.retracts:
            per_note = [[_scaled(signal, RETRACTED_FACTOR) for signal in signals] for signals in per_note]
        if text.resolves:
            per_note = [
                [_scaled(s, RETRACTED_FACTOR) if s.cause is Category.MISUNDERSTANDING else s for s in signals]
                for signals in [*per_note, signals]
            ]
        else:
            per_note.append(signals)
    return [signal for signals in per_note for signal in signals]


def _without_yielding(signals: list[Signal]) -> list[Signal]:
    """One note's signals without its generic ones ("凭什么交") where the note gives a specific
    reason of another cause ("服务太差，垃圾没人清"): the generic words then serve that reason."""
    specific = {s.cause for s in signals if s.weight >= 1.0 and not s.denial and not _GENERIC.get(s.rule, False)}
    return [s for s in signals if not (_GENERIC.get(s.rule, False) and specific - {s.cause})]


def _scaled(signal: Signal, factor: float) -> Signal:
    return replace(signal, weight=round(signal.weight * factor, 3))


def _complaint_signals(facts: CaseFacts, as_of: date) -> list[Signal]:
    signals: list[Signal] = []
    for complaint in facts.complaints:
        if complaint.opened > as_of:
            continue
        closed_by_then = complaint.status == "closed" and (complaint.closed is None or complaint.closed <= as_of)
        if closed_by_then and complaint.owner_satisfied is not False:
            continue  # fixed to the owner's satisfaction (or no verdict): not a reason by itself
        state, weight = ("closed, owner not satisfied", 1.5) if closed_by_then else ("open", 2.0)
        age = _age_factor(complaint.opened, as_of)
        signals.append(
            Signal(
                cause=Category.SERVICE_DISSATISFACTION,
                weight=weight * age,
                origin=Origin.COMPLAINT,
                source=complaint.source,
                quote=f"{complaint.source}: {state}",
                rule=f"service_dissatisfaction.complaint_{'unsatisfied' if closed_by_then else 'open'}",
                verbatim=False,
            )
        )
        signals += _text_signals(analyse(complaint.text), Origin.COMPLAINT, complaint.source, COMPLAINT_TEXT_RULES, age)
    return signals


def _complaints_beside_the_notes(complaints: list[Signal], notes: Sequence[Signal]) -> list[Signal]:
    """Complaints weigh half when the notes give another reason and never raise the service: the
    owner's own words come first (FORMAT.md), and an old open ticket is not why they do not pay."""
    service_in_notes = any(s.cause is Category.SERVICE_DISSATISFACTION and s.weight > 0 for s in notes)
    other_reason = any(s.cause is not Category.SERVICE_DISSATISFACTION and s.weight >= 1.5 for s in notes)
    if service_in_notes or not other_reason:
        return complaints
    return [_scaled(signal, COMPLAINT_BESIDE_OTHER_REASON) for signal in complaints]


# ---------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------

MIN_PRIMARY_SCORE: Final = 1.0  # below this a cause is not a usable signal
MIN_SECONDARY_SCORE: Final = 1.5
MODEL_WEIGHT: Final = 3.0  # a sure reading weighs as a strong rule (lexicon weights 0.5–3)
MODEL_SURE: Final = 0.5  # below this the model is not sure of any cause: it adds nothing
MODEL_ALONE_SURE: Final = 0.75  # ... and below this, of a cause no rule saw
# ... unless it reads the owner's words as surely not "unknown": then they speak to a cause and the case
# is not unknown (on _dev3, which the model never trains on, its unknowns all read P ≥ 0.41). The
# branch judge6 chose 0.1 and 0.55 above; the lead set 0.03 and 0.75, the values at which the rules'
# own requirements hold (tests/arrears: a bare vacancy, a conceded "not mainly money", an owner's
# "why should he pay for nothing" are not the model's to decide); _dev3 scores 159/160 either way.
MODEL_SPEAKS_TO_A_CAUSE: Final = 0.03
MIN_STRONGEST: Final = 0.75  # a staff guess (0.3 x a strong rule) or a hint alone cannot decide
DECIDING_ORIGINS: Final = frozenset({Origin.NOTE, Origin.COMPLAINT})


def classify(facts: CaseFacts, today: date | None = None) -> Classification:
    """Classify one case as of ``today``.

    ``today`` defaults to the case's latest dated event, never the wall clock, so the same
    input always gives the same answer. Notes, complaints and payments dated after ``today``
    are ignored: the case is read as it stood on that day.
    """
    as_of = today or _latest_event(facts)
    notes = _note_signals(facts, as_of)
    signals = notes + _complaints_beside_the_notes(_complaint_signals(facts, as_of), notes)
    signals += payment_signals(facts, as_of)
    signals += vacancy_signal(facts, signals)
    reading = read_case(facts, as_of, quote_from=MODEL_SURE, or_unknown_below=MODEL_SPEAKS_TO_A_CAUSE)
    if reading is not None and reading.quote and reading.category is not Category.UNKNOWN:
        # Where no rule saw the cause at all, the model must be surer: the rules know what a bare
        # fact ("房子一直空着") or staff's own explanation is not.
        seen = any(s.cause is reading.category and s.weight > 0 and s.origin in DECIDING_ORIGINS for s in signals)
        owners_words = any(SPEAKER_WEIGHT[x] >= SPEAKER_WEIGHT[Speaker.NARRATION] for x in reading.speakers)
        speaks = reading.unknown_probability < MODEL_SPEAKS_TO_A_CAUSE
        if owners_words and (reading.probability >= (MODEL_SURE if seen else MODEL_ALONE_SURE) or speaks):
            signals.append(_model_signal(reading))
    scores = _scores(signals)
    category, secondary = _decide(scores, signals)
    confidence = _confidence(category, scores)
    return Classification(
        category=category,
        secondary=secondary,
        confidence=confidence,
        signals=tuple(sorted(signals, key=lambda s: (-s.weight, s.source, s.rule))),
        approach=approach_for(category, _belief(signals) if category is Category.MISUNDERSTANDING else None),
        scores=tuple((cause, round(scores[cause], 3)) for cause in CAUSES),
    )


def _model_signal(reading: ModelReading) -> Signal:
    """The sentence the model read the cause in, verbatim: evidence weighed with the rules' own, as
    strong as a strong rule when the model is sure (the owner's denial or ranking still decides)."""
    assert reading.quote is not None
    # Staff's guesses and hearsay weigh as little as the rules weigh them; words that surely speak to a
    # cause (MODEL_SPEAKS_TO_A_CAUSE) weigh at least as a usable cause.
    speaker = max((SPEAKER_WEIGHT[x] for x in reading.speakers), default=1.0)
    floor = MIN_PRIMARY_SCORE if reading.unknown_probability < MODEL_SPEAKS_TO_A_CAUSE else 0.0
    return Signal(
        cause=reading.category,
        weight=round(max(MODEL_WEIGHT * reading.probability, floor) * speaker, 3),
        origin=reading.origin,
        source=reading.source,
        quote=reading.quote,
        rule=f"model.{reading.category.value}",
        verbatim=True,
    )


def _latest_event(facts: CaseFacts) -> date:
    dates = [note.on for note in facts.notes]
    dates += [d for complaint in facts.complaints for d in (complaint.opened, complaint.closed) if d is not None]
    dates += [entry.paid_on for entry in facts.payment_history or () if entry.paid_on is not None]
    return max(dates, default=date.max)


def _scores(signals: Iterable[Signal]) -> dict[Category, float]:
    totals = dict.fromkeys(CAUSES, 0.0)
    for signal in signals:
        totals[signal.cause] += signal.weight
    return {cause: max(0.0, total) for cause, total in totals.items()}


def _has_evidence(cause: Category, signals: Iterable[Signal], origins: frozenset[Origin]) -> bool:
    return any(s.cause is cause and s.weight > 0 and s.origin in origins for s in signals)


def _deciding_score(cause: Category, signals: Iterable[Signal]) -> float:
    """The cause's score from notes and complaints alone: the payment pattern and the unit record
    corroborate, they never lift a hint (a neighbour's "好像挺困难的") to a cause."""
    return sum(s.weight for s in signals if s.cause is cause and s.origin in DECIDING_ORIGINS)


def _strongest(cause: Category, signals: Iterable[Signal]) -> float:
    """The cause's strongest single piece of evidence from notes and complaints: a cause built only
    from hints and hearsay ("管家判断业主可能经济困难，建议走分期") has none that weighs."""
    return max((s.weight for s in signals if s.cause is cause and s.origin in DECIDING_ORIGINS), default=0.0)


def _decide(scores: Mapping[Category, float], signals: Sequence[Signal]) -> tuple[Category, Category | None]:
    ranked = sorted(CAUSES, key=lambda cause: (-scores[cause], CAUSES.index(cause)))
    usable = [
        cause
        for cause in ranked
        if _deciding_score(cause, signals) >= MIN_PRIMARY_SCORE and _strongest(cause, signals) >= MIN_STRONGEST
    ]
    if not usable:
        return Category.UNKNOWN, None
    # The owner ranks the causes: one they explicitly denied ("不是钱的事") is not the main one
    # while another cause is on the table.
    denied = {s.cause for s in signals if s.denial}
    # ... and one they called the main reason ("失业是主要原因") comes first.
    first = {s.cause for s in signals if s.ranked_first and s.origin is Origin.NOTE} - denied
    primary = next((cause for cause in usable if cause in first), None)
    primary = primary or next((cause for cause in usable if cause not in denied), usable[0])
    # A second cause counts only if the owner raised it in a note: "clearly present".
    secondary = next(
        (
            cause
            for cause in ranked
            if cause is not primary
            and scores[cause] >= MIN_SECONDARY_SCORE
            and _has_evidence(cause, signals, frozenset({Origin.NOTE}))
        ),
        None,
    )
    return primary, secondary


def _confidence(category: Category, scores: Mapping[Category, float]) -> float:
    """Strength of the winning evidence times the margin over the runner-up.

    strength = own / (own + MIN_PRIMARY_SCORE) saturates towards 1 with more evidence;
    margin = (own - runner_up) / own is 1 when nothing else is present and 0 on a tie (or when
    the owner's ranking overrode a higher score); it maps to a factor 0.5..1. For ``unknown``
    it is how little evidence there is for any cause: 1.0 when there is none at all.
    """
    top = max(scores.values())
    if category is Category.UNKNOWN:
        return round(MIN_PRIMARY_SCORE / (MIN_PRIMARY_SCORE + top), 2)
    own = scores[category]
    runner_up = max(score for cause, score in scores.items() if cause is not category)
    margin = max(0.0, own - runner_up) / own
    return round(own / (own + MIN_PRIMARY_SCORE) * (0.5 + 0.5 * margin), 2)


def _belief(signals: Iterable[Signal]) -> Belief | None:
    totals: dict[Belief, float] = {}
    for signal in signals:
        if signal.belief is not None and signal.cause is Category.MISUNDERSTANDING:
            totals[signal.belief] = totals.get(signal.belief, 0.0) + signal.weight
    if not totals:
        return None
    order = list(Belief)
    return max(totals, key=lambda belief: (totals[belief], -order.index(belief)))


# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------


def classification_as_dict(case_id: str, result: Classification) -> dict[str, Any]:
    """The JSON shape printed by ``feesvc classify``."""
    approach = result.approach
    return {
        "id": case_id,
        "category": result.category.value,
        "secondary": None if result.secondary is None else result.secondary.value,
        "confidence": result.confidence,
        "signals": [
            {
                "cause": s.cause.value,
                "weight": round(s.weight, 2),
                "source": s.source,
                "quote": s.quote,
                "rule": s.rule,
                "verbatim": s.verbatim,
                **({"belief": s.belief.value} if s.belief else {}),
            }
            for s in result.signals
        ],
        "approach": {
            "code": approach.code,
            "summary": approach.summary,
            "actions": list(approach.actions),
            "belief": None if approach.belief is None else approach.belief.value,
            "legal_basis": approach.legal_basis,
            "pause_reminders": approach.pause_reminders,
            "legal_escalation": approach.legal_escalation,
        },
    }
