"""SQLite's page size: a database tokensmith creates has 2 KiB pages (a commit writes every page
it changed, whole, to the WAL); one created before keeps its own and works as it did."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tokensmith.storage.sql import migrate as migrations
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.inline_sqlite import PAGE_SIZE


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("PRAGMA page_size").fetchone()[0])


async def migrated(path: Path) -> None:
    database = SqlDatabase(f"sqlite:///{path}")
    try:
        await migrations.upgrade(database)
        async with database.transaction() as uow:
            assert await uow.sessions.count_active(datetime(2026, 12, 7, tzinfo=UTC)) == 0
    finally:
        await database.close()


async def test_a_new_database_has_small_pages(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    await migrated(path)
    assert PAGE_SIZE == 2048
    assert page_size(path) == PAGE_SIZE


async def test_an_existing_database_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:  # as SQLite's default made it (4 KiB)
        connection.execute("PRAGMA page_size=4096")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE kept (x INTEGER)")
    await migrated(path)
    assert page_size(path) == 4096
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)
