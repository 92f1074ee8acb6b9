"""The letter compliance check: forbidden threats are caught in zh_CN, zh_TW and English, lawful
explanations of the rules pass, and the check reads text, HTML, PDF, templates and the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import weasyprint
from click.testing import CliRunner

from feesvc.letters.check_cli import check_command
from feesvc.letters.compliance import (
    Family,
    Violation,
    check_file,
    check_html,
    check_pdf,
    check_sentence,
    check_text,
    fold,
    split_sentences,
    strip_template_tags,
)

REPO = Path(__file__).resolve().parents[2]

UTILITY = Family.UTILITY_CUTOFF
ACCESS = Family.ACCESS_BLOCKING
CREDIT = Family.CREDIT_SANCTION
SHAMING = Family.PUBLIC_SHAMING
COERCION = Family.COERCION

# (family, language, sentence): every family, every language, at least two wordings each.
FORBIDDEN = [
    (UTILITY, "zh_CN", "如您逾期未缴，我们将对您家停水。"),
    (UTILITY, "zh_CN", "物业将暂停供电，直至费用结清。"),
    (UTILITY, "zh_CN", "逾期不缴的，水电将被切断。"),
    (UTILITY, "zh_CN", "如不缴费，今年冬天不予供暖。"),
    (UTILITY, "zh_CN", "届时我们将停止对您家的供水。"),
    (UTILITY, "zh_CN", "我们不会手软，将拉闸限电。"),
    (UTILITY, "zh_TW", "若您未於期限內繳清，本公司將對您家斷水斷電。"),
    (UTILITY, "zh_TW", "管委會將暫停供應暖氣及熱水。"),
    (UTILITY, "zh_TW", "管理處將截斷水電供應。"),
    (UTILITY, "zh_TW", "逾期未繳，貴戶的電力將被切斷。"),
    (UTILITY, "en", "We will cut off your water if the balance is not paid."),
    (UTILITY, "en", "Your water and electricity will be cut off on Monday."),
    (UTILITY, "en", "We will suspend electricity to your flat."),
    (UTILITY, "en", "We will not hesitate to cut off your power."),
    (UTILITY, "en", "Heating will not be provided until you pay."),
    (ACCESS, "zh_CN", "欠费业主的门禁卡将被停用。"),
    (ACCESS, "zh_CN", "禁止停车。"),
    (ACCESS, "zh_CN", "严禁欠费业主进入小区。"),
    (ACCESS, "zh_CN", "电梯将被锁定，我们将锁梯。"),
    (ACCESS, "zh_CN", "不缴清不让进小区。"),
    (ACCESS, "zh_CN", "欠费车辆不予放行，禁止车辆进出。"),
    (ACCESS, "zh_TW", "管理處將停用您的門禁卡。"),
    (ACCESS, "zh_TW", "欠費住戶的車輛不予放行。"),
    (ACCESS, "zh_TW", "升降機將暫停服務。"),
    (ACCESS, "zh_TW", "您的停車證將被註銷。"),
    (ACCESS, "en", "We will deactivate your access card."),
    (ACCESS, "en", "The elevator will be locked for your floor."),
    (ACCESS, "en", "You may not use the lift until you pay."),
    (ACCESS, "en", "You will not be allowed to park in the estate."),
    (ACCESS, "en", "Parking by owners in arrears is prohibited."),
    (CREDIT, "zh_CN", "我们将把您列入失信被执行人名单。"),
    (CREDIT, "zh_CN", "欠费将影响您的征信。"),
    (CREDIT, "zh_CN", "法院将对您限制高消费，还会影响您孩子上学。"),
    (CREDIT, "zh_TW", "我們將把您列入失信被執行人名單。"),
    (CREDIT, "zh_TW", "本公司將通報聯徵中心，影響您的信用紀錄。"),
    (CREDIT, "zh_TW", "欠款資料將提交環聯，影響信貸評級。"),
    (CREDIT, "en", "Your arrears will be reported to the credit bureau."),
    (CREDIT, "en", "You will be placed on a blacklist."),
    (CREDIT, "en", "A travel ban and a consumption ban may follow."),
    (SHAMING, "zh_CN", "我们将在小区公告栏张贴欠费名单。"),
    (SHAMING, "zh_CN", "您的欠费信息将公示在业主群。"),
    (SHAMING, "zh_CN", "我们将在电梯公告中公布您的房号。"),
    (SHAMING, "zh_CN", "隔壁502的李女士也欠费。"),
    # Telling the employer discloses the debt to a third party (DOMAIN.md "What documents may say" lists it
    # with screens and group chats): exposure, reported as public_shaming.
    (SHAMING, "zh_CN", "我们会通知您的单位领导。"),
    (SHAMING, "zh_TW", "將欠費名單張貼於公佈欄。"),
    (SHAMING, "zh_TW", "我們會在住戶LINE群組公布您的姓名。"),
    (SHAMING, "zh_TW", "管理處將在大堂告示板列出欠款單位。"),
    (SHAMING, "en", "We will post your name on the notice board."),
    (SHAMING, "en", "Your arrears will be published in the owners' WeChat group."),
    (SHAMING, "en", "Other owners in your building who owe fees include Mr Li."),
    (COERCION, "zh_CN", "否则后果自负。"),
    (COERCION, "zh_CN", "我们将采取强制措施。"),
    (COERCION, "zh_CN", "我们将派人上门讨债，别怪我们不客气。"),
    (COERCION, "zh_TW", "否則後果自負。"),
    (COERCION, "zh_TW", "我們將派人上門追數。"),
    (COERCION, "zh_TW", "我們將採取強制措施。"),
    (COERCION, "en", "You will regret it."),
    (COERCION, "en", "We will take forcible measures."),
    (COERCION, "en", "Debt collectors will show up at your home, so pay now or else."),
]


@pytest.mark.parametrize(("family", "language", "sentence"), FORBIDDEN)
def test_each_family_is_caught(family: Family, language: str, sentence: str) -> None:
    violations = check_text(sentence)
    assert family in {v.family for v in violations}, (language, violations)
    for violation in violations:
        assert violation.sentence == sentence
        assert violation.term and violation.term in sentence


def test_every_family_and_language_has_two_examples() -> None:
    counts: dict[tuple[Family, str], int] = {}
    for family, language, _ in FORBIDDEN:
        counts[family, language] = counts.get((family, language), 0) + 1
    assert {key for key, n in counts.items() if n >= 2} == {
        (family, language) for family in Family for language in ("zh_CN", "zh_TW", "en")
    }


def test_violation_names_family_sentence_and_term() -> None:
    text = "尊敬的业主：您好！如逾期未缴，我们将对您家停水。感谢您的支持。"
    assert check_text(text) == [Violation(UTILITY, "如逾期未缴，我们将对您家停水。", "停水")]


def test_traditional_terms_are_reported_as_written() -> None:
    violations = check_text("本公司將對您家斷水斷電。")
    assert [v.term for v in violations] == ["斷水", "斷電"]
    assert {v.family for v in violations} == {UTILITY}


LAWFUL = [
    # zh_CN
    "依照法律规定，物业公司不得以停水、停电等方式催缴物业费。",
    "法律禁止通过停水停电催交。",
    "我们不会停水停电。",
    "根据《民法典》第944条，物业服务人不得采取停止供电、供水、供热、供燃气等方式催交物业费。",
    "我们不会停水、停电、停气，也不会限制您使用电梯。",
    "物业公司不得禁止业主停车。",
    "物业公司不得限制业主进入小区。",
    "法律禁止物业停水停电、锁梯或禁止业主停车。",
    "我们不会在业主群或公告栏公布您的任何信息。",
    "欠费不会影响您的征信。",
    "以停水方式催费是违法的。",
    "物业公司无权停水停电，也绝不会将您的名字张贴在公告栏。",
    # zh_TW
    "依法律規定，管理公司不得以停水、停電等方式催繳管理費。",
    "我們絕不會斷水斷電。",
    "本公司不會停用門禁卡，也不會在群組公佈您的資料。",
    # en
    "We will never cut your water or power.",
    "The law forbids property managers from cutting off water, electricity or heating to collect fees.",
    "Under the Civil Code, property service providers may not suspend utilities to collect fees.",
    "We will not post your name on any notice board or group chat.",
    "Cutting off water to collect fees is illegal.",
    "Blocking access cards is prohibited by law.",
    "Unpaid fees are never reported to any credit bureau before a court judgment.",
    "The law forbids blocking owners from entering the estate.",
    "We will never threaten you.",
]


@pytest.mark.parametrize("sentence", LAWFUL)
def test_lawful_mentions_pass(sentence: str) -> None:
    assert check_text(sentence) == []


@pytest.mark.parametrize(
    ("sentence", "term"),
    [
        ("我们不得不采取停水措施。", "停水"),  # 不得不 = "have no choice but to"
        ("我们不会再等，届时立即停电。", "停电"),  # the negation is in another clause
        ("依照法律规定不得停水，但如果您不交费，我们将停电。", "停电"),
        ("根据法律规定不缴费将停水。", "停水"),  # negates the owner's payment, not the company's act
        ("禁止停车停水。", "停水"),  # 禁止 belongs to 禁止停车 and governs nothing else
        ("If you won't pay we will disconnect the gas.", "disconnect the gas"),
        ("If you don't pay your water will be cut off.", "water will be cut off"),
        ("We won't wait any longer and will cut your water.", "cut your water"),
    ],
)
def test_negation_does_not_excuse_a_threat(sentence: str, term: str) -> None:
    assert term in [v.term for v in check_text(sentence)]


def test_cached_sentence_check_gives_what_the_check_computes() -> None:
    sentences = [sentence for _, _, sentence in FORBIDDEN] + LAWFUL
    check_sentence.cache_clear()
    first = [check_sentence(sentence) for sentence in sentences]
    again = [check_sentence(sentence) for sentence in sentences]
    assert check_sentence.cache_info().hits == len(sentences)
    assert again == first == [check_sentence.__wrapped__(sentence) for sentence in sentences]
    assert all(isinstance(result, tuple) for result in first)  # shared results cannot be changed
    assert sum(map(len, first)) >= len(FORBIDDEN) and not any(first[len(FORBIDDEN) :])


WARM_REMINDER_ZH = """尊敬的王先生：

您好！感谢您一直以来对我们工作的支持。本月我们为小区提供保洁服务30次，完成报修15次，其中水电维修8次，电梯维保12次。

您名下3栋502室本期物业服务费共计1,234.50元，距缴费截止日（7月15日）还有3天。预缴半年物业费可享95折优惠。
您可到物业服务中心前台缴纳，也可通过微信、支付宝缴费。如有困难，可申请分期缴费，我们很乐意协助。

冬季天冷，外出时请随手关闭燃气阀门，注意关闭门窗。

如逾期仍未缴纳，我司将依法提起诉讼或申请仲裁。

某某物业服务中心
2024年7月12日"""

WARM_REMINDER_EN = """Dear Mr Wang,

Thank you for being part of our community. This month we cleaned the common areas 30 times and
completed 15 repairs, including fixing a water leak in Block 3. Your service fee for June is
1,234.50 yuan, due on July 15. Prepay six months and get 5% off.

If anything about our service has fallen short, please tell us: we respond within 15 minutes.
If paying is difficult right now, we can agree an installment plan. Please turn off the water and
gas when you travel.

Kind regards,
Property Service Centre"""


@pytest.mark.parametrize("letter", [WARM_REMINDER_ZH, WARM_REMINDER_EN])
def test_warm_reminder_passes(letter: str) -> None:
    assert check_text(letter) == []


def test_sentences_split_on_chinese_and_english_punctuation_and_lines() -> None:
    text = "第一句。第二句！第三句？第四句；Fifth one. Sixth 3.5 yuan!\nseventh line"
    assert split_sentences(text) == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "Fifth one.",
        "Sixth 3.5 yuan!",
        "seventh line",
    ]


def test_fold_keeps_every_offset() -> None:
    text = "斷水斷電，ＡＢＣ！門禁卡"
    assert len(fold(text)) == len(text)
    assert fold(text) == "断水断电,ABC!门禁卡"


HTML_WITH_VIOLATION = """<!doctype html>
<html><head><title>催缴通知</title>
<style>.停水 { color: red } /* 停电 */</style>
<script>var warning = "后果自负";</script></head>
<body>
  <p class="greeting">尊敬的业主：</p>
  <p>如逾期仍未缴纳，我们将对您家<strong>停</strong>水。</p>
  <div><span>Thank you.</span></div>
</body></html>"""


def test_html_violation_inside_markup_is_found_and_style_script_are_ignored() -> None:
    assert check_html(HTML_WITH_VIOLATION) == [
        Violation(UTILITY, "如逾期仍未缴纳，我们将对您家停水。", "停水"),
    ]


def test_html_text_wrapped_across_source_lines_is_joined() -> None:
    html = "<p>如逾期仍未缴纳，我们将在小区\n      公告栏张贴欠费名单。</p>"
    assert {v.family for v in check_html(html)} == {SHAMING}


def test_clean_html_passes() -> None:
    html = "<html><style>p::before { content: '停水' }</style><body><p>感谢您的支持！</p></body></html>"
    assert check_html(html) == []


def _write_pdf(path: Path, body: str) -> Path:
    html = (
        "<html><head><style>body { font-family: 'Noto Sans CJK SC', 'Noto Serif CJK SC', serif; "
        "width: 14em }</style></head><body>" + body + "</body></html>"
    )
    weasyprint.HTML(string=html).write_pdf(path)
    return path


def test_pdf_letter_is_checked(tmp_path: Path) -> None:
    pdf = _write_pdf(
        tmp_path / "letter.pdf",
        "<h1>催缴通知</h1><p>尊敬的业主：您好！截至2024年6月30日，您尚欠物业服务费1,234.50元。"
        "如逾期仍未缴纳，我们将对您家停水停电，并停用您的门禁卡，届时后果自负。</p><p>感谢您的支持。</p>",
    )
    violations = check_pdf(pdf)
    # The narrow page wraps lines mid-sentence; terms split across lines are still found.
    assert [v.term for v in violations] == ["停水", "停电", "停用您的门禁卡", "后果自负"]
    assert {v.family for v in violations} == {UTILITY, ACCESS, COERCION}
    assert all("届时后果自负。" in v.sentence for v in violations)


def test_clean_pdf_passes(tmp_path: Path) -> None:
    pdf = _write_pdf(
        tmp_path / "clean.pdf",
        "<p>尊敬的业主：本月为您提供保洁服务30次。依照法律规定，物业公司不得以停水、停电等方式催缴物业费。</p>",
    )
    assert check_pdf(pdf) == []


def test_check_file_dispatches_by_content(tmp_path: Path) -> None:
    pdf_without_suffix = _write_pdf(tmp_path / "letter.bin", "<p>否则后果自负。</p>")
    html_as_txt = tmp_path / "letter.txt"
    html_as_txt.write_text("<p>我们将<b>锁梯</b>。</p>", encoding="utf-8")
    gbk_text = tmp_path / "letter-gbk.txt"
    gbk_text.write_bytes("欠费将影响您的征信。".encode("gb18030"))
    template = tmp_path / "reminder.html"
    template.write_text("<p>{{ owner.name }}，您好！{% if overdue %}否则后果自负。{% endif %}</p>", "utf-8")

    assert [v.family for v in check_file(pdf_without_suffix)] == [COERCION]
    assert [v.term for v in check_file(html_as_txt)] == ["锁梯"]
    assert [v.family for v in check_file(gbk_text)] == [CREDIT]
    assert [v.term for v in check_file(template)] == ["后果自负"]


def test_check_file_reads_stdin_for_dash() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"<p>We will post your name on the notice board.</p>"))
    # Overlapping matches of one family ("post … on the", "notice board") are one violation.
    assert check_file("-", stdin=stdin) == [
        Violation(SHAMING, "We will post your name on the notice board.", "post your name on the notice board")
    ]
    # Piped GB18030 text decodes like a GB18030 file does.
    gbk_stdin = io.TextIOWrapper(io.BytesIO("我们将在业主群公布您的欠费。".encode("gb18030")), encoding="utf-8")
    assert {v.family for v in check_file("-", stdin=gbk_stdin)} == {SHAMING}


def test_cli_exits_1_and_prints_family_and_sentence(tmp_path: Path) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text("尊敬的业主：\n如逾期未缴，我们将对您家停水。\n感谢支持。\n", encoding="utf-8")
    result = CliRunner().invoke(check_command, [str(letter)])
    assert result.exit_code == 1
    assert "[utility_cutoff] '停水' in: 如逾期未缴，我们将对您家停水。" in result.stdout
    assert "感谢支持" not in result.stdout


def test_cli_exits_0_on_a_clean_file(tmp_path: Path) -> None:
    letter = tmp_path / "letter.html"
    letter.write_text("<p>依照法律规定，物业公司不得以停水、停电等方式催缴物业费。</p>", encoding="utf-8")
    result = CliRunner().invoke(check_command, [str(letter)])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{letter}: no violations"


def test_cli_reads_stdin() -> None:
    runner = CliRunner()
    dirty = runner.invoke(check_command, ["-"], input="<p>You will be placed on a blacklist.</p>")
    assert dirty.exit_code == 1
    assert "[credit_sanction] 'blacklist' in: You will be placed on a blacklist." in dirty.stdout
    clean = runner.invoke(check_command, ["-"], input="Thank you for paying on time.\n")
    assert clean.exit_code == 0
    assert "stdin: no violations" in clean.stdout


def test_cli_exits_2_when_the_letter_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    result = CliRunner().invoke(check_command, [str(broken)])
    assert result.exit_code == 2
    assert "pdftotext failed" in result.output


def test_every_letter_template_passes() -> None:
    templates = sorted((REPO / "letters").rglob("*.html"))
    assert len(templates) >= 9  # every letter kind, the receipt, the statement, the evidence pack
    failures: dict[str, list[str]] = {}
    for template in templates:
        violations = check_html(strip_template_tags(template.read_text(encoding="utf-8")))
        if violations:
            failures[str(template.relative_to(REPO))] = [str(v) for v in violations]
    assert failures == {}


# --- compliance by structure: indirect pressure, and lawful notices using the same words ----------

INDIRECT = [
    (UTILITY, "欠费业主的电卡暂停充值，缴清后恢复。"),  # utility credit not sold
    (UTILITY, "物业将关闭您家的进水总阀，直至缴清欠款。"),  # a valve closed
    (UTILITY, "欠费户的燃气表将被锁定。"),
    (UTILITY, "我哋會截你單位嘅水。"),  # Cantonese
    (UTILITY, "Your electricity meter will be locked until the arrears are cleared."),
    (ACCESS, "您的车辆已被取消入场权限。"),
    (ACCESS, "从下周起，保安将不再为欠费户开门。"),
    (ACCESS, "欠费业主家的装修申请一律不予审批。"),  # renovation permits
    (ACCESS, "欠费户的快递将暂存门岗，缴费后方可领取。"),  # deliveries
    (ACCESS, "閣下的泊車證將會作廢，直至清還欠款。"),
    (ACCESS, "We have disabled your key fob; it will be reactivated once you pay."),
    (ACCESS, "Visitors to units with unpaid fees will be refused at the gate."),
    (SHAMING, "你的欠费情况我们已经告诉你们公司领导了。"),  # the employer
    (SHAMING, "管理處會通知閣下的公司人事部。"),
    (SHAMING, "We will let your employer know about your unpaid fees."),
    (SHAMING, "Your name will appear on the lobby screen next week."),
    (CREDIT, "欠费将被记入个人征信，影响您贷款买房。"),
    (COERCION, "晚上我们会安排人到你家门口坐坐。"),  # people at the door at night
    (COERCION, "你不交试试看。"),
    (COERCION, "Our team will keep calling you at night until you settle."),
    (COERCION, "Pay up, or you'll find out what happens."),
]


@pytest.mark.parametrize(("family", "sentence"), INDIRECT)
def test_indirect_pressure_is_blocked(family: Family, sentence: str) -> None:
    assert family in {v.family for v in check_text(sentence)}


LAWFUL_NOTICES = [
    "因供电局线路检修，本小区将于3月5日8:00至12:00停电，请提前做好准备。",  # maintenance outage
    "为保障用水安全，二次供水水箱将于本周六清洗，1-3栋暂停供水半天。",
    "2号楼电梯将于周三进行年度检验，届时暂停使用两小时。",
    "本處將於下週一檢修大廈供水系統，上午九時至十二時暫停供水。",
    "Due to mains repairs by the water company, water will be off in Blocks 1-3 on Saturday from 9 to 12.",
    "冬季来临，请外出时关闭燃气阀门，防止意外。",  # a safety tip
    "根据《民法典》第九百四十三条，本季度物业服务费收支情况已在公告栏公示，欢迎查阅。",  # 公示 of accounts
    "大廈管理帳目已張貼於大堂告示板，供各業主查閱。",
    "The income and expenditure of common-area revenue is now posted on the notice board, as required by law.",
    "我们承诺：不停水、不停电、不锁门禁、不限制车辆进出、不公开业主个人信息。",  # promises
    "我们不会因为欠费而停用您的门禁卡或限制您的车辆进出。",
    "We're not going to restrict your access, utilities or parking because of unpaid fees.",
    "您的门禁卡如有遗失，请到物业前台补办，工本费20元。",
    "感谢您按时缴费，您的车位月卡已续期至12月31日。",
    "如逾期仍未缴纳，我司将依法提起诉讼或申请仲裁，或向法院申请支付令。",  # lawful routes
]


@pytest.mark.parametrize("sentence", LAWFUL_NOTICES)
def test_lawful_notices_pass(sentence: str) -> None:
    assert check_text(sentence) == []


def test_a_promise_does_not_cover_another_threat_in_the_same_text() -> None:
    violations = check_text("我们不会停您的水电，但会在单元门口张贴欠费户名单。")
    assert {v.family for v in violations} == {SHAMING}
    english = check_text("We're not cutting your water, but your lift card will stop working on the 1st.")
    assert {v.family for v in english} == {ACCESS}


# More of each, written for issue 17 in the registers letters and messages use (SMS, WeChat, Cantonese).
MORE_FORBIDDEN = [
    "欠费户的热水温度将调低至40度。",
    "冬季供暖期间，欠费户的暖气阀门只开一半。",
    "物业已通知自来水公司，对您户实施限量供水。",
    "欠費單位的冷氣供應時間將縮短。",
    "The boiler serving your flat will be set to economy mode until the arrears are cleared.",
    "Your electricity meter has been switched to prepayment mode with a debt recovery rate.",
    "我们的人会在你下班路上等你。",
    "你最好祈祷别在小区里碰到我们的人。",
    "你再拖，我们就天天在群里@你。",
    "我们会让你在这个小区待得不舒服。",
    "You'll find life in this building a lot less pleasant.",
    "Our people will be waiting for you in the car park.",
    "Do you really want your neighbours watching us knock on your door every night?",
    "You should be ashamed of yourself.",
    "Shame on you and your family.",
    "欠费业主的车辆出场时需先到物业补缴，否则道闸不抬杆。",
    "即日起，欠费户的访客一律不予登记。",
    "您的电梯卡已被设置为只能在工作日使用。",
    "欠费业主暂不予办理搬家放行条。",
    "物业将不再为欠费户开具出入证明。",
    "您家的门禁密码已被修改，请到物业中心缴费后领取新密码。",
    "装修队没有物业的缴费证明，保安不让进。",
    "欠费户搬运大件物品需先结清物业费。",
    "缴清欠款前，您的租客将无法办理入住登记。",
    "欠费车辆将被安排到最远的临时车位停放。",
    "管理處將停止為欠費單位代收郵件及包裹。",
    "未繳清管理費者，不得使用社區會議室及交誼廳。",
    "欠費戶的遙控器將被停用。",
    "閣下的泊車感應咭已暫停使用。",
    "欠交管理費的單位，升降機將不停該層。",
    "Residents in arrears will need to sign in at the gate like visitors.",
    "Your move-out permit will not be issued until all fees are paid.",
    "Contractors working for units with unpaid fees will be refused entry.",
    "Your garage remote has been deprogrammed pending payment.",
    "We have removed your flat from the intercom directory until the account is settled.",
    "Your visitor parking privileges are revoked.",
    "Access to the rooftop garden is restricted to owners whose fees are paid up.",
    "The concierge has been told not to let your cleaner in.",
    "Your bike storage key will be collected this week because of the arrears.",
    "Until you pay, the lift will not stop at your floor.",
    "我们将派人上门。",
    "物业会安排几个人上门找您谈谈。",
    "我们的催收员明天会上门催缴。",
    "We'll send someone round to your flat.",
    "A team will be sent to your home to discuss the debt.",
    "Our staff will come to your door every day until it's paid.",
    "你看着办吧。",
    "你自己掂量掂量。",
    "你好好想想后果。",
    "别到时候后悔。",
    "我们可不是好惹的。",
    "你会知道厉害的。",
    "不信你试试。",
    "出了什么事可别怪我们。",
    "小区里人多眼杂，你自己小心。",
    "我们的人都认识你。",
    "别给脸不要脸。",
    "敬酒不吃吃罚酒。",
    "识相点，最好乖乖交钱。",
    "You know what happens to people who don't pay.",
    "Think carefully about your next move.",
    "We'd advise you not to test us.",
    "Don't test our patience.",
    "We have our methods.",
    "We're watching.",
    "Be smart about this and pay.",
    "You don't want this to escalate.",
    "People who ignore us usually regret it.",
    "Consider this a warning.",
    "We won't ask nicely again.",
    "希望您不要让我们难做。",
    "我们也不想走到那一步。",
    "之后会发生什么，我们可不敢保证。",
    "您也不想让邻居们知道这件事吧？",
    "为了您家人的安全着想，还是尽快缴清吧。",
    "到时候闹得大家都不好看。",
    "别逼我们采取别的办法。",
    "We'd hate for your neighbours to find out.",
    "We'd rather not escalate this in ways you won't like.",
    "Things could get awkward for you at work.",
    "Don't make us do something we'll both regret.",
    "It's in your interest to pay before this gets out of hand.",
    "We can't guarantee what happens after Friday.",
    "For your family's sake, settle this now.",
    "This is your last chance before we take matters into our own hands.",
    "【温馨提醒】您家已欠费半年，物业将依规暂停您家的二次供水服务。",
    "亲，再不交物业费，您家车子可就进不了小区喽～",
    "物业费都不交，还好意思住这儿？",
    "已经给您贴了催费单在门口，邻居都看得到。",
    "您的欠费已同步至小区智慧平台，全体业主可见。",
    "欠费住户将被取消参加小区活动和领取福利的资格。",
    "不交物业费的，快递一律退回。",
    "您家欠费的事，整个单元都知道了，还是早点交吧。",
    "欠费超过一年的，物业将协助社区将其纳入不文明住户名单。",
    "我们会安排专人每天到您单位门口等您。",
    "您欠的钱一分都少不了，躲是躲不掉的。",
    "下个月起，欠费户家门口的楼道灯不再维修。",
    "REMINDER: unpaid owners will lose their parking bay at the end of the month.",
    "Hi, just so you know, your name's going up on the board downstairs if this isn't sorted by Friday.",
    "Final notice: failure to settle will result in your intercom being disconnected.",
    "Our team has been instructed to deny entry to your guests until the account is cleared.",
    "We've flagged your unit with the building security desk.",
    "Your arrears have been shared with the residents' committee, who will discuss your case at the next meeting.",
    "You can run, but you can't hide from this debt.",
    "Pay now, or we'll make sure everyone in the building knows why.",
    "我们将向法院申请将您列入失信名单。",
    "欠费车辆不得进入小区。",
    "閣下若仍未繳交管理費，本處將暫停閣下單位的熱水爐供氣。",
    "欠費住戶之磁扣將於月底失效。",
    "本處保留停止為閣下提供一切管理服務的權利。",
    "如不繳清欠款，管理處將拒絕為閣下辦理車位續約。",
    "未繳費住戶將不獲發放新年度的住戶證。",
    "管理處會喺大廈入口張貼欠款通知，列明單位號碼。",
    "欠費名單會在住戶大會上宣讀。",
    "本會將欠費資料提供予銀行作信貸參考。",
    "閣下之欠款將影響閣下日後申請房屋貸款。",
    "我們已委託收數公司跟進閣下的欠款。",
    "管理處職員將每日登門催收，直至清還。",
    "閣下應該清楚不交錢的下場。",
    "你再唔交，我哋就唔客氣。",
    "請閣下好自為之。",
    "如拖欠超過三個月，管委會將斷絕閣下單位之網絡及有線電視訊號。",
    "欠費戶的車輛將被上鎖，直至繳清為止。",
    "未繳費者，其訪客需於警衛室等候，不得上樓。",
    "您的名字將出現在社區的欠費看板上。",
    "管委會將於社區LINE群組公告欠費戶號。",
    "本公司將通知閣下任職公司之人事部門。",
    "Units with arrears will be listed in the next residents' newsletter.",
    "The names of owners in arrears will be read out at the AGM.",
    "A summary of outstanding accounts, by flat, will be circulated to all owners.",
    "We will put a reminder notice on your front door where your neighbours can see it.",
    "Your unpaid balance will be shown on the screen in the lobby.",
    "We'll mention your case in the building's WhatsApp.",
    "We may have to inform your landlord and your bank.",
    "Continued non-payment will be reported to credit agencies.",
    "This may affect your ability to get a mortgage or a car loan.",
    "Your children may have trouble getting into good schools.",
    "We are not responsible for what happens if you keep ignoring this.",
    "Our collection team doesn't take no for an answer.",
    "Think about your family before you ignore this letter.",
    "It would be a pity if your car got damaged in the car park.",
    "Your water will be switched to the minimum flow setting.",
    "Hot water to your unit will be limited to two hours a day.",
    "Your gas supply will be capped until the account is settled.",
    "You won't be able to book the clubhouse or use the gym.",
    "The concierge will no longer accept deliveries on your behalf.",
    "Your car will not be allowed out of the car park until payment is made.",
    "管理處將於電梯大堂張貼欠費單位名單。",
    "本會將在區權會上公開欠費住戶。",
    "欠費資訊將刊登於社區月刊。",
    "閣下的欠款紀錄將通報信用機構。",
    "再不繳費，管委會將請警察處理。",
    "欠費住戶的垃圾將不予清運。",
    "業主如不繳費，管理員將不再代收包裹。",
    "欠费业主的房屋将不提供维修服务。",
    "我们将在小区公众号发布欠费业主名单。",
    "欠费信息将同步给您所在的社区居委会和派出所。",
    "【XX物业】您已欠费3个月，请速缴纳，逾期将暂停您家的热水供应。",
    "再拖下去，冬天的暖气就别指望了。",
    "温馨提示：欠费用户将无法使用小区内的电动车充电服务。",
    "您的IC卡已被系统冻结，请缴费后激活。",
    "物业已通知燃气公司暂停向您户供气。",
    "即日起对欠费户实行限电措施。",
    "如本月内仍未结清，工作人员将上门拆除您家的电表。",
    "欠费车辆一律不得进入地下车库。",
    "您的访客登记权限已暂停，请尽快补缴物业费。",
    "欠费业主不予办理车位续租。",
    "电梯卡已设置为只能到达一楼，缴费后恢复正常。",
    "欠费户暂停办理一切业务，包括装修、出入证和车位。",
    "下月起欠费名单将在小区门口电子屏滚动播放。",
    "我们会在下次业主大会上公布欠费住户的情况。",
    "已将您的欠费情况转告您的村委会。",
    "物业将把欠费信息提供给您孩子的学校。",
    "您的欠费行为已被记录在案，将影响您在本市的信用评级。",
    "长期欠费将被列入社会信用黑名单。",
    "对恶意欠费者，我们将申请限制其出行。",
    "你这种人就是小区的蛀虫。",
    "再不交钱，我们就天天上门堵你。",
    "不交钱就别怪我们翻脸。",
    "我们知道你在哪上班。",
    "你家孩子在哪个学校我们都清楚。",
    "【物业】最后一次提醒，不交后果很严重！",
    "物業處將暫停閣下單位的煤氣供應，直至欠款清繳。",
    "未繳費的住戶，管理處將不再代收掛號信件。",
    "閣下的欠費記錄將轉交信貸資料機構。",
    "如再欠交，我哋會喺大堂張貼通告。",
    "你這種人真是不要臉，欠錢還理直氣壯。",
    "If you don't settle by Friday, we'll have the gas meter disconnected.",
    "We may restrict your water pressure until your account is up to date.",
    "Your parcels will be returned to sender while fees are outstanding.",
    "Residents in arrears will not be issued visitor passes.",
    "Your fob has been deactivated pending payment.",
    "We will be forced to share your details with other residents.",
    "A list of households in arrears will be displayed at the main gate.",
    "We know your daughter's school and will be contacting them.",
    "Debtors like you give this building a bad name.",
    "Keep ignoring us and see what happens.",
]


@pytest.mark.parametrize("sentence", MORE_FORBIDDEN)
def test_more_forbidden_pressure_is_blocked(sentence: str) -> None:
    assert check_text(sentence)


MORE_LAWFUL = [
    "Your parcel is waiting for you at reception.",
    "违约金减半的申请已批准。",
    "如需修改门禁密码，请到前台办理。",
    "您可以在APP上修改支付密码后缴费。",
    "搬家时请提前到物业办理放行条。",
    "会议室需提前预约，仅能在工作日使用。",
    "Please collect your new fob from the front desk.",
    "Your storage unit key can be collected at reception.",
    "Contractors must sign in at the gate before starting work.",
    "如您需要搬运大件物品，请提前告知物业。",
    "工作人员将于工作日白天上门送达缴费通知。",
    "维修师傅明天上门检修燃气管道。",
    "We will send someone round to read the meter on Monday.",
    "Our engineer will come to your flat to fix the leak.",
    "Please do not ignore this letter; if you have already paid, thank you.",
    "为了您和家人的安全，请勿高空抛物。",
    "您反映的楼道灯问题，维修人员已于今天更换完毕。",
    "如维修后仍有问题，请随时联系我们。",
    "The fee standard is on the board in the management office.",
    "Your new parking bay number is B-12.",
    "若快递无人签收，将由快递员退回寄件人。",
    "如您的来访者需要停车，请提前在前台登记。",
    "我们已为您预约了明天上午的维修。",
    "Disconnect appliances before the scheduled power maintenance on Sunday.",
    "本次收费明细如有疑问，可到物业中心核对，我们会逐项说明。",
    "您好，您本月的物业费已缴清，谢谢支持！",
    "If your intercom is faulty, please report it and we will repair it free of charge.",
    "小区将于下周对所有单元的可视对讲进行升级，届时暂停使用半天。",
    "只有法院判决生效后仍不履行的，才可能被列入失信被执行人名单。",  # the rule itself
    "Only a court can place anyone on a blacklist, and only after a judgment.",
    "为保障安全，外来车辆不得进入小区。",  # a security rule for outsiders
    "Unregistered vehicles may not enter the car park.",
    "出门前请锁好门窗，关好燃气阀门。",
    "The annual accounts will be presented at the AGM and published in the residents' newsletter.",
    "The new fee standard will be announced to all owners at the general meeting.",
    "Your statement will be sent to your registered address by post.",
    "You will be able to pay online from next month.",
    "You won't be charged a late fee while your installment plan is kept.",
    "If you cannot pay in full, you can pay in three instalments.",
    "The gym will be closed on public holidays.",
    "Your receipt will be emailed to you within one working day.",
    "We will not share your details with other residents.",
    "Please note the lift in Block 2 will be out of service for its annual inspection on Tuesday.",
    "Water pressure may be low on Saturday morning while the pumps are serviced.",
    "You may collect your parcels from the concierge between 8am and 8pm.",
    "本年度物业费收支情况将在业主大会上通报，并刊登于社区月刊。",
    "新的收费标准已在小区公众号发布，欢迎业主查阅。",
    "您的缴费收据将通过短信发送给您本人。",
    "如需开具发票，请联系前台，我们将在三个工作日内办理。",
    "本小区垃圾清运时间调整为每日早上七点。",
    "您报修的水管问题，维修师傅将于明天上午上门处理。",
    "区权会将于下月召开，会上将公布年度收支。",
    "管理處會將年度帳目張貼於大堂，供業主查閱。",
    "您的车辆已登记，可正常进出小区。",
    "您的快递已到，请凭取件码到快递柜取件。",
    "会所泳池周一闭馆维护，其余时间正常开放。",
    "您家的水表将于下周更换为智能水表，更换期间暂停供水约30分钟。",
    "您的装修申请已审批通过，施工时间为工作日8:00-18:00。",
    "如需办理车位月卡续期，请携带行驶证到前台。",
    "本月起健身房开放时间延长至晚上十点。",
    "请妥善保管您的门禁卡，丢失后请及时挂失。",
    "为您办理分期后，本期间不再发送催缴短信。",
    "如您已缴清费用，请忽略本通知，感谢配合。",
    "缴费后，电子发票将发送至您的邮箱。",
    "本小区停车场收费标准已在物业中心公示。",
    "如您对本通知有异议，可在15日内向物业服务中心书面提出。",
    "Your parking permit has been renewed until 31 December.",
    "The gym will be closed on Monday for maintenance.",
    "Please keep your key fob safe and report a loss at the front desk.",
    "Once your installment plan is agreed, reminders for those months stop.",
    "If you have already paid, please disregard this notice.",
    "You may raise a dispute about this bill at the service centre within 15 days.",
    "我们理解您的困难，如需帮助请随时联系我们。",
    "本通知仅发送给业主本人，请妥善保管。",
    "逾期未缴的，我司将依照合同约定收取违约金，并保留依法追索的权利。",
    "物业费收支明细每季度公示一次，业主可到物业中心查阅原始凭证。",
    "小区将于周六进行消防演练，届时电梯暂停使用约十五分钟。",
]


@pytest.mark.parametrize("sentence", MORE_LAWFUL)
def test_more_lawful_notices_pass(sentence: str) -> None:
    assert check_text(sentence) == []
