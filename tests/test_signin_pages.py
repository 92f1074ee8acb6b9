"""The owners' sign-in pages (issue 19 item 1): HTML forms with CSRF tokens, the session cookie,
the invitation link, sign-out, languages, and the cookie honoured under /owner/ only.

The app runs on a clock the tests move, starting in 2032; a page of the test's own under /owner/
stands in for the owner pages, to show whom the cookie signs in.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import Response
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from feesvc.app import create_app
from feesvc.auth.principal import Principal
from feesvc.settings import Settings
from tests.signin_support import Clock, latest_code, latest_invitation, new_owner, new_phone
from tests.support import Api, problem

CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@get("/owner/test-whoami", sync_to_thread=False)
def whoami(principal: Principal) -> dict[str, Any]:
    return {"role": principal.role.value, "owner_id": principal.owner_id}


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime(2032, 6, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
async def page_client(settings: Settings, clock: Clock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings)
    app.register(whoami)
    app.state.clock = clock
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
def browser(page_client: AsyncTestClient[Litestar], clock: Clock) -> AsyncTestClient[Litestar]:
    clock.next_hour()
    page_client.cookies.clear()
    return page_client


def csrf_token(response: Response) -> str:
    match = CSRF_FIELD.search(response.text)
    assert match is not None, response.text
    return match.group(1)


def set_cookie(response: Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    return header


async def request_code(browser: AsyncTestClient[Litestar], phone: str) -> Response:
    form = await browser.get("/owner/sign-in")
    return await browser.post("/owner/sign-in/code", data={"phone": phone, "_csrf_token": csrf_token(form)})


async def test_phone_then_code_sets_the_session_cookie_and_opens_the_owner_pages(
    browser: AsyncTestClient[Litestar], api: Api, clock: Clock
) -> None:
    owner = await new_owner(api, browser)
    form = await browser.get("/owner/sign-in")
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-Hans-CN">' in form.text and "业主登录" in form.text and "<script" not in form.text
    assert 'name="viewport"' in form.text and "https://" not in form.text  # mobile, nothing from a CDN
    assert "HttpOnly" in set_cookie(form, "feesvc_csrf") and "Path=/owner/" in set_cookie(form, "feesvc_csrf")

    sent = await browser.post("/owner/sign-in/code", data={"phone": owner["phone"], "_csrf_token": csrf_token(form)})
    assert sent.status_code == 200 and 'name="code"' in sent.text and "验证码已发送" in sent.text
    code = await latest_code(api, owner["phone"])
    signed_in = await browser.post(
        "/owner/sign-in",
        data={"phone": owner["phone"], "code": code, "_csrf_token": csrf_token(sent)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/owner/"
    cookie = set_cookie(signed_in, "feesvc_session")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/owner/" in cookie and "Max-Age=900" in cookie
    assert "Secure" not in cookie  # the server's public address is http here

    me = await browser.get("/owner/test-whoami", follow_redirects=False)
    assert me.status_code == 200 and me.json() == {"role": "owner", "owner_id": owner["id"]}
    # The API takes bearer tokens only: the cookie does not sign in there.
    session = browser.cookies.get("feesvc_session")
    assert session is not None
    as_browser = {"Cookie": f"feesvc_session={session}"}
    problem(await browser.get(f"/api/v1/units/{owner['unit_id']}", headers=as_browser), 401)

    # Fifteen minutes on, the access token has expired: back to the sign-in page, cookie dropped.
    clock.advance(minutes=15)
    expired = await browser.get("/owner/test-whoami", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"] == "/owner/sign-in?expired=1"
    assert 'feesvc_session=""' in set_cookie(expired, "feesvc_session")
    assert "登录已过期" in (await browser.get("/owner/sign-in?expired=1")).text


async def test_a_wrong_code_shows_the_form_again_and_nothing_signs_in(
    browser: AsyncTestClient[Litestar], api: Api
) -> None:
    owner = await new_owner(api, browser)
    sent = await request_code(browser, owner["phone"])
    code = await latest_code(api, owner["phone"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = await browser.post(
        "/owner/sign-in", data={"phone": owner["phone"], "code": wrong, "_csrf_token": csrf_token(sent)}
    )
    assert refused.status_code == 401 and "验证码不正确" in refused.text and 'name="code"' in refused.text
    assert browser.cookies.get("feesvc_session") is None
    bad_phone = await browser.post("/owner/sign-in/code", data={"phone": "x", "_csrf_token": csrf_token(sent)})
    assert bad_phone.status_code == 400 and "请输入手机号码" in bad_phone.text


async def test_forms_without_the_csrf_token_are_refused(browser: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, browser)
    await browser.get("/owner/sign-in")  # the CSRF cookie is set; a forged form lacks the field
    problem(await browser.post("/owner/sign-in/code", data={"phone": owner["phone"]}), 403)
    forged = await browser.post("/owner/sign-in/code", data={"phone": owner["phone"], "_csrf_token": "0" * 128})
    problem(forged, 403)
    browser.cookies.clear()
    problem(await browser.post("/owner/sign-in/code", data={"phone": owner["phone"], "_csrf_token": "x"}), 403)


async def test_the_invitation_link_signs_in_once(browser: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, browser)
    secret = await latest_invitation(api, owner["phone"])
    opened = await browser.get(f"/owner/invitation/{secret}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/owner/"
    assert "HttpOnly" in set_cookie(opened, "feesvc_session")
    me = await browser.get("/owner/test-whoami", follow_redirects=False)
    assert me.json() == {"role": "owner", "owner_id": owner["id"]}

    browser.cookies.clear()
    again = await browser.get(f"/owner/invitation/{secret}?lang=en", follow_redirects=False)
    assert again.status_code == 401 and "This invitation link is invalid, used or expired" in again.text
    assert browser.cookies.get("feesvc_session") is None


async def test_sign_out_ends_the_session_and_drops_the_cookie(browser: AsyncTestClient[Litestar], api: Api) -> None:
    owner = await new_owner(api, browser)
    secret = await latest_invitation(api, owner["phone"])
    await browser.get(f"/owner/invitation/{secret}", follow_redirects=False)
    session = browser.cookies.get("feesvc_session")
    assert session is not None
    page = await browser.get("/owner/sign-in")
    out = await browser.post("/owner/sign-out", data={"_csrf_token": csrf_token(page)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/owner/sign-in?signed_out=1"
    assert 'feesvc_session=""' in set_cookie(out, "feesvc_session")
    # The old cookie, sent again, signs no one in.
    as_before = {"Cookie": f"feesvc_session={session}"}
    replay = await browser.get("/owner/test-whoami", headers=as_before, follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/owner/sign-in")
    assert "您已退出登录" in (await browser.get("/owner/sign-in?signed_out=1")).text
    # Without a session, signing out sends the browser to sign in.
    browser.cookies.clear()
    page = await browser.get("/owner/sign-in")
    anonymous = await browser.post("/owner/sign-out", data={"_csrf_token": csrf_token(page)}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/owner/sign-in"


@pytest.mark.parametrize(
    ("query", "accept", "title", "lang"),
    [
        ("", "", "业主登录", "zh-Hans-CN"),
        ("", "zh-TW,zh;q=0.9", "業主登入", "zh-Hant-TW"),
        ("", "en-US,en;q=0.8", "Owner sign-in", "en"),
        ("", "fr-FR, zh-HK;q=0.5", "業主登入", "zh-Hant-TW"),
        ("?lang=en", "zh-CN", "Owner sign-in", "en"),
        ("?lang=zh_TW", "en", "業主登入", "zh-Hant-TW"),
        ("?lang=klingon", "en", "Owner sign-in", "en"),
    ],
)
async def test_the_pages_speak_the_owner_s_language(
    browser: AsyncTestClient[Litestar], query: str, accept: str, title: str, lang: str
) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    page = await browser.get(f"/owner/sign-in{query}", headers=headers)
    assert f"<title>{title}</title>" in page.text and f'<html lang="{lang}">' in page.text


async def test_too_many_codes_show_a_429_page_with_retry_after(browser: AsyncTestClient[Litestar]) -> None:
    phone = new_phone()
    for _ in range(5):
        assert (await request_code(browser, phone)).status_code == 200
    limited = await request_code(browser, phone)
    assert limited.status_code == 429 and limited.headers["retry-after"] == str(3600 - 60)
    assert "尝试次数过多，请 59 分钟后再试" in limited.text
