"""Benchmark: the payoff of a unit with ten years of history, and the statement that shows it.

    .venv/bin/python bench/payoff.py [--requests 500] [--units 4] [--db sqlite|postgresql]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_payoff_bench] [--json]

Seeds (not timed) one estate of ``--units`` units with 120 months of history each, through the
services a real estate goes through: a billing run on the 1st of every month (200 元 a unit, due
the 1st, 5 grace days), a late-fee run at every month's end (万分之三 a day), and a late payer's
payments (two months' fees every second month, on the 20th, a little less for some units) for the
first 108 months, none in the last 12: so each unit has a decade of charges, payments and
monthly late fees, and a year of arrears with late fees still open and accruing.

Then, one request after another, over the units in turn, each as of today:
``unit_payoff`` called in this process (the service: its queries and the late-fee computation),
``GET /api/v1/units/{id}/payoff`` through the app (routing, auth, the service, JSON), and
``GET /api/v1/units/{id}/statement`` over the whole ten years (which now carries the payoff too).
It prints p50, p90, p99 and max in milliseconds for each, and the CPU milliseconds of this process
per request. Target: payoff p99 < 20 ms. It prints figures and asserts nothing.

The PostgreSQL database is made if missing and its public schema dropped and rebuilt, so the script
refuses a database whose name does not contain "bench"; it never touches the test databases.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from dateutil.relativedelta import relativedelta  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import cpu_s, prepare_postgres  # noqa: E402
from feesvc.app import create_app  # noqa: E402
from feesvc.auth.models import Role  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.auth.service import create_token  # noqa: E402
from feesvc.billing.service import run_billing  # noqa: E402
from feesvc.db import business_today, create_engine, session_factory  # noqa: E402
from feesvc.latefees.service import accrue_late_fees  # noqa: E402
from feesvc.ledger.models import LedgerEntry  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.payments.models import Method  # noqa: E402
from feesvc.payments.recording import record_payment  # noqa: E402
from feesvc.payments.schemas import PaymentCreate  # noqa: E402
from feesvc.payoff.service import unit_payoff  # noqa: E402
from feesvc.settings import DatabaseSettings, ServerSettings, Settings  # noqa: E402
from tests.support import Api  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_payoff_bench"
MONTHS = 120
UNPAID_MONTHS = 12
MONTHLY_FEN = 20000  # 2.00 元/m²·month × 100 m²


async def seed(api: Api, units: int, today: date) -> tuple[list[int], int]:
    """Ten years of monthly history for each unit, ending with the month before today's."""
    first = today.replace(day=1) - relativedelta(months=MONTHS)
    estate = await api.make_estate(
        units=units,
        rate="2.00",
        area="100.00",
        settings={"due_day": 1, "grace_days": 5, "late_fee_daily_rate": "0.0003"},
        effective_from=first.isoformat(),
        owners_from=first.isoformat(),
    )
    for n in range(MONTHS):
        month = first + relativedelta(months=n)
        async with api.sessions() as s:
            await run_billing(s, COMMAND_LINE, estate.id, f"{month:%Y-%m}", month)
        if n % 2 == 1 and n < MONTHS - UNPAID_MONTHS:
            for i, unit in enumerate(estate.unit_ids):
                amount = 2 * MONTHLY_FEN - 1000 * i  # some units fall a little further behind
                data = PaymentCreate(
                    unit_id=unit, amount_fen=amount, method=Method.cash, received_on=month + timedelta(19)
                )
                async with api.sessions() as s:
                    await record_payment(s, COMMAND_LINE, data, uuid.uuid4().hex, month + timedelta(19))
        month_end = month + relativedelta(months=1) - timedelta(days=1)
        async with api.sessions() as s:
            await accrue_late_fees(s, COMMAND_LINE, estate.id, month_end)
    async with api.sessions() as s:
        rows = await s.execute(select(func.count()).where(LedgerEntry.unit_id == estate.unit_ids[0]))
        entries = int(rows.scalar_one())
    return estate.unit_ids, entries


async def timed(requests: int, units: list[int], call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    for unit in units:  # warm-up: one request a unit, not counted
        await call(unit)
    latencies = []
    cpu = cpu_s()
    for n in range(requests):
        began = time.perf_counter()
        await call(units[n % len(units)])
        latencies.append((time.perf_counter() - began) * 1000)
    cpu_ms = (cpu_s() - cpu) * 1000 / requests
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "p50": round(statistics.median(latencies), 2),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": round(latencies[-1], 2),
        "cpu_ms": round(cpu_ms, 2),
    }


async def measure(url: str, files_dir: str, requests: int, units: int) -> dict[str, Any]:
    settings = Settings(database=DatabaseSettings(url=url), server=ServerSettings(files_dir=files_dir))
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    tokens = {}
    async with sessions() as s:
        for role in (Role.manager, Role.cashier, Role.system):
            tokens[role], _ = await create_token(s, COMMAND_LINE, role, f"bench-{role.value}")
    today = business_today()
    async with AsyncTestClient(app=create_app(settings)) as client:
        api = Api(client, tokens, sessions)
        started = time.perf_counter()
        unit_ids, entries = await seed(api, units, today)
        seeded = time.perf_counter() - started
        if url.startswith("postgresql"):
            async with sessions() as s:
                await s.execute(text("ANALYZE"))
        # The server freezes what it holds at startup (feesvc.app); the seeding ran in this process,
        # and what it left alive would otherwise be walked by every full collection during the timed
        # requests (~1 % of them took ~60 ms more), which a server started on existing data never does.
        gc.collect()
        gc.freeze()

        async def service(unit: int) -> None:
            async with sessions() as s:
                await unit_payoff(s, unit, today)

        async def route(unit: int) -> None:
            response = await client.get(
                f"/api/v1/units/{unit}/payoff", headers=api.headers(Role.cashier), params={"as_of": today.isoformat()}
            )
            assert response.status_code == 200, response.text

        start = today.replace(day=1) - relativedelta(months=MONTHS)

        async def statement(unit: int) -> None:
            params = {"as_of": today.isoformat(), "from": start.isoformat(), "to": today.isoformat()}
            response = await client.get(
                f"/api/v1/units/{unit}/statement", headers=api.headers(Role.cashier), params=params
            )
            assert response.status_code == 200, response.text

        async with sessions() as s:
            sample = await unit_payoff(s, unit_ids[0], today)
        result = {
            "database": make_url(url).get_backend_name(),
            "seed_s": round(seeded, 1),
            "units": units,
            "entries_per_unit": entries,
            "payoff_lines": len(sample.lines),
            "payoff_total_fen": sample.total_fen,
            "requests": requests,
            "service_ms": await timed(requests, unit_ids, service),
            "route_ms": await timed(requests, unit_ids, route),
            "statement_ms": await timed(requests, unit_ids, statement),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
    await engine.dispose()
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"payoff, {result['database']}: {result['units']} units × 10 years, {result['entries_per_unit']} ledger "
        f"entries on the first (seeded in {result['seed_s']} s, not timed); its payoff: "
        f"{result['payoff_lines']} charges, {result['payoff_total_fen']} fen",
        f"  {result['requests']} requests each, one at a time; load average at the end: {result['load']}",
        "  what                          p50 ms   p90 ms   p99 ms   max ms   CPU ms/request",
    ]
    for name, key in (
        ("unit_payoff (the service)", "service_ms"),
        ("GET …/payoff", "route_ms"),
        ("GET …/statement (10 years)", "statement_ms"),
    ):
        f = result[key]
        lines.append(f"    {name:<28}{f['p50']:>8}{f['p90']:>9}{f['p99']:>9}{f['max']:>9}{f['cpu_ms']:>12}")
    lines.append("  target: payoff p99 < 20 ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    with tempfile.TemporaryDirectory(prefix="feesvc-payoff-bench-") as tmp:
        if args.db == "postgresql":
            url = args.pg_url
            asyncio.run(prepare_postgres(url, lambda line: print(line, file=sys.stderr)))
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        result = asyncio.run(measure(url, str(Path(tmp) / "files"), args.requests, args.units))
    print(json.dumps(result, indent=2) if args.json else report(result))


if __name__ == "__main__":
    main()
