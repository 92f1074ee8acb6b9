"""The trained reading of a letter sentence (feesvc.rules.text_model): which family of forbidden
pressure it speaks for, if any, in wording no pattern of the check names.

The rules read structure and stay first (feesvc.letters.compliance): they decide every sentence in
which they find a family's words, a neutral notice or a condition of not paying. The model is asked
only about the rest, and may block one of those only when

* the sentence has **content**: an action, an object or an exposure (``[model] content`` in
  ``lexicon/compliance.toml``): a greeting, a figure, a date or a heading is never blocked by the
  model alone, whatever its n-grams; and
* the model gives the lawful reading less than ``[model] block_below_lawful``.

Its labels are the five families and ``lawful``; it is trained by ``feesvc judges train`` on the
development corpora, the ordinary lawful letter sentences and every sentence of every shipped
letter (tests/corpus/README.md), and read with no network and no scikit-learn.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Final

from feesvc.rules.text_model import TextModel, features

MODEL_PATH: Final = Path(__file__).parent / "lexicon" / "compliance.model.json"
LAWFUL: Final = "lawful"


def sentence_features(folded: str) -> Counter[str]:
    """What the model reads of one sentence: its character n-grams, folded and lower-cased."""
    return features([folded.lower()])


@cache
def compliance_model() -> TextModel:
    return TextModel.load(MODEL_PATH)


def model_family(folded: str, content: re.Pattern[str], block_below_lawful: float) -> str | None:
    """The family the model reads in a sentence with content, when the lawful reading is unlikely."""
    if content.search(folded) is None:
        return None
    probabilities = compliance_model().probabilities(sentence_features(folded))
    if probabilities[LAWFUL] >= block_below_lawful:
        return None
    return max((label for label in probabilities if label != LAWFUL), key=lambda label: probabilities[label])
