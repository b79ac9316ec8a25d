"""The revocation log is read without skipping rows, even when they commit out of order, and the
schema migrates the same way on every backend."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.storage.conftest import make_services
from tests.support.databases import fresh_postgres_database, migrate
from tests.support.feeds import PeerRevokesFirst
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import Revocation
from tokensmith.storage.sql import migrate as migrations
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.feed import RevocationLogReader, SqlPollingFeed

UNTIL = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SqlDatabase]:
    database = SqlDatabase(database_url)
    try:
        yield database
    finally:
        await database.close()


async def _revoke(db: SqlDatabase, *sids: str) -> None:
    async with db.transaction(write=True) as uow:
        await uow.revocations.add([Revocation(sid, UNTIL) for sid in sids])


@asynccontextmanager
async def polling(
    db: SqlDatabase, interval: timedelta
) -> AsyncIterator[tuple[SqlPollingFeed, list[str]]]:
    """A feed's polling loop running on ``db`` (from cursor 0) once it has read the log, and
    the session ids it hands to its handler, in order; cancelled and closed at the end."""
    received: list[str] = []
    feed = SqlPollingFeed(db, interval=interval)
    listening = asyncio.Event()

    async def resync() -> int:
        return 0

    task = asyncio.create_task(
        feed.run(lambda revs: received.extend(r.session_id for r in revs), resync, 0, listening.set)
    )
    try:
        await asyncio.wait_for(listening.wait(), 5)
        yield feed, received
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await feed.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 5 s) for another task or process to make ``condition`` true."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)


@pytest.mark.postgres
async def test_a_late_commit_with_a_lower_sequence_number_is_still_read(
    postgres_url: str,
) -> None:
    """On PostgreSQL seq 6 can commit after seq 7; the reader remembers 6 and picks it up."""
    db = SqlDatabase(postgres_url)
    try:
        reader = RevocationLogReader(db)
        await reader.reset(0)
        slow = db.transaction(write=True)
        uow = await slow.__aenter__()
        await uow.revocations.add([Revocation("slow", UNTIL)])  # draws the lower number
        await _revoke(db, "fast")  # draws the next number and commits first
        assert [r.session_id for r in await reader.poll()] == ["fast"]
        assert reader.open_gaps == 1
        await slow.__aexit__(None, None, None)  # commit
        assert [r.session_id for r in await reader.poll()] == ["slow"]
        assert reader.open_gaps == 0
    finally:
        await db.close()


@pytest.mark.postgres
async def test_a_transaction_in_flight_during_the_initial_load_is_not_lost(
    postgres_url: str,
) -> None:
    """A revocation committed just after the full load, numbered below its cursor, arrives."""
    db = SqlDatabase(postgres_url)
    try:
        slow = db.transaction(write=True)
        uow = await slow.__aenter__()
        await uow.revocations.add([Revocation("slow", UNTIL)])
        await _revoke(db, "fast")
        async with db.transaction() as load:
            live, cursor = await load.revocations.live(datetime.now(UTC))
        assert [r.session_id for r in live] == ["fast"]
        reader = RevocationLogReader(db)
        await reader.reset(cursor)
        await slow.__aexit__(None, None, None)
        assert [r.session_id for r in await reader.poll()] == ["slow"]
    finally:
        await db.close()


async def test_rolled_back_numbers_are_forgotten_after_the_window(db: SqlDatabase) -> None:
    """A number drawn by a rolled-back transaction stops being asked for after the window."""
    reader = RevocationLogReader(db, gap_window=timedelta(0))
    await reader.reset(0)
    with pytest.raises(RuntimeError):
        async with db.transaction(write=True) as uow:
            await uow.revocations.add([Revocation("rolled-back", UNTIL)])
            raise RuntimeError("rollback")
    await _revoke(db, "kept")
    assert [r.session_id for r in await reader.poll()] == ["kept"]
    await asyncio.sleep(0.01)
    assert await reader.poll() == []
    assert reader.open_gaps == 0


async def test_polling_feed_delivers_new_revocations(db: SqlDatabase) -> None:
    """The polling feed hands every revocation written after its cursor to the handler."""
    async with polling(db, timedelta(milliseconds=10)) as (_, received):
        await _revoke(db, "a", "b")
        await until(lambda: len(received) == 2)
        assert sorted(received) == ["a", "b"]


async def test_the_polling_loop_reads_the_log_without_the_engine(
    db: SqlDatabase, database_url: str
) -> None:
    """Every process reads the log every interval, busy or idle: on SQLite through the feed's
    own connection and only after a commit, on PostgreSQL as one statement on asyncpg's pool,
    never as a pooled SQLAlchemy transaction (three round trips, ~1 ms of CPU each time).
    Revocations another process commits still arrive."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    other = SqlDatabase(database_url)  # another process's connections
    async with polling(db, timedelta(milliseconds=1)) as (feed, received):
        await until(lambda: feed._ready)
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            for name in ("first", "second"):
                await _revoke(other, name)
                await until(partial(operator.contains, received, name))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
            await other.close()
        assert received == ["first", "second"]
        assert statements == []


async def test_the_polling_loop_replaces_its_own_connection_when_it_fails(tmp_path: Path) -> None:
    """On SQLite the loop reads through a connection of its own: when that connection fails
    (here: closed under it), the loop reads through the pool meanwhile, opens another, and
    revocations keep arriving. (PostgreSQL's loop reads on the shared asyncpg pool.)"""
    database_url = f"sqlite:///{tmp_path / 'tokensmith.db'}"
    migrate(database_url)
    db, other = SqlDatabase(database_url), SqlDatabase(database_url)
    try:
        async with polling(db, timedelta(milliseconds=1)) as (feed, received):
            await _revoke(other, "before")
            await until(lambda: received == ["before"] and feed._watch is not None)
            broken = feed._watch
            assert broken is not None
            broken.close()  # every statement on it now raises sqlite3.ProgrammingError
            for name in ("after", "again"):  # read through the pool, then a new connection
                await _revoke(other, name)
                await until(partial(operator.contains, received, name))
            assert {"after", "again"} <= set(received)
            assert feed._watch is not None and feed._watch is not broken
    finally:
        await other.close()
        await db.close()


@pytest.mark.postgres
async def test_concurrent_migrations_of_one_database_both_succeed() -> None:
    """Two instances running the migrations at once queue on an advisory lock: both end at
    head, the schema is created once."""
    with fresh_postgres_database(migrated=False) as url:
        first, second = SqlDatabase(url), SqlDatabase(url)
        try:
            revisions = await asyncio.gather(migrations.upgrade(first), migrations.upgrade(second))
            assert list(revisions) == [migrations.head_revision()] * 2
        finally:
            await first.close()
            await second.close()
        migrate(url)  # and again: a no-op


async def test_schema_is_at_head(db: SqlDatabase) -> None:
    """The fixture's database was migrated with the shipped migrations to head."""
    assert await migrations.current_revision(db) == migrations.head_revision()


@pytest.mark.postgres
async def test_an_unreachable_postgres_is_service_unavailable_quickly() -> None:
    """Nothing listening: transactions and pings raise ServiceUnavailable within seconds."""
    from tests.support.servers import free_port
    from tokensmith.errors import ServiceUnavailable

    db = SqlDatabase(f"postgresql://postgres@127.0.0.1:{free_port()}/none")
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ServiceUnavailable):
            async with db.transaction(write=True):
                pass
        with pytest.raises(ServiceUnavailable):
            await db.ping()
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await db.close()


async def test_catch_up_reads_what_another_connection_committed_at_once(
    db: SqlDatabase, database_url: str
) -> None:
    """Issue 11 item 18: on SQLite, ``catch_up`` (the request path) returns a revocation another
    process committed without waiting for the next poll, once; on PostgreSQL it adds nothing
    (the poll interval is the documented bound there)."""
    other = SqlDatabase(database_url)  # another process's connections
    # The loop polls once, then sleeps for an hour.
    async with polling(db, timedelta(hours=1)) as (feed, received):
        try:
            await _revoke(other, "elsewhere")
            found = [r.session_id for r in await feed.catch_up()]
        finally:
            await other.close()
        if db.is_sqlite:
            assert found == ["elsewhere"]
            assert (await feed.catch_up()) == []  # nothing new: no read at all
        else:
            assert found == []
        assert received == []  # the loop is asleep: only catch_up could have seen it


async def test_services_take_requests_only_once_the_feed_has_read_the_log(
    database_url: str, tmp_path: Path
) -> None:
    """A logout committed elsewhere after this process loaded the revocations, before its feed
    first read the log, is refused as soon as ``start`` returns (the server takes requests
    then): the CI failure of ``serve --workers 2``, where a worker still starting served it."""
    services = make_services(database_url, tmp_path, ManualClock(datetime.now(UTC)))
    assert services.feed is not None
    services.feed = PeerRevokesFirst(services.feed, services.database, "ended-elsewhere")
    await services.start()
    try:
        await services.revoker.catch_up()  # what the request path does first
        assert services.revoker.is_revoked("ended-elsewhere")
    finally:
        await services.stop()
