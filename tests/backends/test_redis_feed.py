"""The Redis revocation feed against a real (private) Redis: fast delivery, outage, resync."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.databases import RedisServer, migrate
from tests.support.feeds import PeerRevokesFirst
from tests.support.servers import free_port
from tokensmith.core.models import Revocation
from tokensmith.storage.redis.feed import RedisRevocationFeed, encode
from tokensmith.storage.sql.database import SqlDatabase

pytestmark = pytest.mark.redis

UNTIL = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    migrate(url)
    database = SqlDatabase(url)
    try:
        yield database
    finally:
        await database.close()


class Listener:
    """A running feed and what it delivered."""

    def __init__(self, feed: RedisRevocationFeed) -> None:
        self.feed = feed
        self.received: list[str] = []
        self.resyncs = 0
        self.task: asyncio.Task[None] | None = None

    def handle(self, revocations: list[Revocation]) -> None:
        self.received.extend(r.session_id for r in revocations)

    async def resync(self) -> int:
        self.resyncs += 1
        return 0

    async def start(self) -> None:
        self.task = asyncio.create_task(self.feed.run(self.handle, self.resync, 0))  # type: ignore[arg-type]
        await wait_for(lambda: self.feed.connected, 5)

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait({self.task}, timeout=5)  # at once, not at the next backstop
        assert self.task.cancelled(), "the feed did not stop when cancelled"
        await self.feed.close()


async def wait_for(condition: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``condition`` held; fails the test past ``timeout_s``."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.002)
    return time.perf_counter() - start


def _feed(server: RedisServer, db: SqlDatabase, **kwargs: timedelta) -> RedisRevocationFeed:
    return RedisRevocationFeed(server.url, db, channel="test:revocations", **kwargs)


async def test_a_published_revocation_reaches_another_feed_within_100_ms(
    redis_server: RedisServer, db: SqlDatabase
) -> None:
    """Pub/sub alone (no log row, backstop far away) carries a revocation to a peer at once."""
    listener = Listener(_feed(redis_server, db, backstop=timedelta(minutes=5)))
    publisher = _feed(redis_server, db)
    await listener.start()
    try:
        await publisher.publish([Revocation("s-1", UNTIL)])
        delay = await wait_for(lambda: listener.received == ["s-1"], 1)
        assert delay < 0.1
    finally:
        await listener.stop()
        await publisher.close()


async def test_a_cancelled_feed_stops_whatever_it_was_doing(
    redis_server: RedisServer, db: SqlDatabase
) -> None:
    """Cancelled while it reads, applies or confirms a message, the feed ends: it never takes
    the cancellation for an outage and starts over (a CI run once waited 120 s on a stop)."""
    publisher = _feed(redis_server, db)
    try:
        for n in range(30):
            listener = Listener(_feed(redis_server, db, backstop=timedelta(minutes=5)))
            await listener.start()
            await publisher.publish([Revocation(f"s-{n}", UNTIL)])
            await asyncio.sleep(random.uniform(0, 0.003))
            await listener.stop()
            assert listener.task is not None and listener.task.cancelled()
    finally:
        await publisher.close()


async def test_publish_returns_once_every_subscriber_applied_it(
    redis_server: RedisServer, db: SqlDatabase
) -> None:
    """With the publisher's own feed listening, ``publish`` waits for each subscriber's
    confirmation: when it returns, the peers' sets already hold the revocation (no window)."""
    peers = [Listener(_feed(redis_server, db, backstop=timedelta(minutes=5))) for _ in range(3)]
    publisher = Listener(_feed(redis_server, db, backstop=timedelta(minutes=5)))
    for listener in (*peers, publisher):
        await listener.start()
    try:
        for n in range(20):
            await publisher.feed.publish([Revocation(f"s-{n}", UNTIL)])
            assert [f"s-{n}" in peer.received for peer in peers] == [True, True, True]
        assert publisher.received == [f"s-{n}" for n in range(20)]  # its own subscription too
    finally:
        for listener in (*peers, publisher):
            await listener.stop()


async def test_a_subscriber_that_never_confirms_costs_the_bound_and_a_warning(
    redis_server: RedisServer, db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """A foreign subscriber (say ``redis-cli subscribe``) never confirms: ``publish`` returns
    after ``confirm_within``, without raising, and says so once per 10 s, not per logout."""
    peer = Listener(_feed(redis_server, db, backstop=timedelta(minutes=5)))
    publisher = Listener(
        _feed(
            redis_server,
            db,
            backstop=timedelta(minutes=5),
            confirm_within=timedelta(milliseconds=100),
        )
    )
    await peer.start()
    await publisher.start()
    foreign = peer.feed.client.pubsub()
    await foreign.subscribe("test:revocations")
    try:
        for n in range(3):
            started = time.perf_counter()
            await publisher.feed.publish([Revocation(f"slow-{n}", UNTIL)])
            waited = time.perf_counter() - started
            assert 0.1 <= waited < 1.0
            assert f"slow-{n}" in peer.received
        warnings = [r for r in caplog.records if "did not confirm" in r.getMessage()]
        assert len(warnings) == 1
        assert "1 of 3 subscribers" in warnings[0].getMessage()
    finally:
        await foreign.aclose()
        await peer.stop()
        await publisher.stop()


async def test_a_publisher_not_listening_does_not_wait(
    redis_server: RedisServer, db: SqlDatabase
) -> None:
    """Confirmations arrive on the publisher's own subscription: without it (the feed is not
    running, or Redis dropped it) ``publish`` is one round trip, as before."""
    publisher = _feed(redis_server, db, confirm_within=timedelta(seconds=5))
    foreign = publisher.client.pubsub()  # a subscriber that would never confirm
    await foreign.subscribe("test:revocations")
    try:
        started = time.perf_counter()
        await publisher.publish([Revocation("fire-and-forget", UNTIL)])
        assert time.perf_counter() - started < 1.0
    finally:
        await foreign.aclose()
        await publisher.close()


async def test_a_malformed_message_is_ignored(
    redis_server: RedisServer, db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage on the channel is logged and skipped; the next good message still arrives."""
    listener = Listener(_feed(redis_server, db, backstop=timedelta(minutes=5)))
    await listener.start()
    try:
        await listener.feed.client.publish("test:revocations", b"not json")
        await listener.feed.client.publish("test:revocations", encode([Revocation("ok", UNTIL)]))
        await wait_for(lambda: listener.received == ["ok"], 1)
        assert "malformed revocation message" in caplog.text
    finally:
        await listener.stop()


async def test_redis_outage_falls_back_to_the_log_and_resyncs_on_return(
    redis_server: RedisServer, db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: publish fails fast, revocations still arrive from the database log, and
    /readyz sees it; Redis back: the feed resubscribes, resyncs, and pub/sub works again."""
    caplog.set_level(logging.INFO, "tokensmith")
    listener = Listener(
        _feed(
            redis_server,
            db,
            backstop=timedelta(minutes=5),
            fallback=timedelta(milliseconds=20),
            reconnect_every=timedelta(milliseconds=200),
        )
    )
    publisher = _feed(redis_server, db)
    await listener.start()
    try:
        redis_server.stop()
        await wait_for(lambda: not listener.feed.connected, 10)
        assert "Redis unavailable" in caplog.text
        assert not await listener.feed.ping()

        async with db.transaction(write=True) as uow:  # what a peer's logout writes
            await uow.revocations.add([Revocation("during-outage", UNTIL)])
        started = time.perf_counter()
        with pytest.raises(Exception):  # noqa: B017  (any error: the caller logs it)
            await publisher.publish([Revocation("during-outage", UNTIL)])
        assert time.perf_counter() - started < 1.0
        await wait_for(lambda: "during-outage" in listener.received, 2)

        redis_server.start()
        await wait_for(lambda: listener.feed.connected, 10)
        assert listener.resyncs == 1
        assert "Redis is back" in caplog.text
        await publisher.publish([Revocation("after", UNTIL)])
        await wait_for(lambda: "after" in listener.received, 5)
    finally:
        await listener.stop()
        await publisher.close()


async def test_the_log_backstop_delivers_what_pubsub_missed(
    redis_server: RedisServer, db: SqlDatabase
) -> None:
    """A revocation committed but never published (the publisher died) arrives by the backstop
    read of the log."""
    listener = Listener(_feed(redis_server, db, backstop=timedelta(milliseconds=100)))
    await listener.start()
    try:
        async with db.transaction(write=True) as uow:
            await uow.revocations.add([Revocation("never-published", UNTIL)])
        await wait_for(lambda: listener.received == ["never-published"], 2)
    finally:
        await listener.stop()


async def test_services_use_redis_when_configured_and_readiness_reports_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """With REDIS_URL the services pick the Redis feed and shared rate limits, and readiness
    reports Redis next to the database."""
    from tokensmith.core.passwords import TESTING
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    settings = load_settings(
        {"REDIS_URL": redis_server.url, "TOKENSMITH_DATA_DIR": str(tmp_path / "data")}
    )
    services = build_services(settings, argon2=TESTING)
    assert isinstance(services.feed, RedisRevocationFeed)
    assert services.rate_limit_storage is not None
    await services.start()
    try:
        assert await services.readiness() == {"database": "ok", "redis": "ok"}
        redis_server.stop()
        assert await services.readiness() == {"database": "ok", "redis": "unavailable"}
    finally:
        await services.stop()


async def test_services_take_requests_only_once_the_feed_listens(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A logout another instance committed and published after this one loaded the revocations,
    before its feed subscribed (so pub/sub never delivers it), is refused as soon as ``start``
    returns, and the feed is subscribed by then: a worker of ``serve --workers 2`` still starting
    once served such a session (CI)."""
    from tokensmith.core.passwords import TESTING
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    settings = load_settings(
        {"REDIS_URL": redis_server.url, "TOKENSMITH_DATA_DIR": str(tmp_path / "data")}
    )
    services = build_services(settings, argon2=TESTING)
    assert isinstance(services.feed, RedisRevocationFeed)
    services.feed = PeerRevokesFirst(services.feed, services.database, "ended-elsewhere")
    await services.start()
    try:
        assert services.revoker.is_revoked("ended-elsewhere")
        assert services.feed.connected
    finally:
        await services.stop()


async def test_services_start_while_redis_is_down_once_the_log_was_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis unreachable at start, the feed listens through the log: ``start`` returns
    after its first read (not after the bound, with its warning), and a logout committed
    elsewhere in the meantime is refused."""
    from tokensmith.core.passwords import TESTING
    from tokensmith.runtime import build_services
    from tokensmith.settings import load_settings

    caplog.set_level(logging.INFO, "tokensmith")
    settings = load_settings(
        {
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "TOKENSMITH_DATA_DIR": str(tmp_path / "data"),
        }
    )
    services = build_services(settings, argon2=TESTING)
    assert services.feed is not None
    services.feed = PeerRevokesFirst(services.feed, services.database, "ended-elsewhere")
    await services.start()
    try:
        assert services.revoker.is_revoked("ended-elsewhere")
        assert "Redis unavailable" in caplog.text
        assert "not listening" not in caplog.text
    finally:
        await services.stop()
