"""Real processes: a service's Verifier follows a running tokensmith; tokensmith is restarted
and killed with SIGKILL while the service runs, and sessions are logged out (at a second
instance on the same database) during each outage. The verifier reconnects, resumes from its
cursor and misses no revocation."""

from __future__ import annotations

import base64
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.inprocess import PASSWORD
from tests.support.servers import ServerProcess, free_port, start_server
from tokensmith.errors import TokenRevoked
from tokensmith.verify import Verifier

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JWT_SECRET = "access-secret-for-the-fault-tests-0123456789"
CLIENT_SECRET = "service-secret-for-the-fault-tests-0123456789"
ENV = {
    "JWT_SECRET": JWT_SECRET,
    "JWT_REFRESH_SECRET": "refresh-secret-for-the-fault-tests-0123456789",
    "SERVICE_CLIENTS": f"reports:{CLIENT_SECRET}",
    "REVOCATION_STREAM_HEARTBEAT": "1s",
}


def wait_until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout_s}s")


def refused(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify(token)
    except TokenRevoked:
        return True
    return False


class Cluster:
    """Two tokensmith instances on one database: ``a`` (the one services follow) and ``b``."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port_a = free_port()
        self.a: ServerProcess = start_server(data, ENV, port=self.port_a)
        self.b: ServerProcess = start_server(data, ENV)

    def restart_a(self, sig: int | None) -> None:
        self.a.stop(sig)

    def start_a(self) -> None:
        self.a = start_server(self.data, ENV, port=self.port_a)

    def login(self, email: str) -> str:
        httpx.post(f"{self.b.url}/auth/register", json={"email": email, "password": PASSWORD})
        response = httpx.post(
            f"{self.b.url}/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["accessToken"])

    def logout(self, token: str) -> None:
        response = httpx.post(
            f"{self.b.url}/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One pair for the module: starting a server is the slow part on a busy machine."""
    running = Cluster(tmp_path_factory.mktemp("faults") / "data")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def verifier(cluster: Cluster) -> Iterator[Verifier]:
    v = Verifier(
        cluster.a.url,
        client_id="reports",
        client_secret=CLIENT_SECRET,
        secret=JWT_SECRET,
        stream_read_timeout=timedelta(seconds=5),
    ).start()
    try:
        yield v
    finally:
        v.close()


def test_logout_reaches_the_service_without_a_request(cluster: Cluster, verifier: Verifier) -> None:
    """A logout at any instance: the service refuses the token (TOKEN_REVOKED) moments later."""
    token = cluster.login("ada@example.com")
    assert verifier.verify(token).email == "ada@example.com"
    wait_until(lambda: verifier.follower is not None and verifier.follower.connected)
    cluster.logout(token)
    wait_until(lambda: refused(verifier, token), 10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["restart", "sigkill"])
def test_revocations_made_during_an_outage_arrive_after_it(
    cluster: Cluster, verifier: Verifier, sig: int
) -> None:
    """The followed instance goes away (clean restart or SIGKILL); a logout happens meanwhile
    elsewhere; when it is back the verifier resumes from its cursor (no full resync) and
    refuses that token too. The service never stopped verifying."""
    follower = verifier.follower
    assert follower is not None
    wait_until(lambda: follower.connected)
    during = cluster.login("grace@example.com")
    still = cluster.login("alan@example.com")
    resyncs = follower.resyncs
    cluster.restart_a(sig)
    wait_until(lambda: not follower.connected, 20)
    cluster.logout(during)
    assert verifier.verify(still).email == "alan@example.com"  # verifying goes on meanwhile
    cluster.start_a()
    wait_until(lambda: refused(verifier, during), 30)
    assert follower.resyncs == resyncs  # resumed with Last-Event-ID, not a full reload
    assert verifier.verify(still).email == "alan@example.com"


def test_stream_answers_last_event_id_and_heartbeats(cluster: Cluster) -> None:
    """The raw stream: the first event carries an id; resuming with it replays only what came
    after; an idle stream sends heartbeat comments; a forged id is 400."""
    auth = "Basic " + base64.b64encode(f"reports:{CLIENT_SECRET}".encode()).decode()
    headers = {"Authorization": auth}
    first = httpx.get(f"{cluster.a.url}/auth/revocations", headers=headers).json()
    token = cluster.login("edsger@example.com")
    cluster.logout(token)
    url = f"{cluster.a.url}/auth/revocations/stream"
    with httpx.stream("GET", url, headers={**headers, "Last-Event-ID": first["cursor"]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines: list[str] = []
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith(":"):
                break
    assert any(line.startswith("id: ") for line in lines)
    data = next(line for line in lines if line.startswith("data: "))
    assert '"sid"' in data
    forged = first["cursor"].split(".")[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    bad = httpx.get(url, headers={**headers, "Last-Event-ID": forged})
    assert bad.status_code == 400
    assert bad.json()["code"] == "VALIDATION_ERROR"
