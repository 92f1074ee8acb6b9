"""WeChat Pay API v3 (直连商户): JSAPI and Native orders, notifications, closing, the trade bill.

The protocol (pay.weixin.qq.com, "APIv3 签名", "回调通知", "申请交易账单"):

* A request is signed with the merchant's private key, SHA256withRSA over
  ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``, and sent as
  ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…``.
* An answer and a notification are signed by the platform certificate named by ``Wechatpay-Serial``,
  SHA256withRSA over ``timestamp\\nnonce\\nbody\\n`` (``Wechatpay-Timestamp``, ``-Nonce``, ``-Signature``);
  a timestamp more than 5 minutes off is refused (a replayed old message).
* A notification's ``resource`` is AEAD_AES_256_GCM ciphertext under the APIv3 key (nonce and
  associated data beside it); it holds the transaction. Answer 204 when taken, else 4xx with
  ``{"code": "FAIL", "message": …}`` and WeChat Pay retries.

``cryptography`` does the RSA and AES-GCM; the SDKs (wechatpayv3) call the network synchronously
from their constructor and take no test server, so they are not used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from feesvc.db import BUSINESS_TZ
from feesvc.online.credentials import WechatCredentials
from feesvc.online.models import PayChannel, Provider
from feesvc.online.provider import CloseResult, NotificationRefused, OrderRequest, ProviderError, ProviderPayment

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300
TIMEOUT = httpx.Timeout(10.0)


def sign(credentials: WechatCredentials, message: str) -> str:
    signature = credentials.private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def authorization(credentials: WechatCredentials, method: str, url: str, body: str) -> str:
    """The Authorization header of a request to ``url`` (its path and query)."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = sign(credentials, f"{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n")
    return (
        f'{SCHEMA} mchid="{credentials.mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{credentials.serial_no}"'
    )


def verify_signed(credentials: WechatCredentials, headers: dict[str, str], body: bytes, now: float) -> None:
    """Check a platform signature over ``timestamp\\nnonce\\nbody\\n``; NotificationRefused if it fails."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("wechatpay-timestamp", "")
    nonce = lowered.get("wechatpay-nonce", "")
    signature = lowered.get("wechatpay-signature", "")
    serial = lowered.get("wechatpay-serial", "").upper()
    if not (timestamp and nonce and signature and serial):
        raise NotificationRefused("the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers are required", 401)
    key = credentials.platform_keys.get(serial)
    if key is None:
        raise NotificationRefused(f"no platform certificate {serial} is configured for this merchant", 401)
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise NotificationRefused("Wechatpay-Timestamp is more than 5 minutes off: a stale or replayed message", 401)
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(
            raw, timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n", padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError) as error:
        raise NotificationRefused("the signature does not verify with the platform certificate", 401) from error


def decrypt_resource(credentials: WechatCredentials, resource: dict[str, Any]) -> dict[str, Any]:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationRefused("resource.algorithm must be AEAD_AES_256_GCM")
    try:
        plain = AESGCM(credentials.apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"]), validate=True),
            str(resource.get("associated_data") or "").encode() or None,
        )
        decoded: dict[str, Any] = json.loads(plain)
    except (KeyError, ValueError, InvalidTag) as error:
        raise NotificationRefused("the resource does not decrypt with the APIv3 key") from error
    return decoded


def payment_of(credentials: WechatCredentials, transaction: dict[str, Any]) -> ProviderPayment:
    """The payment a transaction object (notification or order query) reports."""
    try:
        amount = transaction["amount"]
        total = amount["total"]
        if not isinstance(total, int) or isinstance(total, bool):
            raise ValueError("amount.total is not an integer of fen")
        paid = transaction.get("trade_state") == "SUCCESS"
        success_time = transaction.get("success_time")
        paid_at = datetime.fromisoformat(success_time) if paid and success_time else datetime.now(BUSINESS_TZ)
        if paid_at.tzinfo is None:  # the API states Beijing time with its offset; without one, it is Beijing's
            paid_at = paid_at.replace(tzinfo=BUSINESS_TZ)
        mchid, appid = str(transaction.get("mchid", "")), str(transaction.get("appid", ""))
        return ProviderPayment(
            provider=Provider.wechat,
            out_trade_no=str(transaction["out_trade_no"]),
            transaction_id=str(transaction.get("transaction_id") or ""),
            paid=paid,
            amount_fen=total,
            currency=str(amount.get("currency") or "CNY"),
            merchant=mchid,
            merchant_matches=mchid == credentials.mchid and appid == credentials.appid,
            paid_at=paid_at,
            detail=transaction,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise NotificationRefused(f"the transaction lacks what a payment needs: {error}") from error


class WechatPay:
    name = Provider.wechat

    def __init__(self, credentials: WechatCredentials, api_base: str) -> None:
        self.credentials = credentials
        self.api_base = api_base.rstrip("/")

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = {
            "Authorization": authorization(self.credentials, method, path, text),
            "Accept": "application/json",
            "User-Agent": "feesvc",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.request(method, self.api_base + path, content=text.encode(), headers=headers)
        except httpx.HTTPError as error:
            raise ProviderError(
                f"WeChat Pay did not answer ({error.__class__.__name__}); send the request again"
            ) from error
        if response.status_code >= 500:
            raise ProviderError(f"WeChat Pay answered {response.status_code}; send the request again")
        return response

    def _verified_json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            verify_signed(self.credentials, dict(response.headers), response.content, time.time())
        except NotificationRefused as refused:
            raise ProviderError(f"WeChat Pay's answer is not signed by its platform: {refused.reason}") from refused
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    async def create(self, order: OrderRequest) -> str | None:
        body: dict[str, Any] = {
            "appid": self.credentials.appid,
            "mchid": self.credentials.mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "time_expire": order.expires_at.astimezone(BUSINESS_TZ).isoformat(timespec="seconds"),
            "notify_url": order.notify_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        if order.channel is PayChannel.jsapi:
            body["payer"] = {"openid": order.payer_openid}
        path = f"/v3/pay/transactions/{order.channel.value}"
        response = await self._call("POST", path, body)
        answer = self._verified_json(response)
        if response.status_code != 200:
            raise ProviderError(f"WeChat Pay refused the order: {answer.get('code')} {answer.get('message')}")
        key = "prepay_id" if order.channel is PayChannel.jsapi else "code_url"
        if not isinstance(answer.get(key), str):
            raise ProviderError(f"WeChat Pay's answer has no {key}")
        return str(answer[key])

    def payer_action(self, order: OrderRequest, provider_ref: str | None) -> dict[str, Any]:
        if provider_ref is None:
            return {}
        if order.channel is PayChannel.native:
            return {"code_url": provider_ref}
        # JSAPI: what WeixinJSBridge.invoke('getBrandWCPayRequest', …) takes, signed by the merchant.
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={provider_ref}"
        pay_sign = sign(self.credentials, f"{self.credentials.appid}\n{timestamp}\n{nonce}\n{package}\n")
        return {
            "jsapi": {
                "appId": self.credentials.appid,
                "timeStamp": timestamp,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": pay_sign,
            }
        }

    def verify(self, headers: dict[str, str], body: bytes) -> ProviderPayment:
        verify_signed(self.credentials, headers, body, time.time())
        try:
            notification = json.loads(body)
            resource = notification["resource"]
        except (ValueError, KeyError, TypeError) as error:
            raise NotificationRefused("the body is not a WeChat Pay notification") from error
        if not isinstance(resource, dict):
            raise NotificationRefused("the notification's resource is not an object")
        return payment_of(self.credentials, decrypt_resource(self.credentials, resource))

    async def close(self, out_trade_no: str) -> CloseResult:
        mchid = self.credentials.mchid
        query = await self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}")
        if query.status_code == 200:
            try:
                payment = payment_of(self.credentials, self._verified_json(query))
            except NotificationRefused as refused:
                raise ProviderError(f"WeChat Pay's order query is not a transaction: {refused.reason}") from refused
            if payment.paid:
                return CloseResult(closed=False, paid=payment)
            if payment.detail.get("trade_state") in ("CLOSED", "REVOKED", "PAYERROR"):
                return CloseResult(closed=True)
        elif query.status_code != 404:  # 404 ORDER_NOT_EXIST: never placed, nothing to pay
            raise ProviderError(f"WeChat Pay's order query answered {query.status_code}")
        else:
            return CloseResult(closed=True)
        close = await self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": mchid})
        if close.status_code == 204:
            return CloseResult(closed=True)
        raise ProviderError(f"WeChat Pay did not close order {out_trade_no}: answered {close.status_code}")

    async def download_bill(self, day: date) -> bytes:
        response = await self._call("GET", f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL")
        answer = self._verified_json(response)
        if response.status_code != 200 or not isinstance(answer.get("download_url"), str):
            raise ProviderError(f"WeChat Pay has no trade bill for {day}: {answer.get('code')} {answer.get('message')}")
        url = urlsplit(answer["download_url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        # The file's answer carries no signature (the API says so): its SHA1 from the signed answer checks it.
        content = (await self._call("GET", path)).content
        if hashlib.sha1(content).hexdigest() != str(answer.get("hash_value", "")).lower():
            raise ProviderError("the downloaded trade bill does not match its SHA1 hash; download it again")
        return content

    def answer(self, refused: NotificationRefused | None) -> tuple[int, str, bytes]:
        if refused is None:
            return 204, "application/json", b""
        body = json.dumps({"code": "FAIL", "message": refused.reason}, ensure_ascii=False).encode()
        return refused.status_code, "application/json", body
