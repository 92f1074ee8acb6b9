"""``feesvc export ledger|aging|collection|cashup|credit``: the .xlsx exports from the command line."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.db import business_today
from feesvc.exports import service
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.schemas import PERIOD_PATTERN

DAY = click.DateTime(["%Y-%m-%d"])
Build = Callable[[AsyncSession, Estate], Awaitable[tuple[str, bytes]]]


def _day(value: datetime | None) -> date:
    return value.date() if value is not None else business_today()


def _export(estate_ref: str, out: Path | None, build: Build) -> None:
    from feesvc.cli import resolve_estate, run_with_session

    async def work(session: AsyncSession) -> tuple[str, bytes]:
        estate = await get_estate(session, await resolve_estate(session, estate_ref))
        return await build(session, estate)

    name, content = run_with_session(work)
    path = out or Path(name)
    path.write_bytes(content)
    click.echo(f"{path} ({len(content):,} bytes)")


estate_option = click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: a name of its own).",
)


@click.group("export")
def export_command() -> None:
    """Spreadsheets (.xlsx) for the accountant: ledger, aging, collection rate, cash-up, prepaid credit."""


@export_command.command("ledger")
@estate_option
@click.option("--from", "first", type=DAY, required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "last", type=DAY, required=True, help="Last day, YYYY-MM-DD (at most 366 days on).")
@out_option
def export_ledger(estate_ref: str, first: datetime, last: datetime, out: Path | None) -> None:
    """Every ledger entry of the estate in a date range."""
    a, b = first.date(), last.date()

    async def build(session: AsyncSession, estate: Estate) -> tuple[str, bytes]:
        return service.filename("ledger", estate, a, b), await service.ledger_workbook(session, estate, a, b)

    _export(estate_ref, out, build)


@export_command.command("aging")
@estate_option
@click.option("--as-of", "as_of", type=DAY, default=None, help="Day of the analysis (default today).")
@out_option
def export_aging(estate_ref: str, as_of: datetime | None, out: Path | None) -> None:
    """Overdue charges and late fees by age, per building."""
    day = _day(as_of)

    async def build(session: AsyncSession, estate: Estate) -> tuple[str, bytes]:
        return service.filename("aging", estate, day), await service.aging_export(session, estate, day)

    _export(estate_ref, out, build)


@export_command.command("collection")
@estate_option
@click.option("--period", required=True, help="Billing period, YYYY-MM.")
@click.option("--as-of", "as_of", type=DAY, default=None, help="Measured on (default today).")
@out_option
def export_collection(estate_ref: str, period: str, as_of: datetime | None, out: Path | None) -> None:
    """收缴率 of one period."""
    if not re.match(PERIOD_PATTERN, period):
        raise click.BadParameter("expected YYYY-MM with a month 01-12", param_hint="--period")
    day = _day(as_of)

    async def build(session: AsyncSession, estate: Estate) -> tuple[str, bytes]:
        name = service.filename("collection-rate", estate, period, day)
        return name, await service.collection_export(session, estate, period, day)

    _export(estate_ref, out, build)


@export_command.command("cashup")
@estate_option
@click.option("--day", type=DAY, default=None, help="The day (default today).")
@out_option
def export_cashup(estate_ref: str, day: datetime | None, out: Path | None) -> None:
    """The day's cash-up per cashier and method, and its voids."""
    on = _day(day)

    async def build(session: AsyncSession, estate: Estate) -> tuple[str, bytes]:
        return service.filename("cash-up", estate, on), await service.cashup_export(session, estate, on)

    _export(estate_ref, out, build)


@export_command.command("credit")
@estate_option
@click.option("--as-of", "as_of", type=DAY, default=None, help="At the end of (default today).")
@out_option
def export_credit(estate_ref: str, as_of: datetime | None, out: Path | None) -> None:
    """Prepaid credit held per unit."""
    day = _day(as_of)

    async def build(session: AsyncSession, estate: Estate) -> tuple[str, bytes]:
        return service.filename("prepaid-credit", estate, day), await service.credit_workbook(session, estate, day)

    _export(estate_ref, out, build)


@export_command.command("import-files")
@estate_option
@click.option("--as-of", "as_of", type=DAY, default=None, help="Balances and credit at the end of (default today).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
def export_import_files(estate_ref: str, as_of: datetime | None, out_dir: Path) -> None:
    """The estate as estate.json and the five import files (units, owners, ownerships, balances,
    credits): `feesvc import estate` and `feesvc import all` move it into another database."""
    from feesvc.cli import resolve_estate, run_with_session
    from feesvc.exports.import_files import import_folder, write_folder

    day = _day(as_of)

    async def work(session: AsyncSession) -> dict[str, bytes]:
        estate = await get_estate(session, await resolve_estate(session, estate_ref))
        return await import_folder(session, estate, day)

    for path in write_folder(out_dir, run_with_session(work)):
        click.echo(f"{path} ({path.stat().st_size:,} bytes)")
