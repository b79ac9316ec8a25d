"""Two real instances (and a multi-worker one) on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends.cluster import bearer, code_of, login, new_user, shared_env, wait_until
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


def test_logout_on_a_is_refused_on_b_within_100_ms(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """After logout on A returns, B answers 401 TOKEN_REVOKED for the token within 100 ms.
    The delay is measured from A's response to B's first 401, over 20 sessions."""
    a, b = pair
    email, _ = new_user(a.url)
    delays: list[float] = []
    with httpx.Client(timeout=5) as http:
        for _ in range(20):
            tokens = login(a.url, email)
            access = tokens["accessToken"]
            assert http.get(f"{b.url}/auth/me", headers=bearer(access)).status_code == 200
            logout = http.post(f"{a.url}/auth/logout", headers=bearer(access))
            assert logout.status_code == 200
            last: list[httpx.Response] = []

            def refused(token: str = access, seen: list[httpx.Response] = last) -> bool:
                seen[:] = [http.get(f"{b.url}/auth/me", headers=bearer(token))]
                return seen[0].status_code == 401

            delays.append(wait_until(refused, 2.0, "B refuses the logged-out token"))
            assert code_of(last[0]) == "TOKEN_REVOKED"
            assert 'error="invalid_token"' in last[0].headers["www-authenticate"]
    median_ms, max_ms = statistics.median(delays) * 1000, max(delays) * 1000
    print(f"\ncross-instance revocation delay: median {median_ms:.1f} ms, max {max_ms:.1f} ms")
    assert max(delays) < 0.1


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
