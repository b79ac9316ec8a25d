"""The hashing processes are driven by the event loop itself: no thread waits on their pipes,
callers beyond the pool's size wait their turn, and a caller that goes away never leaves an
answer behind for the next one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tokensmith.core.passwords import TESTING, HashingPool, PasswordHasher


def _hasher(workers: int) -> PasswordHasher:
    return PasswordHasher(TESTING, pool=HashingPool("processes", workers=workers))


async def test_no_thread_takes_part_in_a_hash() -> None:
    hasher = _hasher(2)
    try:
        before = {t.ident for t in threading.enumerate()}
        stored = await hasher.hash("correct horse")
        assert await hasher.verify(stored, "correct horse")
        assert {t.ident for t in threading.enumerate()} == before
    finally:
        await hasher.aclose()


async def test_callers_beyond_the_pool_wait_their_turn_and_each_gets_its_own_answer() -> None:
    hasher = _hasher(1)
    try:
        passwords = [f"password number {i}" for i in range(6)]
        stored = await asyncio.gather(*(hasher.hash(p) for p in passwords))
        checks = await asyncio.gather(
            *(hasher.verify(h, p) for h, p in zip(stored, passwords, strict=True)),
            *(hasher.verify(h, "not it") for h in stored),
        )
        assert checks == [True] * 6 + [False] * 6
        assert len(hasher.process_ids()) == 1
    finally:
        await hasher.aclose()


async def test_a_caller_cancelled_mid_hash_leaves_no_answer_for_the_next() -> None:
    """The cancelled caller's child would answer later, to whoever asked next: it is replaced,
    and the next caller gets its own answer."""
    hasher = _hasher(1)
    try:
        stored = await hasher.hash("the right one")
        (first,) = hasher.process_ids()
        pending = asyncio.ensure_future(hasher.verify(stored, "the right one"))
        await asyncio.sleep(0)  # sent to the child
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert not await hasher.verify(stored, "the wrong one")
        assert await hasher.verify(stored, "the right one")
        (second,) = hasher.process_ids()
        assert second != first
    finally:
        await hasher.aclose()


async def test_a_caller_cancelled_while_waiting_for_its_turn_keeps_no_child() -> None:
    hasher = _hasher(1)
    try:
        busy = asyncio.ensure_future(hasher.hash("first in line"))
        waiting = asyncio.ensure_future(hasher.hash("second in line"))
        await asyncio.sleep(0)
        waiting.cancel()
        assert (await busy).startswith("$argon2id$")
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # The one child is free again: a third caller is served, by the same child.
        (pid,) = hasher.process_ids()
        assert await hasher.verify(await hasher.hash("third"), "third")
        assert hasher.process_ids() == [pid]
    finally:
        await hasher.aclose()


def test_one_hasher_serves_one_event_loop_after_another() -> None:
    """A hasher is not tied to the loop that first used it (a CLI command, then a server)."""
    hasher = _hasher(1)
    try:
        stored = asyncio.run(hasher.hash("across loops"))
        assert asyncio.run(hasher.verify(stored, "across loops"))
    finally:
        hasher.close()


async def test_closing_refuses_callers_still_waiting_for_a_turn() -> None:
    hasher = _hasher(1)
    busy = asyncio.ensure_future(hasher.hash("in the child"))
    waiting = asyncio.ensure_future(hasher.hash("in the queue"))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(hasher.aclose())
    assert (await busy).startswith("$argon2id$")  # the child answers what it was working on
    with pytest.raises(RuntimeError, match="closed"):
        await waiting
    await closing
    assert hasher.process_ids() == []
