"""End to end: ``tokensmith serve`` as a real process, the way a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import running_server, start_server

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"


def signup(client: httpx.Client, email: str = "ada@example.com") -> dict[str, str]:
    client.post("/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
    response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return dict(response.json())


def test_full_lifecycle_against_the_real_server(tmp_path: Path) -> None:
    """Register, log in, call a protected route, refresh, log out: as the contract says."""
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        tokens = signup(client)
        auth = {"Authorization": f"Bearer {tokens['accessToken']}"}
        assert client.get("/auth/me", headers=auth).json()["email"] == "ada@example.com"
        rotated = client.post("/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
        assert rotated.status_code == 200
        new_auth = {"Authorization": f"Bearer {rotated.json()['accessToken']}"}
        assert client.post("/auth/logout", headers=new_auth).status_code == 200
        for headers in (auth, new_auth):
            revoked = client.get("/auth/me", headers=headers)
            assert revoked.status_code == 401 and revoked.json()["code"] == "TOKEN_REVOKED"
        assert client.get("/").status_code in (200, 404)
        assert client.get("/openapi.json").status_code == 200


def test_restart_keeps_secrets_and_revocations(tmp_path: Path) -> None:
    """Development secrets persist (nobody is logged out by a restart) and revocations made
    before the restart still hold."""
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        kept = signup(client, "ada@example.com")
        ended = client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        ).json()
        client.post("/auth/logout", headers={"Authorization": f"Bearer {ended['accessToken']}"})
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        ok = client.get("/auth/me", headers={"Authorization": f"Bearer {kept['accessToken']}"})
        assert ok.status_code == 200
        gone = client.get("/auth/me", headers={"Authorization": f"Bearer {ended['accessToken']}"})
        assert gone.json()["code"] == "TOKEN_REVOKED"
        refreshed = client.post("/auth/refresh", json={"refreshToken": kept["refreshToken"]})
        assert refreshed.status_code == 200


@pytest.mark.slow
def test_workers_share_revocations_within_100ms(tmp_path: Path) -> None:
    """With --workers 2 on SQLite, a logout answered by one worker is honoured by the other
    within 100 ms (connections are spread over both workers by the kernel)."""
    with running_server(tmp_path, workers=2) as server:
        delays = asyncio.run(_propagation_delays(server.url, rounds=5))
    assert max(delays) < 0.100, delays


async def _propagation_delays(url: str, rounds: int) -> list[float]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=url, limits=limits) for _ in range(12)]
    try:
        first = clients[0]
        await first.post("/auth/register", json={"email": "w@example.com", "password": PASSWORD})
        delays = []
        for _ in range(rounds):
            login = await first.post(
                "/auth/login", json={"email": "w@example.com", "password": PASSWORD}
            )
            auth = {"Authorization": f"Bearer {login.json()['accessToken']}"}
            # Warm every connection (and so both workers) with the live token.
            assert all(
                r.status_code == 200
                for r in await asyncio.gather(*(c.get("/auth/me", headers=auth) for c in clients))
            )
            await first.post("/auth/logout", headers=auth)
            start = time.perf_counter()
            # The delay is the latest moment a request *sent* after the logout was still
            # accepted by some worker: each connection polls until it sees the revocation.
            stale_until = await asyncio.gather(*(_last_accepted(c, auth, start) for c in clients))
            delays.append(max(stale_until))
        return delays
    finally:
        for client in clients:
            await client.aclose()


async def _last_accepted(client: httpx.AsyncClient, auth: dict[str, str], start: float) -> float:
    last = 0.0
    while True:
        sent = time.perf_counter() - start
        response = await client.get("/auth/me", headers=auth)
        if response.status_code == 401:
            return last
        last = sent
        assert sent < 2.0, "revocation never reached every worker"


def test_bad_configuration_stops_the_server_with_one_line(tmp_path: Path) -> None:
    """JWT_EXPIRES_IN=banana: exit status 2 and one line naming the variable, no traceback."""
    for env, variable in (
        ({"JWT_EXPIRES_IN": "banana"}, "JWT_EXPIRES_IN"),
        ({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "DATABASE_URL"),
        ({"TOKENSMITH_ENV": "production"}, "JWT_SECRET"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "tokensmith", "serve", "--port", "1"],
            env={"PATH": "/usr/bin:/bin", "TOKENSMITH_DATA_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert variable in lines[0]
        assert "Traceback" not in result.stderr


def test_server_reports_start_failure_clearly(tmp_path: Path) -> None:
    """start_server raises with the server's own output when it cannot start."""
    with pytest.raises(RuntimeError, match="JWT_EXPIRES_IN"):
        start_server(tmp_path, {"JWT_EXPIRES_IN": "nope"})


def test_a_response_leaves_in_one_write(tmp_path: Path) -> None:
    """``tokensmith serve`` runs uvicorn's httptools protocol with the head held for the body
    (``server/http_protocol.py``): on loopback one ``recv`` gets the whole response, refresh
    included, where uvicorn's own protocol sends the head and the body as two segments."""
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        refresh_token = signup(client)["refreshToken"]
        body = b'{"refreshToken":"%s"}' % refresh_token.encode()
        requests = {
            "/healthz": b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
            "/auth/refresh": b"POST /auth/refresh HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        }
        port = int(server.url.rsplit(":", 1)[1])
        for path, request in requests.items():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(request)
                first = sock.recv(65536)
            head, _, rest = first.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), (path, head)
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert len(rest) == length, f"{path}: the first read held {len(rest)} of {length}"


def test_a_worker_that_dies_is_replaced_and_logged_as_a_warning(tmp_path: Path) -> None:
    """A worker killed outright (the OOM killer, a crash) is replaced by uvicorn's supervisor,
    and the server's log says so at the default level, where uvicorn says it at INFO."""
    env = {"TOKENSMITH_LOG_LEVEL": "warning"}
    with running_server(tmp_path, env, workers=2) as server:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and f"[{workers[0]}] died" not in server.log:
            time.sleep(0.1)
        lines = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
        [died] = [e for e in lines if f"[{workers[0]}] died" in e["message"]]
        assert died["level"] == "warning"
        assert not [e for e in lines if e["level"] == "info"]  # the level still holds
        assert httpx.get(server.url + "/healthz").status_code == 200


def _children(pid: int) -> list[int]:
    """The worker processes of a supervisor: its children, multiprocessing's helper aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if ppid == pid and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def test_workers_share_the_cpus_for_hashing(tmp_path: Path) -> None:
    """``serve --workers 2`` tells its workers how many they are (``WEB_CONCURRENCY``), and
    each starts only its share of hashing processes, however many logins arrive at once."""
    cpus = os.cpu_count() or 2
    share = -(-cpus // 2)
    with running_server(tmp_path, {}, workers=2) as server:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        for pid in workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"WEB_CONCURRENCY=2" in environ

        def register(i: int) -> int:
            body = {"email": f"user{i}@example.com", "password": "correct horse battery"}
            return httpx.post(server.url + "/auth/register", json=body, timeout=60).status_code

        async def storm() -> list[int]:
            return list(await asyncio.gather(*(asyncio.to_thread(register, i) for i in range(12))))

        assert asyncio.run(storm()) == [201] * 12
        hashing = {pid: _hashing_children(pid) for pid in workers}
        assert sum(len(c) for c in hashing.values()) >= 1
        assert all(len(c) <= share for c in hashing.values()), hashing


def _hashing_children(pid: int) -> list[int]:
    return [
        child
        for child in _children(pid)
        if b"tokensmith.core.hashing_processes" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
