"""Revocations between instances through Redis pub/sub, with the database as the safety net.

The hot path never touches Redis: each process keeps its in-process revocation set, and this feed
adds to it what other processes revoked. The message is a hint that travels in about a millisecond;
the revocation log in the database stays the record:

- after subscribing (at start and after every reconnect) the process catches up from the log, so
  nothing published while it was not listening is missed;
- while Redis is up, the log is still read every ``backstop`` (one indexed query), which covers a
  message lost in flight or a peer killed between its commit and its publish;
- while Redis is down, the log is read every ``fallback`` instead, so a logout on another instance
  is enforced here within that interval even during the outage; ``publish`` returns at once
  instead of waiting on a dead socket.

Pub/sub is at-most-once and keeps no history, which is why the log, not Redis, is the record.

**A logout answers only once every instance has it.** ``PUBLISH`` returns how many subscribers
Redis handed the message to; each feed, after its handler added the revocations to its set,
publishes the message's tag (a digest of its bytes) on ``<channel>:acks``, and ``publish`` waits
until that many tags came back, at most ``confirm_within``. So when the client reads the logout's
answer, a request on any other instance is already refused: no window, as between the workers of
one SQLite file. A subscriber that does not confirm in time (a hung instance, a debugging
``redis-cli subscribe`` on the channel, a peer of an older version during a rolling upgrade) costs
each logout that bound, is logged, and still learns the revocation from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tokensmith.core.models import Revocation
from tokensmith.core.ports import RevocationHandler
from tokensmith.errors import ServiceUnavailable
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.feed import RevocationLogReader

__all__ = ["DEFAULT_CHANNEL", "RedisRevocationFeed", "redis_client"]

log = logging.getLogger("tokensmith.revocation")

DEFAULT_CHANNEL = "tokensmith:revocations"
_DOWN = (RedisError, OSError, asyncio.TimeoutError)
_WARN_EVERY_S = 10.0


def _raise_if_cancelled(exc: BaseException | None = None) -> None:
    """End the feed when its task was cancelled, whether or not the driver raised the
    ``CancelledError``. redis-py 8.2's ``get_message`` can come back without raising after a
    cancel (seen when it arrives right after a message was applied and confirmed); the loop
    then waited in the next read until the backstop (a CI run: a stop that never came in
    120 s), and a driver error at that moment was taken for an outage and the feed restarted."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from exc


def redis_client(url: str, *, timeout: timedelta = timedelta(milliseconds=500)) -> Redis:
    """A client that fails fast: bounded connect and reads, no built-in retry loop (the feed
    decides when to retry, and a logout never waits on a dead Redis)."""
    seconds = timeout.total_seconds()
    client: Redis = Redis.from_url(
        url,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=5,
    )
    return client


def encode(revocations: Sequence[Revocation]) -> bytes:
    return json.dumps(
        [[r.session_id, r.until.timestamp()] for r in revocations], separators=(",", ":")
    ).encode()


def decode(data: Any) -> list[Revocation]:
    """The revocations of one message; a malformed message is ignored (logged), never fatal."""
    try:
        items = json.loads(data)
        return [
            Revocation(str(sid), datetime.fromtimestamp(float(until), UTC)) for sid, until in items
        ]
    except (ValueError, TypeError):
        log.warning("ignored a malformed revocation message")
        return []


def tag_of(data: bytes) -> bytes:
    """What a subscriber sends back to confirm one message: its digest, which the publisher
    computes from the same bytes (so the message format carries nothing new)."""
    return hashlib.blake2b(data, digest_size=12).digest()


class _Confirmations:
    """Tags seen on the acks channel for one published message, and how many are expected
    (known only once ``PUBLISH`` answered: a confirmation may arrive before that answer)."""

    def __init__(self) -> None:
        self.seen = 0
        self.expected: int | None = None
        self.done = asyncio.get_running_loop().create_future()

    def confirm(self) -> None:
        self.seen += 1
        self._settle()

    def expect(self, receivers: int) -> None:
        self.expected = receivers
        self._settle()

    def _settle(self) -> None:
        if self.expected is not None and self.seen >= self.expected and not self.done.done():
            self.done.set_result(None)


class RedisRevocationFeed:
    """Implements :class:`tokensmith.core.ports.RevocationFeed` over Redis pub/sub."""

    def __init__(
        self,
        url: str,
        database: SqlDatabase,
        *,
        channel: str = DEFAULT_CHANNEL,
        backstop: timedelta = timedelta(seconds=2),
        fallback: timedelta = timedelta(milliseconds=50),
        reconnect_every: timedelta = timedelta(seconds=1),
        confirm_within: timedelta = timedelta(milliseconds=250),
    ) -> None:
        self.client = redis_client(url)
        self.channel = channel
        self.acks_channel = f"{channel}:acks"
        self._acks_key = self.acks_channel.encode()
        self._confirm_s = confirm_within.total_seconds()
        self._waiting: dict[bytes, _Confirmations] = {}
        self._warned_at = -_WARN_EVERY_S
        self._reader = RevocationLogReader(database)
        self._backstop_s = backstop.total_seconds()
        self._fallback_s = fallback.total_seconds()
        self._reconnect_s = reconnect_every.total_seconds()
        self.connected = False
        self._down = False  # known down: publish returns at once
        self.received = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"RedisRevocationFeed({self.channel!r}, {state})"

    async def publish(self, revocations: Sequence[Revocation]) -> None:
        """Tell the other instances, and return once each subscriber confirmed it applied them
        (or after ``confirm_within``); called after the revoking transaction committed. Raises
        when Redis is down (the caller logs it; peers read the log instead)."""
        if not revocations:
            return
        if self._down:
            raise ServiceUnavailable("Redis is down; peers read the revocation log")
        data = encode(revocations)
        tag = tag_of(data)
        # Confirmations arrive on this feed's own subscription: wait only while it listens, and
        # only once per identical message (the same sessions ended in the same microsecond).
        if not self.connected or tag in self._waiting:
            await self.client.publish(self.channel, data)
            return
        confirmations = self._waiting[tag] = _Confirmations()
        try:
            receivers = int(await self.client.publish(self.channel, data))
            confirmations.expect(receivers)
            try:
                await asyncio.wait_for(confirmations.done, self._confirm_s)
            except TimeoutError:
                self._unconfirmed(receivers - confirmations.seen, receivers)
        finally:
            del self._waiting[tag]

    def _unconfirmed(self, missing: int, receivers: int) -> None:
        now = time.monotonic()
        if now - self._warned_at < _WARN_EVERY_S:
            return
        self._warned_at = now
        log.warning(
            "%d of %d subscribers of %s did not confirm a revocation within %.0f ms (a hung "
            "instance or a foreign subscriber?); they read it from the log within %.0f s",
            missing,
            receivers,
            self.channel,
            self._confirm_s * 1000,
            self._backstop_s,
        )

    async def ping(self) -> bool:
        """``/readyz``: does Redis answer (within the client's timeout)?"""
        try:
            return bool(await self.client.ping())
        except _DOWN:
            return False

    async def run(
        self,
        handler: RevocationHandler,
        resync: Callable[[], Awaitable[int]],
        cursor: int,
        listening: Callable[[], None] = lambda: None,
    ) -> None:
        with contextlib.suppress(ServiceUnavailable):
            await self._reader.reset(cursor)
        reconnecting = False
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel, self.acks_channel)
                # Listening now: whatever was revoked before is in the log.
                if reconnecting:
                    with contextlib.suppress(ServiceUnavailable):
                        await self._reader.reset(await resync())
                    log.warning("Redis is back: revocations resynchronised from the database")
                self.connected, self._down, reconnecting = True, False, False
                self._catch_up(handler, await self._poll_log())
                listening()
                await self._listen(pubsub, handler)
            except _DOWN as exc:
                _raise_if_cancelled(exc)
                if not reconnecting:
                    log.warning(
                        "Redis unavailable (%s): reading revocations from the database every "
                        "%.0f ms until it returns",
                        type(exc).__name__,
                        self._fallback_s * 1000,
                    )
                self.connected, self._down, reconnecting = False, True, True
                await self._close_quietly(pubsub)
                await self._poll_while_down(handler, listening)
            except Exception as exc:  # a bug or an unexpected driver error must not end the feed
                _raise_if_cancelled(exc)
                log.exception("revocation feed failed; restarting it")
                self.connected, reconnecting = False, True
                await self._close_quietly(pubsub)
                await self._poll_while_down(handler, listening)
            finally:
                await self._close_quietly(pubsub)

    async def _listen(self, pubsub: PubSub, handler: RevocationHandler) -> None:
        next_backstop = time.monotonic() + self._backstop_s
        while True:
            _raise_if_cancelled()
            wait_s = max(0.0, next_backstop - time.monotonic())
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
            if message is not None and message.get("type") == "message":
                await self._on_message(message, handler)
            if time.monotonic() >= next_backstop:
                self._catch_up(handler, await self._poll_log())
                next_backstop = time.monotonic() + self._backstop_s

    async def _on_message(self, message: dict[str, Any], handler: RevocationHandler) -> None:
        data = message["data"]
        if message["channel"] == self._acks_key:
            confirmations = self._waiting.get(data)
            if confirmations is not None:
                confirmations.confirm()
            return
        revocations = decode(data)
        if not revocations:
            return
        self.received += len(revocations)
        self._catch_up(handler, revocations)
        # Applied: now the publisher may answer its logout.
        try:
            await self.client.publish(self.acks_channel, tag_of(data))
        except _DOWN:
            log.debug("could not confirm a revocation (Redis unavailable)")

    async def _poll_while_down(
        self, handler: RevocationHandler, polled: Callable[[], None]
    ) -> None:
        until = time.monotonic() + self._reconnect_s
        while time.monotonic() < until:
            self._catch_up(handler, await self._poll_log())
            polled()
            await asyncio.sleep(self._fallback_s)

    async def _poll_log(self) -> list[Revocation]:
        try:
            return await self._reader.poll()
        except ServiceUnavailable:
            return []
        except Exception:
            log.exception("could not read the revocation log")
            return []

    @staticmethod
    def _catch_up(handler: RevocationHandler, revocations: list[Revocation]) -> None:
        if revocations:
            handler(revocations)

    @staticmethod
    async def _close_quietly(pubsub: PubSub) -> None:
        with contextlib.suppress(Exception):
            await pubsub.aclose()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()
