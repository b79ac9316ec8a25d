"""SQLite's WAL checkpoints, off the event loop.

By default the connection whose commit takes the WAL past 1,000 pages copies the WAL back into
the database file and syncs it, inside that commit: on the event loop, since tokensmith's SQLite
statements run inline (inline_sqlite.py). Under a refresh storm that is every ~150 rotations, and
each one stalled its worker for 5-15 ms (p99 of an in-process rotation 0.7 ms, max 6-16 ms).

So tokensmith's connections do not checkpoint (``wal_autocheckpoint=0``, set by
:func:`~tokensmith.storage.sql.inline_sqlite.configure`) and each server process runs
:class:`Checkpointer`: every 250 ms, on a thread of its own connection, a ``PASSIVE`` checkpoint
(it copies what it can without waiting for anyone); and when the WAL has grown past 4,096 pages
(8 MiB at the 2 KiB pages of a database tokensmith created, 16 MiB at SQLite's default 4 KiB) a
``RESTART`` one, which waits (at most 200 ms) for the writer of the moment and makes the next
writer start the WAL from its beginning, so the file stops growing. A rotation that finds the
write lock taken meanwhile waits for it without blocking the loop (direct.py). When the last
connection closes, SQLite checkpoints as always.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading

__all__ = ["Checkpointer"]

log = logging.getLogger("tokensmith.database")


class Checkpointer:
    INTERVAL_S = 0.25
    RESTART_PAGES = 4096
    RESTART_WAIT_MS = 200

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        # The connection is used on a worker thread; whoever finishes last closes it.
        self._lock = threading.Lock()
        self._in_flight = False
        self._stopping = False

    def __repr__(self) -> str:
        return f"Checkpointer(every {self.INTERVAL_S * 1000:.0f} ms)"

    async def run(self) -> None:
        """Checkpoint every :attr:`INTERVAL_S` until cancelled."""
        try:
            while True:
                await asyncio.sleep(self.INTERVAL_S)
                try:
                    await asyncio.to_thread(self._checkpoint_on_thread)
                except sqlite3.Error as exc:
                    log.debug("WAL checkpoint failed: %s", exc)
        finally:
            # Cancelled (the server stops): a checkpoint still running on its thread closes
            # the connection when it is done; else it is closed here.
            with self._lock:
                self._stopping = True
                idle = not self._in_flight
            if idle:
                self.close()

    def _checkpoint_on_thread(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._in_flight = True
        try:
            self.checkpoint()
        except sqlite3.Error:
            self.close()  # opened again next round
            raise
        finally:
            with self._lock:
                self._in_flight = False
                stopping = self._stopping
            if stopping:
                self.close()

    def checkpoint(self) -> tuple[int, int]:
        """One round: ``(pages in the WAL, pages copied back)`` after it."""
        connection = self._connection
        if connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            connection.execute(f"PRAGMA busy_timeout={self.RESTART_WAIT_MS}")
            self._connection = connection
        # fetchall(): a statement left unfinished would hold a read snapshot, and the WAL could
        # never start over.
        _, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        if pages >= self.RESTART_PAGES:
            _, pages, copied = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()[0]
        return int(pages), int(copied)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
