"""The sign-in rules, as plain functions over values: lifetimes, limits, phones, codes, windows."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(days=30)
CODE_LIFETIME = timedelta(minutes=5)
INVITATION_LIFETIME = timedelta(days=7)
# A manager's invitation sent again within this time is the same invitation (a retried request).
INVITATION_RETRY_WINDOW = timedelta(minutes=10)
CODE_DIGITS = 6
# Wrong guesses a code takes before it is dead. With the per-phone limit on codes below, an
# attacker gets at most 5 × 5 guesses an hour at one phone: 25 in 1,000,000.
CODE_ATTEMPTS = 5

REFRESH_PREFIX = "fsr_"
INVITATION_PREFIX = "fsi_"


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts of one kind per key in each fixed window of ``window_seconds``."""

    kind: str
    count: int
    window_seconds: int


CODES_PER_PHONE = Limit("code-phone", 5, 3600)
CODES_PER_ADDRESS = Limit("code-address", 20, 3600)
SIGN_INS_PER_PHONE = Limit("sign-in-phone", 10, 3600)
SIGN_INS_PER_ADDRESS = Limit("sign-in-address", 30, 3600)


def normalize_phone(phone: str) -> str:
    """The digits of a mainland phone as owners type it: separators and a +86 / 0086 prefix dropped."""
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix) :]
    return digits


def can_sign_in(phone: str) -> bool:
    """Whether an owner with ``phone`` on record can sign in: codes and invitations go by SMS to a
    mainland mobile number."""
    digits = normalize_phone(phone)
    return len(digits) == 11 and digits.startswith("1")


def phone_hash(phone: str) -> str:
    """What the code and rate-limit tables keep instead of the number."""
    return hashlib.sha256(("phone:" + normalize_phone(phone)).encode()).hexdigest()


def address_hash(address: str) -> str:
    return hashlib.sha256(("address:" + address).encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def code_hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def code_matches(code: str, salt: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(code, salt), stored_hash)


def is_code_shaped(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def new_secret(prefix: str) -> str:
    """A 256-bit secret (refresh token, invitation): too long to guess, so a plain hash stores it."""
    return prefix + secrets.token_urlsafe(32)


def window_start(now: datetime, limit: Limit) -> int:
    """The start, in epoch seconds, of the window ``now`` falls in."""
    epoch = int(now.timestamp())
    return epoch - epoch % limit.window_seconds


def retry_after_seconds(now: datetime, limit: Limit) -> int:
    """Seconds until the window ``now`` falls in ends (at least 1)."""
    return max(1, window_start(now, limit) + limit.window_seconds - int(now.timestamp()))


def is_live(expires_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    return used_at is None and now < expires_at
