"""Benchmark: the app's own cost of a payment, with no HTTP server, for profiling and callgrind.

    .venv/bin/python bench/payments_inprocess.py [--scenario A|B] [--payments 4000] [--concurrency 16]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_bench_inprocess] [--reuse-seed] [--callgrind]

Seeds its database as ``payments_http.py`` does (unless ``--reuse-seed``), starts the app's
lifespan in this process, and posts payments straight into the ASGI app: ``--concurrency`` tasks,
each posting ``POST /api/v1/payments`` with a fresh Idempotency-Key to a random unit of the
scenario (A: all 10,000 units; B: estate 50's 200). After a warm-up (50 payments per task, not
counted) it prints payments per second, this process's CPU per payment (the app: routing, auth,
the service, the driver; no HTTP parsing, no sockets but PostgreSQL's) and PostgreSQL's (its
database's backends and the server-wide writers, from /proc, as ``payments_http.py`` counts them).

``--callgrind``: run under ``valgrind --tool=callgrind --instr-atstart=no``; collection is switched
on only around the timed payments (``callgrind_control -i on``), so the instruction count divided by
the payments is the app's user-space instructions per payment, repeatable to about 1 % whatever else
the machine does:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/payments_inprocess.py --reuse-seed --payments 200 --concurrency 8 --callgrind
    callgrind_annotate /tmp/cg.out | head -n 20    # PROGRAM TOTALS / 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.common import cpu_s, pg_database_name, prepare_postgres  # noqa: E402
from bench.payments_http import payment_body, postgres_cpu_s, scenario_units, seed  # noqa: E402
from feesvc.app import create_app  # noqa: E402
from feesvc.db import business_today  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.settings import DatabaseSettings, Settings  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_bench_inprocess"
WARMUP_PER_TASK = 50


class InProcessApp:
    """The ASGI app with its lifespan started, called without a server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lifespan: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        started = asyncio.get_running_loop().create_future()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set_result(None)
            elif message["type"] == "lifespan.startup.failed":
                started.set_exception(RuntimeError(message.get("message", "startup failed")))

        await self._lifespan.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._lifespan.get, send))
        await started

    async def stop(self) -> None:
        await self._lifespan.put({"type": "lifespan.shutdown"})
        if self._task is not None:
            await self._task

    async def post(self, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        """One request; its status."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"content-length", str(len(body)).encode()), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def callgrind_collect(on: bool) -> None:
    command = ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())]
    subprocess.run(command, check=True, capture_output=True)


async def seeded_token(args: argparse.Namespace) -> str:
    """The cashier token of the seeded database: a new seed's, or the last one's (``--reuse-seed``)."""
    token_file = Path(args.token_file)
    if args.reuse_seed:
        return (await asyncio.to_thread(token_file.read_text)).strip()
    await prepare_postgres(args.pg_url, print)
    await asyncio.to_thread(upgrade, args.pg_url)
    token = (await seed(args.pg_url, business_today())).token
    await asyncio.to_thread(token_file.write_text, token)
    return token


async def run(args: argparse.Namespace) -> None:
    token = await seeded_token(args)
    app = InProcessApp(create_app(Settings(database=DatabaseSettings(url=args.pg_url))))
    await app.start()
    units = scenario_units(args.scenario)
    prefix = uuid.uuid4().hex[:8]
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    errors = 0

    async def poster(task: int, count: int) -> None:
        nonlocal errors
        rng = random.Random(task)
        for i in range(count):
            key = f"{prefix}-{task}-{i}".encode()
            body = payment_body(rng, rng.choice(units))
            if await app.post("/api/v1/payments", body, [*headers, (b"idempotency-key", key)]) != 201:
                errors += 1

    try:
        await asyncio.gather(*(poster(-1 - n, WARMUP_PER_TASK) for n in range(args.concurrency)))
        per_task = args.payments // args.concurrency
        if args.callgrind:
            await asyncio.to_thread(callgrind_collect, True)
        database = pg_database_name(args.pg_url)
        cpu, postgres, started = cpu_s(), postgres_cpu_s(database), time.perf_counter()
        await asyncio.gather(*(poster(n, per_task) for n in range(args.concurrency)))
        elapsed, cpu, postgres = time.perf_counter() - started, cpu_s() - cpu, postgres_cpu_s(database) - postgres
        if args.callgrind:
            await asyncio.to_thread(callgrind_collect, False)
    finally:
        await app.stop()
    done = per_task * args.concurrency
    print(
        f"scenario {args.scenario}: {done} payments, {args.concurrency} at once, {done / elapsed:,.0f}/s; "
        f"CPU a payment: this process {1000 * cpu / done:.3f} ms, PostgreSQL {1000 * postgres / done:.3f} ms; "
        f"errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="A payment's cost inside the app, without an HTTP server.")
    parser.add_argument("--scenario", choices=["A", "B"], default="A")
    parser.add_argument("--payments", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--reuse-seed", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--token-file", default="/tmp/feesvc-bench-inprocess.token", help=argparse.SUPPRESS)
    parser.add_argument("--callgrind", action="store_true", help="switch callgrind's collection on around the count")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
