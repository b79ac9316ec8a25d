"""9. lean: the lean paths against FastAPI's routes, on the same server shape, in one run.

Two apps side by side under ``uvicorn --factory --workers 2``: the standalone server's app
(``create_app_from_env``, lean ``/auth/refresh`` and ``/auth/me``) and the same app with the lean
paths taken out (``bench.apps.fastapi_only``). Each round measures refresh chains and
``/auth/me`` on both, back to back; the ratios (lean ÷ FastAPI only) are medians of the rounds,
by throughput and by server CPU per request.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import services
from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.procs import Server, start_uvicorn_factory, tokensmith_env
from bench.workloads.refresh import chain_run

__all__ = ["run_direct", "run_lean", "run_roundtrips"]

APPS = {
    "lean": "tokensmith.server.app:create_app_from_env",
    "fastapi-only": "bench.apps.fastapi_only:create_app",
}


def _round(run: Run, server: Server, users: Users, label: str) -> dict[str, Any]:
    n = run.connections
    sessions = login_all(server.url, users.emails + users.emails)
    me = run.wrk(
        server.url + "/auth/me", run.bearer_script("/auth/me", sessions[0][0]), server=server
    ).as_dict()
    refresh = [r for _, r in sessions]
    chains = chain_run(
        run, server.url + "/auth/refresh", refresh[n:], refresh[:n], name=label, server=server
    ).as_dict()
    return {"me": me, "refresh": chains}


def _compare(run: Run, db: str, apps: dict[str, str] = APPS) -> dict[str, Any]:
    """Each app of ``apps`` (the first is "ours", the second the "before") side by side."""
    rounds = 1 if run.quick else 3
    servers: dict[str, Server] = {}
    users = Users.numbered(run.connections, f"lean-{db}.bench")
    try:
        for name, factory in apps.items():
            workdir = run.dir(f"lean-{db}-{name}")
            extra = {}
            if db == "postgres":
                extra["DATABASE_URL"] = services.create_scratch_database(
                    f"bench_lean_{name.replace('-', '_')}"
                )
            env = tokensmith_env(workdir / "data", **extra)
            db_upgrade(env, workdir)
            servers[name] = start_uvicorn_factory(f"lean-{name}", factory, workdir, env)
            register_all(servers[name].url, users)
        out: dict[str, Any] = {"rounds": []}
        with stopping(*servers.values()):
            for i in range(rounds):
                run.log(f"  {db} round {i + 1}/{rounds}: {', '.join(apps)}")
                out["rounds"].append(
                    {
                        name: _round(run, server, users, f"lean-{db}-{name}-{i}")
                        for name, server in servers.items()
                    }
                )
    finally:
        for server in servers.values():
            server.stop()
    ours, before = list(apps)
    out["apps"] = list(apps)
    for what in ("me", "refresh"):
        pairs = [(r[ours][what], r[before][what]) for r in out["rounds"]]
        out[f"{what}_ratio"] = round(statistics.median(a["rps"] / b["rps"] for a, b in pairs), 2)
        cpu = [
            b["server_cpu_ms_per_request"] / a["server_cpu_ms_per_request"]
            for a, b in pairs
            if a.get("server_cpu_ms_per_request") and b.get("server_cpu_ms_per_request")
        ]
        out[f"{what}_cpu_ratio"] = round(statistics.median(cpu), 2) if cpu else None
        out[f"{what}_cpu_ms"] = {
            name: round(
                statistics.median(
                    r[name][what]["server_cpu_ms_per_request"] or 0 for r in out["rounds"]
                ),
                3,
            )
            for name in apps
        }
    return out


ROUND_TRIPS = {
    "one-trip": "tokensmith.server.app:create_app_from_env",
    "two-trips": "bench.apps.two_trips:create_app",
}


def run_roundtrips(run: Run) -> dict[str, Any]:
    """PostgreSQL: one statement per rotation and no pre-ping, against the previous release's
    two statements and pre-ping (bench/apps/two_trips.py)."""
    if not services.postgres_available():
        run.notes.append("roundtrips skipped: no PostgreSQL on 127.0.0.1:5432")
        return {}
    return {"postgres": _compare(run, "postgres", ROUND_TRIPS)}


DIRECT = {
    "direct": "tokensmith.server.app:create_app_from_env",
    "sqlalchemy": "bench.apps.via_sqlalchemy:create_app",
}


def run_direct(run: Run) -> dict[str, Any]:
    """The rotation on the driver (storage/sql/direct.py) against SQLAlchemy's execution path
    (bench/apps/via_sqlalchemy.py), SQLite and PostgreSQL."""
    out = {"sqlite": _compare(run, "sqlite", DIRECT)}
    if services.postgres_available():
        out["postgres"] = _compare(run, "postgres", DIRECT)
    return out


def run_lean(run: Run) -> dict[str, Any]:
    out = {"sqlite": _compare(run, "sqlite")}
    if services.postgres_available():
        out["postgres"] = _compare(run, "postgres")
    return out
