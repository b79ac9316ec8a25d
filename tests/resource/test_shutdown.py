"""A tokensmith with subscribers on its revocation stream stops cleanly: SIGTERM ends the
streams at once (the services reconnect elsewhere or later) instead of holding the shutdown for
uvicorn's whole graceful timeout and then cutting them."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.servers import start_server

pytestmark = pytest.mark.e2e

SECRET = "service-secret-for-the-shutdown-test-0123456789"


def test_sigterm_ends_open_streams_cleanly(tmp_path: Path) -> None:
    """The stream's response completes normally (no truncated chunk) when the server stops."""
    server = start_server(tmp_path / "data", {"SERVICE_CLIENTS": f"svc:{SECRET}"})
    auth = {"Authorization": "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()}
    opened, outcome = threading.Event(), []

    def follow() -> None:
        try:
            url = f"{server.url}/auth/revocations/stream"
            with httpx.stream("GET", url, headers=auth, timeout=60) as response:
                for _ in response.iter_lines():
                    opened.set()
            outcome.append("ended")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    reader = threading.Thread(target=follow)
    reader.start()
    try:
        assert opened.wait(30)
    finally:
        server.stop()
    reader.join(30)
    assert outcome == ["ended"]
    assert "Application shutdown complete" in server.log
