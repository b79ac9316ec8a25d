"""SQLAlchemy 2 adapter: SQLite (embedded default) and PostgreSQL (asyncpg)."""

from tokensmith.storage.sql.database import SqlDatabase

__all__ = ["SqlDatabase"]
