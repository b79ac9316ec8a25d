"""The refresh's core path on SQLite, without HTTP: ``python -m bench.rotation_micro``.

``N`` processes (like ``serve --workers N``) share one SQLite file; each runs 16 rotation chains
through :meth:`SessionService.refresh` for ``--seconds`` and reports rotations per second, how
often the write lock was found taken (``busy``), and the p50/p99/max of one rotation. Options
compare what round three of issue 16 changed:

* ``--max-pause S``: the longest pause between tries for the write lock (shipped: 0.001);
* ``--autocheckpoint``: SQLite's own checkpoints inside commits (as before round three) instead
  of the checkpointer thread (``storage/sql/checkpoint.py``);
* ``--pragma NAME=VALUE``: more settings on the rotation's connection (``mmap_size=...``).

Prints one JSON line. The figures in docs/performance.md come from alternating runs of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tokensmith.core.audit import RequestContext
from tokensmith.core.clock import ManualClock
from tokensmith.core.passwords import TESTING
from tokensmith.runtime import Services, build_services
from tokensmith.settings import load_settings
from tokensmith.storage.sql import checkpoint, sqlite_writer
from tokensmith.storage.sql.migrate import upgrade

CTX = RequestContext("10.0.0.1", "bench")
CHAINS = 16


def _services(data: Path) -> Services:
    settings = load_settings(
        {"DATABASE_URL": f"sqlite:///{data / 'tokensmith.db'}", "TOKENSMITH_DATA_DIR": str(data)}
    )
    return build_services(
        settings, clock=ManualClock(datetime(2026, 1, 5, tzinfo=UTC)), argon2=TESTING
    )


async def _logins(data: Path, n: int) -> list[str]:
    services = _services(data)
    await upgrade(services.database)
    await services.start()
    try:
        await services.accounts.register("bench@example.com", "correct horse battery", "B", CTX)
        tokens = []
        for _ in range(n):
            login = await services.accounts.login("bench@example.com", "correct horse battery", CTX)
            assert login.tokens.refresh_token is not None
            tokens.append(login.tokens.refresh_token)
        return tokens
    finally:
        await services.stop()


def _worker(data: Path, tokens: list[str], args: argparse.Namespace, out: Any) -> None:
    busy = [0]
    transaction = sqlite_writer.SqliteConnection.transaction

    def counted(self: sqlite_writer.SqliteConnection, steps: Any) -> Any:
        try:
            return transaction(self, steps)
        except sqlite_writer.SqliteBusy:
            busy[0] += 1
            raise

    sqlite_writer.SqliteConnection.transaction = counted  # type: ignore[method-assign]
    sqlite_writer.SqliteConnection.MAX_PAUSE_S = args.max_pause

    async def main() -> None:
        services = _services(data)
        if args.autocheckpoint:

            async def nothing() -> None:
                return None

            services.database.maintain = nothing  # type: ignore[method-assign]
        await services.start()
        connection = services.database._rotation._sqlite
        assert connection is not None
        latencies: list[float] = []
        end = time.perf_counter() + args.seconds

        async def chain(token: str) -> None:
            while time.perf_counter() < end:
                started = time.perf_counter()
                issued = await services.sessions.refresh(token, CTX)
                latencies.append(time.perf_counter() - started)
                assert issued.refresh_token is not None
                token = issued.refresh_token
                await asyncio.sleep(0)  # as a server's loop turns between requests

        first = await services.sessions.refresh(tokens[0], CTX)  # opens the connection
        assert first.refresh_token is not None and connection._connection is not None
        if args.autocheckpoint:
            connection._connection.execute("PRAGMA wal_autocheckpoint=1000")
        for pragma in args.pragma:
            connection._connection.execute(f"PRAGMA {pragma}")
        await asyncio.gather(*(chain(t) for t in [first.refresh_token, *tokens[1:]]))
        await services.stop()
        out.put({"rotations": len(latencies), "busy": busy[0], "latencies": latencies})

    asyncio.run(main())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="tokensmith-rotation-micro-"))
    tokens = asyncio.run(_logins(data, CHAINS * args.processes))
    out: Any = multiprocessing.get_context("spawn").Queue()
    workers = [
        multiprocessing.get_context("spawn").Process(
            target=_worker, args=(data, tokens[i * CHAINS : (i + 1) * CHAINS], args, out)
        )
        for i in range(args.processes)
    ]
    for w in workers:
        w.start()
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "processes": args.processes,
        "max_pause_s": args.max_pause,
        "checkpoints": "in commits" if args.autocheckpoint else "thread",
        "rotations_per_s": round(sum(r["rotations"] for r in results) / args.seconds),
        "busy": sum(r["busy"] for r in results),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "wal_interval_s": checkpoint.Checkpointer.INTERVAL_S,
        "pragmas": args.pragma,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rotation_micro", description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--max-pause", type=float, default=sqlite_writer.SqliteConnection.MAX_PAUSE_S
    )
    parser.add_argument("--autocheckpoint", action="store_true")
    parser.add_argument(
        "--pragma", action="append", default=[], help="e.g. mmap_size=268435456 (repeatable)"
    )
    print(json.dumps(measure(parser.parse_args())))


if __name__ == "__main__":
    main()
