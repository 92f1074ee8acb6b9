"""Benchmark: building one evidence pack (证据包) of a unit with four years of arrears.

    .venv/bin/python bench/evidence_pack.py [--runs 5] [--db sqlite|postgresql]
        [--pg-url postgresql://postgres@127.0.0.1:5432/feesvc_evidence_bench] [--json]

The unit's history is the one ``tests/test_evidence.py`` builds through the API (48 months billed
with back-dated issue dates, partial payments, a broken installment plan, a complaint with its
inspection, two reminder runs and a final demand delivered by EMS with a PDF proof, late fees
accrued with court rates, a waiver, a classified and overridden case, service activity); seeding
is not timed. Then ``build_evidence_pack`` runs ``--runs`` times in this process and the script
prints the seconds of each stage: the queries, the analysis (late fees recomputed, limitation),
copying the proofs, each PDF, and writing filing.json, the ledger snapshot, the manifest and the
ZIP. The first build is reported apart: it pays for importing WeasyPrint and loading the fonts
once per process. Target: a warm build under 3 s. It prints figures and asserts nothing.

The PostgreSQL database is created if missing and its schema dropped and rebuilt, so the script
refuses a database whose name does not contain "bench"; it never touches the test databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(PROJECT_ROOT))

from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import prepare_postgres  # noqa: E402
from feesvc.app import create_app  # noqa: E402
from feesvc.auth.models import Role  # noqa: E402
from feesvc.auth.principal import COMMAND_LINE  # noqa: E402
from feesvc.auth.service import create_token  # noqa: E402
from feesvc.db import business_today, create_engine, session_factory  # noqa: E402
from feesvc.evidence.pack import Timings, build_evidence_pack  # noqa: E402
from feesvc.migrate import upgrade  # noqa: E402
from feesvc.settings import DatabaseSettings, ServerSettings, Settings  # noqa: E402
from tests.support import Api  # noqa: E402
from tests.test_evidence import build_history  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/feesvc_evidence_bench"


async def measure(url: str, files_dir: str, runs: int) -> dict[str, Any]:
    settings = Settings(database=DatabaseSettings(url=url), server=ServerSettings(files_dir=files_dir))
    engine = create_engine(settings.database)
    sessions = session_factory(engine)
    tokens = {}
    async with sessions() as s:
        for role in (Role.manager, Role.cashier, Role.system):
            tokens[role], _ = await create_token(s, COMMAND_LINE, role, f"bench-{role.value}")
    started = time.perf_counter()
    async with AsyncTestClient(app=create_app(settings)) as client:
        history = await build_history(Api(client, tokens, sessions), sessions)
    seeded = time.perf_counter() - started

    builds: list[tuple[float, dict[str, float], int, float, dict[str, float]]] = []
    for _ in range(runs + 1):
        timings = Timings()
        began, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session:
            pack = await build_evidence_pack(session, history.unit, business_today(), COMMAND_LINE, timings)
        builds.append((time.perf_counter() - began, timings.stages, len(pack), time.process_time() - cpu, timings.cpu))
    await engine.dispose()
    cold, warm = builds[0], builds[1:]
    stages = list(cold[1])
    return {
        "database": make_url(url).get_backend_name(),
        "seed_s": round(seeded, 2),
        "pack_bytes": cold[2],
        "cold_total_s": round(cold[0], 3),
        "warm_total_s": {
            "median": round(statistics.median(b[0] for b in warm), 3),
            "min": round(min(b[0] for b in warm), 3),
            "max": round(max(b[0] for b in warm), 3),
        },
        "warm_cpu_s": round(statistics.median(b[3] for b in warm), 3),
        "stages_s": {
            name: {
                "cold": round(cold[1][name], 3),
                "warm_median": round(statistics.median(b[1].get(name, 0.0) for b in warm), 3),
                "warm_min": round(min(b[1].get(name, 0.0) for b in warm), 3),
                "warm_cpu": round(statistics.median(b[4].get(name, 0.0) for b in warm), 3),
            }
            for name in stages
        },
        "runs": runs,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"evidence pack, {result['database']}: 48 months of arrears, mixed history "
        f"(seeded through the API in {result['seed_s']} s, not timed)",
        f"  pack: {result['pack_bytes'] / 1024:.0f} KiB",
        f"  first build (imports WeasyPrint, loads fonts): {result['cold_total_s']:.3f} s",
        f"  warm build, {result['runs']} runs: median {result['warm_total_s']['median']:.3f} s "
        f"(min {result['warm_total_s']['min']:.3f}, max {result['warm_total_s']['max']:.3f}); target < 3 s",
        f"  warm build, CPU time of this process (what contention from other processes does not inflate): "
        f"median {result['warm_cpu_s']:.3f} s",
        f"  load average at the end: {result['load']}",
        "  stage                          cold s  warm median  warm min  warm CPU",
    ]
    for name, f in result["stages_s"].items():
        lines.append(
            f"    {name:<28}{f['cold']:>7.3f}{f['warm_median']:>13.3f}{f['warm_min']:>10.3f}{f['warm_cpu']:>10.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feesvc-evidence-bench-") as tmp:
        if args.db == "postgresql":
            url = args.pg_url
            if "bench" not in (make_url(url).database or ""):
                raise SystemExit(f"refusing to wipe {url}: the database name must contain 'bench'")
            asyncio.run(prepare_postgres(url, lambda message: print(message, file=sys.stderr)))
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        result = asyncio.run(measure(url, str(Path(tmp) / "files"), args.runs))
    print(json.dumps(result, indent=2) if args.json else report(result))


if __name__ == "__main__":
    main()
