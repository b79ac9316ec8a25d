"""The revocation feed for other services: one reader of the log per process, fanned out to
every subscriber of ``GET /auth/revocations/stream`` (contract 10).

The revocation log in the database stays the record; this only carries it out. Ordering:

1. A subscriber registers first, then reads its catch-up from the log (``since`` its cursor),
   so a revocation committed in between reaches it at least once (twice is harmless: adding a
   session id to a set is idempotent).
2. The process reads the log when a revocation is made here or arrives from a peer (the
   :class:`~tokensmith.core.revoker.Revoker` tells :meth:`RevocationBroadcaster.wake`), and
   every ``poll`` in any case, then hands each subscriber the same pre-rendered event. With no
   subscriber it reads nothing (a new subscriber's catch-up reads the log).
3. A cursor handed out is the log's *watermark*: every entry at or below it has committed (on
   PostgreSQL a lower sequence number can commit after a higher one; see
   :mod:`tokensmith.storage.sql.feed`). Resuming from it may repeat an entry, never skip one.

Backpressure: each subscriber has a bounded buffer of ``buffer`` events. A subscriber that does
not keep up (its buffer is full) is dropped: its stream ends, and it reconnects with
``Last-Event-ID`` and catches up from the log. The server never buffers without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from tokensmith.core.clock import Clock
from tokensmith.core.feed_cursor import CursorCodec
from tokensmith.core.models import Revocation

__all__ = ["RevocationBroadcaster", "RevocationLog", "Subscriber", "render_revocations"]

log = logging.getLogger("tokensmith.revocation")

_CLOSED: Final = b""
"""The sentinel that ends a subscriber's stream (dropped, or the server stops)."""


class RevocationLog(Protocol):
    """The revocation log as the feed reads it (implemented in ``storage/sql/feed.py``)."""

    @property
    def watermark(self) -> int:
        """Every entry at or below this sequence number has committed (or never will)."""
        ...

    async def reset(self, cursor: int) -> None: ...

    async def poll(self) -> list[Revocation]:
        """Entries committed since the last poll. Raises ServiceUnavailable."""
        ...

    async def since(self, cursor: int, now: datetime) -> list[Revocation]:
        """Entries after ``cursor`` still live at ``now``. Raises ServiceUnavailable."""
        ...

    async def newest(self) -> int:
        """The newest sequence number in the log (0 when empty). Raises ServiceUnavailable."""
        ...


def render_revocations(revocations: Sequence[Revocation], cursor: str) -> dict[str, object]:
    """The body of contract 10: ``{"revocations": [{"sid", "until"}], "cursor"}``."""
    return {
        "revocations": [
            {"sid": r.session_id, "until": _iso(r.until)} for r in _unique(revocations)
        ],
        "cursor": cursor,
    }


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _unique(revocations: Sequence[Revocation]) -> list[Revocation]:
    latest: dict[str, Revocation] = {}
    for r in revocations:
        seen = latest.get(r.session_id)
        if seen is None or r.until > seen.until:
            latest[r.session_id] = r
    return list(latest.values())


class Subscriber:
    """One stream's bounded buffer of rendered events."""

    def __init__(self, buffer: int) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=buffer + 1)
        self._limit = buffer
        self.dropped = False

    def __repr__(self) -> str:
        return f"Subscriber(pending={self._queue.qsize()}, dropped={self.dropped})"

    def offer(self, event: bytes) -> bool:
        """Queue ``event``; ``False`` (and the stream ends) when the buffer is full."""
        if self.dropped:
            return False
        if self._queue.qsize() >= self._limit:
            self.close(dropped=True)
            return False
        self._queue.put_nowait(event)
        return True

    def close(self, *, dropped: bool = False) -> None:
        """End the stream: what is buffered is discarded, the reader sees the end at once."""
        self.dropped = self.dropped or dropped
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    async def next(self, timeout_s: float) -> bytes | None:
        """The next event; ``None`` after ``timeout_s`` without one (time for a heartbeat);
        ``b""`` when the stream is over."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._queue.get()
        except TimeoutError:
            return None


class RevocationBroadcaster:
    def __init__(
        self,
        revocation_log: RevocationLog,
        cursors: CursorCodec,
        clock: Clock,
        *,
        buffer: int = 64,
        poll: timedelta = timedelta(seconds=1),
        heartbeat: timedelta = timedelta(seconds=15),
    ) -> None:
        self.log = revocation_log
        self.cursors = cursors
        self._clock = clock
        self._buffer = buffer
        self._poll_s = poll.total_seconds()
        self.heartbeat_s = heartbeat.total_seconds()
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._reading = asyncio.Lock()
        self.dropped = 0
        """Subscribers dropped for not keeping up, since start (a metric)."""

    def __repr__(self) -> str:
        return f"RevocationBroadcaster(subscribers={len(self._subscribers)})"

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def wake(self, _revocations: Sequence[Revocation] = ()) -> None:
        """A revocation was made here or arrived from a peer: read the log now."""
        self._wake.set()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self._buffer)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def current(self, cursor: str | None) -> tuple[list[Revocation], str]:
        """The revocations a caller at ``cursor`` has not seen (all live ones for ``None``), and
        the cursor to resume from. Raises InvalidCursor or ServiceUnavailable."""
        await self._poll()
        newest = await self.log.newest()
        # Taken before reading: entries up to it have committed, so the read below has them.
        watermark = min(self.log.watermark, newest)
        seq = 0 if cursor is None else self.cursors.decode(cursor, newest=newest)
        found = await self.log.since(seq, self._clock.now())
        return found, self.cursors.encode(max(seq, watermark))

    def event(self, revocations: Sequence[Revocation], cursor: str) -> bytes:
        """One Server-Sent Event: ``id`` is the cursor to resume from (``Last-Event-ID``)."""
        data = json.dumps(render_revocations(revocations, cursor), separators=(",", ":"))
        return f"id: {cursor}\nevent: revocations\ndata: {data}\n\n".encode()

    async def run(self, cursor: int, on_error: Callable[[], None] | None = None) -> None:
        """Follow the log from ``cursor`` until cancelled."""
        ready = False
        while True:
            try:
                if not ready:
                    await self.log.reset(cursor)
                    ready = True
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        await self._wake.wait()
                self._wake.clear()
                if not self._subscribers:
                    continue  # nobody listens: no query; the next subscriber's catch-up reads
                await self._poll()
                cursor = self.log.watermark
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down or a bug: keep serving, retry
                log.warning("the revocation stream could not read the log; retrying")
                if on_error is not None:
                    on_error()
                ready = False
                await asyncio.sleep(self._poll_s)

    async def _poll(self) -> None:
        """Read the log once (one reader per process, so one at a time) and fan out."""
        async with self._reading:
            found = await self.log.poll()
            if found:
                self._fan_out(found)

    def _fan_out(self, revocations: list[Revocation]) -> None:
        event = self.event(revocations, self.cursors.encode(self.log.watermark))
        for subscriber in list(self._subscribers):
            if not subscriber.offer(event):
                self._subscribers.discard(subscriber)
                self.dropped += 1
                log.warning("dropped a revocation-stream subscriber that did not keep up")

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()
