"""The machine's raw argon2id verify rate with tokensmith's shipped parameters.

``python -m bench.argon2_rate --processes 2 --threads 2 --duration 5`` verifies in a loop in
2 processes of 2 threads each (argon2-cffi releases the GIL), the same shape as the server's
2 workers with their hashing pools, and prints verifies per second and the CPU milliseconds
each verify cost (user + system, every process) as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import threading
import time

from argon2 import PasswordHasher, Type

from tokensmith.core.passwords import OWASP_2023

__all__ = ["measure"]


def _worker(threads: int, duration_s: float, start_at: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    p = OWASP_2023
    hasher = PasswordHasher(
        time_cost=p.time_cost,
        memory_cost=p.memory_cost_kib,
        parallelism=p.parallelism,
        type=Type.ID,
    )
    stored = hasher.hash("bench-password-123")
    counts = [0] * threads

    def loop(i: int) -> None:
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + duration_s
        while time.time() < end:
            hasher.verify(stored, "bench-password-123")
            counts[i] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = time.process_time()
    for t in pool:
        t.join()
    out.put((sum(counts), time.process_time() - cpu_before))


def measure(processes: int = 2, threads: int = 2, duration_s: float = 5.0) -> tuple[float, float]:
    """Verifies per second across ``processes`` x ``threads``, and CPU ms per verify."""
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 1.5  # every process has imported and hashed before the clock starts
    procs = [
        ctx.Process(target=_worker, args=(threads, duration_s, start_at, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=duration_s + 60) for _ in procs]
    for p in procs:
        p.join()
    total = sum(n for n, _ in results)
    cpu_s = sum(c for _, c in results)
    return total / duration_s, (cpu_s * 1000 / total if total else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    rate, cpu_ms = measure(args.processes, args.threads, args.duration)
    print(
        json.dumps(
            {"verifies_per_s": round(rate, 1), "cpu_ms_per_verify": round(cpu_ms, 3), **vars(args)}
        )
    )


if __name__ == "__main__":
    main()
