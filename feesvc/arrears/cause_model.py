"""The trained reading of a case's words (feesvc.rules.text_model): which cause the notes and
complaints speak for, with the sentence that speaks for it most, quoted verbatim.

The features: the character n-grams of each note dated up to the day the case is read as of,
folded as the rules fold them. Only the notes: complaints and the unit record are structured facts
the rules weigh, and a sentence staff or a neighbour spoke gives no model signal (the rules weigh
hearsay; the model cannot tell who speaks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Final

from feesvc.arrears.case_record import CaseFacts, Category, Origin
from feesvc.arrears.note_text import Speaker, analyse, normalise_text
from feesvc.rules.text_model import TextModel, best_sentence, features

MODEL_PATH: Final = Path(__file__).parent / "lexicon" / "cause.model.json"


@dataclass(frozen=True)
class ModelReading:
    category: Category
    probability: float
    quote: str | None  # the sentence that leans furthest towards the category, verbatim
    source: str  # where the quote stands ("note 2025-06-19", "complaint …")
    origin: Origin
    speakers: tuple[Speaker, ...]  # who speaks in the quoted sentence (the owner, staff, hearsay)
    unknown_probability: float = 1.0  # how likely the words say nothing about a cause


@cache
def cause_model() -> TextModel:
    return TextModel.load(MODEL_PATH)


def _texts(facts: CaseFacts, as_of: date) -> list[tuple[str, str, Origin]]:
    return [(note.text, note.source, Origin.NOTE) for note in facts.notes if note.on <= as_of]


def case_features(facts: CaseFacts, as_of: date) -> Counter[str]:
    """What the model reads of a case as it stood on ``as_of``: the notes' words. A complaint's
    state and the owner's verdict on it are structured facts the rules weigh (beside the notes, a
    complaint the owner never raises weighs half): the model does not count them again."""
    return features(normalise_text(text) for text, _, _ in _texts(facts, as_of))


def read_case(
    facts: CaseFacts, as_of: date, quote_from: float = 0.0, or_unknown_below: float = 1.0
) -> ModelReading | None:
    """The model's cause for the case, or None when no note records anyone's words: then the rules'
    reading of the record stands (with no notes, a complaint's state is the signal, FORMAT.md).

    The quote (the sentence leaning furthest to the cause) is looked for only when the reading can
    count: its probability at least ``quote_from``, or the unknown reading below ``or_unknown_below``
    (the classifier passes its own thresholds; finding the quote is a third of the reading's time)."""
    texts = _texts(facts, as_of)
    if not texts:
        return None
    model = cause_model()
    probabilities = model.probabilities(case_features(facts, as_of))
    label = max(model.labels, key=lambda x: probabilities[x])
    category = Category(label)
    quote, source, origin = None, "", Origin.NOTE
    speakers: tuple[Speaker, ...] = ()
    usable = probabilities[label] >= quote_from or probabilities["unknown"] < or_unknown_below
    if category is not Category.UNKNOWN and usable:
        sentences: list[str] = []
        folded: list[str] = []
        where: list[tuple[str, Origin, tuple[Speaker, ...]]] = []
        for text, text_source, text_origin in texts:
            analysed = analyse(text)
            for sentence in analysed.sentences:
                sentences.append(text[sentence.start : sentence.end].strip())
                folded.append(analysed.norm[sentence.start : sentence.end])
                where.append((text_source, text_origin, tuple(c.speaker for c in sentence.clauses)))
        quote = best_sentence(model, sentences, folded, label)
        if quote is not None:
            source, origin, speakers = where[sentences.index(quote)]
    return ModelReading(category, probabilities[label], quote, source, origin, speakers, probabilities["unknown"])
