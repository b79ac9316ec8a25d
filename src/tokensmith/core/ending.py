"""Ending sessions: commit, apply locally, announce; written once.

Every way a session ends (logout, logout everywhere, deleting one, a password change, disabling a
user, refresh-token reuse, a user the directory no longer knows, the per-user session limit) runs
inside :meth:`SessionEnder.transaction`, which keeps the ordering invariant of
:mod:`tokensmith.core.revoker`: the transaction that marks the sessions revoked and writes their
revocation records commits first (a restart forgets nothing), then this process's revocation set
learns them (its workers refuse the access tokens at once), then the feed tells the other
processes. An error inside the block rolls everything back and announces nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from tokensmith.core.audit import AuditTrail, RequestContext
from tokensmith.core.clock import Clock, whole_seconds
from tokensmith.core.models import AuditEvent, AuditKind, RevokeReason
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.core.revoker import Revoker

__all__ = ["Ending", "SessionEnder"]


class Ending:
    """One write transaction that may end sessions: its unit of work, its time, and what it
    ended so far."""

    def __init__(self, uow: UnitOfWork, now: datetime, revoker: Revoker, trail: AuditTrail):
        self.uow = uow
        self.now = now
        self.ended: list[str] = []
        self._revoker = revoker
        self._trail = trail

    def __repr__(self) -> str:
        return f"Ending(ended={len(self.ended)})"

    async def end(self, session_ids: Sequence[str], reason: RevokeReason) -> list[str]:
        """Revoke the still-live sessions among ``session_ids``; returns those it ended."""
        revoked = await self.uow.sessions.revoke(session_ids, at=self.now, reason=reason)
        await self.uow.revocations.add(self._revoker.revocations_for(revoked, self.now))
        self.ended.extend(revoked)
        return revoked

    async def revocable_ids(self, user_id: str) -> list[str]:
        """The user's sessions that can still matter, including those whose refresh token
        expired less than an access-token lifetime (plus tolerance) ago."""
        return await self.uow.sessions.revocable_ids_for_user(
            user_id, self.now - self._revoker.horizon
        )

    async def record(
        self,
        kind: AuditKind,
        ctx: RequestContext,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        ended: Sequence[str] | None = None,
        **detail: object,
    ) -> AuditEvent:
        """Audit what this transaction did (see :class:`~tokensmith.core.audit.AuditTrail`)."""
        return await self._trail.record(
            self.uow,
            kind,
            self.now,
            ctx,
            user_id=user_id,
            session_id=session_id,
            ended=ended,
            **detail,
        )


class SessionEnder:
    def __init__(self, database: Database, revoker: Revoker, trail: AuditTrail, clock: Clock):
        self._db = database
        self._revoker = revoker
        self._trail = trail
        self._clock = clock

    def __repr__(self) -> str:
        return "SessionEnder()"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Ending]:
        """``async with ender.transaction() as ending:`` a write transaction; when the block
        ends without an error: commit, then apply the revocations here, then announce them."""
        now = whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            ending = Ending(uow, now, self._revoker, self._trail)
            yield ending
        await self._revoker.announce(self._revoker.revocations_for(ending.ended, now))
