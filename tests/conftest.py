"""Test database and API client.

The suite runs against ``FEESVC_TEST_DATABASE_URL`` (default: a fresh SQLite file). On PostgreSQL
the run makes a database of its own on that server (``tests/databases.py``), builds it through the
migrations and drops it at the end. Tests never
clean up (the ledger refuses deletes): each test makes its own estate, so tests stay independent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.app import create_app
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.db import Database, create_engine, session_factory
from feesvc.migrate import upgrade
from feesvc.settings import DatabaseSettings, ServerSettings, Settings
from tests.browser_support import served_app
from tests.databases import fresh_postgres_database
from tests.support import Api


def _in_thread(work: Callable[[], Any]) -> None:
    """Run blocking setup (Alembic runs its own event loop) away from the test loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller, re-raised there
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("FEESVC_TEST_DATABASE_URL")
    if not server or DatabaseSettings(url=server).is_sqlite:
        url = server or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        _in_thread(lambda: upgrade(url))
        yield url
        return
    with fresh_postgres_database(server, "test") as url:
        _in_thread(lambda: upgrade(url))
        yield url


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return not DatabaseSettings(url=database_url).is_sqlite


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    files = tmp_path_factory.mktemp("files")
    return Settings(database=DatabaseSettings(url=database_url), server=ServerSettings(files_dir=str(files)))


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    engine = create_engine(settings.database)
    yield Database(engine, session_factory(engine))
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(database: Database) -> async_sessionmaker[AsyncSession]:
    return database.sessions


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        yield c


@pytest.fixture(scope="session")
async def tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[Role, str]:
    made = {}
    async with sessions() as s:
        for role in (Role.manager, Role.cashier, Role.system):
            made[role], _ = await create_token(s, COMMAND_LINE, role, f"test-{role.value}")
    return made


@pytest.fixture
def api(client: AsyncTestClient[Litestar], tokens: dict[Role, str], sessions: async_sessionmaker[AsyncSession]) -> Api:
    return Api(client, tokens, sessions)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start the app over HTTP for a browser: ``serve(env, public_address=False)`` gives its base URL
    (``tests/browser_support.served_app``); every server started is stopped after the test."""
    with ExitStack() as servers:

        def start(env: Mapping[str, str], public_address: bool = False) -> str:
            return servers.enter_context(served_app(env, public_address))

        yield start
