"""The arrears cause classifier: the labelled public cases, and small hand-written cases for each
linguistic pattern (causes, negation, contrast, Traditional Chinese, English, vacancy, contact-only)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from feesvc.arrears.classifier import (
    CAUSES,
    MISUNDERSTANDING_RULES,
    NOTE_RULES,
    T2S,
    T2S_PAIRS,
    Belief,
    CaseFacts,
    CaseFormatError,
    Category,
    Classification,
    Origin,
    approach_for,
    case_facts_from_record,
    classification_as_dict,
    classify,
    normalise_text,
)

PUBLIC_CASES = Path(__file__).resolve().parents[3] / "shared/cases/public.jsonl"

H = Category.HARDSHIP
S = Category.SERVICE_DISSATISFACTION
M = Category.MISUNDERSTANDING
U = Category.UNKNOWN


def record(
    *notes: str,
    complaints: list[dict[str, Any]] | None = None,
    vacant: bool = False,
    locale: str = "zh_CN",
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": "t001",
        "locale": locale,
        "unit": {"vacant": vacant, "area_m2": "80.00"},
        "arrears": {"amount_fen": 48000, "months_overdue": 3, "first_unpaid_period": "2025-01"},
        "notes": list(notes),
        "complaints": complaints or [],
    }
    if history is not None:
        rec["payment_history"] = history
    return rec


def complaint(
    status: str, satisfied: bool | None, text: str = "楼道灯坏了", category: str = "repair"
) -> dict[str, Any]:
    return {
        "opened": "2025-01-05",
        "closed": None if status == "open" else "2025-01-09",
        "category": category,
        "status": status,
        "owner_satisfied": satisfied,
        "text": text,
    }


def run(rec: dict[str, Any], today: date | None = None) -> Classification:
    return classify(case_facts_from_record(rec), today)


def assert_quotes_verbatim(rec: dict[str, Any], result: Classification) -> None:
    """Every verbatim quote is a substring of the note or complaint its source names; every
    structured quote names its source."""
    facts = case_facts_from_record(rec)
    texts: dict[str, list[str]] = {}
    for source, text in [(n.source, n.text) for n in facts.notes] + [(c.source, c.text) for c in facts.complaints]:
        texts.setdefault(source, []).append(text)
    for signal in result.signals:
        assert signal.quote, signal
        if signal.verbatim:
            assert signal.origin in (Origin.NOTE, Origin.COMPLAINT)
            assert any(signal.quote in text for text in texts[signal.source]), signal
        else:
            assert signal.origin in (Origin.COMPLAINT, Origin.PAYMENT_HISTORY, Origin.UNIT)
            assert signal.quote.startswith(signal.source), signal


# --- the labelled public cases ----------------------------------------------------------------


@pytest.fixture(scope="module")
def public_cases() -> list[dict[str, Any]]:
    if not PUBLIC_CASES.exists():
        pytest.skip(f"labelled cases not found at {PUBLIC_CASES} (they live outside the repository)")
    return [json.loads(line) for line in PUBLIC_CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_public_category_accuracy_is_at_least_90_percent(public_cases: list[dict[str, Any]]) -> None:
    results = [(case, run(case)) for case in public_cases]
    correct = [case["id"] for case, result in results if result.category == case["expected"]["category"]]
    wrong = {case["id"]: result.category.value for case, result in results if case["id"] not in correct}
    assert len(correct) / len(public_cases) >= 0.9, wrong


def test_public_secondary_accuracy(public_cases: list[dict[str, Any]]) -> None:
    hits = sum(
        (result.secondary.value if result.secondary else None) == case["expected"]["secondary"]
        for case in public_cases
        for result in [run(case)]
    )
    assert hits / len(public_cases) >= 0.9


def test_public_quotes_are_verbatim(public_cases: list[dict[str, Any]]) -> None:
    for case in public_cases:
        assert_quotes_verbatim(case, run(case))


def test_the_answer_key_is_never_read(public_cases: list[dict[str, Any]]) -> None:
    for case in public_cases:
        tampered = copy.deepcopy(case)
        tampered["expected"] = {"category": "hardship", "secondary": "misunderstanding"}
        stripped = {key: value for key, value in case.items() if key != "expected"}
        assert run(tampered) == run(case) == run(stripped)


def test_results_are_well_formed(public_cases: list[dict[str, Any]]) -> None:
    for case in public_cases:
        result = run(case)
        assert 0.0 <= result.confidence <= 1.0
        assert result.secondary is not Category.UNKNOWN
        assert result.secondary != result.category
        if result.category is U:
            assert result.secondary is None
        assert [weight for _, weight in result.scores] == [dict(result.scores)[cause] for cause in CAUSES]
        json.dumps(classification_as_dict(case["id"], result), ensure_ascii=False)


# --- each cause, in each language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 电话催缴，业主说老公去年查出尿毒症，每周透析三次，家里实在拿不出钱。"),
        ("zh_CN", "2025-03-02 业主称疫情后一直没找到稳定工作，靠打零工，月底想办法先交一部分。"),
        ("zh_CN", "2025-03-02 业主讲：“阿拉退休工资两个月没打进来了，钞票一到我第一个来交。”"),
        ("zh_TW", "2025-03-02 業主說公司倒閉了，現在失業在家，問能不能分期繳。"),
        ("en", "2025-03-02 Owner said she was made redundant in March and asked for a payment plan."),
        ("en", "2025-03-02 He has been in hospital since January; his wife asked for more time."),
    ],
)
def test_hardship(locale: str, note: str) -> None:
    result = run(record(note, locale=locale))
    assert (result.category, result.secondary) == (H, None)
    assert result.approach.code == "installment_plan"


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 业主说楼上天天装修噪音大，物业不管，投诉了也没用。"),
        ("zh_CN", "2025-03-02 业主说小区卫生太差，垃圾堆了一个星期没人收，等你们整改好了再交。"),
        ("zh_CN", "2025-03-02 业主说：“门禁修好那天我就来交，一天都不拖。”"),
        ("zh_TW", "2025-03-02 業主說電梯三天兩頭壞，管委會都不處理，修好再繳。"),
        ("en", "2025-03-02 She refuses to pay until the leak in her ceiling is fixed."),
        ("en", "2025-03-02 Owner says strangers walk in through the gate and nobody checks."),
    ],
)
def test_service_dissatisfaction(locale: str, note: str) -> None:
    result = run(record(note, locale=locale))
    assert (result.category, result.secondary) == (S, None)
    assert result.approach.code == "rectify_first"
    assert result.approach.pause_reminders


@pytest.mark.parametrize(
    ("locale", "note", "belief"),
    [
        ("zh_CN", "2025-03-02 业主说房子还没装修，没住人，不应该交物业费。", Belief.VACANCY),
        ("zh_TW", "2025-03-02 業主說：「房子根本沒人住，管理費當然免啊。」", Belief.VACANCY),
        ("en", "2025-03-02 Owner says nobody lives in the flat so he should not have to pay.", Belief.VACANCY),
        ("zh_CN", "2025-03-02 业主说他家住一楼，从来不用电梯，电梯费凭什么摊到他头上。", Belief.UNUSED_SERVICE),
        ("zh_CN", "2025-03-02 业主认为电梯广告收入应该拿来抵物业费。", Belief.PUBLIC_REVENUE),
        ("zh_CN", "2025-03-02 业主说他从来没签过合同，换物业他没同意。", Belief.NO_CONTRACT),
        (
            "en",
            "2025-03-02 Owner says the developer told him the first two years of fees are free.",
            Belief.DEVELOPER_PROMISE,
        ),
        ("zh_CN", "2025-03-02 业主说买房时售楼处说送两年物业费。", Belief.DEVELOPER_PROMISE),
        ("zh_CN", "2025-03-02 业主说房子租出去了，物业费应该找租客要。", Belief.TENANT_PAYS),
        (
            "en",
            "2025-03-02 The owner says the fee was raised without a vote, so she pays nothing.",
            Belief.FEE_INCREASE_WITHOUT_VOTE,
        ),
        ("zh_CN", "2025-03-02 业主说物业费应该从入住那天开始算。", Belief.FEE_START),
        ("zh_CN", "2025-03-02 业主说买房时交了维修基金，就不用再交物业费了。", Belief.OTHER_FUNDS),
    ],
)
def test_misunderstanding_names_the_belief(locale: str, note: str, belief: Belief) -> None:
    result = run(record(note, locale=locale))
    assert (result.category, result.secondary) == (M, None)
    assert result.approach.code == "explain_rule"
    assert result.approach.belief is belief
    assert classification_as_dict("t001", result)["approach"]["belief"] == belief.value


# --- negation, contrast and ranking -------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 业主说不是没钱，是服务太差。"),
        ("zh_CN", "2025-03-02 业主李先生原话：“我不是没钱，交个物业费我还交得起，是你们这服务太差了。”"),
        ("zh_TW", "2025-03-02 業主說不是沒錢，是服務太差。"),
        ("en", "2025-03-02 Owner said it's not about the money, the lift has been broken for weeks."),
        ("zh_CN", "2025-03-02 业主说他不是失业了，是对物业服务不满意。"),
    ],
)
def test_negated_hardship_is_dissatisfaction(locale: str, note: str) -> None:
    result = run(record(note, locale=locale))
    assert (result.category, result.secondary) == (S, None)
    hardship = [s for s in result.signals if s.cause is H]
    assert all(s.denial and s.weight == 0 for s in hardship), hardship


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 业主说：“手头是紧一点，但主要不是钱的事，楼道灯坏了三个月没人修。”"),
        ("zh_CN", "2025-03-02 业主说手头是紧一点，但主要不是钱的事，楼道灯坏了三个月没人修。"),
        ("zh_TW", "2025-03-02 業主說手頭是緊一點，但主要不是錢的事，樓道燈壞了三個月沒人修。"),
    ],
)
def test_conceded_cause_becomes_secondary(locale: str, note: str) -> None:
    result = run(record(note, locale=locale))
    assert (result.category, result.secondary) == (S, H)
    conceded = next(s for s in result.signals if s.rule == "hardship.money_tight")
    stressed = next(s for s in result.signals if s.rule == "service_dissatisfaction.facility_problem")
    assert conceded.weight < stressed.weight  # "但主要…" weights what follows


def test_two_causes_give_category_and_secondary() -> None:
    result = run(
        record(
            "2025-05-01 业主说儿子住院花了不少钱，手头很紧，问能不能分期。",
            "2025-06-01 业主又说楼道灯坏了一直没人修。",
        )
    )
    assert (result.category, result.secondary) == (H, S)
    alone = run(record("2025-05-01 业主说儿子住院花了不少钱，手头很紧，问能不能分期。"))
    assert 0 < result.confidence < alone.confidence  # a second cause narrows the margin


def test_a_denied_cause_is_not_the_main_one_even_with_more_evidence() -> None:
    # Service complaints, then the owner puts the service aside ("是一回事") and names money.
    result = run(
        record(
            "2025-05-01 业主说楼道灯报修很久没人修，服务也就那样，门禁也坏了，谁都能进。",
            "2025-06-01 业主说灯修不修是一回事，最近手头紧，过两个月再交。",
        )
    )
    scores = dict(result.scores)
    assert scores[S] > scores[H] > 0
    assert (result.category, result.secondary) == (H, S)
    assert result.confidence < 0.5  # the owner's ranking overrode the scores: say so
    assert any(s.denial and s.cause is S for s in result.signals)


def test_a_denial_alone_decides_nothing() -> None:
    assert run(record("2025-03-02 业主说不是钱的问题。")).category is U


def test_contrast_concedes_what_comes_before() -> None:
    plain = run(record("2025-03-02 业主说手头是紧一点。"))
    conceded = run(record("2025-03-02 业主说手头是紧一点，但主要不是钱的事。"))
    assert conceded.signals[0].rule == plain.signals[0].rule == "hardship.money_tight"
    assert conceded.signals[0].weight < plain.signals[0].weight


def test_not_a_but_b_stresses_b() -> None:
    stressed = run(record("2025-03-02 业主说不是没钱，是服务太差。"))
    plain = run(record("2025-03-02 业主说服务太差。"))
    assert stressed.signals[0].rule == plain.signals[0].rule == "service_dissatisfaction.poor_service"
    assert stressed.signals[0].weight > plain.signals[0].weight


def test_owner_quoted_words_weigh_more_than_narration() -> None:
    quoted = run(record("2025-03-02 业主说：“空房子收什么物业费？”"))
    narrated = run(record("2025-03-02 业主说空房子收什么物业费。"))
    assert quoted.category is narrated.category is M
    assert quoted.signals[0].weight > narrated.signals[0].weight
    assert quoted.signals[0].quote == "空房子收什么物业费"


def test_staff_explaining_the_rule_is_not_the_owners_reason() -> None:
    result = run(record("2025-03-02 告知业主空置房也要交物业费，不能因为空着就免交。"))
    assert result.category is U
    assert 0 < result.signals[0].weight < 1


def test_old_notes_count_less() -> None:
    note = "2024-01-10 业主说手头很紧。"
    recent = run(record(note), today=date(2024, 6, 1))
    stale = run(record(note), today=date(2025, 6, 1))
    assert stale.signals[0].weight == recent.signals[0].weight / 2


# --- what is not a reason -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "notes",
    [
        ("2025-01-16 上门，家中无人。", "2025-02-20 发送短信催缴通知。", "2025-03-18 电话打通，业主说“知道了”后挂断。"),
        ("2025-07-03 已电话提醒", "2025-08-05 无人接听"),
        ("2026-02-10 已電話提醒。", "2026-03-05 業主說最近比較忙，過幾天會處理。"),
        ("2024-05-06 Left voicemail.", "2024-06-10 Sent WeChat reminder; message read, no reply."),
        (),
    ],
)
def test_contact_attempts_only_are_unknown(notes: tuple[str, ...]) -> None:
    result = run(record(*notes))
    assert (result.category, result.secondary) == (U, None)
    assert not [s for s in result.signals if s.origin is Origin.NOTE]
    assert result.approach.code == "standard_reminders"


def test_vacant_alone_is_not_a_reason() -> None:
    assert run(record("2025-03-02 无人接听", vacant=True)).category is U
    mentioned = run(record("2025-03-02 业主说房子一直空着，准备明年装修。", vacant=True))
    assert mentioned.category is U
    assert not [s for s in mentioned.signals if s.cause is M]


def test_vacant_hardship_case_stays_hardship() -> None:
    result = run(
        record(
            "2025-01-05 业主称房子买来一直没住，挂在中介那儿想卖，一年多了没人要。",
            "2025-02-05 业主说小厂年前停了，银行也在催贷款，眼下真凑不出来。",
            vacant=True,
        )
    )
    assert (result.category, result.secondary) == (H, None)


def test_vacancy_claim_is_backed_by_the_recorded_vacancy() -> None:
    note = "2025-03-02 业主说：“房子一直空着，水电都没开，凭什么收钱？”"
    occupied, vacant = run(record(note)), run(record(note, vacant=True))
    assert occupied.category is vacant.category is M
    assert [s.rule for s in vacant.signals if s.origin is Origin.UNIT] == ["misunderstanding.vacancy_recorded"]
    assert dict(vacant.scores)[M] > dict(occupied.scores)[M]


@pytest.mark.parametrize(
    ("status", "satisfied", "expected"),
    [("open", None, S), ("closed", False, S), ("closed", True, U)],
)
def test_complaints_without_notes(status: str, satisfied: bool | None, expected: Category) -> None:
    result = run(record(complaints=[complaint(status, satisfied)]))
    assert result.category is expected
    structured = [s for s in result.signals if s.origin is Origin.COMPLAINT and not s.verbatim]
    assert len(structured) == (0 if satisfied else 1)
    if structured:
        assert structured[0].quote.startswith("complaint 2025-01-05 repair: ")


def test_satisfied_complaint_does_not_outweigh_the_owners_words() -> None:
    result = run(record("2025-04-09 业主称公司整个部门被裁，还在面试。", complaints=[complaint("closed", True)]))
    assert (result.category, result.secondary) == (H, None)


def test_an_open_complaint_the_owner_never_raises_is_not_a_secondary_cause() -> None:
    note = "2025-04-09 业主称公司整个部门被裁，还在面试。"
    unmentioned = run(record(note, complaints=[complaint("open", None)]))
    # Beside another reason in the owner's words, a complaint the notes never raise weighs half.
    assert dict(unmentioned.scores)[S] == dict(run(record(complaints=[complaint("open", None)])).scores)[S] / 2
    assert (unmentioned.category, unmentioned.secondary) == (H, None)
    raised = run(record(note, "2025-05-09 业主又说楼道灯坏了很久没人修。", complaints=[complaint("open", None)]))
    assert (raised.category, raised.secondary) == (H, S)


# --- payment pattern ----------------------------------------------------------------------------


def history_paying_later_and_later() -> list[dict[str, Any]]:
    return [
        {"period": "2024-10", "paid_on": "2024-10-14", "amount_fen": 23750},
        {"period": "2024-11", "paid_on": "2024-12-08", "amount_fen": 23750},
        {"period": "2024-12", "paid_on": "2025-01-18", "amount_fen": 23750},
        {"period": "2025-01", "paid_on": "2025-03-14", "amount_fen": 12000},
        {"period": "2025-02", "paid_on": None, "amount_fen": 23750},
    ]


def test_payment_pattern_is_weak_hardship_evidence_that_never_decides_alone() -> None:
    alone = run(record(history=history_paying_later_and_later()))
    rules = {s.rule for s in alone.signals}
    assert {"hardship.paying_later_and_later", "hardship.partial_payment"} <= rules
    assert alone.category is U
    assert alone.confidence < 1.0
    note = "2025-03-20 业主说最近手头有点紧。"
    with_note = run(record(note, history=history_paying_later_and_later()))
    assert with_note.category is H
    assert with_note.confidence > run(record(note)).confidence


def test_a_rate_change_is_not_a_partial_payment() -> None:
    history = [
        {"period": f"2024-{month:02d}", "paid_on": f"2024-{month:02d}-05", "amount_fen": 20000 if month < 6 else 24000}
        for month in range(1, 10)
    ]
    result = run(record(history=history))
    assert "hardship.partial_payment" not in {s.rule for s in result.signals}


# --- as-of date, determinism, quotes --------------------------------------------------------------


def test_today_ignores_what_happened_later() -> None:
    rec = record("2025-01-05 已电话提醒", "2025-06-01 业主说门禁坏了半年没人修，修好再交。")
    assert run(rec).category is S
    assert run(rec, today=date(2025, 3, 1)).category is U


def test_classification_is_deterministic() -> None:
    rec = record("2025-05-01 业主说儿子住院了。", "2025-06-01 业主又说楼道灯坏了一直没人修。")
    assert run(rec) == run(rec)


def test_quotes_of_hand_written_cases_are_verbatim() -> None:
    rec = record(
        "2025-03-02 業主說：「房子根本沒人住，管理費當然免啊。」",
        "2025-04-02 Owner said 'I'm paying for security that doesn't exist.'",
        "2025-05-02 业主说：“手头是紧一点，但主要不是钱的事。”",
        complaints=[complaint("open", None, "电梯又坏了，这是第二次")],
        history=history_paying_later_and_later(),
    )
    result = run(rec)
    assert_quotes_verbatim(rec, result)
    quotes = {s.quote for s in result.signals}
    assert "房子根本沒人住，管理費當然免啊" in quotes  # the Traditional original, not the normalised text
    assert "I'm paying for security that doesn't exist" in quotes  # cut to the owner's quoted words


# --- normalisation ------------------------------------------------------------------------------


def test_traditional_map_is_one_to_one() -> None:
    tokens = T2S_PAIRS.split()
    assert all(len(token) == 2 and token[0] != token[1] for token in tokens)
    assert len({token[0] for token in tokens}) == len(tokens)  # no character listed twice


def test_lexicons_use_only_simplified_characters() -> None:
    # A Traditional character in a pattern could never match: text is normalised first.
    traditional = {chr(code) for code in T2S}
    for rule in NOTE_RULES:
        assert not traditional & set(rule.pattern.pattern), rule.name


def test_normalisation_keeps_length_and_maps_traditional() -> None:
    text = "業主說：「管理費當然免啊，ＯＫ？」Not About The Money"
    normalised = normalise_text(text)
    assert len(normalised) == len(text)
    assert normalised == "业主说:「管理费当然免啊,ok?」not about the money"


def test_every_belief_has_a_rule_and_an_explanation() -> None:
    # Some beliefs have no letter of their own (an offset against money the owner says is owed):
    # those rules name no belief and the case gets the general explanation.
    assert {rule.belief for rule in MISUNDERSTANDING_RULES} - {None} == set(Belief)
    for belief in Belief:
        approach = approach_for(M, belief)
        assert approach.belief is belief
        assert approach.legal_basis
        assert belief.value in approach.actions[1]


# --- approach -----------------------------------------------------------------------------------


def test_approach_follows_the_playbook() -> None:
    hardship = approach_for(H)
    assert "3-installment" in " ".join(hardship.actions)
    assert "late fees" in " ".join(hardship.actions)
    assert not hardship.legal_escalation
    service = approach_for(S)
    assert "24 hours" in " ".join(service.actions)
    assert "inspect" in " ".join(service.actions)
    assert service.pause_reminders and not service.legal_escalation
    assert approach_for(M, Belief.VACANCY).legal_basis == "民法典 944(1)"
    assert approach_for(M, Belief.PUBLIC_REVENUE).legal_basis == "民法典 282"
    assert approach_for(M).belief is None
    unknown = approach_for(U)
    assert unknown.code == "standard_reminders" and not unknown.pause_reminders


# --- reading records ----------------------------------------------------------------------------


def broken(path: str, value: object) -> dict[str, Any]:
    """A valid record with the value at ``path`` replaced (or removed, for ...)."""
    rec = record("2025-03-02 已电话提醒", complaints=[complaint("open", None)])
    *parents, key = path.replace("[", ".").replace("]", "").split(".")
    target: Any = rec
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is ...:
        del target[key]
    else:
        target[int(key) if key.isdigit() else key] = value
    return rec


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("id", ..., "id", "missing"),
        ("id", 7, "id", "must be a string"),
        ("id", " ", "id", "must not be empty"),
        ("locale", "fr", "locale", "must be one of"),
        ("unit", [], "unit", "must be an object"),
        ("unit.vacant", "yes", "unit.vacant", "true or false"),
        ("unit.area_m2", 80.5, "unit.area_m2", "must be a string"),
        ("unit.area_m2", "80.5", "unit.area_m2", "2 places"),
        ("arrears.amount_fen", 480.5, "arrears.amount_fen", "integer"),
        ("arrears.amount_fen", True, "arrears.amount_fen", "integer"),
        ("arrears.months_overdue", -1, "arrears.months_overdue", "negative"),
        ("arrears.first_unpaid_period", "2025-13", "arrears.first_unpaid_period", "YYYY-MM"),
        ("notes", "已电话提醒", "notes", "must be a list"),
        ("notes[0]", "已电话提醒", "notes[0]", "YYYY-MM-DD"),
        ("notes[0]", "2025-02-30 已电话提醒", "notes[0]", "YYYY-MM-DD"),
        ("complaints[0].opened", "20250105", "complaints[0].opened", "YYYY-MM-DD"),
        ("complaints[0].category", "plumbing", "complaints[0].category", "must be one of"),
        ("complaints[0].owner_satisfied", "no", "complaints[0].owner_satisfied", "true or false"),
        ("complaints[0].text", ..., "complaints[0].text", "missing"),
    ],
)
def test_bad_records_name_the_field(path: str, value: object, field: str, message: str) -> None:
    with pytest.raises(CaseFormatError) as caught:
        case_facts_from_record(broken(path, value))
    assert caught.value.field == field
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_bad_payment_history_names_the_entry() -> None:
    rec = record(history=[{"period": "2025-01", "paid_on": "yesterday", "amount_fen": 100}])
    with pytest.raises(CaseFormatError) as caught:
        case_facts_from_record(rec)
    assert caught.value.field == "payment_history[0].paid_on"


def test_record_is_read_into_exact_types() -> None:
    facts = case_facts_from_record(record("2025-03-02 已电话提醒", history=history_paying_later_and_later()))
    assert isinstance(facts, CaseFacts)
    assert str(facts.area_m2) == "80.00"
    assert facts.notes[0].on == date(2025, 3, 2) and facts.notes[0].text == "已电话提醒"
    assert facts.payment_history is not None and facts.payment_history[-1].paid_on is None
    assert case_facts_from_record(record()).payment_history is None


# --- beliefs in the owner's own words, and how a case's notes relate (issue 17) ---------------------


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("zh_CN", "2025-03-02 业主说去年水管爆了泡坏他家地板，物业一直没赔，物业费就当赔偿了。"),  # offset
        ("en", "2025-03-02 Owner says the company owes him for the ceiling repair, so he deducts it from the fee."),
        ("zh_CN", "2025-03-02 业主说物业费已经包含在车位管理费里了，我们是重复收费。"),  # bundled
        ("en", "2025-03-02 Owner insists the service charge is included in his rent to the developer."),
        ("zh_TW", "2025-03-02 業主說代銷小姐講過前兩年管理費由建商負擔。"),  # a salesperson's promise
        ("zh_CN", "2025-03-02 业主说房子是给女儿买的，物业费找她要，跟他没关系。"),  # who should pay
        ("en", "2025-03-02 Owner says his employer provides the flat and should pay the fee: 'bill them.'"),
        ("zh_TW", "2025-03-02 業主話佢層樓一直丟空冇人住，唔應該收足管理費。"),  # Cantonese vacancy
        ("en", "2025-03-02 Owner argues the property fee is illegal now and they can't charge anymore."),
    ],
)
def test_beliefs_in_the_owners_own_words(locale: str, note: str) -> None:
    result = run(record(note, locale=locale))
    assert result.category is M, [(s.rule, s.weight) for s in result.signals]
    assert_quotes_verbatim(record(note, locale=locale), result)


def test_a_later_retraction_settles_the_earlier_claim() -> None:
    result = run(
        record(
            "2025-03-17 业主说开发商当初承诺免两年物业费。",
            "2025-07-29 业主说上次说的免物业费是气话，其实她知道要交，只是丈夫生意失败，现在真拿不出钱。",
        )
    )
    assert result.category is H


def test_an_answered_question_is_no_belief() -> None:
    notes = ("2025-02-10 业主询问空置房是否可以减免物业费，说明后业主表示了解。", "2025-07-28 电话提醒未接。")
    assert run(record(*notes)).category is U


def test_the_owners_main_reason_comes_first() -> None:
    note = "2025-06-18 业主说失业是主要原因；另外他觉得物业费涨价没开业主大会，涨的那部分不该交。"
    result = run(record(note))
    assert (result.category, result.secondary) == (H, M)
    back = "2025-06-18 业主说门口保安形同虚设，外人随便进，这是不交的主要原因。又说车位租金那么多，该抵一部分物业费。"
    assert run(record(back)).category is S


def test_staff_impressions_are_not_the_owners_reason() -> None:
    assert run(record("2025-08-13 感觉业主就是故意拖，态度很差，说了句“再说吧”就挂了。")).category is U
    assert run(record("2025-05-26 邻居说这家人好像挺困难的。")).category is U


# Written for issue 17 from DOMAIN.md's causes (not from the corpus): each belief, hardship, protest
# and bare contact in the three languages, including the words the generic rules share with them.
OWN_WORDS = [
    ("misunderstanding", "zh_CN", "业主说她帮小区义务打扫了半年楼道，这些劳动就当交了物业费。"),
    ("misunderstanding", "zh_CN", "业主称物业去年多收了他三个月的钱还没退，先用那笔钱顶今年的。"),
    ("misunderstanding", "zh_CN", "业主说他的车在地库被刮，物业要负责，修车钱从物业费里出。"),
    ("misunderstanding", "zh_CN", "业主说交房的时候开发商说了物业费三年内全免，白纸黑字写在宣传册上。"),
    ("misunderstanding", "zh_CN", "业主坚称租房合同里写了物业费由承租方承担，要找就找租户。"),
    ("misunderstanding", "zh_CN", "业主说按规定物业费应该由政府定价，你们自己定的价不作数。"),
    ("misunderstanding", "zh_CN", "业主说物业费标准没经过物价局备案，属于违规收费。"),
    ("misunderstanding", "zh_CN", "业主说他是拆迁户，安置房物业费应该政府出。"),
    ("misunderstanding", "zh_CN", "业主说房产证还没拿到，房子严格来说还不是他的，物业费轮不到他交。"),
    ("misunderstanding", "zh_CN", "业主说交房时房子漏水没验收合格，她一直没收房，所以不用交。"),
    ("misunderstanding", "zh_CN", "业主认为物业费里已经包括了水电公摊，她每月交了电费就等于交了。"),
    ("misunderstanding", "zh_CN", "业主说小区的公共收益好几年没公布，他要先看账，收益够抵就不交。"),
    ("misunderstanding", "zh_TW", "業主表示房子是公司配的宿舍，管理費應由公司處理，與她無關。"),
    ("misunderstanding", "zh_TW", "業主說買房時代書說管理費已經含在總價裡。"),
    ("misunderstanding", "zh_TW", "業主認為他沒有參加區權會，決議對他無效，所以不用繳。"),
    ("misunderstanding", "zh_TW", "業主話自己長期喺內地工作，層樓冇人住，管理費應該減半。"),
    ("misunderstanding", "zh_TW", "業主指管理公司未經業主同意擅自加價，佢只會交舊價。"),
    ("misunderstanding", "zh_TW", "業主說車位租金都被管委會收走了，那些錢拿來抵管理費綽綽有餘。"),
    ("misunderstanding", "en", "Owner says the developer's brochure promised three years without management charges."),
    (
        "misunderstanding",
        "en",
        "Owner says he cut the hedges outside his block himself all summer, so that should count against his fees.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner believes that as a resettlement household the district government pays his fees.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner says the fee was set without any owners' vote and is therefore void; he pays nothing until a vote.",
    ),
    ("misunderstanding", "en", "Owner says his fees are covered by the maintenance reserve he paid when he bought."),
    (
        "misunderstanding",
        "en",
        "Owner says he bought through his employer's scheme and the employer covers the management fee.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner says the rent his tenant pays includes the service charge and the tenant should settle with us.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner says the keys were handed over late and the fee can't run from the contract date.",
    ),
    ("misunderstanding", "en", "Owner says his flat has been empty for two years; 'why pay for services nobody uses?'"),
    (
        "misunderstanding",
        "en",
        "Owner says the previous owner agreed to pay the fees up to the end of the year as part of the sale.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner says we overcharged him last year and he is taking that back out of this year's fees.",
    ),
    ("misunderstanding", "zh_CN", "业主说他家在一楼，电梯从来不坐，电梯那部分费用要减掉。"),
    ("misunderstanding", "zh_CN", "业主说小区停车场每年收那么多钱，够交全小区的物业费了。"),
    ("misunderstanding", "zh_CN", "业主称当年签的是前期物业合同，现在换了公司，他没签新的，不交。"),
    ("misunderstanding", "zh_CN", "业主说买房时销售讲过头三年物业费开发商包了。"),
    ("misunderstanding", "zh_CN", "业主坚持认为房子租出去了，物业费就该租客出。"),
    ("misunderstanding", "zh_CN", "业主说今年物业费涨了两毛，业主大会根本没开过，他只按原价交。"),
    ("misunderstanding", "zh_CN", "业主说房子还没装修好，没入住，等住进来再开始算物业费。"),
    ("misunderstanding", "zh_CN", "业主以为交了公维金就不用交物业费了。"),
    ("misunderstanding", "zh_CN", "业主说物业把他的车划了一直没赔，赔了再说，先拿物业费抵。"),
    ("misunderstanding", "zh_CN", "业主说他交的取暖费里面已经有物业费了。"),
    ("misunderstanding", "zh_CN", "业主觉得物业费应该是开发商交，房子没卖完之前都是开发商的。"),
    ("misunderstanding", "zh_CN", "业主说物业公司没有资质，收费不合法。"),
    ("misunderstanding", "zh_TW", "業主說房子空著沒人住，管理費應該打對折。"),
    ("misunderstanding", "zh_TW", "業主認為停車場的租金收入應該拿來抵管理費。"),
    ("misunderstanding", "zh_TW", "業主說當初建商答應送兩年管理費。"),
    ("misunderstanding", "zh_TW", "業主表示管委會沒開區權會就漲價，不合法，他不繳。"),
    ("misunderstanding", "zh_TW", "業主話層樓租咗出去，管理費應該租客俾。"),
    ("misunderstanding", "zh_TW", "業主說公設點交還沒完成，管理費不應該開始收。"),
    (
        "misunderstanding",
        "en",
        "Owner says he never uses the lift (ground floor), so the lift part should be taken off his fee.",
    ),
    (
        "misunderstanding",
        "en",
        "Owner believes advertising income from the lobby screens should cover everyone's fees.",
    ),
    ("misunderstanding", "en", "Owner says he never signed anything with this management company."),
    ("misunderstanding", "en", "Owner says the sales agent promised two years of free management fees."),
    ("misunderstanding", "en", "Owner says her tenant agreed to pay the fees, so we should chase the tenant."),
    ("misunderstanding", "en", "Owner refuses the increase because the owners' meeting never voted on it."),
    ("misunderstanding", "en", "Owner says billing should start from the day he got the keys renovated, not handover."),
    ("misunderstanding", "en", "Owner thinks the sinking fund he paid at purchase covers the monthly fee."),
    (
        "misunderstanding",
        "en",
        "Owner says the estate still owes him the deposit for his renovation, so he'll net it off.",
    ),
    ("misunderstanding", "en", "Owner says the flat has been empty since March and empty flats shouldn't be charged."),
    ("misunderstanding", "en", "Owner thinks the fee is included in the rent he pays to the developer."),
    (
        "misunderstanding",
        "en",
        "Owner says the management company was never approved by the owners so he owes them nothing.",
    ),
    ("hardship", "zh_CN", "业主说老伴住院做手术花了十几万，物业费实在交不上，能不能缓两个月。"),
    ("hardship", "zh_CN", "业主说厂里裁员他被辞了，现在靠打零工，费用能不能分三次交。"),
    ("hardship", "zh_CN", "业主认为自己不是不交，是真没钱，儿子读大学学费都是借的。"),
    ("hardship", "zh_TW", "業主說先生去年中風，現在全靠她一個人打工，管理費可不可以晚一點繳。"),
    ("hardship", "zh_TW", "業主話公司執笠，冇收入，問可唔可以分期。"),
    (
        "hardship",
        "en",
        "Owner says she lost her job in January and is living on savings; asked to pay in three instalments.",
    ),
    (
        "hardship",
        "en",
        "Owner's husband had a stroke; she says they can't afford the fees until his insurance pays out.",
    ),
    ("service_dissatisfaction", "zh_CN", "业主说楼上漏水半年了，报修五次没人管，修好了再交物业费。"),
    ("service_dissatisfaction", "zh_CN", "业主认为物业服务太差，垃圾天天堆着没人清，凭什么交钱。"),
    ("service_dissatisfaction", "zh_CN", "业主说电梯天天坏，老人上不去楼，这种服务不值这个钱，不交。"),
    ("service_dissatisfaction", "zh_TW", "業主說停車場常被外車佔用，管理處不處理，所以不繳。"),
    (
        "service_dissatisfaction",
        "en",
        "Owner refuses to pay until the broken entry gate is repaired; strangers walk in every night.",
    ),
    (
        "service_dissatisfaction",
        "en",
        "Owner says the cleaning is terrible and nobody answers complaints, so why should he pay for nothing.",
    ),
    ("unknown", "zh_CN", "已电话提醒，业主说知道了。"),
    ("unknown", "zh_CN", "上门两次无人，留下缴费通知单。"),
    ("unknown", "zh_CN", "业主说这几天忙，过几天再说。"),
    ("unknown", "zh_TW", "業主說會盡快處理，之後未再聯絡。"),
    ("unknown", "en", "Sent SMS reminder; owner replied 'ok'."),
    ("unknown", "en", "Owner said she would check with her husband and call back; no call received."),
    ("unknown", "zh_CN", "业主说不交，挂了电话。"),
]


@pytest.mark.parametrize(("expected", "locale", "note"), OWN_WORDS)
def test_causes_in_the_owners_own_words(expected: str, locale: str, note: str) -> None:
    result = run(record(f"2025-03-02 {note}", locale=locale))
    assert result.category.value == expected, [(s.rule, s.weight) for s in result.signals]


OWN_WORDS_MORE = [
    ("hardship", "zh_TW", ["業主說最近手頭比較緊，下個月一定補上。"]),
    ("hardship", "zh_TW", ["業主說工作不穩，收入時有時無。"]),
    ("hardship", "zh_TW", ["業主說家裡出了點狀況，需要一點時間。"]),
    ("hardship", "zh_TW", ["業主說做生意被倒帳，錢都卡住了。"]),
    ("hardship", "zh_TW", ["業主說客戶跳票，周轉出問題。"]),
    ("hardship", "zh_TW", ["業主話佢份人工減咗一半，入息少咗好多。"]),
    ("hardship", "zh_TW", ["業主話佢病咗成個月，冇開工。"]),
    ("hardship", "en", ["Owner says things have been rough since the divorce and she's behind on everything."]),
    ("hardship", "en", ["Owner says business has been slow all year."]),
    ("hardship", "en", ["Owner says he's between contracts and waiting on a payout."]),
    ("hardship", "en", ["Owner says she got hit with a big tax bill and needs a couple of months."]),
    ("hardship", "en", ["Owner says he's been off work on medical leave since January."]),
    ("hardship", "en", ["Owner is caring full-time for her disabled son and has little income."]),
    ("hardship", "zh_CN", ["业主说今年工程款一直收不回来，手里没流动资金。"]),
    ("hardship", "zh_CN", ["业主说疫情后店一直不景气，房租都交不上。"]),
    ("hardship", "zh_CN", ["业主说孩子生病住院，家里的钱都花光了。"]),
    ("misunderstanding", "zh_TW", ["住戶說他一年到頭都在大陸，房子都空著，管理費要全額繳很不合理。"]),
    ("misunderstanding", "zh_TW", ["業主表示買的是一樓店面，電梯、中庭都用不到，只願意付一半。"]),
    ("misunderstanding", "zh_TW", ["業主說社區的停車位出租收入那麼多，應該拿去抵大家的管理費。"]),
    ("misunderstanding", "zh_TW", ["業主說他從來沒簽過什麼管理合約，不知道為什麼要繳。"]),
    ("misunderstanding", "zh_TW", ["業主說當初建設公司說管理費前三年由他們負擔。"]),
    ("misunderstanding", "zh_TW", ["業主說房子已經租人了，管理費本來就是房客要繳的。"]),
    ("misunderstanding", "zh_TW", ["業主說管委會自己漲價，沒開區分所有權人會議，不算數。"]),
    ("misunderstanding", "zh_TW", ["業主說房子還沒點交給他，哪來的管理費。"]),
    ("misunderstanding", "zh_TW", ["業主認為繳了公共基金就等於繳了管理費。"]),
    ("misunderstanding", "zh_TW", ["業主說之前修漏水的錢是他自己出的，應該從管理費扣。"]),
    ("misunderstanding", "zh_TW", ["業主說車位的管理費已經含管理費了，不用再繳一次。"]),
    ("misunderstanding", "zh_TW", ["業主說房子是他媽媽在住，要收去找他媽媽收。"]),
    ("misunderstanding", "zh_TW", ["業主話佢層樓仲未收樓，唔應該收管理費。"]),
    ("misunderstanding", "zh_TW", ["業主話管理處冇經過業主大會就加價，佢唔認。"]),
    ("misunderstanding", "zh_TW", ["業主話發展商話過頭兩年免管理費。"]),
    ("misunderstanding", "zh_TW", ["業主話佢間屋租咗俾人，管理費係租客嘅事。"]),
    ("misunderstanding", "zh_TW", ["業主認為政府規定空置單位可以免收管理費。"]),
    ("misunderstanding", "zh_TW", ["業主說他有殘障手冊，依法管理費可以減半。"]),
    ("misunderstanding", "zh_TW", ["業主說這是祖產，繼承還沒辦好，不算他的。"]),
    ("misunderstanding", "zh_TW", ["業主說大樓的廣告看板收入都被管委會拿走了，他不繳。"]),
    ("misunderstanding", "zh_CN", ["业主：“我又没住，交什么交？”"]),
    ("misunderstanding", "zh_CN", ["业主说房子空的，收啥物业费。"]),
    ("misunderstanding", "zh_CN", ["业主说合同都没签，凭啥交。"]),
    ("misunderstanding", "zh_CN", ["业主问涨价谁同意了，不交。"]),
    ("misunderstanding", "zh_CN", ["业主说那是租户的事。"]),
    ("misunderstanding", "zh_CN", ["业主说一年回来一两次，住不了几天，凭什么交全年。"]),
    ("misunderstanding", "zh_CN", ["业主说他家一楼，电梯跟他有啥关系。"]),
    ("misunderstanding", "zh_CN", ["业主说停车费都被你们吞了，还好意思要物业费。"]),
    ("misunderstanding", "zh_CN", ["业主问谁请你们来的。"]),
    ("misunderstanding", "zh_TW", ["業主說房子沒人住幹嘛繳。"]),
    ("misunderstanding", "zh_TW", ["業主說管理費應該建商出。"]),
    ("misunderstanding", "zh_TW", ["業主說區權會沒通過，漲價不算。"]),
    ("misunderstanding", "en", ["Owner: 'I never agreed to any increase.'"]),
    ("misunderstanding", "en", ["Owner says that's the developer's job."]),
    ("hardship", "zh_CN", ["业主说最近钱紧，过阵子再交。"]),
    ("hardship", "zh_CN", ["业主说家里压力大，孩子上学开销大。"]),
    ("hardship", "en", ["Owner says money's tight at the moment."]),
    ("unknown", "zh_CN", ["业主说有空了就来交。"]),
    ("unknown", "zh_CN", ["业主说抽空过来办。"]),
    ("unknown", "zh_CN", ["业主说忙，改天再说。"]),
    (
        "misunderstanding",
        "en",
        [
            "Owner on the phone: 'Nobody's lived there since Grandma died. You're charging an empty "
            "flat, that's not right.'"
        ],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says the advertising screens in the lifts make the estate plenty of money and his "
            "share should come off his bill."
        ],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says he only signed the purchase contract, never a management agreement, so there "
            "is nothing to enforce against him."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner claims the show-flat staff told her management fees were 'on the house' for the first two years."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says her lease makes the tenant responsible for all building charges, so she won't "
            "pay and we should talk to the tenant."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the committee raised the fee behind everyone's back and she'll keep paying last year's amount."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says he got the keys in June but only moved in in October, so he'll pay from October."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the repair fund deduction at purchase was meant to pay for management as well."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says we still owe him for the window our contractor broke, and he's keeping the "
            "fee until it's replaced or paid."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the heating company's bill includes 'building services', so the management fee is already paid."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says the developer still owns most of the units and should be footing the bill for "
            "management, not him."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner read that property fees for homes under 90 m² were scrapped nationally and refuses to pay."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says his flat is a staff dormitory and the hospital he works for pays the building costs."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says he sold the flat in March; told the transfer hasn't been registered, he says "
            "that's the buyer's problem."
        ],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner says the management contract ran out last year and nobody renewed it, so there is "
            "no contract to charge under."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner thinks he only has to pay for the months he actually uses the flat, as he does with utilities."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the parking fee and the management fee are 'the same thing' and he already pays parking."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the old management company agreed he could skip fees while he was abroad."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "Owner argues the fee should be charged on the usable area, not the gross area, and won't "
            "pay the difference."
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the lift doesn't reach his floor's landing so he shouldn't share its costs."],
    ),
    ("misunderstanding", "zh_CN", ["电话无人接听。", "业主回电问为什么空房子也要交物业费，说她家从来没住过。"]),
    ("misunderstanding", "zh_CN", ["据业主讲，当初买房时置业顾问拍胸脯保证过物业费五年不涨，现在涨了他就不认。"]),
    ("misunderstanding", "zh_CN", ["业主的意思是，物业费应该由住在里面的亲戚出，她只是挂个名。"]),
    ("misunderstanding", "zh_CN", ["业主说自己是小区业委会成员，业委会成员按惯例免交物业费。"]),
    ("misunderstanding", "zh_CN", ["业主称物业服务合同是开发商签的，跟他个人没关系。"]),
    ("misunderstanding", "zh_CN", ["业主说他已经把房子卖了，只是还没过户，物业费应该买家交。"]),
    ("misunderstanding", "zh_CN", ["业主认为自己是老年人，按规定老年人物业费可以减半。"]),
    ("misunderstanding", "zh_CN", ["业主说他家阳台被物业施工弄坏了，要求先赔偿，赔偿款直接冲抵物业费。"]),
    ("misunderstanding", "zh_CN", ["业主表示他只认开发商当时的收费标准，新标准他不接受。"]),
    ("misunderstanding", "zh_CN", ["业主说地下室是赠送的，不应该算面积收物业费，多收的部分不交。"]),
    ("misunderstanding", "zh_TW", ["業主說他是軍眷，依規定管理費可以減免。"]),
    ("misunderstanding", "zh_TW", ["業主表示房子登記在公司名下，管理費應由公司會計處理，不關他的事。"]),
    ("misunderstanding", "zh_TW", ["業主話管理費已經包埋喺月供入面，銀行會代扣。"]),
    ("misunderstanding", "zh_TW", ["業主說車位是租的不是買的，車位的管理費應該房東繳。"]),
    ("misunderstanding", "zh_TW", ["業主認為頂樓加蓋的部分不算坪數，管理費按權狀坪數收才對，多出的他不繳。"]),
    ("misunderstanding", "en", ["Owner says as a pensioner he's entitled to a 50% reduction on the management fee."]),
    (
        "misunderstanding",
        "en",
        ["Owner says the basement storage came free with the flat and shouldn't be counted in the billed area."],
    ),
    ("misunderstanding", "en", ["Owner believes the bank takes the management fee with his mortgage payment."]),
    (
        "misunderstanding",
        "en",
        ["Owner says the flat belongs to his company and the company accountant should deal with the fees, not him."],
    ),
    ("misunderstanding", "en", ["Owner says committee members don't pay fees; he sits on the owners' committee."]),
    (
        "misunderstanding",
        "en",
        ["Owner says the sale is agreed, so the buyer should pay from now on though the transfer isn't done."],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner asked why he should pay for the garden when he has no garden access; says he'll deduct that part."],
    ),
    (
        "misunderstanding",
        "en",
        [
            "No answer.",
            "Owner emailed: the fee is unlawful because the management company's licence expired last year.",
        ],
    ),
    (
        "misunderstanding",
        "en",
        ["Owner says the contract allows a rise only every three years, so he pays the old amount."],
    ),
    ("hardship", "zh_CN", ["业主说今年家里老人接连生病，钱全花在医院了，物业费能不能缓缓。"]),
    ("hardship", "zh_CN", ["业主说老公跑长途货车，最近没活，家里就靠她一点工资。"]),
    ("hardship", "zh_CN", ["业主哭着说丈夫上个月走了，孩子还小，实在顾不上。"]),
    ("hardship", "zh_CN", ["业主说开的奶茶店倒了，欠了一屁股债，等找到工作再慢慢补。"]),
    ("hardship", "zh_CN", ["业主说单位效益不好，三个月没发工资了。"]),
    ("hardship", "zh_CN", ["业主说自己刚生完孩子在休产假，收入减半，想分期。"]),
    ("hardship", "zh_CN", ["业主说今年种的果子卖不出去，手上一点钱都没有。"]),
    ("hardship", "zh_TW", ["業主說最近被公司資遣，還在找工作，管理費可否延後。"]),
    ("hardship", "zh_TW", ["業主說太太洗腎，每個月醫藥費很重，實在繳不出來。"]),
    ("hardship", "zh_TW", ["業主話佢啱啱失業，而家靠積蓄過日子，管理費想遲啲先交。"]),
    (
        "hardship",
        "en",
        ["Owner says her hours at the factory were cut to two days a week and she can barely cover food."],
    ),
    (
        "hardship",
        "en",
        ["Owner is a retired teacher whose pension was suspended by an admin error; she'll pay once it's restored."],
    ),
    (
        "hardship",
        "en",
        ["Owner says his wife's cancer treatment has used up their savings; he asked if we could wait until spring."],
    ),
    (
        "hardship",
        "en",
        ["Owner says the shop he ran went bust during the lockdowns and he is still clearing the debts."],
    ),
    (
        "hardship",
        "en",
        ["Owner's son called: his father had a fall and is in a care home, the family is sorting out his finances."],
    ),
    ("service_dissatisfaction", "zh_CN", ["业主说地下车库一下雨就积水，车泡了两次物业都不管，不整改不交。"]),
    ("service_dissatisfaction", "zh_CN", ["业主说保安晚上根本不巡逻，她家被偷了，物业一句话都没有。"]),
    ("service_dissatisfaction", "zh_CN", ["业主说楼下烧烤店油烟熏得没法开窗，找了物业十几次没用。"]),
    ("service_dissatisfaction", "zh_TW", ["業主說社區游泳池關了一年都沒修，管理費照收，不合理。"]),
    (
        "service_dissatisfaction",
        "en",
        ["Owner withholds payment in protest: the intercom has been dead since June and nobody replies to emails."],
    ),
    (
        "service_dissatisfaction",
        "en",
        ["Owner says rats in the bin store and the cleaners only come once a fortnight; she'll pay when it's sorted."],
    ),
    ("unknown", "zh_CN", ["电话无人接听。", "上门，家中无人，留下催缴单。"]),
    ("unknown", "zh_CN", ["业主说回头再说，就挂了。"]),
    ("unknown", "zh_TW", ["業主說知道了，會處理。"]),
    ("unknown", "en", ["Emailed statement; no reply.", "Called twice, straight to voicemail."]),
    ("unknown", "en", ["Owner said he was busy and would call back."]),
]


@pytest.mark.parametrize(("expected", "locale", "notes"), OWN_WORDS_MORE)
def test_more_causes_in_the_owners_own_words(expected: str, locale: str, notes: list[str]) -> None:
    result = run(record(*(f"2025-03-02 {note}" for note in notes), locale=locale))
    assert result.category.value == expected, [(s.rule, s.weight) for s in result.signals]


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("2025-03-02 业主说，我们家一直没人住，凭什么交。", M),  # 我们 in the owner's reported speech
        ("2025-03-02 业主说，租客应该交物业费。", M),  # the tenant as subject, not as speaker
        ("2025-03-02 Owner says the fee is in the rent, we should ask the tenant.", M),
        ("2025-03-02 邻居说，业主好像失业了。", U),  # a neighbour's report is hearsay
    ],
)
def test_who_is_speaking_in_reported_speech(note: str, expected: Category) -> None:
    assert run(record(note)).category is expected
