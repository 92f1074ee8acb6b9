"""The owner's pages in headless Chromium at phone width (390×844), driven by Playwright against
the app served over HTTP: signed in by the session cookie, the owner reads each page, the
statement's figures are the API's, and a repair request goes into the complaint workflow.

Screenshots of every page are written to ``FEESVC_SCREENSHOT_DIR`` when it is set (they are for
people to look at; the test checks what it can read)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright
from sqlmodel import select

from feesvc.auth.models import Role
from feesvc.service_records.models import Complaint
from feesvc.settings import Settings
from tests.browser_support import PHONE, chromium, screenshot_dir, shot
from tests.owner_pages_support import estate_with_history
from tests.support import Api


@pytest.fixture
def served(serve: Callable[..., str], database_url: str, settings: Settings) -> str:
    """The app over HTTP on the tests' database; its base URL."""
    return serve({"FEESVC_DATABASE_URL": database_url, "FEESVC_FILES_DIR": settings.server.files_dir})


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path)


async def _shot(page: Page, name: str, screenshots: Path) -> None:
    await shot(page, screenshots / f"owner-{name}.png")


async def test_an_owner_signed_in_by_cookie_reads_the_statement_and_raises_a_request(
    api: Api, served: str, screenshots: Path
) -> None:
    executable = chromium()
    estate = await estate_with_history(api, units=1)
    unit = estate.unit_ids[0]
    owner = await api.owner_token(estate.owner_ids[0])
    paid = {"unit_id": unit, "amount_fen": 30000, "method": "wechat"}
    await api.ok(await api.post("/api/v1/payments", paid, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}))
    await api.ok(await api.post("/api/v1/reminder-runs", {"estate_id": estate.id}), 200)
    api_statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", owner))

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = await context.new_page()
        # Without a session: the sign-in page is where a browser is sent.
        response = await page.goto(f"{served}/owner/", wait_until="commit")
        assert response is not None and "/owner/sign-in" in page.url
        await context.add_cookies(
            [{"name": "feesvc_session", "value": owner, "url": served, "httpOnly": True, "sameSite": "Lax"}]
        )

        await page.goto(f"{served}/owner/")
        card = page.locator(f'[data-unit="{unit}"]')
        assert await card.locator(".owed .amount").get_attribute("data-fen") == str(
            api_statement["payoff"]["total_fen"]
        )
        assert await card.locator("a.pay").count() == 0  # the estate takes no payments online
        await _shot(page, "home", screenshots)

        await card.get_by_role("link", name="对账单").click()
        await page.wait_for_url(f"**/owner/units/{unit}/statement")
        lines = page.locator("li.line")
        assert await lines.count() == len(api_statement["lines"])
        amounts = [await lines.nth(i).locator(".amount").get_attribute("data-fen") for i in range(await lines.count())]
        assert amounts == [str(line["amount_fen"]) for line in api_statement["lines"]]
        assert await page.locator("#service").get_by_text("保洁 30 次").count() == 1
        await _shot(page, "statement", screenshots)

        for name, path in (
            ("payoff", f"/owner/units/{unit}/payoff"),
            ("receipts", "/owner/receipts"),
            ("letters", "/owner/letters"),
        ):
            await page.goto(f"{served}{path}")
            await _shot(page, name, screenshots)
        assert await page.locator("[data-letter]").count() >= 1
        await page.goto(f"{served}/owner/receipts")
        assert await page.locator("[data-payment]").count() == 1

        await page.goto(f"{served}/owner/units/{unit}/requests")
        await page.select_option("#category", "elevator")
        await page.fill("#text", "2号电梯门关不上，按钮没反应")
        await _shot(page, "request-form", screenshots)
        await page.get_by_role("button", name="提交").click()
        await page.wait_for_selector("#sent")
        assert "整改方案" in await page.locator("#sent").inner_text()
        await _shot(page, "request-sent", screenshots)
        await browser.close()

    async with api.sessions() as s:
        [complaint] = (await s.execute(select(Complaint).where(Complaint.unit_id == unit))).scalars().all()
    assert complaint.category == "elevator" and complaint.channel == "app"
    assert complaint.text == "2号电梯门关不上，按钮没反应" and complaint.owner_id == estate.owner_ids[0]
