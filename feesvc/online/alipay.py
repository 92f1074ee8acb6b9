"""Alipay (支付宝开放平台): computer- and mobile-website pay, notifications, closing, the account bill.

The protocol (opendocs.alipay.com, "签名", "异步通知验签", "alipay.trade.page.pay", "alipay.trade.wap.pay"):

* A request's parameters, ``sign`` and empty values left out, sorted by name and joined as
  ``k=v&k=v``, are signed SHA256withRSA (RSA2) with the app's private key, base64.
* The page pay URL is the gateway with the signed parameters: no call is made until the payer opens it.
* An asynchronous notification is a form POST; its parameters less ``sign`` and ``sign_type``,
  sorted and joined the same way, verify RSA2 with the Alipay public key. Answer the seven characters
  ``success`` when taken; anything else and Alipay sends it again (8 times in 25 hours).
* An API answer's signature covers the exact JSON text of its ``…_response`` member.

``cryptography`` does the RSA; the SDKs (python-alipay-sdk, alipay-sdk-python) make synchronous
calls to a fixed gateway, so they are not used.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from feesvc.db import BUSINESS_TZ
from feesvc.online.credentials import AlipayCredentials
from feesvc.online.models import PayChannel, Provider
from feesvc.online.provider import (
    CloseResult,
    NotificationRefused,
    OrderRequest,
    ProviderError,
    ProviderPayment,
    fen_to_yuan,
    yuan_to_fen,
)

TIMEOUT = httpx.Timeout(10.0)
PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
PRODUCT = {
    PayChannel.page: ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    PayChannel.wap: ("alipay.trade.wap.pay", "QUICK_WAP_WAY"),
}
_TIME = "%Y-%m-%d %H:%M:%S"


def signing_text(params: dict[str, str], leave_out: tuple[str, ...]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in leave_out)


def rsa2_sign(credentials: AlipayCredentials, text: str) -> str:
    signature = credentials.app_private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa2_verifies(key: RSAPublicKey, text: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), text, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_params(credentials: AlipayCredentials, method: str, biz: dict[str, Any], **extra: str) -> dict[str, str]:
    """The common request parameters with ``biz_content`` and the RSA2 signature."""
    params = {
        "app_id": credentials.app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": datetime.now(BUSINESS_TZ).strftime(_TIME),
        "version": "1.0",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        **{k: v for k, v in extra.items() if v},
    }
    params["sign"] = rsa2_sign(credentials, signing_text({k: v for k, v in params.items() if v}, ("sign",)))
    return params


def response_member(text: str, name: str) -> tuple[dict[str, Any], str, str]:
    """An API answer's ``name`` member, its exact JSON text (what the signature covers) and the signature."""
    marker = f'"{name}":'
    start = text.find(marker)
    if start < 0:
        raise ProviderError(f"Alipay's answer has no {name}")
    start += len(marker)
    while text[start] in " \t\r\n":
        start += 1
    member, end = json.JSONDecoder().raw_decode(text, start)
    sign = json.loads(text).get("sign", "")
    return member, text[start:end], str(sign)


class Alipay:
    name = Provider.alipay

    def __init__(self, credentials: AlipayCredentials, gateway: str) -> None:
        self.credentials = credentials
        self.gateway = gateway

    def pay_url(self, order: OrderRequest) -> str:
        method, product = PRODUCT[order.channel]
        biz = {
            "out_trade_no": order.out_trade_no,
            "total_amount": fen_to_yuan(order.amount_fen),
            "subject": order.description,
            "product_code": product,
            "time_expire": order.expires_at.astimezone(BUSINESS_TZ).strftime(_TIME),
        }
        params = signed_params(
            self.credentials, method, biz, notify_url=order.notify_url, return_url=order.return_url or ""
        )
        return f"{self.gateway}?{urlencode(params)}"

    async def create(self, order: OrderRequest) -> str | None:
        return None  # page and WAP pay are placed when the payer opens the signed URL

    def payer_action(self, order: OrderRequest, provider_ref: str | None) -> dict[str, Any]:
        return {"pay_url": self.pay_url(order)}

    def verify(self, headers: dict[str, str], body: bytes) -> ProviderPayment:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as error:
            raise NotificationRefused("the body is not a form of UTF-8 parameters") from error
        params = dict(pairs)
        if len(params) != len(pairs):
            raise NotificationRefused("a parameter is given twice")
        if params.get("sign_type") != "RSA2" or not params.get("sign"):
            raise NotificationRefused("the notification must be signed RSA2 (sign_type, sign)")
        text = signing_text(params, ("sign", "sign_type")).encode()
        if not rsa2_verifies(self.credentials.alipay_public_key, text, params["sign"]):
            raise NotificationRefused("the signature does not verify with the Alipay public key", 401)
        return self.payment_of(params)

    def payment_of(self, params: dict[str, str]) -> ProviderPayment:
        try:
            amount = yuan_to_fen(params["total_amount"], "total_amount")
            paid = params.get("trade_status") in PAID
            stamp = params.get("gmt_payment") or params.get("notify_time") or params.get("send_pay_date") or ""
            paid_at = datetime.strptime(stamp, _TIME).replace(tzinfo=BUSINESS_TZ)
            out_trade_no, trade_no = params["out_trade_no"], params["trade_no"]
        except (KeyError, ValueError) as error:
            raise NotificationRefused(f"the notification lacks what a payment needs: {error}") from error
        app_id, seller_id = params.get("app_id", ""), params.get("seller_id", "")
        matches = app_id == self.credentials.app_id and (
            not self.credentials.seller_id or seller_id == self.credentials.seller_id
        )
        detail = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
        return ProviderPayment(
            provider=Provider.alipay,
            out_trade_no=out_trade_no,
            transaction_id=trade_no,
            paid=paid,
            amount_fen=amount,
            currency=params.get("trans_currency") or "CNY",
            merchant=f"{app_id}/{seller_id}" if seller_id else app_id,
            merchant_matches=matches,
            paid_at=paid_at,
            detail=detail,
        )

    async def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        params = signed_params(self.credentials, method, biz)
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.post(self.gateway, data=params)
        except httpx.HTTPError as error:
            raise ProviderError(f"Alipay did not answer ({error.__class__.__name__}); try again") from error
        if response.status_code != 200:
            raise ProviderError(f"Alipay answered {response.status_code}; try again")
        member, exact, sign = response_member(response.text, method.replace(".", "_") + "_response")
        # An error answer about the call itself (bad app_id, bad signature) may come unsigned.
        if sign and not rsa2_verifies(self.credentials.alipay_public_key, exact.encode(), sign):
            raise ProviderError("Alipay's answer does not verify with the Alipay public key")
        if not sign and member.get("code") == "10000":
            raise ProviderError("Alipay's answer is not signed")
        return member

    async def close(self, out_trade_no: str) -> CloseResult:
        query = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if query.get("code") == "10000":
            status = query.get("trade_status")
            if status in PAID:
                payment = self.payment_of(
                    {**query, "app_id": self.credentials.app_id, "seller_id": self.credentials.seller_id}
                )
                return CloseResult(closed=False, paid=payment)
            if status == "TRADE_CLOSED":
                return CloseResult(closed=True)
        elif query.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            # Never opened: Alipay has no trade, and the signed URL lapses at time_expire.
            return CloseResult(closed=True)
        close = await self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        if close.get("code") == "10000" or close.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return CloseResult(closed=True)
        raise ProviderError(
            f"Alipay did not close order {out_trade_no}: {close.get('sub_code')} {close.get('sub_msg')}"
        )

    async def download_bill(self, day: date) -> bytes:
        answer = await self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "signcustomer", "bill_date": day.isoformat()},
        )
        url = answer.get("bill_download_url")
        if answer.get("code") != "10000" or not isinstance(url, str):
            raise ProviderError(
                f"Alipay has no account bill for {day}: {answer.get('sub_code')} {answer.get('sub_msg')}"
            )
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                response = await http.get(url)
        except httpx.HTTPError as error:
            raise ProviderError(f"Alipay's bill download did not answer ({error.__class__.__name__})") from error
        if response.status_code != 200:
            raise ProviderError(f"Alipay's bill download answered {response.status_code}")
        return response.content

    def answer(self, refused: NotificationRefused | None) -> tuple[int, str, bytes]:
        if refused is None:
            return 200, "text/plain", b"success"
        return refused.status_code, "text/plain", b"fail"
