"""10. hashing: the stall and login measures for each way of keeping argon2 off the event loops'
CPUs (bench/apps/hashing.py), one after the other in one run, against the raw argon2 rate
measured around them.

Per variant: ``/auth/me`` p99 from the paced probe, idle and during a login storm (the ``stall``
workload's method), and the storm's login rate.
"""

from __future__ import annotations

import threading
from typing import Any

from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.machine import wait_for_quiet
from bench.procs import start_uvicorn_factory, tokensmith_env
from bench.workloads.login import (
    LOGIN_CONNECTIONS,
    PROBE_CONNECTIONS,
    PROBE_DELAY_MS,
    raw_argon2_rate,
)
from bench.wrk import Measurement, render, run_wrk

__all__ = ["run_hashing"]

VARIANTS = ("shipped", "sched_idle", "one_thread")


def _variant(run: Run, name: str) -> dict[str, Any]:
    workdir = run.dir(f"hashing-{name}")
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
            users_file=users.write(run.workdir / f"hashing-{name}-users.txt"),
            threads=2,
            path="/auth/login",
            email_key="email",
        )
        access, _ = login_all(server.url, users.emails[:1])[0]
        probe = render("probe", run.workdir, path="/auth/me", token=access, delay_ms=PROBE_DELAY_MS)
        idle: dict[str, Any] = run.wrk(
            server.url + "/auth/me", probe, connections=PROBE_CONNECTIONS
        ).as_dict()
        storm: dict[str, Measurement] = {}

        def login_storm() -> None:
            storm["m"] = run_wrk(
                server.url + "/auth/login",
                login_script,
                duration_s=run.duration_s + 2,
                connections=LOGIN_CONNECTIONS,
                quiet_wait_s=0,
            )

        wait_for_quiet(run.quiet_wait_s)
        thread = threading.Thread(target=login_storm)
        thread.start()
        during: dict[str, Any] = run_wrk(
            server.url + "/auth/me",
            probe,
            duration_s=run.duration_s,
            warmup_s=1.0,
            connections=PROBE_CONNECTIONS,
            quiet_wait_s=0,
        ).as_dict()
        thread.join()
    logins = storm["m"].as_dict() if "m" in storm else None
    ratio = round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None
    run.log(
        f"    {name}: p99 idle {idle['p99_ms']:.2f} ms, storm {during['p99_ms']:.2f} ms "
        f"(x{ratio}); logins {logins['rps'] if logins else 0:.1f}/s"
    )
    return {"idle": idle, "storm": during, "logins": logins, "stall_ratio": ratio}


def run_hashing(run: Run) -> dict[str, Any]:
    """Every variant once per round (2 rounds, alternating); each variant's figures are those
    of its round with the median storm p99 (with 2 rounds: the lower)."""
    out: dict[str, Any] = {"raw_argon2": raw_argon2_rate(run)}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for i in range(1 if run.quick else 2):
        for name in VARIANTS:
            run.log(f"  round {i + 1}: {name}")
            rounds[name].append(_variant(run, name))
    out["raw_argon2_after"] = raw_argon2_rate(run)
    raw = (out["raw_argon2"]["verifies_per_s"] + out["raw_argon2_after"]["verifies_per_s"]) / 2
    for name in VARIANTS:
        for r in rounds[name]:
            logins = r["logins"]
            r["login_ratio"] = round(logins["rps"] / raw, 3) if logins and raw else None
        ordered = sorted(rounds[name], key=lambda r: r["storm"]["p99_ms"])
        out[name] = {**ordered[(len(ordered) - 1) // 2], "rounds": rounds[name]}
    return out
