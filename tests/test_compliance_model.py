"""The letter check's trained reading (feesvc.letters.compliance_model): the shipped weights are what
the corpora and the shipped letters train; it speaks only where the rules leave a sentence undecided
and the sentence has content; it reports a family and the sentence; every shipped letter passes."""

from __future__ import annotations

import pytest

from feesvc.judges.letter_sentences import letter_sentences
from feesvc.letters.compliance import Family, check_sentence, check_text, fold
from feesvc.letters.compliance_model import LAWFUL, MODEL_PATH, compliance_model, sentence_features
from feesvc.rules.text_model import TextModel


def test_the_shipped_model_is_what_the_corpora_and_letters_train() -> None:
    pytest.importorskip("sklearn")
    from feesvc.judges import training

    shipped = TextModel.load(MODEL_PATH)
    fresh = training.train_compliance_model()
    assert shipped.labels == fresh.labels == (*sorted({*(f.value for f in Family), LAWFUL}),)
    assert set(shipped.weights) == set(fresh.weights)
    assert "compliance_dev3.jsonl" in shipped.about["trained_on"]
    for text in ["您好！", "逾期不缴，我们会派人每晚上门。", "We will post your name in the lobby."]:
        counts = sentence_features(fold(text))
        assert shipped.probabilities(counts) == pytest.approx(fresh.probabilities(counts), abs=1e-4)


def test_every_sentence_of_every_shipped_letter_passes() -> None:
    sentences = letter_sentences()
    assert len(sentences) > 500  # every kind, locale and belief, and their short messages
    assert [s for s in sentences if check_text(s)] == []


@pytest.mark.parametrize(
    "sentence",
    ["尊敬的业主：您好！", "欠费 = 应收 − 已收。", "Dear Owner,", "Kind regards,", "2026年12月15日", "锦绣华苑3栋1502"],
)
def test_a_sentence_without_content_is_never_blocked_by_the_model(sentence: str) -> None:
    assert check_sentence(sentence) == ()


def test_wording_no_pattern_names_is_blocked_with_a_family_and_the_sentence() -> None:
    """Veiled pressure with none of the lexicon's words: the rules alone let it through."""
    sentence = "我们几个兄弟这周末会去您家坐坐，聊聊物业费的事。"
    probabilities = compliance_model().probabilities(sentence_features(fold(sentence)))
    assert probabilities[LAWFUL] < 0.3
    (violation,) = check_sentence(sentence)
    assert violation.family is Family.COERCION
    assert violation.sentence == sentence and violation.term in sentence


def test_the_rules_decide_what_they_read() -> None:
    """A neutral notice, a lawful route after a condition and a promise are the rules' call."""
    for lawful in (
        "因二次供水水箱清洗，3号楼将于本周六停水，请提前储水。",
        "若逾期仍未缴纳，本公司将依法向人民法院提起诉讼。",
        "We will never cut off utilities, block access or restrict parking to collect fees.",
    ):
        assert check_text(lawful) == []
