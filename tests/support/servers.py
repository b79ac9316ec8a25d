"""Start ``tokensmith serve`` as a real process on a free loopback port, the way a user would."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``tokensmith serve``; ``url`` is its base URL, ``log`` its combined output."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int | None = None) -> None:
        if self.process.poll() is not None:
            return
        if sig is None:
            self.process.terminate()
        else:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_server(
    data_dir: Path,
    env: dict[str, str] | None = None,
    *,
    workers: int = 1,
    port: int | None = None,
    timeout_s: float = 30.0,
    python: str = sys.executable,
) -> ServerProcess:
    """Start a server with its data dir at ``data_dir`` and wait until ``/healthz`` answers;
    ``python`` is the interpreter whose installed tokensmith runs (``-m tokensmith serve``)."""
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "TOKENSMITH_"))}
    full_env.update(
        {
            "TOKENSMITH_DATA_DIR": str(data_dir),
            # Generous limits: tests that exercise rate limiting set their own.
            "RATE_LIMIT_LOGIN": "10000/minute",
            "RATE_LIMIT_REFRESH": "10000/minute",
            "RATE_LIMIT_REGISTER": "10000/minute",
            "RATE_LIMIT_LOGIN_IP": "10000/minute",
            "RATE_LIMIT_LOGIN_ACCOUNT": "10000/minute",
            "RATE_LIMIT_PASSWORD": "10000/minute",
            "RATE_LIMIT_PASSWORD_IP": "10000/minute",
        }
    )
    full_env.update(env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    cmd = [python, "-m", "tokensmith", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log_path, full_env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout_s}s:\n{server.log}")


@contextlib.contextmanager
def running_server(
    data_dir: Path, env: dict[str, str] | None = None, *, workers: int = 1
) -> Iterator[ServerProcess]:
    server = start_server(data_dir, env, workers=workers)
    try:
        yield server
    finally:
        server.stop()
