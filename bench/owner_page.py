"""Benchmark: the owner's pages over HTTP for a unit with ten years of history (issue 19: the owner
page p99 < 50 ms for 10 years of history).

    .venv/bin/python bench/owner_page.py [--db postgresql|sqlite|both] [--years 10] [--neighbours 4]
        [--requests 200] [--seconds 10] [--clients 4] [--workers 1]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_owner] [--json]

The script prints figures and asserts nothing but that every page answered 200.

1. Builds its database through the Alembic migrations (SQLite: a temporary file; PostgreSQL: the
   database named by ``--pg-url``, which must contain "bench": its public schema is dropped), then
   lives through the years as an estate's staff would, through the app's own API in this process
   (Litestar's test client, manager and cashier tokens): an estate (due on the 10th), a fee standard
   from the first month, one building, the measured unit and ``--neighbours`` more, each with its
   owner (a mobile number) from the start. Then month by month: the billing run (issued on the 1st),
   each owner's payment at the desk on the 10th of what they owe that day (the measured owner skips
   every fourth month and two months each year, and the last three: late fees, letters and arrears
   now), the late-fee run on the last day of the month, the reminder run on the 20th (letters kept
   as issued, with their PDF), and the month's service activity for the building (cleaning rounds,
   repairs, patrols). Not timed with the pages ("seed s").
2. Signs the owner in as a phone would: a manager's invitation, the link read from the SMS in the
   outbox, ``GET /owner/invitation/{secret}`` on the server: the ``feesvc_session`` cookie.
3. Starts ``feesvc serve --workers W`` (granian; ``bench/payments_http.Server``) and, per page (home,
   statement, payoff, receipts, letters), sends ``--requests`` sequential GETs after 10 not counted:
   p50, p95, p99 and max milliseconds, and the server's CPU per request (its process tree, from
   /proc). Then ``--clients`` clients in a closed loop over the five pages for ``--seconds``:
   requests per second, p50/p99, and CPU per request of the server and of PostgreSQL (its backends
   for this database). The load average is printed beside the figures: on a busy machine judge
   by CPU per request, not by wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from dateutil.relativedelta import relativedelta  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402
from sqlmodel import col  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import pg_database_name, prepare_postgres  # noqa: E402
from bench.payments_http import RawHttpClient, Server, _all_processes, _descendants, _postgres_cpu  # noqa: E402
from feesvc.app import create_app  # noqa: E402
from feesvc.auth.models import Role  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.auth.service import create_token  # noqa: E402
from feesvc.db import business_today, create_engine, session_factory  # noqa: E402
from feesvc.ledger.models import LedgerEntry  # noqa: E402
from feesvc.letters.models import Letter, OutboxMessage  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.payments.models import Payment  # noqa: E402
from feesvc.settings import DatabaseSettings, ServerSettings, Settings  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_owner"
DUE_DAY = 10
WARMUP = 10
METHODS = ("wechat", "alipay", "cash", "bank_transfer")
ACTIVITY = (("cleaning_rounds", 30), ("security_patrols", 90), ("repairs_done", 4))
TARGET_P99_MS = 50.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Seeded:
    unit_id: int
    owner_id: int
    months: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def skips(index: int, months: int) -> bool:
    """Whether the measured owner pays nothing in month ``index`` (0 = the first of ``months``):
    every fourth month, the 11th and 12th of each year, and the last three (arrears now)."""
    return index % 4 == 3 or index % 12 in (10, 11) or index >= months - 3


class Staff:
    """The estate's staff at the API, in this process."""

    def __init__(self, client: AsyncTestClient[Any], manager: str, cashier: str) -> None:
        self.client = client
        self.manager = {"Authorization": f"Bearer {manager}"}
        self.cashier = {"Authorization": f"Bearer {cashier}"}

    async def post(self, path: str, body: dict[str, Any], cashier: bool = False, key: bool = False) -> Any:
        headers = dict(self.cashier if cashier else self.manager)
        if key:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        response = await self.client.post(path, json=body, headers=headers)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        return response.json()


async def _tokens(url: str) -> tuple[str, str]:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            manager, _ = await create_token(session, COMMAND_LINE, Role.manager, "bench manager")
            cashier, _ = await create_token(session, COMMAND_LINE, Role.cashier, "bench cashier")
    finally:
        await engine.dispose()
    return manager, cashier


async def _balance(sessions: async_sessionmaker[AsyncSession], unit_id: int, on: date) -> int:
    """What the unit's owner owes on ``on``: every entry effective by then (one owner throughout)."""
    async with sessions() as session:
        total = await session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.unit_id == unit_id, LedgerEntry.effective_date <= on
            )
        )
        return int(total.scalar_one())


async def seed(url: str, settings: Settings, years: int, neighbours: int, today: date) -> Seeded:
    started = time.perf_counter()
    manager, cashier = await _tokens(url)
    months = 12 * years
    first = today.replace(day=1) - relativedelta(months=months - 1)
    engine = create_engine(DatabaseSettings(url=url))
    sessions = session_factory(engine)
    async with AsyncTestClient(app=create_app(settings)) as client:
        staff = Staff(client, manager, cashier)
        estate = await staff.post(
            "/api/v1/estates",
            {
                "code": "OWNERBENCH",
                "name": "锦绣华苑",
                "company_name": "安居物业服务有限公司",
                "service_phone": "0571-8888 6666",
                "settings": {"due_day": DUE_DAY},
            },
        )
        building = await staff.post(f"/api/v1/estates/{estate['id']}/buildings", {"name": "3栋"})
        standard = {
            "unit_use": "residential", "item": "service_fee", "item_name": "物业服务费", "basis": "per_m2_month",
            "rate": "2.50", "effective_from": f"{first}", "posted_on": f"{first}", "decision_kind": "contract",
            "decision_ref": "前期物业服务合同 第5条",
        }  # fmt: skip
        await staff.post(f"/api/v1/estates/{estate['id']}/fee-standards", standard)
        units: list[tuple[int, int]] = []
        for n in range(1 + neighbours):
            unit = await staff.post(
                "/api/v1/units", {"building_id": building["id"], "number": f"{1501 + n}", "floor_area_m2": "98.60"}
            )
            owner = await staff.post("/api/v1/owners", {"name": f"业主{n + 1}", "phone": f"139{n:08d}"})
            await staff.post(
                f"/api/v1/units/{unit['id']}/ownerships", {"owner_id": owner["id"], "starts_on": f"{first}"}
            )
            units.append((unit["id"], owner["id"]))
        measured = units[0][0]
        for index in range(months):
            month = first + relativedelta(months=index)
            period = f"{month:%Y-%m}"
            await staff.post(
                "/api/v1/billing-runs", {"estate_id": estate["id"], "period": period, "issued_on": f"{month}"}
            )
            pay_day = month.replace(day=DUE_DAY)
            if pay_day <= today:
                for unit_id, _ in units:
                    if unit_id == measured and skips(index, months):
                        continue
                    owed = await _balance(sessions, unit_id, pay_day)
                    if owed > 0:
                        body = {
                            "unit_id": unit_id, "amount_fen": owed, "method": METHODS[index % len(METHODS)],
                            "received_on": f"{pay_day}",
                        }  # fmt: skip
                        await staff.post("/api/v1/payments", body, cashier=True, key=True)
            reminders = month.replace(day=20)
            if reminders <= today:
                await staff.post("/api/v1/reminder-runs", {"estate_id": estate["id"], "as_of": f"{reminders}"})
            month_end = month + relativedelta(months=1) - timedelta(days=1)
            if month_end <= today:
                await staff.post("/api/v1/late-fee-runs", {"estate_id": estate["id"], "as_of": f"{month_end}"})
            for kind, count in ACTIVITY:
                activity = {"period": period, "kind": kind, "count": count, "building_id": building["id"]}
                await staff.post(f"/api/v1/estates/{estate['id']}/service-activity", activity)
            if index % 12 == 11:
                log(f"  seeded {index + 1} of {months} months")
        if today.day > 1:  # accrued to yesterday, as the nightly run leaves it
            await staff.post(
                "/api/v1/late-fee-runs", {"estate_id": estate["id"], "as_of": f"{today - timedelta(days=1)}"}
            )
        await staff.post(f"/api/v1/owners/{units[0][1]}/invitations", {})
    try:
        async with sessions() as session:
            rows = {
                name: int((await session.execute(select(func.count()).select_from(model).where(where))).scalar_one())
                for name, model, where in (
                    ("ledger entries", LedgerEntry, LedgerEntry.unit_id == measured),
                    ("payments", Payment, Payment.unit_id == measured),
                    ("letters", Letter, Letter.unit_id == measured),
                )
            }
    finally:
        await engine.dispose()
    return Seeded(measured, units[0][1], months, rows, time.perf_counter() - started)


async def invitation_secret(url: str) -> str:
    """The invitation link's secret, as the owner's SMS carries it (the latest invitation queued)."""
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            body = (
                await session.execute(
                    select(OutboxMessage.body)
                    .where(col(OutboxMessage.dedupe_key).startswith("signin:invitation:"))
                    .order_by(col(OutboxMessage.id).desc())
                    .limit(1)
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    match = re.search(r"/owner/invitation/(\S+)", body)
    if match is None:
        raise RuntimeError(f"no invitation link in the SMS: {body!r}")
    return match.group(1)


async def sign_in(port: int, secret: str) -> str:
    """The session cookie the invitation link sets."""
    client = RawHttpClient(port, "")
    try:
        reader, writer = await client._connect()
        writer.write(f"GET /owner/invitation/{secret} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    finally:
        await client.close()
    match = re.search(r"(?im)^set-cookie: feesvc_session=([^;\s]+)", head)
    if not head.startswith("HTTP/1.1 303") or match is None:
        raise RuntimeError(f"the invitation did not sign the owner in:\n{head}")
    return match.group(1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def server_cpu_s(server: Server) -> float:
    if server.process is None:
        return 0.0
    table = _all_processes()
    return sum(table[pid][2] for pid in _descendants(table, server.process.pid))


def postgres_cpu_s(database: str | None) -> float:
    return sum(_postgres_cpu(_all_processes(), database).values()) if database else 0.0


async def sequential(port: int, cookie: str, path: str, requests: int, server: Server) -> dict[str, Any]:
    client = RawHttpClient(port, "")
    headers = f"Cookie: feesvc_session={cookie}\r\n".encode()
    times: list[float] = []
    size = 0
    try:
        for _ in range(WARMUP):
            status, payload = await client.request("GET", path, headers=headers)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {payload[:300]!r}")
            size = len(payload)
        cpu_before = server_cpu_s(server)
        for _ in range(requests):
            started = time.perf_counter()
            status, payload = await client.request("GET", path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {payload[:300]!r}")
        server_ms = (server_cpu_s(server) - cpu_before) * 1000 / requests
    finally:
        await client.close()
    return {
        "path": path,
        "requests": requests,
        "bytes": size,
        "p50_ms": statistics.median(times),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
        "max_ms": max(times),
        "server_cpu_ms": server_ms,
    }


async def closed_loop(
    port: int, cookie: str, paths: list[str], clients: int, seconds: float, server: Server, database: str | None
) -> dict[str, Any]:
    headers = f"Cookie: feesvc_session={cookie}\r\n".encode()
    times: list[float] = []
    errors = 0
    deadline = 0.0

    async def one(offset: int) -> None:
        nonlocal errors
        client = RawHttpClient(port, "")
        n = offset
        try:
            while time.perf_counter() < deadline:
                path = paths[n % len(paths)]
                n += 1
                started = time.perf_counter()
                status, _ = await client.request("GET", path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                errors += status != 200
        finally:
            await client.close()

    server_before, pg_before = server_cpu_s(server), postgres_cpu_s(database)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(one(i) for i in range(clients)))
    wall = time.perf_counter() - started
    count = len(times)
    return {
        "clients": clients,
        "seconds": wall,
        "requests": count,
        "errors": errors,
        "per_s": count / wall,
        "p50_ms": statistics.median(times) if times else 0.0,
        "p99_ms": percentile(times, 0.99),
        "server_cpu_ms": (server_cpu_s(server) - server_before) * 1000 / max(count, 1),
        "postgres_cpu_ms": (postgres_cpu_s(database) - pg_before) * 1000 / max(count, 1),
    }


def pages(unit_id: int) -> dict[str, str]:
    return {
        "home": "/owner/",
        "statement": f"/owner/units/{unit_id}/statement",
        "payoff": f"/owner/units/{unit_id}/payoff",
        "receipts": "/owner/receipts",
        "letters": "/owner/letters",
    }


async def bench_one(database: str, url: str, args: argparse.Namespace, files: Path) -> dict[str, Any]:
    if database == "postgresql":
        await prepare_postgres(url, log)
    await asyncio.to_thread(upgrade, url)
    today = business_today()
    settings = Settings(database=DatabaseSettings(url=url), server=ServerSettings(files_dir=str(files)))
    log(f"{database}: living through {args.years} years with {1 + args.neighbours} units")
    seeded = await seed(url, settings, args.years, args.neighbours, today)
    log(f"{database}: seeded in {seeded.seconds:.0f} s: {seeded.rows}")
    await asyncio.to_thread(files.mkdir, parents=True, exist_ok=True)
    server = Server("granian", url, args.workers, None, files / f"server-{database}.log")
    os.environ["FEESVC_FILES_DIR"] = str(files)  # the server's CSRF secret and letters: not the repository's
    server.start()
    results: dict[str, Any] = {}
    try:
        await server.wait_healthy()
        cookie = await sign_in(server.port, await invitation_secret(url))
        for name, path in pages(seeded.unit_id).items():
            results[name] = await sequential(server.port, cookie, path, args.requests, server)
            log(f"  {name}: p99 {results[name]['p99_ms']:.1f} ms, server CPU {results[name]['server_cpu_ms']:.1f} ms")
        loop = await closed_loop(
            server.port,
            cookie,
            list(pages(seeded.unit_id).values()),
            args.clients,
            args.seconds,
            server,
            pg_database_name(url) if database == "postgresql" else None,
        )
    finally:
        server.stop()
    figures = {
        "database": database,
        "years": args.years,
        "units": 1 + args.neighbours,
        "rows": seeded.rows,
        "seed_s": seeded.seconds,
        "workers": args.workers,
        "pages": results,
        "closed_loop": loop,
        "load_average": os.getloadavg(),
    }
    print(table(figures), file=sys.stderr if args.json else sys.stdout, flush=True)
    return figures


def table(f: dict[str, Any]) -> str:
    load = " ".join(f"{x:.2f}" for x in f["load_average"])
    rows = f["rows"]
    lines = [
        f"{f['database']}: the measured unit's {f['years']} years: {rows['ledger entries']:,} ledger entries, "
        f"{rows['payments']:,} payments, {rows['letters']:,} letters; seed {f['seed_s']:.0f} s; "
        f"server: granian x {f['workers']}; load average {load}",
        f"{'page':<10} {'n':>4} {'KiB':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'server CPU ms':>13}",
    ]
    for name, r in f["pages"].items():
        lines.append(
            f"{name:<10} {r['requests']:>4} {r['bytes'] / 1024:>5.0f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['server_cpu_ms']:>13.1f}"
        )
    c = f["closed_loop"]
    lines.append(
        f"{c['clients']} clients over the five pages, {c['seconds']:.0f} s: {c['per_s']:.0f} requests/s, "
        f"p50 {c['p50_ms']:.1f} ms, p99 {c['p99_ms']:.1f} ms, errors {c['errors']}; CPU per request: "
        f"server {c['server_cpu_ms']:.1f} ms, PostgreSQL {c['postgres_cpu_ms']:.1f} ms"
    )
    worst = max(r["p99_ms"] for r in f["pages"].values())
    lines.append(
        f"target: each page's p99 < {TARGET_P99_MS:g} ms sequentially: {'met' if worst < TARGET_P99_MS else 'MISSED'} "
        f"(worst {worst:.1f} ms)"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--years", type=int, default=10, help="history of the measured unit (default 10)")
    parser.add_argument("--neighbours", type=int, default=4, help="other units of the estate (default 4)")
    parser.add_argument("--requests", type=int, default=200, help="timed GETs of each page (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the closed-loop run (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="closed-loop clients (default 4)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout, the tables on stderr")
    args = parser.parse_args(argv)
    if not 1 <= args.years <= 30:
        parser.error("--years must be between 1 and 30")
    if args.db != "sqlite":
        pg_database_name(args.pg_url)  # refuse early, before any work
    return args


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    figures = []
    with tempfile.TemporaryDirectory(prefix="feesvc-bench-owner-") as tmp:
        if args.db in ("sqlite", "both"):
            figures.append(await bench_one("sqlite", f"sqlite:///{tmp}/owner.db", args, Path(tmp) / "sqlite-files"))
        if args.db in ("postgresql", "both"):
            figures.append(await bench_one("postgresql", args.pg_url, args, Path(tmp) / "pg-files"))
    if args.json:
        print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
