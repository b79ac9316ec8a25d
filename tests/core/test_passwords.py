"""Password hashing runs in its pool (threads or processes), at a lower priority than the event
loops where Linux allows it, and the pool stops with the hasher."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tokensmith.core.passwords import TESTING, HashingPool, PasswordHasher, lower_priority

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice and SCHED_BATCH are Linux's"
)
POOLS = [
    HashingPool("threads", workers=2, nice=10, batch=False),
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
        await hasher.aclose()


def test_the_shipped_pool_is_processes_at_nice_19_sized_to_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    hasher = PasswordHasher(TESTING)
    try:
        assert hasher.pool == HashingPool("processes", nice=19, batch=True)
        assert hasher.pool.size() == max(2, os.cpu_count() or 2)
        assert "processes" in repr(hasher) and "$argon2" not in repr(hasher)
    finally:
        hasher.close()


@pytest.mark.parametrize(
    ("cpus", "web_concurrency", "size"),
    [
        (2, None, 2),
        (1, None, 2),
        (8, None, 8),
        (2, "2", 1),  # tokensmith serve --workers 2 on 2 CPUs: one hashing process each
        (2, "1", 2),
        (8, "3", 3),
        (2, "4", 1),
        (4, " 2 ", 2),
        (2, "0", 2),  # not a worker count: as if unset
        (2, "many", 2),
        (2, "-1", 2),
    ],
)
def test_the_processes_serving_the_app_share_the_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: int, web_concurrency: str | None, size: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    if web_concurrency is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", web_concurrency)
    assert HashingPool().size() == size
    assert HashingPool(workers=5).size() == 5  # a size given is kept


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


@linux_only
async def test_hashing_processes_run_at_the_pools_priority() -> None:
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=1, nice=19, batch=True))
    try:
        await hasher.hash("warm the pool up")
        (pid,) = hasher.process_ids()
        assert pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH
        # The server's own threads keep their priority.
        assert _priority_here() == (os.getpriority(os.PRIO_PROCESS, 0), os.SCHED_OTHER)
    finally:
        await hasher.aclose()


def _exited(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie (ended, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_closing_waits_for_the_hashing_processes_to_end() -> None:
    """aclose() (the server's shutdown) returns once every hashing process has exited, and no
    hash is accepted afterwards."""
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=2))
    await asyncio.gather(hasher.hash("one"), hasher.hash("two"))
    pids = hasher.process_ids()
    assert pids
    await hasher.aclose()
    assert hasher.process_ids() == []
    if sys.platform.startswith("linux"):
        assert all(_exited(pid) for pid in pids)
    with pytest.raises(RuntimeError):
        await hasher.hash("three")


def test_close_does_not_wait_and_the_processes_still_end() -> None:
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=1))
    assert hasher.verify_sync(None, "x") is False  # in the caller: no process needed
    assert hasher.process_ids() == []
    hasher.close()
    with pytest.raises(RuntimeError):
        asyncio.run(hasher.hash("after close"))


@linux_only
async def test_a_killed_hashing_process_is_replaced() -> None:
    """A hashing process that dies (out of memory, killed) is replaced on the next hash rather
    than failing every login until a restart."""
    hasher = PasswordHasher(TESTING, pool=HashingPool("processes", workers=1))
    try:
        stored = await hasher.hash("before")
        (pid,) = hasher.process_ids()
        os.kill(pid, signal.SIGKILL)
        assert await hasher.verify(stored, "before")
        (replacement,) = hasher.process_ids()
        assert replacement != pid
    finally:
        await hasher.aclose()


async def test_a_hashing_process_exits_when_its_server_process_dies() -> None:
    """Its stdin is the server's pipe: when the server dies without closing anything (SIGKILL),
    the pipe closes and the hashing process exits instead of lingering."""
    script = (
        "import asyncio, os, sys\n"
        "from tokensmith.core.passwords import TESTING, HashingPool, PasswordHasher\n"
        "h = PasswordHasher(TESTING, pool=HashingPool('processes', workers=1))\n"
        "asyncio.run(h.hash('x'))\n"
        "print(h.process_ids()[0], flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    server = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert server.returncode == -signal.SIGKILL
    child = int(server.stdout.strip())
    # Not our child (reparented), so no waitpid: a pidfd becomes readable when it exits.
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(ProcessLookupError):
            fd = os.pidfd_open(child)
            try:
                select.select([fd], [], [], 30)
            finally:
                os.close(fd)
        assert _exited(child)


@pytest.mark.parametrize("pool", POOLS, ids=lambda p: p.kind)
async def test_a_password_argon2_refuses_raises_and_the_pool_lives_on(pool: HashingPool) -> None:
    """A lone surrogate is not UTF-8: argon2 raises, in a thread or in the hashing process (which
    answers with the error's type instead of dying), and the next hash works."""
    hasher = PasswordHasher(TESTING, pool=pool)
    try:
        with pytest.raises(ValueError):  # UnicodeEncodeError, HashingFailed
            await hasher.hash("\ud800")
        pids = hasher.process_ids()
        assert await hasher.verify(await hasher.hash("fine"), "fine")
        assert hasher.process_ids() == pids
    finally:
        await hasher.aclose()
