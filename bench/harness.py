"""What every workload shares: the run's settings, users and sessions, and the bench app state."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.procs import Server, _tool, start_uvicorn_factory, tokensmith_env
from bench.wrk import Measurement, render, run_wrk

__all__ = ["PASSWORD", "Run", "Users"]

PASSWORD = "bench-password-123"


@dataclass
class Run:
    """The settings of one ``python -m bench`` run and where its results go."""

    workdir: Path
    duration_s: float
    warmup_s: float
    quick: bool
    quiet_wait_s: float
    connections: int = 32
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    log: Callable[[str], None] = print

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def wrk(
        self,
        url: str,
        script: Path,
        *,
        connections: int | None = None,
        duration_s: float | None = None,
        warmup: bool = True,
        warmup_script: Path | None = None,
        server: Server | None = None,
    ) -> Measurement:
        if warmup and self.warmup_s > 0 and server is not None:
            run_wrk(
                url,
                warmup_script or script,
                duration_s=self.warmup_s,
                connections=connections or self.connections,
                quiet_wait_s=0,
            )
            warmup = False
        cpu_before = [0.0]

        def on_start() -> None:
            cpu_before[0] = server.cpu_s() if server else 0.0

        m = run_wrk(
            url,
            script,
            duration_s=duration_s or self.duration_s,
            warmup_s=self.warmup_s if warmup else 0.0,
            connections=connections or self.connections,
            quiet_wait_s=self.quiet_wait_s,
            warmup_script=warmup_script,
            on_start=on_start,
        )
        if server is not None and m.requests:
            cpu_ms = (server.cpu_s() - cpu_before[0]) * 1000 / m.requests
            m.server_cpu_ms_per_request = round(cpu_ms, 4)
        flag = " (disturbed)" if m.disturbed else ""
        per_request = m.server_cpu_ms_per_request
        cpu = f", {per_request:.3f} server CPU ms/req" if per_request is not None else ""
        self.log(
            f"    {url}: {m.rps:,.0f} req/s, p50 {m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms, "
            f"{m.errors + m.non_2xx + m.failures} bad{cpu}{flag}"
        )
        return m

    def bearer_script(self, path: str, token: str) -> Path:
        return render("bearer", self.workdir, path=path, token=token)


@dataclass
class Users:
    """Accounts created through a server's own API, shared by every workload on that server."""

    emails: list[str]
    password: str = PASSWORD

    @classmethod
    def numbered(cls, n: int, domain: str = "bench.test") -> Users:
        return cls([f"user{i}@{domain}" for i in range(n)])

    def write(self, path: Path, email_key: str = "email") -> Path:
        path.write_text("".join(f"{e} {self.password}\n" for e in self.emails))
        return path


def parallel(fn: Callable[[Any], Any], items: list[Any], threads: int = 4) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    """POST once more when the connection was closed before any answer, and say so: a
    ``tokensmith serve --workers 2`` just started has, rarely, closed a fresh connection that
    way (a cause not found yet, noted in docs/performance.md); the setup of a measurement must
    not fail on it, and nothing measured goes through here."""
    try:
        return httpx.post(url, json=body, timeout=30)
    except httpx.RemoteProtocolError as exc:
        print(f"  note: {url} closed a connection without answering ({exc}); sent again")
        return httpx.post(url, json=body, timeout=30)


def register_all(base_url: str, users: Users, path: str = "/auth/register") -> None:
    def one(email: str) -> None:
        r = _post(base_url + path, {"email": email, "password": users.password})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"register {email}: {r.status_code} {r.text[:200]}")

    parallel(one, users.emails)


def login_all(
    base_url: str,
    emails: list[str],
    password: str = PASSWORD,
    *,
    path: str = "/auth/login",
    email_key: str = "email",
    extract: Callable[[dict[str, Any]], tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """Log every email in once: one (access, refresh) pair, and so one session, each."""
    extract = extract or (lambda body: (body["accessToken"], body["refreshToken"]))

    def one(email: str) -> tuple[str, str]:
        r = _post(base_url + path, {email_key: email, "password": password})
        if r.status_code != 200:
            raise RuntimeError(f"login {email}: {r.status_code} {r.text[:200]}")
        return extract(r.json())

    return parallel(one, emails)


def db_upgrade(env: dict[str, str], workdir: Path) -> None:
    """``tokensmith db upgrade`` with the run's ``DATABASE_URL``, as an operator does."""
    proc = subprocess.run(
        [_tool("tokensmith"), "db", "upgrade"], env=env, cwd=workdir, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tokensmith db upgrade failed: {proc.stderr.strip()[-1000:]}")


def start_user_app(run: Run, name: str, env: dict[str, str], *, upgrade: bool = True) -> Server:
    """The bench's user app under ``uvicorn --factory --workers 2`` (schema upgraded first, so
    the two workers never race to migrate)."""
    workdir = run.dir(name)
    if upgrade:
        db_upgrade(env, workdir)
    return start_uvicorn_factory(name, "bench.apps.user_app:create_app", workdir, env)


def user_app_env(run: Run, name: str, **extra: str) -> dict[str, str]:
    data = run.dir(name) / "data"
    data.mkdir(exist_ok=True)
    extra.setdefault("DATABASE_URL", f"sqlite:///{data / 'tokensmith.db'}")
    return tokensmith_env(data, **extra)


def worker_states(server: Server, path: str = "/_bench/state") -> dict[int, dict[str, Any]]:
    """``/_bench/state`` of every worker: fresh connections until each worker has answered."""
    wanted = set(server.worker_pids())
    states: dict[int, dict[str, Any]] = {}
    for _ in range(200):
        with contextlib.suppress(httpx.HTTPError):
            body = httpx.get(server.url + path, timeout=2).json()
            states[int(body["pid"])] = body
        if wanted <= set(states):
            break
    return states


def worker_calls(server: Server, path: str = "/_bench/prune") -> dict[int, dict[str, int]]:
    wanted = set(server.worker_pids())
    seen: dict[int, dict[str, int]] = {}
    for _ in range(200):
        with contextlib.suppress(httpx.HTTPError):
            body = httpx.post(server.url + path, timeout=5).json()
            seen[int(body["pid"])] = body
        if wanted <= set(seen):
            break
    return seen


@contextlib.contextmanager
def stopping(*servers: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for s in servers:
            s.stop()


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def have_tool(name: str) -> bool:
    return shutil.which(_tool(name)) is not None
