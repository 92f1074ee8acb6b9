"""Files every machine can reach: print files, issued letters, delivery proofs, evidence packs and
settlement certificates, kept behind one small interface (``FileStore``, ``feesvc.files.store``).

``FEESVC_FILE_STORE`` chooses the store: ``local`` (default) keeps files in the files directory
(``feesvc.files.local``); ``database`` keeps them in PostgreSQL (``feesvc.files.database``), where
every worker and server reaches them. ``database`` on SQLite is refused at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from feesvc.files.database import DatabaseFileStore
from feesvc.files.local import LocalFileStore
from feesvc.files.store import (
    CERTIFICATE_AREA,
    EVIDENCE_AREA,
    LETTER_AREA,
    PRINT_AREA,
    PROOF_AREA,
    FileStore,
    Opened,
    StoredFile,
    StoredFileError,
    read_all,
    sha256,
)
from feesvc.settings import Settings, get_settings

__all__ = [
    "CERTIFICATE_AREA",
    "EVIDENCE_AREA",
    "LETTER_AREA",
    "PRINT_AREA",
    "PROOF_AREA",
    "STORES",
    "FileStore",
    "FileStoreSettingError",
    "Opened",
    "StoredFile",
    "StoredFileError",
    "check_setting",
    "open_store",
    "read_all",
    "session_store",
    "sha256",
]

STORES: Final = ("local", "database")


class FileStoreSettingError(ValueError):
    """``FEESVC_FILE_STORE`` names no store, or one the database cannot hold."""


def check_setting(settings: Settings) -> None:
    """Refuse a file store the settings cannot have: the service does not start with it."""
    chosen = settings.server.file_store
    if chosen not in STORES:
        raise FileStoreSettingError(f"FEESVC_FILE_STORE={chosen!r}: choose local (the default) or database")
    if chosen == "database" and settings.database.is_sqlite:
        raise FileStoreSettingError(
            "FEESVC_FILE_STORE=database keeps files in PostgreSQL, but FEESVC_DATABASE_URL is SQLite: "
            "use FEESVC_FILE_STORE=local (files in FEESVC_FILES_DIR) or a PostgreSQL database"
        )


def open_store(settings: Settings, engine: AsyncEngine) -> FileStore:
    """The store the settings choose, on the service's engine."""
    check_setting(settings)
    if settings.server.file_store == "database":
        return DatabaseFileStore(engine)
    return LocalFileStore(Path(settings.server.files_dir))


def session_store(session: AsyncSession, settings: Settings | None = None) -> FileStore:
    """The store for work given only a session (the command line, a caller that names none)."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "feesvc's sessions are bound to its engine"
    return open_store(settings or get_settings(), engine)
