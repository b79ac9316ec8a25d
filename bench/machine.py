"""The machine: what it is, and whether it is quiet enough to measure on.

A shared 2-core machine swings by up to 2x between runs. Before each measurement we wait until
the CPUs are mostly idle (``/proc/stat`` over about a second, plus the load average), and during
it we watch how much CPU was stolen or spent outside our processes' reach, so a disturbed run is
marked rather than silently trusted.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

__all__ = ["CpuSample", "Quiet", "machine_info", "wait_for_quiet"]

QUIET_IDLE = 0.80
"""Idle share of all CPUs over the probe second above which the machine counts as quiet."""


@dataclass(frozen=True)
class CpuSample:
    busy: int
    idle: int
    steal: int

    @classmethod
    def now(cls) -> CpuSample:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal guest guest_nice
        idle = fields[3] + fields[4]
        steal = fields[7] if len(fields) > 7 else 0
        busy = sum(fields[:8]) - idle - steal
        return cls(busy, idle, steal)

    def idle_share_since(self, before: CpuSample) -> float:
        total = (self.busy - before.busy) + (self.idle - before.idle) + (self.steal - before.steal)
        return (self.idle - before.idle) / total if total > 0 else 1.0

    def steal_share_since(self, before: CpuSample) -> float:
        total = (self.busy - before.busy) + (self.idle - before.idle) + (self.steal - before.steal)
        return (self.steal - before.steal) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Quiet:
    quiet: bool
    waited_s: float
    idle_share: float
    load1: float

    def as_dict(self) -> dict[str, float | bool]:
        return {
            "quiet": self.quiet,
            "waited_s": round(self.waited_s, 2),
            "idle_share": round(self.idle_share, 3),
            "load1": self.load1,
        }


def wait_for_quiet(max_wait_s: float = 20.0, probe_s: float = 1.0) -> Quiet:
    """Probe CPU idle for ``probe_s`` at a time until it is above :data:`QUIET_IDLE` and the
    1-minute load average is below the CPU count, or ``max_wait_s`` passes (then not quiet)."""
    cpus = os.cpu_count() or 1
    if max_wait_s <= 0:
        probe_s = min(probe_s, 0.2)  # a smoke run: look once, briefly
    start = time.monotonic()
    idle = 0.0
    load1 = 0.0
    while True:
        before = CpuSample.now()
        time.sleep(probe_s)
        idle = CpuSample.now().idle_share_since(before)
        load1 = os.getloadavg()[0]
        if idle >= QUIET_IDLE and load1 < cpus:
            return Quiet(True, time.monotonic() - start, idle, load1)
        if time.monotonic() - start >= max_wait_s:
            return Quiet(False, time.monotonic() - start, idle, load1)


def machine_info() -> dict[str, object]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
