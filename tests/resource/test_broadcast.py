"""The fan-out behind the stream: one read per batch, bounded buffers, slow subscribers dropped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tokensmith.core.broadcast import RevocationBroadcaster
from tokensmith.core.clock import ManualClock
from tokensmith.core.feed_cursor import CursorCodec
from tokensmith.core.models import Revocation

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryLog:
    """A revocation log in memory (the port :class:`RevocationLog`)."""

    def __init__(self) -> None:
        self.rows: list[Revocation] = []
        self.read = 0

    @property
    def watermark(self) -> int:
        return self.read

    async def reset(self, cursor: int) -> None:
        self.read = cursor

    async def poll(self) -> list[Revocation]:
        new = self.rows[self.read :]
        self.read = len(self.rows)
        return new

    async def since(self, cursor: int, now: datetime) -> list[Revocation]:
        return [r for r in self.rows[cursor:] if r.until > now]

    async def newest(self) -> int:
        return len(self.rows)

    def revoke(self, sid: str) -> Revocation:
        revocation = Revocation(sid, NOW + timedelta(minutes=16))
        self.rows.append(revocation)
        return revocation


def broadcaster(log: MemoryLog, buffer: int = 4) -> RevocationBroadcaster:
    return RevocationBroadcaster(
        log, CursorCodec(b"k" * 32), ManualClock(NOW), buffer=buffer, poll=timedelta(seconds=5)
    )


async def test_every_subscriber_gets_the_same_event_once_woken() -> None:
    """A wake reads the log once and hands every subscriber the event, cursor as its id."""
    log = MemoryLog()
    hub = broadcaster(log)
    task = asyncio.create_task(hub.run(0))
    subs = [hub.subscribe() for _ in range(50)]
    hub.wake([log.revoke("s1")])
    events = [await s.next(5.0) for s in subs]
    assert len(set(events)) == 1
    assert events[0] is not None
    assert b'"sid":"s1"' in events[0]
    assert events[0].startswith(f"id: {hub.cursors.encode(1)}\n".encode())
    task.cancel()


async def test_a_slow_subscriber_is_dropped_not_buffered() -> None:
    """A subscriber whose buffer is full is dropped (its stream ends) while the others go on;
    what the server holds for it never grows past the buffer."""
    log = MemoryLog()
    hub = broadcaster(log, buffer=3)
    task = asyncio.create_task(hub.run(0))
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(6):
        hub.wake([log.revoke(f"s{i}")])
        assert await fast.next(5.0) is not None
    assert slow.dropped
    assert await slow.next(0.1) == b""  # the end of its stream, nothing buffered
    assert hub.subscribers == 1
    assert hub.dropped == 1
    task.cancel()


async def test_resume_from_a_cursor_catches_up_from_the_log() -> None:
    """What a dropped subscriber missed comes back from the log, from its last cursor."""
    log = MemoryLog()
    hub = broadcaster(log)
    log.revoke("a")
    _, cursor = await hub.current(None)
    log.revoke("b")
    log.revoke("c")
    missed, later = await hub.current(cursor)
    assert [r.session_id for r in missed] == ["b", "c"]
    assert later == hub.cursors.encode(3)


async def test_heartbeat_when_idle() -> None:
    """No event within the heartbeat interval: ``next`` says so (the route sends a comment)."""
    hub = broadcaster(MemoryLog())
    assert await hub.subscribe().next(0.01) is None
