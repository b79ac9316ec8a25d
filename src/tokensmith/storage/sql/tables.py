"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; keep them in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "audit_log",
    "metadata",
    "one_time_tokens",
    "outbox",
    "revocations",
    "sessions",
    "users",
]


def naive_utc(value: datetime) -> datetime:
    """How a time is stored: naive UTC. A naive time given to the database is a bug."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).replace(tzinfo=None)


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones), always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else naive_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
    Column("email_verified_at", UtcDateTime),
)

SUBJECT_LENGTH = 255
"""A subject id: a tokensmith user's UUID, or any id the app's directory uses (contract 8)."""

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    # No foreign key to users: a session's subject may live in the app's own user table.
    Column("user_id", String(SUBJECT_LENGTH), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("refresh_expires_at", UtcDateTime, nullable=False),
    Column("current_hash", String(64), nullable=False),
    Column("previous_hash", String(64)),
    Column("rotated_at", UtcDateTime),
    Column("generation", Integer, nullable=False, default=0),
    Column("ip", String(64)),
    Column("user_agent", String(512)),
    Column("revoked_at", UtcDateTime),
    Column("revoked_reason", String(32)),
    Column("auth_time", UtcDateTime),
    Column("amr", String(400)),
    Column("claims", Text),
    Column("persistent", Boolean, nullable=False, default=True),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_refresh_expires_at", "refresh_expires_at"),
)

revocations = Table(
    "revocations",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("session_id", String(32), nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Index("ix_revocations_until", "until"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("user_id", String(SUBJECT_LENGTH)),
    Column("session_id", String(32)),
    Column("ip", String(64)),
    Column("user_agent", String(512)),
    Column("detail", Text),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_user_id", "user_id"),
    Index("ix_audit_log_kind", "kind"),
)

one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    # SHA-256 of the token, never the token: a copy of the database resets no password.
    Column("token_hash", String(64), primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Index("ix_one_time_tokens_user_id", "user_id"),
    Index("ix_one_time_tokens_expires_at", "expires_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("last_error", String(500)),
    Column("sent_at", UtcDateTime),
    # One event goes to each channel once (the webhook and a handler share its id).
    UniqueConstraint("channel", "event_id", name="uq_outbox_channel_event_id"),
    Index("ix_outbox_due", "sent_at", "next_attempt_at"),
)
