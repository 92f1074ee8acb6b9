"""Wire types of the schedules and the job listing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from feesvc.jobs.models import JobKind
from feesvc.jobs.rules import CRON_HINT
from feesvc.schemas import LINE_PATTERN, Body

CronText = Annotated[
    str,
    msgspec.Meta(
        pattern=LINE_PATTERN,
        min_length=9,
        max_length=100,
        description="a five-field cron expression read in Asia/Shanghai time",
        examples=["30 1 * * *"],
        extra={"send": CRON_HINT},
    ),
]


class ScheduleIn(Body):
    kind: JobKind
    cron: CronText
    enabled: bool = True


class ScheduleOut(msgspec.Struct):
    kind: str
    cron: str
    enabled: bool
    updated_by: str
    updated_at: datetime
    next_runs: list[datetime]  # the next three, UTC; none while disabled


class JobOut(msgspec.Struct):
    """A queued job as the queue holds it, with its latest attempt: where, how far, how it ended."""

    id: int
    task: str
    estate_id: int | None
    status: str  # todo, doing, succeeded, failed, cancelled, aborting, aborted
    attempts: int
    scheduled_at: datetime | None
    args: dict[str, object]
    hostname: str | None
    pid: int | None
    progress_done: int | None
    progress_total: int | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
