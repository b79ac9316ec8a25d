"""The SQL database: engine set-up per dialect, transactions, and failure translation.

Every driver failure that means "the database cannot be reached" becomes
:class:`~tokensmith.errors.ServiceUnavailable` here, at the boundary, so the web layer answers 503
and never 500.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    TimeoutError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tokensmith.core.models import (
    AuditEvent,
    CurrentRotation,
    Revocation,
    SessionRecord,
    UserRecord,
)
from tokensmith.errors import ConfigError, ServiceUnavailable, TokensmithError
from tokensmith.storage.sql.checkpoint import Checkpointer
from tokensmith.storage.sql.direct import DirectRotation
from tokensmith.storage.sql.direct_log import DirectLogRead
from tokensmith.storage.sql.direct_login import DirectLogin
from tokensmith.storage.sql.inline_sqlite import configure, connect_inline
from tokensmith.storage.sql.repositories import (
    SqlUnitOfWork,
    rotation_parameters,
    session_record,
    user_record,
)

__all__ = ["SqlDatabase", "async_url"]

T = TypeVar("T")

log = logging.getLogger("tokensmith.database")

_WRITE = "tokensmith_write"
_AUTOCOMMIT = "tokensmith_autocommit"
_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    TimeoutError,
    OSError,
    asyncio.TimeoutError,
    sqlite3.OperationalError,  # the direct rotation's (direct.py): locked, busy, I/O
)
# SQLSTATE classes meaning "the server cannot serve now", not "the query is wrong":
# 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57P01-57P03 admin/crash shutdown and "the database system is starting up".
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


def _is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means the database cannot be reached right now."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        # asyncpg's (the driver paths, direct*.py): a lost connection, or one whose protocol
        # state a lost server left mid-operation ("cannot switch to state ...; another
        # operation is in progress", seen once in the revocation poll while PostgreSQL was down)
        if type(current).__name__ in (
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "InternalClientError",
        ):
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


def async_url(url: str) -> str:
    """Map the user's URL to the async driver: ``sqlite`` -> aiosqlite, ``postgresql`` ->
    asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ConfigError("DATABASE_URL", f"unsupported database {backend!r}")


def _private_sqlite_file(path: Path) -> None:
    """The database holds password hashes: its directory is created ``0700`` and the file
    ``0600`` before SQLite opens it (SQLite gives its ``-wal`` and ``-shm`` files the database
    file's mode). Files an older version left readable by others are tightened to ``0600``.

    An existing file is not opened: closing a descriptor of it would release every POSIX lock
    this process holds on it, those of SQLite connections already open to it included
    (wal_index.py)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
                log.warning("%s was readable by other users: now 0600", file)
    except OSError as exc:
        raise ConfigError("DATABASE_URL", f"cannot create {path}: {exc.strerror}") from None


class SqlDatabase:
    """Implements :class:`tokensmith.core.ports.Database` over SQLAlchemy's async engine."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout_s: float = 3.0,
        command_timeout_s: float = 5.0,
    ):
        self.url = async_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self._connect_timeout_s = connect_timeout_s
        self._command_timeout_s = command_timeout_s
        self._write_lock = asyncio.Lock()
        self._connect_args: dict[str, Any] = {}
        self.engine = self._make_engine(pool_size, connect_timeout_s)
        self._rotation = DirectRotation(
            self.engine,
            self._write_lock,
            sqlite_path=self.sqlite_file,
            connect_args=self._connect_args,
            pool_size=pool_size,
        )
        self._login = DirectLogin(self._rotation, self.engine.dialect)
        postgres = self._rotation.postgres
        self._log_read = (
            DirectLogRead(postgres, self.engine.dialect) if postgres is not None else None
        )

    def __repr__(self) -> str:
        return f"SqlDatabase({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_file(self) -> str | None:
        """The database file when it is one SQLite file that other connections can share."""
        if not self.is_sqlite:
            return None
        path = make_url(self.url).database
        return path if path and path != ":memory:" and not path.startswith("file:") else None

    def _make_engine(self, pool_size: int, connect_timeout_s: float) -> AsyncEngine:
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:" and not database.startswith("file:"):
                _private_sqlite_file(Path(database))
            engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=connect_timeout_s,
                async_creator=connect_inline(database or ":memory:"),
            )
            _sqlite_pragmas_and_locking(engine)
            return engine
        # Fail fast rather than hang when PostgreSQL is down or unreachable (login and refresh
        # answer 503 within a few seconds): a bounded connect, a bounded wait for a pooled
        # connection, a bounded statement. A restart of the server must not surface as an error
        # on the first request after it: a pooled connection the server has closed is replaced
        # at checkout (_replace_closed_connections), without pool_pre_ping's round trip.
        ms = str(int(self._command_timeout_s * 1000))
        connect_args: dict[str, Any] = {
            "timeout": connect_timeout_s,
            "command_timeout": self._command_timeout_s,
            "server_settings": {
                "application_name": "tokensmith",
                # The server side of the same bounds: a lock wait (FOR UPDATE behind a stuck
                # writer) or an abandoned transaction never holds a row for long.
                "lock_timeout": ms,
                "idle_in_transaction_session_timeout": str(int(self._command_timeout_s * 2000)),
            },
        }
        self._connect_args = connect_args
        engine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=connect_timeout_s,
            pool_recycle=1800,
            connect_args=connect_args,
        )
        _replace_closed_connections(engine)
        return engine

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[SqlUnitOfWork]:
        """One transaction; committed when the block ends without an error, else rolled back.

        On PostgreSQL the default READ COMMITTED isolation is enough: the only read-then-write
        (rotation) takes a row lock first (``sessions.lock``), so it sees the last committed
        state and concurrent rotations of one session queue behind each other.
        """
        try:
            async with self._sqlite_writer(write), self._connect() as conn:
                if write:
                    conn = await conn.execution_options(**{_WRITE: True})
                async with conn.begin():
                    yield SqlUnitOfWork(conn)
        except Exception as exc:
            if isinstance(exc, TokensmithError) or not _is_unavailable(exc):
                raise
            raise self._unavailable(exc) from None

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[SqlUnitOfWork]:
        """Each statement its own transaction: SQLite gets no explicit BEGIN (the driver is in
        autocommit mode), PostgreSQL runs with AUTOCOMMIT isolation."""
        try:
            async with self._sqlite_writer(True), self._connect() as conn:
                if self.is_sqlite:
                    conn = await conn.execution_options(**{_AUTOCOMMIT: True})
                else:
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield SqlUnitOfWork(conn)
                await conn.commit()
        except Exception as exc:
            if isinstance(exc, TokensmithError) or not _is_unavailable(exc):
                raise
            raise self._unavailable(exc) from None

    async def rotate_if_current(
        self, rotation: CurrentRotation, audit: AuditEvent
    ) -> SessionRecord | None:
        """The common refresh on the driver itself (``direct.py``); see the port."""
        row = await self._on_driver(self._rotation.run(rotation_parameters(rotation), audit))
        return session_record(row) if row is not None else None

    async def user_by_email(self, email: str) -> UserRecord | None:
        """The login's read on the driver itself (``direct_login.py``); see the port."""
        row = await self._on_driver(self._login.user_by_email(email))
        return user_record(row) if row is not None else None

    async def add_session(
        self, session: SessionRecord, audit: AuditEvent, *, max_live: int = 0
    ) -> bool:
        """A login's write on the driver itself (``direct_login.py``); see the port."""
        return await self._on_driver(self._login.run(session, audit, max_live))

    async def revocations_after(
        self, cursor: int, gaps: Sequence[int] = ()
    ) -> list[tuple[int, Revocation]]:
        """The revocation log's rows past ``cursor`` and those numbered ``gaps``, ascending (the
        feeds' poll): on PostgreSQL one statement on the driver (``direct_log.py``), on SQLite a
        read transaction. Raises ServiceUnavailable."""
        if self._log_read is not None:
            return await self._on_driver(self._log_read.after(cursor, gaps))
        async with self.transaction() as uow:
            return await uow.revocations.after(cursor, gaps)

    async def _on_driver(self, call: Awaitable[T]) -> T:
        """``call`` (a statement on the driver, ``direct*.py``) within the engine's bounds; a
        database that cannot be reached is :class:`ServiceUnavailable`. On SQLite the
        statements run inline and bound their own wait for the write lock (``direct.py``), so
        there is no timer to arm (~4 us a call)."""
        try:
            if self.is_sqlite:
                return await call
            async with asyncio.timeout(self._connect_timeout_s + self._command_timeout_s):
                return await call
        except Exception as exc:
            if isinstance(exc, TokensmithError) or not _is_unavailable(exc):
                raise
            raise self._unavailable(exc) from None

    @asynccontextmanager
    async def _sqlite_writer(self, write: bool) -> AsyncIterator[None]:
        """One SQLite writer at a time in this process. Statements run inline on the loop
        (inline_sqlite.py), so a second writer must wait here, asynchronously, rather than in
        SQLite's busy handler, which would block the loop while the first one cannot finish."""
        if not (write and self.is_sqlite):
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        # The pool's wait, its pre-ping and a reconnect each have their own bound; this caps
        # the sum, so a hung or black-holed server costs one short wait, not several.
        async with asyncio.timeout(self._connect_timeout_s + 1.0):
            conn = await self.engine.connect()
        try:
            yield conn
        finally:
            await conn.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    def _unavailable(self, exc: BaseException) -> ServiceUnavailable:
        log.warning("database unavailable: %s", type(exc).__name__)
        return ServiceUnavailable("The database cannot be reached: try again shortly")

    async def maintain(self) -> None:
        """SQLite: WAL checkpoints on a thread (checkpoint.py); nothing on PostgreSQL."""
        path = self.sqlite_file
        if path is not None:
            await Checkpointer(path).run()

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(self._connect_timeout_s), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (*_UNAVAILABLE, DBAPIError) as exc:
            raise self._unavailable(exc) from None

    async def close(self) -> None:
        await self._rotation.close()
        await self.engine.dispose()


def _sqlite_pragmas_and_locking(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, a busy timeout for writers of several processes, and
    ``BEGIN IMMEDIATE`` for write transactions so read-then-write is serialised up front.

    pysqlite's own transaction handling is switched off (SQLAlchemy's documented recipe) so the
    ``begin`` event below decides how each transaction starts.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        configure(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_AUTOCOMMIT, False):
            return  # every statement commits on its own
        write = options.get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """Retry on disconnect at checkout, instead of ``pool_pre_ping``'s round trip per checkout.

    asyncpg learns that the server closed a connection (a restart, an idle timeout, a
    terminated backend) as soon as the event loop sees the socket close, and
    ``is_closed()`` then says so at no cost. Raising :class:`DisconnectionError` from a
    ``checkout`` listener is SQLAlchemy's documented way to make the pool drop that connection
    and check out (or open) another, up to three times. A connection that dies unseen (a
    network black hole) fails its statement: SQLAlchemy then invalidates the whole pool, and
    the request answers 503 within the command timeout, as with the ping.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        raw = getattr(dbapi_connection, "_connection", None)  # the asyncpg connection
        is_closed = getattr(raw, "is_closed", None)
        if is_closed is not None and is_closed():
            raise DisconnectionError("the server closed this pooled connection")
