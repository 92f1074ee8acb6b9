"""``feesvc files copy-to-database``: the local file store copied into PostgreSQL (``copying``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import click

from feesvc.files.copying import CopyReport, KeptFile, copy_to_database
from feesvc.settings import get_settings


@click.group("files")
def files_command() -> None:
    """The file store: where issued letters, proofs, packs and print files are kept."""


@click.command("copy-to-database")
@click.option(
    "--files-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The local store to copy (default: FEESVC_FILES_DIR).",
)
@click.option("--verbose-files", is_flag=True, help="Name each file and what became of it.")
def copy_to_database_command(files_dir: Path | None, verbose_files: bool) -> None:
    """Copy the local file store into the database store (FEESVC_DATABASE_URL, PostgreSQL), hash
    checked both ways. Safe to stop and run again: files already there are passed over. Then set
    FEESVC_FILE_STORE=database. Exits 3 when a local file no longer matches its hash (not copied)."""
    settings = get_settings()
    if settings.database.is_sqlite:
        raise click.ClickException("the database file store needs PostgreSQL: FEESVC_DATABASE_URL is SQLite")
    root = files_dir or Path(settings.server.files_dir)
    if not root.is_dir():
        raise click.ClickException(f"no files directory {root} (FEESVC_FILES_DIR or --files-dir)")

    def told(kept: KeptFile, outcome: str) -> None:
        if verbose_files or outcome == "changed":
            click.echo(f"{outcome:8} {kept.area}/{kept.path.name}")

    report = asyncio.run(_copy(root, told))
    click.echo(
        f"{report.copied} files copied ({report.copied_bytes} bytes), {report.present} already in the database, "
        f"{len(report.changed)} changed since kept (not copied), {len(report.not_kept_files)} other files left alone"
    )
    for path in report.changed:
        click.echo(f"changed since it was kept, not copied: {path}", err=True)
    if report.changed:
        raise SystemExit(3)


async def _copy(root: Path, told: Callable[[KeptFile, str], None]) -> CopyReport:
    from feesvc.db import create_engine
    from feesvc.files.database import DatabaseFileStore

    engine = create_engine()
    try:
        return await copy_to_database(root, DatabaseFileStore(engine), told)
    finally:
        await engine.dispose()


files_command.add_command(copy_to_database_command)
