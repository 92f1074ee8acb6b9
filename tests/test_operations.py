"""Running the service (issue 18 item 6): the access log, errors logged with their request id,
library noise off by default, ``--verbose``, progress and summary lines, exit codes, and the
README's cron lines on the default configuration."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from feesvc.app import create_app
from feesvc.auth.models import Role
from feesvc.cli import NEEDS_ATTENTION, cli, progress
from feesvc.db import analyze, create_engine, session_factory
from feesvc.letters.models import Letter, OutboxMessage, OutboxStatus
from feesvc.logging_config import configure_logging
from feesvc.migrate import upgrade
from feesvc.settings import DatabaseSettings, Settings, get_settings
from tests.databases import fresh_postgres_database
from tests.support import Api, one_unit_estate

_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^\s"]+)'  # bare, or quoted as JSON
ACCESS_LINE = re.compile(
    rf"^request_id=(?P<request_id>{_VALUE}) principal=(?P<principal>{_VALUE}) method=(?P<method>[A-Z]+) "
    rf"path=(?P<path>{_VALUE}) status=(?P<status>\d{{3}}) duration_ms=(?P<duration>\d+\.\d)$"
)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Whatever a test's command line or configure_logging does to logging is undone after it."""
    root = logging.getLogger()
    names = ["feesvc", "feesvc.access", "weasyprint", "fontTools"]
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    lines = []
    for record in caplog.records:
        if record.name == "feesvc.access":
            match = ACCESS_LINE.match(record.getMessage())
            assert match is not None, record.getMessage()
            lines.append(match.groupdict())
    return lines


async def test_every_request_writes_one_access_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    estate = await api.make_estate(units=1)
    request_id = f"ops-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.INFO, logger="feesvc.access"):
        await api.ok(await api.get(f"/api/v1/estates/{estate.id}", Role.cashier, headers={"X-Request-ID": request_id}))
        refused = await api.client.get(f"/api/v1/estates/{estate.id}", headers={"X-Request-ID": request_id + "-anon"})
    assert refused.status_code == 401
    lines = {line["request_id"]: line for line in _access_lines(caplog)}
    line = lines[request_id]
    assert (line["method"], line["path"], line["status"]) == ("GET", f"/api/v1/estates/{estate.id}", "200")
    assert line["principal"] == "cashier:test-cashier#" + line["principal"].rsplit("#", 1)[1]
    assert float(line["duration"]) >= 0
    assert (lines[request_id + "-anon"]["principal"], lines[request_id + "-anon"]["status"]) == ("-", "401")
    assert len([r for r in _access_lines(caplog) if r["request_id"] == request_id]) == 1
    # Never a token's secret, in any record.
    assert all(token not in caplog.text for token in api.tokens.values())


async def test_an_access_line_cannot_be_broken_by_what_a_client_sends(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="feesvc.access"):
        await api.get("/api/v1/estates/1%20x=1%0Arequest_id=forged", headers={"X-Request-ID": 'a b"c'})
    [line] = [r.getMessage() for r in caplog.records if r.name == "feesvc.access"]
    assert "\n" not in line and line.startswith('request_id="a b\\"c" ') and ACCESS_LINE.match(line), line


@pytest.fixture
async def failing_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with one more route, which fails as a bug would."""

    @get("/api/v1/test-failure", sync_to_thread=False)
    def fail() -> None:
        raise RuntimeError("a bug")

    app = create_app(settings)
    app.register(fail)
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_a_server_error_is_logged_with_its_request_id(
    api: Api, failing_client: AsyncTestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    request_id = f"ops-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api.tokens[Role.manager]}", "X-Request-ID": request_id}
    with caplog.at_level(logging.INFO, logger="feesvc"):
        response = await failing_client.get("/api/v1/test-failure", headers=headers)
    assert response.status_code == 500 and response.json()["request_id"] == request_id
    assert "a bug" not in response.text  # no stack trace, no message in the answer
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert request_id in error.getMessage() and "/api/v1/test-failure" in error.getMessage()
    assert error.exc_info is not None and "RuntimeError: a bug" in caplog.text
    [line] = [line for line in _access_lines(caplog) if line["request_id"] == request_id]
    assert (line["status"], line["principal"].split(":")[0]) == ("500", "manager")


async def test_library_progress_lines_are_off_by_default(
    logging_restored: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """WeasyPrint logs a "Step N" line per stage of every PDF at INFO; by default none is written,
    feesvc's own INFO is. ``--verbose`` turns on feesvc's DEBUG and the libraries' INFO."""
    from weasyprint import HTML

    configure_logging()
    caplog.clear()
    HTML(string="<p>收据 ¥1,371.80</p>").write_pdf()
    logging.getLogger("feesvc.test").info("a feesvc line")
    assert [r.name for r in caplog.records] == ["feesvc.test"]
    assert "Step" not in capsys.readouterr().err
    configure_logging(verbose=True)
    caplog.clear()
    HTML(string="<p>收据</p>").write_pdf()
    assert any(r.name.startswith("weasyprint") for r in caplog.records)
    assert logging.getLogger("feesvc.anything").isEnabledFor(logging.DEBUG)


def test_verbose_on_the_command_line(logging_restored: None) -> None:
    assert CliRunner().invoke(cli, ["--verbose", "letters", "--help"]).exit_code == 0
    assert logging.getLogger("feesvc.billing").isEnabledFor(logging.DEBUG)
    assert CliRunner().invoke(cli, ["letters", "--help"]).exit_code == 0
    assert not logging.getLogger("feesvc.billing").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("weasyprint").isEnabledFor(logging.INFO)
    assert logging.getLogger("feesvc.access").isEnabledFor(logging.INFO)


def test_a_long_run_shows_progress_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress("billing 2026-11, estate DEMO") as shown:
        shown(3, 10)
        time.sleep(0.3)  # the bar refreshes from a thread of its own, as a busy run needs
    assert "billing 2026-11, estate DEMO" in screen.getvalue() and "3/10" in screen.getvalue()
    cron = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", cron)
    with progress("billing") as shown:
        shown(1, 2)
    assert cron.getvalue() == ""


# --- Exit codes and cron lines, on a database of their own (nothing else queued in it) ----------


@pytest.fixture(scope="module")
def empty_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database of the kind the suite runs on (SQLite file or PostgreSQL)."""

    def migrated(url: str) -> str:
        thread = threading.Thread(target=upgrade, args=(url,))  # Alembic runs an event loop of its own
        thread.start()
        thread.join()
        return url

    if DatabaseSettings(url=database_url).is_sqlite:
        yield migrated(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'ops.db'}")
    else:
        with fresh_postgres_database(database_url, "ops") as url:
            yield migrated(url)


def _default_environment(database_url: str, files: Path) -> dict[str, str]:
    """The default configuration: a database, and no SMTP host (nor anything else) set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    return {**env, "FEESVC_DATABASE_URL": database_url, "FEESVC_FILES_DIR": str(files)}


def _in_database(url: str, work: Callable[[Any], Any]) -> Any:
    async def main() -> Any:
        engine = create_engine(DatabaseSettings(url=url))
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(main())))
    thread.start()
    thread.join()
    return result[0]


def _invoke(env: dict[str, str], args: list[str]) -> Result:
    get_settings.cache_clear()  # the command must read this environment
    try:
        return CliRunner().invoke(cli, args, env=env)
    finally:
        get_settings.cache_clear()


def test_outbox_send_with_nothing_to_send_and_no_smtp_exits_0(
    empty_database: str, tmp_path: Path, logging_restored: None
) -> None:
    env = _default_environment(empty_database, tmp_path)
    result = _invoke(env, ["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "nothing to send" in result.output
    # The same as its own process, as cron runs it: exit 0, one line, nothing on stderr.
    feesvc = str(Path(sys.executable).parent / "feesvc")
    done = subprocess.run([feesvc, "outbox", "send"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stderr, len(done.stdout.splitlines())) == (0, "", 1), done


def test_outbox_send_with_mail_waiting_and_no_smtp_keeps_it_and_exits_3(
    database_url: str, tmp_path: Path, logging_restored: None
) -> None:
    """Messages queued and no gateway: they stay queued, the output says so, and the exit is
    "needs attention" (3), not a failure. The suite's database has reminder e-mail queued by then or
    not; one message is queued here so there is."""

    async def queue_one(session: Any) -> None:
        estate_id, unit_id = await one_unit_estate(session)
        letter_id = await _a_letter(session, estate_id, unit_id)
        session.add(
            OutboxMessage(
                letter_id=letter_id,
                channel="email",
                recipient="owner@example.test",
                subject="缴费提醒",
                body="您好",
                status=OutboxStatus.pending,
                dedupe_key=f"ops:{uuid.uuid4().hex}",
            )
        )
        await session.commit()

    _in_database(database_url, queue_one)
    result = _invoke(_default_environment(database_url, tmp_path), ["outbox", "send"])
    assert result.exit_code == NEEDS_ATTENTION, result.output
    assert "waiting" in result.output and "FEESVC_SMTP_HOST" in result.output

    async def still_pending(session: Any) -> int:
        query = text("SELECT count(*) FROM outbox_message WHERE status = 'pending' AND channel = 'email'")
        return int((await session.execute(query)).scalar_one())

    assert _in_database(database_url, still_pending) >= 1


async def _a_letter(session: Any, estate_id: int, unit_id: int) -> int:
    """A friendly reminder issued to the unit by e-mail, as the reminder run records one."""
    letter = Letter(
        estate_id=estate_id,
        unit_id=unit_id,
        kind="friendly_reminder",
        channel="email",
        locale="zh_CN",
        letter_no=f"OPS-{uuid.uuid4().hex[:12]}",
        issued_on=date(2026, 11, 30),
        total_fen=25000,
        periods=["2026-10"],
        context={},
        dedupe_key=f"ops:{uuid.uuid4().hex}",
        actor="system:cli",
    )
    session.add(letter)
    await session.flush()
    assert letter.id is not None
    return letter.id


def test_an_unknown_estate_is_a_failure_not_a_usage_error(
    empty_database: str, tmp_path: Path, logging_restored: None
) -> None:
    env = _default_environment(empty_database, tmp_path)
    for args in (["bill", "--period", "2026-11"], ["accrue"], ["plans", "review"], ["remind"]):
        result = _invoke(env, [*args, "--estate", "NO-SUCH-ESTATE"])
        assert result.exit_code == 1, (args, result.output)
        assert "no estate 'NO-SUCH-ESTATE'" in result.output


def test_a_database_that_cannot_be_reached_is_a_failure_with_its_reason(tmp_path: Path, logging_restored: None) -> None:
    env = _default_environment("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    result = _invoke(env, ["token", "list"])
    assert result.exit_code == 1 and "the database could not be used" in result.output, result.output
    assert "Traceback" not in result.output


def _cron_commands(readme: str, code: str) -> list[list[str]]:
    """The arguments of the README's cron lines, as cron's shell expands them (``\\%`` is cron's
    escape of ``%``): each line's command with ``printf`` in place of feesvc."""
    commands = []
    for line in readme.splitlines():
        match = re.match(r"^\s+(?:\S+\s+){5}cd /srv/feesvc && (?P<command>.+)$", line)
        if match:
            assert "&&" not in match["command"], "a line that stops at the first job's exit 3"
            command = match["command"].replace("\\%", "%").replace("DEMO-JXHY", code)
            assert command.startswith(".venv/bin/feesvc "), command
            shell = "printf '%s\\0' " + command.removeprefix(".venv/bin/feesvc ")
            expanded = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout
            commands.append(expanded.split("\0")[:-1])
    return commands


def test_every_cron_line_in_the_readme_exits_0_when_there_is_nothing_to_do(
    empty_database: str, tmp_path: Path, repo_root: Path, logging_restored: None
) -> None:
    estate_id, _ = _in_database(empty_database, one_unit_estate)
    code = _in_database(empty_database, lambda s: _estate_code(s, estate_id))
    commands = _cron_commands((repo_root / "README.md").read_text(encoding="utf-8"), code)
    assert len(commands) >= 5 and ["outbox", "send"] in commands, commands
    env = _default_environment(empty_database, tmp_path)
    for _ in range(2):  # the first day, and the same jobs again with nothing left to do
        for args in commands:
            result = _invoke(env, args)
            assert result.exit_code == 0, (args, result.output, result.exception)


async def _estate_code(session: Any, estate_id: int) -> str:
    return str((await session.execute(text(f"SELECT code FROM estate WHERE id = {int(estate_id)}"))).scalar_one())


def test_the_summary_of_a_run_in_cron_is_one_line(empty_database: str, tmp_path: Path, logging_restored: None) -> None:
    estate_id, _ = _in_database(empty_database, one_unit_estate)
    env = _default_environment(empty_database, tmp_path)
    for args in (
        ["bill", "--period", "2026-11", "--on", "2026-11-01"],
        ["accrue", "--as-of", "2026-11-30"],
        ["plans", "review", "--as-of", "2026-11-30"],
        ["remind", "--as-of", "2026-11-30"],
    ):
        result = _invoke(env, [*args, "--estate", str(estate_id)])
        assert result.exit_code == 0, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, (args, result.output)


def test_analyze_refreshes_the_planners_statistics_on_postgresql(empty_database: str) -> None:
    async def work(session: Any) -> tuple[list[str], list[str]]:
        await one_unit_estate(session)
        analyzed = await analyze(session)
        if not analyzed:
            return analyzed, []
        query = text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL AND relname = ANY(:names)")
        fresh = (await session.execute(query, {"names": ["unit", "estate", "ledger_entry"]})).scalars().all()
        return analyzed, sorted(fresh)

    analyzed, fresh = _in_database(empty_database, work)
    if DatabaseSettings(url=empty_database).is_sqlite:
        assert analyzed == []  # SQLite keeps no statistics unless asked, and needs none here
    else:
        assert {"unit", "ledger_entry", "payment"} <= set(analyzed)
        assert fresh == ["estate", "ledger_entry", "unit"]
