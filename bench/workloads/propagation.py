"""5. propagation: two instances on one PostgreSQL (+ Redis when there), the delay from a logout
answered by instance A until instance B rejects the access token."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from bench import services
from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.machine import wait_for_quiet
from bench.procs import start_tokensmith, tokensmith_env

__all__ = ["percentile", "run_propagation"]

POLL_TIMEOUT_S = 5.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _redis_feed_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tokensmith.storage.redis") is not None


def run_propagation(run: Run) -> dict[str, Any]:
    if not services.postgres_available():
        run.notes.append("propagation skipped: no PostgreSQL on 127.0.0.1:5432")
        return {"skipped": "no PostgreSQL"}
    url = services.create_scratch_database("tokensmith_bench_propagation")
    extra = {"DATABASE_URL": url}
    with_redis = services.redis_available()
    if with_redis:
        extra["REDIS_URL"] = services.REDIS_URL
    env_a = tokensmith_env(run.dir("propagation-a") / "data", **extra)
    env_b = tokensmith_env(run.dir("propagation-b") / "data", **extra)
    db_upgrade(env_a, run.dir("propagation-a"))
    a = start_tokensmith(run.dir("propagation-a"), env_a, workers=2)
    b = start_tokensmith(run.dir("propagation-b"), env_b, workers=2)
    samples = 10 if run.quick else 200
    delays_ms: list[float] = []
    timeouts = 0
    accepted = 0  # answers of 200 from B after A's logout answered (the window)
    with stopping(a, b):
        users = Users.numbered(4, "propagation.bench")
        register_all(a.url, users)
        sessions = login_all(a.url, [users.emails[i % 4] for i in range(samples)])
        quiet = wait_for_quiet(run.quiet_wait_s)
        # Two keep-alive connections to B: uvicorn's workers share the socket, so they usually
        # land on both workers; the token counts as rejected by B once both have refused it.
        with (
            httpx.Client(base_url=a.url, timeout=10) as client_a,
            httpx.Client(base_url=b.url, timeout=10) as b1,
            httpx.Client(base_url=b.url, timeout=10) as b2,
        ):
            for access, _ in sessions:
                auth = {"Authorization": f"Bearer {access}"}
                if b1.get("/auth/me", headers=auth).status_code != 200:
                    raise RuntimeError("instance B does not accept a fresh token")
                b2.get("/auth/me", headers=auth)
                r = client_a.post("/auth/logout", headers=auth)
                answered = time.perf_counter()
                if r.status_code != 200:
                    raise RuntimeError(f"logout on A: {r.status_code} {r.text[:200]}")
                pending = [b1, b2]
                while pending and time.perf_counter() - answered < POLL_TIMEOUT_S:
                    still = [
                        c for c in pending if c.get("/auth/me", headers=auth).status_code == 200
                    ]
                    accepted += len(still)
                    pending = still
                if pending:
                    timeouts += 1
                else:
                    delays_ms.append((time.perf_counter() - answered) * 1000)
    feed = "Redis" if with_redis and _redis_feed_available() else "SQL polling"
    if with_redis and not _redis_feed_available():
        run.notes.append(
            "propagation: the Redis feed is not in this tree yet; measured SQL polling"
        )
    result = {
        "samples": len(delays_ms),
        "timeouts": timeouts,
        "accepted_after_logout": accepted,
        "p50_ms": round(percentile(delays_ms, 50), 2),
        "p99_ms": round(percentile(delays_ms, 99), 2),
        "max_ms": round(max(delays_ms), 2) if delays_ms else 0.0,
        "mean_ms": round(statistics.fmean(delays_ms), 2) if delays_ms else 0.0,
        "feed": feed,
        "redis_url_set": with_redis,
        "quiet_before": quiet.as_dict(),
        "disturbed": not quiet.quiet,
    }
    run.log(f"    p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms ({feed})")
    return result
