"""Benchmark: WeChat Pay payment notifications processed over HTTP on PostgreSQL.

    .venv/bin/python bench/online_notify.py [--orders 2000] [--units 500] [--clients 16] [--workers 2]
        [--replays 1] [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_online] [--json]

Target (issue 19): at least 300 notifications a second, p99 under 100 ms.

What one run does, all on 127.0.0.1 and in bounded time:

1. Rebuilds its own database (the name must contain "bench": its public schema is dropped) through
   the migrations, and starts ``feesvc serve --workers W`` with a secrets file of keys made here in
   WeChat Pay's formats (tests/online_support.py: merchant and platform RSA 2048 keys, a
   self-signed platform certificate, a 32-character APIv3 key).
2. Through the API: one estate with ``--units`` units, owners and a fee standard, two months billed.
3. ``--orders`` pending payment orders for those units, written straight to the table (placing them
   with WeChat Pay is not what is measured), each for the unit's two months.
4. For every order a signed, encrypted TRANSACTION.SUCCESS notification, and ``--replays`` more
   copies of each (WeChat Pay sends again until answered); all shuffled, signed just before the run
   (the platform's timestamp must be within 5 minutes).
5. C clients post them over keep-alive connections as fast as they are answered (closed loop); every
   latency is kept. Any answer but 204 is an error.
6. Checks: one payment per order, none for a replay; every order paid.

The load generator (httpx) runs in this process and shares the 2 CPUs with the server and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

import feesvc.models  # noqa: E402, F401  (every table, so foreign keys resolve)
from bench.common import prepare_postgres  # noqa: E402
from feesvc.auth.models import Role  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.auth.service import create_token  # noqa: E402
from feesvc.db import create_engine, session_factory, utcnow  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.online.models import OrderState, PaymentOrder  # noqa: E402
from feesvc.payments.models import Payment  # noqa: E402
from feesvc.settings import DatabaseSettings  # noqa: E402
from tests.online_support import Keys  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_online"
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def seed_estate(base: str, token: str, units: int) -> tuple[int, list[tuple[int, int]]]:
    """An estate through the API: units with owners, a fee standard, two months billed."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = await http.post(path, json=body)
            if answer.status_code not in (200, 201):
                raise SystemExit(f"seeding failed at {path}: {answer.status_code} {answer.text}")
            result: dict[str, Any] = answer.json()
            return result

        estate = await post("/api/v1/estates", {"code": "BENCH-ONLINE", "name": "压测小区", "company_name": "压测物业"})
        building = await post(f"/api/v1/estates/{estate['id']}/buildings", {"name": "1栋"})
        standard = {
            "unit_use": "residential", "item": "service_fee", "item_name": "物业服务费", "basis": "per_m2_month",
            "rate": "2.00", "effective_from": "2025-01-01", "posted_on": "2025-01-01",
            "decision_kind": "contract", "decision_ref": "前期物业服务合同",
        }  # fmt: skip
        await post(f"/api/v1/estates/{estate['id']}/fee-standards", standard)
        made = []
        for n in range(units):
            unit = await post(
                "/api/v1/units", {"building_id": building["id"], "number": f"{1001 + n}", "floor_area_m2": "100.00"}
            )
            owner = await post("/api/v1/owners", {"name": f"业主{n}"})
            await post(f"/api/v1/units/{unit['id']}/ownerships", {"owner_id": owner["id"], "starts_on": "2025-01-01"})
            made.append((unit["id"], owner["id"]))
        for period in ("2025-01", "2025-02"):
            await post(
                "/api/v1/billing-runs", {"estate_id": estate["id"], "period": period, "issued_on": f"{period}-01"}
            )
        return int(estate["id"]), made


def start_server(command: list[str], env: dict[str, str], server_log: Path) -> subprocess.Popen[bytes]:
    with server_log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_healthy(base: str, server_log: Path) -> None:
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start:\n" + server_log.read_text(errors="replace")[-2000:])


async def main(args: argparse.Namespace) -> dict[str, Any]:
    await prepare_postgres(args.pg_url, log)
    await asyncio.to_thread(upgrade, args.pg_url)
    engine = create_engine(DatabaseSettings(url=args.pg_url))
    sessions = session_factory(engine)
    async with sessions() as session:
        token, _ = await create_token(session, COMMAND_LINE, Role.manager, "bench")
    keys = Keys()
    folder = Path(tempfile.mkdtemp(prefix="feesvc-online-bench-"))
    keys.write(folder)
    secrets_file = folder / "secrets.toml"
    port = free_port()
    env = {
        **os.environ,
        "FEESVC_DATABASE_URL": args.pg_url,
        "FEESVC_ONLINE_SECRETS_FILE": str(secrets_file),
        "FEESVC_ACCESS_LOG": "0",
    }
    secrets_file.write_text("", encoding="utf-8")
    # This checkout's feesvc (not whichever one the environment's `feesvc` script was installed from).
    command = [sys.executable, "-c", "from feesvc.cli import cli; cli()", "serve", "--host", HOST, "--port", str(port),
               "--workers", str(args.workers)]  # fmt: skip
    server_log = folder / "server.log"
    server = await asyncio.to_thread(start_server, command, env, server_log)
    base = f"http://{HOST}:{port}"
    try:
        await asyncio.to_thread(wait_healthy, base, server_log)
        try:
            estate_id, units = await seed_estate(base, token, args.units)
        except SystemExit:
            log(server_log.read_text(errors="replace")[-3000:])
            raise
        secrets_file.write_text(keys.secrets_toml(estate_id, folder), encoding="utf-8")
        log(f"seeded estate {estate_id} with {len(units)} units")

        rng = random.Random(20261207)
        orders = []
        async with sessions() as session:
            rows = []
            for n in range(args.orders):
                unit_id, owner_id = units[n % len(units)]
                no = f"FSBENCH{n:020d}"
                rows.append({
                    "out_trade_no": no, "estate_id": estate_id, "unit_id": unit_id, "owner_id": owner_id,
                    "provider": "wechat", "channel": "native", "kind": "payoff", "charge_ids": None,
                    "amount_fen": 40000, "currency": "CNY", "description": "压测 物业费", "state": "pending",
                    "created_at": utcnow(), "expires_at": utcnow() + timedelta(hours=2),
                    "idempotency_key": f"{owner_id}:bench-{n}", "request_fingerprint": "0" * 64,
                    "created_by": "bench", "provider_ref": "weixin://wxpay/bizpayurl?pr=bench",
                })  # fmt: skip
                orders.append(no)
            await session.execute(insert(PaymentOrder), rows)
            await session.commit()
        transactions = [keys.transaction(no, 40000) for no in orders]
        notifications = [keys.wechat_notification(t) for t in transactions for _ in range(1 + args.replays)]
        rng.shuffle(notifications)
        log(f"posting {len(notifications)} notifications ({args.orders} orders, {args.replays} replays each)")

        queue: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        for item in notifications:
            queue.put_nowait(item)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        route = f"/api/v1/online/notify/wechat/{estate_id}"

        async def client() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                while not queue.empty():
                    headers, body = queue.get_nowait()
                    started = time.perf_counter()
                    answer = await http.post(route, content=body, headers=headers)
                    latencies.append(time.perf_counter() - started)
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(args.clients)))
        elapsed = time.perf_counter() - started
        async with sessions() as session:
            paid = (await session.execute(
                select(func.count()).select_from(PaymentOrder).where(
                    PaymentOrder.estate_id == estate_id, PaymentOrder.state == OrderState.paid)
            )).scalar_one()  # fmt: skip
            payments = (
                await session.execute(select(func.count()).select_from(Payment).where(Payment.estate_id == estate_id))
            ).scalar_one()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        await engine.dispose()
    latencies.sort()

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    result = {
        "notifications": len(notifications),
        "orders": args.orders,
        "clients": args.clients,
        "workers": args.workers,
        "seconds": round(elapsed, 2),
        "per_second": round(len(notifications) / elapsed, 1),
        "p50_ms": round(percentile(0.50), 1),
        "p99_ms": round(percentile(0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "statuses": statuses,
        "orders_paid": paid,
        "payments": payments,
        "ok": statuses == {204: len(notifications)} and paid == payments == args.orders,
    }
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replays", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    outcome = asyncio.run(main(parser.parse_args()))
    if parser.parse_args().json:
        print(json.dumps(outcome))
    else:
        for name, value in outcome.items():
            print(f"{name:>14}: {value}")
        print(
            "target: >= 300/s, p99 < 100 ms:",
            "met" if outcome["per_second"] >= 300 and outcome["p99_ms"] < 100 else "NOT met",
        )
    sys.exit(0 if outcome["ok"] else 1)
