"""This process's own SQLite connection for the hot writes, and its ``BEGIN IMMEDIATE`` burst."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

__all__ = ["SqliteBusy", "SqliteConnection", "immediate"]


class SqliteBusy(sqlite3.OperationalError):
    """Another connection holds SQLite's write lock: try again after yielding to the loop (an
    ``OperationalError``, so uncaught it is a 503 like any lock timeout)."""


def immediate(connection: sqlite3.Connection, steps: Callable[[sqlite3.Connection], Any]) -> Any:
    """``steps`` between ``BEGIN IMMEDIATE`` and ``COMMIT`` (``ROLLBACK`` if it raises);
    :class:`SqliteBusy` when another connection holds the write lock."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise SqliteBusy() from None
        raise
    try:
        result = steps(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


class SqliteConnection:
    """This process's own SQLite connection for the rotation, opened on first use with the
    pool's pragmas, used inline on the event loop only, closed with the database.

    Its busy timeout is 0: a ``BEGIN IMMEDIATE`` that finds another process writing raises
    :class:`SqliteBusy` at once, and :meth:`run` waits for the lock *asynchronously*, where
    SQLite's busy handler would sleep on the event loop (1, 2, 5, 10 ms...) and stall every
    other request of the worker with it.
    """

    WAIT_S = 2.0
    """How long a rotation waits for the write lock (the pool's ``busy_timeout``), then 503."""
    MAX_PAUSE_S = 0.001
    """The longest pause between tries: a rotation holds the lock about 0.2 ms, and a 4 ms cap
    gave a p99 of 58-64 ms against 35-38 ms (``python -m bench.rotation_micro``)."""

    def __init__(self, path: str, configure: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._configure = configure
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteConnection(open={self._connection is not None})"

    async def run(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """:meth:`transaction`, retried while another process holds the write lock, yielding
        to the loop between tries (0.25 ms, doubling up to :attr:`MAX_PAUSE_S`), for at most
        :attr:`WAIT_S`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.WAIT_S
        pause = 0.00025
        while True:
            try:
                return self.transaction(steps)
            except SqliteBusy:
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.MAX_PAUSE_S)

    def transaction(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``steps`` between ``BEGIN IMMEDIATE`` and ``COMMIT`` (``ROLLBACK`` if it
        raises), in one synchronous burst. A connection that failed is closed and opened again
        next time."""
        connection = self._open()
        try:
            return immediate(connection, steps)
        except SqliteBusy:
            raise  # the connection is fine
        except sqlite3.Error:
            self.close()
            raise

    def read(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``steps`` (reads) outside any transaction: each statement sees the last commit
        (WAL: a reader never waits for a writer). Never inside :meth:`transaction`'s burst,
        since both run synchronously on the loop."""
        connection = self._open()
        try:
            return steps(connection)
        except sqlite3.Error:
            self.close()
            raise

    def _open(self) -> sqlite3.Connection:
        connection = self._connection
        if connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            try:
                self._configure(connection)
                connection.execute("PRAGMA busy_timeout=0")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
