"""Domain errors and their RFC 9457 problem-details rendering.

Services raise the errors below; the HTTP layer turns every error, ours or Litestar's, into an
``application/problem+json`` body naming the field and the reason. Nothing else builds error bodies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import IntegrityError

from feesvc.decoding import explain_parameters
from feesvc.request_context import current_request_id, loggable_path

log = logging.getLogger("feesvc")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    status_code = 422
    title = "The request cannot be carried out"

    def __init__(self, detail: str, *, field: str | None = None, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or ([FieldError(field, detail)] if field else [])


class InvalidInput(DomainError):
    status_code = 422
    title = "Invalid input"


class NotFound(DomainError):
    status_code = 404
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"


class Forbidden(DomainError):
    status_code = 403
    title = "Forbidden"


def problem(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem(request, exc.status_code, exc.title, exc.detail, exc.errors)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    items = [item for item in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(item, dict)]
    if any(item.get("source") == "path" for item in items):
        # A path names a record; one whose id is outside its column's range cannot exist.
        return problem(request, 404, "Not found", f"nothing is found at {request.url.path}")
    items = explain_parameters(request, items, str(exc.detail))
    errors = [FieldError(str(i.get("key") or i.get("source") or "body"), str(i.get("message"))) for i in items]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or exc.detail
    return problem(request, 400, "Invalid input", detail, errors)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    title = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
        415: "Unsupported media type",
    }.get(exc.status_code, "Request failed")
    return problem(request, exc.status_code, title, exc.detail, headers=exc.headers)


def _integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    # Services check what they can first; this is the net for races between two writers.
    where = (current_request_id(), request.method, loggable_path(request.url.path))
    log.warning("request_id=%s %s %s: integrity error: %s", *where, exc.orig)
    detail = (
        "nothing was written: the change conflicts with a record written at the same moment or already "
        "there; read the current state and send it again if it still applies"
    )
    return problem(request, 409, "Conflict", detail)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error(
        "request_id=%s %s %s: unhandled error",
        current_request_id(),
        request.method,
        loggable_path(request.url.path),
        exc_info=exc,
    )
    return problem(request, 500, "Internal error", "an unexpected error occurred; nothing was written")


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    IntegrityError: _integrity_error,
    Exception: _unexpected_error,
}
