"""What the scheduled runs report instead of stopping: a unit that cannot be processed.

Billing, the plan review, the reminder run and the late-fee accrual go through an estate unit by unit.
One unit whose data the run cannot handle must not stop the others (DOMAIN.md: the nightly jobs run
unattended), nor be half-written: its work runs in a savepoint, is rolled back on any error, and the
unit is reported with the reason, so the command exits with "needs attention" and somebody looks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.errors import DomainError

log = logging.getLogger(__name__)


class UnitReport(msgspec.Struct):
    """A unit a run left out, and why; the run's "needs attention" list."""

    unit_id: int
    reason: str


def reason_of(error: Exception) -> str:
    if isinstance(error, DomainError):
        return error.detail
    return f"{type(error).__name__}: {error}"


def report(reports: list[UnitReport], unit_id: int, error: Exception) -> None:
    log.warning("unit %s left out: %s", unit_id, error, exc_info=error)
    reports.append(UnitReport(unit_id, reason_of(error)))


@asynccontextmanager
async def unit_isolated(session: AsyncSession, unit_id: int, reports: list[UnitReport]) -> AsyncIterator[None]:
    """Run one unit's work in a savepoint: on an error it is rolled back, the unit reported, and the
    error swallowed (the run goes on with the next unit)."""
    savepoint = await session.begin_nested()
    try:
        yield
        await session.flush()  # the unit's writes fail here, inside its savepoint, if they fail
    except Exception as error:  # noqa: BLE001 - reported and rolled back; the run goes on
        if savepoint.is_active:
            await savepoint.rollback()
        report(reports, unit_id, error)
    else:
        await savepoint.commit()
