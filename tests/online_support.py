"""Online payment in tests: keys and certificates made here in the providers' formats, signed and
encrypted notifications, and a local HTTP server that answers as WeChat Pay's API and Alipay's gateway
do (it checks our signatures and signs its answers with the platform keys made here).

* WeChat Pay: the merchant's RSA 2048 key (apiclient_key.pem) with a certificate serial, the
  platform's RSA 2048 key and its self-signed X.509 certificate (wechatpay_cert.pem), a 32-character
  APIv3 key; notifications carry the transaction as AEAD_AES_256_GCM ciphertext and the platform's
  SHA256withRSA signature over ``timestamp\\nnonce\\nbody\\n``.
* Alipay: the app's RSA 2048 key pair and Alipay's, as PEM; notifications are forms signed RSA2.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the providers state times in Beijing time


def _key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_private(key: RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_public(key: RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _self_signed(key: RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def _sign(key: RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def _verifies(key: RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Keys:
    """One merchant's keys for both providers, written as the files the secrets name."""

    merchant: RSAPrivateKey = field(default_factory=_key)
    merchant_serial: str = field(default_factory=lambda: secrets.token_hex(20).upper())
    platform: RSAPrivateKey = field(default_factory=_key)
    apiv3_key: str = field(default_factory=lambda: secrets.token_hex(16))  # 32 characters
    alipay_app: RSAPrivateKey = field(default_factory=_key)
    alipay: RSAPrivateKey = field(default_factory=_key)
    mchid: str = "1900000109"
    appid: str = "wx8888888888888888"
    app_id: str = "2021000000000001"
    seller_id: str = "2088000000000001"

    def __post_init__(self) -> None:
        self.certificate = _self_signed(self.platform, "Tenpay.com Root CA (test)")
        self.platform_serial = f"{self.certificate.serial_number:X}"

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "apiclient_key.pem").write_bytes(_pem_private(self.merchant))
        (folder / "wechatpay_cert.pem").write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        (folder / "alipay_app_key.pem").write_bytes(_pem_private(self.alipay_app))
        # Alipay's console shows its public key as bare base64: written so, as an operator pastes it.
        bare = b"".join(_pem_public(self.alipay.public_key()).splitlines()[1:-1])
        (folder / "alipay_public_key.txt").write_bytes(bare)

    def secrets_toml(self, estate_id: int, folder: Path) -> str:
        return f"""
[estates.{estate_id}.wechat]
appid = "{self.appid}"
mchid = "{self.mchid}"
serial_no = "{self.merchant_serial}"
private_key_path = "{folder / "apiclient_key.pem"}"
apiv3_key = "{self.apiv3_key}"
platform_certificate_path = "{folder / "wechatpay_cert.pem"}"

[estates.{estate_id}.alipay]
app_id = "{self.app_id}"
seller_id = "{self.seller_id}"
app_private_key_path = "{folder / "alipay_app_key.pem"}"
alipay_public_key_path = "{folder / "alipay_public_key.txt"}"
"""

    # --- WeChat Pay ---------------------------------------------------------------------------

    def wechat_signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp, nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        signature = _sign(self.platform, f"{stamp}\n{nonce}\n".encode() + body + b"\n")
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Content-Type": "application/json",
        }

    def transaction(self, out_trade_no: str, amount_fen: int, **changes: Any) -> dict[str, Any]:
        """A paid transaction as WeChat Pay's notification resource holds it."""
        paid = datetime.now(SHANGHAI).isoformat(timespec="seconds")
        transaction = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": "42000" + secrets.token_hex(12),
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": paid,
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
        }
        transaction.update(changes)
        return transaction

    def wechat_notification(self, transaction: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body WeChat Pay sends for a transaction."""
        nonce, associated = secrets.token_hex(6), "transaction"
        plain = json.dumps(transaction, ensure_ascii=False).encode()
        ciphertext = AESGCM(self.apiv3_key.encode()).encrypt(nonce.encode(), plain, associated.encode())
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": transaction["success_time"],
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        ).encode()
        return self.wechat_signed_headers(body), body

    # --- Alipay -------------------------------------------------------------------------------

    def alipay_params(self, out_trade_no: str, amount_yuan: str, **changes: str) -> dict[str, str]:
        now = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": "2026" + secrets.token_hex(12),
            "out_trade_no": out_trade_no,
            "buyer_id": "2088102116773037",
            "seller_id": self.seller_id,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": amount_yuan,
            "receipt_amount": amount_yuan,
            "subject": "物业费",
            "gmt_create": now,
            "gmt_payment": now,
        }
        params.update(changes)
        return params

    def alipay_notification(self, params: dict[str, str]) -> bytes:
        """The form body Alipay posts: the parameters with sign_type and the RSA2 signature."""
        text = "&".join(f"{k}={params[k]}" for k in sorted(params))
        signed = {**params, "sign_type": "RSA2", "sign": _sign(self.alipay, text.encode())}
        return urlencode(signed).encode()


@dataclass
class ProviderServer:
    """WeChat Pay's API and Alipay's gateway on 127.0.0.1, for the keys given. ``trades`` is what each
    provider knows of an order (out_trade_no → state), set by a test to say an order was paid."""

    keys: Keys
    trades: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    bill: bytes = b""  # the trade bill WeChat Pay's download gives
    bill_served: bytes | None = None  # a test's other file served under the bill's hash

    def __enter__(self) -> ProviderServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._wechat(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/gateway.do"):
                    server._alipay(self, body)
                else:
                    server._wechat(self, body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _wechat(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.calls.append(f"{handler.command} {handler.path}")
        auth = handler.headers.get("Authorization", "")
        fields = dict(part.split("=", 1) for part in auth.removeprefix("WECHATPAY2-SHA256-RSA2048 ").split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        message = f"{handler.command}\n{handler.path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n".encode()
        if not _verifies(self.keys.merchant.public_key(), message + body + b"\n", fields.get("signature", "")):
            answer = json.dumps({"code": "SIGN_ERROR", "message": "签名错误"}).encode()
            self._send(handler, 401, answer, self.keys.wechat_signed_headers(answer))
            return
        path = urlsplit(handler.path).path
        if path == "/v3/bill/tradebill":
            answer = json.dumps(
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(self.bill).hexdigest(),
                    "download_url": f"{self.url}/v3/billdownload/file?token={secrets.token_hex(8)}",
                }
            ).encode()
            self._send(handler, 200, answer, self.keys.wechat_signed_headers(answer))
        elif path == "/v3/billdownload/file":  # the file's answer is not signed (WeChat Pay says so)
            served = self.bill if self.bill_served is None else self.bill_served
            self._send(handler, 200, served, {"Content-Type": "text/plain;charset=utf-8"})
        elif path.startswith("/v3/pay/transactions/") and path.endswith(("/native", "/jsapi")):
            order = json.loads(body)
            self.trades.setdefault(order["out_trade_no"], {"state": "NOTPAY", "order": order})
            key = "code_url" if path.endswith("/native") else "prepay_id"
            value = (
                f"weixin://wxpay/bizpayurl?pr={order['out_trade_no'][-8:]}"
                if key == "code_url"
                else "wx" + order["out_trade_no"]
            )
            answer = json.dumps({key: value}).encode()
            self._send(handler, 200, answer, self.keys.wechat_signed_headers(answer))
        elif path.endswith("/close"):
            self.trades.setdefault(path.split("/")[-2], {})["state"] = "CLOSED"
            self._send(handler, 204, b"", {})
        elif path.startswith("/v3/pay/transactions/out-trade-no/"):
            no = path.rsplit("/", 1)[-1]
            trade = self.trades.get(no)
            if trade is None:
                answer = json.dumps({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}).encode()
                self._send(handler, 404, answer, self.keys.wechat_signed_headers(answer))
                return
            amount = trade.get("order", {}).get("amount", {}).get("total", 0)
            transaction = self.keys.transaction(no, amount, trade_state=trade["state"], **trade.get("paid", {}))
            answer = json.dumps(transaction).encode()
            self._send(handler, 200, answer, self.keys.wechat_signed_headers(answer))
        else:
            self._send(handler, 404, b"{}", self.keys.wechat_signed_headers(b"{}"))

    def _alipay(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        params = dict(parse_qsl(body.decode()))
        self.calls.append(params.get("method", ""))
        text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k])
        if not _verifies(self.keys.alipay_app.public_key(), text.encode(), params.get("sign", "")):
            member: dict[str, Any] = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
        else:
            biz = json.loads(params["biz_content"])
            trade = self.trades.get(biz.get("out_trade_no", ""))
            if params["method"] == "alipay.trade.query":
                if trade is None:
                    member = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
                else:
                    member = {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"], **trade}
            elif params["method"] == "alipay.trade.close":
                if trade is not None:
                    trade["trade_status"] = "TRADE_CLOSED"
                member = {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"]}
            else:
                member = {"code": "40004", "msg": "Business Failed", "sub_code": "isv.unknown-method"}
        name = params.get("method", "alipay.unknown").replace(".", "_") + "_response"
        exact = json.dumps(member, ensure_ascii=False)
        answer = f'{{"{name}":{exact},"sign":"{_sign(self.keys.alipay, exact.encode())}"}}'.encode()
        self._send(handler, 200, answer, {"Content-Type": "application/json;charset=utf-8"})
