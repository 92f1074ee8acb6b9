"""``feesvc import units|owners|ownerships|balances|credits FILE --estate E [--dry-run]`` and
``feesvc import template KIND``."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.imports.kinds import KINDS
from feesvc.imports.service import ImportRefused, ImportResult, run_import
from feesvc.imports.template import template_bytes
from feesvc.memory import cyclic_gc_paused
from feesvc.registry.service import get_estate


@click.group("import")
def import_command() -> None:
    """Move an estate in from spreadsheets: units, owners, ownerships, opening balances and credit."""


def _report(kind: str, r: ImportResult) -> None:
    state = "dry run, nothing written" if r.dry_run else "written" if r.written else "nothing to write"
    click.echo(
        f"{kind}: {r.rows} rows, {r.created} new, {r.updated} updated, {r.unchanged} unchanged, "
        f"{r.reversed} reversed ({state})"
    )


def _refused(outcome: ImportRefused) -> NoReturn:
    for p in outcome.result.problems:
        click.echo(f"{p.sheet} row {p.row} {p.column}: {p.reason_zh} / {p.reason_en}", err=True)
    raise click.ClickException(f"{len(outcome.result.problems)} problems; nothing was written")


def _import(estate_ref: str, kind: str, file: Path, dry_run: bool) -> None:
    from feesvc.cli import resolve_estate, run_with_session

    content = file.read_bytes()

    async def work(session: AsyncSession) -> ImportResult | ImportRefused:
        estate = await get_estate(session, await resolve_estate(session, estate_ref))
        try:
            return await run_import(
                session, COMMAND_LINE, estate, kind, file.name, content, dry_run=dry_run, today=business_today()
            )
        except ImportRefused as refused:
            return refused

    with cyclic_gc_paused():  # a file of millions of rows: the collector would rescan them for nothing
        outcome = run_with_session(work)
    if isinstance(outcome, ImportRefused):
        _refused(outcome)
    _report(kind, outcome)


def _make(kind: str) -> click.Command:
    @click.command(kind, help=f"Import {kind} from an .xlsx or .csv file (see `feesvc import template {kind}`).")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    def command(file: Path, estate_ref: str, dry_run: bool) -> None:
        _import(estate_ref, kind, file, dry_run)

    return command


for _kind in KINDS:
    import_command.add_command(_make(_kind))


@import_command.command("template")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def template(kind: str, out: Path | None) -> None:
    """Write the template of an import: headers, one example row and a notes sheet."""
    path = out or Path(f"import-{kind}.xlsx")
    path.write_bytes(template_bytes(KINDS[kind]))
    click.echo(str(path))


@import_command.command("estate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def estate(file: Path) -> None:
    """Set up the estate of an estate.json (settings, buildings, fee standards) unless it is there."""
    from feesvc.cli import run_with_session
    from feesvc.imports.estate import set_up_estate

    estate, made = run_with_session(lambda session: set_up_estate(session, COMMAND_LINE, file.read_bytes()))
    click.echo(f"estate {estate.code}: {made} made" if made else f"estate {estate.code}: already set up")


@import_command.command("all")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--dry-run", is_flag=True, help="Import every file as one move, then roll it all back.")
def import_all(folder: Path, estate_ref: str, dry_run: bool) -> None:
    """Import every file of FOLDER named after its kind (units.xlsx or units.csv, owners…, ownerships…,
    balances…, credits…) in that order, each in one transaction; stops at the first file refused.
    With --dry-run the files are imported one after the other in one transaction that is rolled
    back: each file is checked against what the files before it would write."""
    from feesvc.cli import resolve_estate, run_with_session

    files = []
    for kind in KINDS:
        found = [folder / f"{kind}.{ext}" for ext in ("xlsx", "csv") if (folder / f"{kind}.{ext}").is_file()]
        if len(found) > 1:
            raise click.ClickException(f"{folder} holds both {found[0].name} and {found[1].name}: keep one")
        files += [(kind, found[0])] if found else []
    if not files:
        raise click.ClickException(f"{folder} holds no import file (units.xlsx, owners.xlsx, … or .csv)")
    if not dry_run:
        for kind, file in files:
            _import(estate_ref, kind, file, dry_run=False)
        return

    async def work(session: AsyncSession) -> list[tuple[str, ImportResult]] | ImportRefused:
        estate = await get_estate(session, await resolve_estate(session, estate_ref))
        done = []
        try:
            for kind, file in files:
                content = file.read_bytes()
                result = await run_import(
                    session,
                    COMMAND_LINE,
                    estate,
                    kind,
                    file.name,
                    content,
                    dry_run=False,
                    today=business_today(),
                    commit=False,
                )
                done.append((kind, result))
        except ImportRefused as refused:
            return refused
        finally:
            await session.rollback()
        return done

    outcome = run_with_session(work)
    if isinstance(outcome, ImportRefused):
        _refused(outcome)
    for kind, result in outcome:
        _report(kind, msgspec.structs.replace(result, dry_run=True, written=False))
