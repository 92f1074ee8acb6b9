"""The judges' text model (feesvc.rules.text_model): read without scikit-learn, it gives the numbers
scikit-learn gives; the shipped model is the one the development corpora train; the classifier's
model evidence quotes the owner verbatim and never outweighs the rules' structure."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from feesvc.arrears.case_record import Category, case_facts_from_record
from feesvc.arrears.cause_model import MODEL_PATH, case_features, read_case
from feesvc.arrears.classifier import classify
from feesvc.rules.text_model import TOKEN_MARK, TextModel, char_ngrams, features

sklearn = pytest.importorskip("sklearn")
from feesvc.judges import training  # noqa: E402 - needs scikit-learn

CORPUS = Path(__file__).parent / "corpus"


def test_ngrams_are_every_window_of_sizes_1_to_4_with_spaces_collapsed() -> None:
    assert list(char_ngrams("ab  c")) == ["a", "b", " ", "c", "ab", "b ", " c", "ab ", "b c", "ab c"]
    assert features(["ab"], ["vacant"]) == Counter({"a": 1, "b": 1, "ab": 1, TOKEN_MARK + "vacant": 1})


def test_reading_gives_scikit_learns_probabilities() -> None:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    texts = [
        "手头紧，没钱",
        "电梯坏了没人修",
        "空置房不用交",
        "没钱交",
        "漏水没人管",
        "没住不该交",
        "钱不够",
        "不修不交",
    ]
    labels = ["h", "s", "m", "h", "s", "m", "h", "s"]
    documents = [features([t]) for t in texts]
    model = training.fit(documents, labels, {})
    vectorizer = DictVectorizer()
    kept = [{f: n for f, n in d.items() if f in model.idf} for d in documents]
    tfidf = TfidfTransformer(sublinear_tf=True)
    matrix = tfidf.fit_transform(vectorizer.fit_transform(kept))
    reference = LogisticRegression(C=training.C, max_iter=5000, class_weight="balanced").fit(matrix, labels)
    for text in ["最近没钱", "楼道灯坏了", "房子空着", "完全没见过的字"]:
        row = tfidf.transform(vectorizer.transform([{f: n for f, n in features([text]).items() if f in model.idf}]))
        expected = dict(zip(reference.classes_, reference.predict_proba(row)[0], strict=True))
        got = model.probabilities(features([text]))
        assert got == pytest.approx(expected, abs=1e-9)


def test_a_binary_model_scores_its_second_label() -> None:
    documents = [features([t]) for t in ["停水", "停电", "维修", "检修", "停水停电", "设备维修"]]
    model = training.fit(documents, ["bad", "bad", "ok", "ok", "bad", "ok"], {})
    assert model.labels == ("bad", "ok")
    assert model.probabilities(features(["停水"]))["bad"] > 0.5 > model.probabilities(features(["维修"]))["bad"]


def test_the_shipped_model_is_what_the_development_corpora_train(tmp_path: Path) -> None:
    shipped = TextModel.load(MODEL_PATH)
    fresh = training.train_cause_model()
    assert shipped.labels == fresh.labels and set(shipped.weights) == set(fresh.weights)
    assert shipped.about["trained_on"] == ["arrears_dev.jsonl", "arrears_dev2.jsonl", "arrears_probe.jsonl"]
    records = [json.loads(line) for line in (CORPUS / "arrears_dev.jsonl").read_text().splitlines() if line]
    for record in records[:40]:
        counts = case_features(case_facts_from_record(record), date.max)
        assert shipped.probabilities(counts) == pytest.approx(fresh.probabilities(counts), abs=1e-4)
    # Saving and loading keeps it (weights rounded to 6 places).
    fresh.save(tmp_path / "m.json")
    again = TextModel.load(tmp_path / "m.json")
    assert again.labels == fresh.labels and len(again.weights) == len(fresh.weights)


def _case(*notes: str, complaints: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {
        "id": "t1",
        "locale": "zh_CN",
        "unit": {"vacant": False, "area_m2": "80.00"},
        "arrears": {"amount_fen": 48000, "months_overdue": 3, "first_unpaid_period": "2025-01"},
        "payment_history": [],
        "notes": list(notes),
        "complaints": complaints or [],
    }


def test_wording_no_rule_names_is_read_and_quoted_verbatim() -> None:
    """A reason in words the lexicons do not hold: the model's evidence is the note's own sentence."""
    note = "业主说今年厂里订单全砍了，老婆又住院，家里实在周转不过来，等年底再说。"
    result = classify(case_facts_from_record(_case(f"2025-03-02 {note}")))
    assert result.category is Category.HARDSHIP
    quoted = [s for s in result.signals if s.rule.startswith("model.")]
    for signal in quoted:
        assert signal.verbatim and signal.quote in note and signal.source == "note 2025-03-02"


def test_no_notes_no_reading_and_staff_words_give_no_model_evidence() -> None:
    complaint = {"opened": "2025-01-05", "closed": None, "category": "repair", "status": "open",
                 "owner_satisfied": None, "text": "楼道灯坏了"}  # fmt: skip
    assert read_case(case_facts_from_record(_case(complaints=[complaint])), date(2025, 3, 1)) is None
    staff = classify(case_facts_from_record(_case("2025-03-02 告知业主空置房也要交物业费，不能因为空着就免交。")))
    assert not [s for s in staff.signals if s.rule.startswith("model.")]
    assert staff.category is Category.UNKNOWN
