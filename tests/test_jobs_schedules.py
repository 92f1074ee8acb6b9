"""Schedules as data (issue 21 item 2) and the single-machine way (item 5), on both databases.

The queue itself is tested on PostgreSQL in tests/test_jobs_workers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from feesvc.auth.models import Role
from feesvc.jobs.rules import accrual_day, billing_period, cron_problem, is_due, lock_key, minute_of, next_runs, run_day
from tests.support import Api, problem

SCHEDULES = [
    {"kind": "billing", "cron": "0 2 1 * *"},
    {"kind": "late_fees", "cron": "30 1 * * *"},
    {"kind": "plan_review", "cron": "45 1 * * *", "enabled": False},
    {"kind": "reminders", "cron": "0 9 * * 1-5"},
    {"kind": "outbox", "cron": "*/10 * * * *"},
]


def test_cron_read_in_shanghai() -> None:
    # 01:30 in Shanghai is 17:30 UTC the day before.
    minute = datetime(2026, 3, 31, 17, 30, 42, tzinfo=UTC)
    assert minute_of(minute) == datetime(2026, 3, 31, 17, 30, tzinfo=UTC)
    assert is_due("30 1 * * *", minute)
    assert not is_due("30 17 * * *", minute)
    assert run_day(minute) == date(2026, 4, 1)
    assert billing_period(run_day(minute)) == "2026-04"
    assert accrual_day(run_day(minute)) == date(2026, 3, 31)
    assert is_due("30 1 1 * *", minute)  # the 1st, in Shanghai
    assert next_runs("0 2 1 * *", minute, 2) == [  # 02:00 Shanghai on 1 April, then on 1 May
        datetime(2026, 3, 31, 18, 0, tzinfo=UTC),
        datetime(2026, 4, 30, 18, 0, tzinfo=UTC),
    ]


def test_cron_problems_say_what_to_send() -> None:
    assert cron_problem("30 1 * * *") is None
    assert "5 fields, this one 6" in (cron_problem("0 30 1 * * *") or "")
    assert "not a valid cron expression" in (cron_problem("61 1 * * *") or "")
    assert "minute hour" in (cron_problem("@daily") or "")


def test_lock_keys() -> None:
    assert lock_key("billing", 7) == "billing:estate:7"
    assert lock_key("billing", 7) != lock_key("late_fees", 7) != lock_key("billing", 8)
    assert lock_key("outbox", None) == "outbox"


async def test_put_and_get_schedules(api: Api) -> None:
    estate = await api.make_estate(units=1)
    path = f"/api/v1/estates/{estate.id}/schedules"
    assert await api.ok(await api.get(path)) == []
    saved = await api.ok(await api.put(path, SCHEDULES))
    assert [(s["kind"], s["cron"], s["enabled"]) for s in saved] == sorted(
        (s["kind"], s["cron"], s.get("enabled", True)) for s in SCHEDULES
    )
    by_kind = {s["kind"]: s for s in saved}
    assert by_kind["plan_review"]["next_runs"] == []  # disabled
    assert len(by_kind["billing"]["next_runs"]) == 3
    assert all(s["updated_by"].startswith("manager:test-manager#") for s in saved)
    assert await api.ok(await api.get(path)) == saved
    # Replaced whole: one left.
    [only] = await api.ok(await api.put(path, [{"kind": "billing", "cron": "0 3 1 * *"}]))
    assert only["cron"] == "0 3 1 * *"
    assert await api.ok(await api.put(path, [])) == []


async def test_bad_schedules_are_refused_naming_the_field(api: Api) -> None:
    estate = await api.make_estate(units=1)
    path = f"/api/v1/estates/{estate.id}/schedules"
    await api.ok(await api.put(path, [{"kind": "billing", "cron": "0 2 1 * *"}]))
    cases = [
        ([{"kind": "billing", "cron": "0 2 1 * * *"}], "[0].cron", "5 fields"),
        ([{"kind": "billing", "cron": "0 2 1 * *"}, {"kind": "billing", "cron": "0 3 1 * *"}], "[1].kind", "twice"),
        ([{"kind": "billing", "cron": "0 25 1 * *"}], "[0].cron", "not a valid cron"),
        ([{"kind": "reconciliation", "cron": "0 2 1 * *"}], "kind", None),
        ([{"kind": "billing"}], "cron", None),
        ([{"kind": "billing", "cron": "0 2 1 * *", "when": "now"}], "when", None),
    ]
    for body, field, words in cases:
        body_problem = problem(await api.put(path, body), (400, 422), field)
        if words:
            assert words in body_problem["detail"], body_problem
    # Nothing half-written: the first schedule stands.
    assert [s["cron"] for s in await api.ok(await api.get(path))] == ["0 2 1 * *"]
    problem(await api.put("/api/v1/estates/2147483000/schedules", []), 404)


async def test_schedules_and_jobs_are_for_managers(api: Api) -> None:
    estate = await api.make_estate(units=1)
    path = f"/api/v1/estates/{estate.id}/schedules"
    for role in (Role.cashier, Role.system):
        problem(await api.put(path, SCHEDULES, role), 403)
        problem(await api.get(path, role), 403)
        problem(await api.get("/api/v1/jobs", role), 403)
    jobs = await api.ok(await api.get("/api/v1/jobs", params={"status": "failed", "limit": 5}))
    assert isinstance(jobs, list)
    problem(await api.get("/api/v1/jobs", params={"status": "lost"}), 400, "status")
    problem(await api.get("/api/v1/jobs", params={"limit": 0}), 400, "limit")


async def test_schedule_change_is_audited(api: Api) -> None:
    from feesvc.audit.models import AuditEvent

    estate = await api.make_estate(units=1)
    await api.ok(await api.put(f"/api/v1/estates/{estate.id}/schedules", SCHEDULES[:1]))
    audited = await api.count(
        AuditEvent, AuditEvent.action == "job_schedules.replace", AuditEvent.entity_id == str(estate.id)
    )
    assert audited == 1


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "FEESVC_DATABASE_URL": f"sqlite:///{tmp_path / 'feesvc.db'}"}
    for args in (["worker"], ["jobs", "list"], ["jobs", "retry", "1"]):
        done = subprocess.run(
            [sys.executable, "-c", "from feesvc.cli import cli; cli()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done
        assert "the job queue needs PostgreSQL" in done.stderr and "cron" in done.stderr, done.stderr
