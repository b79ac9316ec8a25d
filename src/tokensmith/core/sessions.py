"""Sessions: a session is one login; refresh tokens rotate inside it (:mod:`.rotation`).

A session starts from a password login (:mod:`.accounts`) or for a subject the app or a service
client authenticated itself (:meth:`SessionService.start`, contract 8); it ends by logout, logout
everywhere, deletion, a password change, a disabled or departed user, refresh-token reuse or the
per-user session limit, always through :class:`~tokensmith.core.ending.SessionEnder`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from tokensmith.core.audit import AuditTrail, RequestContext
from tokensmith.core.claims import check_claims
from tokensmith.core.clock import Clock
from tokensmith.core.ending import SessionEnder
from tokensmith.core.issuing import Issuer
from tokensmith.core.models import (
    AccessClaims,
    AuditKind,
    IssuedTokens,
    RefreshClaims,
    RevokeReason,
    SessionRecord,
)
from tokensmith.core.opening import Opening, SessionPolicy
from tokensmith.core.ports import Database
from tokensmith.core.revoker import Revoker
from tokensmith.core.rotation import Rotation
from tokensmith.core.subjects import Subjects
from tokensmith.core.tokens import TokenCodec, hash_jti
from tokensmith.errors import (
    InvalidCredentials,
    InvalidRequest,
    LogoutTokenMissing,
    NotFound,
    RefreshTokenExpired,
    TokenExpired,
    TokenRevoked,
    TokensmithError,
    ValidationError,
)

__all__ = [
    "MAX_SUBJECT_LENGTH",
    "RequestContext",
    "SessionPolicy",
    "SessionService",
    "check_amr",
    "check_subject_id",
]

MAX_SUBJECT_LENGTH: Final = 255
_AMR_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")


def check_subject_id(subject_id: object) -> str:
    """A subject id fit for ``sub``: a non-empty string of at most 255 characters."""
    if not isinstance(subject_id, str):
        raise ValidationError(f"subject: must be a string, not {type(subject_id).__name__}")
    if not subject_id or len(subject_id) > MAX_SUBJECT_LENGTH:
        raise ValidationError(f"subject: must be 1 to {MAX_SUBJECT_LENGTH} characters")
    return subject_id


def check_amr(amr: object) -> tuple[str, ...]:
    """Authentication method references (RFC 8176: ``pwd``, ``otp``, ``mfa``, ...)."""
    if isinstance(amr, str) or not isinstance(amr, Sequence):
        raise ValidationError("amr: a list of method names such as ['pwd'], not a string")
    values = tuple(amr)
    if len(values) > 10 or not all(isinstance(v, str) and _AMR_VALUE.match(v) for v in values):
        raise ValidationError(
            "amr: at most 10 method names of 1 to 32 letters, digits or '_.:-' (RFC 8176)"
        )
    return values


class SessionService:
    def __init__(
        self,
        database: Database,
        codec: TokenCodec,
        revoker: Revoker,
        policy: SessionPolicy,
        clock: Clock,
        *,
        subjects: Subjects,
        ender: SessionEnder,
        rotation: Rotation,
        issuer: Issuer,
        trail: AuditTrail,
    ) -> None:
        self._db = database
        self._codec = codec
        self._revoker = revoker
        self._policy = policy
        self._clock = clock
        self._subjects = subjects
        self._ender = ender
        self._rotation = rotation
        self._issuer = issuer
        self._opening = Opening(database, policy, clock, ender, issuer, trail)

    def __repr__(self) -> str:
        return f"SessionService(grace={self._policy.reuse_grace})"

    @property
    def observer(self) -> Callable[[str], None] | None:
        """Optional hook told each successful refresh: ``"rotated"`` or ``"grace"`` (metrics)."""
        return self._rotation.observer

    @observer.setter
    def observer(self, value: Callable[[str], None] | None) -> None:
        self._rotation.observer = value

    # -- starting ----------------------------------------------------------------------------

    async def start(
        self,
        subject_id: str,
        ctx: RequestContext,
        *,
        amr: Sequence[str] = ("pwd",),
        remember: bool = True,
        claims: Mapping[str, Any] | None = None,
        via: str = "start_session",
    ) -> IssuedTokens:
        """Open a session for a subject authenticated elsewhere (contract 8).

        The directory must know the subject and say it is active (else
        :class:`InvalidCredentials`); ``claims`` are kept with the session and carried into
        every access token it gets. ``IssuedTokens.user`` says who the session is for.
        """
        subject_id = check_subject_id(subject_id)
        amr = check_amr(amr)
        session_claims = check_claims(claims, "the session's claims") if claims else None
        subject = await self._subjects.get(subject_id)
        if subject is None or not subject.active:
            raise InvalidCredentials("This user cannot start a session: unknown or deactivated")
        hook_claims = await self._subjects.claims(subject)
        profile = await self._subjects.profile(subject)
        tokens = await self._opening.open_new(
            subject,
            ctx,
            amr=amr,
            remember=remember,
            hook_claims=hook_claims,
            session_claims=session_claims,
            via=via,
        )
        return replace(tokens, user=profile)

    @property
    def opening(self) -> Opening:
        """Where sessions open (:mod:`tokensmith.core.opening`): a login opens one there."""
        return self._opening

    # -- rotating ----------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, ctx: RequestContext) -> IssuedTokens:
        """Rotate ``refresh_token`` (contract 5.3; :mod:`tokensmith.core.rotation`)."""
        return await self._rotation.refresh(refresh_token, ctx)

    async def reauthenticate(
        self,
        access: AccessClaims,
        ctx: RequestContext,
        *,
        amr: Sequence[str] = ("pwd",),
        refresh_token: str | None = None,
    ) -> IssuedTokens:
        """Renew ``auth_time`` in the access token's session: the user just proved who they
        are again (the caller checked how)."""
        return await self._rotation.reauthenticate(access, refresh_token, ctx, amr=check_amr(amr))

    # -- ending ------------------------------------------------------------------------------

    async def logout_with(
        self, access_token: str | None, refresh_token: str | None, ctx: RequestContext
    ) -> None:
        """``POST /auth/logout``: end the session of the Bearer token and/or the refresh token.

        An expired token still names its session well enough to end it, for as long as a client
        can still hold it for a reason (the refresh lifetime past its ``exp``); a bad one is
        refused (401), neither token is :class:`LogoutTokenMissing` (400), and tokens of two
        different users are :class:`InvalidRequest` (400): one request, one user.
        """
        access = refresh = None
        stale: TokensmithError | None = None
        if access_token:
            try:
                access = self._codec.verify_access(access_token, check_expiry=False)
            except TokenExpired as error:  # expired too long ago: names nothing
                stale = error
        if refresh_token:
            try:
                refresh = self._codec.verify_refresh(refresh_token, check_expiry=False)
            except RefreshTokenExpired as error:
                stale = error
        if access is None and refresh is None:
            raise stale or LogoutTokenMissing()
        await self.logout(access, refresh, ctx)

    async def logout(
        self,
        access: AccessClaims | None,
        refresh: RefreshClaims | None,
        ctx: RequestContext,
    ) -> None:
        """End the session named by either token. Logging out twice is fine; tokens of two
        users in one request are refused (:class:`InvalidRequest`) before anything ends."""
        named = {c.sid: c.sub for c in (access, refresh) if c is not None}
        if len(set(named.values())) > 1:
            raise InvalidRequest(
                "The access token and the refresh token belong to different users: log out "
                "one user per request"
            )
        async with self._ender.transaction() as ending:
            for sid, user_id in named.items():
                session = await ending.uow.sessions.get(sid)
                if session is None or session.user_id != user_id:
                    continue
                ended = await ending.end([sid], RevokeReason.LOGOUT)
                if ended:
                    await ending.record(
                        AuditKind.LOGOUT, ctx, user_id=user_id, session_id=sid, ended=ended
                    )

    async def logout_all(self, user_id: str, ctx: RequestContext) -> int:
        async with self._ender.transaction() as ending:
            ended = await ending.end(await ending.revocable_ids(user_id), RevokeReason.LOGOUT_ALL)
            await ending.record(
                AuditKind.LOGOUT_ALL, ctx, user_id=user_id, ended=ended, revoked=len(ended)
            )
        return len(ended)

    async def revoke_one(self, user_id: str, session_id: str, ctx: RequestContext) -> None:
        """``DELETE /auth/sessions/{id}``: 404 unless the session is the caller's."""
        async with self._ender.transaction() as ending:
            session = await ending.uow.sessions.get(session_id)
            if session is None or session.user_id != user_id or not session.is_active(ending.now):
                raise NotFound("No such session")
            ended = await ending.end([session_id], RevokeReason.SESSION_DELETED)
            await ending.record(
                AuditKind.SESSION_REVOKED,
                ctx,
                user_id=user_id,
                session_id=session_id,
                ended=ended,
            )

    # -- reading -----------------------------------------------------------------------------

    async def list_active(self, user_id: str) -> list[SessionRecord]:
        async with self._db.transaction() as uow:
            return await uow.sessions.list_active(user_id, self._clock.now())

    async def live_refresh_session(self, claims: RefreshClaims) -> SessionRecord | None:
        """The session of a refresh token if that token is its live one (introspection)."""
        now = self._clock.now()
        async with self._db.transaction() as uow:
            session = await uow.sessions.get(claims.sid)
        if (
            session is None
            or session.user_id != claims.sub
            or not session.is_active(now)
            or session.expires_at <= now
            # Only the live token of the session is active; a rotated one is spent.
            or session.current_hash != hash_jti(claims.jti)
        ):
            return None
        return session

    async def cleanup(self) -> tuple[int, int]:
        """Delete session rows and revocation records that can no longer matter."""
        now = self._clock.now()
        async with self._db.transaction(write=True) as uow:
            sessions = await uow.sessions.delete_expired(now - self._policy.cleanup_after)
            revocations = await uow.revocations.delete_expired(now)
        return sessions, revocations

    # -- the protected-route check -----------------------------------------------------------

    def authenticate(self, access_token: str) -> AccessClaims:
        """Verify an access token and refuse it if its session was revoked, as far as this
        process knows now. No I/O."""
        claims = self._codec.verify_access(access_token)
        if self._revoker.is_revoked(claims.sid):
            raise TokenRevoked()
        return claims

    async def authenticate_current(self, access_token: str) -> AccessClaims:
        """:meth:`authenticate`, after catching up with revocations other processes committed
        since the feed last looked (:meth:`Revoker.catch_up`): what protected routes use, so a
        logout on one worker is refused on every worker as soon as it has returned."""
        claims = self._codec.verify_access(access_token)
        if not self._revoker.is_revoked(claims.sid):
            await self._revoker.catch_up()
        if self._revoker.is_revoked(claims.sid):
            raise TokenRevoked()
        return claims
