"""SQLite writes of one loop turn commit in one transaction (storage/sql/group_commit.py), and
each caller still gets its own result after the commit, or its own error."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.storage.conftest import hold_write_lock
from tokensmith.core.models import IssuedTokens
from tokensmith.core.sessions import RequestContext
from tokensmith.runtime import Services
from tokensmith.storage.sql.group_commit import GroupCommit
from tokensmith.storage.sql.sqlite_writer import SqliteBusy, SqliteConnection

CTX = RequestContext("10.0.0.1", "pytest")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "group.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    setup.close()
    return path


@pytest.fixture
def statements() -> list[str]:
    return []


@pytest.fixture
def connection(path: Path, statements: list[str]) -> Iterator[SqliteConnection]:
    def configure(c: sqlite3.Connection) -> None:
        c.set_trace_callback(statements.append)

    connection = SqliteConnection(str(path), configure)
    yield connection
    connection.close()


def _insert(key: str, value: int = 1) -> Any:
    def steps(c: sqlite3.Connection) -> str:
        c.execute("INSERT INTO t (k, v) VALUES (?, ?)", (key, value))
        return key

    return steps


def _rows(path: Path) -> dict[str, int]:
    """What another connection (another process) sees: only what was committed."""
    other = sqlite3.connect(path)
    try:
        return dict(other.execute("SELECT k, v FROM t").fetchall())
    finally:
        other.close()


async def test_the_writes_of_one_turn_commit_in_one_transaction(
    path: Path, connection: SqliteConnection, statements: list[str]
) -> None:
    group = GroupCommit(connection, asyncio.Lock())
    keys = [f"k{i}" for i in range(10)]
    results = await asyncio.gather(*(group.run(_insert(k)) for k in keys))
    assert results == keys  # each caller its own result
    assert (group.transactions, group.writes) == (1, 10)
    assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1
    assert set(_rows(path)) == set(keys)
    # The next turn's writes are the next transaction.
    await group.run(_insert("later"))
    assert (group.transactions, group.writes) == (2, 11)


async def test_a_caller_hears_of_its_write_only_once_it_is_committed(
    path: Path, connection: SqliteConnection, statements: list[str]
) -> None:
    group = GroupCommit(connection, asyncio.Lock())
    seen: list[tuple[str, bool]] = []

    async def write(key: str) -> None:
        await group.run(_insert(key))
        seen.append((statements[-1], key in _rows(path)))

    await asyncio.gather(write("a"), write("b"))
    assert seen == [("COMMIT", True), ("COMMIT", True)]


async def test_one_failing_write_costs_the_others_nothing(
    path: Path, connection: SqliteConnection
) -> None:
    """The third write breaks the primary key: it gets the IntegrityError, the other four are
    committed (the batch is rolled back and each write runs again on its own)."""
    group = GroupCommit(connection, asyncio.Lock())
    await group.run(_insert("taken"))
    writes = [_insert("a"), _insert("b"), _insert("taken", 2), _insert("c"), _insert("d")]
    results = await asyncio.gather(*(group.run(w) for w in writes), return_exceptions=True)
    assert results[:2] == ["a", "b"] and results[3:] == ["c", "d"]
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert _rows(path) == {"taken": 1, "a": 1, "b": 1, "c": 1, "d": 1}


async def test_a_lone_failing_write_runs_once(
    connection: SqliteConnection, statements: list[str]
) -> None:
    group = GroupCommit(connection, asyncio.Lock())
    await group.run(_insert("taken"))
    statements.clear()
    with pytest.raises(sqlite3.IntegrityError):
        await group.run(_insert("taken", 2))
    assert sum(s.startswith("INSERT") for s in statements) == 1
    assert statements[-1] == "ROLLBACK"


async def test_the_write_of_a_caller_that_has_gone_is_not_run(
    path: Path, connection: SqliteConnection
) -> None:
    group = GroupCommit(connection, asyncio.Lock())
    tasks = [asyncio.create_task(group.run(_insert(k))) for k in ("a", "b", "c")]
    await asyncio.sleep(0)  # each task has queued its write; the batch runs on the next turn
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], asyncio.CancelledError)
    assert set(_rows(path)) == {"a", "c"}
    assert group.writes == 2


async def test_writes_wait_for_this_process_writer(
    path: Path, connection: SqliteConnection
) -> None:
    """The process's write lock (held by a write through the SQLAlchemy pool) is waited for
    asynchronously, then the writes commit."""
    lock = asyncio.Lock()
    group = GroupCommit(connection, lock)
    await lock.acquire()
    tasks = [asyncio.create_task(group.run(_insert(k))) for k in ("a", "b")]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(t.done() for t in tasks) and _rows(path) == {}
    lock.release()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 5) == ["a", "b"]
    assert group.transactions == 1


async def test_writes_wait_for_another_process_without_blocking_the_loop(
    path: Path, connection: SqliteConnection
) -> None:
    group = GroupCommit(connection, asyncio.Lock())
    other = hold_write_lock(path)
    tasks = [asyncio.create_task(group.run(_insert(k))) for k in ("a", "b", "c")]
    try:
        turns = 0
        for _ in range(20):  # the loop keeps running while the batch waits
            await asyncio.sleep(0.001)
            turns += 1
        assert turns == 20 and not any(t.done() for t in tasks)
        # Writes made while the first batch waits are not lost either.
        tasks.append(asyncio.create_task(group.run(_insert("d"))))
        await asyncio.sleep(0)
    finally:
        other.rollback()
        other.close()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 5) == ["a", "b", "c", "d"]
    assert set(_rows(path)) == {"a", "b", "c", "d"}


async def test_after_the_bound_every_waiting_caller_gets_the_busy_error(
    path: Path, connection: SqliteConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "WAIT_S", 0.05)
    group = GroupCommit(connection, asyncio.Lock())
    other = hold_write_lock(path)
    try:
        results = await asyncio.gather(
            *(group.run(_insert(k)) for k in ("a", "b")), return_exceptions=True
        )
    finally:
        other.rollback()
        other.close()
    assert all(isinstance(r, SqliteBusy) for r in results)
    assert _rows(path) == {}
    assert await group.run(_insert("a")) == "a"  # the connection is still good


async def test_concurrent_refreshes_of_many_sessions_share_a_transaction(
    sqlite_services: tuple[Services, Path],
) -> None:
    """Through the service: twenty sessions refreshed in one turn each get their own
    successor, every session rotated once, and the rotations took one transaction."""
    services, _ = sqlite_services
    await services.accounts.register("ada@example.com", "correct horse battery", "Ada", CTX)
    logins = [
        (await services.accounts.login("ada@example.com", "correct horse battery", CTX)).tokens
        for _ in range(20)
    ]
    group = services.database._rotation._group  # the process's group commit
    assert group is not None
    before = group.transactions
    results = await asyncio.gather(
        *(services.sessions.refresh(t.refresh_token or "", CTX) for t in logins)
    )
    assert all(isinstance(r, IssuedTokens) for r in results)
    assert len({r.refresh_token for r in results}) == 20
    assert [r.session_id for r in results] == [t.session_id for t in logins]
    assert group.transactions - before == 1
    async with services.database.transaction() as uow:
        for t in logins:
            session = await uow.sessions.get(t.session_id)
            assert session is not None and session.generation == 1
