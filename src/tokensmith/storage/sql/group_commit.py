"""SQLite writes that arrive in the same turn of the event loop commit in one transaction.

Under a refresh storm a worker reads many requests in one turn of its loop (one ``epoll`` answer,
several sockets), and each one's rotation was its own ``BEGIN IMMEDIATE ... COMMIT``: two
statements, a WAL append of every page it touched and the write lock taken and released, each
time. The statements themselves (an ``UPDATE ... RETURNING`` and an ``INSERT``) cost about as much
as that frame around them. Here a write waits for the end of the turn, and every write of the turn
runs in one transaction: the pages they share (the audit table's last page and its indexes, the
sessions' index) go to the WAL once, and the write lock changes hands between the processes of
``--workers 2`` once per batch (about nine rotations a transaction at 32 connections:
docs/performance.md, round eight).

What each caller gets is unchanged: its own ``steps``' result, after the commit, or its own
error. A write on an idle server pays for waiting one turn (a few tens of microseconds).

* A write whose caller has gone (its task was cancelled before the batch ran) is not run.
* If any write of a batch raises, the batch is rolled back and each of its writes runs again in
  a transaction of its own, so one caller's error is never another's.
* The batch holds the process's write lock, as a single write did, and waits for another
  process's lock the same way (:meth:`SqliteConnection.run`: asynchronously, bounded).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any

from tokensmith.storage.sql.sqlite_writer import SqliteBusy, SqliteConnection

__all__ = ["GroupCommit"]

Steps = Callable[[sqlite3.Connection], Any]


Write = tuple[Steps, "asyncio.Future[Any]"]
Done = tuple["asyncio.Future[Any]", Any]


class GroupCommit:
    """:meth:`run` a write: it commits with every other write of the same loop turn."""

    def __init__(self, connection: SqliteConnection, write_lock: asyncio.Lock) -> None:
        self._connection = connection
        self._write_lock = write_lock
        self._open: tuple[asyncio.AbstractEventLoop, list[Write]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.transactions = 0
        """Transactions committed (for the tests and the bench)."""
        self.writes = 0
        """Writes they carried."""

    def __repr__(self) -> str:
        return f"GroupCommit(transactions={self.transactions}, writes={self.writes})"

    async def run(self, steps: Steps) -> Any:
        """``steps``' result once the transaction it ran in is committed, or its own error."""
        loop = asyncio.get_running_loop()
        if self._open is None or self._open[0] is not loop:
            self._open = (loop, [])
            loop.call_soon(self._close, loop, self._open[1])
        future: asyncio.Future[Any] = loop.create_future()
        self._open[1].append((steps, future))
        return await future

    def _close(self, loop: asyncio.AbstractEventLoop, batch: list[Write]) -> None:
        """End of the turn: ``batch`` takes no more writes. It commits here, at once, when
        neither this process nor another is writing (the common case), else in a task that
        waits for the locks."""
        if self._open is not None and self._open[1] is batch:
            self._open = None
        if not self._write_lock.locked():
            try:
                done = self._connection.transaction(lambda c: self._all(c, batch))
            except SqliteBusy:
                pass  # another process holds the write lock: wait for it below
            except Exception as exc:
                self._failed(loop, batch, exc)
                return
            else:
                self._hand_out(done)
                return
        self._start(loop, self._when_free(loop, batch))

    async def _when_free(self, loop: asyncio.AbstractEventLoop, batch: list[Write]) -> None:
        try:
            async with self._write_lock:
                done = await self._connection.run(lambda c: self._all(c, batch))
        except SqliteBusy as exc:  # waited the whole bound: every caller gets the 503
            _settle(batch, exc)
        except Exception as exc:
            self._failed(loop, batch, exc)
        except BaseException:  # cancelled (the loop is closing): so are the callers
            for _, future in batch:
                future.cancel()
            raise
        else:
            self._hand_out(done)

    def _all(self, connection: sqlite3.Connection, batch: list[Write]) -> list[Done]:
        """Every write of ``batch`` whose caller still waits, in the open transaction."""
        return [(future, steps(connection)) for steps, future in batch if not future.done()]

    def _hand_out(self, done: list[Done]) -> None:
        """The results, once committed (a waiter runs on a later turn of the loop)."""
        self.transactions += 1
        self.writes += len(done)
        for future, result in done:
            if not future.done():
                future.set_result(result)

    def _failed(self, loop: asyncio.AbstractEventLoop, batch: list[Write], exc: Exception) -> None:
        """A write of ``batch`` raised (or the commit did) and the transaction was rolled
        back. A lone write gets the error; in a batch each write runs again in a transaction
        of its own, so an error is only ever its own caller's."""
        live = [write for write in batch if not write[1].done()]
        if len(live) == 1:
            _settle(live, exc)
            return
        for write in live:  # a batch of one each: its failure is settled by the branch above
            self._start(loop, self._when_free(loop, [write]))

    def _start(self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(work)
        self._tasks.add(task)  # a strong reference until it is done (asyncio's docs)
        task.add_done_callback(self._tasks.discard)


def _settle(writes: list[Write], exc: BaseException) -> None:
    for _, future in writes:
        if not future.done():
            future.set_exception(exc)
