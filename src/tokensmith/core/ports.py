"""The ports: what the core needs from the outside world, as Protocols.

A storage adapter implements :class:`Database` (one unit of work = one database transaction
holding the four repositories); a propagation adapter implements :class:`RevocationFeed`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from tokensmith.core.models import (
    AuditEvent,
    CurrentRotation,
    OneTimeToken,
    OutboxEntry,
    Revocation,
    RevokeReason,
    SessionRecord,
    User,
    UserRecord,
)

__all__ = [
    "AuditRepository",
    "CatchingUpFeed",
    "Database",
    "OneTimeTokenRepository",
    "OutboxRepository",
    "RevocationFeed",
    "RevocationRepository",
    "SessionRepository",
    "UnitOfWork",
    "UserRepository",
]


class UserRepository(Protocol):
    async def add(self, user: User, password_hash: str) -> None:
        """Insert a user; raises :class:`~tokensmith.errors.EmailTaken` on a duplicate email
        (compared case-insensitively)."""
        ...

    async def by_email(self, email: str) -> UserRecord | None: ...

    async def by_id(self, user_id: str) -> UserRecord | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    async def disable(self, user_id: str, at: datetime) -> bool: ...

    async def list(self, limit: int = 1000) -> list[UserRecord]: ...

    async def enable(self, user_id: str) -> bool:
        """Clear ``disabled_at``; False when the user was not disabled."""
        ...

    async def set_email_verified(self, user_id: str, at: datetime) -> None:
        """Record that the user proved the email theirs (kept if already set)."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: SessionRecord) -> None: ...

    async def lock(self, session_id: str) -> SessionRecord | None:
        """Read a session for update: concurrent writers of the same session wait (row lock)."""
        ...

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def save_rotation(
        self,
        session_id: str,
        *,
        new_hash: str,
        rotated_at: datetime,
        refresh_expires_at: datetime,
        ip: str | None,
        user_agent: str | None,
        auth_time: datetime | None = None,
        amr: Sequence[str] | None = None,
    ) -> None:
        """Make ``new_hash`` current and keep the old current hash as previous; ``auth_time``
        and ``amr``, when given, replace the session's (a reauthentication)."""
        ...

    async def rotate_if_current(
        self, rotation: CurrentRotation, audit: AuditEvent | None = None
    ) -> SessionRecord | None:
        """``rotation`` in ONE statement. Returns the session as it is after the rotation, or
        None when the row did not match.

        ``audit`` (an event without detail), when the session rotated, is written too, with
        ``{"generation": <the new generation>}`` as its detail: in the same statement where the
        database allows (PostgreSQL), so a rotation is one round trip."""
        ...

    async def renew_authentication(
        self, session_id: str, *, auth_time: datetime, amr: Sequence[str]
    ) -> None:
        """Record a reauthentication: the session's new ``auth_time`` and ``amr``."""
        ...

    async def live_ids_least_recent_first(self, user_id: str, now: datetime) -> list[str]:
        """The user's live sessions (not revoked, refresh token unexpired), the one used least
        recently first."""
        ...

    async def revoke(
        self, session_ids: Sequence[str], *, at: datetime, reason: RevokeReason
    ) -> list[str]:
        """Mark the still-live sessions among ``session_ids`` revoked; returns those changed."""
        ...

    async def revocable_ids_for_user(self, user_id: str, mattering_after: datetime) -> list[str]:
        """Unrevoked sessions of the user that can still matter: their refresh token expired
        after ``mattering_after`` (the caller widens "now" by the clock tolerance and the
        access-token lifetime, so a session in either window is still revoked)."""
        ...

    async def list_active(self, user_id: str, now: datetime) -> list[SessionRecord]: ...

    async def delete_expired(self, before: datetime) -> int:
        """Delete sessions whose refresh token expired before ``before``."""
        ...

    async def count_active(self, now: datetime) -> int: ...


class RevocationRepository(Protocol):
    async def add(self, revocations: Sequence[Revocation]) -> None: ...

    async def live(self, now: datetime) -> tuple[list[Revocation], int]:
        """Every revocation that still matters at ``now``, and the cursor of the newest."""
        ...

    async def since(self, cursor: int) -> tuple[list[Revocation], int]:
        """Revocations written after ``cursor``, and the new cursor."""

    async def newest(self) -> int:
        """The newest sequence number in the log (0 when empty)."""
        ...

    async def delete_expired(self, now: datetime) -> int: ...


class AuditRepository(Protocol):
    async def add(self, event: AuditEvent) -> None: ...

    async def query(
        self,
        *,
        user_id: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]: ...


class OneTimeTokenRepository(Protocol):
    async def add(self, token: OneTimeToken) -> None:
        """Store a token's hash; nothing changes when that hash is stored already."""
        ...

    async def take(self, token_hash: str, purpose: str, now: datetime) -> OneTimeToken | None:
        """Spend a live token (unused, unexpired, of ``purpose``) and return it; None when no
        such token exists. Of two concurrent takes of one token, one wins."""
        ...

    async def spend_all(self, user_id: str, purpose: str, now: datetime) -> int:
        """Spend every live token of the user for ``purpose`` (a reset voids the other links)."""
        ...

    async def delete_expired(self, before: datetime) -> int: ...


class OutboxRepository(Protocol):
    async def add(self, entry: OutboxEntry) -> None: ...

    async def has_due(self, now: datetime) -> bool:
        """Whether any unsent entry is due at ``now`` (the worker's cheap idle check)."""
        ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxEntry]:
        """Take up to ``limit`` unsent entries due at ``now``, oldest first, hiding them from other
        workers until ``lease_until`` and counting the attempt. Concurrent claims of several
        workers never return the same entry (row locks skipped, not waited for)."""
        ...

    async def mark_sent(self, entry_id: int, at: datetime) -> None: ...

    async def reschedule(self, entry_id: int, at: datetime, error: str) -> None: ...

    async def list(self, *, pending_only: bool = True, limit: int = 100) -> list[OutboxEntry]: ...

    async def retry(self, now: datetime, entry_ids: Sequence[int] | None = None) -> int:
        """Make unsent entries (all, or those named) due at ``now``; returns how many."""
        ...

    async def delete_sent(self, before: datetime) -> int: ...


class UnitOfWork(Protocol):
    """The repositories of one transaction: it commits when the block ends without an error."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def revocations(self) -> RevocationRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def tokens(self) -> OneTimeTokenRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...


class Database(Protocol):
    def transaction(self, *, write: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """Open a unit of work. ``write=True`` takes the write lock up front (SQLite
        ``BEGIN IMMEDIATE``), so a read-then-write never deadlocks or fails late.

        Raises :class:`~tokensmith.errors.ServiceUnavailable` when the database is unreachable.
        """
        ...

    def autocommit(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Repositories whose every statement commits on its own (no explicit transaction):
        for single-statement writes that must not hold a lock across round trips."""
        ...

    async def rotate_if_current(
        self, rotation: CurrentRotation, audit: AuditEvent
    ) -> SessionRecord | None:
        """:meth:`SessionRepository.rotate_if_current` with its ``audit`` row, committed
        together, as one call on the fastest path the database has (the refresh's hot path).
        No audit listener is told: the caller uses it only for kinds no listener wants."""
        ...

    async def user_by_email(self, email: str) -> UserRecord | None:
        """:meth:`UserRepository.by_email` outside a transaction, on the fastest path the
        database has (the login's read)."""
        ...

    async def add_session(
        self, session: SessionRecord, audit: AuditEvent, *, max_live: int = 0
    ) -> bool:
        """Insert a new ``session`` and its ``audit`` row, committed together, on the fastest
        path the database has (the login's write), unless ``max_live`` > 0 and the user already
        has that many live sessions (not revoked, refresh token unexpired at
        ``session.created_at``): then nothing is written and the answer is False. No audit
        listener is told: the caller uses it only when no listener wants the event."""
        ...

    async def maintain(self) -> None:
        """Background upkeep the database needs from each process while it serves (SQLite:
        its WAL checkpoints); runs until cancelled, or returns at once when there is none."""
        ...

    async def ping(self) -> None:
        """Raise :class:`~tokensmith.errors.ServiceUnavailable` unless the database answers."""
        ...

    async def close(self) -> None: ...


RevocationHandler = Callable[[Sequence[Revocation]], None]


class RevocationFeed(Protocol):
    """Carries revocations between processes and instances.

    ``publish`` is called after the revoking transaction committed, and returns once the other
    processes hold the revocations as far as the feed can tell (Redis: each subscriber
    confirmed, within a bound; the log alone: at once, they read it); ``run`` delivers
    revocations made elsewhere to ``handler`` until cancelled. ``cursor`` is where the initial
    load from the database stopped; ``resync`` reloads from the database (after an outage) and
    returns the new cursor. ``listening`` is called each time the feed has caught up while
    listening (subscribed and read the log; with Redis down, read the log): from the first call
    on nothing revoked elsewhere is missed, so a server starts taking requests after it.
    """

    async def publish(self, revocations: Sequence[Revocation]) -> None: ...

    async def run(
        self,
        handler: RevocationHandler,
        resync: Callable[[], Awaitable[int]],
        cursor: int,
        listening: Callable[[], None] = ...,
    ) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class CatchingUpFeed(Protocol):
    """A feed that can be asked, on the request path, for revocations committed elsewhere since
    it last looked (:meth:`tokensmith.core.revoker.Revoker.catch_up`). It answers ``[]`` at once
    when it knows nothing was committed, and never raises."""

    async def catch_up(self) -> Sequence[Revocation]: ...
