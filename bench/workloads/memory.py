"""6. memory: worker RSS with 100,000 revoked sessions in the revocation set against an empty one,
and the set shrinking once their ``until`` has passed.

The revocation rows are written straight into the ``revocations`` table before the app starts, so
the workers load them at start, as they would after a restart."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, insert

from bench.harness import (
    Run,
    db_upgrade,
    start_user_app,
    stopping,
    user_app_env,
    worker_calls,
    worker_states,
)
from bench.procs import Server

__all__ = ["run_memory"]

REVOKED = 100_000
HOUSEKEEPING_WAIT_S = 75.0
"""The housekeeping loop prunes once a minute."""


def _insert_revocations(database_url: str, n: int, until: datetime) -> None:
    from tokensmith.storage.sql.tables import revocations

    engine = create_engine(database_url)
    rows = [{"session_id": secrets.token_urlsafe(16), "until": until} for _ in range(n)]
    with engine.begin() as conn:
        for i in range(0, n, 10_000):
            conn.execute(insert(revocations), rows[i : i + 10_000])
    engine.dispose()


def _settle(server: Server, run: Run, label: str) -> dict[str, Any]:
    """The same warm-up for both apps, then each worker's RSS."""
    # No login here: an argon2 hash allocates 19 MiB that the allocator may keep, which would
    # swamp what is measured. Unauthenticated and open requests warm the same code paths.
    with httpx.Client(base_url=server.url) as client:
        for _ in range(300):
            client.get("/orders")
            client.get("/orders-open")
    time.sleep(0.5)
    rss = server.rss_kib()
    states = worker_states(server)
    return {
        "rss_kib": rss,
        "rss_mib_mean": round(sum(rss.values()) / len(rss) / 1024, 1),
        "revoked_per_worker": [s["revoked"] for s in states.values()],
    }


def run_memory(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if run.quick:
        # A smoke run checks loading and shrinking only: the RSS delta needs the full run.
        out["empty"] = None
    else:
        run.log("  empty revocation set")
        env = user_app_env(run, "memory-empty")
        app = start_user_app(run, "memory-empty", env)
        with stopping(app):
            out["empty"] = _settle(app, run, "memory-empty")

    run.log("  revoked sessions loaded at start")
    env = user_app_env(run, "memory-full")
    db_upgrade(env, run.dir("memory-full"))
    # Long enough for the app to start and be measured before they expire.
    expire_in = timedelta(seconds=12 if run.quick else 45)
    until = datetime.now(UTC) + expire_in
    revoked = REVOKED // 10 if run.quick else REVOKED
    _insert_revocations(env["DATABASE_URL"], revoked, until)
    app = start_user_app(run, "memory-full", env, upgrade=False)
    with stopping(app):
        out["full"] = _settle(app, run, "memory-full")
        # Shrinking: wait for ``until`` to pass, then for the housekeeping prune (in --quick,
        # ask each worker to run that same prune now instead of waiting up to a minute).
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
        if run.quick:
            worker_calls(app, "/_bench/prune")
        deadline = time.monotonic() + (5 if run.quick else HOUSEKEEPING_WAIT_S)
        sizes: list[int] = []
        while time.monotonic() < deadline:
            sizes = [s["revoked"] for s in worker_states(app).values()]
            if sizes and max(sizes) == 0:
                break
            time.sleep(1)
        out["after_expiry"] = {
            "revoked_per_worker": sizes,
            "rss_kib": app.rss_kib(),
        }
    full = out["full"]["rss_mib_mean"]
    empty = out["empty"]["rss_mib_mean"] if out["empty"] else None
    out["delta_mib"] = round(full - empty, 1) if empty is not None else None
    out["revoked"] = revoked
    out["loaded_all"] = all(n >= revoked for n in out["full"]["revoked_per_worker"])
    out["shrank"] = bool(sizes) and max(sizes) == 0
    run.log(
        f"    RSS per worker {empty} MiB empty, {full} MiB with {revoked:,} "
        f"(delta {out['delta_mib']} MiB); set after expiry: {sizes}"
    )
    return out
