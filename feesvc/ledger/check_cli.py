"""``feesvc ledger check-positions``: every unit's stored position against its ledger."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.ledger.position import Disagreement, disagreements, refresh_positions


@click.group("ledger")
def ledger_command() -> None:
    """Checks over the unit ledgers."""


@ledger_command.command("check-positions")
@click.option("--estate", "estate_ref", default=None, help="Estate id or code (default: every estate).")
@click.option("--repair", is_flag=True, help="Recompute the positions that disagree from their ledgers.")
def check_positions(estate_ref: str | None, repair: bool) -> None:
    """Compare each unit's stored position (balance, earliest open due date: what the unit search
    filters on) with a recomputation from its ledger. Exit 0 if all agree; 3 if any did not, each
    listed (with --repair, mended in one transaction)."""
    from feesvc.cli import NEEDS_ATTENTION, resolve_estate, run_with_session

    async def work(session: AsyncSession) -> list[Disagreement]:
        estate_id = None if estate_ref is None else await resolve_estate(session, estate_ref)
        found = await disagreements(session, estate_id)
        if repair and found:
            await refresh_positions(session, [d.unit_id for d in found])
            await session.commit()
        return found

    found = run_with_session(work)
    for d in found:
        click.echo(
            f"unit {d.unit_id}: stored balance {d.stored_balance_fen} fen, earliest open due "
            f"{d.stored_earliest_open_due}; the ledger gives {d.ledger_balance_fen} fen, {d.ledger_earliest_open_due}"
        )
    verb = "repaired" if repair else "disagree with their ledgers"
    click.echo(f"{len(found)} unit position(s) {verb}" if found else "every unit's position agrees with its ledger")
    if found:
        raise SystemExit(NEEDS_ATTENTION)
