"""The request id, carried to the audit log and error bodies without threading it through every call."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("feesvc_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def begin_request(incoming: str | None) -> str:
    request_id = incoming if incoming and len(incoming) <= 64 else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id
