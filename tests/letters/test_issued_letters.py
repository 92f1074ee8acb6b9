"""Issue 16, items 2, 4 and 5: letters kept as issued, nothing dropped silently, no internal names.

- An issued letter is the same bytes in every later copy (the single letter, the run's print file,
  the evidence pack), even after its template changed; a letter issued before letters were kept is
  rendered once, kept, and says it is not the original.
- A short message that does not fit falls back (without the link, else the paper letter alone); a
  letter that cannot be produced is listed under "needs attention" and `feesvc remind` exits 3.
- Letter numbers are the estate's (code, year, sequence), never a stage; legal review only after a
  final demand was delivered and its deadline passed (the same-day second run lists nobody).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import shutil
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.cli import cli
from feesvc.documents import render
from feesvc.letters import writing
from feesvc.letters.content import render_letter_pdf
from feesvc.letters.issued import template_version
from feesvc.letters.models import Letter, LetterRendering, OutboxMessage
from feesvc.letters.runs import stored_context
from feesvc.settings import get_settings
from tests.letters.test_reminder_runs import DUE_DAY, TODAY, estate_in_arrears, months_back, run
from tests.support import Api, Estate

STAGE_NAMES = ("pre_due", "friendly", "formal", "final_demand", "legal_review")


def page_streams(pdf: bytes) -> list[bytes]:
    """Each page's content stream, decoded: what the page draws, whatever file it sits in."""
    return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(pdf)).pages]  # type: ignore[union-attr]


def pdf_text(pdf: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace(" ", "").replace("\n", "")


async def letter_of(api: Api, unit_id: int) -> dict[str, Any]:
    [letter] = await api.ok(await api.get(f"/api/v1/units/{unit_id}/letters"))
    return letter  # type: ignore[no-any-return]


@pytest.fixture
def changed_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call it to change the final demand's template (a copy of letters/ with one sentence changed)."""

    def change() -> None:
        copy = tmp_path / "letters"
        shutil.copytree(render.LETTERS_DIR, copy)
        template = copy / "letter_final_demand.html"
        template.write_text(template.read_text().replace("特此函告。", "特此函告（模板已修改）。"))
        monkeypatch.setattr(render, "LETTERS_DIR", copy)
        render.environment.cache_clear()
        render._stylesheet.cache_clear()

    yield change
    monkeypatch.undo()
    render.environment.cache_clear()
    render._stylesheet.cache_clear()


async def test_an_issued_letter_is_the_same_bytes_in_every_copy_even_after_its_template_changed(
    api: Api, sessions: async_sessionmaker[AsyncSession], changed_template: Any
) -> None:
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id)
    final = await letter_of(api, estate.unit_ids[3])
    assert final["kind"] == "final_demand"
    response = await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")
    issued = response.content
    assert response.headers["x-letter-rendered-at-issue"] == "true"
    async with sessions() as s:
        row = await s.get(Letter, final["id"])
        assert row is not None and row.document_path is not None
        stored = await anyio.Path(row.document_path).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row.document_sha256
        assert row.template_version == template_version("final_demand")
        context = stored_context(row.context)

    changed_template()
    rerendered = render_letter_pdf(context)
    assert "模板已修改" in pdf_text(rerendered) and "模板已修改" not in pdf_text(issued)

    # The single letter: the same bytes as the first time.
    again = await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")
    assert again.content == issued
    # The run's print file: the letter's pages draw exactly what the issued letter's pages draw.
    printed = (await api.get(f"/api/v1/reminder-runs/{summary['run_id']}/print.pdf")).content
    printed_pages = page_streams(printed)
    for page in page_streams(issued):
        assert page in printed_pages
    assert "模板已修改" not in pdf_text(printed)
    # The evidence pack: the letters' file holds the issued pages, not today's template.
    pack = await api.client.post(
        f"/api/v1/units/{estate.unit_ids[3]}/evidence-packs", json={}, headers=api.headers(Role.manager)
    )
    assert pack.status_code == 200, pack.text
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        letters_pdf = archive.read("demands/letters.pdf")
    pack_pages = page_streams(letters_pdf)
    assert all(page in pack_pages for page in page_streams(issued))
    assert "模板已修改" not in pdf_text(letters_pdf)

    # A stored file that no longer matches its hash is refused, never served.
    assert row.document_path is not None
    await anyio.Path(row.document_path).write_bytes(stored + b"%tampered\n")
    try:
        refused = await api.get(f"/api/v1/letters/{final['id']}/letter.pdf")
        assert refused.status_code == 409 and "SHA-256" in refused.text
    finally:
        await anyio.Path(row.document_path).write_bytes(stored)


async def test_a_letter_issued_before_letters_were_kept_is_rendered_once_and_says_so(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await estate_in_arrears(api)
    await run(api, estate.id)
    issued = await letter_of(api, estate.unit_ids[1])
    async with sessions() as s:  # a letter as those issued before the migration are: no document
        row = await s.get(Letter, issued["id"])
        assert row is not None
        old = Letter(
            **row.model_dump(
                exclude={
                    "id",
                    "document_path",
                    "document_sha256",
                    "first_page",
                    "last_page",
                    "template_version",
                    "letter_no",
                    "dedupe_key",
                    "created_at",
                }
            ),
            letter_no=f"OLD-{uuid.uuid4().hex[:12]}",
            dedupe_key=f"old:{uuid.uuid4().hex}",
        )
        s.add(old)
        await s.commit()
        letter = {"id": old.id}
    first = await api.get(f"/api/v1/letters/{letter['id']}/letter.pdf")
    assert first.status_code == 200 and first.headers["x-letter-rendered-at-issue"] == "false"
    assert "事后重新生成" in pdf_text(first.content) and "并非出件时的原件" in pdf_text(first.content)
    second = await api.get(f"/api/v1/letters/{letter['id']}/letter.pdf")
    assert second.content == first.content  # rendered once, then kept
    async with sessions() as s:
        kept = (await s.execute(select(LetterRendering).where(LetterRendering.letter_id == letter["id"]))).scalar_one()
        assert kept.template_version == template_version(issued["kind"])


async def test_the_english_final_demand_that_did_not_fit_now_goes_out(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Found on the demo: an English owner's final demand whose message did not fit 200 characters
    with the statement link was reported and not issued at all: the owner got nothing. Letters no
    longer carry that link (item 3); were one too long again, it would go without it, else the paper
    letter alone (next test)."""
    owner = {
        "name": "Maximilian Alexander Montgomery-Smythe",
        "email": "max@example.test",
        "preferred_channel": "email",
        "locale": "en",
        "postal_address": "Flat 2, 8 Garden Road, Shanghai",
    }
    estate = await estate_in_arrears(api, {3: owner})  # unit 3: the final demand
    summary = await run(api, estate.id)
    assert summary["needs_attention"] == [] and summary["blocked"] == []
    assert summary["letters_by_kind"] == {"final_demand": 7} and summary["messages_by_channel"] == {"email": 1}
    async with sessions() as s:
        query = select(Letter).where(Letter.unit_id == estate.unit_ids[3], col(Letter.run_id).is_not(None))
        letter = (await s.execute(query)).scalars().one()
        message = (await s.execute(select(OutboxMessage).where(OutboxMessage.letter_id == letter.id))).scalar_one()
    assert len(message.body) <= 200 and "/statement" not in message.body
    assert letter.message_sha256 == hashlib.sha256(message.body.encode()).hexdigest()


async def test_an_electronic_message_is_read_back_as_issued_by_its_owner_and_staff(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Item 2: for an electronic message the exact text is what is kept; the letter's messages route
    gives it back with the hash recorded at issue, masks the address for staff, refuses a changed
    text, and answers 404 for a paper-only letter and 403 to another owner."""
    owner = {"name": "短信业主", "phone": "13800138000", "preferred_channel": "sms"}
    estate = await estate_in_arrears(api, {1: owner})  # unit 1: a formal reminder, by SMS
    summary = await run(api, estate.id)
    assert summary["messages_by_channel"] == {"sms": 1}
    mine = await api.owner_token(estate.owner_ids[1])
    letters = await api.ok(await api.get(f"/api/v1/units/{estate.unit_ids[1]}/letters", mine))
    [letter] = [x for x in letters if x["run_id"] == summary["run_id"]]
    async with sessions() as s:
        sent = (await s.execute(select(OutboxMessage).where(OutboxMessage.letter_id == letter["id"]))).scalar_one()

    read = await api.ok(await api.get(f"/api/v1/letters/{letter['id']}/messages", mine))
    [message] = read["messages"]
    assert (read["letter_no"], message["channel"], message["body"]) == (letter["letter_no"], "sms", sent.body)
    assert message["sha256"] == hashlib.sha256(sent.body.encode()).hexdigest()
    assert message["recipient"] == "*******8000" and message["status"] == "pending"
    staff = await api.ok(await api.get(f"/api/v1/letters/{letter['id']}/messages", Role.cashier))
    assert staff["messages"][0]["body"] == sent.body and staff["messages"][0]["recipient"] == "*******8000"

    # Another owner: refused, as for the letter's PDF.
    other = await api.owner_token(estate.owner_ids[0])
    assert (await api.get(f"/api/v1/letters/{letter['id']}/messages", other)).status_code == 403
    # A paper-only letter has no message.
    paper = await letter_of(api, estate.unit_ids[0])
    assert paper["channel"] == "paper"
    assert (await api.get(f"/api/v1/letters/{paper['id']}/messages")).status_code == 404
    # A text changed after issue is not given as the letter's.
    async with sessions() as s, s.begin():
        changed = await s.get(OutboxMessage, sent.id)
        assert changed is not None
        changed.body = sent.body + "。"
    refused = await api.get(f"/api/v1/letters/{letter['id']}/messages", mine)
    assert refused.status_code == 409 and "does not match" in refused.json()["detail"]


async def test_with_no_short_message_at_all_the_paper_letter_goes_alone(
    api: Api, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never_fits(ctx: Any) -> str:
        raise ValueError(f"no short message for {ctx.letter_no} fits 200 characters")

    monkeypatch.setattr(writing, "short_message", never_fits)
    owner = {"name": "短信业主", "phone": "13800138000", "preferred_channel": "sms"}
    estate = await estate_in_arrears(api, {1: owner})  # unit 1: a formal reminder, by SMS
    summary = await run(api, estate.id)
    assert summary["needs_attention"] == [] and summary["messages_by_channel"] == {}
    [fallback] = summary["fallbacks"]
    assert fallback["unit_id"] == estate.unit_ids[1] and "paper letter alone" in fallback["reason"]
    letters = await api.ok(await api.get(f"/api/v1/units/{estate.unit_ids[1]}/letters"))
    [letter] = [x for x in letters if x["run_id"] == summary["run_id"]]
    assert (letter["kind"], letter["channel"]) == ("final_demand", "paper")


class _Violation(NamedTuple):
    family: str
    sentence: str


def _invoke(env: dict[str, str], args: list[str]) -> Any:
    get_settings.cache_clear()  # the command must read this environment
    try:
        return CliRunner().invoke(cli, args, env=env)
    finally:
        get_settings.cache_clear()


async def test_remind_exits_3_and_says_how_many_letters_were_not_produced_and_why(
    api: Api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate = await estate_in_arrears(api)

    def flag_final_demands(html: str) -> list[_Violation]:
        return [_Violation("threat", "停水停电")] if "1栋 104" in html else []

    monkeypatch.setattr(writing, "check_html", flag_final_demands)
    env = {"FEESVC_DATABASE_URL": database_url, "FEESVC_FILES_DIR": str(tmp_path / "files")}
    result = await asyncio.to_thread(_invoke, env, ["remind", "--estate", estate.code, "--no-print-file"])
    assert result.exit_code == 3, result.output
    assert "not produced 1: final_demand 1 (threat 1)" in result.output
    assert f"unit {estate.unit_ids[3]}: final_demand not issued: threat: 停水停电" in result.output
    # The API's result says the same.
    again = await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "dry_run": True}), 200)
    [attention] = again["needs_attention"]
    assert attention["unit_id"] == estate.unit_ids[3] and "threat" in attention["reason"]


async def estate_past_legal_review(api: Api) -> Estate:
    """Two units billed for five months up to the latest: at the legal-review stage 20 days ago."""
    estate = await api.make_estate(
        units=2, rate="2.00", area="100.00", settings={"due_day": DUE_DAY}, owners_from="2024-01-01"
    )
    for n in (4, 3, 2, 1, 0):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    return estate


async def test_letters_carry_the_estates_numbers_and_legal_review_waits_for_a_delivered_demand(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await estate_past_legal_review(api)
    hardship, demanded = estate.unit_ids
    case = await api.ok(await api.post(f"/api/v1/units/{hardship}/arrears-case", None, Role.cashier))
    override = {"category": "hardship", "reason": "上门核实：业主失业，家庭困难"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", override))
    day = TODAY - timedelta(days=20)

    first = await run(api, estate.id, as_of=day.isoformat())
    assert first["letters_by_kind"] == {"hardship_offer": 1, "final_demand": 1}
    offer, demand = await letter_of(api, hardship), await letter_of(api, demanded)
    numbers = sorted([offer["letter_no"], demand["letter_no"]])
    assert numbers == [f"{estate.code}-{day.year}-HJ000001", f"{estate.code}-{day.year}-HJ000002"]
    async with sessions() as s:
        query = select(Letter, OutboxMessage).outerjoin(OutboxMessage, col(OutboxMessage.letter_id) == Letter.id)
        rows = (await s.execute(query.where(Letter.estate_id == estate.id))).all()
    for letter, message in rows:
        shown = [letter.letter_no, str(letter.context["letter_no"]), message.subject if message else ""]
        assert not any(stage in text for stage in STAGE_NAMES for text in shown), shown
    single = await api.get(f"/api/v1/letters/{offer['id']}/letter.pdf")
    assert f'filename="{offer["letter_no"]}.pdf"' in single.headers["content-disposition"]
    assert re.search(r"legal_review|final_demand", pdf_text(single.content)) is None

    # The same day again: the demand just went out; nobody is for legal review.
    again = await run(api, estate.id, as_of=day.isoformat())
    assert again["letters_by_kind"] == {} and again["legal_review_units"] == []
    assert again["skipped_by_reason"] == {
        "already issued today": 1,
        "final demand not delivered yet (record its delivery)": 1,
    }
    # Delivered two days after issue: its 15 days run from the delivery.
    delivered_on = day + timedelta(days=2)
    form = {"channel": "ems", "delivered_on": delivered_on.isoformat(), "tracking_no": "EA123456789CN"}
    proof = {"proof": ("proof.pdf", b"%PDF-1.4\n% EMS signed receipt\n%%EOF\n")}
    url = f"/api/v1/letters/{demand['id']}/deliveries"
    await api.ok(await api.client.post(url, data=form, files=proof, headers=api.headers(Role.manager)))
    waiting = await run(api, estate.id, as_of=(delivered_on + timedelta(days=15)).isoformat())
    assert waiting["legal_review_units"] == []
    assert waiting["skipped_by_reason"]["final demand delivered, deadline not passed"] == 1
    due = await run(api, estate.id, as_of=(delivered_on + timedelta(days=16)).isoformat())
    assert due["legal_review_units"] == [demanded] and due["letters_by_kind"] == {}
