"""What the benchmarks share: their PostgreSQL database (made, emptied, refused unless it is a
benchmark's own on loopback) and the CPU and memory readings of a process."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url


def pg_database_name(url: str) -> str:
    """The database's name; refused unless it contains "bench" (a benchmark drops its schema)."""
    name = make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(
            f"refusing to use PostgreSQL database {name!r}: the benchmark drops its public schema, "
            "so the database name must contain 'bench'"
        )
    return name


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """Keyword arguments for ``asyncpg.connect``; refused unless the server is on loopback."""
    parsed = make_url(url)
    if parsed.host not in (None, "127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing {parsed.host!r}: the benchmarks only talk to a database on loopback")
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": parsed.database,
    }


async def prepare_postgres(url: str, log: Callable[[str], None]) -> None:
    """Create the benchmark's database if it is missing, and empty its public schema."""
    import asyncpg

    name = pg_database_name(url)
    connect = asyncpg_connect_args(url)
    admin = await asyncpg.connect(**{**connect, "database": "postgres"})
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')  # asyncpg is in autocommit here
            log(f"created database {name}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(**connect)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def cpu_s() -> float:
    """CPU seconds this process has used (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_status_mib(key: str) -> float:
    """A memory line of /proc/self/status (e.g. ``VmRSS:``) in MiB; 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mib() -> float:
    """Current resident set size (VmRSS) in MiB."""
    return proc_status_mib("VmRSS:")


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds of another process (a PostgreSQL backend, a server worker), from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_server_cpu_s() -> float | None:
    """CPU seconds of the local PostgreSQL server so far, from /proc: its live processes' own, and
    its postmaster's reaped children's (the backends that have exited). None where /proc shows none."""
    total, found = 0.0, False
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        if raw[raw.index("(") + 1 : raw.rindex(")")] != "postgres":
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        found = True
        total += (int(fields[11]) + int(fields[12])) / tick
        if fields[1] == "1" or not _is_postgres(int(fields[1])):  # the postmaster: its exited children too
            total += (int(fields[13]) + int(fields[14])) / tick
    return total if found else None


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def children_cpu_s() -> float:
    """CPU seconds of this process's reaped children (and theirs, reaped by them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_backends_cpu_s(database: str) -> dict[int, float]:
    """CPU seconds so far of each live PostgreSQL backend connected to ``database`` (its process
    title names the database), by pid: sampled while they live, they tell one database's share of a
    server other work shares."""
    found: dict[int, float] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            pid = int(cmdline.parent.name)
            cpu = process_cpu_s(pid)
            if cpu is not None:
                found[pid] = cpu
    return found
