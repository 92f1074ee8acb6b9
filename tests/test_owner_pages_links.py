"""Reminders carry a link to the owner's pages only where the owner can open it, and offer paying
there (paper letters with its QR code) only where the estate has online payment set up (issue 16
item 3, issue 19 item 4: ``feesvc.owner_pages.links``); never on a final demand's letter."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.documents.qr import qr_svg_data_uri
from feesvc.letters.compliance import check_text, pdf_to_text
from feesvc.letters.content import render_letter_html, render_letter_pdf, short_message
from feesvc.letters.kinds import LetterKind
from feesvc.letters.models import Letter, OutboxMessage
from feesvc.letters.runs import stored_context
from feesvc.owner_pages.links import OwnerPageLink, owner_page_link, owner_page_url
from feesvc.registry.models import Estate, Owner
from feesvc.settings import ServerSettings, Settings
from tests.letters.test_letter_templates import sample
from tests.online_support import Keys
from tests.owner_pages_support import TODAY, estate_with_history, months_back
from tests.support import Api
from tests.support import Estate as Made
from tests.test_runs_resilience import command

URL = "https://fees.jxhy.example.cn/owner/"
BASE = "https://fees.jxhy.example.cn"
# What offers paying online, in every script (the estate's own payment page is not set in these tests).
PAY_WORDS = ("在线", "線上", "online", "账单及缴费", "帳單及繳費", "statement and payment")


@pytest.fixture(scope="module")
def secrets_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Online payment set up for estate 7 (keys made here, as tests/test_online.py makes them)."""
    folder = tmp_path_factory.mktemp("online-links")
    keys = Keys()
    keys.write(folder)
    path = folder / "secrets.toml"
    path.write_text(keys.secrets_toml(7, folder), encoding="utf-8")
    return path


def test_the_link_needs_the_public_address_and_an_owner_who_can_sign_in(secrets_file: Path) -> None:
    estate = Estate(id=8, code="E1", name="锦绣华苑", company_name="安居物业")
    owner = Owner(id=1, name="王伟", phone="+86 139 0000 0007")
    assert owner_page_url(estate, Settings.from_env({})) is None
    assert (
        owner_page_url(estate, Settings(server=ServerSettings(public_base_url="https://fees.jxhy.example.cn"))) is None
    )
    assert owner_page_url(estate, Settings.from_env({"FEESVC_PUBLIC_BASE_URL": "  "})) is None
    for base in (BASE, BASE + "/"):
        assert owner_page_url(estate, Settings.from_env({"FEESVC_PUBLIC_BASE_URL": base})) == URL
    given = Settings.from_env({"FEESVC_PUBLIC_BASE_URL": BASE, "FEESVC_ONLINE_SECRETS_FILE": str(secrets_file)})
    assert owner_page_link(estate, owner, Settings.from_env({})) is None
    # No mobile number on record: no code or invitation reaches the owner, so no link.
    for phone in ("", "0571-8888 6666"):
        assert owner_page_link(estate, Owner(id=2, name="李娜", phone=phone), given) is None
    # The statement alone where the estate has no online payment; paying there where it has.
    assert owner_page_link(estate, owner, given) == OwnerPageLink(URL, pays_online=False)
    paying = Estate(id=7, code="E2", name="锦绣华苑二期", company_name="安居物业")
    assert owner_page_link(paying, owner, given) == OwnerPageLink(URL, pays_online=True)
    # Unreadable secrets set nothing up.
    broken = Settings.from_env({"FEESVC_PUBLIC_BASE_URL": BASE, "FEESVC_ONLINE_SECRETS_FILE": "/nonexistent.toml"})
    assert owner_page_link(paying, owner, broken) == OwnerPageLink(URL, pays_online=False)


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW", "en"])
def test_a_reminder_letter_offers_paying_online_with_the_qr_code_where_the_estate_takes_it(
    locale: str, tmp_path: Path
) -> None:
    ctx = sample(LetterKind.formal_reminder, locale, owner_page_url=URL, owner_page_pays_online=True)
    html = render_letter_html(ctx)
    assert html.count(f'src="{qr_svg_data_uri(URL)}"') == 1
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_letter_pdf(ctx))
    text = pdf_to_text(pdf)
    assert URL in text and check_text(text) == []
    assert {"zh_CN": "在线缴费", "zh_TW": "線上繳費", "en": "online payment"}[locale] in text
    assert URL in short_message(ctx)
    assert {"zh_CN": "账单及缴费", "zh_TW": "帳單及繳費", "en": "Statement and payment"}[locale] in short_message(ctx)

    bare = replace(ctx, owner_page_url=None)
    assert 'class="qr"' not in render_letter_html(bare) and URL not in short_message(bare)


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW", "en"])
@pytest.mark.parametrize("kind", [LetterKind.formal_reminder, LetterKind.friendly_reminder, LetterKind.payment_notice])
def test_without_online_payment_a_letter_gives_the_statement_link_and_no_word_of_paying_online(
    kind: LetterKind, locale: str, tmp_path: Path
) -> None:
    ctx = sample(kind, locale, owner_page_url=URL, owner_page_pays_online=False)
    html = render_letter_html(ctx)
    assert 'class="qr"' not in html and qr_svg_data_uri(URL) not in html
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_letter_pdf(ctx))
    text = pdf_to_text(pdf)
    assert URL in text and check_text(text) == []
    message = short_message(ctx)
    assert URL in message and check_text(message) == []
    for said in (text, message):
        assert not [w for w in PAY_WORDS if w.lower() in said.lower()], said
    # The statement in the owner's words.
    assert {"zh_CN": "账单", "zh_TW": "帳單", "en": "statement"}[locale] in message


def test_a_final_demand_letter_carries_no_link_or_code() -> None:
    ctx = sample(LetterKind.final_demand, "zh_CN", owner_page_url=URL, owner_page_pays_online=True)
    html = render_letter_html(ctx)
    assert URL not in html and 'class="qr"' not in html


async def _run(
    api: Api, database_url: str, settings: Settings, estate: Made, **env: str
) -> list[tuple[Letter, list[str]]]:
    """The reminder run of yesterday on ``estate``: its letters with their messages' bodies."""
    files = settings.server.files_dir  # where the API finds the letters the command keeps
    args = ("remind", "--estate", estate.code, "--as-of", f"{TODAY - timedelta(days=1)}", "--no-print-file")
    result = await command(database_url, *args, FEESVC_FILES_DIR=files, **env)
    assert result.exit_code == 0, result.output
    async with api.sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.estate_id == estate.id))).scalars().all()
        bodies = (
            await s.execute(
                select(OutboxMessage.letter_id, OutboxMessage.body).where(
                    col(OutboxMessage.letter_id).in_([x.id for x in letters])
                )
            )
        ).all()
    return [(x, [body for letter_id, body in bodies if letter_id == x.id]) for x in letters]


async def _letter_text(api: Api, letter: Letter, tmp_path: Path) -> str:
    copy = await api.get(f"/api/v1/letters/{letter.id}/letter.pdf")  # the letter as issued
    target = tmp_path / f"letter-{letter.id}.pdf"
    target.write_bytes(copy.content)
    return pdf_to_text(target)


async def _owing_estate(api: Api) -> Made:
    """Two units: the first owner takes messages by SMS; the second unit owes only its latest period,
    so its paper letter is no final demand (whose letter carries no link)."""
    estate = await estate_with_history(api)
    posted = estate.unit_ids[1]
    sms = {"phone": "13900000007", "preferred_channel": "sms"}
    await api.ok(await api.patch(f"/api/v1/owners/{estate.owner_ids[0]}", sms))
    payoff = await api.ok(await api.get(f"/api/v1/units/{posted}/payoff"))
    older = sum(line["total_fen"] for line in payoff["lines"] if line["period"] != months_back(0))
    payment = {"unit_id": posted, "amount_fen": older, "method": "cash"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await api.ok(await api.post("/api/v1/payments", payment, Role.cashier, headers=key))
    return estate


async def test_a_reminder_run_offers_paying_online_only_where_the_estate_has_it_set_up(
    api: Api, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    # The public address without online payment: the statement link, no QR code, no word of paying online.
    plain_estate = await _owing_estate(api)
    issued = await _run(api, database_url, settings, plain_estate, FEESVC_PUBLIC_BASE_URL=BASE)
    texted, posted = plain_estate.unit_ids
    assert {x.unit_id for x, _ in issued} == {texted, posted}
    for letter, bodies in issued:
        ctx = stored_context(letter.context)
        assert ctx.owner_page_url == URL and not ctx.owner_page_pays_online
        assert 'class="qr"' not in render_letter_html(ctx)
        for body in bodies:
            assert URL in body and "账单及缴费" not in body and "在线" not in body
    paper = next(x for x, _ in issued if x.unit_id == posted)
    assert paper.kind != "final_demand"
    text = await _letter_text(api, paper, tmp_path)
    assert URL in text and "在线" not in text and check_text(text) == []
    assert [len(bodies) for x, bodies in issued if x.unit_id == texted] == [1]

    # Both set up: the letter offers paying online beside the QR code, the message too.
    paying_estate = await _owing_estate(api)
    keys = Keys()
    keys.write(tmp_path / "keys")
    secrets = tmp_path / "keys" / "secrets.toml"
    secrets.write_text(keys.secrets_toml(paying_estate.id, tmp_path / "keys"), encoding="utf-8")
    issued = await _run(
        api, database_url, settings, paying_estate, FEESVC_PUBLIC_BASE_URL=BASE, FEESVC_ONLINE_SECRETS_FILE=str(secrets)
    )
    assert all(stored_context(x.context).owner_page_pays_online for x, _ in issued)
    [body] = [b for x, bodies in issued for b in bodies]
    assert f"账单及缴费：{URL}" in body
    paper = next(x for x, _ in issued if x.unit_id == paying_estate.unit_ids[1])
    assert render_letter_html(stored_context(paper.context)).count('class="qr"') == 1
    text = await _letter_text(api, paper, tmp_path)
    assert URL in text and "在线缴费" in text and check_text(text) == []

    # Without the address: no link anywhere.
    other = await estate_with_history(api, units=1)
    [(letter, bodies)] = await _run(api, database_url, settings, other, FEESVC_ONLINE_SECRETS_FILE=str(secrets))
    assert stored_context(letter.context).owner_page_url is None
    assert all("http" not in body for body in bodies)
