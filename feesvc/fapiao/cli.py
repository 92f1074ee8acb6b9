"""``feesvc fapiao export --estate E --date D --out F`` (.xlsx or .csv by the file's name)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.principal import COMMAND_LINE
from feesvc.fapiao import export
from feesvc.fapiao.service import fapiao_rows
from feesvc.registry.service import get_estate


@click.group("fapiao")
def fapiao_command() -> None:
    """Fapiao data for the company's e-fapiao system."""


@fapiao_command.command("export")
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="The day, YYYY-MM-DD.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write: .xlsx or .csv."
)
def export_day(estate_ref: str, day: datetime, out: Path) -> None:
    """The day's payments as fapiao rows (one per item), and 红冲 rows for the day's voids."""
    from feesvc.cli import resolve_estate, run_with_session

    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise click.BadParameter("the file's name must end in .xlsx or .csv", param_hint="--out")
    on = day.date()

    async def work(session: AsyncSession) -> tuple[bytes, int]:
        estate = await get_estate(session, await resolve_estate(session, estate_ref))
        rows = await fapiao_rows(session, estate, on)
        await record_audit(session, COMMAND_LINE, "fapiao.export", "estate", estate.id, {"day": on.isoformat()})
        await session.commit()
        content = export.xlsx(estate.name, on, rows, estate.locale) if suffix == ".xlsx" else export.csv_bytes(rows)
        return content, len(rows)

    content, count = run_with_session(work)
    out.write_bytes(content)
    click.echo(f"{out}: {count} rows ({len(content):,} bytes)")
