"""The standalone server's app with another way of keeping argon2 off the event loops' CPUs,
for the ``hashing`` workload (``uvicorn bench.apps.hashing:<factory> --factory``). Each factory
is a :class:`~tokensmith.core.passwords.HashingPool`; every pool is its server process's share
of the CPUs (``HashingPool.size`` with ``WEB_CONCURRENCY=2``: one each on 2 CPUs) unless named
otherwise:

* ``shipped``: what tokensmith ships (``SHIPPED_POOL``: processes, ``SCHED_BATCH``, nice 19);
* ``two_each``: the shipped processes, two per server process (every CPU each: until round seven);
* ``nice10``: threads at nice 10 (round one's setting, shipped until round two);
* ``batch10`` / ``batch19``: threads under ``SCHED_BATCH`` at nice 10 / 19;
* ``procs10`` / ``procs19``: hashing processes under ``SCHED_BATCH`` at nice 10 / 19;
* ``one_thread``: threads at nice 10, one per server process (one fewer than cores; the same as
  a per-worker semaphore of one around the hash).

``SCHED_IDLE`` was measured in round two's first pass and rejected (logins starve on a busy
host).
"""

from __future__ import annotations

from fastapi import FastAPI

from tokensmith.core import passwords
from tokensmith.core.passwords import HashingPool
from tokensmith.server.app import create_app_from_env

POOLS: dict[str, HashingPool] = {
    "shipped": passwords.SHIPPED_POOL,
    "nice10": HashingPool("threads", nice=10, batch=False),
    "batch10": HashingPool("threads", nice=10, batch=True),
    "batch19": HashingPool("threads", nice=19, batch=True),
    "procs10": HashingPool("processes", nice=10, batch=True),
    "procs19": HashingPool("processes", nice=19, batch=True),
    "two_each": HashingPool("processes", workers=2, nice=19, batch=True),
    "one_thread": HashingPool("threads", workers=1, nice=10, batch=False),
}


def _with_pool(pool: HashingPool) -> FastAPI:
    init = passwords.PasswordHasher.__init__
    defaults = dict(init.__kwdefaults__ or {})
    defaults["pool"] = pool  # read when build_services creates the hasher
    init.__kwdefaults__ = defaults
    return create_app_from_env()


def shipped() -> FastAPI:
    return _with_pool(POOLS["shipped"])


def nice10() -> FastAPI:
    return _with_pool(POOLS["nice10"])


def batch10() -> FastAPI:
    return _with_pool(POOLS["batch10"])


def batch19() -> FastAPI:
    return _with_pool(POOLS["batch19"])


def procs10() -> FastAPI:
    return _with_pool(POOLS["procs10"])


def procs19() -> FastAPI:
    return _with_pool(POOLS["procs19"])


def two_each() -> FastAPI:
    return _with_pool(POOLS["two_each"])


def one_thread() -> FastAPI:
    return _with_pool(POOLS["one_thread"])


def cheap_argon2() -> FastAPI:
    """Not a pool: the shipped app with the unit tests' argon2 parameters (8 KiB, t=1), so a
    login's CPU is everything but the hash (the cost model's "login without argon2")."""
    from tokensmith.core.passwords import TESTING
    from tokensmith.server.app import create_app
    from tokensmith.server.logging import configure_logging
    from tokensmith.settings import load_settings

    settings = load_settings()
    configure_logging(settings.tokensmith_log_level)
    return create_app(settings, argon2=TESTING)
