"""Adapters implementing the core's ports: ``sql`` (SQLAlchemy: SQLite, PostgreSQL), and
revocation feeds that carry revocations between processes."""
