"""The outbox: mail and events that must leave tokensmith, and the worker that sends them.

Whatever must be told to the outside (a reset mail, a webhook, a handler registered with
``auth.on``) is written as an :class:`OutboxEntry` *in the transaction of the change it
announces*: the two commit together or not at all, so a crash can lose neither half.

:class:`OutboxWorker` delivers due entries **at least once**:

* it *claims* a batch in one short transaction, pushing each entry's ``next_attempt_at`` one lease
  into the future (with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers of several
  processes or instances take disjoint rows; SQLite serialises writers anyway);
* it delivers outside any transaction (no lock is held across SMTP or HTTP);
* success marks the entry sent; failure reschedules it with exponential backoff and jitter,
  capped at ``max_delay``; a worker that dies mid-delivery leaves the row to come due again when
  its lease ends. An entry is never given up: ``tokensmith outbox retry`` makes it due at once.

An entry delivered, then not marked sent (a crash between the two) is delivered again: receivers
de-duplicate on the stable ``event_id`` (the webhook's ``id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tokensmith.core.clock import Clock
from tokensmith.core.models import Channel, OutboxEntry
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.errors import ServiceUnavailable

__all__ = [
    "Channel",
    "Deliverer",
    "OutboxEntry",
    "OutboxWorker",
    "OutboxWriter",
    "RetryPolicy",
]

log = logging.getLogger("tokensmith.outbox")

ERROR_MAX = 500
"""The longest delivery error kept with an entry (the column's width)."""


class Deliverer(Protocol):
    async def deliver(self, entry: OutboxEntry) -> None:
        """Send ``entry``; any exception means "not delivered, try again later"."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=60)
    """How long a claimed entry is hidden from other workers (longer than any delivery)."""
    delivery_timeout_s: float = 20.0

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff, base * 2^(attempts-1), capped, with +-20 % jitter so entries
        that failed together do not all come back in the same instant."""
        exponent = min(max(attempts - 1, 0), 30)
        seconds = min(self.base_delay.total_seconds() * 2**exponent, self.max_delay.total_seconds())
        return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311 - jitter


class OutboxWriter:
    """Writes entries in the caller's unit of work and wakes the worker after the commit."""

    def __init__(self) -> None:
        self._wake: asyncio.Event | None = None

    def __repr__(self) -> str:
        return "OutboxWriter()"

    def attach(self, wake: asyncio.Event) -> None:
        self._wake = wake

    async def add(
        self,
        uow: UnitOfWork,
        channel: Channel,
        type_: str,
        payload: Mapping[str, Any],
        now: datetime,
        *,
        event_id: str | None = None,
    ) -> OutboxEntry:
        entry = OutboxEntry(
            event_id=event_id or str(uuid.uuid4()),
            channel=channel,
            type=type_,
            payload=dict(payload),
            created_at=now,
            next_attempt_at=now,
        )
        await uow.outbox.add(entry)
        wake = self._wake
        if wake is not None:
            # The transaction commits after this returns: wake the worker a moment later (it
            # also polls, so an entry whose commit takes longer waits one poll at most).
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(0.05, wake.set)
        return entry


class OutboxWorker:
    def __init__(
        self,
        database: Database,
        deliverers: Mapping[Channel, Deliverer],
        clock: Clock,
        *,
        policy: RetryPolicy | None = None,
        poll_interval_s: float = 1.0,
        batch: int = 50,
    ) -> None:
        self._db = database
        self._deliverers = dict(deliverers)
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._poll_interval_s = poll_interval_s
        self._batch = batch
        self.wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"OutboxWorker(channels={sorted(self._deliverers)})"

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                claimed = await self.run_once()
            except ServiceUnavailable:
                claimed = 0
            except Exception:
                log.exception("outbox worker failed; retrying")
                claimed = 0
            if claimed >= self._batch:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await self.wake.wait()
            self.wake.clear()

    async def run_once(self) -> int:
        """Claim the due entries (one batch), deliver them concurrently, record each outcome.
        Returns how many were claimed."""
        now = self._clock.now()
        # The idle poll is one read without a transaction; the write lock (SQLite) or row locks
        # (PostgreSQL) are taken only when something is due.
        async with self._db.autocommit() as uow:
            if not await uow.outbox.has_due(now):
                return 0
        async with self._db.transaction(write=True) as uow:
            entries = await uow.outbox.claim(now, now + self._policy.lease, self._batch)
        if entries:
            await asyncio.gather(*(self._deliver(entry) for entry in entries))
        return len(entries)

    async def _deliver(self, entry: OutboxEntry) -> None:
        assert entry.id is not None
        deliverer = self._deliverers.get(entry.channel)
        error: str | None = None
        if deliverer is None:
            error = f"no {entry.channel.value} delivery is configured"
        else:
            try:
                async with asyncio.timeout(self._policy.delivery_timeout_s):
                    await deliverer.deliver(entry)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        now = self._clock.now()
        if error is None:
            await self._record(entry, lambda uow: uow.outbox.mark_sent(entry.id, now))
            return
        retry_at = now + self._policy.delay(entry.attempts)
        log.warning(
            "outbox: %s %s (%s) not delivered, attempt %d, next in %.0f s: %s",
            entry.channel.value,
            entry.type,
            entry.event_id,
            entry.attempts,
            (retry_at - now).total_seconds(),
            error,
        )
        await self._record(entry, lambda uow: uow.outbox.reschedule(entry.id, retry_at, error))

    async def _record(self, entry: OutboxEntry, write: Any) -> None:
        # The outcome is written in its own short transaction. If the database is down now, the
        # lease expires and the entry is delivered again: at least once, never lost.
        try:
            async with self._db.transaction(write=True) as uow:
                await write(uow)
        except ServiceUnavailable:
            log.warning("outbox: cannot record the outcome of %s; it will be retried", entry.id)
