from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.models import AuditEvent
from feesvc.request_context import current_request_id

if TYPE_CHECKING:
    from feesvc.auth.principal import Principal


async def record_audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    entity: str,
    entity_id: object,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditEvent(
            actor=actor.label,
            role=actor.role.value,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            request_id=current_request_id(),
            detail=detail,
        )
    )
