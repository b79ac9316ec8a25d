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


def _sessions_0001_without_foreign_key() -> sa.Table:
    """The sessions table as revision 0001 made it, minus the foreign key: SQLite cannot drop a
    constraint, so batch mode rebuilds the table from this definition and copies the rows."""
    return sa.Table(
        "sessions",
        sa.MetaData(),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_used_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("refresh_expires_at", UtcDateTime, nullable=False),
        sa.Column("current_hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64)),
        sa.Column("rotated_at", UtcDateTime),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("revoked_at", UtcDateTime),
        sa.Column("revoked_reason", sa.String(32)),
        sa.Index("ix_sessions_user_id", "user_id"),
        sa.Index("ix_sessions_refresh_expires_at", "refresh_expires_at"),
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            "sessions", copy_from=_sessions_0001_without_foreign_key(), recreate="always"
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
