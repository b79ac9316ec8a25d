"""``wrk`` as the load generator: installing it, rendering the Lua scripts, parsing results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.machine import CpuSample, wait_for_quiet

__all__ = ["LoadError", "Measurement", "ensure_wrk", "render", "run_wrk"]

LUA = Path(__file__).parent / "lua"
STEAL_DISTURBED = 0.05
"""More than this share of CPU time stolen by the hypervisor during a run marks it disturbed."""


class LoadError(RuntimeError):
    """The load generator could not run (missing, crashed, or the target refused)."""


def ensure_wrk() -> str:
    """The path of ``wrk``, installing Debian's package when it is missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        subprocess.run([apt, "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadError(
        "wrk is not installed: run 'apt-get install -y wrk' (Debian/Ubuntu) and try again"
    )


def render(name: str, workdir: Path, **values: object) -> Path:
    """``bench/lua/<name>.lua`` with ``{{KEY}}`` replaced, after the shared ``common.lua``."""
    text = (LUA / f"{name}.lua").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key.upper() + "}}", str(value))
    if "{{" in text:
        raise ValueError(f"{name}.lua has unfilled placeholders")
    path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".lua", dir=workdir)[1])
    path.write_text((LUA / "common.lua").read_text() + "\n" + text)
    return path


@dataclass
class Measurement:
    """One wrk run: throughput, latency, errors, and whether the machine was quiet."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int
    failures: int
    starved: int
    connections: int
    quiet_before: dict[str, float | bool] = field(default_factory=dict)
    steal_share: float = 0.0
    disturbed: bool = False
    server_cpu_ms_per_request: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_wrk(
    url: str,
    script: Path,
    *,
    duration_s: float,
    warmup_s: float = 0.0,
    connections: int = 32,
    threads: int = 2,
    timeout_s: float = 10.0,
    quiet_wait_s: float = 20.0,
    warmup_script: Path | None = None,
    on_start: Callable[[], object] | None = None,
) -> Measurement:
    """Wait for a quiet machine, warm up, then run wrk for ``duration_s`` (``on_start`` is
    called just before the measured run starts)."""
    wrk = ensure_wrk()
    quiet = wait_for_quiet(quiet_wait_s)
    if warmup_s > 0:
        _wrk(wrk, url, warmup_script or script, warmup_s, connections, threads, timeout_s)
    if on_start is not None:
        on_start()
    before = CpuSample.now()
    raw = _wrk(wrk, url, script, duration_s, connections, threads, timeout_s)
    steal = CpuSample.now().steal_share_since(before)
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return Measurement(
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=errors,
        non_2xx=raw["status"],
        failures=raw["failures"],
        starved=raw["starved"],
        connections=connections,
        quiet_before=quiet.as_dict(),
        steal_share=round(steal, 3),
        disturbed=(not quiet.quiet) or steal > STEAL_DISTURBED,
    )


def _wrk(
    wrk: str,
    url: str,
    script: Path,
    duration_s: float,
    connections: int,
    threads: int,
    timeout_s: float,
) -> dict[str, int]:
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise LoadError(f"refusing to load a non-loopback target: {url}")
    # wrk's -d takes whole seconds (s, m, h units only): a floor of 1 s for smoke runs.
    duration = f"{max(1, round(duration_s))}s"
    cmd = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(script),
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return dict(json.loads(line.removeprefix("BENCHJSON ")))
    raise LoadError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
