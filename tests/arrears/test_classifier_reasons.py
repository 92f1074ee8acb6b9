"""The classifier reads the owner's stated reason in words its corpus never used (issue 17, item 2).

Each sentence here is new (not in tests/corpus): a family of reason in another wording, with the
structures that change its weight (questions pressed or settled, hearsay, Cantonese normalised).
"""

from __future__ import annotations

import pytest

from feesvc.arrears.classifier import Belief, Category
from tests.arrears.test_classifier import assert_quotes_verbatim, record, run

H = Category.HARDSHIP
S = Category.SERVICE_DISSATISFACTION
M = Category.MISUNDERSTANDING
U = Category.UNKNOWN


@pytest.mark.parametrize(
    ("locale", "note", "belief"),
    [
        ("zh_CN", "2025-03-02 业主说装修还没弄完，搬进来以后才开始交。", Belief.FEE_START),
        (
            "en",
            "2025-03-02 Owner says billing should not start until she actually moves in next spring.",
            Belief.FEE_START,
        ),
        ("zh_TW", "2025-03-02 業主話呢層樓應該由發展商俾錢，佢唔使俾。", Belief.TENANT_PAYS),
        ("en", "2025-03-02 Owner: 'My lodger agreed to pay the fees. Take it up with him.'", Belief.TENANT_PAYS),
        ("zh_CN", "2025-03-02 业主说他每月交了垃圾清运费，那不就是物业费吗。", Belief.OTHER_FUNDS),
        (
            "en",
            "2025-03-02 Owner says nothing is payable until the owners' assembly votes on the new budget.",
            Belief.FEE_INCREASE_WITHOUT_VOTE,
        ),
        ("zh_CN", "2025-03-02 业主说公司还扣着他的装修押金，物业费从押金里扣就行。", None),
        ("en", "2025-03-02 Owner insists the vacancy rebate applies to his flat.", Belief.VACANCY),
    ],
)
def test_a_belief_in_fresh_words_is_a_misunderstanding(locale: str, note: str, belief: Belief | None) -> None:
    rec = record(note, locale=locale)
    result = run(rec)
    assert result.category is M
    if belief is not None:
        assert result.approach.belief is belief
    assert_quotes_verbatim(rec, result)


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_TW", "2025-03-02 業主話上個月俾公司裁咗，而家冇收入。"),
        ("en", "2025-03-02 Owner says her consulting work has dried up and this is all she can afford for now."),
        ("zh_CN", "2025-03-02 业主家的果园遭了冰雹，说等秋天卖了货再补上。"),
    ],
)
def test_inability_to_pay_in_fresh_words_is_hardship(locale: str, note: str) -> None:
    rec = record(note, locale=locale)
    result = run(rec)
    assert result.category is H
    assert_quotes_verbatim(rec, result)


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 业主说楼下化粪池冒水，找了管家三次都没人处理。"),
        ("en", "2025-03-02 Owner is holding back the fees in protest at the broken intercom."),
        ("en", "2025-03-02 Owner: 'Fix the car park lights first, then we can talk about money.'"),
        ("zh_TW", "2025-03-02 屋主說垃圾房臭味很重，繳了錢也沒用。"),
    ],
)
def test_a_service_failure_in_fresh_words_is_dissatisfaction(locale: str, note: str) -> None:
    rec = record(note, locale=locale)
    result = run(rec)
    assert result.category is S
    assert_quotes_verbatim(rec, result)


def test_a_pressed_question_is_a_claim_and_a_settled_one_is_not() -> None:
    pressed = run(record("2025-03-02 业主问：房子空着是不是可以不交？解释后业主依然不认可，拒交。"))
    assert pressed.category is M
    assert pressed.approach.belief is Belief.VACANCY
    settled = run(record("2025-03-02 业主咨询空置房能否减免，已说明，业主当场缴清。", vacant=True))
    assert settled.category is U
    settled_en = run(
        record("2025-03-02 Owner asked whether empty flats pay less; told no; she said that was fine.", locale="en")
    )
    assert settled_en.category is U


def test_a_guards_hearsay_is_not_the_owners_reason() -> None:
    assert run(record("2025-03-02 门卫讲听说业主生意失败了。")).category is U
    assert run(record("2025-03-02 保安说业主好像住院了。")).category is U


def test_hints_from_staff_alone_do_not_make_a_cause() -> None:
    # two staff hints add up past the threshold, but none of them is the owner's reason
    assert run(record("2025-03-02 客服估计业主手头紧，建议给他办分期，还没联系上业主。")).category is U


def test_taiwan_characters_for_disasters_are_read() -> None:
    rec = record("2025-03-02 屋主說颱風把店面毀了，收入歸零，年底再補繳。", locale="zh_TW")
    result = run(rec)
    assert result.category is H
    assert_quotes_verbatim(rec, result)
