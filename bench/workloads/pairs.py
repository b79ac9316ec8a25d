"""The refresh comparison against flask-jwt-extended in alternating pairs, one command:
``make bench BENCH_ARGS="--only peers"`` (the peers workload runs it first).

Both servers run side by side (``tokensmith serve --workers 2`` and the Flask app under
``gunicorn -w 2``) on the same kind of database; then, round after round, a rotation-chain run
against each, back to back, with fresh sessions every run. The ratio is the median of the rounds'
ratios, so a change in the machine's load between two runs minutes apart (other tenants) moves
both sides of a pair alike. Server CPU per request is compared the same way.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any

from bench import services
from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.procs import ROOT, start_gunicorn, start_tokensmith, tokensmith_env
from bench.workloads.refresh import chain_run

__all__ = ["run_refresh_pairs"]

PEER = "flask-jwt-extended"


def _tokensmith(run: Run, db: str) -> Any:
    workdir = run.dir(f"pairs-tokensmith-{db}")
    extra: dict[str, str] = {}
    if db == "postgres":
        extra["DATABASE_URL"] = services.create_scratch_database("tokensmith_bench_pairs")
    env = tokensmith_env(workdir / "data", **extra)
    if db == "postgres":
        db_upgrade(env, workdir)
    server = start_tokensmith(workdir, env, workers=2)
    users = Users.numbered(run.connections, f"pairs-{db}.bench")
    register_all(server.url, users)
    return server, users.emails


def _flask(run: Run, db: str) -> Any:
    workdir = run.dir(f"pairs-flask-{db}")
    if db == "sqlite":
        url = f"sqlite:///{workdir / 'peer.db'}"
    else:
        url = services.create_scratch_database("bench_pairs_flask")
    env = tokensmith_env(workdir / "data", PEER_DATABASE_URL=url)
    module = "bench.peers.flask_app"
    subprocess.run(
        [sys.executable, "-m", module, "seed", str(run.connections)], env=env, cwd=ROOT, check=True
    )
    server = start_gunicorn(f"pairs-flask-{db}", f"{module}:app", workdir, env)
    emails = [f"user{i}@peers.bench" for i in range(run.connections)]
    return server, emails


def _one(run: Run, server: Any, emails: list[str], label: str, mode: str) -> dict[str, Any]:
    """``mode``: how the refresh token is presented (tokensmith: the JSON body;
    flask-jwt-extended: ``Authorization: Bearer``, as its docs do it)."""
    n = len(emails)
    sessions = login_all(server.url, emails + emails)
    refresh = [r for _, r in sessions]
    return chain_run(
        run,
        server.url + "/auth/refresh",
        refresh[n:],
        refresh[:n],
        mode=mode,
        name=label,
        server=server,
    ).as_dict()


def run_refresh_pairs(run: Run, db: str, rounds: int) -> dict[str, Any]:
    ours, our_emails = _tokensmith(run, db)
    with stopping(ours):
        theirs, their_emails = _flask(run, db)
        with stopping(theirs):
            pairs = []
            for i in range(rounds):
                run.log(f"  refresh pair {i + 1}/{rounds} on {db}")
                a = _one(run, ours, our_emails, f"pairs-ts-{db}-{i}", "body")
                b = _one(run, theirs, their_emails, f"pairs-flask-{db}-{i}", "bearer")
                for label, m in (("tokensmith", a), (PEER, b)):
                    bad = m["errors"] + m["non_2xx"] + m["failures"]
                    if bad:
                        raise RuntimeError(f"{label} refresh on {db}: {bad} bad answers")
                pairs.append({"tokensmith": a, PEER: b})
    ratios = [p["tokensmith"]["rps"] / p[PEER]["rps"] for p in pairs if p[PEER]["rps"]]
    cpu = [
        p[PEER]["server_cpu_ms_per_request"] / p["tokensmith"]["server_cpu_ms_per_request"]
        for p in pairs
        if p[PEER].get("server_cpu_ms_per_request")
        and p["tokensmith"].get("server_cpu_ms_per_request")
    ]
    ratio = statistics.median(ratios) if ratios else None
    middle = sorted(pairs, key=lambda p: p["tokensmith"]["rps"])[len(pairs) // 2]
    return {
        "peer": PEER,
        "rounds": pairs,
        "ratio": round(ratio, 2) if ratio is not None else None,
        "cpu_ratio": round(statistics.median(cpu), 2) if cpu else None,
        "tokensmith_median": middle["tokensmith"],
        "peer_median": middle[PEER],
        "p99_ms_max": max(p["tokensmith"]["p99_ms"] for p in pairs),
    }
