"""Alembic environment: migrations run on the connection tokensmith hands over."""

from __future__ import annotations

from alembic import context

from tokensmith.storage.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - tokensmith always passes its connection
    raise RuntimeError("run migrations with 'tokensmith db upgrade'")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
