"""The core's repositories over one SQLAlchemy connection (one transaction)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tokensmith.core.models import (
    AuditEvent,
    AuditKind,
    CurrentRotation,
    Revocation,
    RevokeReason,
    SessionRecord,
    User,
    UserRecord,
)
from tokensmith.errors import EmailTaken
from tokensmith.storage.sql.one_trip import rotate_and_audit
from tokensmith.storage.sql.outbox import SqlOneTimeTokenRepository, SqlOutboxRepository
from tokensmith.storage.sql.tables import UtcDateTime, audit_log, revocations, sessions, users

__all__ = [
    "SqlAuditRepository",
    "SqlRevocationRepository",
    "SqlSessionRepository",
    "SqlUnitOfWork",
    "SqlUserRepository",
]


def user_record(row: RowMapping | Mapping[str, Any]) -> UserRecord:
    """A ``users`` row as the core's record."""
    return UserRecord(
        user=User(
            row["id"],
            row["email"],
            row["name"],
            row["created_at"],
            email_verified=row["email_verified_at"] is not None,
        ),
        password_hash=row["password_hash"],
        disabled_at=row["disabled_at"],
        email_verified_at=row["email_verified_at"],
    )


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, user: User, password_hash: str) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        name=user.name,
                        password_hash=password_hash,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError:
            raise EmailTaken() from None

    async def by_email(self, email: str) -> UserRecord | None:
        row = (await self._conn.execute(select(users).where(users.c.email == email))).mappings()
        found = row.first()
        return user_record(found) if found else None

    async def by_id(self, user_id: str) -> UserRecord | None:
        row = (await self._conn.execute(select(users).where(users.c.id == user_id))).mappings()
        found = row.first()
        return user_record(found) if found else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._conn.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def disable(self, user_id: str, at: datetime) -> bool:
        result = await self._conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.disabled_at.is_(None))
            .values(disabled_at=at)
        )
        return bool(result.rowcount)

    async def list(self, limit: int = 1000) -> list[UserRecord]:
        rows = await self._conn.execute(select(users).order_by(users.c.created_at).limit(limit))
        return [user_record(row) for row in rows.mappings()]

    async def enable(self, user_id: str) -> bool:
        result = await self._conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.disabled_at.is_not(None))
            .values(disabled_at=None)
        )
        return bool(result.rowcount)

    async def set_email_verified(self, user_id: str, at: datetime) -> None:
        await self._conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.email_verified_at.is_(None))
            .values(email_verified_at=at)
        )


def session_record(row: Mapping[Any, Any]) -> SessionRecord:
    reason = row["revoked_reason"]
    amr = row["amr"]
    claims = row["claims"]
    return SessionRecord(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        refresh_expires_at=row["refresh_expires_at"],
        current_hash=row["current_hash"],
        previous_hash=row["previous_hash"],
        rotated_at=row["rotated_at"],
        generation=row["generation"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        revoked_at=row["revoked_at"],
        revoked_reason=RevokeReason(reason) if reason else None,
        auth_time=row["auth_time"],
        amr=tuple(amr.split()) if amr else (),
        claims=json.loads(claims) if claims else None,
        persistent=bool(row["persistent"]),
    )


def _amr(amr: Sequence[str]) -> str | None:
    # RFC 8176 method names have no spaces (checked where they come in).
    return " ".join(amr) if amr else None


# The refresh hot path's two statements, built once: constructing a Core statement and its
# cache key costs more than SQLite takes to run it.
# SET expressions read the row as it was before the update (SQL semantics on both SQLite and
# PostgreSQL), so previous_hash takes the old current_hash.
ROTATE_IF_CURRENT = (
    update(sessions)
    .where(
        sessions.c.id == bindparam("sid"),
        sessions.c.user_id == bindparam("uid"),
        sessions.c.current_hash == bindparam("presented"),
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > bindparam("now", type_=UtcDateTime),
    )
    .values(
        previous_hash=sessions.c.current_hash,
        current_hash=bindparam("new_hash"),
        rotated_at=bindparam("now", type_=UtcDateTime),
        last_used_at=bindparam("now", type_=UtcDateTime),
        refresh_expires_at=case(
            (
                sessions.c.expires_at < bindparam("cap", type_=UtcDateTime),
                sessions.c.expires_at,
            ),
            else_=bindparam("cap", type_=UtcDateTime),
        ),
        generation=sessions.c.generation + 1,
        ip=bindparam("ip"),
        user_agent=bindparam("ua"),
    )
    .returning(*sessions.c)
)
INSERT_AUDIT = insert(audit_log)


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, session: SessionRecord) -> None:
        await self._conn.execute(insert(sessions).values(**session_values(session)))

    async def lock(self, session_id: str) -> SessionRecord | None:
        # FOR UPDATE on PostgreSQL; SQLite is already serialised by BEGIN IMMEDIATE.
        query = select(sessions).where(sessions.c.id == session_id).with_for_update()
        found = (await self._conn.execute(query)).mappings().first()
        return session_record(found) if found else None

    async def get(self, session_id: str) -> SessionRecord | None:
        query = select(sessions).where(sessions.c.id == session_id)
        found = (await self._conn.execute(query)).mappings().first()
        return session_record(found) if found else None

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
        values: dict[str, Any] = {
            "previous_hash": sessions.c.current_hash,
            "current_hash": new_hash,
            "rotated_at": rotated_at,
            "last_used_at": rotated_at,
            "refresh_expires_at": refresh_expires_at,
            "generation": sessions.c.generation + 1,
            "ip": ip,
            "user_agent": user_agent,
        }
        if auth_time is not None:
            values["auth_time"] = auth_time
        if amr is not None:
            values["amr"] = _amr(amr)
        await self._conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(**values)
        )

    async def renew_authentication(
        self, session_id: str, *, auth_time: datetime, amr: Sequence[str]
    ) -> None:
        await self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(auth_time=auth_time, amr=_amr(amr), last_used_at=auth_time)
        )

    async def live_ids_least_recent_first(self, user_id: str, now: datetime) -> list[str]:
        rows = await self._conn.execute(
            select(sessions.c.id)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.refresh_expires_at > now,
            )
            .order_by(sessions.c.last_used_at, sessions.c.created_at)
        )
        return [row[0] for row in rows]

    async def rotate_if_current(
        self, rotation: CurrentRotation, audit: AuditEvent | None = None
    ) -> SessionRecord | None:
        params = rotation_parameters(rotation)
        if audit is not None and self._conn.dialect.name == "postgresql":
            row = await rotate_and_audit(self._conn, ROTATE_IF_CURRENT, params, audit)
            return session_record(row) if row is not None else None
        result = await self._conn.execute(ROTATE_IF_CURRENT, params)
        row = result.mappings().first()
        if row is None:
            return None
        session = session_record(row)
        if audit is not None:
            await SqlAuditRepository(self._conn).add(
                replace(audit, detail={"generation": session.generation})
            )
        return session

    async def revoke(
        self, session_ids: Sequence[str], *, at: datetime, reason: RevokeReason
    ) -> list[str]:
        if not session_ids:
            return []
        result = await self._conn.execute(
            update(sessions)
            .where(sessions.c.id.in_(list(session_ids)), sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason.value)
            .returning(sessions.c.id)
        )
        return [row[0] for row in result]

    async def revocable_ids_for_user(self, user_id: str, mattering_after: datetime) -> list[str]:
        rows = await self._conn.execute(
            select(sessions.c.id).where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.refresh_expires_at > mattering_after,
            )
        )
        return [row[0] for row in rows]

    async def list_active(self, user_id: str, now: datetime) -> list[SessionRecord]:
        rows = await self._conn.execute(
            select(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.refresh_expires_at > now,
            )
            .order_by(sessions.c.last_used_at.desc())
        )
        return [session_record(row) for row in rows.mappings()]

    async def delete_expired(self, before: datetime) -> int:
        result = await self._conn.execute(
            delete(sessions).where(sessions.c.refresh_expires_at < before)
        )
        return int(result.rowcount or 0)

    async def count_active(self, now: datetime) -> int:
        query = (
            select(func.count())
            .select_from(sessions)
            .where(sessions.c.revoked_at.is_(None), sessions.c.refresh_expires_at > now)
        )
        return int((await self._conn.execute(query)).scalar_one())


class SqlRevocationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, items: Sequence[Revocation]) -> None:
        if items:
            await self._conn.execute(
                insert(revocations),
                [{"session_id": r.session_id, "until": r.until} for r in items],
            )

    async def live(self, now: datetime) -> tuple[list[Revocation], int]:
        cursor = await self._cursor()
        rows = await self._conn.execute(
            select(revocations.c.session_id, revocations.c.until).where(
                revocations.c.until > now, revocations.c.seq <= cursor
            )
        )
        return [Revocation(sid, until) for sid, until in rows], cursor

    async def since(self, cursor: int) -> tuple[list[Revocation], int]:
        rows = (
            await self._conn.execute(
                select(revocations.c.seq, revocations.c.session_id, revocations.c.until)
                .where(revocations.c.seq > cursor)
                .order_by(revocations.c.seq)
            )
        ).all()
        if not rows:
            return [], cursor
        return [Revocation(sid, until) for _, sid, until in rows], int(rows[-1][0])

    async def after(self, cursor: int, gaps: Sequence[int] = ()) -> list[tuple[int, Revocation]]:
        """Rows past ``cursor`` plus the rows numbered ``gaps`` (sequence numbers below the
        cursor that were missing when last read: on PostgreSQL they may still commit)."""
        condition = revocations.c.seq > cursor
        if gaps:
            condition = or_(condition, revocations.c.seq.in_(list(gaps)))
        rows = await self._conn.execute(
            select(revocations.c.seq, revocations.c.session_id, revocations.c.until)
            .where(condition)
            .order_by(revocations.c.seq)
        )
        return [(int(seq), Revocation(sid, until)) for seq, sid, until in rows]

    async def sequence_numbers(self, low: int, high: int) -> list[int]:
        """The sequence numbers present in ``(low, high]``, ascending."""
        rows = await self._conn.execute(
            select(revocations.c.seq)
            .where(revocations.c.seq > low, revocations.c.seq <= high)
            .order_by(revocations.c.seq)
        )
        return [int(seq) for (seq,) in rows]

    async def newest(self) -> int:
        """The newest sequence number present (0 for an empty log)."""
        return await self._cursor()

    async def _cursor(self) -> int:
        value = (await self._conn.execute(select(func.max(revocations.c.seq)))).scalar_one()
        return int(value or 0)

    async def delete_expired(self, now: datetime) -> int:
        # Keep the newest row so the sequence (the feed cursor) never goes backwards on SQLite.
        newest = await self._cursor()
        result = await self._conn.execute(
            delete(revocations).where(revocations.c.until <= now, revocations.c.seq < newest)
        )
        return int(result.rowcount or 0)


class SqlAuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: AuditEvent) -> None:
        await self._conn.execute(INSERT_AUDIT, audit_values(event))

    async def query(
        self,
        *,
        user_id: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(audit_log.c.user_id == user_id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if kind is not None:
            query = query.where(audit_log.c.kind == kind)
        rows = (await self._conn.execute(query)).mappings().all()
        return [_event(row) for row in reversed(rows)]


def rotation_parameters(rotation: CurrentRotation) -> dict[str, Any]:
    """``ROTATE_IF_CURRENT``'s parameters for ``rotation``."""
    return {
        "sid": rotation.session_id,
        "uid": rotation.user_id,
        "presented": rotation.presented_hash,
        "new_hash": rotation.new_hash,
        "now": rotation.rotated_at,
        "cap": rotation.refresh_expires_cap,
        "ip": rotation.ip,
        "ua": rotation.user_agent,
    }


def session_values(session: SessionRecord) -> dict[str, Any]:
    """The row of a new session."""
    return {
        "id": session.id,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "expires_at": session.expires_at,
        "refresh_expires_at": session.refresh_expires_at,
        "current_hash": session.current_hash,
        "generation": 0,
        "ip": session.ip,
        "user_agent": session.user_agent,
        "auth_time": session.auth_time,
        "amr": _amr(session.amr),
        "claims": json.dumps(session.claims, separators=(",", ":")) if session.claims else None,
        "persistent": session.persistent,
    }


def audit_values(event: AuditEvent) -> dict[str, Any]:
    """``INSERT_AUDIT``'s parameters for ``event``."""
    return {
        "at": event.at,
        "kind": event.kind.value,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": json.dumps(event.detail, separators=(",", ":")) if event.detail else None,
    }


def _event(row: RowMapping) -> AuditEvent:
    detail: dict[str, Any] = json.loads(row["detail"]) if row["detail"] else {}
    return AuditEvent(
        kind=AuditKind(row["kind"]),
        at=row["at"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        detail=detail,
    )


class SqlUnitOfWork:
    def __init__(self, conn: AsyncConnection) -> None:
        self.connection = conn
        self.users = SqlUserRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.revocations = SqlRevocationRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.tokens = SqlOneTimeTokenRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
