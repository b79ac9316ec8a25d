"""8. services (contract 10): another service verifies tokensmith's tokens.

- logout at tokensmith -> the Flask example service refuses the token: p50/p99 over 200 samples;
- the Flask service's route guarded by ``@require_token`` against the same route unguarded
  (gunicorn, 2 workers), and the requests tokensmith saw meanwhile (target: none per request);
- 1,000 subscribers on ``/auth/revocations/stream``: the delay from a logout's answer until
  each subscriber has the event (p50/p99 over every delivery), and tokensmith's RSS before and
  with them connected.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Run, stopping
from bench.machine import wait_for_quiet
from bench.procs import BENCH_SECRETS, Server, start_gunicorn, start_tokensmith, tokensmith_env
from bench.workloads.propagation import percentile

__all__ = ["run_services"]

CLIENT_ID = "bench-service"
CLIENT_SECRET = "bench-service-secret-0123456789abcdef0123456789"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
POLL_TIMEOUT_S = 5.0


def _start_session(client: httpx.Client, subject: str) -> str:
    """A session opened by the service client (no password hashing: not what is measured)."""
    r = client.post("/auth/sessions", json={"subject": subject}, headers={"Authorization": BASIC})
    if r.status_code != 201:
        raise RuntimeError(f"POST /auth/sessions: {r.status_code} {r.text[:200]}")
    return str(r.json()["accessToken"])


def _requests_seen(server: Server) -> float:
    """Requests tokensmith has answered (from its own /metrics), all routes."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^tokensmith_http_requests_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
    )


def _logout_to_refusal(run: Run, ts: Server, flask: Server, samples: int) -> dict[str, Any]:
    delays_ms: list[float] = []
    timeouts = 0
    with (
        httpx.Client(base_url=ts.url, timeout=10) as auth,
        httpx.Client(base_url=flask.url, timeout=10) as s1,
        httpx.Client(base_url=flask.url, timeout=10) as s2,
    ):
        tokens = [_start_session(auth, f"svc-{i}") for i in range(samples)]
        for token in tokens:
            bearer = {"Authorization": f"Bearer {token}"}
            if s1.get("/reports", headers=bearer).status_code != 200:
                raise RuntimeError("the Flask service does not accept a fresh token")
            s2.get("/reports", headers=bearer)
            r = auth.post("/auth/logout", headers=bearer)
            answered = time.perf_counter()
            if r.status_code != 200:
                raise RuntimeError(f"logout: {r.status_code} {r.text[:200]}")
            # Two keep-alive connections: gunicorn's two workers each follow the stream.
            pending = [s1, s2]
            while pending and time.perf_counter() - answered < POLL_TIMEOUT_S:
                pending = [
                    c for c in pending if c.get("/reports", headers=bearer).status_code != 401
                ]
            if pending:
                timeouts += 1
            else:
                delays_ms.append((time.perf_counter() - answered) * 1000)
    result = {
        "samples": len(delays_ms),
        "timeouts": timeouts,
        "p50_ms": round(percentile(delays_ms, 50), 2),
        "p99_ms": round(percentile(delays_ms, 99), 2),
        "max_ms": round(max(delays_ms), 2) if delays_ms else 0.0,
        "mean_ms": round(statistics.fmean(delays_ms), 2) if delays_ms else 0.0,
    }
    run.log(f"    logout -> Flask refuses: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    return result


def _guard_ratio(run: Run, ts: Server, flask: Server) -> dict[str, Any]:
    with httpx.Client(base_url=ts.url, timeout=10) as auth:
        token = _start_session(auth, "svc-load")
    guarded_script = run.bearer_script("/reports", token)
    plain_script = render_plain(run, token)
    rounds = 1 if run.quick else 3
    pairs: list[dict[str, Any]] = []
    seen_before = _requests_seen(ts)
    guarded_requests = 0
    for _ in range(rounds):
        unguarded = run.wrk(flask.url, plain_script, server=flask)
        guarded = run.wrk(flask.url, guarded_script, server=flask)
        guarded_requests += guarded.requests
        pairs.append({"unguarded": unguarded.as_dict(), "guarded": guarded.as_dict()})
    seen_after = _requests_seen(ts) - 1  # the first /metrics read (a scrape counts after it)
    ratios = sorted(p["guarded"]["rps"] / max(p["unguarded"]["rps"], 1) for p in pairs)
    median = ratios[len(ratios) // 2]
    calls = max(0.0, seen_after - seen_before)
    result = {
        "rounds": pairs,
        "ratio": round(median, 3),
        "tokensmith_requests_during_load": calls,
        "network_calls_per_request": round(calls / max(guarded_requests, 1), 6),
        "guarded_requests": guarded_requests,
    }
    run.log(f"    guarded / unguarded: {result['ratio']}, {calls:.0f} calls to tokensmith")
    return result


def render_plain(run: Run, token: str) -> Path:
    """The same request (with its Authorization header) to the unguarded twin route."""
    return run.bearer_script("/plain", token)


async def _subscriber(
    port: int, ready: asyncio.Event, received: dict[str, float], wanted: set[str]
) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "GET /auth/revocations/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {BASIC}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()

    async def read() -> None:
        first = True
        while True:
            line = await reader.readline()
            if not line:
                return
            if first and line.startswith(b"data: "):
                first = False
                ready.set()
                continue
            if line.startswith(b"data: "):
                now = time.perf_counter()
                for sid in wanted:
                    if sid.encode() in line and sid not in received:
                        received[sid] = now

    writer.transport.set_write_buffer_limits(0)
    asyncio.get_running_loop().create_task(read())
    return writer


async def _fan_out_async(
    run: Run, ts: Server, subscribers: int, revocations: int
) -> dict[str, Any]:
    port = int(ts.url.rsplit(":", 1)[1])
    rss_before = ts.rss_kib()
    sids: list[str] = []
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=ts.url, timeout=30) as auth:
        for i in range(revocations):
            r = await auth.post(
                "/auth/sessions", json={"subject": f"fan-{i}"}, headers={"Authorization": BASIC}
            )
            tokens.append(r.json()["accessToken"])
        for token in tokens:
            payload = token.split(".")[1]
            claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            match = re.search(rb'"sid":"([^"]+)"', claims)
            assert match is not None
            sids.append(match.group(1).decode())
        received: list[dict[str, float]] = [{} for _ in range(subscribers)]
        readies = [asyncio.Event() for _ in range(subscribers)]
        wanted = set(sids)
        writers = []
        for i in range(subscribers):
            writers.append(await _subscriber(port, readies[i], received[i], wanted))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 120)
        await asyncio.sleep(1.0)
        rss_with = ts.rss_kib()
        delays_ms: list[float] = []
        missing = 0
        for token, sid in zip(tokens, sids, strict=True):
            r = await auth.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
            answered = time.perf_counter()
            deadline = answered + 10
            while time.perf_counter() < deadline and any(sid not in got for got in received):
                await asyncio.sleep(0.005)
            for got in received:
                if sid in got:
                    delays_ms.append((got[sid] - answered) * 1000)
                else:
                    missing += 1
        for writer in writers:
            with contextlib.suppress(Exception):
                writer.close()
    before = sum(rss_before.values())
    after = sum(rss_with.values())
    result = {
        "subscribers": subscribers,
        "revocations": revocations,
        "deliveries": len(delays_ms),
        "missing": missing,
        "p50_ms": round(percentile(delays_ms, 50), 2),
        "p99_ms": round(percentile(delays_ms, 99), 2),
        "max_ms": round(max(delays_ms), 2) if delays_ms else 0.0,
        "rss_before_mib": round(before / 1024, 1),
        "rss_with_subscribers_mib": round(after / 1024, 1),
        "rss_growth_mib": round((after - before) / 1024, 1),
        "rss_growth_kib_per_subscriber": round((after - before) / max(subscribers, 1), 1),
    }
    run.log(
        f"    {subscribers} subscribers: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"RSS +{result['rss_growth_mib']} MiB"
    )
    return result


def run_services(run: Run) -> dict[str, Any]:
    extra = {"SERVICE_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}"}
    ts_env = tokensmith_env(run.dir("services-tokensmith") / "data", **extra)
    ts = start_tokensmith(run.dir("services-tokensmith"), ts_env, workers=1)
    flask_env = {
        **ts_env,
        "TOKENSMITH_ISSUER_URL": ts.url,
        "TOKENSMITH_CLIENT_ID": CLIENT_ID,
        "TOKENSMITH_CLIENT_SECRET": CLIENT_SECRET,
        "TOKENSMITH_JWT_SECRET": BENCH_SECRETS["JWT_SECRET"],
    }
    with stopping(ts):
        flask = start_gunicorn(
            "flask-service",
            "examples.services.flask_app:create_app()",
            run.dir("services-flask"),
            flask_env,
            health_path="/public",
        )
        with stopping(flask):
            quiet = wait_for_quiet(run.quiet_wait_s)
            logout = _logout_to_refusal(run, ts, flask, 10 if run.quick else 200)
            ratio = _guard_ratio(run, ts, flask)
        fan_out = asyncio.run(
            _fan_out_async(run, ts, 50 if run.quick else 1000, 3 if run.quick else 10)
        )
    return {
        "logout_to_refusal": logout,
        "guard": ratio,
        "fan_out": fan_out,
        "quiet_before": quiet.as_dict(),
    }
