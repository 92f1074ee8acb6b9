"""``feesvc import units|owners|ownerships|balances|credits FILE --estate E [--dry-run]`` and
``feesvc import template KIND``."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.imports.kinds import KINDS
from feesvc.imports.service import ImportRefused, ImportResult, run_import
from feesvc.imports.template import template_bytes
from feesvc.registry.service import get_estate


@click.group("import")
def import_command() -> None:
    """Move an estate in from spreadsheets: units, owners, ownerships, opening balances and credit."""


def _make(kind: str) -> click.Command:
    @click.command(kind, help=f"Import {kind} from an .xlsx or .csv file (see `feesvc import template {kind}`).")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    def command(file: Path, estate_ref: str, dry_run: bool) -> None:
        from feesvc.cli import resolve_estate, run_with_session

        content = file.read_bytes()

        async def work(session: AsyncSession) -> ImportResult | ImportRefused:
            estate = await get_estate(session, await resolve_estate(session, estate_ref))
            try:
                return await run_import(
                    session,
                    COMMAND_LINE,
                    estate,
                    kind,
                    file.name,
                    content,
                    dry_run=dry_run,
                    today=business_today(),
                )
            except ImportRefused as refused:
                return refused

        outcome = run_with_session(work)
        if isinstance(outcome, ImportRefused):
            for p in outcome.result.problems:
                click.echo(f"{p.sheet} row {p.row} {p.column}: {p.reason_zh} / {p.reason_en}", err=True)
            raise click.ClickException(f"{len(outcome.result.problems)} problems; nothing was written")
        r = outcome
        state = "dry run, nothing written" if r.dry_run else "written" if r.written else "nothing to write"
        click.echo(
            f"{kind}: {r.rows} rows, {r.created} new, {r.updated} updated, {r.unchanged} unchanged, "
            f"{r.reversed} reversed ({state})"
        )

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
