"""Issue 21, item 4: ``FEESVC_FILE_STORE`` chooses the file store; one it cannot have is refused
at start-up with a sentence saying what to set, never at the first file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from feesvc.app import create_app
from feesvc.cli import cli
from feesvc.db import Database
from feesvc.files import FileStoreSettingError, check_setting, open_store
from feesvc.files.database import DatabaseFileStore
from feesvc.files.local import LocalFileStore
from feesvc.settings import DatabaseSettings, ServerSettings, Settings, get_settings

SQLITE = "sqlite:///feesvc.db"


def with_store(url: str, store: str, files_dir: str = "var/files") -> Settings:
    return Settings(database=DatabaseSettings(url=url), server=ServerSettings(files_dir=files_dir, file_store=store))


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()  # the command must read the environment the test gives it
    yield
    get_settings.cache_clear()


def test_the_setting_is_read_from_the_environment_and_local_is_the_default() -> None:
    assert Settings.from_env({}).server.file_store == "local"
    assert Settings.from_env({"FEESVC_FILE_STORE": "database"}).server.file_store == "database"
    check_setting(Settings.from_env({}))


def test_a_store_that_does_not_exist_is_refused_naming_the_choices() -> None:
    with pytest.raises(FileStoreSettingError) as refused:
        check_setting(with_store(SQLITE, "s3"))
    assert str(refused.value) == "FEESVC_FILE_STORE='s3': choose local (the default) or database"


def test_the_database_store_on_sqlite_is_refused_before_the_app_serves() -> None:
    settings = with_store(SQLITE, "database")
    with pytest.raises(FileStoreSettingError, match="FEESVC_FILE_STORE=database keeps files in PostgreSQL"):
        check_setting(settings)
    with pytest.raises(FileStoreSettingError, match="FEESVC_DATABASE_URL is SQLite"):
        create_app(settings)


def test_the_commands_refuse_it_with_the_sentence_not_a_traceback(fresh_settings: None, tmp_path: Path) -> None:
    env = {"FEESVC_FILE_STORE": "database", "FEESVC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    for args in (["serve"], ["remind", "--estate", "1"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 1, result.output
        assert "FEESVC_FILE_STORE=database keeps files in PostgreSQL" in result.output
        assert "Traceback" not in result.output


async def test_the_store_chosen_is_the_one_made(database: Database, database_url: str, is_postgres: bool) -> None:
    local = open_store(with_store(database_url, "local", "/srv/feesvc/files"), database.engine)
    assert isinstance(local, LocalFileStore) and local.root == Path("/srv/feesvc/files")
    if is_postgres:
        assert isinstance(open_store(with_store(database_url, "database"), database.engine), DatabaseFileStore)
    else:
        with pytest.raises(ValueError, match="needs PostgreSQL"):
            DatabaseFileStore(database.engine)
