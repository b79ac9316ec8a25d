"""Sessions of any subject, with claims (contract 8).

* ``sessions.user_id`` no longer references ``users``: a subject may live in the app's own user
  table; it widens to 255 characters, as does ``audit_log.user_id``.
* ``sessions.auth_time`` and ``amr`` (when and how the user authenticated: the access tokens'
  claims, renewed by reauthentication), ``claims`` (JSON given when the session started, carried
  over on every refresh) and ``persistent`` (``false`` for a ``remember: false`` session).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tokensmith.storage.sql.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SUBJECT = sa.String(255)


def _new_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("auth_time", UtcDateTime),
        sa.Column("amr", sa.String(400)),
        sa.Column("claims", sa.Text),
        sa.Column("persistent", sa.Boolean, nullable=False, server_default=sa.true()),
    ]


def _sessions_without_foreign_keys(bind: sa.engine.Connection) -> sa.Table:
    """The sessions table as it is now, minus its foreign keys: SQLite cannot drop a constraint,
    so batch mode rebuilds the table from this definition and copies the rows. Built from the
    database itself, so columns added by any migration before this one are kept."""
    inspector = sa.inspect(bind)
    reflected = sa.Table("sessions", sa.MetaData(), autoload_with=bind)
    columns = [
        sa.Column(
            column.name,
            column.type,
            primary_key=column.primary_key,
            nullable=column.nullable,
            server_default=column.server_default,
        )
        for column in reflected.columns
    ]
    indexes = [
        sa.Index(index["name"], *(c for c in index["column_names"] if c), unique=index["unique"])
        for index in inspector.get_indexes("sessions")
        if index["name"]
    ]
    return sa.Table("sessions", sa.MetaData(), *columns, *indexes)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "sessions", copy_from=_sessions_without_foreign_keys(bind), recreate="always"
        ) as batch:
            batch.alter_column("user_id", type_=SUBJECT, existing_nullable=False)
            for column in _new_columns():
                batch.add_column(column)
        # SQLite does not enforce VARCHAR lengths: audit_log (possibly large) is not rebuilt
        # for a length that changes nothing there.
        return
    for foreign_key in sa.inspect(bind).get_foreign_keys("sessions"):
        if foreign_key["referred_table"] == "users" and foreign_key["name"]:
            op.drop_constraint(foreign_key["name"], "sessions", type_="foreignkey")
    op.alter_column("sessions", "user_id", type_=SUBJECT, existing_nullable=False)
    for column in _new_columns():
        op.add_column("sessions", column)
    op.alter_column("audit_log", "user_id", type_=SUBJECT)


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("sessions") as batch:
        for name in ("persistent", "claims", "amr", "auth_time"):
            batch.drop_column(name)
    if bind.dialect.name != "sqlite":
        # Sessions of subjects outside the users table cannot keep a foreign key to it.
        op.execute("DELETE FROM sessions WHERE user_id NOT IN (SELECT id FROM users)")
        op.create_foreign_key(
            "sessions_user_id_fkey", "sessions", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
