"""SQLite WAL checkpoints run on a thread, not inside commits on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.support.databases import migrate
from tokensmith.storage.sql.checkpoint import Checkpointer
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.inline_sqlite import configure


def _writer(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    configure(connection)
    connection.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    return connection


def _wal_pages(connection: sqlite3.Connection) -> int:
    """Pages in the WAL, without copying any back (a no-op checkpoint of 0 pages)."""
    return int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0][1])


def test_tokensmith_connections_never_checkpoint_in_a_commit(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "db.sqlite")
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for _ in range(1500):  # past SQLite's default threshold of 1,000 pages
        writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
    size = (tmp_path / "db.sqlite-wal").stat().st_size
    assert size > 1000 * 4096  # nothing was copied back and restarted by the writer


def test_a_checkpoint_copies_the_wal_back_and_restarts_it_when_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite"
    writer = _writer(path)
    checkpointer = Checkpointer(str(path))
    monkeypatch.setattr(Checkpointer, "RESTART_PAGES", 50)
    try:
        for _ in range(10):
            writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
        pages, copied = checkpointer.checkpoint()
        assert pages > 0 and copied == pages  # PASSIVE: all of it, nobody was writing
        for _ in range(100):
            writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
        pages, copied = checkpointer.checkpoint()
        assert pages >= 50 and copied == pages
        # After the RESTART, the next write starts the WAL from its beginning.
        writer.execute("INSERT INTO t VALUES ('y')")
        assert _wal_pages(writer) < 10
    finally:
        checkpointer.close()
        writer.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 111


async def test_the_database_runs_the_checkpointer_for_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``maintain()`` (spawned by ``Services.start``) checkpoints a SQLite file on a thread,
    round after round, until cancelled."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    rounds: list[tuple[int, int]] = []
    enough = asyncio.Event()
    checkpoint = Checkpointer.checkpoint

    def counted(self: Checkpointer) -> tuple[int, int]:
        rounds.append(checkpoint(self))
        if len(rounds) >= 3:
            asyncio.run_coroutine_threadsafe(_set(enough), loop)
        return rounds[-1]

    monkeypatch.setattr(Checkpointer, "INTERVAL_S", 0.001)
    monkeypatch.setattr(Checkpointer, "checkpoint", counted)
    loop = asyncio.get_running_loop()
    database = SqlDatabase(url)
    task = asyncio.create_task(database.maintain())
    try:
        await asyncio.wait_for(enough.wait(), 10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await database.close()
    assert len(rounds) >= 3


async def _set(event: asyncio.Event) -> None:
    event.set()


async def test_stopping_while_a_checkpoint_runs_on_its_thread_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Services stopped while a checkpoint is running on its thread: the thread closes the
    connection when it is done (closing it under the running checkpoint crashed the process
    with a segmentation fault). 150 start/stop cycles with a checkpoint every 0.5 ms."""
    from datetime import UTC, datetime

    from tests.storage.conftest import make_services
    from tokensmith.core.clock import ManualClock

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate(url)
    monkeypatch.setattr(Checkpointer, "INTERVAL_S", 0.0005)
    clock = ManualClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    for i in range(150):
        services = make_services(url, tmp_path, clock)
        await services.start()
        await asyncio.sleep(0.001 * (i % 4))
        await services.stop()
