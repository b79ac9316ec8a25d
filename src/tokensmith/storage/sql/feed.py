"""Revocations between processes sharing one database, by polling the revocation log.

This is the feed without Redis (``serve --workers N``, or several instances on one PostgreSQL),
and the fallback of the Redis feed: each process reads the rows appended since its cursor every
``interval``. One indexed query per interval per process, never per request.

Sequence numbers are not commit order on PostgreSQL: a transaction that drew ``seq = 6`` can commit
after one that drew ``seq = 7``. A reader that saw 7 and moved its cursor past 6 would never see 6.
So :class:`RevocationLogReader` remembers the numbers it skipped ("gaps") and asks for them again on
every poll until they turn up or are older than ``gap_window`` (then they were rolled back: a
sequence value is never reused). Write transactions are bounded by the engine's statement, lock and
idle-in-transaction timeouts, far below the window. On SQLite, writers are serialised, so numbers
commit in order; the bookkeeping is the same and costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from tokensmith.core.models import Revocation
from tokensmith.core.ports import RevocationHandler
from tokensmith.errors import ServiceUnavailable
from tokensmith.storage.sql.database import SqlDatabase

__all__ = ["RevocationLogReader", "SqlPollingFeed", "SqlRevocationLog"]

log = logging.getLogger("tokensmith.revocation")

_MAX_GAPS = 10_000
"""More open gaps than this means something odd (a sequence bumped by hand): forget the oldest."""

_STARTUP_LOOKBACK = 1_000
"""After a (re)load on PostgreSQL, numbers missing among the newest this many count as gaps: a
transaction still in flight at load time may commit one of them."""


class RevocationLogReader:
    """Reads the revocation log incrementally without skipping late commits (see the module)."""

    def __init__(self, database: SqlDatabase, gap_window: timedelta = timedelta(seconds=30)):
        self._db = database
        self._gap_window_s = gap_window.total_seconds()
        self.cursor = 0
        self._gaps: dict[int, float] = {}  # sequence number -> monotonic time first missed

    def __repr__(self) -> str:
        return f"RevocationLogReader(cursor={self.cursor}, gaps={len(self._gaps)})"

    @property
    def open_gaps(self) -> int:
        return len(self._gaps)

    @property
    def watermark(self) -> int:
        """Every sequence number at or below this one has been read (or was given up on)."""
        return min(self._gaps) - 1 if self._gaps else self.cursor

    async def reset(self, cursor: int) -> None:
        """Continue from ``cursor`` (where a full load stopped). Raises ServiceUnavailable."""
        self.cursor = cursor
        self._gaps.clear()
        if self._db.is_sqlite or cursor <= 0:
            return
        low = max(0, cursor - _STARTUP_LOOKBACK)
        async with self._db.transaction() as uow:
            present = await uow.revocations.sequence_numbers(low, cursor)
        self._note_gaps(low + 1, cursor + 1, set(present))

    async def poll(self) -> list[Revocation]:
        """The revocations committed since the last poll. Raises ServiceUnavailable."""
        now = time.monotonic()
        for seq in [s for s, seen in self._gaps.items() if now - seen > self._gap_window_s]:
            del self._gaps[seq]
        async with self._db.transaction() as uow:
            rows = await uow.revocations.after(self.cursor, list(self._gaps))
        found: list[Revocation] = []
        for seq, revocation in rows:
            if seq > self.cursor:
                self._note_gaps(self.cursor + 1, seq, set())
                self.cursor = seq
            else:
                self._gaps.pop(seq, None)
            found.append(revocation)
        return found

    def _note_gaps(self, start: int, stop: int, present: set[int]) -> None:
        now = time.monotonic()
        if stop - start > _MAX_GAPS:
            start = stop - _MAX_GAPS
        for seq in range(start, stop):
            if seq not in present:
                self._gaps[seq] = now
        while len(self._gaps) > _MAX_GAPS:
            del self._gaps[next(iter(self._gaps))]


class SqlPollingFeed:
    """A :class:`~tokensmith.core.ports.RevocationFeed` over the revocation log alone."""

    def __init__(self, database: SqlDatabase, interval: timedelta = timedelta(milliseconds=20)):
        self._reader = RevocationLogReader(database)
        self._interval_s = interval.total_seconds()

    def __repr__(self) -> str:
        return f"SqlPollingFeed(every {self._interval_s * 1000:.0f} ms)"

    async def publish(self, revocations: Sequence[Revocation]) -> None:
        """Nothing to send: the revoking transaction already wrote the log."""

    async def run(
        self,
        handler: RevocationHandler,
        resync: Callable[[], Awaitable[int]],
        cursor: int,
    ) -> None:
        ready, first = False, True
        while True:
            try:
                if not ready:
                    # After an outage, reload: the log may have been cleaned past our cursor.
                    await self._reader.reset(cursor if first else await resync())
                    ready, first = True, False
                new = await self._reader.poll()
            except ServiceUnavailable:
                ready, new = False, []
            except Exception:  # a bug or an unexpected driver error must not end the feed
                log.exception("could not read the revocation log; retrying")
                ready, new = False, []
                await asyncio.sleep(1.0)
            if new:
                handler(new)
            await asyncio.sleep(self._interval_s)

    async def close(self) -> None:
        return None


class SqlRevocationLog:
    """The log as the stream for other services reads it
    (:class:`~tokensmith.core.broadcast.RevocationLog`)."""

    def __init__(self, database: SqlDatabase) -> None:
        self._db = database
        self._reader = RevocationLogReader(database)

    def __repr__(self) -> str:
        return f"SqlRevocationLog({self._reader!r})"

    @property
    def watermark(self) -> int:
        return self._reader.watermark

    async def reset(self, cursor: int) -> None:
        await self._reader.reset(cursor)

    async def poll(self) -> list[Revocation]:
        return await self._reader.poll()

    async def since(self, cursor: int, now: datetime) -> list[Revocation]:
        async with self._db.transaction() as uow:
            rows = await uow.revocations.after(cursor)
        return [revocation for _, revocation in rows if revocation.until > now]

    async def newest(self) -> int:
        async with self._db.transaction() as uow:
            return await uow.revocations.newest()
