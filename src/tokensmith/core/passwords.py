"""Password hashing with argon2id, always off the event loop.

argon2-cffi releases the GIL while hashing, so a thread pool the size of the machine hashes in
parallel while the event loop keeps serving protected routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["OWASP_2023", "TESTING", "Argon2Parameters", "PasswordHasher"]


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    time_cost: int
    memory_cost_kib: int
    parallelism: int


OWASP_2023 = Argon2Parameters(time_cost=2, memory_cost_kib=19 * 1024, parallelism=1)
"""The OWASP Password Storage Cheat Sheet's argon2id minimum: 19 MiB, 2 passes, 1 lane.
About 20-30 ms per hash on a 2-core machine: a login costs one hash."""

TESTING = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)
"""Cheap parameters for unit tests only."""


def _lower_priority() -> None:
    """Hashing threads yield the CPU to event loops: a login storm must not stall protected
    routes (the "stall" benchmark). Linux applies nice values per thread."""
    # Not Linux, or not allowed: hashing still works, at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class PasswordHasher:
    """Hashes and verifies passwords in a dedicated thread pool."""

    def __init__(self, params: Argon2Parameters = OWASP_2023, *, threads: int | None = None):
        self._argon2 = _Argon2(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=threads or max(2, os.cpu_count() or 2),
            thread_name_prefix="argon2",
            initializer=_lower_priority,
        )
        # Verifying against this when the email is unknown makes both failures cost the same.
        self._dummy_hash = self._argon2.hash("tokensmith timing equaliser")

    def __repr__(self) -> str:
        return f"PasswordHasher(t={self._argon2.time_cost}, m={self._argon2.memory_cost}KiB)"

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with ``password_hash=None`` burns the same time and
        returns False (unknown email)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify_sync, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def verify_sync(self, password_hash: str | None, password: str) -> bool:
        return self._verify_sync(password_hash, password)

    def _verify_sync(self, password_hash: str | None, password: str) -> bool:
        try:
            self._argon2.verify(password_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
