"""``python -m bench.stall_probe [--rounds N] [--seconds S]``: where the stall's tail comes from.

The ``stall`` workload's measure (the paced ``/auth/me`` probe, idle then during a login storm,
on ``tokensmith serve --workers 2``) with, for each measurement, what the kernel says about every
worker's threads (``/proc/<pid>/task/<tid>/schedstat``): CPU time, time spent runnable but
waiting for a CPU, and the number of times it got one. The event loop is each worker's main
thread; the rest are its other threads (the revocation feed's, the checkpointer's, uvicorn's
health check). A loop that waits for a CPU is a probe that waits.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench.harness import Users, login_all, register_all, stopping
from bench.procs import Server, start_tokensmith, tokensmith_env
from bench.workloads.login import PROBE_DELAY_MS
from bench.wrk import Measurement, render, run_wrk

__all__ = ["schedstat"]


def schedstat(server: Server) -> list[tuple[int, int, int, int, int, int]]:
    """Per worker: the main thread's (CPU ns, waiting ns, timeslices), then the same summed over
    its other threads."""
    rows = []
    for pid in server.worker_pids():
        main = other = (0, 0, 0)
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            except OSError:
                continue
            numbers = (int(fields[0]), int(fields[1]), int(fields[2]))
            if int(tid) == pid:
                main = numbers
            else:
                other = (other[0] + numbers[0], other[1] + numbers[1], other[2] + numbers[2])
        rows.append((*main, *other))
    return rows


def _describe(before: list[Any], after: list[Any]) -> str:
    parts = []
    for a, b in zip(before, after, strict=False):
        run, wait, n = (b[i] - a[i] for i in range(3))
        run2, wait2 = b[3] - a[3], b[4] - a[4]
        parts.append(
            f"loop: CPU {run / 1e6:.0f} ms, waited {wait / 1e6:.0f} ms "
            f"({wait / max(n, 1) / 1e3:.0f} us a wake-up); other threads: CPU "
            f"{run2 / 1e6:.0f} ms, waited {wait2 / 1e6:.0f} ms"
        )
    return "\n      ".join(parts)


def _storm(server: Server, login: Path, seconds: float, out: dict[str, Measurement]) -> None:
    """16 connections logging in for ``seconds`` (the ``stall`` workload's storm)."""
    out["m"] = run_wrk(
        server.url + "/auth/login", login, duration_s=seconds, connections=16, quiet_wait_s=0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--delay-ms",
        type=int,
        default=PROBE_DELAY_MS,
        help="the probe's pause between requests on each connection",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokensmith-stall-"))
    server = start_tokensmith(work / "server", tokensmith_env(work / "server" / "data"))
    with stopping(server):
        users = Users.numbered(16, "stall.bench")
        register_all(server.url, users)
        access, _ = login_all(server.url, users.emails[:1])[0]
        probe = render("probe", work, path="/auth/me", token=access, delay_ms=args.delay_ms)
        login = render(
            "login",
            work,
            users_file=users.write(work / "users.txt"),
            threads=2,
            path="/auth/login",
            email_key="email",
        )

        def measure() -> Measurement:
            return run_wrk(
                server.url + "/auth/me",
                probe,
                duration_s=args.seconds,
                warmup_s=1.0,
                connections=2,
                quiet_wait_s=0,
            )

        for i in range(args.rounds):
            for storm in (False, True):
                logins: dict[str, Measurement] = {}
                thread = None
                if storm:
                    thread = threading.Thread(
                        target=_storm, args=(server, login, args.seconds + 3, logins)
                    )
                    thread.start()
                before = schedstat(server)
                m = measure()
                after = schedstat(server)
                if thread is not None:
                    thread.join()
                rate = f", logins {logins['m'].rps:.1f}/s" if "m" in logins else ""
                print(
                    f"round {i + 1} {'storm' if storm else 'idle '}: /auth/me p50 {m.p50_ms:.2f} "
                    f"p90 {m.p90_ms:.2f} p99 {m.p99_ms:.2f} max {m.max_ms:.2f} ms{rate}\n"
                    f"      {_describe(before, after)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
