"""Sessions: a session is one login; refresh tokens rotate inside it.

Rotation (contract 5.3, RFC 9700 section 4.14.2): every refresh spends the presented token and
returns a successor. A token presented again within the reuse grace returns the *same* successor
(a lost response or two tabs racing must not log anyone out); past the grace, or once the successor
has itself been rotated, it is theft and the whole session is revoked in the same transaction that
saw it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tokensmith.core.clock import Clock
from tokensmith.core.ids import new_session_id
from tokensmith.core.models import (
    AccessClaims,
    AuditEvent,
    AuditKind,
    IssuedTokens,
    RefreshClaims,
    RevokeReason,
    SessionRecord,
    User,
)
from tokensmith.core.ports import Database, UnitOfWork
from tokensmith.core.revoker import Revoker
from tokensmith.core.tokens import TokenCodec, hash_jti
from tokensmith.errors import (
    InvalidRefreshToken,
    NotFound,
    RefreshTokenExpired,
    SessionRevoked,
    TokenReuseDetected,
    TokenRevoked,
)

__all__ = ["EmailLookup", "RequestContext", "SessionPolicy", "SessionService"]

EmailLookup = Callable[[UnitOfWork, str], Awaitable[str | None]]
"""``await email_of(uow, user_id)``: the email for a new access token, or None for a user that is
gone or disabled."""

log = logging.getLogger("tokensmith.sessions")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, for the session list and the audit log."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    refresh_ttl: timedelta
    max_age: timedelta
    reuse_grace: timedelta
    cleanup_after: timedelta = timedelta(days=1)
    """Expired session rows are deleted this long after their last refresh token expired."""


class SessionService:
    def __init__(
        self,
        database: Database,
        codec: TokenCodec,
        revoker: Revoker,
        policy: SessionPolicy,
        clock: Clock,
    ) -> None:
        self._db = database
        self._codec = codec
        self._revoker = revoker
        self._policy = policy
        self._clock = clock
        self._emails: dict[str, str] = {}
        self.observer: Callable[[str], None] | None = None
        """Optional hook told each successful refresh: ``"rotated"`` or ``"grace"`` (metrics)."""

    def __repr__(self) -> str:
        return f"SessionService(grace={self._policy.reuse_grace})"

    # -- starting ----------------------------------------------------------------------------

    async def start(self, uow: UnitOfWork, user: User, ctx: RequestContext) -> IssuedTokens:
        """Open a session for ``user`` inside the caller's transaction (the login)."""
        self.remember_email(user.id, user.email)
        now = _whole_seconds(self._clock.now())
        session_id = new_session_id()
        jti = secrets.token_urlsafe(16)
        expires_at = now + self._policy.max_age
        refresh_exp = min(now + self._policy.refresh_ttl, expires_at)
        await uow.sessions.add(
            SessionRecord(
                id=session_id,
                user_id=user.id,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at,
                refresh_expires_at=refresh_exp,
                current_hash=hash_jti(jti),
                ip=ctx.ip,
                user_agent=_clip(ctx.user_agent),
            )
        )
        refresh = self._codec.issue_refresh(
            user_id=user.id,
            session_id=session_id,
            jti=jti,
            iat=int(now.timestamp()),
            exp=int(refresh_exp.timestamp()),
        )
        return self._issue(user.id, user.email, session_id, refresh, refresh_exp, now)

    # -- rotating ----------------------------------------------------------------------------

    async def refresh(
        self, refresh_token: str, email_of: EmailLookup, ctx: RequestContext
    ) -> IssuedTokens:
        """Rotate ``refresh_token``; see the module docstring for the rules."""
        claims = self._codec.verify_refresh(refresh_token)
        presented = hash_jti(claims.jti)
        fast = await self._rotate_in_one_statement(claims, presented, ctx)
        if fast is not None:
            return fast
        revoked: list[str] = []
        outcome = "rotated"
        async with self._db.transaction(write=True) as uow:
            now = _whole_seconds(self._clock.now())
            session = await uow.sessions.lock(claims.sid)
            if session is None or session.user_id != claims.sub:
                raise InvalidRefreshToken("This refresh token belongs to no known session")
            if session.revoked_at is not None:
                if session.revoked_reason is RevokeReason.REUSE_DETECTED:
                    raise TokenReuseDetected()
                raise SessionRevoked()
            if session.expires_at <= now or session.refresh_expires_at <= now - self._leeway:
                raise RefreshTokenExpired("The session has reached its maximum age: log in again")
            email = await email_of(uow, session.user_id)
            if email is None:  # the user was deleted or disabled
                raise SessionRevoked()
            self.remember_email(session.user_id, email)
            if session.current_hash == presented:
                tokens = await self._rotate(uow, session, claims, email, now, ctx)
            elif self._within_grace(session, presented, now):
                outcome = "grace"
                tokens = self._replay_successor(session, claims, email, now)
                await uow.audit.add(
                    self._event(
                        AuditKind.REFRESH_GRACE,
                        session,
                        ctx,
                        now,
                        {
                            "seconds_since_rotation": _seconds(now - _aware(session.rotated_at)),
                        },
                    )
                )
            else:
                revoked = await self._revoke_for_reuse(uow, session, claims, now, ctx)
        if revoked:
            await self._revoker.announce(self._revoker.revocations_for(revoked, now))
            raise TokenReuseDetected()
        if self.observer is not None:
            self.observer(outcome)
        return tokens

    async def _rotate_in_one_statement(
        self, claims: RefreshClaims, presented: str, ctx: RequestContext
    ) -> IssuedTokens | None:
        """The common case, a live session presenting its current token, as one conditional
        UPDATE outside any explicit transaction: the row (or SQLite's write lock) is held for one
        statement instead of a whole read-decide-write round trip.

        Returns None whenever anything is unusual (the token is not current, the session is
        revoked or at its maximum age, the user's email is not known here): the locking path
        then decides, with the full rules.
        """
        email = self._emails.get(claims.sub)
        if email is None:
            return None
        now = _whole_seconds(self._clock.now())
        successor_jti = self._codec.successor_jti(claims.jti)
        async with self._db.autocommit() as uow:
            rotated = await uow.sessions.rotate_if_current(
                claims.sid,
                user_id=claims.sub,
                presented_hash=presented,
                new_hash=hash_jti(successor_jti),
                rotated_at=now,
                refresh_expires_cap=now + self._policy.refresh_ttl,
                ip=ctx.ip,
                user_agent=_clip(ctx.user_agent),
            )
            if rotated is None:
                return None
            refresh_exp, generation = rotated
            await uow.audit.add(
                AuditEvent(
                    AuditKind.REFRESH,
                    now,
                    claims.sub,
                    claims.sid,
                    ctx.ip,
                    _clip(ctx.user_agent),
                    {"generation": generation},
                )
            )
        refresh = self._codec.issue_refresh(
            user_id=claims.sub,
            session_id=claims.sid,
            jti=successor_jti,
            iat=int(now.timestamp()),
            exp=int(refresh_exp.timestamp()),
        )
        if self.observer is not None:
            self.observer("rotated")
        return self._issue(claims.sub, email, claims.sid, refresh, refresh_exp, now)

    def remember_email(self, user_id: str, email: str) -> None:
        """Keep ``user_id``'s email for new access tokens (bounded; emails never change through
        the API, and a disabled user's sessions are revoked, which the rotation checks)."""
        if len(self._emails) >= 100_000:
            self._emails.clear()
        self._emails[user_id] = email

    @property
    def _leeway(self) -> timedelta:
        return self._codec.policy.leeway

    def _within_grace(self, session: SessionRecord, presented: str, now: datetime) -> bool:
        return (
            self._policy.reuse_grace > timedelta(0)  # 0 disables the grace, even in one second
            and session.previous_hash == presented
            and session.rotated_at is not None
            and now - _aware(session.rotated_at) <= self._policy.reuse_grace
        )

    async def _rotate(
        self,
        uow: UnitOfWork,
        session: SessionRecord,
        claims: RefreshClaims,
        email: str,
        now: datetime,
        ctx: RequestContext,
    ) -> IssuedTokens:
        successor_jti = self._codec.successor_jti(claims.jti)
        refresh_exp = min(now + self._policy.refresh_ttl, _aware(session.expires_at))
        await uow.sessions.save_rotation(
            session.id,
            new_hash=hash_jti(successor_jti),
            rotated_at=now,
            refresh_expires_at=refresh_exp,
            ip=ctx.ip,
            user_agent=_clip(ctx.user_agent),
        )
        await uow.audit.add(
            self._event(
                AuditKind.REFRESH,
                session,
                ctx,
                now,
                {
                    "generation": session.generation + 1,
                },
            )
        )
        refresh = self._codec.issue_refresh(
            user_id=session.user_id,
            session_id=session.id,
            jti=successor_jti,
            iat=int(now.timestamp()),
            exp=int(refresh_exp.timestamp()),
        )
        return self._issue(session.user_id, email, session.id, refresh, refresh_exp, now)

    def _replay_successor(
        self, session: SessionRecord, claims: RefreshClaims, email: str, now: datetime
    ) -> IssuedTokens:
        """Within the grace: the same successor token, rebuilt from the derived ``jti`` and the
        rotation time, plus a fresh access token."""
        assert session.rotated_at is not None
        successor_jti = self._codec.successor_jti(claims.jti)
        if hash_jti(successor_jti) != session.current_hash:  # keys changed mid-grace
            raise TokenReuseDetected("This refresh token was already used")
        refresh_exp = _aware(session.refresh_expires_at)
        refresh = self._codec.issue_refresh(
            user_id=session.user_id,
            session_id=session.id,
            jti=successor_jti,
            iat=int(_aware(session.rotated_at).timestamp()),
            exp=int(refresh_exp.timestamp()),
        )
        return self._issue(session.user_id, email, session.id, refresh, refresh_exp, now)

    async def _revoke_for_reuse(
        self,
        uow: UnitOfWork,
        session: SessionRecord,
        claims: RefreshClaims,
        now: datetime,
        ctx: RequestContext,
    ) -> list[str]:
        revoked = await uow.sessions.revoke(
            [session.id], at=now, reason=RevokeReason.REUSE_DETECTED
        )
        await uow.revocations.add(self._revoker.revocations_for(revoked, now))
        rotated_at = _aware(session.rotated_at) if session.rotated_at else None
        is_previous = session.previous_hash == hash_jti(claims.jti)
        await uow.audit.add(
            self._event(
                AuditKind.REUSE_DETECTED,
                session,
                ctx,
                now,
                {
                    # Exact for the token replaced last; for older tokens a lower bound.
                    "seconds_since_rotation": _seconds(now - rotated_at) if rotated_at else None,
                    "exact": is_previous,
                    "token_issued_at": claims.iat,
                    "generation": session.generation,
                },
            )
        )
        log.warning("refresh token reuse detected; session revoked")
        return revoked

    # -- ending ------------------------------------------------------------------------------

    async def end(
        self,
        session_ids: list[str],
        reason: RevokeReason,
        *,
        uow: UnitOfWork,
        now: datetime,
    ) -> list[str]:
        """Revoke sessions inside the caller's transaction; the caller announces after commit."""
        revoked = await uow.sessions.revoke(session_ids, at=now, reason=reason)
        await uow.revocations.add(self._revoker.revocations_for(revoked, now))
        return revoked

    async def logout(
        self,
        access: AccessClaims | None,
        refresh: RefreshClaims | None,
        ctx: RequestContext,
    ) -> None:
        """End the session named by either token. Logging out twice is fine."""
        named = {c.sid: c.sub for c in (access, refresh) if c is not None}
        now = _whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            owned = {
                sid: user_id
                for sid, user_id in named.items()
                if (s := await uow.sessions.get(sid)) is not None and s.user_id == user_id
            }
            revoked = await self.end(list(owned), RevokeReason.LOGOUT, uow=uow, now=now)
            for sid in revoked:
                event = AuditEvent(
                    AuditKind.LOGOUT, now, owned[sid], sid, ctx.ip, _clip(ctx.user_agent)
                )
                await uow.audit.add(event)
        await self._revoker.announce(self._revoker.revocations_for(revoked, now))

    async def logout_all(self, user_id: str, ctx: RequestContext) -> int:
        now = _whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            ids = await uow.sessions.revocable_ids_for_user(user_id, now - self._revoker.horizon)
            revoked = await self.end(ids, RevokeReason.LOGOUT_ALL, uow=uow, now=now)
            await uow.audit.add(
                AuditEvent(
                    AuditKind.LOGOUT_ALL,
                    now,
                    user_id,
                    None,
                    ctx.ip,
                    _clip(ctx.user_agent),
                    {"revoked": len(revoked)},
                )
            )
        await self._revoker.announce(self._revoker.revocations_for(revoked, now))
        return len(revoked)

    async def revoke_one(self, user_id: str, session_id: str, ctx: RequestContext) -> None:
        """``DELETE /auth/sessions/{id}``: 404 unless the session is the caller's."""
        now = _whole_seconds(self._clock.now())
        async with self._db.transaction(write=True) as uow:
            session = await uow.sessions.get(session_id)
            if session is None or session.user_id != user_id or not session.is_active(now):
                raise NotFound("No such session")
            revoked = await self.end([session_id], RevokeReason.SESSION_DELETED, uow=uow, now=now)
            await uow.audit.add(
                AuditEvent(
                    AuditKind.SESSION_REVOKED,
                    now,
                    user_id,
                    session_id,
                    ctx.ip,
                    _clip(ctx.user_agent),
                )
            )
        await self._revoker.announce(self._revoker.revocations_for(revoked, now))

    async def list_active(self, user_id: str) -> list[SessionRecord]:
        async with self._db.transaction() as uow:
            return await uow.sessions.list_active(user_id, self._clock.now())

    async def cleanup(self) -> tuple[int, int]:
        """Delete session rows and revocation records that can no longer matter."""
        now = self._clock.now()
        async with self._db.transaction(write=True) as uow:
            sessions = await uow.sessions.delete_expired(now - self._policy.cleanup_after)
            revocations = await uow.revocations.delete_expired(now)
        return sessions, revocations

    # -- the protected-route check -----------------------------------------------------------

    def authenticate(self, access_token: str) -> AccessClaims:
        """Verify an access token and refuse it if its session was revoked. No I/O."""
        claims = self._codec.verify_access(access_token)
        if self._revoker.is_revoked(claims.sid):
            raise TokenRevoked()
        return claims

    # -- helpers -----------------------------------------------------------------------------

    def _issue(
        self,
        user_id: str,
        email: str,
        session_id: str,
        refresh: str,
        refresh_exp: datetime,
        now: datetime,
    ) -> IssuedTokens:
        access = self._codec.issue_access(
            user_id=user_id, session_id=session_id, email=email, now=now
        )
        return IssuedTokens(
            access_token=access,
            refresh_token=refresh,
            expires_in_s=int(self._codec.policy.access_ttl.total_seconds()),
            refresh_expires_in_s=max(0, int((refresh_exp - now).total_seconds())),
            session_id=session_id,
        )

    @staticmethod
    def _event(
        kind: AuditKind,
        session: SessionRecord,
        ctx: RequestContext,
        now: datetime,
        detail: dict[str, object],
    ) -> AuditEvent:
        return AuditEvent(
            kind, now, session.user_id, session.id, ctx.ip, _clip(ctx.user_agent), dict(detail)
        )


def _whole_seconds(when: datetime) -> datetime:
    """Token times are whole seconds (NumericDate); session times match them exactly."""
    return when.replace(microsecond=0)


def _aware(when: datetime | None) -> datetime:
    assert when is not None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def _clip(user_agent: str | None) -> str | None:
    return user_agent[:512] if user_agent else None
