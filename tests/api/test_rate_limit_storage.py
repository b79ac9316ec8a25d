"""The in-process rate limiter: counts exactly as ``limits``' memory storage, sweeps rarely."""

from __future__ import annotations

import threading

import pytest
from limits import storage as sync_storage

from tokensmith.errors import RateLimited
from tokensmith.web.ratelimit import RateLimits, _SweepingMemoryStorage


def test_the_library_still_has_the_sweep_this_storage_replaces() -> None:
    # An upgrade of ``limits`` that renames it would silently bring back a thread per 10 ms.
    assert hasattr(sync_storage.MemoryStorage, "_MemoryStorage__schedule_expiry")
    assert hasattr(sync_storage.MemoryStorage, "_MemoryStorage__expire_events")


def test_hits_start_at_most_one_sweep_a_second() -> None:
    storage = _SweepingMemoryStorage()
    storage.timer.join()
    before = threading.active_count()
    started = 0
    for _ in range(1000):
        timer = storage.timer
        storage.acquire_entry("k", 10_000, 60)
        started += storage.timer is not timer
    assert started <= 2
    assert threading.active_count() <= before + 1


async def test_the_limit_holds_and_answers_429_past_it() -> None:
    limits = RateLimits("3/minute", "3/minute", "3/minute")
    for _ in range(3):
        await limits.hit("refresh", "10.0.0.1")
    with pytest.raises(RateLimited):
        await limits.hit("refresh", "10.0.0.1")
    await limits.hit("refresh", "10.0.0.2")  # another client, its own count
