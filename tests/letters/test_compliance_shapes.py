"""The compliance check by structure, on sentences not in tests/corpus (issue 17, item 3).

Each forbidden sentence is an adverse action of one family tied to not paying, or intimidation, in
wording the lexicon does not list verbatim; each lawful one uses the same words for a neutral
notice, the rule itself or a promise.
"""

from __future__ import annotations

import pytest

from feesvc.letters.compliance import Family, check_text

U, A, C, P, K = (
    Family.UTILITY_CUTOFF,
    Family.ACCESS_BLOCKING,
    Family.CREDIT_SANCTION,
    Family.PUBLIC_SHAMING,
    Family.COERCION,
)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("鉴于贵户欠费未清，今冬热水开通将推迟到其他住户之后。", U),
        ("Your hot water will not be switched on until the arrears are cleared.", U),
        ("The office will not recharge your gas card while fees remain outstanding.", U),
        ("欠费期间，管理处暂停为贵户代缴电费。", U),
        ("Guests of households with unpaid fees must be escorted by the owner from the front gate.", A),
        ("Packages for flats that owe service charges will be sent back to the sender.", A),
        ("We will not renew the parking permit of any owner with overdue fees.", A),
        ("物业将把您家门锁换掉，直到欠费结清。", A),
        ("小区广播会在早晚播报长期欠费户的房号。", P),
        ("Unit numbers in arrears will be displayed on the lobby TV.", P),
        ("在这个小区住，什么事情都有可能发生，您好好想想。", K),
        ("我们自有办法对付拖欠的人，你等着瞧。", K),
        ("您儿子在哪上学，我们都知道。", K),
        ("催收员今晚十一点后会上门找您谈欠费。", K),
        ("Our team will drop by after midnight to discuss your balance.", K),
        ("Imagine what your neighbours will say when they see our collectors at your door.", K),
        ("管理处将把欠费通知寄到您的工作单位。", P),
        ("Names of late payers will be taped up in the stairwell.", P),
        ("Your water credit can only be bought after the service charge is cleared.", U),
        ("下回再来的就不是我了，您好自斟酌。", K),
        ("Radiators in units with overdue charges will be limited to off-peak only.", U),
        ("Your storage locker rental will expire while the arrears remain unpaid.", A),
        ("Non-payers will be entered on the residents' integrity record.", C),
        ("再拖下去，就别怪本公司不讲情面了。", K),
    ],
)
def test_an_adverse_action_or_intimidation_is_blocked_with_its_family(text: str, family: Family) -> None:
    violations = check_text(text)
    assert family in {violation.family for violation in violations}, violations
    assert all(violation.sentence == text for violation in violations)


@pytest.mark.parametrize(
    "text",
    [
        "本周三小区水箱清洗停水的通知已在业主群发布，请大家互相转告。",
        "我们只会与您本人联系，不会联系您的单位或亲属。",
        "Consumption bans can only follow a court judgment; we never report fees to any credit agency.",
        "受寒潮影响，全小区供暖开栓推迟两天，敬请谅解。",
        "Parcels are held at the gate only when the resident asks us to.",
        "如需晚上上门维修，请提前预约，师傅最晚八点前到达。",
        "Use your pickup code at the parcel lockers beside the main gate.",
        "Our hotline is open 24/7 for repairs and emergencies.",
        "Your parking permit expires on 31 December; you can renew it at the front desk.",
        "Your gym membership will lapse at the end of the year unless you renew it.",
    ],
)
def test_the_same_words_in_a_neutral_notice_the_rule_or_a_promise_pass(text: str) -> None:
    assert check_text(text) == []


@pytest.mark.parametrize(
    ("text", "family"),
    [
        # works that last until the fee is paid are a cut-off by another name
        ('Routine "valve servicing" on your line will remain in place until the service charge is paid.', U),
        ('您家燃气管道将进行"保养"，保养至管理费缴清之日结束。', U),
        # a named unit said to owe, addressed to everyone
        ("5栋803室已拖欠物业费九个月，请各位业主周知。", P),
        ("Flat 7C has not paid for eight months, for the information of all residents.", P),
        ("We can't guarantee your scooter stays in one piece while the fees remain unpaid.", K),
        ("欠费业主的访客车辆需在门岗说明缴费安排后方可入内。", A),
        ("Your arrears have been shared with your bank and may affect your mortgage.", C),
    ],
)
def test_shapes_of_the_third_set_are_blocked_in_other_words(text: str, family: Family) -> None:
    assert family in {violation.family for violation in check_text(text)}


@pytest.mark.parametrize(
    "text",
    [
        # the text says the action is not tied to paying
        "因管网改造，周三全小区停水，与是否缴费无关。",
        "The shutdown applies to every flat in Block 2, regardless of payment.",
        # a negation before an English list governs the whole list
        "We do not pass fee information to employers, relatives or landlords.",
        # a board or group chat said to carry no debtor's data; a promise with 'never' inside it
        "我们不会将任何业主的欠费信息发布在业主群或张贴在公告栏。",
        "业主群只发布维修和停水通知，不涉及任何住户的欠费信息。",
        "Your water, heating and access will never be restricted over fees.",
        # a lost card stopped for the owner's sake
        "磁扣遗失的，请告知号码以便我们及时停用，防止被他人使用。",
    ],
)
def test_denials_lists_promises_and_services_stay_lawful(text: str) -> None:
    assert check_text(text) == []
