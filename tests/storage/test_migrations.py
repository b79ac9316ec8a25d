"""The migrations: they build the schema ``tables.py`` describes, and 0002 (sessions of any
subject, with claims) keeps the sessions of a 0.1 database working; on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from tests.support.databases import fresh_postgres_database
from tokensmith.core.audit import RequestContext
from tokensmith.core.clock import ManualClock
from tokensmith.core.passwords import TESTING
from tokensmith.core.tokens import hash_jti
from tokensmith.runtime import build_services
from tokensmith.settings import load_settings
from tokensmith.storage.sql import migrate as migrations
from tokensmith.storage.sql.database import SqlDatabase
from tokensmith.storage.sql.tables import metadata

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with fresh_postgres_database(migrated=False) as url:
        yield url


async def test_the_migrations_build_the_schema_the_code_uses(empty_url: str) -> None:
    """After every migration, nothing differs between the database and ``tables.py`` (column
    types too on PostgreSQL; SQLite does not keep VARCHAR lengths)."""
    database = SqlDatabase(empty_url)
    try:
        await migrations.upgrade(database)

        def diff(sync: Any) -> list[Any]:
            context = MigrationContext.configure(
                sync, opts={"compare_type": not database.is_sqlite}
            )
            return list(compare_metadata(context, metadata))

        async with database.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await database.close()


async def test_a_session_of_version_0_1_keeps_working_after_the_upgrade(
    empty_url: str, tmp_path: Path
) -> None:
    """A 0001 database with a user and a live session: after 0002 the session refreshes, its
    access token's auth_time is the login's time, it is a remembered session, and a session of
    a subject outside the users table can now be stored."""
    database = SqlDatabase(empty_url)
    jti = secrets.token_urlsafe(16)
    created = NOW - timedelta(hours=1)
    try:
        await migrations.upgrade(database, "0001")
        async with database.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, name, password_hash, created_at) "
                    "VALUES ('u-1', 'ada@example.com', 'Ada', 'x', :at)"
                ),
                {"at": created.replace(tzinfo=None)},
            )
            await conn.execute(
                text(
                    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, "
                    "refresh_expires_at, current_hash, generation) VALUES ('s-1', 'u-1', :c, :c, "
                    ":e, :r, :h, 0)"
                ),
                {
                    "c": created.replace(tzinfo=None),
                    "e": (created + timedelta(days=30)).replace(tzinfo=None),
                    "r": (created + timedelta(days=7)).replace(tzinfo=None),
                    "h": hash_jti(jti),
                },
            )
        assert await migrations.upgrade(database) == migrations.head_revision()
    finally:
        await database.close()

    settings = load_settings(
        {"DATABASE_URL": empty_url, "TOKENSMITH_DATA_DIR": str(tmp_path / "data")}
    )
    services = build_services(settings, clock=ManualClock(NOW), argon2=TESTING)
    await services.start(migrate=False)
    try:
        token = services.codec.issue_refresh(
            user_id="u-1",
            session_id="s-1",
            jti=jti,
            iat=int(created.timestamp()),
            exp=int((created + timedelta(days=7)).timestamp()),
        )
        tokens = await services.sessions.refresh(token, RequestContext())
        claims = services.codec.verify_access(tokens.access_token)
        assert claims.auth_time == int(created.timestamp())
        assert claims.email == "ada@example.com" and tokens.persistent
        outside = await services.sessions.start("okta|1", RequestContext())
        assert outside.user is not None and outside.user.id == "okta|1"
    finally:
        await services.stop()


async def test_a_current_database_is_only_read_by_an_upgrade(tmp_path: Path) -> None:
    """Every worker of an embedded server upgrades at startup: one at the head takes no write
    lock, so another process holding it (a slow start beside it) cannot fail that startup."""
    url = f"sqlite:///{tmp_path / 'current.db'}"
    database = SqlDatabase(url)
    try:
        head = await migrations.upgrade(database)
        holder = sqlite3.connect(tmp_path / "current.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        try:
            assert await migrations.upgrade(database) == head
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    finally:
        await database.close()
