"""The outbox on SQLite and PostgreSQL: claims lease rows (a crashed worker's rows come back),
concurrent workers take disjoint rows (FOR UPDATE SKIP LOCKED), failures back off, and a retried
entry keeps its event id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tokensmith.core.clock import ManualClock
from tokensmith.core.models import Channel, OutboxEntry
from tokensmith.core.outbox import OutboxWorker, OutboxWriter, RetryPolicy
from tokensmith.storage.sql.database import SqlDatabase

NOW = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[SqlDatabase]:
    db = SqlDatabase(database_url)
    try:
        yield db
    finally:
        await db.close()


async def _write(database: SqlDatabase, count: int) -> list[OutboxEntry]:
    writer = OutboxWriter()
    async with database.transaction(write=True) as uow:
        return [
            await writer.add(uow, Channel.WEBHOOK, "user.disabled", {"n": i}, NOW)
            for i in range(count)
        ]


async def test_a_claimed_entry_is_hidden_until_its_lease_ends(database: SqlDatabase) -> None:
    """A worker that claims and dies: the entry comes due again when the lease ends, with the
    attempt counted and the same event id."""
    [written] = await _write(database, 1)
    async with database.transaction(write=True) as uow:
        [claimed] = await uow.outbox.claim(NOW, NOW + LEASE, 10)
    assert claimed.attempts == 1 and claimed.event_id == written.event_id
    async with database.transaction(write=True) as uow:
        assert await uow.outbox.claim(NOW + LEASE - timedelta(seconds=1), NOW + LEASE, 10) == []
    async with database.transaction(write=True) as uow:
        [again] = await uow.outbox.claim(NOW + LEASE, NOW + 2 * LEASE, 10)
    assert again.attempts == 2 and again.event_id == written.event_id


@pytest.mark.postgres
async def test_concurrent_claims_take_disjoint_rows(postgres_url: str) -> None:
    """Two workers claiming at once on PostgreSQL: the second skips the rows the first holds
    (it neither waits nor takes them)."""
    database = SqlDatabase(postgres_url)
    try:
        await _write(database, 10)
        first_claimed = asyncio.Event()
        release = asyncio.Event()
        first: list[OutboxEntry] = []

        async def worker_a() -> None:
            async with database.transaction(write=True) as uow:
                first.extend(await uow.outbox.claim(NOW, NOW + LEASE, 4))
                first_claimed.set()
                await release.wait()  # hold the row locks

        task = asyncio.create_task(worker_a())
        await first_claimed.wait()
        async with asyncio.timeout(5), database.transaction(write=True) as uow:
            second = await uow.outbox.claim(NOW, NOW + LEASE, 10)
        release.set()
        await task
        assert len(first) == 4 and len(second) == 6
        assert not {e.id for e in first} & {e.id for e in second}
    finally:
        await database.close()


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[str] = []

    async def deliver(self, entry: OutboxEntry) -> None:
        self.seen.append(entry.event_id)
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("the receiver is down")


async def test_failures_back_off_and_the_entry_is_delivered_later(database: SqlDatabase) -> None:
    """Each failure reschedules with a growing delay and keeps the error; once the receiver
    answers, the entry is sent and never delivered again."""
    [written] = await _write(database, 1)
    clock = ManualClock(NOW)
    flaky = Flaky(failures=3)
    policy = RetryPolicy(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=60))
    worker = OutboxWorker(database, {Channel.WEBHOOK: flaky}, clock, policy=policy)
    delays = []
    for _ in range(3):
        assert await worker.run_once() == 1
        async with database.transaction() as uow:
            [pending] = await uow.outbox.list()
        assert pending.last_error and "ConnectionRefusedError" in pending.last_error
        delays.append(pending.next_attempt_at - clock.now())
        assert await worker.run_once() == 0  # not due yet
        clock.set(pending.next_attempt_at)
    assert delays[0] < delays[1] < delays[2] <= timedelta(seconds=4.8)
    assert await worker.run_once() == 1
    clock.advance(timedelta(hours=1))
    assert await worker.run_once() == 0
    assert flaky.seen == [written.event_id] * 4
    async with database.transaction() as uow:
        assert await uow.outbox.list() == []
        [sent] = await uow.outbox.list(pending_only=False)
    assert sent.sent_at is not None and sent.attempts == 4


def test_the_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=10))
    assert policy.delay(50) <= timedelta(seconds=12)
    assert policy.delay(1) >= timedelta(seconds=0.8)
