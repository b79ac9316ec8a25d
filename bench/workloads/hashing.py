"""10. hashing: the stall and login measures for each way of keeping argon2 off the event loops'
CPUs (bench/apps/hashing.py), every variant once per round, rounds alternating.

Per variant and round: the raw argon2 rate; ``/auth/me`` p99 from the paced probe, idle and then
during a login storm (the ``stall`` workload's method); the storm's login rate against that raw
rate (login ÷ raw, as the ``login`` workload does it), and the server's CPU per login (hashing
processes included). Each variant's figures are the medians of its rounds.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from bench.apps.hashing import POOLS
from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.procs import start_uvicorn_factory, tokensmith_env
from bench.workloads.login import (
    LOGIN_CONNECTIONS,
    PROBE_CONNECTIONS,
    PROBE_DELAY_MS,
    probe_during_storm,
    raw_argon2_rate,
)
from bench.wrk import render

__all__ = ["VARIANTS", "run_hashing"]

VARIANTS = (
    "shipped",
    "two_each",
    "nice10",
    "batch10",
    "batch19",
    "procs10",
    "procs19",
    "one_thread",
)
ROUNDS = 2


def _variant(run: Run, name: str, i: int) -> dict[str, Any]:
    workdir = run.dir(f"hashing-{name}-{i}")
    env = tokensmith_env(workdir / "data")
    db_upgrade(env, workdir)
    server = start_uvicorn_factory(f"hashing-{name}", f"bench.apps.hashing:{name}", workdir, env)
    with stopping(server):
        domain = f"hashing-{name.replace('_', '-')}.bench"
        users = Users.numbered(4 if run.quick else LOGIN_CONNECTIONS, domain)
        register_all(server.url, users)
        login_script = render(
            "login",
            run.workdir,
            users_file=users.write(run.workdir / f"hashing-{name}-{i}-users.txt"),
            threads=2,
            path="/auth/login",
            email_key="email",
        )
        access, _ = login_all(server.url, users.emails[:1])[0]
        probe = render("probe", run.workdir, path="/auth/me", token=access, delay_ms=PROBE_DELAY_MS)
        # The raw rate first, so the idle probe and the storm are back to back.
        raw = raw_argon2_rate(run)
        idle: dict[str, Any] = run.wrk(
            server.url + "/auth/me", probe, connections=PROBE_CONNECTIONS
        ).as_dict()
        cpu: list[float] = []
        during, logins = probe_during_storm(run, server, probe, login_script, cpu)
    ratio = round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None
    rate = raw["verifies_per_s"]
    login_ratio = round(logins["rps"] / rate, 3) if logins and rate else None
    cpu_ms = None
    if logins and logins["requests"] and len(cpu) == 2:
        # The probe's ~100 req/s of /auth/me are in it too: ~0.1 ms each, under 1% of a login.
        cpu_ms = round((cpu[1] - cpu[0]) * 1000 / logins["requests"], 2)
    run.log(
        f"    {name}: p99 idle {idle['p99_ms']:.2f} ms, storm {during['p99_ms']:.2f} ms "
        f"(x{ratio}); logins {logins['rps'] if logins else 0:.1f}/s (÷ raw {login_ratio}), "
        f"{cpu_ms} CPU ms each (raw {raw['cpu_ms_per_verify']})"
    )
    return {
        "idle": idle,
        "storm": during,
        "logins": logins,
        "raw_argon2": raw,
        "stall_ratio": ratio,
        "login_ratio": login_ratio,
        "login_cpu_ms": cpu_ms,
        "login_cpu_ratio": round(raw["cpu_ms_per_verify"] / cpu_ms, 3) if cpu_ms else None,
    }


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def run_hashing(run: Run) -> dict[str, Any]:
    """Every variant once per round (alternating); a variant's ratios are the medians of its
    rounds', its measurements those of the round with the median storm p99.

    ``BENCH_HASHING_VARIANTS=shipped,procs19`` and ``BENCH_HASHING_ROUNDS=3`` narrow or widen
    the run."""
    chosen = os.environ.get("BENCH_HASHING_VARIANTS", "")
    variants = tuple(v.strip() for v in chosen.split(",") if v.strip()) or VARIANTS
    unknown = [v for v in variants if v not in POOLS]
    if unknown:
        raise ValueError(f"unknown hashing variants: {unknown}")
    out: dict[str, Any] = {"variants": list(variants), "pools": {}}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    n = 1 if run.quick else int(os.environ.get("BENCH_HASHING_ROUNDS", ROUNDS))
    for i in range(n):
        for name in variants:
            run.log(f"  round {i + 1}/{n}: {name}")
            rounds[name].append(_variant(run, name, i))
    for name in variants:
        rs = rounds[name]
        ordered = sorted(rs, key=lambda r: r["storm"]["p99_ms"])
        out["pools"][name] = repr(POOLS[name])
        out[name] = {
            **ordered[(len(ordered) - 1) // 2],
            "stall_ratio": _median([r["stall_ratio"] for r in rs]),
            "login_ratio": _median([r["login_ratio"] for r in rs]),
            "login_cpu_ratio": _median([r["login_cpu_ratio"] for r in rs]),
            "rounds": rs,
        }
        run.log(
            f"  {name}: stall x{out[name]['stall_ratio']} (rounds "
            f"{[r['stall_ratio'] for r in rs]}), login ÷ raw {out[name]['login_ratio']} "
            f"(rounds {[r['login_ratio'] for r in rs]}), by CPU {out[name]['login_cpu_ratio']}"
        )
    return out
