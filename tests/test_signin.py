"""Owners sign in through the API (issue 19 item 1): invitations, one-time codes, rate limits,
access and refresh tokens, sign-out, staff revocation, the audit log and the logs.

The app runs on a clock the tests move (``app.state.clock``), starting in 2031: nothing depends
on today's date. Codes and invitation links are read from the SMS the outbox holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from httpx import ASGITransport, AsyncClient, Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from feesvc.app import create_app
from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.cli import cli
from feesvc.settings import Settings, get_settings
from feesvc.signin.models import SignInCode
from feesvc.signin.rules import phone_hash
from tests.signin_support import Clock, latest_code, latest_invitation, new_owner, new_phone, sms_to
from tests.support import Api, problem


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime(2031, 3, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
async def owner_client(settings: Settings, clock: Clock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings)
    app.state.clock = clock
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
def http(owner_client: AsyncTestClient[Litestar], clock: Clock) -> AsyncTestClient[Litestar]:
    clock.next_hour()
    owner_client.cookies.clear()
    return owner_client


async def post_at_once(http: AsyncTestClient[Litestar], path: str, bodies: list[Any]) -> list[Response]:
    """POST every body at the same time, truly overlapping, inside the app's own event loop (as
    tests.support.Api.post_at_once does for the session's app)."""

    async def send_all() -> list[Response]:
        async with AsyncClient(transport=ASGITransport(app=http.app), base_url="http://test") as client:
            return list(await asyncio.gather(*(client.post(path, json=body) for body in bodies)))

    return http.blocking_portal.call(send_all)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def audit_rows(api: Api, owner_id: int) -> list[AuditEvent]:
    """The owner's sign-in audit events, oldest first."""
    async with api.sessions() as s:
        query = select(AuditEvent).where(
            AuditEvent.entity == "owner",
            AuditEvent.entity_id == str(owner_id),
            col(AuditEvent.action).startswith("sign_"),
        )
        return list((await s.execute(query.order_by(col(AuditEvent.id)))).scalars())


async def sign_in_with_code(http: AsyncTestClient[Litestar], api: Api, phone: str) -> dict[str, Any]:
    assert (await http.post("/api/v1/sign-in/code", json={"phone": phone})).status_code == 202
    answer = await http.post("/api/v1/sign-in", json={"phone": phone, "code": await latest_code(api, phone)})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def test_a_new_ownership_invites_the_owner_and_the_link_signs_in_once(
    http: AsyncTestClient[Litestar], api: Api, clock: Clock
) -> None:
    owner = await new_owner(api, http)
    [sms] = await sms_to(api, owner["phone"], "invitation")
    assert sms.channel == "sms" and sms.letter_id is None and sms.status == "pending"
    assert "http://127.0.0.1:8000/owner/invitation/fsi_" in sms.body and "7 天内有效" in sms.body
    secret = await latest_invitation(api, owner["phone"])

    signed_in = await http.post("/api/v1/sign-in", json={"invitation": secret})
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    assert signed_in.headers["cache-control"] == "no-store"
    assert tokens["owner_id"] == owner["id"] and tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 15 * 60 and tokens["access_token"].startswith("fsv_")
    assert tokens["expires_at"].startswith("2031-") and tokens["refresh_token"].startswith("fsr_")
    # The access token is an owner's bearer token like any other: their unit, and no one else's.
    mine = await http.get(f"/api/v1/units/{owner['unit_id']}", headers=bearer(tokens["access_token"]))
    assert mine.status_code == 200, mine.text
    problem(await http.get("/api/v1/tokens", headers=bearer(tokens["access_token"])), 403)

    again = await http.post("/api/v1/sign-in", json={"invitation": secret})
    assert "invitation" in problem(again, 401)["detail"]
    actions = [(e.action, (e.detail or {}).get("reason")) for e in await audit_rows(api, owner["id"])]
    assert actions == [("sign_in.invite", None), ("sign_in", None), ("sign_in.fail", "used")]

    # Staff see the sign-in token: its kind, owner and expiry.
    listed = await api.ok(await api.get("/api/v1/tokens", params={"kind": "sign_in", "owner_id": owner["id"]}))
    [token] = listed
    assert token["kind"] == "sign_in" and token["role"] == "owner" and token["owner_id"] == owner["id"]
    assert token["expires_at"].startswith("2031-") and token["revoked_at"] is None


async def test_an_invitation_expires_after_seven_days(http: AsyncTestClient[Litestar], api: Api, clock: Clock) -> None:
    owner = await new_owner(api, http)
    secret = await latest_invitation(api, owner["phone"])
    clock.advance(days=7, seconds=1)
    problem(await http.post("/api/v1/sign-in", json={"invitation": secret}), 401)
    [*_, failed] = await audit_rows(api, owner["id"])
    assert failed.action == "sign_in.fail" and (failed.detail or {})["reason"] == "expired"


async def test_a_manager_invites_and_a_retry_sends_no_second_sms(
    http: AsyncTestClient[Litestar], api: Api, clock: Clock
) -> None:
    owner = await new_owner(api, http)
    path = f"/api/v1/owners/{owner['id']}/invitations"
    first = await http.post(path, headers=api.headers(Role.manager))
    assert first.status_code == 201 and first.headers["idempotent-replayed"] == "false", first.text
    body = first.json()
    assert body["invited_by"] == "manager" and body["sent_to"] == "*******" + owner["phone"][-4:]
    assert "fsi_" not in first.text  # the secret goes only to the phone
    clock.advance(minutes=3)
    retry = await http.post(path, headers=api.headers(Role.manager))
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == body
    assert len(await sms_to(api, owner["phone"], "invitation")) == 2  # the ownership's and the manager's

    problem(await http.post(path, headers=api.headers(Role.cashier)), 403)
    problem(await http.post("/api/v1/owners/987654321/invitations", headers=api.headers(Role.manager)), 404)
    phoneless = await api.ok(await api.post("/api/v1/owners", {"name": "赵六"}))
    refused = await http.post(f"/api/v1/owners/{phoneless['id']}/invitations", headers=api.headers(Role.manager))
    problem(refused, 422, "phone")


async def test_a_code_signs_in_once_and_the_answer_never_tells_whether_a_phone_is_on_record(
    http: AsyncTestClient[Litestar], api: Api
) -> None:
    owner = await new_owner(api, http)
    known = await http.post("/api/v1/sign-in/code", json={"phone": owner["phone"]})
    unknown_phone = new_phone()
    unknown = await http.post("/api/v1/sign-in/code", json={"phone": unknown_phone})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    assert await sms_to(api, unknown_phone, "code") == []
    [sms] = await sms_to(api, owner["phone"], "code")
    assert "5 分钟内有效" in sms.body
    code = await latest_code(api, owner["phone"])

    # The phone as people type it: with +86 and separators.
    typed = f"+86 {owner['phone'][:3]}-{owner['phone'][3:7]}-{owner['phone'][7:]}"
    signed_in = await http.post("/api/v1/sign-in", json={"phone": typed, "code": code})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["owner_id"] == owner["id"]
    replayed = await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": code})
    problem(replayed, 401, "code")

    async with api.sessions() as s:
        [stored] = (await s.execute(select(SignInCode).where(SignInCode.owner_id == owner["id"]))).scalars()
    assert code not in (stored.code_hash, stored.salt) and stored.used_at is not None
    actions = [(e.action, (e.detail or {}).get("reason")) for e in await audit_rows(api, owner["id"])]
    assert actions[1:] == [("sign_in.code_sent", None), ("sign_in", None), ("sign_in.fail", "used")]
    assert actions[0] == ("sign_in.invite", None)  # when the ownership started
    async with api.sessions() as s:
        query = select(AuditEvent).where(AuditEvent.action == "sign_in.code_not_sent")
        not_sent = [e.detail for e in (await s.execute(query)).scalars()]
    assert {"phone": "*******" + unknown_phone[-4:], "owners_on_record": 0, "address": "testclient"} in not_sent


async def test_a_code_expires_after_five_minutes(http: AsyncTestClient[Litestar], api: Api, clock: Clock) -> None:
    owner = await new_owner(api, http)
    await http.post("/api/v1/sign-in/code", json={"phone": owner["phone"]})
    code = await latest_code(api, owner["phone"])
    clock.advance(minutes=5)
    problem(await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": code}), 401)
    [*_, failed] = await audit_rows(api, owner["id"])
    assert (failed.action, (failed.detail or {})["reason"]) == ("sign_in.fail", "expired")


async def test_guessing_a_code_locks_it_after_five_attempts(http: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, http)
    await http.post("/api/v1/sign-in/code", json={"phone": owner["phone"]})
    code = await latest_code(api, owner["phone"])
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    for guess in wrong:
        problem(await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": guess}), 401)
    # The right code no longer works: the code is dead after five guesses.
    problem(await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": code}), 401)
    async with api.sessions() as s:
        [stored] = (await s.execute(select(SignInCode).where(SignInCode.owner_id == owner["id"]))).scalars()
    assert stored.attempts == 5 and stored.used_at is None
    reasons = [(e.detail or {}).get("reason") for e in await audit_rows(api, owner["id"]) if e.action == "sign_in.fail"]
    assert reasons == ["wrong"] * 5 + ["locked"]


async def test_guesses_at_once_cannot_pass_the_attempt_limit(http: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, http)
    await http.post("/api/v1/sign-in/code", json={"phone": owner["phone"]})
    code = await latest_code(api, owner["phone"])
    guesses = [{"phone": owner["phone"], "code": f"{(int(code) + n) % 1_000_000:06d}"} for n in range(1, 9)]
    answers = await post_at_once(http, "/api/v1/sign-in", guesses)
    assert [a.status_code for a in answers] == [401] * 8
    async with api.sessions() as s:
        [stored] = (await s.execute(select(SignInCode).where(SignInCode.owner_id == owner["id"]))).scalars()
    assert stored.attempts == 5


async def test_rate_limits_answer_429_with_retry_after(http: AsyncTestClient[Litestar], api: Api, clock: Clock) -> None:
    phone = new_phone()
    for _ in range(5):
        assert (await http.post("/api/v1/sign-in/code", json={"phone": phone})).status_code == 202
    limited = await http.post("/api/v1/sign-in/code", json={"phone": phone})
    body = problem(limited, 429)
    assert body["title"] == "Too many attempts" and 0 < int(limited.headers["retry-after"]) <= 3600
    assert int(limited.headers["retry-after"]) == 3600 - 60  # the clock is a minute into the hour

    for _ in range(10):
        problem(await http.post("/api/v1/sign-in", json={"phone": phone, "code": "000000"}), 401)
    problem(await http.post("/api/v1/sign-in", json={"phone": phone, "code": "000000"}), 429)

    # Per address: 20 codes an hour, whatever the phones.
    for _ in range(20 - 6):
        assert (await http.post("/api/v1/sign-in/code", json={"phone": new_phone()})).status_code == 202
    problem(await http.post("/api/v1/sign-in/code", json={"phone": new_phone()}), 429)

    # The next hour, the counts start again; the first refusal of a window is audited once.
    clock.advance(hours=1)
    assert (await http.post("/api/v1/sign-in/code", json={"phone": phone})).status_code == 202
    async with api.sessions() as s:
        query = select(AuditEvent).where(AuditEvent.action == "sign_in.rate_limited")
        limits = [(e.detail or {}).get("phone") for e in (await s.execute(query)).scalars()]
    assert limits.count("*******" + phone[-4:]) == 2  # codes, then sign-ins: once each


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_sign_in(
    http: AsyncTestClient[Litestar], api: Api, clock: Clock
) -> None:
    owner = await new_owner(api, http)
    first = await sign_in_with_code(http, api, owner["phone"])
    clock.advance(minutes=10)
    refreshed = await http.post("/api/v1/sign-in/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    unit = f"/api/v1/units/{owner['unit_id']}"
    assert (await http.get(unit, headers=bearer(second["access_token"]))).status_code == 200

    # The first refresh token again: someone else has a copy. Every token of the sign-in stops.
    reused = await http.post("/api/v1/sign-in/refresh", json={"refresh_token": first["refresh_token"]})
    assert "already used" in problem(reused, 401, "refresh_token")["detail"]
    problem(await http.get(unit, headers=bearer(second["access_token"])), 401)
    problem(await http.get(unit, headers=bearer(first["access_token"])), 401)
    problem(await http.post("/api/v1/sign-in/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    actions = [e.action for e in await audit_rows(api, owner["id"])]
    assert actions[-4:] == ["sign_in", "sign_in.refresh", "sign_in.refresh_reused", "sign_in.refresh_fail"]
    problem(await http.post("/api/v1/sign-in/refresh", json={"refresh_token": "fsr_" + "x" * 43}), 401)


async def test_an_access_token_expires_in_fifteen_minutes_and_the_refresh_token_in_thirty_days(
    http: AsyncTestClient[Litestar], api: Api, clock: Clock
) -> None:
    owner = await new_owner(api, http)
    tokens = await sign_in_with_code(http, api, owner["phone"])
    unit = f"/api/v1/units/{owner['unit_id']}"
    assert (await http.get(unit, headers=bearer(tokens["access_token"]))).status_code == 200  # now cached
    clock.advance(minutes=15)
    assert "expired" in problem(await http.get(unit, headers=bearer(tokens["access_token"])), 401)["detail"]
    refreshed = await http.post("/api/v1/sign-in/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    clock.advance(days=30)
    expired = await http.post("/api/v1/sign-in/refresh", json={"refresh_token": refreshed.json()["refresh_token"]})
    assert "expired" in problem(expired, 401)["detail"]


async def test_staff_revoke_a_sign_in_token_at_once_and_its_refresh_token_with_it(
    http: AsyncTestClient[Litestar], api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await new_owner(api, http)
    tokens = await sign_in_with_code(http, api, owner["phone"])
    unit = f"/api/v1/units/{owner['unit_id']}"
    assert (await http.get(unit, headers=bearer(tokens["access_token"]))).status_code == 200  # now cached
    listed = await http.get("/api/v1/tokens", params={"owner_id": owner["id"]}, headers=api.headers(Role.manager))
    [token] = listed.json()
    revoked = await http.post(f"/api/v1/tokens/{token['id']}/revoke", headers=api.headers(Role.manager))
    assert revoked.status_code == 200 and revoked.json()["kind"] == "sign_in"
    problem(await http.get(unit, headers=bearer(tokens["access_token"])), 401)
    problem(await http.post("/api/v1/sign-in/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)

    # The command line lists it with its kind, owner and expiry.
    monkeypatch.setenv("FEESVC_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        listed_cli = await asyncio.to_thread(CliRunner().invoke, cli, ["token", "list"])
    finally:
        get_settings.cache_clear()
    [line] = [x for x in listed_cli.output.splitlines() if x.split()[0] == str(token["id"])]
    cells = line.split()
    assert cells[1:3] == ["sign_in", "owner"] and str(owner["id"]) in cells and "2031-" in line


async def test_sign_out_ends_the_sign_in(http: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, http)
    tokens = await sign_in_with_code(http, api, owner["phone"])
    out = await http.post("/api/v1/sign-out", headers=bearer(tokens["access_token"]))
    assert out.status_code == 204, out.text
    problem(await http.get(f"/api/v1/units/{owner['unit_id']}", headers=bearer(tokens["access_token"])), 401)
    problem(await http.post("/api/v1/sign-in/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert [e.action for e in await audit_rows(api, owner["id"])][-2:] == ["sign_out", "sign_in.refresh_fail"]
    # A token made on the command line is not a sign-in: staff revoke it.
    made = await api.owner_token(owner["id"])
    problem(await http.post("/api/v1/sign-out", headers=bearer(made)), 422)
    problem(await http.post("/api/v1/sign-out", headers=api.headers(Role.manager)), 403)


async def test_sign_in_says_which_fields_to_send(http: AsyncTestClient[Litestar]) -> None:
    phone = new_phone()
    problem(await http.post("/api/v1/sign-in", json={"phone": phone}), 422, "code")
    problem(
        await http.post("/api/v1/sign-in", json={"phone": phone, "code": "123456", "invitation": "fsi_" + "a" * 43}),
        422,
    )
    problem(await http.post("/api/v1/sign-in", json={}), 422, "invitation")
    problem(await http.post("/api/v1/sign-in", json={"phone": phone, "code": "12345"}), 400, "code")
    problem(await http.post("/api/v1/sign-in/code", json={"phone": "call me"}), 400, "phone")
    problem(await http.post("/api/v1/sign-in/refresh", json={"refresh_token": "fsv_abc"}), 400, "refresh_token")


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # feesvc's own records at their most verbose (`feesvc --verbose`), the access log among them.
    with caplog.at_level(logging.DEBUG, logger="feesvc"):
        yield caplog


async def test_no_phone_code_or_secret_in_the_logs_or_the_audit_log(
    http: AsyncTestClient[Litestar], api: Api, all_logs: pytest.LogCaptureFixture
) -> None:
    owner = await new_owner(api, http)
    invitation = await latest_invitation(api, owner["phone"])
    by_link = await http.get(f"/owner/invitation/{invitation}", follow_redirects=False)
    assert by_link.status_code == 303
    await http.post("/api/v1/sign-in/code", json={"phone": owner["phone"]})
    code = await latest_code(api, owner["phone"])
    await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": f"{(int(code) + 1) % 10**6:06d}"})
    tokens = (await http.post("/api/v1/sign-in", json={"phone": owner["phone"], "code": code})).json()
    await http.post("/api/v1/sign-in/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert any("/owner/invitation/…" in r.getMessage() for r in all_logs.records)  # the access log ran
    logged = all_logs.text + "\n".join(r.getMessage() for r in all_logs.records)
    audited = json.dumps([e.detail for e in await audit_rows(api, owner["id"])], ensure_ascii=False)
    for text in (logged, audited):
        for secret in (
            owner["phone"],
            owner["phone"][3:],
            code,
            invitation,
            tokens["access_token"],
            tokens["refresh_token"],
        ):
            assert secret not in text
    assert phone_hash(owner["phone"]) not in audited
