"""3. login against the machine's raw argon2 verify rate, and 4. stall: ``/auth/me`` latency
during a storm of logins against its latency when idle.

The login ratio comes from alternating rounds: a raw argon2 measure and a login storm back to
back, in turn one first and then the other; the ratio is the median of the rounds' ratios, so a
change in the machine's load (other tenants) moves both sides of a round alike. The same is done
by CPU: raw argon2 CPU per verify against the server's CPU per login. The stall ratio, too, is
the median of alternating rounds (the idle probe, then the probe during a storm).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
from typing import Any

from bench.harness import Run, Users, login_all, register_all, stopping
from bench.machine import wait_for_quiet
from bench.procs import ROOT, Server, start_tokensmith, tokensmith_env
from bench.wrk import Measurement, render, run_wrk

__all__ = ["login_ratios", "raw_argon2_rate", "run_login", "run_stall"]

LOGIN_CONNECTIONS = 16
"""Enough concurrent logins to keep both workers' hashing pools (2 threads each) busy."""
LOGIN_ROUNDS = 3
PROBE_DELAY_MS = 10
PROBE_CONNECTIONS = 2
"""The stall probe: 2 connections, one request every 10 ms each (~190 req/s, ~4% of one core on
the server), light enough not to load the server itself."""
PROBE_SPAN = 2
"""A probe runs for twice the run's duration (10 s by default): ~1,900 requests, so its p99 is
the 19th slowest of them, not the 5th of 475 (round nine, docs/performance.md)."""


def raw_argon2_rate(run: Run, *, quiet_wait: bool = True) -> dict[str, Any]:
    """argon2-cffi verifying in 2 processes x 2 threads, the server's shape, with the shipped
    parameters (``OWASP_2023``, what the server hashes with) for ``run.duration_s``."""
    quiet = wait_for_quiet(run.quiet_wait_s if quiet_wait else 0)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.argon2_rate", "--duration", str(run.duration_s)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result = dict(json.loads(proc.stdout))
    result["quiet_before"] = quiet.as_dict()
    result["disturbed"] = not quiet.quiet
    run.log(
        f"    raw argon2id verify: {result['verifies_per_s']:.1f}/s, "
        f"{result['cpu_ms_per_verify']:.2f} CPU ms each"
    )
    return result


def _login_server(run: Run, label: str) -> tuple[Server, Any]:
    server = start_tokensmith(run.dir(label), tokensmith_env(run.dir(label) / "data"), workers=2)
    users = Users.numbered(4 if run.quick else LOGIN_CONNECTIONS, f"{label}.bench")
    try:
        register_all(server.url, users)
    except Exception:
        server.stop()
        raise
    script = render(
        "login",
        run.workdir,
        users_file=users.write(run.workdir / f"{label}-users.txt"),
        threads=2,
        path="/auth/login",
        email_key="email",
    )
    return server, (users, script)


def login_ratios(raw: dict[str, Any], login: dict[str, Any]) -> dict[str, float | None]:
    """One round's login ÷ raw argon2, by rate and by CPU (raw CPU per verify ÷ server CPU per
    login: 1.0 means a login costs the server nothing but its hash)."""
    rate = raw["verifies_per_s"]
    cpu = login.get("server_cpu_ms_per_request")
    return {
        "ratio": round(login["rps"] / rate, 3) if rate else None,
        "cpu_ratio": round(raw["cpu_ms_per_verify"] / cpu, 3) if cpu else None,
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def run_login(run: Run) -> dict[str, Any]:
    server, (_, script) = _login_server(run, "login")
    rounds: list[dict[str, Any]] = []
    with stopping(server):
        n = 1 if run.quick else LOGIN_ROUNDS
        for i in range(n):
            run.log(f"  login round {i + 1}/{n}")
            measured: dict[str, Any] = {}
            # Alternate which side goes first, so a drift in the machine's load evens out.
            for side in ("raw", "login") if i % 2 == 0 else ("login", "raw"):
                if side == "raw":
                    measured["raw_argon2"] = raw_argon2_rate(run)
                else:
                    measured["login"] = run.wrk(
                        server.url + "/auth/login",
                        script,
                        connections=LOGIN_CONNECTIONS,
                        server=server,
                        warmup=i == 0,
                    ).as_dict()
            rounds.append({**measured, **login_ratios(measured["raw_argon2"], measured["login"])})
    ordered = sorted(rounds, key=lambda r: r["ratio"] or 0.0)
    middle = ordered[(len(ordered) - 1) // 2]
    return {
        "rounds": rounds,
        "ratio": _median([r["ratio"] for r in rounds]) or 0.0,
        "cpu_ratio": _median([r["cpu_ratio"] for r in rounds]),
        "login": middle["login"],
        "raw_argon2": middle["raw_argon2"],
    }


STALL_ROUNDS = 5


def probe_during_storm(
    run: Run,
    server: Server,
    probe: Any,
    login_script: Any,
    cpu: list[float] | None = None,
    *,
    duration_s: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The probe while a login storm runs: the storm has ~1 s to reach full speed before the
    probe starts, and outlasts it. ``cpu``, when given, gets the server's CPU seconds before
    and after the storm; the probe runs for ``duration_s`` (default: the run's)."""
    seconds = duration_s or run.duration_s
    storm: dict[str, Measurement] = {}

    def login_storm() -> None:
        if cpu is not None:
            cpu.append(server.cpu_s())
        storm["m"] = run_wrk(
            server.url + "/auth/login",
            login_script,
            duration_s=seconds + 2,
            connections=LOGIN_CONNECTIONS,
            quiet_wait_s=0,
        )
        if cpu is not None:
            cpu.append(server.cpu_s())

    wait_for_quiet(run.quiet_wait_s)
    thread = threading.Thread(target=login_storm)
    thread.start()
    during = run_wrk(
        server.url + "/auth/me",
        probe,
        duration_s=seconds,
        warmup_s=1.0,
        connections=PROBE_CONNECTIONS,
        quiet_wait_s=0,
    ).as_dict()
    thread.join()
    return during, (storm["m"].as_dict() if "m" in storm else None)


def run_stall(run: Run) -> dict[str, Any]:
    """Alternating rounds of the idle probe and the probe during a storm; the ratio is the
    median of the rounds' ratios (the idle p99 on a shared machine moves with other tenants)."""
    server, (users, login_script) = _login_server(run, "stall")
    rounds: list[dict[str, Any]] = []
    with stopping(server):
        access, _ = login_all(server.url, users.emails[:1])[0]
        probe = render("probe", run.workdir, path="/auth/me", token=access, delay_ms=PROBE_DELAY_MS)
        # A storm before the first round: a fresh server's first logins (the hashing
        # processes' first allocations, the database's first pages) are not what is measured.
        run_wrk(
            server.url + "/auth/login",
            login_script,
            duration_s=run.warmup_s,
            connections=LOGIN_CONNECTIONS,
            quiet_wait_s=0,
        )
        n = 1 if run.quick else STALL_ROUNDS
        for i in range(n):
            run.log(f"  stall round {i + 1}/{n}: /auth/me idle, then during a login storm")
            seconds = run.duration_s * PROBE_SPAN
            idle = run.wrk(
                server.url + "/auth/me", probe, connections=PROBE_CONNECTIONS, duration_s=seconds
            ).as_dict()
            during, logins = probe_during_storm(
                run, server, probe, login_script, duration_s=seconds
            )
            ratio = round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else 0.0
            run.log(
                f"    p99 idle {idle['p99_ms']:.2f} ms, during storm {during['p99_ms']:.2f} ms "
                f"(x{ratio})"
            )
            rounds.append({"idle": idle, "storm": during, "storm_logins": logins, "ratio": ratio})
    middle = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]
    return {**middle, "ratio": _median([r["ratio"] for r in rounds]) or 0.0, "rounds": rounds}
