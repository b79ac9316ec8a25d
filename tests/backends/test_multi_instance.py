"""Two real instances (and a multi-worker one) on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends.cluster import bearer, code_of, login, new_user, shared_env
from tests.support.databases import RedisServer
from tests.support.servers import ServerProcess, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def pair(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Instances A and B: same secrets, same PostgreSQL database, same Redis."""
    env = shared_env(postgres_url, redis_server.url)
    a = start_server(tmp_path / "a", env)
    try:
        b = start_server(tmp_path / "b", env)
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_logout_on_a_is_refused_on_b_at_once(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """Once logout on A has answered, B's very first answer for the token is 401 TOKEN_REVOKED:
    A's logout waits for every instance to confirm it (``storage/redis/feed.py``). Over 20
    sessions, each asked on a keep-alive connection B had already served the token on."""
    a, b = pair
    email, _ = new_user(a.url)
    logout_ms: list[float] = []
    with httpx.Client(timeout=5) as http:
        for _ in range(20):
            tokens = login(a.url, email)
            access = tokens["accessToken"]
            assert http.get(f"{b.url}/auth/me", headers=bearer(access)).status_code == 200
            started = time.perf_counter()
            logout = http.post(f"{a.url}/auth/logout", headers=bearer(access))
            logout_ms.append((time.perf_counter() - started) * 1000)
            assert logout.status_code == 200
            refused = http.get(f"{b.url}/auth/me", headers=bearer(access))
            assert refused.status_code == 401
            assert code_of(refused) == "TOKEN_REVOKED"
            assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    median_ms, max_ms = statistics.median(logout_ms), max(logout_ms)
    print(f"\nlogout (confirmed by both instances): median {median_ms:.1f} ms, max {max_ms:.1f} ms")


def test_fifty_concurrent_refreshes_across_instances_make_one_successor(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """50 refreshes of one token, split between A and B, return at most one distinct refresh
    token, and it works on either instance."""
    a, b = pair
    _, tokens = new_user(a.url)

    async def storm() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=15) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"{(a, b)[i % 2].url}/auth/refresh",
                        json={"refreshToken": tokens["refreshToken"]},
                    )
                    for i in range(50)
                )
            )

    responses = asyncio.run(storm())
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 401}, [r.text for r in responses if r.status_code not in (200, 401)]
    successors = {r.json()["refreshToken"] for r in responses if r.status_code == 200}
    assert len(successors) <= 1
    assert successors, "within the reuse grace the racers share the successor"
    (successor,) = successors
    again = httpx.post(f"{b.url}/auth/refresh", json={"refreshToken": successor}, timeout=5)
    assert again.status_code == 200


def test_workers_share_revocations(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    """``serve --workers 2`` on PostgreSQL and Redis: after a logout every worker refuses."""
    server = start_server(tmp_path / "w", shared_env(postgres_url, redis_server.url), workers=2)
    try:
        _, tokens = new_user(server.url)
        access = tokens["accessToken"]
        assert httpx.post(f"{server.url}/auth/logout", headers=bearer(access)).status_code == 200
        with httpx.Client(timeout=5) as http:
            # New connections spread over the workers.
            codes = set()
            for _ in range(30):
                response = http.get(
                    f"{server.url}/auth/me", headers={**bearer(access), "Connection": "close"}
                )
                codes.add(code_of(response))
        assert codes == {"TOKEN_REVOKED"}
        ready = httpx.get(f"{server.url}/readyz", timeout=5).json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        server.stop()
