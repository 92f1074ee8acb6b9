"""Issue 16 item 6: the limitation watch per owner (a seller's periods and a buyer's are separate
accounts), tested at the three-year boundary: the day before, the day, the day after."""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from typing import Any

from click.testing import CliRunner
from dateutil.relativedelta import relativedelta
from sqlmodel import select

from feesvc.auth.models import Role
from feesvc.cli import cli
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.registry.masking import mask_name
from feesvc.settings import get_settings
from tests.sale_support import SoldUnit, sold_unit
from tests.support import Api, problem


async def due_dates(api: Api, unit_id: int) -> dict[tuple[int | None, str], date]:
    """(owner, period) → the due date of that owner's charge of the period."""
    async with api.sessions() as s:
        rows = await s.execute(
            select(LedgerEntry.owner_id, LedgerEntry.period, LedgerEntry.due_date).where(
                LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.charge, LedgerEntry.amount_fen > 0
            )
        )
        return {(owner, period): due for owner, period, due in rows.all() if period and due}


async def sale_in_2023(api: Api) -> SoldUnit:
    """The seller owes 2023-06, the buyer (from 2023-08-01) owes 2023-09 and 2023-10."""
    return await sold_unit(api, handover="2023-08-01", billed_before=("2023-06",), billed_after=("2023-09", "2023-10"))


async def watch(api: Api, estate_id: int, as_of: date, within: int = 30, role: Role = Role.manager) -> Any:
    params = {"as_of": as_of.isoformat(), "within_days": within}
    return await api.ok(await api.get(f"/api/v1/estates/{estate_id}/limitation-watch", role, params=params))


def listed(report: Any) -> dict[int, list[tuple[str, str, int]]]:
    return {
        a["owner_id"]: [(p["period"], p["expires_on"], p["days_left"]) for p in a["periods"]]
        for a in report["accounts"]
    }


async def test_the_watch_at_the_three_year_boundary_per_owner(api: Api) -> None:
    sale = await sale_in_2023(api)
    dues = await due_dates(api, sale.unit_id)
    seller_due = dues[(sale.seller_id, "2023-06")]
    buyer_due = dues[(sale.buyer_id, "2023-09")]
    seller_last = seller_due + relativedelta(years=3)
    buyer_last = buyer_due + relativedelta(years=3)
    assert (buyer_last - seller_last).days > 30  # one window holds one owner's boundary at a time

    # The seller's 2023-06: listed the day before and on its last day, gone the day after.
    before = listed(await watch(api, sale.estate.id, seller_last - timedelta(days=1)))
    assert before == {sale.seller_id: [("2023-06", seller_last.isoformat(), 1)]}
    on_the_day = listed(await watch(api, sale.estate.id, seller_last))
    assert on_the_day == {sale.seller_id: [("2023-06", seller_last.isoformat(), 0)]}
    assert listed(await watch(api, sale.estate.id, seller_last + timedelta(days=1))) == {}

    # The buyer's periods are the buyer's account, with their own clock.
    report = await watch(api, sale.estate.id, buyer_last, within=31)
    (account,) = report["accounts"]
    assert account["owner_id"] == sale.buyer_id and account["current_owner"] is True
    assert [p["period"] for p in account["periods"]] == ["2023-09", "2023-10"]
    assert account["periods"][0]["days_left"] == 0 and account["periods"][0]["last_interruption"] is None
    after = listed(await watch(api, sale.estate.id, buyer_last + timedelta(days=1), within=31))
    assert [p for p, _, _ in after[sale.buyer_id]] == ["2023-10"]


async def test_the_window_is_bounded_and_staff_only(api: Api) -> None:
    sale = await sale_in_2023(api)
    path = f"/api/v1/estates/{sale.estate.id}/limitation-watch"
    problem(await api.get(path, params={"within_days": -1}), 400, "within_days")
    problem(await api.get(path, params={"within_days": 5000}), 400, "within_days")
    problem(await api.get("/api/v1/estates/999999/limitation-watch"), 404)
    response = await api.client.get(path, headers={"Authorization": f"Bearer {sale.buyer_token}"})
    problem(response, 403)
    assert (await watch(api, sale.estate.id, date(2026, 6, 1), within=0, role=Role.cashier))["within_days"] == 0
    # Names as each role may see them: whole for a manager, enough to confirm for a cashier.
    dues = await due_dates(api, sale.unit_id)
    last_day = dues[(sale.seller_id, "2023-06")] + relativedelta(years=3)
    whole = (await watch(api, sale.estate.id, last_day))["accounts"][0]["owner_name"]
    masked = (await watch(api, sale.estate.id, last_day, role=Role.cashier))["accounts"][0]["owner_name"]
    assert masked == mask_name(whole) != whole


async def test_the_watch_on_the_command_line(api: Api, database_url: str) -> None:
    sale = await sale_in_2023(api)
    dues = await due_dates(api, sale.unit_id)
    last_day = dues[(sale.seller_id, "2023-06")] + relativedelta(years=3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEESVC_")}
    args = ["limitation", "watch", "--estate", sale.estate.code, "--within-days", "5", "--as-of", last_day.isoformat()]
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, args, env={**env, "FEESVC_DATABASE_URL": database_url}
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.stdout.splitlines() if row]
    fields = line.split("\t")
    assert fields[1].endswith(f"(#{sale.seller_id}, former owner)") and fields[2:6] == [
        "2023-06",
        "25000",
        last_day.isoformat(),
        "0",
    ]
    bad = await asyncio.to_thread(CliRunner().invoke, cli, [*args[:4], "--within-days", "-1"], env=env)
    assert bad.exit_code == 2 and "within-days" in bad.output
