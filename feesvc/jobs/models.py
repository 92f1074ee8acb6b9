"""Per-estate schedules, what the dispatcher has deferred, each job attempt, and a print file's chunks.

The queue's own tables (``procrastinate_*``) are the library's, made by migration 0023 on
PostgreSQL; these are the service's records beside them, on both databases.
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from feesvc.db import UTCDateTime, str_enum, utcnow


class JobKind(enum.StrEnum):
    """The scheduled runs, each a job per estate (outbox delivery is one job for every estate)."""

    billing = "billing"
    late_fees = "late_fees"
    plan_review = "plan_review"
    reminders = "reminders"
    outbox = "outbox"


class JobStatus(enum.StrEnum):
    """The queue's states of a job."""

    todo = "todo"
    doing = "doing"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    aborting = "aborting"
    aborted = "aborted"


class JobSchedule(SQLModel, table=True):
    """When an estate's run of a kind is due: a five-field cron expression read in Asia/Shanghai."""

    __tablename__ = "job_schedule"
    __table_args__ = (UniqueConstraint("estate_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    kind: JobKind = Field(sa_type=str_enum(JobKind))
    cron: str = Field(max_length=100)
    enabled: bool = Field(default=True)
    updated_by: str = Field(max_length=120)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class JobDispatch(SQLModel, table=True):
    """A scheduled minute's run deferred once: the key makes the dispatcher idempotent."""

    __tablename__ = "job_dispatch"
    __table_args__ = (UniqueConstraint("estate_id", "kind", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="estate.id", index=True)
    kind: JobKind = Field(sa_type=str_enum(JobKind))
    scheduled_for: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The queue's job, or None when one for the same estate and kind was already waiting.
    job_id: int | None = Field(default=None, sa_type=BigInteger)
    dispatched_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AttemptOutcome(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    # The worker stopped heartbeating while it ran (killed, its machine lost): the queue retried it.
    lost = "lost"


class JobAttempt(SQLModel, table=True):
    """One try of a queued job on one worker: where it ran, how far it got, how it ended."""

    __tablename__ = "job_attempt"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(sa_type=BigInteger, index=True)
    task: str = Field(max_length=128)
    estate_id: int | None = Field(default=None, index=True)
    attempt: int
    hostname: str = Field(max_length=255)
    pid: int
    outcome: AttemptOutcome = Field(sa_type=str_enum(AttemptOutcome))
    progress_done: int | None = Field(default=None)
    progress_total: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=2000)
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class PrintFileChunk(SQLModel, table=True):
    """A slice of a reminder run's paper letters (by letter id, in print order), rendered into a
    stored PDF by whichever worker took its job; the print file joins them when all are done."""

    __tablename__ = "print_file_chunk"
    __table_args__ = (UniqueConstraint("run_id", "chunk"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="reminder_run.id", index=True)
    chunk: int
    first_letter_id: int
    last_letter_id: int
    letters: int
    document_path: str | None = Field(default=None, max_length=300)
    document_sha256: str | None = Field(default=None, max_length=64)
    pages: int | None = Field(default=None)
    hostname: str | None = Field(default=None, max_length=255)
    pid: int | None = Field(default=None)
    rendered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
