"""Password hashing with argon2id, always off the event loop.

argon2 runs in a pool (:class:`HashingPool`): child processes (the default) or threads
(argon2-cffi releases the GIL while hashing), at a lower scheduling priority than the event
loops, so a login storm leaves the loops free to serve protected routes (the bench's ``stall``
and ``hashing`` workloads measure the trade).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tokensmith.core.hashing_processes import HashingProcesses

__all__ = [
    "OWASP_2023",
    "SHIPPED_POOL",
    "TESTING",
    "Argon2Parameters",
    "HashingPool",
    "PasswordHasher",
]

_T = TypeVar("_T")


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


@dataclass(frozen=True, slots=True)
class HashingPool:
    """Where argon2 runs and at which priority.

    ``kind``: ``"threads"`` (in the server process) or ``"processes"`` (child processes,
    :mod:`tokensmith.core.hashing_processes`: nothing of a hash holds the server's GIL).
    ``workers``: the pool's size (default: :meth:`size`). ``nice``: the workers'
    nice value (Linux applies it per thread). ``batch``: ``SCHED_BATCH`` as well (the kernel
    treats the workers as CPU-bound: they never preempt an event loop on wake-up). Where the
    platform or the process's limits refuse a setting, hashing still works, at the priority it
    has.
    """

    kind: Literal["threads", "processes"] = "processes"
    workers: int | None = None
    nice: int = 19
    batch: bool = True

    def size(self) -> int:
        """``workers``; by default the machine's CPUs shared among the processes serving the
        app: with ``WEB_CONCURRENCY=N`` (what ``tokensmith serve --workers N`` sets for its
        workers; uvicorn and gunicorn read the same variable) each process gets
        ``ceil(cpus / N)``, at least 1; without it, every CPU (at least 2). More hashes at once
        than CPUs only take turns on the same cores, each evicting the other's 19 MiB from the
        caches, and lengthen the event loops' tail during a login storm."""
        if self.workers:
            return self.workers
        cpus = os.cpu_count() or 2
        processes = _web_concurrency()
        if processes is None:
            return max(2, cpus)
        return max(1, -(-cpus // processes))


def _web_concurrency() -> int | None:
    """``WEB_CONCURRENCY`` when it is a positive integer (anything else is not ours to refuse:
    the variable belongs to whatever runs the app)."""
    value = os.environ.get("WEB_CONCURRENCY", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


SHIPPED_POOL = HashingPool("processes", nice=19, batch=True)
"""What a server process hashes with unless told otherwise: its share of the CPUs as hashing
processes (:meth:`HashingPool.size`), at nice 19 under ``SCHED_BATCH``. Against threads at nice
10 (round one's setting), the ``/auth/me`` p99 during a login storm fell from 16.6 to 6.9 ms and
login throughput did not drop (docs/performance.md, "Round two: what each way gave"): a
low-priority hashing *thread* holds the server's GIL at the start and end of every hash, and the
kernel puts it behind everything else while it does; a hashing process never holds it. The
trade: while the event loops keep both CPUs busy, logins wait for them (nice is relative within
the server's cgroup or autogroup, not against other tenants)."""


def lower_priority(nice: int, batch: bool) -> None:
    """Lower the calling thread's priority: ``SCHED_BATCH`` if ``batch``, then ``nice``.

    Linux applies both per thread; elsewhere, or when not allowed, nothing changes."""
    tid = threading.get_native_id()
    if batch:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setscheduler(tid, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, tid, nice)


def _argon2(params: Argon2Parameters) -> _Argon2:
    return _Argon2(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        type=Type.ID,
    )


def _matches(argon2: _Argon2, password_hash: str, password: str) -> bool:
    try:
        return bool(argon2.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordHasher:
    """Hashes and verifies passwords in a dedicated pool (:class:`HashingPool`)."""

    def __init__(
        self,
        params: Argon2Parameters = OWASP_2023,
        *,
        threads: int | None = None,
        pool: HashingPool = SHIPPED_POOL,
    ):
        """``threads``: the pool's size (kept for callers that set only that)."""
        self._params = params
        self._argon2 = _argon2(params)
        self._pool_spec = spec = pool if threads is None else _replace_workers(pool, threads)
        self._processes: HashingProcesses | None = None
        self._pool: ThreadPoolExecutor | None = None
        if spec.kind == "processes":
            # The event loop itself talks to the children: no server thread is involved.
            self._processes = HashingProcesses(spec.size(), params, spec.nice, spec.batch)
        else:
            self._pool = ThreadPoolExecutor(
                max_workers=spec.size(),
                thread_name_prefix="argon2",
                initializer=lower_priority,
                initargs=(spec.nice, spec.batch),
            )
        # Verifying against this when the email is unknown makes both failures cost the same.
        self._dummy_hash = self._argon2.hash("tokensmith timing equaliser")

    def __repr__(self) -> str:
        return (
            f"PasswordHasher(t={self._argon2.time_cost}, m={self._argon2.memory_cost}KiB, "
            f"{self._pool_spec.size()} {self._pool_spec.kind})"
        )

    @property
    def pool(self) -> HashingPool:
        return self._pool_spec

    def process_ids(self) -> list[int]:
        """The hashing processes running now (none for a thread pool)."""
        return self._processes.pids() if self._processes else []

    async def _run(self, fn: Callable[..., _T], *args: str) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        if self._processes is not None:
            return str(await self._processes.call("hash", password))
        return await self._run(self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with ``password_hash=None`` burns the same time and
        returns False (unknown email)."""
        stored = password_hash or self._dummy_hash
        if self._processes is not None:
            ok = bool(await self._processes.call("verify", stored, password))
        else:
            ok = await self._run(self._verify_here, stored, password)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def verify_sync(self, password_hash: str | None, password: str) -> bool:
        """:meth:`verify` in the calling thread (never on an event loop)."""
        ok = self._verify_here(password_hash or self._dummy_hash, password)
        return ok and password_hash is not None

    def _verify_here(self, password_hash: str, password: str) -> bool:
        return _matches(self._argon2, password_hash, password)

    def close(self) -> None:
        """Stop without waiting: queued hashes are cancelled; hashing threads and processes end
        once their current hash (if any) is done."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._processes is not None:
            self._processes.close(wait=False)

    async def aclose(self) -> None:
        """:meth:`close`, then wait (off the event loop) until every hashing thread and process
        has ended: what a server's shutdown does."""
        self.close()
        await asyncio.to_thread(self._wait_closed)

    def _wait_closed(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._processes is not None:
            self._processes.close(wait=True)


def _replace_workers(pool: HashingPool, workers: int) -> HashingPool:
    return HashingPool(kind=pool.kind, workers=workers, nice=pool.nice, batch=pool.batch)
