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
  under the database's in-process write lock (so it never waits for a writer of this process
  that is itself waiting for the loop). When another *process* holds the write lock it waits
  for it asynchronously (``sqlite_writer.SqliteConnection``), never in SQLite's busy handler on
  the loop. The rotations (and login writes) of one turn of the loop share that burst: one
  ``BEGIN IMMEDIATE`` and one ``COMMIT`` around all their statements (``group_commit.py``).
* PostgreSQL: asyncpg's own pool (:class:`PostgresPool`; the same connection settings and
  bounds as the engine's) runs the one statement as a prepared statement (asyncpg's statement
  cache): one round trip, no transaction around it, no reset round trip when the connection
  goes back. SQLAlchemy's pool, shared by every other query, kept a refresh storm opening and
  closing its overflow connections (a profile showed 7% of a rotation in ``connect``).

Anything unusual (the row does not match) returns ``None`` and the core takes the locking path
through the repositories, as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from tokensmith.core.models import AuditEvent
from tokensmith.storage.sql.group_commit import GroupCommit
from tokensmith.storage.sql.inline_sqlite import configure
from tokensmith.storage.sql.one_trip import audit_parameters, one_trip
from tokensmith.storage.sql.repositories import INSERT_AUDIT, ROTATE_IF_CURRENT, audit_values
from tokensmith.storage.sql.sqlite_writer import SqliteConnection, immediate
from tokensmith.storage.sql.tables import UtcDateTime, naive_utc, sessions

if TYPE_CHECKING:  # the postgres extra: imported where a pool opens
    import asyncpg

__all__ = ["DirectRotation", "PostgresPool", "Prepared"]


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
            processor = _bind_processor(compiled.binds[name].type, dialect)
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


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for ``type_``, except a time on SQLite: the same text (naive
    UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``) from one ``isoformat`` call instead of the
    :class:`UtcDateTime` conversion and then SQLite's ``%``-format with seven fields (1.9 against
    3.3 us; a rotation binds six)."""
    if isinstance(type_, UtcDateTime) and dialect.name == "sqlite":
        return _sqlite_time
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _sqlite_time(value: datetime) -> str:
    return naive_utc(value).isoformat(" ", "microseconds")


async def _keep_session_state(connection: Any) -> None:
    """asyncpg's pool resets a connection it takes back (``RESET ALL``, ``UNLISTEN *``...: one
    round trip); the rotation changes no session state, so nothing needs resetting (an open
    transaction is still rolled back by asyncpg itself)."""


class PostgresPool:
    """asyncpg's pool for the rotation, opened on first use, at most ``size`` connections."""

    # SQLAlchemy's own options in the connect arguments its dialect derives from the URL.
    _SQLALCHEMY_ONLY = (
        "async_creator_fn",
        "prepared_statement_cache_size",
        "prepared_statement_name_func",
    )

    def __init__(self, engine: AsyncEngine, connect_args: Mapping[str, Any], size: int) -> None:
        _, options = engine.dialect.create_connect_args(engine.url)
        self._options = {
            **{k: v for k, v in options.items() if k not in self._SQLALCHEMY_ONLY},
            **connect_args,
        }
        self._size = size
        self._acquire_timeout = float(connect_args.get("timeout", 3.0))
        self._pool: asyncpg.Pool | None = None
        self._server_error: type[BaseException] = Exception  # asyncpg's, once a pool opens
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresPool(size={self._size}, open={self._pool is not None})"

    async def fetchrow(self, sql: str, arguments: Sequence[Any]) -> Sequence[Any] | None:
        """One statement on a pooled connection. A connection the statement did not finish on
        (the caller's timeout cancelled it, the socket failed) is terminated, not handed back:
        releasing it would wait for its cancellation on a server that may not answer, in a
        shielded task nobody awaits once the caller has gone (asyncpg's ``Pool.release``)."""
        row: Sequence[Any] | None = await self._on_connection("fetchrow", sql, arguments)
        return row

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[Sequence[Any]]:
        """Every row of one statement, as :meth:`fetchrow` runs it."""
        rows: list[Sequence[Any]] = await self._on_connection("fetch", sql, arguments)
        return rows

    async def _on_connection(self, method: str, sql: str, arguments: Sequence[Any]) -> Any:
        pool = self._pool or await self._open()
        connection = await pool.acquire(timeout=self._acquire_timeout)
        try:
            return await getattr(connection, method)(sql, *arguments)
        except BaseException as exc:
            if not isinstance(exc, self._server_error):  # the server's own errors: usable
                connection.terminate()
            raise
        finally:
            await pool.release(connection)

    async def _open(self) -> asyncpg.Pool:
        import asyncpg  # the postgres extra; SQLite deployments do not have it

        async with self._opening:
            if self._pool is None:
                pool = asyncpg.create_pool(
                    min_size=0, max_size=self._size, reset=_keep_session_state, **self._options
                )
                self._pool = await pool
                self._server_error = asyncpg.PostgresError
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:  # a pool that cannot close cleanly is terminated
                pool.terminate()


class DirectRotation:
    """:meth:`SqlDatabase.rotate_if_current`'s work: the rotation's statements, prepared for the
    engine's dialect, run on the driver."""

    def __init__(
        self,
        engine: AsyncEngine,
        write_lock: asyncio.Lock,
        *,
        sqlite_path: str | None = None,
        connect_args: Mapping[str, Any] | None = None,
        pool_size: int = 10,
    ):
        dialect = engine.dialect
        self._engine = engine
        self._write_lock = write_lock
        self._postgres: PostgresPool | None = None
        if dialect.name == "postgresql":
            self._postgres = PostgresPool(engine, connect_args or {}, pool_size)
            self._rotate = Prepared(one_trip(ROTATE_IF_CURRENT), dialect, list(sessions.c))
            self._audit = None
        else:
            self._rotate = Prepared(ROTATE_IF_CURRENT, dialect, list(sessions.c))
            self._audit = Prepared(INSERT_AUDIT, dialect)
        self._sqlite = SqliteConnection(sqlite_path, configure) if sqlite_path is not None else None
        self._group = GroupCommit(self._sqlite, write_lock) if self._sqlite is not None else None

    def __repr__(self) -> str:
        return f"DirectRotation({self._engine.dialect.name})"

    async def run(self, params: dict[str, Any], audit: AuditEvent) -> dict[str, Any] | None:
        """The session row after the rotation (``params`` as ``ROTATE_IF_CURRENT`` names
        them), its audit row written with the new generation; None when no row matched."""
        if self._postgres is not None:
            arguments = self._rotate.arguments({**params, **audit_parameters(audit)})
            found = await self._postgres.fetchrow(self._rotate.sql, arguments)
            return self._rotate.mapping(found) if found is not None else None

        def steps(connection: sqlite3.Connection) -> dict[str, Any] | None:
            return self._sqlite_steps(connection, params, audit)

        row: dict[str, Any] | None = await self.sqlite_transaction(steps)
        return row

    @property
    def postgres(self) -> PostgresPool | None:
        """The asyncpg pool on PostgreSQL (None on SQLite), for the other direct writes."""
        return self._postgres

    async def sqlite_read(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """``steps`` (reads only) on this process's own connection, outside a transaction
        (SQLite only; no write lock needed)."""
        if self._sqlite is not None:
            return self._sqlite.read(steps)
        async with self._engine.connect() as conn:  # a URI database (see sqlite_transaction)
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            return steps(raw.driver_connection._connection)

    async def sqlite_transaction(self, steps: Callable[[sqlite3.Connection], Any]) -> Any:
        """``steps`` in one ``BEGIN IMMEDIATE`` transaction on this process's own connection,
        under the process's write lock (SQLite only), with the other writes of the same turn
        of the loop (group_commit.py)."""
        if self._group is not None:
            return await self._group.run(steps)
        # A URI database: only the pool's connections see it (they wait in SQLite's busy
        # handler, as every statement of the pool does).
        async with self._write_lock, self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            inline = raw.driver_connection._connection  # inline_sqlite: the sqlite3 one
            return immediate(inline, steps)

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

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()
