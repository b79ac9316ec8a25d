"""Password hashing runs in its pool (threads or processes), at a lower priority than the event
loops where Linux allows it, and the pool stops with the hasher."""

from __future__ import annotations

import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from tokensmith.core.passwords import TESTING, HashingPool, PasswordHasher, lower_priority

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice and SCHED_BATCH are Linux's"
)
POOLS = [
    HashingPool("threads", workers=2, nice=10),
    HashingPool("processes", workers=1, nice=19, batch=True),
]


def _priority_here() -> tuple[int, int]:
    tid = threading.get_native_id()
    return os.getpriority(os.PRIO_PROCESS, tid), os.sched_getscheduler(tid)


@pytest.mark.parametrize("pool", POOLS, ids=lambda p: p.kind)
async def test_hash_and_verify_in_the_pool(pool: HashingPool) -> None:
    """A right password verifies, a wrong one and an unknown account (no hash) do not."""
    hasher = PasswordHasher(TESTING, pool=pool)
    try:
        stored = await hasher.hash("correct horse")
        assert stored.startswith("$argon2id$")
        assert await hasher.verify(stored, "correct horse")
        assert not await hasher.verify(stored, "wrong horse")
        assert not await hasher.verify(None, "correct horse")
        assert not await hasher.verify("not a hash", "correct horse")
        assert hasher.verify_sync(stored, "correct horse")
    finally:
        hasher.close()


def test_the_shipped_pool_is_threads_at_nice_10_sized_to_the_machine() -> None:
    hasher = PasswordHasher(TESTING)
    try:
        assert hasher.pool == HashingPool("threads", nice=10)
        assert hasher.pool.size() == max(2, os.cpu_count() or 2)
        assert "threads" in repr(hasher) and "$argon2" not in repr(hasher)
    finally:
        hasher.close()


def test_threads_sets_the_pool_size_and_keeps_the_rest() -> None:
    hasher = PasswordHasher(TESTING, threads=1, pool=HashingPool("threads", nice=19, batch=True))
    try:
        assert hasher.pool == HashingPool("threads", workers=1, nice=19, batch=True)
    finally:
        hasher.close()


@linux_only
def test_lower_priority_sets_nice_and_sched_batch_on_the_calling_thread_only() -> None:
    seen: list[tuple[int, int]] = []

    def lowered() -> None:
        lower_priority(12, True)
        seen.append(_priority_here())

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert seen == [(12, os.SCHED_BATCH)]
    assert _priority_here() == (os.getpriority(os.PRIO_PROCESS, 0), os.SCHED_OTHER)


@linux_only
async def test_hashing_threads_run_at_the_pools_priority() -> None:
    hasher = PasswordHasher(TESTING, pool=HashingPool("threads", workers=1, nice=15, batch=True))
    try:
        pool = hasher._pool
        assert isinstance(pool, ThreadPoolExecutor)
        assert pool.submit(_priority_here).result() == (15, os.SCHED_BATCH)
    finally:
        hasher.close()


def _processes(hasher: PasswordHasher) -> list[int]:
    pool = hasher._pool
    assert isinstance(pool, ProcessPoolExecutor)
    return list(pool._processes)


@linux_only
async def test_hashing_processes_run_at_the_pools_priority() -> None:
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=1, nice=19, batch=True))
    try:
        await hasher.hash("warm the pool up")
        (pid,) = _processes(hasher)
        assert pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH
    finally:
        hasher.close()


async def test_closing_stops_the_hashing_processes() -> None:
    """close() does not block; the processes exit, and no hash is accepted afterwards."""
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=2))
    await hasher.hash("one")
    pool = hasher._pool
    assert isinstance(pool, ProcessPoolExecutor)
    processes = list(pool._processes.values())
    assert processes
    hasher.close()
    for process in processes:
        process.join(timeout=30)
        assert not process.is_alive()
    with pytest.raises(RuntimeError):
        await hasher.hash("two")


@linux_only
async def test_a_killed_hashing_process_is_replaced() -> None:
    """A hashing process that dies (out of memory, killed) breaks the pool: the next hash starts
    a new pool rather than failing every login until a restart."""
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=1))
    try:
        stored = await hasher.hash("before")
        pool = hasher._pool
        assert isinstance(pool, ProcessPoolExecutor)
        (process,) = pool._processes.values()
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=30)
        assert await hasher.verify(stored, "before")
        assert hasher._pool is not pool
    finally:
        hasher.close()
