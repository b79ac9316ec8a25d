"""``python -m bench.profile PATH [--seconds S] [--redis] [--standalone]``: where a route's time
goes.

Starts the bench's user app (``uvicorn --workers 2``; with ``--standalone``, ``tokensmith serve
--workers 2``), logs a user in, drives ``GET PATH`` with a Bearer token through wrk, and samples
both workers with ``py-spy`` (bench extra). Prints the share of samples under each frame
(inclusive), summed over the workers, and keeps the raw profiles (py-spy's "raw" format, one
stack per line) in the temp folder it names.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import services
from bench.harness import (
    Run,
    Users,
    db_upgrade,
    login_all,
    register_all,
    start_user_app,
    user_app_env,
)
from bench.procs import BIN, start_tokensmith, start_uvicorn_factory
from bench.wrk import ensure_wrk, render

__all__ = ["COST_BUCKETS", "cost_model", "inclusive_shares"]

COST_BUCKETS: list[tuple[str, str]] = [
    # (bucket, regex on a frame); a sample goes to the bucket of its innermost matching frame.
    ("argon2", r"argon2|PasswordHasher"),
    ("verify", r"TokenCodec\.(verify|_verify|_check)|verify_signature|_b64decode|_parse_object"),
    ("sign", r"TokenCodec\.(issue|_sign|successor)|Issuer\.|_encode_json"),
    ("SQL", r"sqlalchemy|aiosqlite|asyncpg|tokensmith/storage/sql/|SqlDatabase|Sql\w+Repository"),
    ("rate limit", r"RateLimits\.hit|limits/"),
    (
        "parse",
        r"refresh_token_in|lean\.py\)|_read \(tokensmith|request_body_to_args|Request\.json"
        r"|Request\.body|_get_body",
    ),
    ("response", r"Response\.__call__|Response\.render|Response\.__init__|TokenResponder"),
    ("core (rest)", r"tokensmith/core/"),
    ("framework", r"starlette/|fastapi/|tokensmith/web/|tokensmith/server/(?!http_)|pydantic"),
    ("HTTP server", r"uvicorn/|httptools|granian|asyncio/|uvloop|tokensmith/server/http_"),
]


def cost_model(raw_files: list[Path]) -> tuple[int, collections.Counter[str]]:
    """Samples per bucket: each stack (root first) counts for the innermost frame that matches a
    bucket of :data:`COST_BUCKETS`; stacks matching none are "other"."""
    patterns = [(name, re.compile(rx)) for name, rx in COST_BUCKETS]
    total = 0
    buckets: collections.Counter[str] = collections.Counter()
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            bucket = "other"
            for frame in reversed(stack.split(";")):
                found = next((name for name, rx in patterns if rx.search(frame)), None)
                if found is not None:
                    bucket = found
                    break
            buckets[bucket] += n
    return total, buckets


def inclusive_shares(raw_files: list[Path]) -> tuple[int, collections.Counter[str]]:
    total = 0
    shares: collections.Counter[str] = collections.Counter()
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            for frame in {re.sub(r":\d+\)$", ")", f) for f in stack.split(";")}:
                shares[frame] += n
    return total, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "path", help="a GET route with a Bearer token, /auth/refresh or /auth/login"
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--redis", action="store_true", help="set REDIS_URL on the app")
    parser.add_argument("--database-url", help="DATABASE_URL (default: SQLite in a temp dir)")
    parser.add_argument(
        "--standalone", action="store_true", help="profile `tokensmith serve`, not the user app"
    )
    parser.add_argument(
        "--app", help="profile this uvicorn factory instead (e.g. bench.apps.hashing:cheap_argon2)"
    )
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--match", default="", help="only frames matching this regex")
    args = parser.parse_args()
    py_spy = str(BIN / "py-spy") if (BIN / "py-spy").exists() else shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    workdir = Path(tempfile.mkdtemp(prefix="tokensmith-profile-"))
    run = Run(workdir, duration_s=args.seconds, warmup_s=1, quick=True, quiet_wait_s=0)
    extra = {"REDIS_URL": services.REDIS_URL} if args.redis else {}
    if args.database_url:
        extra["DATABASE_URL"] = args.database_url
    env = user_app_env(run, "profile", **extra)
    if args.standalone:
        db_upgrade(env, run.dir("profile"))
        app = start_tokensmith(run.dir("profile"), env)
    elif args.app:
        db_upgrade(env, run.dir("profile"))
        app = start_uvicorn_factory("profile", args.app, run.dir("profile"), env)
    else:
        app = start_user_app(run, "profile", env)
    try:
        users = Users.numbered(32, "profile.bench")
        register_all(app.url, users)
        sessions = login_all(app.url, users.emails)
        if args.path == "/auth/refresh":
            tokens = workdir / "tokens.txt"
            tokens.write_text("".join(r + "\n" for _, r in sessions))
            script = render(
                "refresh",
                workdir,
                tokens_file=tokens,
                threads=2,
                mode="body",
                path=args.path,
                body_key="refreshToken",
                resp_key="refreshToken",
            )
        elif args.path == "/auth/login":
            script = render(
                "login",
                workdir,
                users_file=users.write(workdir / "users.txt"),
                threads=2,
                path=args.path,
                email_key="email",
            )
        else:
            script = run.bearer_script(args.path, sessions[0][0])
        seconds = int(args.seconds)
        load = subprocess.Popen(
            [
                ensure_wrk(),
                "-t2",
                "-c32",
                f"-d{seconds + 3}s",
                "-s",
                str(script),
                app.url + args.path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        cpu_before = app.cpu_s()
        outputs = []
        samplers = []
        for pid in app.worker_pids():
            out = workdir / f"py-spy-{pid}.txt"
            outputs.append(out)
            samplers.append(
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "-p",
                        str(pid),
                        "-d",
                        str(seconds),
                        "-r",
                        "250",
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for s in samplers:
            s.wait()
        cpu_s = app.cpu_s() - cpu_before
        wrk_out = load.communicate()[0].splitlines()
        summary = [line for line in wrk_out if "Requests/sec" in line]
        rps = float(summary[0].split()[-1]) if summary else 0.0
    finally:
        app.stop()
    total, shares = inclusive_shares([o for o in outputs if o.exists()])
    print(f"{args.path}: {' '.join(summary)}; {total} samples; raw profiles in {workdir}")
    # Server CPU per request over the sampled window (requests estimated from wrk's rate).
    cpu_us = cpu_s * 1e6 / (rps * seconds) if rps else 0.0
    counted, buckets = cost_model([o for o in outputs if o.exists()])
    print(f"cost model: {cpu_us:.0f} us of server CPU per request (while sampled), by bucket:")
    for name, n in buckets.most_common():
        print(f"  {name:12s} {100 * n / counted:5.1f}%  ~{cpu_us * n / counted:6.0f} us")
    shown = 0
    for frame, n in shares.most_common():
        if args.match and not re.search(args.match, frame):
            continue
        print(f"{100 * n / total:5.1f}%  {frame[:140]}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
