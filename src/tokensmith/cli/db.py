"""``tokensmith db upgrade``: apply the schema migrations."""

from __future__ import annotations

import asyncio

import click

from tokensmith.settings import load_settings

__all__ = ["db"]


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Upgrade the database schema (Alembic migrations)."""
    from tokensmith.errors import ConfigError, ServiceUnavailable
    from tokensmith.storage.sql import migrate
    from tokensmith.storage.sql.database import SqlDatabase

    settings = load_settings()

    async def run() -> str:
        database = SqlDatabase(settings.resolved_database_url)
        try:
            await database.ping()
            return await migrate.upgrade(database, revision)
        except ServiceUnavailable:
            raise ConfigError("DATABASE_URL", "the database cannot be reached") from None
        finally:
            await database.close()

    click.echo(f"database at revision {asyncio.run(run())}")
