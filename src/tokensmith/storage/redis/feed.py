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
"""

from __future__ import annotations

import asyncio
import contextlib
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
    ) -> None:
        self.client = redis_client(url)
        self.channel = channel
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
        """Tell the other instances; called after the revoking transaction committed. Raises
        when Redis is down (the caller logs it; peers read the log instead)."""
        if not revocations:
            return
        if self._down:
            raise ServiceUnavailable("Redis is down; peers read the revocation log")
        await self.client.publish(self.channel, encode(revocations))

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
    ) -> None:
        with contextlib.suppress(ServiceUnavailable):
            await self._reader.reset(cursor)
        reconnecting = False
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # Listening now: whatever was revoked before is in the log.
                if reconnecting:
                    with contextlib.suppress(ServiceUnavailable):
                        await self._reader.reset(await resync())
                    log.warning("Redis is back: revocations resynchronised from the database")
                self.connected, self._down, reconnecting = True, False, False
                self._catch_up(handler, await self._poll_log())
                await self._listen(pubsub, handler)
            except _DOWN as exc:
                if not reconnecting:
                    log.warning(
                        "Redis unavailable (%s): reading revocations from the database every "
                        "%.0f ms until it returns",
                        type(exc).__name__,
                        self._fallback_s * 1000,
                    )
                self.connected, self._down, reconnecting = False, True, True
                await self._close_quietly(pubsub)
                await self._poll_while_down(handler)
            except Exception:  # a bug or an unexpected driver error must not end the feed
                log.exception("revocation feed failed; restarting it")
                self.connected, reconnecting = False, True
                await self._close_quietly(pubsub)
                await self._poll_while_down(handler)
            finally:
                await self._close_quietly(pubsub)

    async def _listen(self, pubsub: PubSub, handler: RevocationHandler) -> None:
        next_backstop = time.monotonic() + self._backstop_s
        while True:
            wait_s = max(0.0, next_backstop - time.monotonic())
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
            if message is not None and message.get("type") == "message":
                revocations = decode(message["data"])
                self.received += len(revocations)
                self._catch_up(handler, revocations)
            if time.monotonic() >= next_backstop:
                self._catch_up(handler, await self._poll_log())
                next_backstop = time.monotonic() + self._backstop_s

    async def _poll_while_down(self, handler: RevocationHandler) -> None:
        until = time.monotonic() + self._reconnect_s
        while time.monotonic() < until:
            self._catch_up(handler, await self._poll_log())
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
