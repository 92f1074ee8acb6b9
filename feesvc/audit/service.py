from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.models import AuditEvent
from feesvc.db import utcnow
from feesvc.request_context import current_request_id

if TYPE_CHECKING:
    from feesvc.auth.principal import Principal

_INSERT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


async def record_audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    entity: str,
    entity_id: object,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an audit event in the caller's transaction: it commits or rolls back with the change.

    A plain INSERT rather than an entity for the session to flush: nothing reads the event back,
    and it keeps the audit log off the cost of every write path."""
    await session.execute(_INSERT, audit_row(actor, action, entity, entity_id, detail))


def audit_row(
    actor: Principal, action: str, entity: str, entity_id: object, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The columns of an audit event (for a caller that writes it in a statement of its own)."""
    return {
        "at": utcnow(),
        "actor": actor.label,
        "role": actor.role.value,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "request_id": current_request_id(),
        "detail": detail,
    }
