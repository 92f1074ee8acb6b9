from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.db import business_today
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.letters import accounts, issuing, runs
from feesvc.letters.models import Letter, OutboxMessage, OutboxStatus
from feesvc.letters.outbox import SmtpSender, deliver
from feesvc.settings import MailSettings
from tests.support import Api, Estate, problem

TODAY = business_today()
# The latest period fell due three weeks ago, whatever today's day of the month: one open period
# is at the friendly stage (15 days overdue), two at the formal (45), four at the final demand (90)
# and still short of legal review (120).
LATEST_DUE = TODAY - timedelta(days=21)
DUE_DAY = min(LATEST_DUE.day, 28)


def months_back(n: int) -> str:
    """The period ``n`` months before the latest billed one."""
    first = LATEST_DUE.replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}"


async def pay(api: Api, unit_id: int, amount: int) -> None:
    body = {"unit_id": unit_id, "amount_fen": amount, "method": "cash"}
    await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))


async def estate_in_arrears(api: Api, new_owners: dict[int, dict[str, Any]] | None = None) -> Estate:
    """Units 0–6 billed for four months up to the latest (200 元 a month, due on ``DUE_DAY``).
    ``new_owners``: unit index → an owner who bought that unit on 2024-06-01, before any of it was
    billed (the debts are theirs: a letter goes to the owner of the period)."""
    estate = await api.make_estate(
        units=7,
        rate="2.00",
        area="100.00",
        settings={"due_day": DUE_DAY},
        effective_from="2024-01-01",
        owners_from="2024-01-01",
    )
    for index, body in (new_owners or {}).items():
        owner = await api.ok(await api.post("/api/v1/owners", body))
        sale = {"owner_id": owner["id"], "starts_on": "2024-06-01"}
        await api.ok(await api.post(f"/api/v1/units/{estate.unit_ids[index]}/ownerships", sale))
        estate.owner_ids[index] = owner["id"]
    for n in (3, 2, 1, 0):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    return estate


async def pdf_tool(tool: str, path: Path) -> str:
    """pdfinfo or pdftotext (poppler) on a file, without blocking the test's event loop."""
    args = [tool, str(path)] if tool == "pdfinfo" else [tool, "-layout", str(path), "-"]
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode()


async def run(api: Api, estate_id: int, **extra: Any) -> Any:
    return await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate_id, **extra}), 200)


async def test_each_unit_gets_the_letter_of_its_stage_and_a_rerun_issues_none(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await estate_in_arrears(api)
    paid_up, friendly, formal, final, complaint, held, plan = estate.unit_ids
    await pay(api, paid_up, 80000)
    await pay(api, friendly, 60000)  # only the latest period open: three weeks overdue
    await pay(api, formal, 40000)  # two periods open: seven weeks
    await api.ok(
        await api.post(
            f"/api/v1/units/{complaint}/complaints",
            {"category": "leak", "channel": "phone", "text": "卫生间顶棚漏水，一直没人来修"},
            Role.cashier,
        )
    )
    await api.ok(await api.post(f"/api/v1/units/{held}/reminder-holds", {"reason": "业主住院，经理批准暂缓"}))
    await pay(api, plan, 40000)

    summary = await run(api, estate.id)
    kinds = summary["letters_by_kind"]
    # friendly, formal, the final-stage unit, and the "plan" unit (no plan yet: formal)
    assert kinds == {"friendly_reminder": 1, "formal_reminder": 2, "final_demand": 1}
    assert summary["skipped_by_reason"] == {"complaint or case pause": 1, "manual hold": 1}
    async with sessions() as s:
        letters = (await s.execute(select(Letter).where(Letter.estate_id == estate.id))).scalars().all()
    by_unit = {letter.unit_id: letter for letter in letters}
    assert paid_up not in by_unit and complaint not in by_unit and held not in by_unit
    assert by_unit[friendly].kind == "friendly_reminder" and by_unit[formal].kind == "formal_reminder"
    assert by_unit[final].kind == "final_demand" and by_unit[final].periods == [months_back(n) for n in (3, 2, 1, 0)]
    assert by_unit[final].deadline == TODAY + timedelta(days=15)

    again = await run(api, estate.id)
    assert again["letters_by_kind"] == {}
    assert again["skipped_by_reason"]["already issued today"] == 4
    async with sessions() as s:
        assert len((await s.execute(select(Letter).where(Letter.estate_id == estate.id))).scalars().all()) == 4


async def test_dry_run_writes_nothing_and_bad_input_is_refused(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id, dry_run=True)
    assert summary["run_id"] is None and sum(summary["letters_by_kind"].values()) == 7
    async with sessions() as s:
        assert (await s.execute(select(Letter).where(Letter.estate_id == estate.id))).first() is None
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    problem(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id, "as_of": tomorrow}), 422, "as_of")
    problem(await api.post("/api/v1/reminder-runs", {"estate_id": 987654}), 404, "estate_id")
    problem(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}, Role.cashier), 403)


async def test_letters_render_and_the_run_prints_one_file(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Letters stored three to a file, rendered by a pool of processes: the print file joins the files.
    monkeypatch.setattr(issuing, "CHUNK", 3)
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id)
    response = await api.get(f"/api/v1/reminder-runs/{summary['run_id']}/print.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    printed = tmp_path / "run.pdf"
    printed.write_bytes(response.content)
    pages = await pdf_tool("pdfinfo", printed)
    assert int(next(line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:"))) >= 7
    numbers = [(await api.ok(await api.get(f"/api/v1/units/{u}/letters")))[0]["letter_no"] for u in estate.unit_ids]
    printed_text = (await pdf_tool("pdftotext", printed)).replace(" ", "").replace("\n", "")
    positions = [printed_text.find(number) for number in numbers]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)  # by building and unit
    letters = await api.ok(await api.get(f"/api/v1/units/{estate.unit_ids[0]}/letters"))
    single = await api.get(f"/api/v1/letters/{letters[0]['id']}/letter.pdf")
    assert single.status_code == 200
    one = tmp_path / "one.pdf"
    one.write_bytes(single.content)
    text = await pdf_tool("pdftotext", one)
    assert "业主0" in text and "1栋 101" in text
    owner = await api.owner_token(estate.owner_ids[1])
    problem(await api.get(f"/api/v1/letters/{letters[0]['id']}/letter.pdf", owner), (403, 404))


@pytest.fixture
def smtp_server() -> Any:
    handler = _Inbox()
    with socket.socket() as probe:  # a free port on loopback for this test's SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, handler
    controller.stop()


class _Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


async def test_email_goes_out_once_and_a_failing_gateway_keeps_it(
    api: Api, sessions: async_sessionmaker[AsyncSession], smtp_server: Any
) -> None:
    controller, inbox = smtp_server
    owner = {"name": "邮件业主", "email": "owner@example.test", "preferred_channel": "email"}
    estate = await estate_in_arrears(api, {0: owner})
    summary = await run(api, estate.id)
    assert summary["messages_by_channel"] == {"email": 1}

    async with sessions() as s:
        dead = SmtpSender(MailSettings(host="127.0.0.1", port=1))  # nothing listens there
        failed = await deliver(s, dead)  # other tests' messages may be waiting too (a shared database)
        assert failed.sent == 0 and failed.failed >= 1
        # The run's reminder (the transfer also queued the new owner's payment notice: issue 15).
        reminders = (
            select(OutboxMessage)
            .join(Letter, col(Letter.id) == OutboxMessage.letter_id)
            .where(OutboxMessage.recipient == "owner@example.test", col(Letter.run_id).is_not(None))
        )
        [message] = (await s.execute(reminders)).scalars().all()
        assert message.status == OutboxStatus.failed and message.attempts == 1
        message.next_attempt_at = message.created_at  # let the retry fall due now
        await s.commit()
        live = SmtpSender(MailSettings(host="127.0.0.1", port=controller.port, sender="billing@estate.test"))
        assert (await deliver(s, live)).sent >= 1
        assert (await deliver(s, live)).sent == 0  # never twice
        await s.refresh(message)
        assert message.status == OutboxStatus.sent and message.attempts == 2
    ours = [m for m in inbox.messages if m["To"] == "owner@example.test"]
    assert len(ours) == 1
    # No statement link: that route needs a staff or owner token and takes no payment (issue 16).
    assert "/statement" not in ours[0].get_payload(decode=True).decode()


async def test_delivery_proofs_are_kept_and_checked(api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    estate = await estate_in_arrears(api)
    summary = await run(api, estate.id)
    assert summary["run_id"]
    letters = await api.ok(await api.get(f"/api/v1/units/{estate.unit_ids[3]}/letters"))
    letter_id = letters[0]["id"]
    url = f"/api/v1/letters/{letter_id}/deliveries"
    headers = api.headers(Role.manager)
    proof = b"%PDF-1.4\n% EMS signed receipt scan\n%%EOF\n"
    form = {"channel": "ems", "delivered_on": TODAY.isoformat(), "tracking_no": "EA123456789CN"}

    async def upload(content: bytes, name: str = "proof.pdf", **changes: str) -> Any:
        return await api.client.post(url, data={**form, **changes}, files={"proof": (name, content)}, headers=headers)

    problem(await upload(b"GIF89a not a proof"), 422, "proof")
    problem(await upload(b"%PDF-" + b"0" * (5 * 1024 * 1024 + 1)), (413, 422))
    problem(await upload(proof, tracking_no=""), 422, "tracking_no")
    problem(await upload(proof, delivered_on=(TODAY + timedelta(days=1)).isoformat()), 422, "delivered_on")
    recorded = await api.ok(await upload(proof))
    assert recorded["proof_size"] == len(proof) and len(recorded["proof_sha256"]) == 64
    # A delivered demand interrupts the limitation period of every period it names.
    async with sessions() as s:
        query = select(LimitationEvent).where(LimitationEvent.unit_id == estate.unit_ids[3])
        events = (await s.execute(query)).scalars()
        assert sorted(e.period for e in events if e.kind == InterruptionKind.demand_delivered) == letters[0]["periods"]


async def test_a_letter_that_cannot_be_written_is_reported_and_the_run_goes_on(api: Api) -> None:
    estate = await estate_in_arrears(api, {2: {
        "name": "Maximilian Alexander Montgomery-Smythe", "email": "max@example.test",
        "preferred_channel": "email", "locale": "en"}})
    summary = await run(api, estate.id)
    written = sum(summary["letters_by_kind"].values())
    assert written + len(summary["blocked"]) == 7
    assert all(b["violations"] for b in summary["blocked"])
    again = await run(api, estate.id)  # the run completed: a rerun is not refused as "still running"
    assert sum(again["letters_by_kind"].values()) == 0


async def test_owners_read_in_chunks_and_messages_added_per_batch(
    api: Api, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny batches, so the owners take several queries and the messages several flushes.
    monkeypatch.setattr(accounts, "OWNER_BATCH", 2)
    monkeypatch.setattr(runs, "BATCH", 2)
    # Units 0, 2 and 4 changed hands, before they were billed, to owners who prefer e-mail.
    buyers = {
        n: {"name": f"邮件业主{n}", "email": f"batch-{n}-{uuid.uuid4().hex[:8]}@example.test"}
        for n in (0, 2, 4)
    }
    estate = await estate_in_arrears(api, {n: {**body, "preferred_channel": "email"} for n, body in buyers.items()})
    await pay(api, estate.unit_ids[6], 80000)  # paid up: no letter
    owners = dict(zip(estate.unit_ids, estate.owner_ids, strict=True))

    summary = await run(api, estate.id)
    assert sum(summary["letters_by_kind"].values()) == 6 and summary["messages_by_channel"] == {"email": 3}
    async with sessions() as s:
        run_letters = select(Letter).where(Letter.estate_id == estate.id, col(Letter.run_id).is_not(None))
        letters = (await s.execute(run_letters)).scalars().all()  # not the transfers' payment notices
        ids = [letter.id for letter in letters]
        messages = (await s.execute(select(OutboxMessage).where(col(OutboxMessage.letter_id).in_(ids)))).scalars().all()
    assert {letter.unit_id: letter.owner_id for letter in letters} == {u: owners[u] for u in estate.unit_ids[:6]}
    by_id = {letter.id: letter for letter in letters}
    # One message per e-mail letter, each pointing at its own letter.
    assert sorted(by_id[m.letter_id].unit_id for m in messages) == estate.unit_ids[:5:2]
    assert all(m.dedupe_key == f"{by_id[m.letter_id].letter_no}:email" for m in messages)
    numbers = {unit_id: n for n, unit_id in enumerate(estate.unit_ids)}
    assert all(m.recipient.startswith(f"batch-{numbers[by_id[m.letter_id].unit_id]}-") for m in messages)


async def test_a_hardship_owner_who_owes_only_late_fees_gets_a_gentle_reminder_not_a_plan(api: Api) -> None:
    """Found on the demo: a hardship owner who had paid every charge but still owed ¥2.12 of late
    fees was offered an installment plan of nothing; the letter could not be written, every day."""
    estate = await estate_in_arrears(api)
    unit = estate.unit_ids[0]
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": TODAY.isoformat()}), 200)
    ledger = await api.ledger(unit)
    late_fees = sum(e["amount_fen"] for e in ledger["entries"] if e["kind"] == "late_fee")
    assert late_fees > 100
    # Everything but 1 yuan of the newest period's late fee (principal first within each period).
    body = {"unit_id": unit, "amount_fen": ledger["balance_fen"] - 100, "method": "cash"}
    await api.ok(await api.post("/api/v1/payments", body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))
    assert (await api.ledger(unit))["overdue_fen"] == 100
    case = await api.ok(await api.post(f"/api/v1/units/{unit}/arrears-case", None, Role.cashier))
    override = {"category": "hardship", "reason": "上门核实：业主失业，家庭困难"}
    await api.ok(await api.post(f"/api/v1/arrears-cases/{case['id']}/override", override))

    summary = await run(api, estate.id)
    assert summary["needs_attention"] == []
    async with api.sessions() as s:
        kinds = (await s.execute(select(Letter.kind).where(Letter.unit_id == unit))).scalars().all()
    # The gentle reminder it gets instead asks for money, which the hardship case's pending talk
    # holds back (a case's pause stops demands, not offers): no letter, and nothing to attend to.
    assert list(kinds) == []
    assert summary["skipped_by_reason"]["case pause"] == 1
