"""3. login against the machine's raw argon2 verify rate, and 4. stall: ``/auth/me`` latency
during a storm of logins against its latency when idle."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from bench.harness import Run, Users, login_all, register_all, stopping
from bench.machine import wait_for_quiet
from bench.procs import ROOT, Server, start_tokensmith, tokensmith_env
from bench.wrk import Measurement, render, run_wrk

__all__ = ["raw_argon2_rate", "run_login", "run_stall"]

LOGIN_CONNECTIONS = 16
"""Enough concurrent logins to keep both workers' hashing pools (2 threads each) busy."""
PROBE_DELAY_MS = 20
PROBE_CONNECTIONS = 2
"""The stall probe: 2 connections, one request every 20 ms each (~100 req/s), light enough not to
load the server itself."""


def raw_argon2_rate(run: Run) -> dict[str, Any]:
    quiet = wait_for_quiet(run.quiet_wait_s)
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
    run.log(f"    raw argon2id verify: {result['verifies_per_s']:.1f}/s")
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


def run_login(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {"raw_argon2": raw_argon2_rate(run)}
    server, (_, script) = _login_server(run, "login")
    with stopping(server):
        run.log("  login storm")
        out["login"] = run.wrk(
            server.url + "/auth/login", script, connections=LOGIN_CONNECTIONS, server=server
        ).as_dict()
    out["raw_argon2_after"] = raw_argon2_rate(run)
    raw = (out["raw_argon2"]["verifies_per_s"] + out["raw_argon2_after"]["verifies_per_s"]) / 2
    out["ratio"] = round(out["login"]["rps"] / raw, 3) if raw else 0.0
    return out


def run_stall(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    server, (users, login_script) = _login_server(run, "stall")
    with stopping(server):
        access, _ = login_all(server.url, users.emails[:1])[0]
        probe = render("probe", run.workdir, path="/auth/me", token=access, delay_ms=PROBE_DELAY_MS)
        run.log("  /auth/me idle")
        out["idle"] = run.wrk(
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

        run.log("  /auth/me during a login storm")
        wait_for_quiet(run.quiet_wait_s)
        thread = threading.Thread(target=login_storm)
        thread.start()
        # The storm has ~1 s to reach full speed before the probe starts, and outlasts it.
        out["storm"] = run_wrk(
            server.url + "/auth/me",
            probe,
            duration_s=run.duration_s,
            warmup_s=1.0,
            connections=PROBE_CONNECTIONS,
            quiet_wait_s=0,
        ).as_dict()
        thread.join()
        out["storm_logins"] = storm["m"].as_dict() if "m" in storm else None
        run.log(
            f"    p99 idle {out['idle']['p99_ms']:.2f} ms, during storm "
            f"{out['storm']['p99_ms']:.2f} ms"
        )
    idle = out["idle"]["p99_ms"]
    out["ratio"] = round(out["storm"]["p99_ms"] / idle, 2) if idle else 0.0
    return out
