"""Rate limits in a real (private) Redis: shared across instances, in-memory while it is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from limits.aio.storage import Storage

from tests.support.databases import RedisServer
from tokensmith.errors import RateLimited
from tokensmith.runtime import close_rate_limit_storage, rate_limit_storage
from tokensmith.settings import load_settings
from tokensmith.web.ratelimit import RateLimits

pytestmark = pytest.mark.redis


@pytest.fixture
async def make_limits(
    redis_server: RedisServer, tmp_path: object
) -> AsyncIterator[Callable[[], RateLimits]]:
    """Builds rate limits on the private Redis, the way the server does; closes them after."""
    settings = load_settings({"REDIS_URL": redis_server.url, "TOKENSMITH_DATA_DIR": str(tmp_path)})
    storages: list[Storage] = []

    def make() -> RateLimits:
        storage = rate_limit_storage(settings)
        assert storage is not None
        storages.append(storage)
        return RateLimits("3/minute", "3/minute", "3/minute", storage, retry_every_s=0.0)

    yield make
    for storage in storages:
        await close_rate_limit_storage(storage)


async def test_instances_share_one_count(make_limits: Callable[[], RateLimits]) -> None:
    """Two instances on one Redis together allow the limit once, not once each."""
    a, b = make_limits(), make_limits()
    await a.hit("login", "10.0.0.1", "ada@example.com")
    await b.hit("login", "10.0.0.1", "ada@example.com")
    await a.hit("login", "10.0.0.1", "ada@example.com")
    with pytest.raises(RateLimited) as caught:
        await b.hit("login", "10.0.0.1", "ada@example.com")
    assert caught.value.retry_after_s >= 1
    assert a.shared and b.shared


async def test_redis_down_falls_back_to_memory_and_returns(
    redis_server: RedisServer,
    make_limits: Callable[[], RateLimits],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While Redis is down the limit is still enforced, in memory, and the log says so; when it
    returns, counting goes back to Redis and the log says that too."""
    caplog.set_level(logging.WARNING, "tokensmith.ratelimit")
    limits = make_limits()
    await limits.hit("refresh", "10.0.0.1")
    redis_server.stop()
    for _ in range(3):
        await limits.hit("refresh", "10.0.0.1")
    with pytest.raises(RateLimited):
        await limits.hit("refresh", "10.0.0.1")
    assert not limits.shared
    assert "counting in memory" in caplog.text
    redis_server.start()
    for i in range(100):  # the probe runs in the background
        await limits.hit("refresh", f"10.0.1.{i}")
        if limits.shared:
            break
        await asyncio.sleep(0.05)
    assert limits.shared
    assert "is back" in caplog.text


async def test_failures_fill_a_bucket_shared_across_instances(
    make_limits: Callable[[], RateLimits],
) -> None:
    """``fail`` counts wrong passwords of one session on Redis: the fifth, on whichever
    instance, says the bucket is full (the session then ends)."""
    a, b = make_limits(), make_limits()
    answers = [await (a if n % 2 else b).fail("password_failures", "sid-1") for n in range(5)]
    assert answers == [False, False, False, False, True]
    assert await a.fail("password_failures", "sid-2") is False
