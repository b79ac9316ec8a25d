"""The domain's records. Plain frozen dataclasses: no ORM, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokensmith.core.directory import Subject

__all__ = [
    "AccessClaims",
    "AuditEvent",
    "AuditKind",
    "Channel",
    "IssuedTokens",
    "OneTimeToken",
    "OutboxEntry",
    "RefreshClaims",
    "Revocation",
    "RevokeReason",
    "SessionRecord",
    "User",
    "UserRecord",
]


@dataclass(frozen=True, slots=True)
class User:
    """What the API shows of an account; never the password hash."""

    id: str
    email: str
    name: str | None
    created_at: datetime
    email_verified: bool = False
    """The user followed a verification (or password-reset) link mailed to ``email``."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    user: User
    password_hash: str = field(repr=False)
    disabled_at: datetime | None = None
    email_verified_at: datetime | None = None


class RevokeReason(StrEnum):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_DELETED = "session_deleted"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password
    REUSE_DETECTED = "reuse_detected"
    USER_DISABLED = "user_disabled"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a password
    """A mailed reset link set a new password (contract 9): every session ends."""
    USER_GONE = "user_gone"
    """The user directory no longer knows the user, or says they are inactive (contract 8)."""
    SESSION_LIMIT = "session_limit"
    """``MAX_SESSIONS_PER_USER``: the least recently used session made room for a new one."""
    ADMIN = "admin"
    PASSWORD_GUESSING = "password_guessing"  # noqa: S105 - a reason, not a password
    """Too many wrong passwords from a signed-in session (``/auth/password``, reauthenticate)."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One login. Refresh tokens rotate inside it; only their hashes are kept.

    ``current_hash`` is the hash of the one live refresh token; ``previous_hash`` the one it
    replaced at ``rotated_at`` (kept for the reuse grace of contract 5.3).
    """

    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    """Absolute end: ``created_at + SESSION_MAX_AGE``."""
    refresh_expires_at: datetime
    """When the live refresh token expires (never after ``expires_at``)."""
    current_hash: str = field(repr=False)
    previous_hash: str | None = field(default=None, repr=False)
    rotated_at: datetime | None = None
    generation: int = 0
    ip: str | None = None
    user_agent: str | None = None
    revoked_at: datetime | None = None
    revoked_reason: RevokeReason | None = None
    auth_time: datetime | None = None
    """When the user last authenticated in this session (login or reauthentication); the access
    tokens' ``auth_time``. ``None`` for rows older than the column: ``created_at`` then."""
    amr: tuple[str, ...] = ()
    """How they authenticated (RFC 8176 values such as ``pwd``, ``otp``, ``mfa``)."""
    claims: dict[str, Any] | None = field(default=None, compare=False)
    """Claims given when the session started (``POST /auth/sessions``), in every access token."""
    persistent: bool = True
    """``False`` for ``remember: false``: a short session whose cookie ends with the browser."""

    @property
    def authenticated_at(self) -> datetime:
        return self.auth_time if self.auth_time is not None else self.created_at

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.refresh_expires_at > now


@dataclass(frozen=True, slots=True)
class CurrentRotation:
    """The common refresh, as one conditional write: rotate session ``session_id`` of
    ``user_id`` to ``new_hash`` if it is live (not revoked, before its maximum age) and its
    current hash is ``presented_hash``; its refresh expiry becomes the earlier of
    ``refresh_expires_cap`` and the session's end."""

    session_id: str
    user_id: str
    presented_hash: str
    new_hash: str
    rotated_at: datetime
    refresh_expires_cap: datetime
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Revocation:
    """A session whose access tokens must fail until ``until`` (after that they expired anyway)."""

    session_id: str
    until: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token's claims; what ``Depends(auth.principal)`` gives a route.

    Registered claims are attributes; so is any other claim the token carries (the claims hook's
    ``roles``, ``tenant``, ...): ``principal.tenant``. A claim the token lacks is an
    ``AttributeError``; ``principal.get("tenant")`` returns ``None`` instead.
    """

    sub: str
    sid: str
    jti: str
    email: str | None
    iat: int
    exp: int
    raw: dict[str, Any] = field(repr=False, compare=False)
    auth_time: int | None = None
    """When the user authenticated (RFC 9470 / OpenID Connect ``auth_time``)."""
    amr: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    """The ``scope`` claim, split on spaces (RFC 8693 section 4.2)."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: the token's other claims.
        raw = object.__getattribute__(self, "raw")
        if name in raw and not name.startswith("_"):
            return raw[name]
        raise AttributeError(f"the access token has no {name!r} claim")

    def get(self, name: str, default: Any = None) -> Any:
        """Any claim of the token by name, or ``default``."""
        return self.raw.get(name, default)


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    sub: str
    sid: str
    jti: str
    iat: int
    exp: int


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """What a login, a session start, a refresh or a reauthentication hands out.

    ``refresh_token`` is ``None`` only after a reauthentication that had no refresh token to
    rotate (the client's current one stays valid).
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in_s: int
    refresh_expires_in_s: int
    session_id: str
    persistent: bool = True
    """``False``: a ``remember: false`` session; its cookies get no ``Max-Age``."""
    user: User | Subject | None = None
    """Who the session is for, on a new session (the login response's ``user``)."""


class AuditKind(StrEnum):
    REGISTER = "register"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    REFRESH = "refresh"
    REFRESH_GRACE = "refresh_grace"
    REFRESH_GRACE_SUSPICIOUS = "refresh_grace_suspicious"
    """A grace use from another IP address and User-Agent than the rotation it follows."""
    REUSE_DETECTED = "reuse_detected"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password
    USER_DISABLED = "user_disabled"
    REAUTHENTICATED = "reauthenticated"
    SESSION_EVICTED = "session_evicted"
    """A new session past ``MAX_SESSIONS_PER_USER`` ended the least recently used one."""
    USER_GONE = "user_gone"
    """A refresh found the user gone or inactive in the directory; the session ended."""
    PASSWORD_FAILED = "password_failed"  # noqa: S105 - an event name, not a password
    """A signed-in session sent a wrong password (password change or reauthentication)."""
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name, not a password
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an event name
    EMAIL_VERIFICATION_REQUESTED = "email_verification_requested"
    EMAIL_VERIFIED = "email_verified"
    USER_ENABLED = "user_enabled"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    user_id: str | None = None
    session_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Channel(StrEnum):
    """How an outbox entry leaves (contract 9)."""

    MAIL = "mail"
    WEBHOOK = "webhook"
    HANDLER = "handler"
    """An in-process handler registered with ``auth.on(event, handler)``."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Something to send, written with the change it announces (:mod:`tokensmith.core.outbox`)."""

    event_id: str
    """Stable across retries: the webhook's ``id``, the receiver's de-duplication key."""
    channel: Channel
    type: str
    payload: dict[str, Any] = field(repr=False)
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OneTimeToken:
    """A password-reset or email-verification token, by its hash: single use, bounded life."""

    token_hash: str = field(repr=False)
    purpose: str
    user_id: str
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
