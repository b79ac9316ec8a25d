"""The WAL-index header read from shared memory: unchanged exactly while nobody commits."""

from __future__ import annotations

import gc
import os
import sqlite3
from pathlib import Path

from tokensmith.storage.sql.wal_index import WalIndexHeader


def _database(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (x INTEGER)")
    return connection


def test_the_header_changes_with_every_commit_and_only_then(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = _database(path)
    reader = sqlite3.connect(path, isolation_level=None)
    header = WalIndexHeader(str(path))
    try:
        before = header.snapshot()
        assert before is not None
        reader.execute("SELECT count(*) FROM t").fetchall()  # reads change nothing
        assert header.snapshot() == before
        seen = {before}
        for i in range(5):
            writer.execute("INSERT INTO t VALUES (?)", (i,))
            now = header.snapshot()
            assert now is not None and now not in seen
            seen.add(now)
        writer.execute("BEGIN")
        writer.execute("INSERT INTO t VALUES (99)")
        uncommitted = header.snapshot()
        writer.execute("ROLLBACK")
        assert uncommitted in seen  # nothing committed: the same header
    finally:
        header.close()
        reader.close()
        writer.close()


def test_no_shared_memory_file_means_ask_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "rollback-journal.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x INTEGER)").connection.close()
    header = WalIndexHeader(str(path))
    assert header.snapshot() is None
    header.close()


def _locks_held_on(path: Path) -> list[str]:
    """This process's POSIX locks on ``path`` (``/proc/locks``: type, pid, device:inode, range)."""
    inode, pid = os.stat(path).st_ino, os.getpid()
    with open("/proc/locks") as table:
        return [
            " ".join(line.split()[3:])
            for line in table
            if line.split()[4] == str(pid) and line.split()[5].endswith(f":{inode}")
        ]


def test_reading_the_header_leaves_sqlites_locks_alone(tmp_path: Path) -> None:
    """SQLite holds POSIX locks on the ``-shm`` file (a shared "dead-man switch" lock that tells
    other processes the WAL-index is in use); closing *any* descriptor of the file would release
    them all. Reading the header, and closing the reader, must leave them as they were."""
    path = tmp_path / "db.sqlite"
    connection = _database(path)
    shm = Path(f"{path}-shm")
    try:
        held = _locks_held_on(shm)
        assert held, "SQLite holds a lock on its -shm file"
        for _ in range(2):
            header = WalIndexHeader(str(path))
            assert header.snapshot() is not None
            header.close()
            gc.collect()
            assert _locks_held_on(shm) == held
    finally:
        connection.close()


def test_a_new_shared_memory_file_is_read_by_a_new_reader(tmp_path: Path) -> None:
    """Once every connection closed, SQLite deletes the ``-shm`` file and the next connection
    makes another: a reader made after that reads the new file, not the kept old one."""
    path = tmp_path / "db.sqlite"
    first = _database(path)
    old = WalIndexHeader(str(path))
    assert old.snapshot() is not None
    old.close()
    first.close()
    second = sqlite3.connect(path, isolation_level=None)
    try:
        second.execute("PRAGMA journal_mode=WAL")
        second.execute("SELECT count(*) FROM t").fetchall()
        header = WalIndexHeader(str(path))
        before = header.snapshot()
        assert before is not None
        second.execute("INSERT INTO t VALUES (1)")
        assert header.snapshot() not in (None, before)
        header.close()
    finally:
        second.close()


def test_opening_another_database_object_leaves_sqlites_locks_alone(tmp_path: Path) -> None:
    """A second ``SqlDatabase`` on a file this process already has open (an app and the CLI's
    code in one process, a test) must not open and close the file to set its mode: that would
    release the open connection's lock on the database file."""
    from tokensmith.storage.sql.database import _private_sqlite_file

    path = tmp_path / "db.sqlite"
    connection = _database(path)
    try:
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM t").fetchall()
        held = _locks_held_on(path)
        assert held, "a read transaction holds SQLite's shared lock on the file"
        _private_sqlite_file(path)
        assert _locks_held_on(path) == held
        connection.execute("COMMIT")
    finally:
        connection.close()
