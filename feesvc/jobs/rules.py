"""Rules of the schedules and the queue's keys: plain functions over data, no models, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

SHANGHAI = ZoneInfo("Asia/Shanghai")
CRON_FIELDS = 5  # minute hour day month weekday: the dispatcher looks once a minute
CRON_HINT = "five fields, minute hour day-of-month month day-of-week, Asia/Shanghai time, e.g. '30 1 * * *'"


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a schedule the dispatcher can keep, or None when it is."""
    fields = expression.split()
    if len(fields) != CRON_FIELDS:
        return f"a cron expression has {CRON_FIELDS} fields, this one {len(fields)}: send {CRON_HINT}"
    if not croniter.is_valid(expression):
        return f"not a valid cron expression: send {CRON_HINT}"
    return None


def minute_of(moment: datetime) -> datetime:
    """The UTC minute a moment falls in: the dispatcher's unit, and its idempotency key's."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def is_due(expression: str, minute: datetime) -> bool:
    """Whether the schedule fires in this minute, read on Shanghai's clock."""
    return bool(croniter.match(expression, minute.astimezone(SHANGHAI).replace(tzinfo=None)))


def run_day(minute: datetime) -> date:
    """The business day a scheduled minute runs for: its date in Shanghai."""
    return minute.astimezone(SHANGHAI).date()


def accrual_day(day: date) -> date:
    """Late fees are accrued up to the day before the run (README: the month's last day, run on
    the 1st before the month's bills), as ``feesvc accrue --as-of yesterday`` does from cron."""
    return day - timedelta(days=1)


def billing_period(day: date) -> str:
    """A billing run issues the period of the month it runs in."""
    return f"{day:%Y-%m}"


def next_runs(expression: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` minutes the schedule fires after ``after``, in UTC (shown beside it)."""
    start = after.astimezone(SHANGHAI)
    it = croniter(expression, start)
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def lock_key(kind: str, estate_id: int | None) -> str:
    """The queue's lock (one job running) and queueing lock (one waiting) of an estate's run of a
    kind; the outbox is one queue for all estates, so its key names no estate."""
    return f"{kind}" if estate_id is None else f"{kind}:estate:{estate_id}"


def backoff(attempts: int, base: float = 2.0, cap: float = 300.0) -> timedelta:
    """Wait before retrying a job that met a transient fault: 2, 4, 8 … seconds, at most 5 minutes."""
    return timedelta(seconds=min(cap, base ** (attempts + 1)))
