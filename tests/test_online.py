"""Online payment (issue 19 item 3): orders, WeChat Pay and Alipay notifications, held notifications,
expiry, reconciliation, the owner's pay page. Keys and certificates are made here in the providers'
formats (tests/online_support.py); the providers' APIs are a local server; no network."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from httpx import ASGITransport, AsyncClient, Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.app import create_app
from feesvc.auth.models import Role
from feesvc.db import Database, business_today, utcnow
from feesvc.ledger.models import LedgerEntry
from feesvc.online import online_payment_enabled
from feesvc.online.models import HeldNotification, PaymentOrder
from feesvc.online.notifications import close_expired
from feesvc.payments.models import Payment
from feesvc.settings import OnlineSettings, Settings
from tests.online_support import Keys, ProviderServer, _verifies
from tests.support import Api, Estate, problem

ORDERS = "/api/v1/owners/me/payment-orders"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def provider_server(keys: Keys) -> Iterator[ProviderServer]:
    with ProviderServer(keys) as server:
        yield server


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Path:
    folder = tmp_path_factory.mktemp("online")
    keys.write(folder)
    (folder / "secrets.toml").write_text("# estates are added as the tests make them\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def online_settings(settings: Settings, secrets_dir: Path, provider_server: ProviderServer) -> Settings:
    return Settings(
        database=settings.database,
        server=settings.server,
        online=OnlineSettings(
            secrets_file=str(secrets_dir / "secrets.toml"),
            wechat_api_base=provider_server.url,
            alipay_gateway=provider_server.url + "/gateway.do",
        ),
    )


@pytest.fixture(scope="module")
async def online_client(online_settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(online_settings)) as client:
        yield client


@pytest.fixture
def online_api(
    online_client: AsyncTestClient[Litestar], tokens: dict[Role, str], sessions: async_sessionmaker[AsyncSession]
) -> Api:
    return Api(online_client, tokens, sessions)


class Owing:
    def __init__(self, estate: Estate, owner_token: str) -> None:
        self.estate = estate
        self.token = owner_token
        self.unit = estate.unit_ids[0]


@pytest.fixture
def enable(keys: Keys, secrets_dir: Path) -> Any:
    def add(estate_id: int) -> None:
        path = secrets_dir / "secrets.toml"
        path.write_text(path.read_text(encoding="utf-8") + keys.secrets_toml(estate_id, secrets_dir), encoding="utf-8")

    return add


async def owing(api: Api, enable: Any, units: int = 1) -> Owing:
    """An estate with online payment set up whose first owner owes two months."""
    estate = await api.make_estate(units=units, rate="2.00")
    for month in ("2025-01", "2025-02"):
        await api.bill(estate.id, month, f"{month}-01")
    enable(estate.id)
    return Owing(estate, await api.owner_token(estate.owner_ids[0]))


async def order(api: Api, who: Owing, provider: str = "wechat", channel: str = "native", **more: Any) -> Any:
    body = {"unit_id": who.unit, "provider": provider, "channel": channel, **more}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    return await api.ok(await api.post(ORDERS, body, who.token, headers=key))


async def notify_wechat(api: Api, estate_id: int, headers: dict[str, str], body: bytes) -> Response:
    return await api.client.post(f"/api/v1/online/notify/wechat/{estate_id}", content=body, headers=headers)


async def notify_alipay(api: Api, estate_id: int, body: bytes) -> Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return await api.client.post(f"/api/v1/online/notify/alipay/{estate_id}", content=body, headers=headers)


async def payments_of(api: Api, unit_id: int) -> int:
    return await api.count(Payment, Payment.unit_id == unit_id)


async def entries_of(api: Api, unit_id: int) -> int:
    return await api.count(LedgerEntry, LedgerEntry.unit_id == unit_id)


async def payoff_total(api: Api, who: Owing) -> int:
    return int((await api.ok(await api.get(f"/api/v1/units/{who.unit}/payoff", who.token)))["total_fen"])


async def test_a_signed_wechat_notification_posts_once_and_a_tampered_one_nothing(
    online_api: Api, enable: Any, keys: Keys
) -> None:
    api = online_api
    who = await owing(api, enable)
    owed = await payoff_total(api, who)
    made = await order(api, who)
    assert made["amount_fen"] == owed > 0 and made["kind"] == "payoff" and made["state"] == "pending"
    assert made["pay"]["code_url"].startswith("weixin://wxpay/bizpayurl")
    transaction = keys.transaction(made["out_trade_no"], made["amount_fen"])

    # Tampered: the body changed after the platform signed it. Refused, in WeChat Pay's format.
    headers, body = keys.wechat_notification(transaction)
    tampered = body.replace(b'"summary": "', b'"summary": "X')
    assert tampered != body
    refused = await notify_wechat(api, who.estate.id, headers, tampered)
    assert refused.status_code == 401 and refused.json()["code"] == "FAIL", refused.text
    # Signed by another key than the platform certificate's: refused too.
    forged_keys = Keys(apiv3_key=keys.apiv3_key)
    forged_keys.platform_serial = keys.platform_serial
    forged_headers, forged_body = forged_keys.wechat_notification(transaction)
    assert (await notify_wechat(api, who.estate.id, forged_headers, forged_body)).status_code == 401
    assert await payments_of(api, who.unit) == 0

    accepted = await notify_wechat(api, who.estate.id, headers, body)
    assert accepted.status_code == 204, accepted.text
    assert await payments_of(api, who.unit) == 1
    entries = await entries_of(api, who.unit)
    for _ in range(2):  # WeChat Pay sends it again: it answers success and posts nothing
        again_headers, again_body = keys.wechat_notification(transaction)
        assert (await notify_wechat(api, who.estate.id, again_headers, again_body)).status_code == 204
    assert await payments_of(api, who.unit) == 1 and await entries_of(api, who.unit) == entries

    paid = await api.ok(await api.get(f"/api/v1/payment-orders/{made['id']}", Role.cashier))
    assert paid["state"] == "paid" and paid["transaction_id"] == transaction["transaction_id"]
    mine = await api.ok(await api.get(f"/api/v1/owners/me/payment-orders/{made['id']}", who.token))
    assert mine["state"] == "paid" and mine["pay"] == {}
    payment = await api.ok(await api.get(f"/api/v1/payments/{paid['payment_id']}", Role.cashier))
    assert payment["method"] == "wechat" and payment["amount_fen"] == owed
    assert payment["external_ref"] == transaction["transaction_id"] and payment["cashier"] == "system:online-wechat"
    # Paid off: what is left is the late fee the next run posts, already held as the owner's credit.
    after = await api.ok(await api.get(f"/api/v1/units/{who.unit}/payoff", who.token))
    assert after["principal_fen"] == after["late_fee_posted_fen"] == 0
    assert after["total_fen"] == after["prepaid_credit_fen"]
    assert await api.count(HeldNotification, HeldNotification.estate_id == who.estate.id) == 0


async def test_orders_are_idempotent_and_only_for_the_owners_own_unit(online_api: Api, enable: Any) -> None:
    api = online_api
    who = await owing(api, enable, units=2)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"unit_id": who.unit, "provider": "wechat", "channel": "native"}
    first = await api.post(ORDERS, body, who.token, headers=key)
    again = await api.post(ORDERS, body, who.token, headers=key)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    pending = await api.ok(await api.get(f"/api/v1/owners/me/payment-orders/{first.json()['id']}", who.token))
    assert pending["state"] == "pending" and pending["pay"]["code_url"].startswith("weixin://")
    neighbour_token = await api.owner_token(who.estate.owner_ids[1])
    problem(await api.get(f"/api/v1/owners/me/payment-orders/{first.json()['id']}", neighbour_token), 404)
    problem(await api.post(ORDERS, {**body, "provider": "alipay", "channel": "wap"}, who.token, headers=key), 409)
    # The neighbour's unit: not theirs. Staff have no "me".
    neighbour = {**body, "unit_id": who.estate.unit_ids[1]}
    problem(await api.post(ORDERS, neighbour, who.token, headers={"Idempotency-Key": uuid.uuid4().hex}), 403)
    problem(await api.post(ORDERS, body, Role.cashier, headers={"Idempotency-Key": uuid.uuid4().hex}), 403)
    # Bad input names the field.
    fresh = {"Idempotency-Key": uuid.uuid4().hex}
    problem(await api.post(ORDERS, {**body, "channel": "wap"}, who.token, headers=fresh), 422, "channel")
    problem(await api.post(ORDERS, {**body, "channel": "jsapi"}, who.token, headers=fresh), 422, "payer_openid")
    problem(await api.post(ORDERS, {**body, "amount_fen": 1}, who.token, headers=fresh), 400)
    problem(await api.post(ORDERS, {**body, "charge_ids": [987654321]}, who.token, headers=fresh), 422, "charge_ids")
    # Chosen charges: what is open on them, designated.
    ledger = await api.ledger(who.unit)
    charge = next(e for e in ledger["entries"] if e["kind"] == "charge")
    chosen = await order(api, who, charge_ids=[charge["id"]])
    assert chosen["kind"] == "debts" and chosen["charge_ids"] == [charge["id"]]
    assert chosen["amount_fen"] == charge["amount_fen"]
    # JSAPI: the parameters WeixinJSBridge takes, signed by the merchant.
    jsapi = await order(api, who, channel="jsapi", payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert jsapi["pay"]["jsapi"]["package"].startswith("prepay_id=") and jsapi["pay"]["jsapi"]["signType"] == "RSA"


async def test_an_estate_without_credentials_takes_no_online_payment(
    online_api: Api, online_settings: Settings, enable: Any
) -> None:
    api = online_api
    estate = await api.make_estate(units=1, rate="2.00")
    await api.bill(estate.id, "2025-01", "2025-01-01")
    token = await api.owner_token(estate.owner_ids[0])
    assert not online_payment_enabled(estate.id, online_settings)
    body = {"unit_id": estate.unit_ids[0], "provider": "wechat", "channel": "native"}
    problem(await api.post(ORDERS, body, token, headers={"Idempotency-Key": uuid.uuid4().hex}), 422, "provider")
    enable(estate.id)
    assert online_payment_enabled(estate.id, online_settings)


async def test_alipay_notifications_post_once_and_a_tampered_one_nothing(
    online_api: Api, enable: Any, keys: Keys, provider_server: ProviderServer
) -> None:
    api = online_api
    who = await owing(api, enable)
    made = await order(api, who, provider="alipay", channel="wap", return_url="https://wy.example.com/owner")
    url = urlsplit(made["pay"]["pay_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider_server.url + "/gateway.do"
    params = dict(parse_qsl(url.query))
    assert params["method"] == "alipay.trade.wap.pay" and params["sign_type"] == "RSA2"
    signed = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    assert _verifies(keys.alipay_app.public_key(), signed.encode(), params["sign"])
    assert f'"total_amount":"{made["amount_fen"] // 100}.{made["amount_fen"] % 100:02d}"' in params["biz_content"]

    yuan = f"{made['amount_fen'] // 100}.{made['amount_fen'] % 100:02d}"
    notification = keys.alipay_params(made["out_trade_no"], yuan)
    body = keys.alipay_notification(notification)
    tampered = body.replace(f"total_amount={yuan}".encode(), b"total_amount=0.01")
    refused = await notify_alipay(api, who.estate.id, tampered)
    assert refused.status_code == 401 and refused.text == "fail"
    assert await payments_of(api, who.unit) == 0

    for _ in range(3):  # the notification, then Alipay sending it twice more
        answer = await notify_alipay(api, who.estate.id, body)
        assert answer.status_code == 200 and answer.text == "success", answer.text
    assert await payments_of(api, who.unit) == 1
    paid = await api.ok(await api.get(f"/api/v1/payment-orders/{made['id']}", Role.manager))
    assert paid["state"] == "paid" and paid["transaction_id"] == notification["trade_no"]
    # TRADE_FINISHED comes later for the same trade: nothing more.
    finished = keys.alipay_notification({**notification, "trade_status": "TRADE_FINISHED"})
    assert (await notify_alipay(api, who.estate.id, finished)).text == "success"
    assert await payments_of(api, who.unit) == 1


async def test_a_mismatch_is_held_for_a_cashier_never_posted_blind(online_api: Api, enable: Any, keys: Keys) -> None:
    api = online_api
    who = await owing(api, enable)
    made = await order(api, who)
    short = keys.transaction(made["out_trade_no"], made["amount_fen"] - 100)
    headers, body = keys.wechat_notification(short)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    other_merchant = keys.transaction(made["out_trade_no"], made["amount_fen"], mchid="1900009999")
    headers, body = keys.wechat_notification(other_merchant)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    dollars = keys.transaction(
        made["out_trade_no"], made["amount_fen"], amount={"total": made["amount_fen"], "currency": "USD"}
    )
    headers, body = keys.wechat_notification(dollars)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    assert await payments_of(api, who.unit) == 0
    held = await api.ok(await api.get(f"/api/v1/estates/{who.estate.id}/held-notifications", Role.cashier))
    reasons = sorted(h["reason"] for h in held)
    assert len(held) == 3 and any("fen" in r for r in reasons) and any("merchant" in r for r in reasons)
    assert any("USD" in r for r in reasons)
    # Replayed, a held one is not held twice.
    headers, body = keys.wechat_notification(short)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    assert len(await api.ok(await api.get(f"/api/v1/estates/{who.estate.id}/held-notifications", Role.cashier))) == 3

    # The cashier posts the short payment (what was received); a currency mismatch cannot be posted.
    short_held = next(h for h in held if h["transaction_id"] == short["transaction_id"])
    decision = {"action": "post", "reason": "业主来电确认，少付1元另行补缴"}
    posted = await api.ok(
        await api.post(f"/api/v1/held-notifications/{short_held['id']}/resolve", decision, Role.cashier), 200
    )
    assert posted["state"] == "posted" and posted["payment_id"] is not None
    again = await api.post(f"/api/v1/held-notifications/{short_held['id']}/resolve", decision, Role.cashier)
    assert again.status_code == 200 and again.json()["payment_id"] == posted["payment_id"]
    problem(
        await api.post(
            f"/api/v1/held-notifications/{short_held['id']}/resolve",
            {"action": "dismiss", "reason": "退款"},
            Role.cashier,
        ),
        409,
    )
    usd_held = next(h for h in held if h["transaction_id"] == dollars["transaction_id"])
    problem(await api.post(f"/api/v1/held-notifications/{usd_held['id']}/resolve", decision, Role.cashier), 409)
    assert await payments_of(api, who.unit) == 1
    payment = await api.ok(await api.get(f"/api/v1/payments/{posted['payment_id']}", Role.cashier))
    assert payment["amount_fen"] == made["amount_fen"] - 100
    # The notification sent again after the cashier posted it: nothing more.
    headers, body = keys.wechat_notification(short)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    assert await payments_of(api, who.unit) == 1
    # Owners cannot see or decide held notifications.
    problem(await api.get(f"/api/v1/estates/{who.estate.id}/held-notifications", who.token), 403)


async def test_an_unknown_or_expired_order_is_refused_and_nothing_written(
    online_api: Api,
    enable: Any,
    keys: Keys,
    online_settings: Settings,
    database: Database,
    provider_server: ProviderServer,
) -> None:
    api = online_api
    who = await owing(api, enable)
    unknown = keys.transaction("FS" + "0" * 24, 100)
    headers, body = keys.wechat_notification(unknown)
    answer = await notify_wechat(api, who.estate.id, headers, body)
    assert answer.status_code == 404 and answer.json()["code"] == "FAIL"
    unknown_alipay = keys.alipay_notification(keys.alipay_params("FS" + "1" * 24, "1.00"))
    assert (await notify_alipay(api, who.estate.id, unknown_alipay)).text == "fail"
    # Another estate's notify address for this estate's order: unknown there.
    made = await order(api, who)
    other = await owing(api, enable)
    headers, body = keys.wechat_notification(keys.transaction(made["out_trade_no"], made["amount_fen"]))
    assert (await notify_wechat(api, other.estate.id, headers, body)).status_code == 404

    async with database.session() as session:
        past = utcnow() - timedelta(minutes=5)
        await session.execute(update(PaymentOrder).where(PaymentOrder.id == made["id"]).values(expires_at=past))
        await session.commit()
    late = keys.transaction(made["out_trade_no"], made["amount_fen"])
    headers, body = keys.wechat_notification(late)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 409
    assert await payments_of(api, who.unit) == 0
    assert await api.count(HeldNotification, HeldNotification.estate_id == who.estate.id) == 0

    # The run closes it with WeChat Pay first; a rerun does nothing more.
    report = await close_expired(database, online_settings, utcnow(), business_today(), who.estate.id)
    assert (report.closed, report.paid, report.failed) == (1, 0, [])
    assert provider_server.trades[made["out_trade_no"]]["state"] == "CLOSED"
    rerun = await close_expired(database, online_settings, utcnow(), business_today(), who.estate.id)
    assert (rerun.closed, rerun.paid) == (0, 0)
    closed = await api.ok(await api.get(f"/api/v1/payment-orders/{made['id']}", Role.cashier))
    assert closed["state"] == "closed"
    headers, body = keys.wechat_notification(late)
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 409
    assert await payments_of(api, who.unit) == 0


async def test_an_expired_order_paid_at_the_provider_is_posted_by_the_run(
    online_api: Api,
    enable: Any,
    keys: Keys,
    online_settings: Settings,
    database: Database,
    provider_server: ProviderServer,
) -> None:
    api = online_api
    who = await owing(api, enable)
    made = await order(api, who)
    transaction_id = "4200" + uuid.uuid4().hex[:24]
    trade = provider_server.trades[made["out_trade_no"]]
    trade.update(state="SUCCESS", paid={"transaction_id": transaction_id})
    # Its notification was lost; the order ran out a minute after the payment.
    async with database.session() as session:
        soon = utcnow() + timedelta(minutes=1)
        await session.execute(update(PaymentOrder).where(PaymentOrder.id == made["id"]).values(expires_at=soon))
        await session.commit()
    report = await close_expired(
        database, online_settings, utcnow() + timedelta(minutes=2), business_today(), who.estate.id
    )
    assert (report.closed, report.paid) == (0, 1)
    assert await api.count(Payment, Payment.idempotency_key == f"wechat:{transaction_id}") == 1
    # The notification arriving late posts nothing more.
    headers, body = keys.wechat_notification(
        keys.transaction(made["out_trade_no"], made["amount_fen"], transaction_id=transaction_id)
    )
    assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
    assert await payments_of(api, who.unit) == 1


def wechat_bill(lines: list[tuple[str, str, str, str]]) -> bytes:
    """A WeChat Pay trade bill (ALL) in its documented layout: backtick-prefixed values, the summary after."""
    header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
        "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
        "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
    )
    rows = [header]
    for when, transaction_id, out_trade_no, yuan in lines:
        values = [
            when,
            "wx8888888888888888",
            "1900000109",
            "0",
            "",
            transaction_id,
            out_trade_no,
            "oUpF8u",
            "NATIVE",
            "SUCCESS",
            "OTHERS",
            "CNY",
            yuan,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            "物业费",
            "",
            "0.00000",
            "0.60%",
            yuan,
            "0.00",
            "",
        ]
        rows.append(",".join("`" + v for v in values))
    total = sum(int(y.replace(".", "")) for *_, y in lines)
    rows.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
    rows.append(f"`{len(lines)},`{total / 100:.2f},`0.00,`0.00,`0.00000,`{total / 100:.2f},`0.00")
    return ("\n".join(rows) + "\n").encode()


async def test_reconciliation_lists_unmatched_lines_and_missing_payments(
    online_api: Api, enable: Any, keys: Keys
) -> None:
    api = online_api
    who = await owing(api, enable, units=2)
    neighbour = Owing(who.estate, await api.owner_token(who.estate.owner_ids[1]))
    neighbour.unit = who.estate.unit_ids[1]
    paid = []
    for payer in (who, neighbour):
        made = await order(api, payer)
        transaction = keys.transaction(made["out_trade_no"], made["amount_fen"])
        headers, body = keys.wechat_notification(transaction)
        assert (await notify_wechat(api, who.estate.id, headers, body)).status_code == 204
        paid.append((made, transaction))
    (first, first_tx), (_, second_tx) = paid
    payment_day = second_tx["success_time"][:10]
    when = f"{payment_day} 10:00:00"
    yuan = f"{first['amount_fen'] // 100}.{first['amount_fen'] % 100:02d}"
    bill = wechat_bill(
        [
            (when, first_tx["transaction_id"], first["out_trade_no"], yuan),
            (when, "4200000000000000000000000001", "FSNOTOURS", "12.00"),
        ]
    )
    route = f"/api/v1/estates/{who.estate.id}/online-reconciliations/wechat"
    headers = api.headers(Role.manager)
    answer = await api.client.post(route, files={"file": ("tradebill.csv", bill, "text/csv")}, headers=headers)
    result = await api.ok(answer, 200)
    assert result["day"] == payment_day and result["matched"] == 1 and not result["reconciled"]
    assert [line["transaction_id"] for line in result["unmatched_lines"]] == ["4200000000000000000000000001"]
    assert [m["transaction_id"] for m in result["missing_payments"]] == [second_tx["transaction_id"]]
    # A bill that is not a WeChat Pay trade bill: 422 naming the file; cashiers may not reconcile.
    problem(
        await api.client.post(route, files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}, headers=headers), 422, "file"
    )
    problem(
        await api.client.post(route, files={"file": ("t.csv", bill, "text/csv")}, headers=api.headers(Role.cashier)),
        403,
    )


def alipay_account_bill(day: str, lines: list[tuple[str, str, str]]) -> bytes:
    """Alipay's account bill (账务明细) as its download holds it: GBK, # lines around the table, values
    padded with tabs, zipped with its summary."""
    import io
    import zipfile

    rows = [
        "#支付宝账务明细查询",
        "#账号：[20880000000000010156]",
        f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
        "#-----------------------------------------账务明细列表----------------------------------------",
        "账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注",
    ]
    for n, (trade_no, out_trade_no, yuan) in enumerate(lines, start=1):
        rows.append(
            f"2026{n:010d}\t,{trade_no}\t,{out_trade_no}\t,物业费\t,{day} 10:0{n}:00,业主 (138****0000)\t,"
            f"{yuan},0.00,1000.00,支付宝,在线支付,"
        )
    rows.append(
        f"2026{99:010d}\t,{lines[0][0]}\t,{lines[0][1]}\t,服务费\t,{day} 10:30:00,\t,0.00,0.60,999.40,支付宝,收费,"
    )
    rows += [
        "#-----------------------------------------账务明细列表结束------------------------------------",
        f"#收入合计：{len(lines)}笔",
        "#导出时间：[2026-12-07 10:00:00]",
    ]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("20880000000000010156_汇总.csv", "#支付宝账务汇总查询\n合计,0\n".encode("gbk"))
        zipped.writestr("20880000000000010156_明细.csv", "\n".join(rows).encode("gbk"))
    return archive.getvalue()


async def test_alipay_account_bill_reconciles(online_api: Api, enable: Any, keys: Keys) -> None:
    api = online_api
    who = await owing(api, enable)
    made = await order(api, who, provider="alipay", channel="page")
    yuan = f"{made['amount_fen'] // 100}.{made['amount_fen'] % 100:02d}"
    params = keys.alipay_params(made["out_trade_no"], yuan)
    assert (await notify_alipay(api, who.estate.id, keys.alipay_notification(params))).text == "success"
    day = params["gmt_payment"][:10]
    bill = alipay_account_bill(day, [(params["trade_no"], made["out_trade_no"], yuan)])
    route = f"/api/v1/estates/{who.estate.id}/online-reconciliations/alipay"
    result = await api.ok(
        await api.client.post(
            route, files={"file": ("bill.zip", bill, "application/zip")}, headers=api.headers(Role.manager)
        ),
        200,
    )
    assert result["reconciled"] and result["matched"] == 1 and result["fees_fen"] == 60


async def test_two_identical_notifications_at_once_post_one_payment(
    online_api: Api, enable: Any, keys: Keys, online_client: AsyncTestClient[Litestar]
) -> None:
    api = online_api
    who = await owing(api, enable)
    made = await order(api, who)
    transaction = keys.transaction(made["out_trade_no"], made["amount_fen"])
    signed = [keys.wechat_notification(transaction) for _ in range(4)]

    async def send_all() -> list[Response]:
        transport = ASGITransport(app=online_client.app)
        async with AsyncClient(transport=transport, base_url="http://test") as http:
            import asyncio

            route = f"/api/v1/online/notify/wechat/{who.estate.id}"
            return list(await asyncio.gather(*(http.post(route, content=b, headers=h) for h, b in signed)))

    answers = online_client.blocking_portal.call(send_all)
    assert [a.status_code for a in answers] == [204] * 4, [a.text for a in answers]
    assert await payments_of(api, who.unit) == 1


async def test_the_owners_pay_page(online_api: Api, enable: Any, keys: Keys, provider_server: ProviderServer) -> None:
    """The pay page is one of the owner's pages (``feesvc.owner_pages``): its session, navigation and
    CSRF check; the first address (``/owner/pay?unit=``) sends the owner on to it."""
    api = online_api
    who = await owing(api, enable, units=2)
    client = api.client
    pay_page = f"/owner/units/{who.unit}/pay"
    moved = await client.get("/owner/pay", params={"unit": who.unit}, follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == pay_page
    signed_out = await client.get(pay_page, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/owner/sign-in")
    client.cookies.set("feesvc_session", who.token)
    try:
        home = await client.get("/owner/")
        assert f'href="{pay_page}"' in home.text  # the estate takes payments online: the button
        page = await client.get(pay_page)
        assert page.status_code == 200 and "在线缴费" in page.text and "微信支付" in page.text and "支付宝" in page.text
        assert 'href="/owner/receipts"' in page.text and 'href="/owner/"' in page.text  # the pages' navigation
        csrf = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text)
        key = re.search(r'name="form_key" value="([A-Za-z0-9_-]+)"', page.text)
        assert csrf and key
        assert (await client.get(f"/owner/units/{who.estate.unit_ids[1]}/pay")).status_code == 404
        form = {"provider": "wechat", "_csrf_token": "0" * 128, "form_key": key.group(1)}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        forged = await client.post(pay_page, data=form, headers=headers)
        assert forged.status_code == 403 and "表单已过期" in forged.text
        assert await api.count(PaymentOrder, PaymentOrder.unit_id == who.unit) == 0
        form["_csrf_token"] = csrf.group(1)
        unknown = await client.post(pay_page, data={**form, "provider": "paypal"}, headers=headers)
        assert unknown.status_code == 400 and "请选择支付方式" in unknown.text
        qr = await client.post(pay_page, data=form, headers=headers)
        assert qr.status_code == 200 and "<svg" in qr.text, qr.text
        resent = await client.post(pay_page, data=form, headers=headers)  # the form sent twice: one order
        assert resent.status_code == 200 and await api.count(PaymentOrder, PaymentOrder.unit_id == who.unit) == 1
        form.update(provider="alipay", form_key=uuid.uuid4().hex)
        redirect = await client.post(pay_page, data=form, headers=headers, follow_redirects=False)
        assert redirect.status_code == 303 and redirect.headers["location"].startswith(
            provider_server.url + "/gateway.do?"
        )
    finally:
        client.cookies.clear()


def test_the_command_line_reconciles_a_bill_file_and_closes_expired_orders(database_url: str, tmp_path: Path) -> None:
    """``feesvc online reconcile`` prints what does not match and exits 3; ``close-expired`` with
    nothing due closes nothing and exits 0."""
    import asyncio
    import json
    import os
    import threading

    from click.testing import CliRunner

    from feesvc.cli import NEEDS_ATTENTION, cli
    from feesvc.db import create_engine, session_factory
    from feesvc.settings import DatabaseSettings, get_settings
    from tests.support import one_unit_estate

    async def make_estate() -> int:
        engine = create_engine(DatabaseSettings(url=database_url))
        try:
            async with session_factory(engine)() as session:
                estate_id, _ = await one_unit_estate(session)
                return estate_id
        finally:
            await engine.dispose()

    made: list[int] = []
    thread = threading.Thread(target=lambda: made.append(asyncio.run(make_estate())))
    thread.start()
    thread.join()
    bill = tmp_path / "tradebill.csv"
    bill.write_bytes(wechat_bill([("2026-03-02 09:30:00", "4200000000000000000000000009", "FSELSEWHERE", "88.00")]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")} | {"FEESVC_DATABASE_URL": database_url}
    get_settings.cache_clear()
    try:
        args = ["online", "reconcile", "--estate", str(made[0]), "--provider", "wechat", "--file", str(bill)]
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == NEEDS_ATTENTION, result.output
        report = json.loads(result.output)
        assert report["day"] == "2026-03-02" and report["matched"] == 0
        assert [line["out_trade_no"] for line in report["unmatched_lines"]] == ["FSELSEWHERE"]
        closed = CliRunner().invoke(cli, ["online", "close-expired", "--estate", str(made[0])], env=env)
        assert closed.exit_code == 0 and "orders closed: 0" in closed.output, closed.output
    finally:
        get_settings.cache_clear()


async def test_the_wechat_trade_bill_is_downloaded_and_checked_against_its_hash(
    online_settings: Settings, provider_server: ProviderServer, online_api: Api, enable: Any
) -> None:
    from datetime import date

    from feesvc.online.credentials import all_credentials
    from feesvc.online.provider import ProviderError
    from feesvc.online.wechat import WechatPay

    bill = wechat_bill([("2026-03-02 09:30:00", "4200000000000000000000000010", "FSA", "20.00")])
    provider_server.bill = bill
    await owing(online_api, enable)  # at least one estate's credentials in the secrets file
    credentials = next(c.wechat for c in all_credentials(online_settings).values() if c.wechat is not None)
    wechat = WechatPay(credentials, provider_server.url)
    assert await wechat.download_bill(date(2026, 3, 2)) == bill
    assert any(call.startswith("GET /v3/bill/tradebill?bill_date=2026-03-02") for call in provider_server.calls)
    # A file that does not match the hash in the signed answer is not taken.
    provider_server.bill_served = bill.replace(b"20.00", b"2.00")
    try:
        with pytest.raises(ProviderError, match="SHA1"):
            await wechat.download_bill(date(2026, 3, 2))
    finally:
        provider_server.bill_served = None
