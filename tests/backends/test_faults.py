"""Faults survived by real instances: Redis stops, PostgreSQL stops, an instance is SIGKILLed.

Each test stops a private service of its own (a ``redis-server`` or an ``initdb`` cluster on a
free port), never the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends.cluster import (
    bearer,
    code_of,
    login,
    new_user,
    shared_env,
    wait_until,
)
from tests.support.databases import (
    PostgresCluster,
    RedisServer,
    fresh_postgres_database,
    run_async,
)
from tests.support.servers import ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _me(server: ServerProcess, access: str) -> httpx.Response:
    return httpx.get(f"{server.url}/auth/me", headers=bearer(access), timeout=10)


def _refresh(server: ServerProcess, token: str, timeout_s: float = 10) -> httpx.Response:
    return httpx.post(f"{server.url}/auth/refresh", json={"refreshToken": token}, timeout=timeout_s)


def _revoked_on(server: ServerProcess, access: str) -> bool:
    return code_of(_me(server, access)) == "TOKEN_REVOKED"


# -- Redis stops ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def _ready(server: ServerProcess) -> bool:
    return httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200


def _log_has(server: ServerProcess, text: str) -> bool:
    return text in server.log


def test_redis_outage_keeps_serving_and_resyncs(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis down: requests are served, /readyz is 503, a logout on A is enforced on B from the
    database, rate limits fall back to memory (logged). Redis back: both resync, /readyz is 200,
    and logouts travel through Redis again."""
    env = shared_env(postgres_url, redis_server.url)
    a = start_server(tmp_path / "a", env)
    b = start_server(tmp_path / "b", env)
    try:
        email, before = new_user(a.url)
        redis_server.stop()

        during = login(b.url, email)  # login is rate-limited: falls back to memory
        assert _me(a, during["accessToken"]).status_code == 200
        assert _refresh(a, during["refreshToken"]).status_code == 200
        ready = httpx.get(f"{a.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}

        logout = httpx.post(f"{a.url}/auth/logout", headers=bearer(before["accessToken"]))
        assert logout.status_code == 200
        wait_until(lambda: _revoked_on(b, before["accessToken"]), 5, "B enforces during outage")
        assert "counting in memory" in b.log

        redis_server.start()
        for server in (a, b):
            wait_until(functools.partial(_ready, server), 15, "ready again")
            wait_until(functools.partial(_log_has, server, "Redis is back"), 15, "resynchronised")
        assert _revoked_on(a, before["accessToken"]) and _revoked_on(b, before["accessToken"])

        after = login(a.url, email)
        assert httpx.post(f"{b.url}/auth/logout", headers=bearer(after["accessToken"])).is_success
        delay = wait_until(lambda: _revoked_on(a, after["accessToken"]), 2, "pub/sub again")
        assert delay < 0.5
    finally:
        a.stop()
        b.stop()


# -- PostgreSQL stops ----------------------------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test alone, on a free port; always removed afterwards."""
    cluster = PostgresCluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.mark.postgres
def test_postgres_outage_answers_503_fast_and_recovers(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    """PostgreSQL down: protected routes still answer, login and refresh are 503
    SERVICE_UNAVAILABLE within a few seconds (never 500, never a hang), /readyz is 503; it all
    recovers by itself when PostgreSQL is back."""
    with fresh_postgres_database(server=private_postgres.url) as url:
        server = start_server(tmp_path / "a", shared_env(url))
        try:
            email, tokens = new_user(server.url)
            private_postgres.stop()

            assert _me(server, tokens["accessToken"]).status_code == 200
            for call in (
                lambda: httpx.post(
                    f"{server.url}/auth/login",
                    json={"email": email, "password": "correct horse battery"},
                    timeout=15,
                ),
                lambda: _refresh(server, tokens["refreshToken"], 15),
                lambda: httpx.get(f"{server.url}/readyz", timeout=15),
            ):
                started = time.perf_counter()
                response = call()
                assert time.perf_counter() - started < 5
                assert response.status_code == 503, response.text
            assert code_of(_refresh(server, tokens["refreshToken"])) == "SERVICE_UNAVAILABLE"

            private_postgres.start()
            wait_until(
                lambda: httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200,
                20,
                "ready again",
            )
            assert _refresh(server, tokens["refreshToken"]).status_code == 200
            login(server.url, email)
            assert "Traceback" not in server.log
        finally:
            server.stop()


def _cluster_pids(cluster: PostgresCluster) -> list[int]:
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *map(int, children)]


@pytest.mark.postgres
def test_hung_postgres_answers_503_instead_of_hanging(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    """PostgreSQL frozen (every process SIGSTOPped: connections open but nothing answers):
    refresh and /readyz answer 503 within the engine's bounds instead of hanging, and the
    service recovers when PostgreSQL thaws."""
    with fresh_postgres_database(server=private_postgres.url) as url:
        server = start_server(tmp_path / "a", shared_env(url))
        pids: list[int] = []
        try:
            _, tokens = new_user(server.url)
            pids = _cluster_pids(private_postgres)  # the postmaster and every backend
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            started = time.perf_counter()
            response = _refresh(server, tokens["refreshToken"], 30)
            elapsed = time.perf_counter() - started
            print(f"\nrefresh against a frozen PostgreSQL: 503 after {elapsed:.1f} s")
            assert response.status_code == 503, response.text
            assert elapsed < 10
            assert _me(server, tokens["accessToken"]).status_code == 200
            assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 503
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        try:
            wait_until(
                lambda: httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200,
                20,
                "ready again",
            )
            assert _refresh(server, tokens["refreshToken"]).status_code == 200
            assert "Traceback" not in server.log
        finally:
            server.stop()


# -- SIGKILL mid refresh storm ---------------------------------------------------------------------


async def _storm(url: str, chains: dict[str, str], stop: asyncio.Event) -> dict[str, int]:
    """Refresh every session's chain as fast as possible until ``stop``; ``chains`` always holds
    the newest refresh token each session was given."""
    counts = {sid: 0 for sid in chains}

    async def one(http: httpx.AsyncClient, sid: str) -> None:
        while not stop.is_set():
            try:
                response = await http.post(
                    f"{url}/auth/refresh", json={"refreshToken": chains[sid]}
                )
            except httpx.HTTPError:
                return  # the instance is gone
            assert response.status_code == 200, response.text
            chains[sid] = response.json()["refreshToken"]
            counts[sid] += 1

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(one(http, sid) for sid in chains))
    return counts


@pytest.mark.postgres
@pytest.mark.redis
def test_sigkill_mid_refresh_storm_loses_nothing(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGKILL of A while it rotates refresh tokens: after restart every session is still there
    exactly once, the newest token each client holds still refreshes, and every revocation made
    before the kill still holds, on the restarted A and on B."""
    env = shared_env(postgres_url, redis_server.url, REFRESH_REUSE_GRACE="120s")
    a = start_server(tmp_path / "a", env)
    b = start_server(tmp_path / "b", env)
    try:
        email, _ = new_user(a.url)
        sessions = [login(a.url, email) for _ in range(8)]
        revoked = sessions[:3]
        for tokens in revoked:
            logout = httpx.post(f"{a.url}/auth/logout", headers=bearer(tokens["accessToken"]))
            assert logout.status_code == 200
        last_moment = sessions[3]  # logged out on A mid-storm, just before the kill
        revoked.append(last_moment)
        live = sessions[4:]
        chains: dict[str, str] = {str(i): t["refreshToken"] for i, t in enumerate(live)}

        async def storm_then_kill() -> dict[str, int]:
            stop = asyncio.Event()
            storm = asyncio.create_task(_storm(a.url, chains, stop))
            await asyncio.sleep(1.0)
            async with httpx.AsyncClient(timeout=10) as http:
                logout = await http.post(
                    f"{a.url}/auth/logout", headers=bearer(last_moment["accessToken"])
                )
            assert logout.status_code == 200
            await asyncio.sleep(0.3)
            a.stop(signal.SIGKILL)
            stop.set()
            return await storm

        counts = asyncio.run(storm_then_kill())
        assert sum(counts.values()) > 0, "the storm ran before the kill"
        a = start_server(tmp_path / "a2", env)

        rows = run_async(_session_rows(postgres_url))
        # 1 session from signing up + 8 logins: no session lost or duplicated.
        assert rows == (9, 9)
        for sid, token in chains.items():
            response = _refresh(a, token)
            assert response.status_code == 200, (sid, response.text)
        for tokens in revoked:
            for server in (a, b):
                assert _revoked_on(server, tokens["accessToken"])
                assert code_of(_refresh(server, tokens["refreshToken"])) == "SESSION_REVOKED"
    finally:
        a.stop()
        b.stop()


async def _session_rows(url: str) -> tuple[int, int]:
    import asyncpg

    conn: Any = await asyncpg.connect(url, timeout=5)
    try:
        row = await conn.fetchrow("SELECT count(*), count(DISTINCT id) FROM sessions")
        return int(row[0]), int(row[1])
    finally:
        await conn.close()
