"""The domain's records. Plain frozen dataclasses: no ORM, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "AccessClaims",
    "AuditEvent",
    "AuditKind",
    "IssuedTokens",
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


@dataclass(frozen=True, slots=True)
class UserRecord:
    user: User
    password_hash: str = field(repr=False)
    disabled_at: datetime | None = None


class RevokeReason(StrEnum):
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_DELETED = "session_deleted"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password
    REUSE_DETECTED = "reuse_detected"
    USER_DISABLED = "user_disabled"
    ADMIN = "admin"


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

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.refresh_expires_at > now


@dataclass(frozen=True, slots=True)
class Revocation:
    """A session whose access tokens must fail until ``until`` (after that they expired anyway)."""

    session_id: str
    until: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    sub: str
    sid: str
    jti: str
    email: str
    iat: int
    exp: int
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    sub: str
    sid: str
    jti: str
    iat: int
    exp: int


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in_s: int
    refresh_expires_in_s: int
    session_id: str


class AuditKind(StrEnum):
    REGISTER = "register"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    REFRESH = "refresh"
    REFRESH_GRACE = "refresh_grace"
    REUSE_DETECTED = "reuse_detected"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name, not a password
    USER_DISABLED = "user_disabled"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    kind: AuditKind
    at: datetime
    user_id: str | None = None
    session_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
