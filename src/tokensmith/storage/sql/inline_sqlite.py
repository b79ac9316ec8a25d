"""SQLite calls made inline on the event loop, through SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call on a thread of its own and wakes the event loop when it is done: on a
busy two-core machine that hop costs 0.3-0.5 ms, while the statements tokensmith sends to SQLite
take 5-70 us (PERF-NOTES: aiosqlite is 3-8x slower than sqlite3). So this adapter keeps
aiosqlite's interface (which SQLAlchemy's ``sqlite+aiosqlite`` dialect drives) and runs each
call directly instead: a refresh is one short blocking burst on the loop instead of several
round trips to a thread.

The trade-off: a statement that has to wait for another *process's* write lock waits on the
loop (bounded by ``busy_timeout``). With WAL, readers never wait, and tokensmith's write
transactions hold the lock for tens of microseconds, so with ``--workers N`` the waits are short;
a long external writer (a backup tool holding a write transaction) would stall requests, which
is why SQLite is the single-machine default and PostgreSQL the way to grow.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, Final

import aiosqlite

__all__ = ["InlineConnection", "configure", "connect_inline"]


class _InlineQueue:
    """Stands in for aiosqlite's queue to its thread (SQLAlchemy puts work on it directly to
    set the isolation level): the work runs at once and its future is settled."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to whoever awaits the future, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """``aiosqlite.Connection`` without its thread: every call runs where it is awaited."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    def __await__(self) -> Any:  # no thread to start
        return self._connect().__await__()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> asyncio.Future[Any] | None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        return None

    async def close(self) -> None:
        self.stop()

    def __del__(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connect_inline(path: str) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def creator() -> InlineConnection:
        def connector() -> sqlite3.Connection:
            # check_same_thread=False: SQLAlchemy may close a pooled connection from the
            # garbage collector's thread; every statement still runs on the event loop.
            return sqlite3.connect(path, check_same_thread=False, isolation_level=None)

        connection = InlineConnection(connector)
        await connection._connect()
        return connection

    return creator


PAGE_SIZE: Final = 2048
"""The page size of a database tokensmith creates (SQLite's default is 4096). A commit writes
every page it changed to the WAL, whole: a rotation changes ~8 (the session row and two of its
indexes, the audit row and its three indexes), so at 4 KiB it wrote ~32 KiB for a few hundred
bytes of rows, and a checkpoint copied them again. Refresh throughput in alternating pairs
(docs/performance.md, round five): 1 KiB ÷ 4 KiB 1.08x, 1 KiB ÷ 2 KiB 1.01x; 2 KiB keeps a
session row with its claims and user agent on one page and the trees shallower."""


def configure(connection: sqlite3.Connection) -> None:
    """Every tokensmith connection's settings: WAL for concurrent readers, a busy timeout for
    writers of several processes, foreign keys, and no transaction handling of pysqlite's own
    (each transaction starts with the ``BEGIN`` its caller chose)."""
    connection.isolation_level = None
    cursor = connection.cursor()
    # Before the first write (below, WAL's own header), so only a new database takes it; an
    # existing one keeps the page size it was created with.
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Waits for another process's write lock happen on the event loop (see above): bounded at
    # 2 s, then the request answers 503.
    cursor.execute("PRAGMA busy_timeout=2000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Checkpoints run on a thread (checkpoint.py), never inside a commit on the loop.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
