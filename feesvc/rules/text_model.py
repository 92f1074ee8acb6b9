"""A linear model over character n-grams: how the judges read wording no rule names.

The arrears classifier began as rules only, and on text written by someone who had not seen the
rules it stayed near 80 % however many rules were added (tests/corpus/README.md): owners and
staff say the same thing in endless ways. A logistic regression over the character
1–4-grams of the text (Chinese needs no word segmentation for it; Traditional characters and
full-width forms are folded first, so one model reads zh_CN, zh_TW and English) learns the
wording from the labelled development corpora and carries to new wording much better.

The model is data: ``*.model.json`` beside the lexicons holds each feature's inverse document
frequency and its weights, written by ``feesvc judges train`` from the development corpora (the
only code that needs scikit-learn, a development dependency). Reading it needs nothing but this
module: no network, no model download, the same numbers as scikit-learn's
``TfidfTransformer(sublinear_tf=True)`` and ``LogisticRegression.predict_proba``.

Rules stay where they are exact (who speaks, a denial, what the owner ranks first, a complaint's
state, a payment pattern); the model's reading enters their weighing as one more piece of
evidence, quoted verbatim (feesvc.arrears.classifier).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

NGRAM_SIZES: Final = (1, 2, 3, 4)
_SPACES: Final = re.compile(r"\s+")
#: Marks a structural token ("complaint open"), so it never equals an n-gram of the text.
TOKEN_MARK: Final = "\u0001"


def char_ngrams(text: str) -> Iterator[str]:
    """Every character n-gram of ``text`` (whitespace runs as one space), sizes ``NGRAM_SIZES``."""
    text = _SPACES.sub(" ", text.strip())
    for size in NGRAM_SIZES:
        for start in range(len(text) - size + 1):
            yield text[start : start + size]


def features(segments: Iterable[str], tokens: Iterable[str] = ()) -> Counter[str]:
    """The counts a model reads: the n-grams of each segment (already folded and lower-cased by the
    caller) and the structural tokens."""
    counts: Counter[str] = Counter()
    for segment in segments:
        counts.update(list(char_ngrams(segment)))
    counts.update(TOKEN_MARK + token for token in tokens)
    return counts


@dataclass(frozen=True, eq=False)
class TextModel:
    """A trained model: ``labels`` in the order of the weights; two labels are one binary model
    (its single weight column scores ``labels[1]``), more a multinomial one."""

    labels: tuple[str, ...]
    idf: Mapping[str, float]
    weights: Mapping[str, tuple[float, ...]]
    intercepts: tuple[float, ...]
    about: Mapping[str, Any]

    @cached_property
    def _table(self) -> dict[str, tuple[float, tuple[float, ...]]]:
        """Each feature's idf and weights in one lookup (a feature can have an idf and no weight
        left after pruning: it still counts in the vector's norm)."""
        none = (0.0,) * len(self.intercepts)
        return {feature: (idf, self.weights.get(feature, none)) for feature, idf in self.idf.items()}

    def _margins(self, counts: Mapping[str, int]) -> list[float]:
        """The decision values: the l2-normalised sublinear tf-idf vector times the weights."""
        table, log = self._table, math.log
        margins = [0.0] * len(self.intercepts)
        norm = 0.0
        for feature, count in counts.items():
            entry = table.get(feature)
            if entry is None:
                continue
            value = (1.0 + log(count)) * entry[0] if count > 1 else entry[0]
            norm += value * value
            for index, weight in enumerate(entry[1]):
                margins[index] += value * weight
        scale = 1.0 / math.sqrt(norm) if norm else 0.0
        return [margin * scale + intercept for margin, intercept in zip(margins, self.intercepts, strict=True)]

    def probabilities(self, counts: Mapping[str, int]) -> dict[str, float]:
        margins = self._margins(counts)
        if len(self.labels) == 2:
            positive = 1.0 / (1.0 + math.exp(-margins[0]))
            return {self.labels[0]: 1.0 - positive, self.labels[1]: positive}
        top = max(margins)
        exps = [math.exp(m - top) for m in margins]
        total = sum(exps)
        return {label: e / total for label, e in zip(self.labels, exps, strict=True)}

    def leaning(self, counts: Mapping[str, int], label: str) -> float:
        """How much these features alone push towards ``label`` (unnormalised): to find which
        sentence of a text speaks for the label the model chose."""
        column = 0 if len(self.labels) == 2 else self.labels.index(label)
        sign = -1.0 if len(self.labels) == 2 and label == self.labels[0] else 1.0
        table, log = self._table, math.log
        total = 0.0
        for feature, count in counts.items():
            entry = table.get(feature)
            if entry is not None:
                total += (1.0 + log(count)) * entry[0] * entry[1][column]
        return sign * total

    @classmethod
    def load(cls, path: Path) -> TextModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            labels=tuple(data["labels"]),
            idf=data["idf"],
            weights={feature: tuple(w) for feature, w in data["weights"].items()},
            intercepts=tuple(data["intercepts"]),
            about=data.get("about", {}),
        )

    def save(self, path: Path) -> None:
        data = {
            "about": dict(self.about),
            "labels": list(self.labels),
            "intercepts": [round(x, 8) for x in self.intercepts],
            "idf": {f: round(v, 6) for f, v in sorted(self.idf.items())},
            "weights": {f: [round(x, 6) for x in w] for f, w in sorted(self.weights.items())},
        }
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def best_sentence(model: TextModel, sentences: Sequence[str], folded: Sequence[str], label: str) -> str | None:
    """The sentence (verbatim) whose own n-grams lean furthest towards ``label``; None if none does."""
    best, best_score = None, 0.0
    for sentence, text in zip(sentences, folded, strict=True):
        score = model.leaning(features([text]), label)
        if score > best_score:
            best, best_score = sentence, score
    return best
