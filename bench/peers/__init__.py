"""Minimal apps of other stacks, written the way their docs recommend, for the same workloads."""

import os

from argon2 import PasswordHasher, Type

__all__ = ["owasp_hasher", "peer_database_url"]


def owasp_hasher() -> PasswordHasher:
    """The same argon2id parameters tokensmith ships (OWASP 2023 minimum)."""
    from tokensmith.core.passwords import OWASP_2023 as p

    return PasswordHasher(
        time_cost=p.time_cost,
        memory_cost=p.memory_cost_kib,
        parallelism=p.parallelism,
        type=Type.ID,
    )


def peer_database_url() -> str:
    return os.environ["PEER_DATABASE_URL"]
