"""2. refresh: rotation chains on the standalone server, on SQLite and on PostgreSQL.

Every wrk connection follows its own chain: sessions are created up front (one per connection,
plus a separate set for the warm-up) and the Lua script keeps each chain's latest refresh token,
so no token is ever presented twice (a presented-twice token would be reuse, not rotation)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bench import services
from bench.harness import Run, Users, db_upgrade, login_all, register_all, stopping
from bench.procs import Server, start_tokensmith, tokensmith_env
from bench.wrk import Measurement, render

__all__ = ["chain_run", "run_refresh"]


def chain_run(
    run: Run,
    url: str,
    warm_tokens: list[str],
    tokens: list[str],
    *,
    mode: str = "body",
    body_key: str = "refreshToken",
    resp_key: str = "refreshToken",
    name: str = "refresh",
    server: Server | None = None,
) -> Measurement:
    """wrk over rotation chains: one refresh token per connection, each used exactly once."""
    files = []
    for label, chain in (("warm", warm_tokens), ("measure", tokens)):
        path = run.workdir / f"{name}-{label}-tokens.txt"
        path.write_text("\n".join(chain) + "\n")
        files.append(path)
    scripts = [
        render(
            "refresh",
            run.workdir,
            tokens_file=f,
            threads=2,
            mode=mode,
            path=urlsplit(url).path,
            body_key=body_key,
            resp_key=resp_key,
        )
        for f in files
    ]
    return run.wrk(
        url, scripts[1], connections=len(tokens), warmup_script=scripts[0], server=server
    )


def _tokensmith_chains(run: Run, env: dict[str, str], label: str) -> dict[str, Any]:
    server = start_tokensmith(run.dir(f"refresh-{label}"), env, workers=2)
    with stopping(server):
        users = Users.numbered(run.connections, f"refresh-{label}.bench")
        register_all(server.url, users)
        sessions = login_all(server.url, users.emails + users.emails)
        refresh = [r for _, r in sessions]
        n = run.connections
        m = chain_run(
            run, server.url + "/auth/refresh", refresh[n:], refresh[:n], name=label, server=server
        )
        return m.as_dict()


def run_refresh(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {}
    run.log("  SQLite")
    data = run.dir("refresh-sqlite") / "data"
    out["sqlite"] = _tokensmith_chains(run, tokensmith_env(data), "sqlite")
    if services.postgres_available():
        run.log("  PostgreSQL")
        url = services.create_scratch_database("tokensmith_bench_refresh")
        env = tokensmith_env(run.dir("refresh-postgres") / "data", DATABASE_URL=url)
        db_upgrade(env, run.dir("refresh-postgres"))
        out["postgres"] = _tokensmith_chains(run, env, "postgres")
    else:
        run.notes.append("refresh on PostgreSQL skipped: no PostgreSQL on 127.0.0.1:5432")
    return out
