"""Structured JSON logs with a request id, and never a token or a secret."""

from __future__ import annotations

import io
import json
import logging
import re

from tests.support.inprocess import Api, bearer
from tests.support.logs import entries
from tokensmith.server.logging import WorkerDeaths, redact


async def test_request_id_is_echoed_when_sane_and_generated_otherwise(api: Api) -> None:
    """X-Request-ID comes back as sent; absent or unsafe, a fresh one is made."""
    sent = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123.def"})
    assert sent.headers["x-request-id"] == "abc-123.def"
    made = await api.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    unsafe = await api.client.get("/healthz", headers={"X-Request-ID": 'x" injected=1'})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
    missing = await api.client.get("/no/such/path")
    assert "x-request-id" in missing.headers


async def test_access_line_is_json_with_request_id_and_no_query_string(
    api: Api, log_lines: io.StringIO
) -> None:
    """One access line per request: method, path without the query, status, duration, id."""
    await api.client.get(
        "/healthz?token=eyJhbGciOiJIUzI1NiJ9.e30.abc", headers={"X-Request-ID": "r1"}
    )
    [line] = [e for e in entries(log_lines) if e["logger"] == "tokensmith.access"]
    assert line["request_id"] == "r1"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert "eyJ" not in json.dumps(line)
    assert "token=" not in json.dumps(line)


async def test_tokens_never_reach_the_logs(api: Api, log_lines: io.StringIO) -> None:
    """A whole session's worth of requests logs no token, password or secret."""
    tokens = await api.signed_up()
    await api.refresh(tokens["refreshToken"])
    await api.refresh(tokens["refreshToken"])
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    logging.getLogger("tokensmith.test").warning(
        "got %s", tokens["accessToken"], extra={"refresh_token": tokens["refreshToken"]}
    )
    text = log_lines.getvalue()
    assert text
    for secret in (tokens["accessToken"], tokens["refreshToken"], "correct horse battery"):
        assert secret not in text
    assert "[redacted-jwt]" in text


def test_redact_scrubs_jwts_and_credentials() -> None:
    """JWT-shaped strings and Authorization credentials are replaced."""
    text = "Authorization: Bearer abc.def-ghi and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"
    assert redact(text) == "Authorization: Bearer [redacted] and [redacted-jwt]"
    assert redact("Basic dXNlcjpwYXNz") == "Basic [redacted]"


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", level, __file__, 1, message, None, None)


def test_a_dead_worker_is_a_warning_and_other_info_lines_stay_below_it() -> None:
    """uvicorn's supervisor says "Child process [N] died" at INFO: raised to WARNING, so an
    operator at the default level sees it; uvicorn's other INFO lines are held to the level."""
    at_warning = WorkerDeaths(logging.WARNING)
    died = _record(logging.INFO, "Child process [%d] died")
    died.args = (4242,)
    assert at_warning.filter(died) and died.levelname == "WARNING"
    assert not at_warning.filter(_record(logging.INFO, "Started parent process [1]"))
    assert at_warning.filter(_record(logging.ERROR, "Exception in ASGI application"))
    assert WorkerDeaths(logging.INFO).filter(_record(logging.INFO, "Started parent process [1]"))
