"""A new session on the database driver: the login's write without SQLAlchemy's execution path.

A login writes the same rows every time: the session and its ``login`` audit row, after a look
at how many live sessions the user has (``MAX_SESSIONS_PER_USER``). Through the repositories
that is a SQLAlchemy transaction of three statements plus ``BEGIN`` and ``COMMIT``; the profile
of ``/auth/login`` (argon2 made cheap, ``bench.apps.hashing:cheap_argon2``) put the database
path at ~1.4 ms of a ~3 ms login. Here the statements are compiled once per dialect by
SQLAlchemy (:class:`~tokensmith.storage.sql.direct.Prepared`) and run on the connections the
refresh's rotation uses (:class:`~tokensmith.storage.sql.direct.DirectRotation`):

* SQLite: ``BEGIN IMMEDIATE; SELECT count(*) ...; INSERT session; INSERT audit; COMMIT`` in one
  burst on the process's own connection, under its write lock, waiting for another process's
  lock asynchronously;
* PostgreSQL: one statement (a data-modifying CTE) whose session ``INSERT`` happens only while
  the user is under the limit, and whose audit ``INSERT`` follows it.

When the user is at the limit nothing is written and the caller takes the repositories' path,
which ends the least recently used sessions first and announces them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, or_, select

from tokensmith.core.models import AuditEvent, SessionRecord
from tokensmith.storage.sql.direct import DirectRotation, Prepared
from tokensmith.storage.sql.repositories import INSERT_AUDIT, audit_values, session_values
from tokensmith.storage.sql.tables import UtcDateTime, audit_log, sessions, users

__all__ = ["DirectLogin"]

# Every column: those session_values() leaves out of a new session (previous_hash, revoked_at...)
# are bound as NULL.
_SESSION_COLUMNS = [column.name for column in sessions.c]
_AUDIT_COLUMNS = [column.name for column in audit_log.c if not column.primary_key]

LIVE_SESSIONS = (
    select(func.count())
    .select_from(sessions)
    .where(
        sessions.c.user_id == bindparam("live_user"),
        sessions.c.revoked_at.is_(None),
        sessions.c.refresh_expires_at > bindparam("live_now", type_=UtcDateTime),
    )
)
"""The user's live sessions, as ``live_ids_least_recent_first`` counts them."""

INSERT_SESSION = insert(sessions)

USER_BY_EMAIL = select(users).where(users.c.email == bindparam("email"))


def _one_trip() -> Any:
    """PostgreSQL: the session row only while the user is under the limit, then its audit row
    (``audit_*`` parameters), in one statement; returns the audit row's id when it inserted."""
    under_limit = or_(
        bindparam("max_live", type_=Integer) == 0,
        LIVE_SESSIONS.scalar_subquery() < bindparam("max_live", type_=Integer),
    )
    opened = (
        insert(sessions)
        .from_select(
            _SESSION_COLUMNS,
            select(
                *(bindparam(name, type_=sessions.c[name].type) for name in _SESSION_COLUMNS)
            ).where(under_limit),
        )
        .returning(sessions.c.id)
        .cte("opened")
    )
    return (
        insert(audit_log)
        .from_select(
            _AUDIT_COLUMNS,
            select(
                *(
                    bindparam(f"audit_{name}", type_=audit_log.c[name].type)
                    for name in _AUDIT_COLUMNS
                )
            ).select_from(opened),
        )
        .returning(audit_log.c.id)
    )


class DirectLogin:
    """:meth:`SqlDatabase.add_session`'s work, on :class:`DirectRotation`'s connections."""

    def __init__(self, rotation: DirectRotation, dialect: Any) -> None:
        self._rotation = rotation
        self._user = Prepared(USER_BY_EMAIL, dialect, list(users.c))
        if rotation.postgres is not None:
            self._one_trip: Prepared | None = Prepared(_one_trip(), dialect)
        else:
            self._one_trip = None
            self._count = Prepared(LIVE_SESSIONS, dialect)
            self._session = Prepared(INSERT_SESSION, dialect)
            self._audit = Prepared(INSERT_AUDIT, dialect)

    def __repr__(self) -> str:
        return f"DirectLogin(one_trip={self._one_trip is not None})"

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        """The ``users`` row with this (normalised) email, as the table's types give it."""
        arguments = self._user.arguments({"email": email})
        postgres = self._rotation.postgres
        if postgres is not None:
            found = await postgres.fetchrow(self._user.sql, arguments)
        else:

            def steps(connection: sqlite3.Connection) -> Any:
                return connection.execute(self._user.sql, arguments).fetchone()

            found = await self._rotation.sqlite_read(steps)
        return self._user.mapping(found) if found is not None else None

    async def run(self, session: SessionRecord, audit: AuditEvent, max_live: int) -> bool:
        """Write ``session`` and ``audit`` unless the user has ``max_live`` (> 0) live sessions
        already; whether it wrote them."""
        params = {
            **session_values(session),
            "live_user": session.user_id,
            "live_now": session.created_at,
            "max_live": max_live,
        }
        row = audit_values(audit)
        postgres = self._rotation.postgres
        if postgres is not None:
            assert self._one_trip is not None
            params.update({f"audit_{name}": value for name, value in row.items()})
            found = await postgres.fetchrow(self._one_trip.sql, self._one_trip.arguments(params))
            return found is not None

        def steps(connection: sqlite3.Connection) -> bool:
            if max_live > 0:
                (live,) = connection.execute(
                    self._count.sql, self._count.arguments(params)
                ).fetchone()
                if live >= max_live:
                    return False
            connection.execute(self._session.sql, self._session.arguments(params))
            connection.execute(self._audit.sql, self._audit.arguments(row))
            return True

        wrote: bool = await self._rotation.sqlite_transaction(steps)
        return wrote
