"""Train the judges' text models from the development corpora in ``tests/corpus`` (never the
held-out parts: they are only ever scored, tests/corpus/README.md).

scikit-learn fits them (a development dependency: the service reads the trained weights with
``feesvc.rules.text_model`` alone). The features are the service's own functions, so training and
reading cannot drift apart. The regularisation is fixed, not searched against the held-out parts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

from feesvc.arrears.case_record import case_facts_from_record
from feesvc.arrears.cause_model import MODEL_PATH as CAUSE_MODEL_PATH
from feesvc.arrears.cause_model import case_features
from feesvc.judges.letter_sentences import letter_sentences
from feesvc.letters.compliance import fold, split_sentences
from feesvc.letters.compliance_model import LAWFUL, sentence_features
from feesvc.letters.compliance_model import MODEL_PATH as COMPLIANCE_MODEL_PATH
from feesvc.rules.text_model import TextModel

CORPUS_DIR: Final = Path(__file__).resolve().parents[2] / "tests" / "corpus"
DEVELOPMENT_PARTS: Final = ("dev", "dev2", "probe")
#: The letter check's model also learns from the retired third held-out set (the arrears model keeps
#: the parts it was trained and scored on) and from ordinary lawful letter sentences.
COMPLIANCE_PARTS: Final = (*DEVELOPMENT_PARTS, "dev3", "lawful")
#: Inverse regularisation strength: a moderate fit (chosen a priori; 3–30 score alike in
#: cross-validation on the development parts).
C: Final = 10.0
MIN_DOCUMENTS: Final = 2  # a feature seen in one text only is that text's, not the language's


def _lines(kind: str, corpus_dir: Path, parts: Sequence[str] = DEVELOPMENT_PARTS) -> list[dict[str, Any]]:
    records = []
    for part in parts:
        path = corpus_dir / f"{kind}_{part}.jsonl"
        records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return records


def fit(documents: Sequence[Counter[str]], labels: Sequence[str], about: dict[str, Any]) -> TextModel:
    """A logistic regression over sublinear tf-idf of the features seen in ``MIN_DOCUMENTS`` texts."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    seen: Counter[str] = Counter(feature for document in documents for feature in document)
    kept = [{f: n for f, n in document.items() if seen[f] >= MIN_DOCUMENTS} for document in documents]
    vectorizer = DictVectorizer()
    counts = vectorizer.fit_transform(kept)
    tfidf = TfidfTransformer(sublinear_tf=True)
    matrix = tfidf.fit_transform(counts)
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(matrix, list(labels))
    names = vectorizer.get_feature_names_out()
    idf = {str(name): float(value) for name, value in zip(names, tfidf.idf_, strict=True)}
    columns = model.coef_.T  # one row per feature
    weights = {
        str(name): tuple(float(w) for w in row)
        for name, row in zip(names, columns, strict=True)
        if any(abs(w) >= 1e-6 for w in row)
    }
    return TextModel(
        labels=tuple(str(c) for c in model.classes_),
        idf=idf,
        weights=weights,
        intercepts=tuple(float(x) for x in model.intercept_),
        about={**about, "C": C, "min_documents": MIN_DOCUMENTS, "texts": len(documents)},
    )


def train_cause_model(corpus_dir: Path = CORPUS_DIR) -> TextModel:
    records = _lines("arrears", corpus_dir)
    documents = [case_features(case_facts_from_record(r), date.max) for r in records]
    labels = [r["expected"]["category"] for r in records]
    about = {"trained_on": [f"arrears_{p}.jsonl" for p in DEVELOPMENT_PARTS]}
    return fit(documents, labels, about)


def compliance_training_set(corpus_dir: Path = CORPUS_DIR) -> tuple[list[str], list[str]]:
    """Texts and labels (a family, or ``lawful``): the development sentences, then every sentence of
    every shipped letter, lawful by construction (the check passes them; tests/letters)."""
    texts: list[str] = []
    labels: list[str] = []
    for record in _lines("compliance", corpus_dir, COMPLIANCE_PARTS):
        # A lawful text is lawful in each sentence the check reads; a forbidden one only as a whole.
        pieces = split_sentences(record["text"]) if record["family"] is None else [record["text"]]
        texts += pieces
        labels += [record["family"] or LAWFUL] * len(pieces)
    sentences = letter_sentences()
    return texts + sentences, labels + [LAWFUL] * len(sentences)


def train_compliance_model(corpus_dir: Path = CORPUS_DIR) -> TextModel:
    texts, labels = compliance_training_set(corpus_dir)
    documents = [sentence_features(fold(text)) for text in texts]
    trained_on = [f"compliance_{p}.jsonl" for p in COMPLIANCE_PARTS] + ["every shipped letter's sentences"]
    return fit(documents, labels, {"trained_on": trained_on})


def train_all(corpus_dir: Path = CORPUS_DIR) -> dict[Path, TextModel]:
    return {
        CAUSE_MODEL_PATH: train_cause_model(corpus_dir),
        COMPLIANCE_MODEL_PATH: train_compliance_model(corpus_dir),
    }
