"""The demo as import files: the README's three commands load each demo estate into an empty
database with the demo's balances, aging and limitation analysis.

The demo is built at a fixed day (``TODAY``) in the suite's database; its estates are written as
files by the command the README names (``feesvc export import-files``, what ``feesvc demo
--export-files`` runs for every demo estate) and loaded into a database of their own by the three
commands, through the command line as a user types them."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from feesvc.cli import cli
from feesvc.db import create_engine, session_factory
from feesvc.demo import build_demo
from feesvc.exports.service import prepaid_credit
from feesvc.limitation.watch import limitation_watch
from feesvc.registry.models import Estate
from feesvc.reports.aging import aging
from feesvc.settings import DatabaseSettings, get_settings
from tests.databases import fresh_postgres_database
from tests.test_demo import TODAY, prefix


@pytest.fixture
async def empty_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables: the first command makes them)."""
    server = os.environ.get("FEESVC_TEST_DATABASE_URL")
    if not server or DatabaseSettings(url=server).is_sqlite:
        yield f"sqlite:///{tmp_path / 'moved.db'}"
        return
    database = fresh_postgres_database(server, "demofiles")  # runs a loop of its own: in a thread
    url = await asyncio.to_thread(database.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


def command(url: str, args: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    env["FEESVC_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, args, env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, (args, result.output)
    return result.output


async def analysis(sessions: async_sessionmaker[AsyncSession], code: str) -> dict[str, Any]:
    """An estate's balances on TODAY as the reports read them, by names (ids differ between databases)."""
    async with sessions() as s:
        estate = (await s.execute(select(Estate).where(Estate.code == code))).scalar_one()
        assert estate.id is not None
        report = await aging(s, estate, TODAY)
        credit = await prepaid_credit(s, estate.id, TODAY)
        watch = await limitation_watch(s, estate.id, TODAY, 3 * 366)
    return {
        "aging": [(r.name, r.overdue_fen, r.units_overdue, r.buckets, r.former_owners) for r in report.buildings],
        "total": report.estate.overdue_fen,
        "credit": credit,
        "limitation": sorted(
            (a.unit_label, a.owner_name, [(p.period, p.principal_fen, p.late_fee_fen, p.expires_on) for p in a.periods])
            for a in watch.accounts
        ),
    }


async def test_the_three_commands_load_a_demo_estate_into_an_empty_database(
    sessions: async_sessionmaker[AsyncSession], database_url: str, empty_url: str, tmp_path: Path
) -> None:
    async with sessions() as s:
        demo = await build_demo(s, units=60, years=1, seed=11, today=TODAY, code_prefix=prefix())
    code = demo.estates[0].code
    folder = tmp_path / code
    await asyncio.to_thread(
        command,
        database_url,
        ["export", "import-files", "--estate", code, "--as-of", TODAY.isoformat(), "--out-dir", str(folder)],
    )
    for args in (
        ["db", "upgrade"],
        ["import", "estate", str(folder / "estate.json")],
        ["import", "all", str(folder), "--estate", code],
    ):
        said = await asyncio.to_thread(command, empty_url, args)
    assert "balances:" in said and "problems" not in said

    engine = create_engine(DatabaseSettings(url=empty_url))
    try:
        moved = await analysis(session_factory(engine), code)
    finally:
        await engine.dispose()
    demo_figures = await analysis(sessions, code)
    assert demo_figures["total"] > 0 and demo_figures["credit"] and demo_figures["limitation"]
    assert moved == demo_figures
    # The same three commands again change nothing.
    said = await asyncio.to_thread(command, empty_url, ["import", "all", str(folder), "--estate", code])
    assert " 0 new, 0 updated" in said and "written" not in said
