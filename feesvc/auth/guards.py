"""Route guards: a route states the roles that may call it; nothing else decides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from feesvc.auth.models import Role
from feesvc.auth.principal import Principal

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
# The roles each guard lets through, for the OpenAPI document (feesvc.openapi).
GUARD_ROLES: dict[Guard, frozenset[Role]] = {}


def requires(*roles: Role) -> Guard:
    allowed = frozenset(roles)

    # Async, so Litestar calls it inline instead of through a worker thread.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("a bearer token is required")
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedException(f"this needs one of the roles: {names}")

    GUARD_ROLES[guard] = allowed
    return guard


staff = requires(Role.cashier, Role.manager, Role.system)
desk = requires(Role.cashier, Role.manager)
managers = requires(Role.manager)
managers_or_system = requires(Role.manager, Role.system)
anyone = requires(Role.cashier, Role.manager, Role.system, Role.owner)
