"""Backpressure end to end: a subscriber that stops reading (its socket full) is dropped once
``REVOCATION_STREAM_BUFFER`` events wait for it, while a reading subscriber gets everything; the
dropped one, reading again, finds its stream ended and resumes from its last cursor with no
revocation missed."""

from __future__ import annotations

import base64
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.databases import run_async
from tests.support.servers import start_server
from tokensmith.core.models import Revocation
from tokensmith.storage.sql.database import SqlDatabase

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "service-secret-for-the-backpressure-test-0123456789"
AUTH = "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()
UNTIL = datetime.now(UTC) + timedelta(hours=1)


def write_revocations(url: str, prefix: str, n: int) -> None:
    """Revocations written straight into the log (as another instance would), in one commit."""

    async def run() -> None:
        db = SqlDatabase(url)
        try:
            async with db.transaction(write=True) as uow:
                await uow.revocations.add(
                    [Revocation(f"{prefix}-{i:06d}-{'x' * 10}", UNTIL) for i in range(n)]
                )
        finally:
            await db.close()

    run_async(run())


def stalled_subscriber(url: str) -> socket.socket:
    """A raw connection to the stream with a tiny receive buffer, that reads nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET /auth/revocations/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: {AUTH}\r\n"
        "Accept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def drain(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything the server sent until it ended the stream (EOF)."""
    sock.settimeout(timeout_s)
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_a_stalled_subscriber_is_dropped_and_resumes_without_loss(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'ts.db'}"
    server = start_server(
        tmp_path / "data",
        {"SERVICE_CLIENTS": f"svc:{SECRET}", "REVOCATION_STREAM_BUFFER": "4",
         "DATABASE_URL": db_url},
    )  # fmt: skip
    seen: list[str] = []
    reading = threading.Event()

    def follow() -> None:
        url = f"{server.url}/auth/revocations/stream"
        with httpx.stream("GET", url, headers={"Authorization": AUTH}, timeout=60) as r:
            for line in r.iter_lines():
                reading.set()
                if line.startswith("data: "):
                    seen.append(line)
                if any("last-000000" in s for s in seen):
                    return

    reader = threading.Thread(target=follow, daemon=True)
    try:
        reader.start()
        assert reading.wait(30)
        slow = stalled_subscriber(server.url)
        time.sleep(1.0)
        # One event far larger than every buffer on the way (the kernel may let a socket
        # buffer 4 MiB), then more
        # events than REVOCATION_STREAM_BUFFER, each its own commit and poll.
        write_revocations(db_url, "big", 100_000)
        for k in range(8):
            time.sleep(1.2)
            write_revocations(db_url, f"small{k}", 1)
        time.sleep(1.2)
        write_revocations(db_url, "last", 1)
        reader.join(30)
        assert any("last-000000" in s for s in seen), "the reading subscriber got everything"
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "tokensmith_revocation_stream_dropped 1.0" in metrics
        # The stalled one reads again: what was in flight, then the end of its stream.
        received = drain(slow, 30).decode(errors="replace")
        slow.close()
        ids = [line[4:] for line in received.splitlines() if line.startswith("id: ")]
        assert ids, received[:500]
        assert "last-000000" not in received  # it was dropped before that one
        resumed = httpx.get(
            f"{server.url}/auth/revocations",
            headers={"Authorization": AUTH, "Last-Event-ID": ids[-1]},
        ).json()
        sids = {r["sid"].split("-")[0] for r in resumed["revocations"]}
        assert {"last", *(f"small{k}" for k in range(8))} <= sids | _small_seen(received)
    finally:
        server.stop()


def _small_seen(received: str) -> set[str]:
    return {f"small{k}" for k in range(8) if f"small{k}-" in received}
