"""``feesvc online close-expired`` and ``feesvc online reconcile``."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import click
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import Database, business_today, create_engine, session_factory, utcnow
from feesvc.online.models import Provider
from feesvc.online.notifications import close_expired
from feesvc.online.orders import CloseReport, provider_for
from feesvc.online.reconcile import parse_bill, reconcile
from feesvc.online.schemas import ReconciliationOut
from feesvc.settings import get_settings


@click.group("online")
def online_command() -> None:
    """Online payment (WeChat Pay, Alipay): close expired orders, reconcile a day's bill."""


@online_command.command("close-expired")
@click.option("--estate", "estate_ref", default=None, help="Estate id or code (default: every estate).")
def close_expired_command(estate_ref: str | None) -> None:
    """Close unpaid orders past their expiry, with the provider first; one the provider reports paid
    is posted as its notification would be. Idempotent: run it as often as you like (exit 3 when an
    order could not be closed: the provider did not answer; it is tried again next run)."""
    from feesvc.cli import NEEDS_ATTENTION, resolve_estate

    async def main() -> CloseReport:
        engine = create_engine()
        try:
            database = Database(engine, session_factory(engine))
            estate_id = None
            if estate_ref is not None:
                async with database.session() as session:
                    estate_id = await resolve_estate(session, estate_ref)
            return await close_expired(database, get_settings(), utcnow(), business_today(), estate_id)
        finally:
            await engine.dispose()

    report = asyncio.run(main())
    click.echo(
        f"orders closed: {report.closed}; found paid and posted: {report.paid}; not closed: {len(report.failed or [])}"
    )
    for line in report.failed or []:
        click.echo(f"  {line}")
    if report.failed:
        raise SystemExit(NEEDS_ATTENTION)


@online_command.command("reconcile")
@click.option("--estate", "estate_ref", required=True, help="Estate id or code.")
@click.option("--provider", type=click.Choice([p.value for p in Provider]), required=True)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The bill file (WeChat Pay trade bill CSV; Alipay account bill CSV or zip). Without: download it.",
)
@click.option(
    "--day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The bill's day (needed to download, or for a file without lines).",
)
def reconcile_command(estate_ref: str, provider: str, path: Path | None, day: datetime | None) -> None:
    """List every bill line not matching a posted payment and every posted payment missing from the
    bill (JSON on stdout). Exit 3 when anything is listed."""
    from feesvc.cli import NEEDS_ATTENTION, resolve_estate, run_with_session

    chosen = Provider(provider)
    if path is None and day is None:
        raise click.UsageError("give --file, or --day to download that day's bill")

    given = path.read_bytes() if path is not None else None

    async def work(session: AsyncSession) -> ReconciliationOut:
        estate_id = await resolve_estate(session, estate_ref)
        if given is not None:
            content = given
        else:
            assert day is not None
            content = await provider_for(get_settings(), estate_id, chosen).download_bill(day.date())
        bill = parse_bill(chosen, content)
        return await reconcile(session, COMMAND_LINE, estate_id, chosen, bill, day.date() if day else None)

    result = run_with_session(work)
    click.echo(json.dumps(msgspec.to_builtins(result), ensure_ascii=False, indent=2))
    if not result.reconciled:
        raise SystemExit(NEEDS_ATTENTION)
