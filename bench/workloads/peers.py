"""7. peers: the refresh comparison with flask-jwt-extended in alternating pairs
(bench/workloads/pairs.py: the number the refresh targets use); then the protected and refresh
workloads against flask-jwt-extended and djangorestframework-simplejwt apps (gunicorn, 2
workers; same users and argon2 parameters), and the seed article's Redis-GET-per-request
approach as a protected-route baseline."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Any

import jwt

from bench import services
from bench.harness import Run, have, login_all, stopping
from bench.procs import (
    BENCH_SECRETS,
    ROOT,
    start_gunicorn,
    start_uvicorn_factory,
    tokensmith_env,
)
from bench.workloads.pairs import run_refresh_pairs
from bench.workloads.refresh import chain_run

__all__ = ["PEERS", "peers_installed", "run_peers"]

PEERS = {
    "flask-jwt-extended": {
        "module": "bench.peers.flask_app",
        "wsgi": "bench.peers.flask_app:app",
        "login": "/auth/login",
        "email_key": "email",
        "tokens": ("accessToken", "refreshToken"),
        "refresh": "/auth/refresh",
        "mode": "bearer",
        "body_key": "refreshToken",
        "resp_key": "refreshToken",
    },
    "simplejwt": {
        "module": "bench.peers.django_app",
        "wsgi": "bench.peers.django_app:application",
        "login": "/api/token/",
        "email_key": "username",
        "tokens": ("access", "refresh"),
        "refresh": "/api/token/refresh/",
        "mode": "body",
        "body_key": "refresh",
        "resp_key": "refresh",
    },
}
REQUIRED = ("flask_jwt_extended", "flask_sqlalchemy", "rest_framework_simplejwt", "gunicorn")


def peers_installed() -> bool:
    return all(have(m) for m in REQUIRED)


def _peer(run: Run, name: str, spec: dict[str, Any], db: str) -> dict[str, Any]:
    label = f"peer-{name}-{db}"
    workdir = run.dir(label)
    if db == "sqlite":
        url = f"sqlite:///{workdir / 'peer.db'}"
    else:
        url = services.create_scratch_database(f"bench_{name.replace('-', '_')}")
    env = tokensmith_env(workdir / "data", PEER_DATABASE_URL=url)
    n = run.connections
    subprocess.run(
        [sys.executable, "-m", spec["module"], "seed", str(n)], env=env, cwd=ROOT, check=True
    )
    server = start_gunicorn(label, spec["wsgi"], workdir, env)
    out: dict[str, Any] = {}
    with stopping(server):
        emails = [f"user{i}@peers.bench" for i in range(n)]
        access_key, refresh_key = spec["tokens"]
        sessions = login_all(
            server.url,
            emails + emails,
            path=spec["login"],
            email_key=spec["email_key"],
            extract=lambda body: (body[access_key], body[refresh_key]),
        )
        if db == "sqlite":
            run.log(f"  {name}: protected")
            out["protected"] = run.wrk(
                server.url + "/orders", run.bearer_script("/orders", sessions[0][0]), server=server
            ).as_dict()
        run.log(f"  {name}: refresh on {db}")
        refresh = [r for _, r in sessions]
        out["refresh"] = chain_run(
            run,
            server.url + spec["refresh"],
            refresh[n:],
            refresh[:n],
            mode=spec["mode"],
            body_key=spec["body_key"],
            resp_key=spec["resp_key"],
            name=label,
            server=server,
        ).as_dict()
    return out


def _redis_get_baseline(run: Run) -> dict[str, Any]:
    env = tokensmith_env(run.dir("peer-redis-get") / "data", PEER_REDIS_URL=services.REDIS_URL)
    server = start_uvicorn_factory(
        "peer-redis-get", "bench.peers.redis_get_app:create_app", run.dir("peer-redis-get"), env
    )
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "tokensmith",
            "aud": "tokensmith",
            "sub": str(uuid.uuid4()),
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 3600,
        },
        BENCH_SECRETS["JWT_SECRET"],
        algorithm="HS256",
    )
    with stopping(server):
        run.log("  Redis GET per request: protected")
        return {
            "protected": run.wrk(
                server.url + "/orders", run.bearer_script("/orders", token), server=server
            ).as_dict()
        }


def run_peers(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if services.redis_available():
        out["redis-get"] = _redis_get_baseline(run)
    else:
        run.notes.append("Redis-GET baseline skipped: no Redis on 127.0.0.1:6379")
    if not peers_installed():
        run.notes.append(
            "flask-jwt-extended and simplejwt peers skipped: install the bench extra "
            "(pip install -e '.[bench]')"
        )
        return out
    dbs = ["sqlite"] + (["postgres"] if services.postgres_available() else [])
    out["pairs"] = {db: run_refresh_pairs(run, db, 1 if run.quick else 3) for db in dbs}
    for name, spec in PEERS.items():
        out[name] = {}
        for db in dbs:
            result = _peer(run, name, spec, db)
            out[name]["protected"] = result.get("protected", out[name].get("protected"))
            out[name][f"refresh_{db}"] = result["refresh"]
    return out
