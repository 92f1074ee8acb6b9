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


# A path that carries a secret: an owner's invitation link (feesvc.signin).
SECRET_IN_PATH = "/owner/invitation/"


def loggable_path(path: str) -> str:
    """The path as logs may show it: an invitation link's secret left out."""
    return SECRET_IN_PATH + "…" if path.startswith(SECRET_IN_PATH) else path
