"""Server processes started the way a user would, on loopback ports, and their memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "BENCH_SECRETS",
    "Server",
    "free_port",
    "start_gunicorn",
    "start_tokensmith",
    "start_uvicorn_factory",
    "tokensmith_env",
]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

BENCH_SECRETS = {
    # Fixed so that several workers and instances agree without generating their own.
    "JWT_SECRET": "bench-access-secret-0123456789abcdef0123456789",
    "JWT_REFRESH_SECRET": "bench-refresh-secret-0123456789abcdef012345678",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tokensmith_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a tokensmith process under load: fixed secrets, rate limits out of
    the way (they are not what is measured), quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "TOKENSMITH_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(BENCH_SECRETS)
    env.update(
        {
            "TOKENSMITH_DATA_DIR": str(data_dir),
            "TOKENSMITH_LOG_LEVEL": "warning",
            "RATE_LIMIT_LOGIN": "1000000/second",
            "RATE_LIMIT_REFRESH": "1000000/second",
            "RATE_LIMIT_REGISTER": "1000000/second",
            "RATE_LIMIT_LOGIN_IP": "1000000/second",
            "RATE_LIMIT_LOGIN_ACCOUNT": "1000000/second",
            "RATE_LIMIT_PASSWORD": "1000000/second",
            "RATE_LIMIT_PASSWORD_IP": "1000000/second",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the supervisor that serve requests)."""
        children = [
            pid
            for pid, (ppid, cmdline, _) in _processes().items()
            if ppid == self.process.pid and b"resource_tracker" not in cmdline
        ]
        return sorted(children) or [self.process.pid]

    def rss_kib(self) -> dict[int, int]:
        result = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        result[pid] = int(line.split()[1])
        return result

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the workers and their own children (a
        hashing process pool): a per-request cost that the rest of a noisy machine does not
        inflate the way it inflates throughput."""
        table = _processes()
        workers = set(self.worker_pids())
        total = sum(table[pid][2] for pid in workers if pid in table)
        total += sum(ticks for ppid, _, ticks in table.values() if ppid in workers)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _processes() -> dict[int, tuple[int, bytes, int]]:
    """Every process: its parent, its command line and its CPU ticks (user + system)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
            table[int(entry.name)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            continue
    return table


def _start(
    name: str,
    cmd: Sequence[str],
    env: dict[str, str],
    workdir: Path,
    port: int,
    health_path: str,
    timeout_s: float,
) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    server = Server(name, proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{server.log[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + health_path, timeout=1.0).status_code < 500:
                return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} did not answer in {timeout_s}s:\n{server.log[-3000:]}")


def _tool(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def start_tokensmith(
    workdir: Path, env: dict[str, str], *, workers: int = 2, timeout_s: float = 60.0
) -> Server:
    """``tokensmith serve --workers N``, exactly as a user runs it."""
    port = free_port()
    cmd = [_tool("tokensmith"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    return _start("tokensmith", cmd, env, workdir, port, "/healthz", timeout_s)


def start_uvicorn_factory(
    name: str,
    factory: str,
    workdir: Path,
    env: dict[str, str],
    *,
    workers: int = 2,
    health_path: str = "/healthz",
    timeout_s: float = 60.0,
) -> Server:
    """``uvicorn module:factory --factory --workers N`` (the user's own app), with
    ``WEB_CONCURRENCY=N`` as docs/deployment.md tells users to set it: each worker's argon2 pool
    is its share of the CPUs, as under ``tokensmith serve --workers N``."""
    port = free_port()
    cmd = [_tool("uvicorn"), factory, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    env = {**env, "WEB_CONCURRENCY": str(workers)}
    return _start(name, cmd, env, workdir, port, health_path, timeout_s)


def start_gunicorn(
    name: str,
    app: str,
    workdir: Path,
    env: dict[str, str],
    *,
    workers: int = 2,
    health_path: str = "/healthz",
    timeout_s: float = 60.0,
) -> Server:
    """``gunicorn -w N module:app``: how Flask and Django document a production server."""
    port = free_port()
    cmd = [_tool("gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", app]
    cmd += ["--log-level", "warning", "--timeout", "60"]
    return _start(name, cmd, env, workdir, port, health_path, timeout_s)


def start_granian(
    name: str,
    factory: str,
    workdir: Path,
    env: dict[str, str],
    *,
    workers: int = 2,
    health_path: str = "/healthz",
    timeout_s: float = 60.0,
) -> Server:
    """``granian --interface asgi --factory module:factory --workers N`` (uvloop, one runtime
    thread per worker: the same shape as uvicorn's workers)."""
    port = free_port()
    cmd = [_tool("granian"), "--interface", "asgi", "--factory", factory]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--loop", "uvloop", "--log-level", "warning", "--no-access-log", "--no-ws"]
    return _start(name, cmd, env, workdir, port, health_path, timeout_s)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
