"""The standalone server's app with another way of keeping argon2 off the event loops' CPUs,
for the ``hashing`` workload (``uvicorn bench.apps.hashing:<factory> --factory``):

* ``shipped``: what tokensmith does (hashing threads at nice 10, 2 per worker);
* ``sched_idle``: hashing threads under ``SCHED_IDLE`` (weight 3 against a loop's 1024), 2 per
  worker;
* ``one_thread``: nice 10 with one hashing thread per worker (one fewer than cores).
"""

from __future__ import annotations

import contextlib
import os
import threading

from fastapi import FastAPI

from tokensmith.core import passwords
from tokensmith.server.app import create_app_from_env


def shipped() -> FastAPI:
    return create_app_from_env()


def _sched_idle() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))


def sched_idle() -> FastAPI:
    passwords._lower_priority = _sched_idle  # read when the hasher's pool is built
    return create_app_from_env()


def one_thread() -> FastAPI:
    init = passwords.PasswordHasher.__init__
    defaults = dict(init.__kwdefaults__ or {})
    defaults["threads"] = 1
    init.__kwdefaults__ = defaults
    return create_app_from_env()
