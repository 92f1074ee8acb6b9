"""Reminders carry a link to the owner's pages, paper letters its QR code too (issue 19 item 4):
only where the letter is given the link (``owner_page_url``); never on a final demand's letter."""

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
from feesvc.owner_pages.links import owner_page_url
from feesvc.registry.models import Estate
from feesvc.settings import ServerSettings, Settings
from tests.letters.test_letter_templates import sample
from tests.owner_pages_support import TODAY, estate_with_history, months_back
from tests.support import Api
from tests.test_runs_resilience import command

URL = "https://fees.jxhy.example.cn/owner/"


def test_the_link_is_the_public_address_and_none_while_it_is_unset() -> None:
    estate = Estate(code="E1", name="锦绣华苑", company_name="安居物业")
    assert owner_page_url(estate, Settings.from_env({})) is None
    assert (
        owner_page_url(estate, Settings(server=ServerSettings(public_base_url="https://fees.jxhy.example.cn"))) is None
    )
    assert owner_page_url(estate, Settings.from_env({"FEESVC_PUBLIC_BASE_URL": "  "})) is None
    for base in ("https://fees.jxhy.example.cn", "https://fees.jxhy.example.cn/"):
        assert owner_page_url(estate, Settings.from_env({"FEESVC_PUBLIC_BASE_URL": base})) == URL


@pytest.mark.parametrize("locale", ["zh_CN", "zh_TW", "en"])
def test_a_reminder_letter_prints_the_link_and_its_qr_code(locale: str, tmp_path: Path) -> None:
    ctx = sample(LetterKind.formal_reminder, locale, owner_page_url=URL)
    html = render_letter_html(ctx)
    assert html.count(f'src="{qr_svg_data_uri(URL)}"') == 1
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(render_letter_pdf(ctx))
    text = pdf_to_text(pdf)
    assert URL in text and check_text(text) == []
    assert {"zh_CN": "在线缴费", "zh_TW": "線上繳費", "en": "online payment"}[locale] in text
    assert URL in short_message(ctx)

    bare = replace(ctx, owner_page_url=None)
    assert 'class="qr"' not in render_letter_html(bare) and URL not in short_message(bare)


def test_a_final_demand_letter_carries_no_link_or_code() -> None:
    ctx = sample(LetterKind.final_demand, "zh_CN", owner_page_url=URL)
    html = render_letter_html(ctx)
    assert URL not in html and 'class="qr"' not in html


async def test_a_reminder_run_gives_letters_and_messages_the_link_only_when_the_address_is_set(
    api: Api, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    estate = await estate_with_history(api)
    texted, posted = estate.unit_ids
    sms = {"phone": "13900000007", "preferred_channel": "sms"}
    await api.ok(await api.patch(f"/api/v1/owners/{estate.owner_ids[0]}", sms))
    # Everything but the latest period paid on the posted letter's unit: not a final demand (whose
    # letter carries no link).
    payoff = await api.ok(await api.get(f"/api/v1/units/{posted}/payoff"))
    older = sum(line["total_fen"] for line in payoff["lines"] if line["period"] != months_back(0))
    payment = {"unit_id": posted, "amount_fen": older, "method": "cash"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await api.ok(await api.post("/api/v1/payments", payment, Role.cashier, headers=key))
    files = settings.server.files_dir  # where the API finds the letters the command keeps
    args = ("remind", "--estate", estate.code, "--as-of", f"{TODAY - timedelta(days=1)}", "--no-print-file")
    result = await command(
        database_url, *args, FEESVC_PUBLIC_BASE_URL="https://fees.jxhy.example.cn", FEESVC_FILES_DIR=files
    )
    assert result.exit_code == 0, result.output
    async with api.sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.estate_id == estate.id))).scalars().all()
        messages = (
            (await s.execute(select(OutboxMessage).where(col(OutboxMessage.letter_id).in_([x.id for x in letters]))))
            .scalars()
            .all()
        )
    assert {x.unit_id for x in letters} == {texted, posted}
    assert all(stored_context(x.context).owner_page_url == URL for x in letters)
    assert [m.channel for m in messages] == ["sms"] and URL in messages[0].body
    # The letter as issued (kept at issue) says it too.
    paper = next(x for x in letters if x.unit_id == posted)
    assert paper.kind != "final_demand"
    copy = await api.get(f"/api/v1/letters/{paper.id}/letter.pdf")
    target = tmp_path / "paper.pdf"
    target.write_bytes(copy.content)
    assert URL in pdf_to_text(target)

    # Without the address: no link anywhere (the next day's run, a new estate).
    other = await estate_with_history(api, units=1)
    args = ("remind", "--estate", other.code, "--as-of", f"{TODAY - timedelta(days=1)}", "--no-print-file")
    result = await command(database_url, *args, FEESVC_FILES_DIR=files)
    assert result.exit_code == 0, result.output
    async with api.sessions() as s:
        [letter] = (await s.execute(select(Letter).where(Letter.estate_id == other.id))).scalars().all()
    assert stored_context(letter.context).owner_page_url is None
