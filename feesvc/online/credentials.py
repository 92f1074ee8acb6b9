"""Each estate's provider credentials, from a secrets file (TOML or JSON, path in the settings) or
the same structure as JSON in the settings. Never in the database.

    [estates.12.wechat]                  # estate id 12
    appid = "wx8888888888888888"
    mchid = "1900000001"
    serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"   # the merchant certificate's serial
    private_key_path = "/etc/feesvc/12/apiclient_key.pem"
    apiv3_key = "…32 characters…"
    platform_certificate_path = "/etc/feesvc/12/wechatpay_cert.pem"

    [estates.12.alipay]
    app_id = "2021000000000000"
    seller_id = "2088000000000000"       # optional: checked against notifications when given
    app_private_key_path = "/etc/feesvc/12/alipay_app_key.pem"
    alipay_public_key_path = "/etc/feesvc/12/alipay_public_key.pem"

Keys may also be given inline (``private_key``, ``app_private_key``, ``alipay_public_key``,
``platform_certificate``: PEM text). The file is read again when it changes, so keys rotate without
a restart.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from feesvc.online.models import Provider
from feesvc.settings import OnlineSettings, Settings

log = logging.getLogger("feesvc.online")


class CredentialsError(Exception):
    """The secrets are unreadable or incomplete; the message names the estate and the field."""


@dataclass(frozen=True)
class WechatCredentials:
    appid: str
    mchid: str
    serial_no: str
    private_key: RSAPrivateKey
    apiv3_key: bytes  # 32 bytes: the AEAD_AES_256_GCM key of notifications
    # The platform certificates' public keys by serial (Wechatpay-Serial names the one that signed).
    platform_keys: dict[str, RSAPublicKey]


@dataclass(frozen=True)
class AlipayCredentials:
    app_id: str
    seller_id: str
    app_private_key: RSAPrivateKey
    alipay_public_key: RSAPublicKey


@dataclass(frozen=True)
class EstateCredentials:
    wechat: WechatCredentials | None
    alipay: AlipayCredentials | None

    def providers(self) -> list[Provider]:
        return [p for p, c in ((Provider.wechat, self.wechat), (Provider.alipay, self.alipay)) if c is not None]


_cache: dict[tuple[Any, ...], dict[int, EstateCredentials]] = {}


def estate_credentials(estate_id: int, settings: Settings | OnlineSettings) -> EstateCredentials | None:
    """The estate's credentials, or None when it has none (online payment not set up)."""
    return all_credentials(settings).get(estate_id)


def online_payment_enabled(estate_id: int, settings: Settings | OnlineSettings) -> bool:
    """Whether the estate has online payment set up: credentials for at least one provider. Secrets
    that cannot be read set up nothing (logged: a letter must not offer a link that cannot work)."""
    try:
        found = estate_credentials(estate_id, settings)
    except CredentialsError as error:
        log.warning("online payment is off for estate %s: %s", estate_id, error)
        return False
    return found is not None and bool(found.providers())


def all_credentials(settings: Settings | OnlineSettings) -> dict[int, EstateCredentials]:
    online = settings.online if isinstance(settings, Settings) else settings
    key: tuple[Any, ...] = (online.secrets_file, online.credentials_json)
    if online.secrets_file:
        try:
            stat = os.stat(online.secrets_file)
        except OSError as error:
            raise CredentialsError(f"the online payment secrets file cannot be read: {error}") from error
        key += (stat.st_mtime_ns, stat.st_size)
    found = _cache.get(key)
    if found is None:
        found = _load(online)
        _cache.clear()  # one version at a time: a rotated file replaces the old keys
        _cache[key] = found
    return found


def _load(online: OnlineSettings) -> dict[int, EstateCredentials]:
    raw: dict[str, Any] = {}
    base = Path(".")
    if online.secrets_file:
        path = Path(online.secrets_file)
        base = path.parent
        text = path.read_text(encoding="utf-8")
        try:
            raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as error:
            raise CredentialsError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {error}") from error
    elif online.credentials_json:
        try:
            raw = json.loads(online.credentials_json)
        except ValueError as error:
            raise CredentialsError(f"FEESVC_ONLINE_CREDENTIALS is not valid JSON: {error}") from error
    estates = raw.get("estates", {})
    if not isinstance(estates, dict):
        raise CredentialsError("the online payment secrets need an [estates] table keyed by estate id")
    loaded: dict[int, EstateCredentials] = {}
    for estate_key, entry in estates.items():
        if not str(estate_key).isdigit() or not isinstance(entry, dict):
            raise CredentialsError(f"estates.{estate_key}: key the credentials by the estate's numeric id")
        where = f"estates.{estate_key}"
        wechat = _wechat(entry["wechat"], f"{where}.wechat", base) if "wechat" in entry else None
        alipay = _alipay(entry["alipay"], f"{where}.alipay", base) if "alipay" in entry else None
        loaded[int(estate_key)] = EstateCredentials(wechat, alipay)
    return loaded


def _text(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"{where}.{name} is missing")
    return value.strip()


def _pem(entry: dict[str, Any], name: str, where: str, base: Path) -> bytes:
    """Inline PEM (``name``) or a file (``name_path``, relative to the secrets file)."""
    if isinstance(entry.get(name), str):
        return str(entry[name]).encode()
    path = Path(_text(entry, f"{name}_path", where))
    try:
        return (path if path.is_absolute() else base / path).read_bytes()
    except OSError as error:
        raise CredentialsError(f"{where}.{name}_path cannot be read: {error}") from error


def _private_key(pem: bytes, where: str) -> RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as error:
        raise CredentialsError(f"{where}: not a PEM private key") from error
    if not isinstance(key, RSAPrivateKey):
        raise CredentialsError(f"{where}: the providers sign with RSA (SHA256withRSA): an RSA key is needed")
    return key


def _public_key(pem: bytes, where: str) -> RSAPublicKey:
    """A PEM public key, or Alipay's bare base64 one as its console shows it."""
    text = pem.strip()
    if not text.startswith(b"-----"):
        text = b"-----BEGIN PUBLIC KEY-----\n" + text + b"\n-----END PUBLIC KEY-----\n"
    try:
        key = serialization.load_pem_public_key(text)
    except ValueError as error:
        raise CredentialsError(f"{where}: not a PEM public key") from error
    if not isinstance(key, RSAPublicKey):
        raise CredentialsError(f"{where}: an RSA public key is needed")
    return key


def _wechat(entry: dict[str, Any], where: str, base: Path) -> WechatCredentials:
    apiv3_key = _text(entry, "apiv3_key", where).encode()
    if len(apiv3_key) != 32:
        raise CredentialsError(f"{where}.apiv3_key must be the 32-character APIv3 key")
    certificate = _pem(entry, "platform_certificate", where, base)
    try:
        certificates = x509.load_pem_x509_certificates(certificate)
    except ValueError as error:
        raise CredentialsError(f"{where}.platform_certificate: not a PEM X.509 certificate") from error
    platform_keys: dict[str, RSAPublicKey] = {}
    for cert in certificates:
        key = cert.public_key()
        if not isinstance(key, RSAPublicKey):
            raise CredentialsError(f"{where}.platform_certificate: an RSA certificate is needed")
        platform_keys[f"{cert.serial_number:X}"] = key
    return WechatCredentials(
        appid=_text(entry, "appid", where),
        mchid=_text(entry, "mchid", where),
        serial_no=_text(entry, "serial_no", where).upper(),
        private_key=_private_key(_pem(entry, "private_key", where, base), f"{where}.private_key"),
        apiv3_key=apiv3_key,
        platform_keys=platform_keys,
    )


def _alipay(entry: dict[str, Any], where: str, base: Path) -> AlipayCredentials:
    return AlipayCredentials(
        app_id=_text(entry, "app_id", where),
        seller_id=str(entry.get("seller_id") or "").strip(),
        app_private_key=_private_key(_pem(entry, "app_private_key", where, base), f"{where}.app_private_key"),
        alipay_public_key=_public_key(_pem(entry, "alipay_public_key", where, base), f"{where}.alipay_public_key"),
    )
