"""8. servers: the same tokensmith app under uvicorn (what ``tokensmith serve`` runs: httptools,
uvloop) and under granian, on the same workloads, in alternating pairs.

Both serve ``tokensmith.server.app:create_app_from_env`` with 2 workers on one SQLite data dir
(migrated first, as ``tokensmith serve`` does); each round measures ``/auth/me`` (Bearer) and
refresh chains on each server back to back. The ratios are granian ÷ uvicorn, medians of the
rounds.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.harness import Run, Users, db_upgrade, have_tool, login_all, register_all, stopping
from bench.procs import Server, start_granian, start_tokensmith, tokensmith_env
from bench.workloads.refresh import chain_run

__all__ = ["run_servers"]


def _measure(run: Run, server: Server, users: Users, label: str) -> dict[str, Any]:
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


def run_servers(run: Run) -> dict[str, Any]:
    if not have_tool("granian"):
        run.notes.append("servers skipped: granian is not installed (the bench extra has it)")
        return {}
    rounds = 1 if run.quick else 3
    out: dict[str, Any] = {"rounds": []}
    servers: dict[str, Server] = {}
    users = Users.numbered(run.connections, "servers.bench")
    try:
        for name in ("uvicorn", "granian"):
            workdir = run.dir(f"servers-{name}")
            env = tokensmith_env(workdir / "data")
            if name == "uvicorn":
                servers[name] = start_tokensmith(workdir, env, workers=2)
            else:
                db_upgrade(env, workdir)
                factory = "tokensmith.server.app:create_app_from_env"
                servers[name] = start_granian("granian", factory, workdir, env)
            register_all(servers[name].url, users)
        with stopping(*servers.values()):
            for i in range(rounds):
                row = {}
                for name, server in servers.items():
                    run.log(f"  round {i + 1}/{rounds}: {name}")
                    row[name] = _measure(run, server, users, f"servers-{name}-{i}")
                out["rounds"].append(row)
    finally:
        for server in servers.values():
            server.stop()  # a second stop is a no-op
    for what in ("me", "refresh"):
        ratios = [r["granian"][what]["rps"] / r["uvicorn"][what]["rps"] for r in out["rounds"]]
        out[f"{what}_ratio"] = round(statistics.median(ratios), 2)
        cpu = [
            r["uvicorn"][what]["server_cpu_ms_per_request"]
            / r["granian"][what]["server_cpu_ms_per_request"]
            for r in out["rounds"]
            if r["granian"][what].get("server_cpu_ms_per_request")
        ]
        out[f"{what}_cpu_ratio"] = round(statistics.median(cpu), 2) if cpu else None
    return out
