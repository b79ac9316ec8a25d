"""Refresh-token rotation (contract 5.3, RFC 9700 section 4.14.2).

Every refresh spends the presented token and returns a successor. A token presented again within
the reuse grace returns the *same* successor (a lost response or two tabs racing must not log
anyone out); past the grace, or once the successor has itself been rotated, it is theft and the
whole session is revoked in the same transaction that saw it.

Before anything rotates, the user directory is asked who the user is now and the claims hook
runs (contract 8): a user gone or inactive ends the session (``SESSION_REVOKED``, audited), and a
directory or hook that fails leaves the token unspent (503).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from tokensmith.core.audit import AuditTrail, RequestContext, clip_user_agent
from tokensmith.core.clock import Clock, aware, whole_seconds
from tokensmith.core.directory import Subject
from tokensmith.core.ending import Ending, SessionEnder
from tokensmith.core.issuing import Issuer
from tokensmith.core.models import (
    AccessClaims,
    AuditKind,
    CurrentRotation,
    IssuedTokens,
    RefreshClaims,
    RevokeReason,
    SessionRecord,
)
from tokensmith.core.ports import Database
from tokensmith.core.subjects import Subjects
from tokensmith.core.tokens import TokenCodec, hash_jti
from tokensmith.errors import (
    InvalidRefreshToken,
    RefreshTokenExpired,
    SessionRevoked,
    TokenReuseDetected,
    TokenRevoked,
    TokensmithError,
)

__all__ = ["Rotation", "RotationPolicy"]

log = logging.getLogger("tokensmith.sessions")


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    refresh_ttl: timedelta
    reuse_grace: timedelta


class Rotation:
    def __init__(
        self,
        database: Database,
        codec: TokenCodec,
        issuer: Issuer,
        subjects: Subjects,
        ender: SessionEnder,
        trail: AuditTrail,
        policy: RotationPolicy,
        clock: Clock,
    ) -> None:
        self._db = database
        self._codec = codec
        self._issuer = issuer
        self._subjects = subjects
        self._ender = ender
        self._trail = trail
        self._policy = policy
        self._clock = clock
        self.observer: Callable[[str], None] | None = None
        """Optional hook told each successful refresh: ``"rotated"`` or ``"grace"`` (metrics)."""

    def __repr__(self) -> str:
        return f"Rotation(grace={self._policy.reuse_grace})"

    async def refresh(self, refresh_token: str, ctx: RequestContext) -> IssuedTokens:
        """Rotate ``refresh_token``; see the module docstring for the rules."""
        claims = self._codec.verify_refresh(refresh_token)
        subject = await self._subjects.get_for_refresh(claims.sub)
        if subject is None or not subject.active:
            await self._end_for_departed_user(claims, ctx)
        hook_claims = await self._subjects.claims(subject)
        presented = hash_jti(claims.jti)
        tokens = await self._rotate_in_one_statement(claims, presented, subject, hook_claims, ctx)
        outcome = "rotated"
        if tokens is None:
            tokens, outcome = await self._rotate_locked(
                claims, presented, subject, hook_claims, ctx
            )
        if self.observer is not None:
            self.observer(outcome)
        return tokens

    async def reauthenticate(
        self,
        access: AccessClaims,
        refresh_token: str | None,
        ctx: RequestContext,
        *,
        amr: Sequence[str],
    ) -> IssuedTokens:
        """Renew ``auth_time`` (and ``amr``) inside the access token's session, the user having
        just proved who they are again. With the session's current refresh token (the cookie, or
        the body), it rotates as a refresh does; without one, only a new access token comes back
        and the refresh token the client holds stays valid (it carries the new ``auth_time``
        into later access tokens)."""
        subject = await self._subjects.get(access.sub)
        if subject is None or not subject.active:
            raise TokenRevoked("This account no longer exists or is disabled")
        hook_claims = await self._subjects.claims(subject)
        refresh: RefreshClaims | None = None
        if refresh_token:
            try:
                refresh = self._codec.verify_refresh(refresh_token)
            except TokensmithError:
                refresh = None
        async with self._ender.transaction() as ending:
            session = await ending.uow.sessions.lock(access.sid)
            if (
                session is None
                or session.user_id != access.sub
                or not session.is_active(ending.now)
            ):
                raise TokenRevoked()
            renewed = (ending.now, tuple(amr))
            if (
                refresh is not None
                and refresh.sid == session.id
                and hash_jti(refresh.jti) == session.current_hash
            ):
                tokens = await self._rotate(
                    ending, session, refresh, subject, hook_claims, ctx, renewed
                )
            else:
                await ending.uow.sessions.renew_authentication(
                    session.id, auth_time=ending.now, amr=renewed[1]
                )
                session = replace(session, auth_time=ending.now, amr=renewed[1])
                tokens = self._issuer.tokens(
                    session, subject, hook_claims, refresh_token=None, now=ending.now
                )
            await ending.record(
                AuditKind.REAUTHENTICATED,
                ctx,
                user_id=session.user_id,
                session_id=session.id,
                amr=list(amr),
            )
        return tokens

    # -- the common case: one statement ------------------------------------------------------

    async def _rotate_in_one_statement(
        self,
        claims: RefreshClaims,
        presented: str,
        subject: Subject,
        hook_claims: dict[str, Any],
        ctx: RequestContext,
    ) -> IssuedTokens | None:
        """A live session presenting its current token, as one conditional UPDATE outside any
        explicit transaction: the row (or SQLite's write lock) is held for one statement instead
        of a whole read-decide-write round trip.

        Returns None whenever anything is unusual (the token is not current, the session is
        revoked or at its maximum age): the locking path then decides, with the full rules.
        """
        now = whole_seconds(self._clock.now())
        successor_jti = self._codec.successor_jti(claims.jti)
        audit = self._trail.event(
            AuditKind.REFRESH, now, ctx, user_id=claims.sub, session_id=claims.sid
        )
        rotation = CurrentRotation(
            claims.sid,
            user_id=claims.sub,
            presented_hash=presented,
            new_hash=hash_jti(successor_jti),
            rotated_at=now,
            refresh_expires_cap=now + self._policy.refresh_ttl,
            ip=ctx.ip,
            user_agent=clip_user_agent(ctx.user_agent),
        )
        # The audit row (with the new generation) goes with the rotation: one round trip. On
        # the driver itself unless an audit listener wants refreshes in its unit of work.
        if not self._trail.listens_to(AuditKind.REFRESH):
            session = await self._db.rotate_if_current(rotation, audit)
        else:
            async with self._db.autocommit() as uow:
                session = await uow.sessions.rotate_if_current(rotation, audit)
                if session is not None:
                    await self._trail.written(
                        uow, replace(audit, detail={"generation": session.generation})
                    )
        if session is None:
            return None
        refresh = self._issuer.refresh_token(session, successor_jti, now)
        return self._issuer.tokens(session, subject, hook_claims, refresh_token=refresh, now=now)

    # -- everything else: under the row lock -------------------------------------------------

    async def _rotate_locked(
        self,
        claims: RefreshClaims,
        presented: str,
        subject: Subject,
        hook_claims: dict[str, Any],
        ctx: RequestContext,
    ) -> tuple[IssuedTokens, str]:
        reused = False
        outcome = "rotated"
        tokens: IssuedTokens | None = None
        async with self._ender.transaction() as ending:
            session = await ending.uow.sessions.lock(claims.sid)
            session = self._live(session, claims, ending.now)
            if session.current_hash == presented:
                tokens = await self._rotate(ending, session, claims, subject, hook_claims, ctx)
            elif self._within_grace(session, presented, ending.now):
                outcome = "grace"
                tokens = self._replay_successor(session, claims, subject, hook_claims, ending.now)
                await self._record_grace_use(ending, session, ctx)
            else:
                await self._revoke_for_reuse(ending, session, claims, ctx)
                reused = True
        if reused or tokens is None:
            raise TokenReuseDetected()
        return tokens, outcome

    def _live(
        self, session: SessionRecord | None, claims: RefreshClaims, now: datetime
    ) -> SessionRecord:
        """The session of a refresh token, if it can still refresh; else the error that says
        why not."""
        if session is None or session.user_id != claims.sub:
            raise InvalidRefreshToken("This refresh token belongs to no known session")
        if session.revoked_at is not None:
            if session.revoked_reason is RevokeReason.REUSE_DETECTED:
                raise TokenReuseDetected()
            raise SessionRevoked()
        if session.expires_at <= now or session.refresh_expires_at <= now - self._leeway:
            raise RefreshTokenExpired("The session has reached its maximum age: log in again")
        return session

    @property
    def _leeway(self) -> timedelta:
        return self._codec.policy.leeway

    def _within_grace(self, session: SessionRecord, presented: str, now: datetime) -> bool:
        return (
            self._policy.reuse_grace > timedelta(0)  # 0 disables the grace, even in one second
            and session.previous_hash == presented
            and session.rotated_at is not None
            and now - aware(session.rotated_at) <= self._policy.reuse_grace
        )

    async def _rotate(
        self,
        ending: Ending,
        session: SessionRecord,
        claims: RefreshClaims,
        subject: Subject,
        hook_claims: dict[str, Any],
        ctx: RequestContext,
        renewed: tuple[datetime, tuple[str, ...]] | None = None,
    ) -> IssuedTokens:
        now = ending.now
        successor_jti = self._codec.successor_jti(claims.jti)
        refresh_exp = min(now + self._policy.refresh_ttl, aware(session.expires_at))
        auth_time, amr = renewed if renewed is not None else (session.auth_time, session.amr)
        await ending.uow.sessions.save_rotation(
            session.id,
            new_hash=hash_jti(successor_jti),
            rotated_at=now,
            refresh_expires_at=refresh_exp,
            ip=ctx.ip,
            user_agent=clip_user_agent(ctx.user_agent),
            auth_time=auth_time if renewed is not None else None,
            amr=amr if renewed is not None else None,
        )
        await ending.record(
            AuditKind.REFRESH,
            ctx,
            user_id=session.user_id,
            session_id=session.id,
            generation=session.generation + 1,
        )
        rotated = replace(
            session,
            refresh_expires_at=refresh_exp,
            generation=session.generation + 1,
            auth_time=auth_time,
            amr=amr,
        )
        refresh = self._issuer.refresh_token(rotated, successor_jti, now)
        return self._issuer.tokens(rotated, subject, hook_claims, refresh_token=refresh, now=now)

    async def _record_grace_use(
        self, ending: Ending, session: SessionRecord, ctx: RequestContext
    ) -> None:
        """Audit a grace use. Within the grace whoever presents the spent token gets the live
        successor (contract 5.3): a lost response and a thief look the same. A use from another
        IP address *and* another User-Agent than the rotation it follows (the session row holds
        those of its last rotation) is more likely a thief racing the user, so it is audited as
        ``refresh_grace_suspicious`` and logged as a warning: the session goes on (the contract
        says so), but the operator can see it and end it."""
        user_agent = clip_user_agent(ctx.user_agent)
        suspicious = ctx.ip != session.ip and user_agent != session.user_agent
        detail: dict[str, Any] = {
            "seconds_since_rotation": _seconds(ending.now - aware(_rotated_at(session))),
        }
        if suspicious:
            detail.update(rotation_ip=session.ip, rotation_user_agent=session.user_agent)
            log.warning("refresh within the reuse grace from another IP and User-Agent")
        await ending.record(
            AuditKind.REFRESH_GRACE_SUSPICIOUS if suspicious else AuditKind.REFRESH_GRACE,
            ctx,
            user_id=session.user_id,
            session_id=session.id,
            **detail,
        )

    def _replay_successor(
        self,
        session: SessionRecord,
        claims: RefreshClaims,
        subject: Subject,
        hook_claims: dict[str, Any],
        now: datetime,
    ) -> IssuedTokens:
        """Within the grace: the same successor token, rebuilt from the derived ``jti`` and the
        rotation time, plus a fresh access token."""
        successor_jti = self._codec.successor_jti(claims.jti)
        if hash_jti(successor_jti) != session.current_hash:  # keys changed mid-grace
            raise TokenReuseDetected("This refresh token was already used")
        refresh = self._issuer.refresh_token(session, successor_jti, aware(_rotated_at(session)))
        return self._issuer.tokens(session, subject, hook_claims, refresh_token=refresh, now=now)

    async def _revoke_for_reuse(
        self, ending: Ending, session: SessionRecord, claims: RefreshClaims, ctx: RequestContext
    ) -> None:
        ended = await ending.end([session.id], RevokeReason.REUSE_DETECTED)
        rotated_at = aware(session.rotated_at) if session.rotated_at else None
        await ending.record(
            AuditKind.REUSE_DETECTED,
            ctx,
            user_id=session.user_id,
            session_id=session.id,
            ended=ended,
            # Exact for the token replaced last; for older tokens a lower bound.
            seconds_since_rotation=_seconds(ending.now - rotated_at) if rotated_at else None,
            exact=session.previous_hash == hash_jti(claims.jti),
            token_issued_at=claims.iat,
            generation=session.generation,
        )
        log.warning("refresh token reuse detected; session revoked")

    async def _end_for_departed_user(self, claims: RefreshClaims, ctx: RequestContext) -> NoReturn:
        """The directory no longer knows the user, or says they are inactive: the session ends
        (audited) and the refresh fails with ``SESSION_REVOKED``."""
        async with self._ender.transaction() as ending:
            session = self._live(await ending.uow.sessions.lock(claims.sid), claims, ending.now)
            ended = await ending.end([session.id], RevokeReason.USER_GONE)
            await ending.record(
                AuditKind.USER_GONE,
                ctx,
                user_id=session.user_id,
                session_id=session.id,
                ended=ended,
            )
        raise SessionRevoked("The user no longer exists or was deactivated: log in again")


def _rotated_at(session: SessionRecord) -> datetime:
    assert session.rotated_at is not None
    return session.rotated_at


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)
