"""Issue 19 "done when", end to end in headless Chromium at phone width (390×844): a manager invites
an owner in arrears; the owner opens the invitation link from the SMS and lands signed in, reads the
statement, pays the payoff by WeChat Pay and, after the next bill, by Alipay (each notification sent
over HTTP as the provider would: tampered once and refused, then accepted, then replayed twice),
downloads the receipts and raises a repair request with its 24-hour clock.

The app runs under uvicorn with the online-payment credentials made here (tests/online_support.py);
the providers' APIs are the local server there, and the browser's visit to Alipay's page is answered
by the test, which checks that page's request is signed with the app's key. No network."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright
from sqlmodel import select

from feesvc.auth.models import Role
from feesvc.ledger.models import LedgerEntry
from feesvc.online.models import PaymentOrder
from feesvc.payments.models import Payment
from feesvc.service_records.models import Complaint
from feesvc.settings import Settings
from tests.browser_support import PHONE, chromium, screenshot_dir, shot
from tests.online_support import Keys, ProviderServer, _verifies
from tests.owner_pages_support import DUE_DAY, TODAY, months_back
from tests.signin_support import latest_invitation, new_phone
from tests.support import Api

NOTIFY = "/api/v1/online/notify"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def secrets_file(tmp_path: Path, keys: Keys) -> Path:
    """The credentials file the app reads (estates are added once the test has made them)."""
    folder = tmp_path / "online"
    keys.write(folder)
    path = folder / "secrets.toml"
    path.write_text("# the journey's estate is added by the test\n", encoding="utf-8")
    return path


@pytest.fixture
def provider(keys: Keys) -> Iterator[ProviderServer]:
    with ProviderServer(keys) as server:
        yield server


@pytest.fixture
def served(
    serve: Callable[..., str], database_url: str, settings: Settings, secrets_file: Path, provider: ProviderServer
) -> str:
    """The app over HTTP on the tests' database, with online payment; its URL (its public address too)."""
    env = {
        "FEESVC_DATABASE_URL": database_url,
        "FEESVC_FILES_DIR": settings.server.files_dir,
        "FEESVC_ONLINE_SECRETS_FILE": str(secrets_file),
        "FEESVC_WECHATPAY_API_BASE": provider.url,
        "FEESVC_ALIPAY_GATEWAY": provider.url + "/gateway.do",
    }
    return serve(env, public_address=True)


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path / "shots")


async def _shot(page: Page, name: str, screenshots: Path) -> None:
    await shot(page, screenshots / f"journey-{name}.png")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class Ledger:
    """What the database holds for the unit: payments, ledger entries, orders."""

    def __init__(self, api: Api, unit_id: int) -> None:
        self.api = api
        self.unit_id = unit_id

    async def payments(self) -> list[Payment]:
        async with self.api.sessions() as s:
            query = select(Payment).where(Payment.unit_id == self.unit_id).order_by(Payment.id)  # type: ignore[arg-type]
            return list((await s.execute(query)).scalars())

    async def entries(self) -> int:
        return await self.api.count(LedgerEntry, LedgerEntry.unit_id == self.unit_id)

    async def payoff(self) -> dict[str, Any]:
        return dict(await self.api.ok(await self.api.get(f"/api/v1/units/{self.unit_id}/payoff")))

    async def order(self, out_trade_no: str) -> dict[str, Any]:
        async with self.api.sessions() as s:
            query = select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)
            found = (await s.execute(query)).scalars().one()
        return dict(await self.api.ok(await self.api.get(f"/api/v1/payment-orders/{found.id}", Role.cashier)))


async def _shows_owed(page: Page, unit: int, payoff: dict[str, Any]) -> bool:
    """Whether the home page's card shows the payoff as the API states it (or nothing owed)."""
    card = page.locator(f'[data-unit="{unit}"]')
    if payoff["total_fen"] <= 0:
        return await card.locator(".owed").count() == 0 and await card.locator("p.paid").count() == 1
    return await card.locator(".owed .amount").get_attribute("data-fen") == str(payoff["total_fen"])


async def test_an_invited_owner_signs_in_reads_pays_twice_gets_receipts_and_raises_a_repair(
    api: Api, served: str, screenshots: Path, keys: Keys, secrets_file: Path, provider: ProviderServer
) -> None:
    executable = chromium()
    # An estate in arrears: three months billed and overdue, late fees posted to yesterday.
    estate = await api.make_estate(units=1, settings={"due_day": DUE_DAY}, owners_from="2024-01-01")
    unit, owner_id = estate.unit_ids[0], estate.owner_ids[0]
    for n in (3, 2, 1):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    await api.ok(
        await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": f"{TODAY - timedelta(days=1)}"}),
        200,
    )
    with secrets_file.open("a", encoding="utf-8") as credentials:
        credentials.write(keys.secrets_toml(estate.id, secrets_file.parent))
    phone = new_phone()
    await api.ok(await api.patch(f"/api/v1/owners/{owner_id}", {"phone": phone}))
    ledger = Ledger(api, unit)

    # The manager invites the owner: a link by SMS (read from the outbox).
    invited = await api.post(f"/api/v1/owners/{owner_id}/invitations", {}, Role.manager)
    assert invited.status_code == 201, invited.text
    secret = await latest_invitation(api, phone)

    notifications = httpx.AsyncClient(base_url=served, timeout=30)
    async with async_playwright() as p, notifications:
        browser = await p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
        page = await context.new_page()

        # The invitation link signs the owner in and lands on the owner's home page.
        await page.goto(f"{served}/owner/invitation/{secret}")
        assert urlsplit(page.url).path == "/owner/"
        assert any(c["name"] == "feesvc_session" and c["httpOnly"] for c in await context.cookies())
        payoff = await ledger.payoff()
        assert payoff["principal_fen"] > 0 and await _shows_owed(page, unit, payoff)
        await _shot(page, "01-home", screenshots)

        # The statement: each line as the API states it.
        statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement"))
        await page.locator(f'[data-unit="{unit}"]').get_by_role("link", name="对账单").click()
        await page.wait_for_url(f"**/owner/units/{unit}/statement")
        lines = page.locator("li.line")
        shown = [await lines.nth(i).locator(".amount").get_attribute("data-fen") for i in range(await lines.count())]
        assert shown == [str(line["amount_fen"]) for line in statement["lines"]] and shown
        await _shot(page, "02-statement", screenshots)

        # Pay the payoff by WeChat Pay: the QR code for a Native order of the payoff amount.
        await page.goto(f"{served}/owner/pay?unit={unit}")
        await _shot(page, "03-pay", screenshots)
        await page.check('input[name="provider"][value="wechat"]')
        await page.get_by_role("button", name="去支付").click()
        await page.wait_for_selector(".qr svg")
        await _shot(page, "04-wechat-qr", screenshots)
        out_trade_no = (await page.locator("p.note").first.inner_text()).split()[1]
        wechat_order = await ledger.order(out_trade_no)
        assert wechat_order["provider"] == "wechat" and wechat_order["kind"] == "payoff"
        assert wechat_order["amount_fen"] == payoff["total_fen"] and wechat_order["state"] == "pending"

        transaction = keys.transaction(out_trade_no, wechat_order["amount_fen"])
        headers, body = keys.wechat_notification(transaction)
        wechat_url = f"{NOTIFY}/wechat/{estate.id}"
        entries_before = await ledger.entries()
        tampered = body.replace(b'"summary": "', b'"summary": "X')
        refused = await notifications.post(wechat_url, content=tampered, headers=headers)
        assert refused.status_code == 401 and refused.json()["code"] == "FAIL", refused.text
        assert await ledger.payments() == [] and await ledger.entries() == entries_before
        accepted = await notifications.post(wechat_url, content=body, headers=headers)
        assert accepted.status_code == 204, accepted.text
        [wechat_payment] = await ledger.payments()
        entries_after_wechat = await ledger.entries()
        for _ in range(2):  # replayed: the same bytes twice more, answered as success, posting nothing
            answer = await notifications.post(wechat_url, content=body, headers=headers)
            assert answer.status_code == 204, answer.text
        assert len(await ledger.payments()) == 1 and await ledger.entries() == entries_after_wechat
        resent_headers, resent_body = keys.wechat_notification(transaction)  # WeChat Pay's own resend, signed anew
        assert (await notifications.post(wechat_url, content=resent_body, headers=resent_headers)).status_code == 204
        assert len(await ledger.payments()) == 1 and await ledger.entries() == entries_after_wechat
        assert wechat_payment.amount_fen == wechat_order["amount_fen"] and wechat_payment.method == "wechat"
        assert wechat_payment.external_ref == transaction["transaction_id"]
        paid = await ledger.payoff()
        assert paid["principal_fen"] == paid["late_fee_posted_fen"] == 0
        await page.goto(f"{served}/owner/")
        assert await _shows_owed(page, unit, paid)
        await _shot(page, "05-home-paid", screenshots)

        # The next month is billed: a new debt, paid by Alipay through its mobile-website page.
        await api.bill(estate.id, months_back(0), f"{months_back(0)}-01")
        owed = await ledger.payoff()
        assert owed["principal_fen"] > 0
        await page.reload()
        assert await _shows_owed(page, unit, owed)
        gateway: list[dict[str, str]] = []

        async def alipay_page(route: Route) -> None:
            params = dict(parse_qsl(urlsplit(route.request.url).query))
            signed = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
            assert _verifies(keys.alipay_app.public_key(), signed.encode(), params["sign"])
            gateway.append(params)
            html = "<!doctype html><meta name=viewport content='width=device-width'><h1>支付宝（测试）</h1>"
            await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

        await page.route(f"{provider.url}/gateway.do**", alipay_page)
        await page.goto(f"{served}/owner/pay?unit={unit}")
        await page.check('input[name="provider"][value="alipay"]')
        await page.get_by_role("button", name="去支付").click()
        await page.wait_for_url(f"{provider.url}/gateway.do**")
        [params] = gateway
        assert params["method"] == "alipay.trade.wap.pay" and params["sign_type"] == "RSA2"
        biz = json.loads(params["biz_content"])
        alipay_order = await ledger.order(biz["out_trade_no"])
        assert alipay_order["provider"] == "alipay" and alipay_order["amount_fen"] == owed["total_fen"]
        assert biz["total_amount"] == _yuan(alipay_order["amount_fen"])

        notification = keys.alipay_params(biz["out_trade_no"], biz["total_amount"])
        form = keys.alipay_notification(notification)
        alipay_url = f"{NOTIFY}/alipay/{estate.id}"
        tampered_form = form.replace(f"total_amount={biz['total_amount']}".encode(), b"total_amount=0.01")
        assert tampered_form != form
        entries_before = await ledger.entries()
        refused = await notifications.post(alipay_url, content=tampered_form, headers=FORM)
        assert refused.status_code == 401 and refused.text == "fail"
        assert len(await ledger.payments()) == 1 and await ledger.entries() == entries_before
        accepted = await notifications.post(alipay_url, content=form, headers=FORM)
        assert accepted.status_code == 200 and accepted.text == "success", accepted.text
        entries_after_alipay = await ledger.entries()
        for _ in range(2):  # Alipay sends it twice more: success, nothing posted
            answer = await notifications.post(alipay_url, content=form, headers=FORM)
            assert answer.status_code == 200 and answer.text == "success", answer.text
        assert await ledger.entries() == entries_after_alipay
        payments = await ledger.payments()
        assert len(payments) == 2 and payments[0].id == wechat_payment.id
        alipay_payment = payments[1]
        assert alipay_payment.amount_fen == alipay_order["amount_fen"] and alipay_payment.method == "alipay"
        assert alipay_payment.external_ref == notification["trade_no"]

        # Exactly one payment per order, and the balance is paid.
        for order, payment in ((wechat_order, wechat_payment), (alipay_order, alipay_payment)):
            now = await api.ok(await api.get(f"/api/v1/payment-orders/{order['id']}", Role.cashier))
            assert now["state"] == "paid" and now["payment_id"] == payment.id
        settled = await ledger.payoff()
        assert settled["principal_fen"] == settled["late_fee_posted_fen"] == 0

        # The receipts: both payments, each PDF downloads.
        await page.goto(f"{served}/owner/receipts")
        receipts = page.locator("[data-payment]")
        listed = {int(await receipts.nth(i).get_attribute("data-payment") or 0) for i in range(await receipts.count())}
        assert listed == {wechat_payment.id, alipay_payment.id}
        for payment in payments:
            card = page.locator(f'[data-payment="{payment.id}"]')
            assert await card.locator(".amount").get_attribute("data-fen") == str(payment.amount_fen)
            href = await card.get_by_role("link").get_attribute("href")
            pdf = await page.request.get(f"{served}{href}")
            assert pdf.status == 200 and pdf.headers["content-type"].startswith("application/pdf")
            assert (await pdf.body()).startswith(b"%PDF-")
        await _shot(page, "06-receipts", screenshots)

        # A repair request from the form: filed in the complaint workflow with its 24-hour clock.
        await page.goto(f"{served}/owner/")
        await page.locator(f'[data-unit="{unit}"]').get_by_role("link", name="报事报修").click()
        await page.wait_for_url(f"**/owner/units/{unit}/requests")
        await page.select_option("#category", "repair")
        text = f"卫生间水龙头漏水，关不紧（{uuid.uuid4().hex[:6]}）"
        await page.fill("#text", text)
        await _shot(page, "07-request-form", screenshots)
        await page.get_by_role("button", name="提交").click()
        await page.wait_for_selector("#sent")
        await _shot(page, "08-request-sent", screenshots)
        await browser.close()

    async with api.sessions() as s:
        [complaint] = (await s.execute(select(Complaint).where(Complaint.unit_id == unit))).scalars().all()
    assert complaint.category == "repair" and complaint.channel == "app" and complaint.text == text
    assert complaint.owner_id == owner_id and complaint.plan_given_at is None
    assert complaint.plan_due_at - complaint.opened_at == timedelta(hours=24)
