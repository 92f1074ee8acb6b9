"""Listing and revoking API tokens, through the API (managers) and ``feesvc token list|revoke``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.cli import cli
from feesvc.settings import get_settings
from tests.support import Api, problem


async def test_managers_list_and_revoke_tokens_and_a_revoked_token_stops_at_once(api: Api) -> None:
    estate = await api.make_estate(units=1)
    async with api.sessions() as s:
        secret, made = await create_token(s, COMMAND_LINE, Role.owner, "owner app", estate.owner_ids[0])
    assert (await api.get(f"/api/v1/units/{estate.unit_ids[0]}", secret)).status_code == 200

    response = await api.get("/api/v1/tokens")
    listed = {t["id"]: t for t in await api.ok(response)}
    assert listed[made.id] == {
        "id": made.id,
        "role": "owner",
        "name": "owner app",
        "owner_id": estate.owner_ids[0],
        "created_at": listed[made.id]["created_at"],
        "revoked_at": None,
        "kind": "api",
        "expires_at": None,
    }
    # Never a secret, nor its hash.
    assert "fsv_" not in response.text and made.token_hash not in response.text
    owners = await api.ok(await api.get("/api/v1/tokens", params={"role": "owner"}))
    assert {t["role"] for t in owners} == {"owner"} and made.id in {t["id"] for t in owners}

    revoked = await api.ok(await api.post(f"/api/v1/tokens/{made.id}/revoke", None), 200)
    assert revoked["revoked_at"] is not None
    # Refused at once, though the server had the token cached a moment ago.
    problem(await api.get(f"/api/v1/units/{estate.unit_ids[0]}", secret), 401)
    again = await api.ok(await api.post(f"/api/v1/tokens/{made.id}/revoke", None), 200)
    assert again == revoked  # a retry changes nothing
    active = await api.ok(await api.get("/api/v1/tokens", params={"include_revoked": "false"}))
    assert made.id not in {t["id"] for t in active}
    assert await api.count(AuditEvent, AuditEvent.action == "token.revoke", AuditEvent.entity_id == str(made.id)) == 1

    problem(await api.post("/api/v1/tokens/987654321/revoke", None), 404, "token_id")
    for role in (Role.cashier, Role.system, secret):
        problem(await api.get("/api/v1/tokens", role), (401, 403))
    problem(await api.post(f"/api/v1/tokens/{made.id}/revoke", None, Role.cashier), 403)


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FEESVC_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _made_token(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as s:
        _, made = await create_token(s, COMMAND_LINE, Role.cashier, name)
    assert made.id is not None
    return made.id


async def test_token_list_and_revoke_on_the_command_line(
    sessions: async_sessionmaker[AsyncSession], cli_database: None
) -> None:
    token_id = await _made_token(sessions, "desk 3 (李)")
    runner = CliRunner()
    listed = await _invoke(runner, ["token", "list"])
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.output.splitlines()
    assert header.split() == ["id", "kind", "role", "name", "owner", "created", "expires", "revoked"]
    [line] = [x for x in lines if x.split()[0] == str(token_id)]
    assert line.split()[1] == "api" and "cashier" in line and "desk 3 (李)" in line and line.rstrip().endswith("-")
    assert "fsv_" not in listed.output

    revoked = await _invoke(runner, ["token", "revoke", str(token_id)])
    assert revoked.exit_code == 0 and f"token {token_id} (cashier, desk 3 (李)) revoked at" in revoked.output
    listed = await _invoke(runner, ["token", "list"])
    [line] = [x for x in listed.output.splitlines() if x.split()[0] == str(token_id)]
    assert line.rstrip().endswith("UTC")
    active = await _invoke(runner, ["token", "list", "--active"])
    assert str(token_id) not in [x.split()[0] for x in active.output.splitlines()]
    missing = await _invoke(runner, ["token", "revoke", "987654321"])
    assert missing.exit_code == 1 and "token 987654321 does not exist" in missing.output


async def _invoke(runner: CliRunner, args: list[str]) -> Result:
    """The command runs its own event loop (asyncio.run): in a thread, away from the test's."""
    return await asyncio.to_thread(runner.invoke, cli, args)
