"""``python -m bench.ab [--rounds N] [--a JSON] [--b JSON]``: two ``tokensmith serve`` servers
that differ only in their environment, compared on refresh chains in alternating pairs.

Each server runs ``tokensmith serve --workers 2`` on SQLite with the bench's environment
(``bench.procs.tokensmith_env``) plus the JSON object given for it: a setting, or a
``PYTHONPATH`` that puts another checkout's ``src`` first (``{"PYTHONPATH":
"/tmp/base/src:."}`` with ``git worktree add /tmp/base <commit>`` measures a change against the
commit before it). Rounds alternate which side runs first; the result is the median of the
rounds' B ÷ A throughput ratios, with each side's server CPU per rotation. Round five of issue 16
(docs/performance.md) measured its changes with it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import Run, Users, login_all, register_all, stopping
from bench.procs import Server, start_tokensmith, tokensmith_env
from bench.workloads.refresh import chain_run

__all__ = ["main"]


def _round(run: Run, server: Server, users: Users, label: str) -> dict[str, Any]:
    refresh = [r for _, r in login_all(server.url, users.emails + users.emails)]
    n = run.connections
    return chain_run(
        run, server.url + "/auth/refresh", refresh[n:], refresh[:n], name=label, server=server
    ).as_dict()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (chains)")
    parser.add_argument("--a", default="{}", help="environment of A, a JSON object")
    parser.add_argument("--b", default="{}", help="environment of B, a JSON object")
    args = parser.parse_args(argv)
    sides = {"A": json.loads(args.a), "B": json.loads(args.b)}
    run = Run(
        Path(tempfile.mkdtemp(prefix="tokensmith-ab-")),
        duration_s=args.seconds,
        warmup_s=1,
        quick=False,
        quiet_wait_s=5,
        connections=args.connections,
    )
    users = Users.numbered(run.connections, "ab.bench")
    servers: dict[str, Server] = {}
    try:
        for name, extra in sides.items():
            workdir = run.dir(name)
            env = tokensmith_env(workdir / "data", **extra)
            servers[name] = start_tokensmith(workdir, env, workers=2)
            register_all(servers[name].url, users)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        with stopping(*servers.values()):
            for i in range(args.rounds):
                order = ["A", "B"] if i % 2 == 0 else ["B", "A"]
                for name in order:
                    m = _round(run, servers[name], users, f"ab-{name}-{i}")
                    results[name].append(m)
                    print(
                        f"round {i + 1} {name}: {m['rps']:,.0f} req/s, p50 {m.get('p50_ms')} ms, "
                        f"p99 {m.get('p99_ms')} ms, "
                        f"{m.get('server_cpu_ms_per_request')} ms CPU per rotation",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server.stop()
    ratios = [b["rps"] / a["rps"] for a, b in zip(results["A"], results["B"], strict=True)]
    print(f"B / A req/s by round: {[round(r, 3) for r in ratios]}")
    print(f"median B / A: {statistics.median(ratios):.3f}")
    for name, rows in results.items():
        cpu = [r.get("server_cpu_ms_per_request") for r in rows]
        print(f"{name} server CPU ms per rotation by round: {cpu}")


if __name__ == "__main__":
    main()
