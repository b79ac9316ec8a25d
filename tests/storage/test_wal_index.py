"""The WAL-index header read from shared memory: unchanged exactly while nobody commits."""

from __future__ import annotations

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
