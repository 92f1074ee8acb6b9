"""Logging for the server and the command line: one format, library noise off, an access log.

Litestar would configure the root logger at INFO on every app start (its default LoggingConfig),
which let every library's progress through: WeasyPrint writes a "Step N" line per stage of every
PDF, fontTools a line per font it subsets. The app leaves logging alone (``create_app``); the
command line sets it up here once: feesvc's own records from INFO (the access log, the runs'
reports), everything else from WARNING. ``feesvc --verbose``: feesvc's DEBUG and the libraries' INFO.

The access log (:func:`access_log_middleware`) writes one line a request, as ``key=value`` pairs:
request id, principal (the token's label, never its secret), method, path, status and duration.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from feesvc.request_context import begin_request, loggable_path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
access = logging.getLogger("feesvc.access")
ACCESS_LINE = "request_id=%s principal=%s method=%s path=%s status=%d duration_ms=%.1f"


class _Formatter(logging.Formatter):
    """FORMAT, with the time's text made once a second, not once a line (the access log writes a
    line a request: ``time.strftime`` was a sixth of its cost)."""

    _second = -1
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # called under the handler's lock
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = second
        return f"{self._text},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        # FORMAT, spelt out: the general path looks through the format string on every record.
        return f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - as logging does: report on stderr, never fail the caller
            self.handleError(record)


def configure_logging(verbose: bool = False, access_log: bool = True) -> None:
    """Records to stderr in one format: feesvc's from INFO (DEBUG if ``verbose``), the rest from
    WARNING (INFO if ``verbose``). Called again, it replaces its own handler, not adds one."""
    # Records carry no thread or process names (FORMAT shows none): the logging HOWTO's
    # "Optimization", a sixth of an access line's cost.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(_Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("feesvc").setLevel(logging.DEBUG if verbose else logging.INFO)
    access.setLevel(logging.INFO if access_log else logging.WARNING)


def _field(text: str) -> str:
    """A value as logfmt writes it: bare if it can be, else quoted (a name with spaces, a path with
    control characters cannot break the line)."""
    if text and text.isprintable() and " " not in text and '"' not in text and "=" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    """Outermost: the request id (``X-Request-ID`` if sent, else a new one) for the audit log and
    error bodies, and the access log line once the response is sent. When the access log is off
    (its logger not enabled for INFO), a request costs the id only."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = begin_request(incoming)
        if not access.isEnabledFor(logging.INFO):
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the server answers 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_noting_status)
        except Exception as error:
            # Raised by a middleware (401 from the token check): Litestar answers it outside us.
            status = getattr(error, "status_code", 500)
            raise
        finally:
            label = getattr(scope.get("user"), "label", None)
            values = (
                _field(request_id),
                _field(label) if isinstance(label, str) else "-",
                scope.get("method", "-"),
                _field(loggable_path(scope["path"])),
                status,
                (time.perf_counter() - started) * 1000,
            )
            # As access.info(…) would, without looking up the caller's file and line in the stack
            # (a fifth of the line's cost, and always this function).
            access.handle(logging.LogRecord(access.name, logging.INFO, __file__, 0, ACCESS_LINE, values, None))

    return middleware
