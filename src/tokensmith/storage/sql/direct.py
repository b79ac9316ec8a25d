"""The refresh's rotation on the database driver itself, without SQLAlchemy's execution path.

A rotation is the hottest write tokensmith makes, and its statements are fixed: the conditional
``UPDATE ... RETURNING`` and its audit ``INSERT`` (one data-modifying CTE on PostgreSQL,
``one_trip.py``). The profile of ``/auth/refresh`` put SQLAlchemy's part of running them (pool
checkout, execution context, parameter and result processing, ``Result`` objects) at ~340 us of
a ~1.2 ms rotation on SQLite. So they are compiled once per dialect by SQLAlchemy itself (the
same SQL, the same column types and their bind and result processors: :class:`Prepared`) and
sent straight to the driver:

* SQLite: one connection of this process's own, used only here and always inline on the event
  loop, runs ``BEGIN IMMEDIATE; UPDATE ... RETURNING; INSERT; COMMIT`` in one synchronous burst
  under the database's in-process write lock (so it never waits in SQLite's busy handler for a
  writer of this process that is itself waiting for the loop). The two statements now also
  commit together, where the pooled path committed each on its own.
* PostgreSQL: a connection from SQLAlchemy's pool (its size, its replacement of connections the
  server closed, its disposal), on which asyncpg runs the one statement as a prepared statement
  (asyncpg's statement cache): one round trip, no transaction around it.

Anything unusual (the row does not match) returns ``None`` and the core takes the locking path
through the repositories, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from tokensmith.core.models import AuditEvent
from tokensmith.storage.sql.inline_sqlite import configure
from tokensmith.storage.sql.one_trip import audit_parameters, one_trip
from tokensmith.storage.sql.repositories import INSERT_AUDIT, ROTATE_IF_CURRENT, audit_values
from tokensmith.storage.sql.tables import sessions

__all__ = ["DirectRotation", "Prepared", "SqliteConnection"]


class Prepared:
    """One statement compiled for one dialect: its SQL text, and the positional arguments and
    result mapping its column types call for (SQLAlchemy's own bind and result processors)."""

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, columns: Sequence[Column[Any]] = ()
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        names = compiled.positiontup or []
        defaults = compiled.params  # the literals SQLAlchemy made parameters (``generation + 1``)
        self._arguments: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in names:
            processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            self._arguments.append((name, defaults.get(name), processor))
        self._columns: list[tuple[str, Callable[[Any], Any] | None]] = [
            (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in columns
        ]

    def __repr__(self) -> str:
        return f"Prepared({self.sql.split(None, 1)[0]} ...)"

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, default, processor in self._arguments:
            value = params.get(name, default)
            out.append(processor(value) if processor is not None and value is not None else value)
        return tuple(out)

    def mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        """A returned row as ``{column name: value}``, values as the table's types give them."""
        return {
            name: processor(value) if processor is not None and value is not None else value
            for (name, processor), value in zip(self._columns, row, strict=True)
        }


class SqliteConnection:
    """This process's own SQLite connection for the rotation, opened on first use with the
    pool's pragmas, used inline on the event loop only, closed with the database."""

    def __init__(self, path: str, configure: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._configure = configure
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteConnection(open={self._connection is not None})"

    def transaction(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``steps`` between ``BEGIN IMMEDIATE`` and ``COMMIT`` (``ROLLBACK`` if it
        raises). A connection that failed is closed and opened again next time."""
        connection = self._connection
        if connection is None:
            connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            try:
                self._configure(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = steps(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error:
            self.close()
            raise
        return result

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class DirectRotation:
    """:meth:`SqlDatabase.rotate_if_current`'s work: the rotation's statements, prepared for the
    engine's dialect, run on the driver."""

    def __init__(self, engine: AsyncEngine, write_lock: asyncio.Lock, sqlite_path: str | None):
        dialect = engine.dialect
        self._engine = engine
        self._write_lock = write_lock
        self._postgres = dialect.name == "postgresql"
        if self._postgres:
            self._rotate = Prepared(one_trip(ROTATE_IF_CURRENT), dialect, list(sessions.c))
            self._audit = None
        else:
            self._rotate = Prepared(ROTATE_IF_CURRENT, dialect, list(sessions.c))
            self._audit = Prepared(INSERT_AUDIT, dialect)
        self._sqlite = SqliteConnection(sqlite_path, configure) if sqlite_path is not None else None

    def __repr__(self) -> str:
        return f"DirectRotation({self._engine.dialect.name})"

    async def run(self, params: dict[str, Any], audit: AuditEvent) -> dict[str, Any] | None:
        """The session row after the rotation (``params`` as ``ROTATE_IF_CURRENT`` names
        them), its audit row written with the new generation; None when no row matched."""
        if self._postgres:
            return await self._postgres_trip({**params, **audit_parameters(audit)})
        async with self._write_lock:
            if self._sqlite is not None:
                row: dict[str, Any] | None = self._sqlite.transaction(
                    lambda c: self._sqlite_steps(c, params, audit)
                )
                return row
            # An in-memory or URI database: only the pool's connections see it.
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                assert raw.driver_connection is not None
                inline = raw.driver_connection._connection  # inline_sqlite: the sqlite3 one
                inline.execute("BEGIN IMMEDIATE")
                try:
                    row = self._sqlite_steps(inline, params, audit)
                except BaseException:
                    inline.execute("ROLLBACK")
                    raise
                inline.execute("COMMIT")
                return row

    def _sqlite_steps(
        self, connection: sqlite3.Connection, params: dict[str, Any], audit: AuditEvent
    ) -> dict[str, Any] | None:
        found = connection.execute(self._rotate.sql, self._rotate.arguments(params)).fetchone()
        if found is None:
            return None
        row = self._rotate.mapping(found)
        assert self._audit is not None
        connection.execute(
            self._audit.sql,
            self._audit.arguments(
                audit_values(replace(audit, detail={"generation": row["generation"]}))
            ),
        )
        return row

    async def _postgres_trip(self, params: dict[str, Any]) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            try:
                found = await raw.driver_connection.fetchrow(
                    self._rotate.sql, *self._rotate.arguments(params)
                )
            except BaseException:
                # Its state is unknown (a lost connection, a cancelled statement): the pool
                # drops it and opens another.
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise
        return self._rotate.mapping(found) if found is not None else None

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
