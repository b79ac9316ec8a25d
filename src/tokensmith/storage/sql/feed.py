"""Revocations between processes sharing one database, by polling the revocation log.

This is the feed without Redis (``serve --workers N``, or several instances on one PostgreSQL),
and the fallback of the Redis feed: each process reads the rows appended since its cursor every
``interval``. At most one indexed query per interval per process (on SQLite only after a commit,
through the feed's own connection), never per request.

Sequence numbers are not commit order on PostgreSQL: a transaction that drew ``seq = 6`` can commit
after one that drew ``seq = 7``. A reader that saw 7 and moved its cursor past 6 would never see 6.
So :class:`RevocationLogReader` remembers the numbers it skipped ("gaps") and asks for them again on
every poll until they turn up or are older than ``gap_window`` (then they were rolled back: a
sequence value is never reused). Write transactions are bounded by the engine's statement, lock and
idle-in-transaction timeouts, far below the window. On SQLite, writers are serialised, so numbers
commit in order; the bookkeeping is the same and costs nothing.

Polling alone leaves a window: a token revoked by another worker is accepted here until the next
poll (up to ``interval``; a review measured ~15-25 ms with ``--workers 2``). On SQLite the window
is closed on the request path (:meth:`SqlPollingFeed.catch_up`): ``PRAGMA data_version`` on a
connection of the feed's own changes whenever another connection has committed (a few
microseconds, no disk read; and skipped when the WAL-index header, read from shared memory, is
unchanged: wal_index.py); only then is the log read, before the token is trusted. Contract 5.2
("at once, on every instance") then holds between the workers of one machine. On PostgreSQL the
poll interval remains the bound (see docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from tokensmith.core.models import Revocation
from tokensmith.core.ports import RevocationHandler
from tokensmith.errors import ServiceUnavailable
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.wal_index import WalIndexHeader

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
        return self.take(await self._db.revocations_after(self.cursor, list(self._gaps)))

    def take(self, rows: Sequence[tuple[int, Revocation]]) -> list[Revocation]:
        """Move past ``rows`` (read by :meth:`poll`, or directly by the feed), ascending by
        sequence number; returns their revocations."""
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
        self._lock = asyncio.Lock()  # one reader of the log at a time: the loop or a request
        self._ready = False
        self._watch_path = database.sqlite_file
        self._watch: sqlite3.Connection | None = None
        self._seen_version: int | None = None
        self._header = WalIndexHeader(self._watch_path) if self._watch_path else None
        self._seen_header: bytes | None = None

    def __repr__(self) -> str:
        return f"SqlPollingFeed(every {self._interval_s * 1000:.0f} ms)"

    async def publish(self, revocations: Sequence[Revocation]) -> None:
        """Nothing to send: the revoking transaction already wrote the log."""

    async def catch_up(self) -> list[Revocation]:
        """Revocations committed by other processes since this one last read the log, read now
        if SQLite says anything was committed since (see the module docstring); ``[]`` at once
        when nothing was, on PostgreSQL, or while the feed is not running. Never raises: a
        failure leaves the request to the polling loop's view, as before."""
        if self._watch_path is None or not self._ready:
            return []
        header = self._header_now()
        if header is not None and header == self._seen_header:
            return []  # nothing committed since (wal_index.py): no lock, no PRAGMA
        async with self._lock:
            if not self._ready:
                return []
            try:
                return await self._read_log()
            except (sqlite3.Error, ValueError, ServiceUnavailable):
                log.debug("could not catch up with the revocation log", exc_info=True)
                return []

    async def _read_log(self) -> list[Revocation]:
        """The revocations committed since the last read; the caller holds the lock.

        On SQLite nothing is read when no connection has committed since (the WAL-index header,
        then ``data_version``), and the rows come straight from the feed's own connection (~20 us,
        where a pooled async transaction costs ~1 ms: under a refresh load every rotation commits,
        so the polling loop reads every interval). SQLite serialises writers, so numbers commit in
        order and everything past the cursor is all there is. No await between the
        ``data_version`` check and the read. Raises sqlite3.Error, ServiceUnavailable."""
        if self._watch_path is None:
            return await self._reader.poll()
        header = self._header_now()  # before data_version: see wal_index.py
        if header is not None and header == self._seen_header:
            return []
        version = self._data_version()
        if version is not None and version == self._seen_version:
            self._seen_header = header  # a checkpoint rewrote the header, no commit
            return []
        if version is None:  # the feed's own connection failed (and was closed): the pool
            new = await self._reader.poll()
        else:
            new = self._reader.take(self._rows_after(self._reader.cursor))
        self._seen_version, self._seen_header = version, header
        return new

    def _header_now(self) -> bytes | None:
        return self._header.snapshot() if self._header is not None else None

    def _rows_after(self, cursor: int) -> list[tuple[int, Revocation]]:
        assert self._watch is not None
        rows = self._watch.execute(
            "SELECT seq, session_id, until FROM revocations WHERE seq > ? ORDER BY seq", (cursor,)
        ).fetchall()
        # Stored as naive UTC text by tables.UtcDateTime ("YYYY-MM-DD HH:MM:SS[.ffffff]").
        return [
            (int(seq), Revocation(sid, datetime.fromisoformat(until).replace(tzinfo=UTC)))
            for seq, sid, until in rows
        ]

    def _data_version(self) -> int | None:
        """SQLite's ``data_version`` on the feed's own connection: it changes when another
        connection (of any process) commits. ``None`` when it cannot be read (then: read the
        log)."""
        try:
            if self._watch is None:
                assert self._watch_path is not None
                # Read-only use, on the event loop's thread; closed in close().
                self._watch = sqlite3.connect(
                    self._watch_path, check_same_thread=False, isolation_level=None
                )
            row = self._watch.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self._close_watch()  # the next check opens another
            return None
        return int(row[0])

    async def run(
        self,
        handler: RevocationHandler,
        resync: Callable[[], Awaitable[int]],
        cursor: int,
        listening: Callable[[], None] = lambda: None,
    ) -> None:
        first = True
        while True:
            new: list[Revocation] = []
            read = False
            try:
                async with self._lock:
                    if not self._ready:
                        # After an outage, reload: the log may have been cleaned past our cursor.
                        await self._reader.reset(cursor if first else await resync())
                        self._ready, first = True, False
                        self._seen_version = self._seen_header = None  # read once, whatever
                    new = await self._read_log()
                    read = True
            except ServiceUnavailable:
                self._ready = False
            except sqlite3.Error:  # the feed's own connection: the next read opens another
                self._ready = False
                self._close_watch()
            except Exception:  # a bug or an unexpected driver error must not end the feed
                log.exception("could not read the revocation log; retrying")
                self._ready = False
                await asyncio.sleep(1.0)
            if new:
                handler(new)
            if read:  # caught up with the log (and the handler has what it held)
                listening()
            await asyncio.sleep(self._interval_s)

    async def close(self) -> None:
        self._ready = False
        if self._header is not None:
            self._header.close()
        self._close_watch()

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None


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
