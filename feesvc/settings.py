"""Settings, read once from the environment.

One setting picks the database: ``FEESVC_DATABASE_URL``. It takes the URLs people already
write (``sqlite:///path/feesvc.db``, ``postgresql://user@host:5432/db``); the driver is ours
to choose, so the URL is normalised here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.engine import URL, make_url

DEFAULT_DATABASE_URL = "sqlite:///feesvc.db"

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_database_url(raw: str) -> URL:
    """The async-driver URL for a plain database URL (``postgres://`` and explicit drivers too)."""
    url = make_url(raw)
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"FEESVC_DATABASE_URL: unsupported database {backend!r} (use sqlite or postgresql)")
    return url.set(drivername=_ASYNC_DRIVERS[backend])


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = DEFAULT_DATABASE_URL
    pool_size: int = 20
    max_overflow: int = 20
    echo: bool = False

    @property
    def async_url(self) -> URL:
        return async_database_url(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_url.get_backend_name() == "sqlite"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 64 * 1024
    # Where generated letters, receipts and delivery proofs are kept.
    files_dir: str = "var/files"
    public_base_url: str = "http://127.0.0.1:8000"
    # Signs the owner pages' CSRF tokens; empty: one made once and kept in files_dir (feesvc.signin.pages).
    csrf_secret: str = ""


@dataclass(frozen=True)
class MailSettings:
    """SMTP for e-mailed reminders; without a host, e-mail waits in the outbox."""

    host: str = ""
    port: int = 25
    sender: str = "feesvc@localhost"
    username: str = ""
    password: str = ""
    starttls: bool = False


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    business_timezone: str = "Asia/Shanghai"
    # A TOML file of banks' CSV column mappings, beside the built-in ones (feesvc.banking.mappings).
    bank_mappings_file: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database=DatabaseSettings(
                url=env.get("FEESVC_DATABASE_URL", DEFAULT_DATABASE_URL),
                pool_size=int(env.get("FEESVC_DB_POOL_SIZE", "20")),
                max_overflow=int(env.get("FEESVC_DB_MAX_OVERFLOW", "20")),
                echo=env.get("FEESVC_DB_ECHO", "") == "1",
            ),
            server=ServerSettings(
                host=env.get("FEESVC_HOST", "127.0.0.1"),
                port=int(env.get("FEESVC_PORT", "8000")),
                workers=int(env.get("FEESVC_WORKERS", "1")),
                max_body_bytes=int(env.get("FEESVC_MAX_BODY_BYTES", str(64 * 1024))),
                files_dir=env.get("FEESVC_FILES_DIR", "var/files"),
                public_base_url=env.get("FEESVC_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
                csrf_secret=env.get("FEESVC_CSRF_SECRET", ""),
            ),
            bank_mappings_file=env.get("FEESVC_BANK_MAPPINGS", ""),
            mail=MailSettings(
                host=env.get("FEESVC_SMTP_HOST", ""),
                port=int(env.get("FEESVC_SMTP_PORT", "25")),
                sender=env.get("FEESVC_SMTP_FROM", "feesvc@localhost"),
                username=env.get("FEESVC_SMTP_USER", ""),
                password=env.get("FEESVC_SMTP_PASSWORD", ""),
                starttls=env.get("FEESVC_SMTP_STARTTLS", "") == "1",
            ),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
