"""Schema migrations with Alembic, run programmatically on the application's own engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tokensmith.storage.sql.database import SqlDatabase

__all__ = ["current_revision", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x746F6B656E736D  # "tokensm": the advisory lock that serialises migrations


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(database: SqlDatabase, revision: str = "head") -> str:
    """Upgrade the schema to ``revision``; returns the revision the database is at after.

    A database already at the head is only read: every worker of an embedded (SQLite) server
    upgrades at startup, and Alembic loads its scripts *inside* the write transaction, so
    workers starting together on a busy machine could each wait past SQLite's busy timeout for
    a lock the others held only to find nothing to do ("database is locked": a worker that
    failed its startup)."""
    if revision == "head":
        current = await current_revision(database)
        if current is not None and current == head_revision():
            return current

    def _run(sync_connection: Any) -> None:
        config = _config()
        config.attributes["connection"] = sync_connection
        command.upgrade(config, revision)

    async with database.engine.connect() as conn:
        conn = await conn.execution_options(tokensmith_write=True)
        async with conn.begin():
            if not database.is_sqlite:
                # Several instances (or `db upgrade` run twice) migrating at once queue here;
                # the later ones find the schema current. SQLite is serialised by BEGIN IMMEDIATE.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            await conn.run_sync(_run)
    return await current_revision(database) or "base"


async def current_revision(database: SqlDatabase) -> str | None:
    async with database.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
