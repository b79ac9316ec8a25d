"""Backends and faults: real PostgreSQL and Redis, private instances where a test stops them.

The fixtures (``database_url``, ``postgres_url``, ``redis_server``) come from the
``tests.support.databases`` plugin that the root conftest loads."""
