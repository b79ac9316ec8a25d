"""1. protected: the user's own route behind ``Depends(auth.principal)``, and behind
``Depends(auth.require_scopes(...))`` with a claims hook configured, against the same route
unguarded, in the same app and server; ``/auth/me`` on it and on the standalone server; and the
database and Redis calls a protected request makes (target: none)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench import services
from bench.harness import (
    Run,
    Users,
    login_all,
    register_all,
    start_user_app,
    stopping,
    user_app_env,
    worker_states,
)
from bench.procs import Server, start_tokensmith, tokensmith_env

__all__ = ["run_protected", "sql_statements_per_request"]


def _sql_totals(server: Server) -> tuple[float, dict[str, int]]:
    totals: dict[str, int] = {}
    for state in worker_states(server).values():
        for kind, n in state["sql_statements"].items():
            totals[kind] = totals.get(kind, 0) + n
    return time.monotonic(), totals


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def sql_statements_per_request(
    idle: tuple[dict[str, int], float],
    busy: tuple[dict[str, int], float],
    requests: int,
) -> tuple[float, dict[str, float]]:
    """Statements beyond the background (the revocation feed's poll, housekeeping), per request.

    The background rate of each kind of statement is measured over an idle window and subtracted
    in proportion to the busy window's length; what is left was caused by the requests."""
    idle_counts, idle_s = idle
    busy_counts, busy_s = busy
    excess: dict[str, float] = {}
    for kind, n in busy_counts.items():
        expected = idle_counts.get(kind, 0) / idle_s * busy_s if idle_s > 0 else 0.0
        extra = n - expected
        # Within 20% + 5 of the background rate is the background (polling jitter).
        if extra > 0.2 * expected + 5:
            excess[kind] = round(extra / max(requests, 1), 4)
    return round(sum(excess.values()), 3), excess


def _measure_calls(run: Run, server: Server, url: str, script: Any) -> dict[str, Any]:
    """A measured wrk run with SQL statements and Redis commands counted around it."""
    t0, s0 = _sql_totals(server)
    time.sleep(max(1.0, run.duration_s / 2))
    t1, s1 = _sql_totals(server)
    redis_before = services.redis_command_calls() if services.redis_available() else None
    m = run.wrk(url, script, warmup=False, server=server)
    redis_after = services.redis_command_calls() if redis_before is not None else None
    t2, s2 = _sql_totals(server)
    per_request, kinds = sql_statements_per_request(
        (_diff(s1, s0), t1 - t0), (_diff(s2, s1), t2 - t1), m.requests
    )
    result: dict[str, Any] = {
        "measurement": m.as_dict(),
        "sql_per_request": per_request,
        "sql_statements_by_kind": kinds,
        "sql_background_per_s": round(sum(_diff(s1, s0).values()) / (t1 - t0), 1),
    }
    if redis_before is not None and redis_after is not None:
        # Minus the one INFO-free call pair the counter itself makes: none; anything else using
        # this Redis at the same time is included (the figure is an upper bound).
        result["redis_per_request"] = round((redis_after - redis_before) / max(m.requests, 1), 4)
    return result


def run_protected(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra = {}
    if services.redis_available():
        extra["REDIS_URL"] = services.REDIS_URL
    env = user_app_env(run, "protected", **extra)
    app = start_user_app(run, "protected", env)
    with stopping(app):
        users = Users.numbered(1, "protected.bench")
        register_all(app.url, users)
        access, _ = login_all(app.url, users.emails)[0]
        for path in ("/orders", "/orders-scoped", "/orders-open", "/auth/me"):
            r = httpx.get(app.url + path, headers={"Authorization": f"Bearer {access}"})
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
        for path in ("/orders", "/orders-scoped"):
            if httpx.get(app.url + path).status_code != 401:
                raise RuntimeError(f"{path} answers without a token: the guard is not on")
        open_script = run.bearer_script("/orders-open", access)
        guarded_script = run.bearer_script("/orders", access)
        scoped_script = run.bearer_script("/orders-scoped", access)
        me_script = run.bearer_script("/auth/me", access)
        # Warm both routes before either is measured, so the order does not favour one.
        run.wrk(app.url + "/orders-open", open_script, warmup=False, duration_s=run.warmup_s)
        run.wrk(app.url + "/orders", guarded_script, warmup=False, duration_s=run.warmup_s)
        run.wrk(app.url + "/orders-scoped", scoped_script, warmup=False, duration_s=run.warmup_s)
        # Unguarded and guarded alternate in rounds, so a burst of noise from the rest of the
        # machine hits one pair rather than one side; the ratio is the median of the pairs'.
        rounds: list[dict[str, Any]] = []
        slice_s = run.duration_s if run.quick else max(1.0, run.duration_s / 2)
        for i in range(1 if run.quick else 5):
            run.log(
                f"  round {i + 1}: unguarded /orders-open, guarded /orders, scoped /orders-scoped"
            )
            u = run.wrk(
                app.url + "/orders-open", open_script, warmup=False, server=app, duration_s=slice_s
            )
            g = run.wrk(
                app.url + "/orders", guarded_script, warmup=False, server=app, duration_s=slice_s
            )
            sc = run.wrk(
                app.url + "/orders-scoped",
                scoped_script,
                warmup=False,
                server=app,
                duration_s=slice_s,
            )
            rounds.append(
                {"unguarded": u.as_dict(), "guarded": g.as_dict(), "scoped": sc.as_dict()}
            )
        out["rounds"] = rounds
        ratios = sorted(r["guarded"]["rps"] / r["unguarded"]["rps"] for r in rounds)
        scoped_ratios = sorted(r["scoped"]["rps"] / r["unguarded"]["rps"] for r in rounds)
        median = len(rounds) // 2
        out["unguarded"] = sorted((r["unguarded"] for r in rounds), key=lambda m: m["rps"])[median]
        run.log("  guarded /orders with DB and Redis calls counted")
        out["guarded"] = _measure_calls(run, app, app.url + "/orders", guarded_script)
        out["guarded_median"] = sorted((r["guarded"] for r in rounds), key=lambda m: m["rps"])[
            median
        ]
        out["ratio"] = round(ratios[median], 3)
        out["scoped_ratio"] = round(scoped_ratios[median], 3)
        out["scoped_median"] = sorted((r["scoped"] for r in rounds), key=lambda m: m["rps"])[median]
        run.log("  scoped /orders-scoped with DB and Redis calls counted")
        out["scoped"] = _measure_calls(run, app, app.url + "/orders-scoped", scoped_script)
        cpu = sorted(
            r["unguarded"]["server_cpu_ms_per_request"] / r["guarded"]["server_cpu_ms_per_request"]
            for r in rounds
            if r["guarded"]["server_cpu_ms_per_request"]
        )
        # Capacity by CPU cost: unguarded CPU per request / guarded CPU per request.
        out["cpu_ratio"] = round(cpu[len(cpu) // 2], 3) if cpu else None
        scoped_cpu = sorted(
            r["unguarded"]["server_cpu_ms_per_request"] / r["scoped"]["server_cpu_ms_per_request"]
            for r in rounds
            if r["scoped"]["server_cpu_ms_per_request"]
        )
        out["scoped_cpu_ratio"] = round(scoped_cpu[len(scoped_cpu) // 2], 3) if scoped_cpu else None
        run.log("  /auth/me on the user app")
        out["me_user_app"] = _measure_calls(run, app, app.url + "/auth/me", me_script)
        out["redis_feed"] = "REDIS_URL set" if extra else "no Redis"

    data = run.dir("protected-standalone") / "data"
    server = start_tokensmith(run.dir("protected-standalone"), tokensmith_env(data), workers=2)
    with stopping(server):
        users = Users.numbered(1, "standalone.bench")
        register_all(server.url, users)
        access, _ = login_all(server.url, users.emails)[0]
        me = run.bearer_script("/auth/me", access)
        bare = run.bearer_script("/healthz", access)
        run.wrk(server.url + "/healthz", bare, warmup=False, duration_s=run.warmup_s)
        run.log("  /auth/me on the standalone server")
        out["me_standalone"] = run.wrk(server.url + "/auth/me", me, server=server).as_dict()
        # The "bare route on the same server": /healthz (a FastAPI route returning a
        # constant) against /auth/me, alternating, the median of the pairs' ratios.
        pairs: list[dict[str, Any]] = []
        slice_s = run.duration_s if run.quick else max(1.0, run.duration_s / 2)
        for i in range(1 if run.quick else 3):
            run.log(f"  round {i + 1}: /healthz (bare) and /auth/me on the standalone server")
            b = run.wrk(
                server.url + "/healthz", bare, warmup=False, server=server, duration_s=slice_s
            )
            m = run.wrk(
                server.url + "/auth/me", me, warmup=False, server=server, duration_s=slice_s
            )
            pairs.append({"bare": b.as_dict(), "me": m.as_dict()})
        ratios = sorted(p["me"]["rps"] / p["bare"]["rps"] for p in pairs if p["bare"]["rps"])
        out["me_vs_bare_rounds"] = pairs
        out["me_vs_bare_ratio"] = round(ratios[len(ratios) // 2], 3) if ratios else None
        out["bare_standalone"] = sorted((p["bare"] for p in pairs), key=lambda x: x["rps"])[
            len(pairs) // 2
        ]
    return out
