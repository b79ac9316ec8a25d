"""Structured logs: one JSON object a line, with the request id, and never a token or a secret.

* :class:`RequestLogMiddleware` (pure ASGI) takes ``X-Request-ID`` from the request when it is a
  sane identifier, else makes one, echoes it on the response, keeps it in a context variable for
  every log line written while the request runs, and writes one access line per request: method,
  path (without the query string), status, duration.
* :class:`JsonFormatter` writes the lines and scrubs anything that looks like a JWT or a Bearer
  credential from messages, extra fields and tracebacks; fields named like a secret are dropped.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "JsonFormatter",
    "RequestLogMiddleware",
    "WorkerDeaths",
    "configure_logging",
    "current_request_id",
    "redact",
]

REQUEST_ID_HEADER: Final = "x-request-id"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tokensmith_request_id", default=None
)
# Accepted from clients as is: short, and no characters that could forge a log line or a header.
_SANE_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CREDENTIAL: Final = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_FIELD: Final = re.compile(r"(?i)(token|secret|password|authorization|cookie|csrf)")
_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

access_log = logging.getLogger("tokensmith.access")


def current_request_id() -> str | None:
    """The id of the request being served by this task, if any."""
    return _request_id.get()


def redact(text: str) -> str:
    """Replace anything shaped like a JWT or an HTTP credential."""
    return _CREDENTIAL.sub(r"\1 [redacted]", _JWT.sub("[redacted-jwt]", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = _request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name in _STANDARD_ATTRS or name.startswith("_") or name in entry:
                continue
            if _SECRET_FIELD.search(name):
                continue  # never log a field that may hold a credential, whatever it holds
            entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, separators=(",", ":"))


class WorkerDeaths(logging.Filter):
    """uvicorn's supervisor reports a worker that died (and is replaced) at INFO, so a server
    logging at ``warning`` never showed it; a worker dying drops the requests it held, and an
    operator should see it. The filter raises that line to WARNING and lets every other
    ``uvicorn.error`` record through only at ``threshold`` (the root's level) or above, as the
    root's level would."""

    _DIED: Final = re.compile(r"^Child process \[\d+\] died$")

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and self._DIED.match(record.getMessage()):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return record.levelno >= self.threshold


def configure_logging(level: str, *, json_lines: bool = True) -> None:
    """JSON lines on stderr for the whole process (uvicorn's loggers included when uvicorn is
    started with ``log_config=None``)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    supervisor = logging.getLogger("uvicorn.error")
    for old in [f for f in supervisor.filters if isinstance(f, WorkerDeaths)]:
        supervisor.removeFilter(old)
    supervisor.addFilter(WorkerDeaths(root.level))
    supervisor.setLevel(min(logging.INFO, root.level))  # so the filter sees the INFO line
    # The database layers log SQL with its parameters (password hashes included): SQLAlchemy's
    # engine at INFO, the drivers at DEBUG. Never below WARNING, whatever level was asked for.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


class RequestLogMiddleware:
    """Pure ASGI: request id in, request id out, one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or os.urandom(16).hex()  # uuid4: 4x the cost
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        reset = _request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Access lines cost ~30 us each, a fifth of a protected request: they are written at
            # debug level (TOKENSMITH_LOG_LEVEL=debug), while server errors always are.
            level = logging.WARNING if status >= 500 else logging.DEBUG
            if access_log.isEnabledFor(level):
                access_log.log(
                    level,
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],  # never the query string: it may carry a token
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client_ip": (scope.get("client") or (None,))[0],
                    },
                )
            _request_id.reset(reset)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.match(text) else None
    return None
