"""``feesvc bank import FILE --estate E [--bank NAME] [--dry-run]``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from feesvc.auth.principal import COMMAND_LINE
from feesvc.banking.schemas import BankImportOut
from feesvc.banking.service import StatementRefused, import_statement
from feesvc.db import Database, business_today, create_engine, session_factory
from feesvc.errors import DomainError
from feesvc.registry.service import get_estate
from feesvc.settings import get_settings


@click.group("bank")
def bank_command() -> None:
    """Bank transfers: import a statement, match each credit to a unit, post it once."""


@bank_command.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--bank", default="default", show_default=True, help="The bank's CSV column mapping (not for camt.053).")
@click.option("--dry-run", is_flag=True, help="Read, check and match; write nothing.")
def import_file(file: Path, estate_ref: str, bank: str, dry_run: bool) -> None:
    """Import a bank statement (CSV or camt.053 XML). Exits 3 when lines wait for a cashier."""
    from feesvc.cli import NEEDS_ATTENTION, resolve_estate

    content = file.read_bytes()
    settings = get_settings()

    async def main() -> BankImportOut:
        engine = create_engine(settings.database)
        database = Database(engine, session_factory(engine))
        try:
            async with database.session() as session:
                estate = await get_estate(session, await resolve_estate(session, estate_ref))
            return await import_statement(
                database,
                COMMAND_LINE,
                estate,
                bank,
                file.name,
                content,
                dry_run=dry_run,
                today=business_today(),
                mappings_file=settings.bank_mappings_file,
            )
        finally:
            await engine.dispose()

    try:
        r = asyncio.run(main())
    except StatementRefused as refused:
        for p in refused.problems:
            where = f"line {p.line}" + (f" column {p.column}" if p.column else "") if p.line else "file"
            click.echo(f"{where}: {p.zh} / {p.en}", err=True)
        raise click.ClickException(f"{len(refused.problems)} problem(s); nothing was written") from None
    except DomainError as error:
        field = f" ({error.errors[0].field})" if error.errors else ""
        raise click.ClickException(f"{error.detail}{field}") from None
    state = "dry run, nothing written" if r.dry_run else f"statement {r.statement_id}"
    click.echo(
        f"{r.file_format} ({state}): {r.lines} credits, {r.debits_skipped} debits skipped, {r.new_lines} new, "
        f"{r.duplicates} already imported; {r.matched} matched, {r.posted} payments posted, "
        f"{r.unmatched} unmatched, {r.ambiguous} ambiguous"
    )
    for w in r.waiting:
        click.echo(f"  line {w.line_no} {w.booked_on} {w.amount_fen} fen {w.reference!r}: {w.status} ({w.reason})")
    if r.unmatched or r.ambiguous:
        raise SystemExit(NEEDS_ATTENTION)
