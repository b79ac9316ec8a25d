"""Opening a session: the row, its audit event, and room under ``MAX_SESSIONS_PER_USER``.

A login (:mod:`.accounts`) and ``SessionService.start`` (:mod:`.sessions`) open sessions here.
The common case, where no audit listener wants logins and the user is under the limit, is one
call on the database's fastest path (``Database.add_session``: the login's write on the driver,
~1 ms less than the repositories' transaction on SQLite); anything else opens the session
inside a :class:`~tokensmith.core.ending.SessionEnder` transaction, which ends the sessions over
the limit first and announces them.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tokensmith.core.audit import AuditTrail, RequestContext, clip_user_agent
from tokensmith.core.clock import Clock, whole_seconds
from tokensmith.core.directory import Subject
from tokensmith.core.ending import Ending, SessionEnder
from tokensmith.core.ids import new_session_id
from tokensmith.core.issuing import Issuer
from tokensmith.core.models import (
    AuditEvent,
    AuditKind,
    IssuedTokens,
    RevokeReason,
    SessionRecord,
)
from tokensmith.core.ports import Database
from tokensmith.core.tokens import hash_jti

__all__ = ["Opening", "SessionPolicy"]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    refresh_ttl: timedelta
    max_age: timedelta
    reuse_grace: timedelta
    short_max_age: timedelta = timedelta(hours=12)
    """Lifetime of a session opened with ``remember=False``."""
    max_per_user: int = 0
    """Live sessions a user may have (0: no limit); a new one past it ends the least recently
    used."""
    cleanup_after: timedelta = timedelta(days=1)
    """Expired session rows are deleted this long after their last refresh token expired."""


class Opening:
    def __init__(
        self,
        database: Database,
        policy: SessionPolicy,
        clock: Clock,
        ender: SessionEnder,
        issuer: Issuer,
        trail: AuditTrail,
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock
        self._ender = ender
        self._issuer = issuer
        self._trail = trail

    def __repr__(self) -> str:
        return f"Opening(max_per_user={self._policy.max_per_user})"

    async def open_new(
        self,
        subject: Subject,
        ctx: RequestContext,
        *,
        amr: Sequence[str],
        remember: bool,
        hook_claims: Mapping[str, Any],
        session_claims: dict[str, Any] | None = None,
        via: str,
    ) -> IssuedTokens:
        """Open a session in a transaction of its own. The common case (no audit listener wants
        logins, the user under ``MAX_SESSIONS_PER_USER``) is one call on the database's fastest
        path (:meth:`Database.add_session`); otherwise :meth:`open` in a
        :class:`~tokensmith.core.ending.SessionEnder` transaction, which ends sessions past the
        limit and tells the listeners."""
        if not self._trail.listens_to(AuditKind.LOGIN):
            now = whole_seconds(self._clock.now())
            session, jti = self._new_session(subject.id, ctx, now, amr, remember, session_claims)
            audit = self._login_event(session, ctx, via)
            if await self._db.add_session(session, audit, max_live=self._policy.max_per_user):
                refresh = self._issuer.refresh_token(session, jti, now)
                return self._issuer.tokens(
                    session, subject, hook_claims, refresh_token=refresh, now=now
                )
        async with self._ender.transaction() as ending:
            return await self.open(
                ending,
                subject,
                ctx,
                amr=amr,
                remember=remember,
                hook_claims=hook_claims,
                session_claims=session_claims,
                via=via,
            )

    async def open(
        self,
        ending: Ending,
        subject: Subject,
        ctx: RequestContext,
        *,
        amr: Sequence[str],
        remember: bool,
        hook_claims: Mapping[str, Any],
        session_claims: dict[str, Any] | None = None,
        via: str,
    ) -> IssuedTokens:
        """Open a session inside the caller's transaction (:meth:`open_new`'s slow path). Past
        ``MAX_SESSIONS_PER_USER`` the user's least recently used sessions end first."""
        now = ending.now
        await self._make_room(ending, subject.id, ctx)
        session, jti = self._new_session(subject.id, ctx, now, amr, remember, session_claims)
        await ending.uow.sessions.add(session)
        await self._trail.write(ending.uow, self._login_event(session, ctx, via))
        refresh = self._issuer.refresh_token(session, jti, now)
        return self._issuer.tokens(session, subject, hook_claims, refresh_token=refresh, now=now)

    def _login_event(self, session: SessionRecord, ctx: RequestContext, via: str) -> AuditEvent:
        return self._trail.event(
            AuditKind.LOGIN,
            session.created_at,
            ctx,
            user_id=session.user_id,
            session_id=session.id,
            via=via,
            amr=list(session.amr),
            remember=session.persistent,
        )

    def _new_session(
        self,
        subject_id: str,
        ctx: RequestContext,
        now: datetime,
        amr: Sequence[str],
        remember: bool,
        session_claims: dict[str, Any] | None,
    ) -> tuple[SessionRecord, str]:
        """A session opening at ``now``, and the jti of its first refresh token."""
        max_age = self._policy.max_age if remember else self._policy.short_max_age
        expires_at = now + max_age
        jti = secrets.token_urlsafe(16)
        session = SessionRecord(
            id=new_session_id(),
            user_id=subject_id,
            created_at=now,
            last_used_at=now,
            expires_at=expires_at,
            refresh_expires_at=min(now + self._policy.refresh_ttl, expires_at),
            current_hash=hash_jti(jti),
            ip=ctx.ip,
            user_agent=clip_user_agent(ctx.user_agent),
            auth_time=now,
            amr=tuple(amr),
            claims=session_claims,
            persistent=remember,
        )
        return session, jti

    async def _make_room(self, ending: Ending, user_id: str, ctx: RequestContext) -> None:
        limit = self._policy.max_per_user
        if limit <= 0:
            return
        live = await ending.uow.sessions.live_ids_least_recent_first(user_id, ending.now)
        excess = len(live) - limit + 1
        if excess <= 0:
            return
        evicted = await ending.end(live[:excess], RevokeReason.SESSION_LIMIT)
        if evicted:
            await ending.record(
                AuditKind.SESSION_EVICTED, ctx, user_id=user_id, ended=evicted, limit=limit
            )
