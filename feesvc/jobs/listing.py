"""The queue's jobs as people look at them: state, progress, duration and errors; retry and cancel.

State is the queue's own (``procrastinate_jobs``); where, how far and why it failed come from the
job's latest attempt (``job_attempt``).
"""

from __future__ import annotations

from datetime import datetime

import procrastinate
from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.db import is_postgres, utcnow
from feesvc.errors import Conflict, NotFound
from feesvc.jobs.schemas import JobOut

_LIST = text(
    """
    SELECT j.id, j.task_name, j.status::text AS status, j.attempts, j.scheduled_at, j.args,
           a.estate_id, a.hostname, a.pid, a.progress_done, a.progress_total, a.started_at, a.finished_at,
           a.error
      FROM procrastinate_jobs j
      LEFT JOIN LATERAL (
           SELECT * FROM job_attempt WHERE job_attempt.job_id = j.id ORDER BY job_attempt.id DESC LIMIT 1
      ) a ON true
     WHERE (CAST(:status AS text) IS NULL OR j.status::text = CAST(:status AS text))
       AND (CAST(:estate_id AS integer) IS NULL OR (j.args ->> 'estate_id')::integer = CAST(:estate_id AS integer))
       AND (CAST(:job_id AS bigint) IS NULL OR j.id = CAST(:job_id AS bigint))
     ORDER BY j.id DESC
     LIMIT :limit
    """
).bindparams(
    bindparam("status", type_=String),
    bindparam("estate_id", type_=Integer),
    bindparam("job_id", type_=Integer),
    bindparam("limit", type_=Integer),
)


def _duration(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None:
        return None
    return round(((finished or utcnow()) - started).total_seconds(), 3)


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None = None,
    estate_id: int | None = None,
    job_id: int | None = None,
    limit: int = 100,
) -> list[JobOut]:
    """The newest jobs first. On SQLite there is no queue, so no jobs."""
    if not is_postgres(session):
        return []
    rows = await session.execute(_LIST, {"status": status, "estate_id": estate_id, "job_id": job_id, "limit": limit})
    jobs = []
    for r in rows.mappings():
        args = dict(r["args"] or {})
        estate = r["estate_id"] if r["estate_id"] is not None else args.get("estate_id")
        jobs.append(
            JobOut(
                id=r["id"],
                task=r["task_name"],
                estate_id=estate,
                status=r["status"],
                attempts=r["attempts"],
                scheduled_at=r["scheduled_at"],
                args=args,
                hostname=r["hostname"],
                pid=r["pid"],
                progress_done=r["progress_done"],
                progress_total=r["progress_total"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                duration_seconds=_duration(r["started_at"], r["finished_at"]),
                error=r["error"],
            )
        )
    return jobs


async def _job(session: AsyncSession, job_id: int) -> JobOut:
    found = await list_jobs(session, job_id=job_id, limit=1)
    if not found:
        raise NotFound(f"job {job_id} does not exist")
    return found[0]


async def retry_job(app: procrastinate.App, session: AsyncSession, job_id: int) -> None:
    """Run a failed job again now (the queue's own retry, which takes failed jobs)."""
    job = await _job(session, job_id)
    if job.status != "failed":
        raise Conflict(f"job {job_id} is {job.status}: only a failed job is retried")
    await app.job_manager.retry_job_by_id_async(job_id, retry_at=utcnow())


async def cancel_job(app: procrastinate.App, session: AsyncSession, job_id: int) -> str:
    """Cancel a waiting job, or ask a running one to stop; its new status."""
    job = await _job(session, job_id)
    if job.status not in ("todo", "doing"):
        raise Conflict(f"job {job_id} is {job.status}: only a waiting or running job is cancelled")
    await app.job_manager.cancel_job_by_id_async(job_id, abort=job.status == "doing")
    return (await _job(session, job_id)).status
