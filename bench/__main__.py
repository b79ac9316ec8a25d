"""``python -m bench [--quick] [--only NAME[,NAME]] [--duration S] [--json PATH]``."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import Run
from bench.machine import machine_info
from bench.targets import Target, evaluate
from bench.workloads.hashing import run_hashing
from bench.workloads.lean import run_direct, run_lean, run_roundtrips
from bench.workloads.login import run_login, run_stall
from bench.workloads.memory import run_memory
from bench.workloads.peers import run_peers
from bench.workloads.propagation import run_propagation
from bench.workloads.protected import run_protected
from bench.workloads.refresh import run_refresh
from bench.workloads.servers import run_servers
from bench.workloads.services import run_services
from bench.wrk import LoadError, ensure_wrk

WORKLOADS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "protected": run_protected,
    "refresh": run_refresh,
    "login": run_login,
    "stall": run_stall,
    "propagation": run_propagation,
    "memory": run_memory,
    "peers": run_peers,
    "servers": run_servers,
    "lean": run_lean,
    "hashing": run_hashing,
    "roundtrips": run_roundtrips,
    "direct": run_direct,
    "services": run_services,
}
RESULTS = Path(__file__).parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: ~1 s per workload")
    parser.add_argument(
        "--only", default="", help=f"comma-separated workloads: {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--duration", type=float, help="seconds per measured wrk run (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="longest wait for a quiet machine before each run (default 10 s, --quick 2 s)",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not write bench/results/ (for the smoke test)"
    )
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Raise so every ``finally`` runs and the servers this run started are stopped.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    console = Console(width=150)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        console.print(f"[red]unknown workload(s): {', '.join(unknown)}[/red]")
        return 2
    try:
        ensure_wrk()
    except LoadError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    quick = args.quick
    workdir = Path(tempfile.mkdtemp(prefix="tokensmith-bench-"))
    run = Run(
        workdir=workdir,
        duration_s=args.duration or (1.0 if quick else 5.0),
        warmup_s=1.0 if quick else 2.0,
        quick=quick,
        quiet_wait_s=args.quiet_wait if args.quiet_wait is not None else (2.0 if quick else 10.0),
        connections=4 if quick else 32,
        log=lambda line: console.print(line, highlight=False),
    )
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv),
        "machine": machine_info(),
        "options": {
            "quick": quick,
            "duration_s": run.duration_s,
            "warmup_s": run.warmup_s,
            "connections": run.connections,
            "workers": 2,
        },
        "workloads": run.results,
        "errors": {},
        "notes": run.notes,
    }
    for name in names:
        console.print(f"[bold]{name}[/bold]")
        t0 = time.monotonic()
        try:
            run.results[name] = WORKLOADS[name](run)
        except Exception as exc:  # one broken workload must not lose the others' results
            console.print(f"[red]{name} failed: {exc}[/red]")
            report["errors"][name] = "".join(traceback.format_exception(exc))[-4000:]
        console.print(f"  ({time.monotonic() - t0:.0f} s)")
    targets = evaluate(run.results)
    report["targets"] = [t.as_dict() for t in targets]
    report["elapsed_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    console.print(results_table(run.results))
    console.print(targets_table(targets))
    for note in run.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    text = json.dumps(report, indent=2, default=str)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        (RESULTS / f"{stamp}.json").write_text(text)
        (RESULTS / "latest.json").write_text(text)
        console.print(f"results: bench/results/{stamp}.json (and latest.json)")
    if args.json:
        args.json.write_text(text)
    return 1 if report["errors"] else 0


def _rows(results: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, str]]:
    """(label, wrk measurement, extra) for every measurement in the results."""
    rows: list[tuple[str, dict[str, Any] | None, str]] = []
    p = results.get("protected")
    if p:
        n = len(p["rounds"])
        rows.append((f"protected: /orders-open unguarded (median of {n})", p["unguarded"], ""))
        rows.append(
            (
                f"protected: /orders guarded (median of {n})",
                p["guarded_median"],
                f"ratio {p['ratio']}",
            )
        )
        g = p["guarded"]
        calls = f"SQL/req {g['sql_per_request']}, Redis/req {g.get('redis_per_request', 'n/a')}"
        rows.append(("protected: /orders, calls counted", g["measurement"], calls))
        if "scoped" in p:
            rows.append(
                (
                    f"protected: /orders-scoped require_scopes (median of {n})",
                    p["scoped_median"],
                    f"ratio {p['scoped_ratio']}",
                )
            )
            sc = p["scoped"]
            calls = (
                f"SQL/req {sc['sql_per_request']}, Redis/req {sc.get('redis_per_request', 'n/a')}"
            )
            rows.append(("protected: /orders-scoped, calls counted", sc["measurement"], calls))
        me = p["me_user_app"]
        rows.append(
            (
                "protected: /auth/me (user app)",
                me["measurement"],
                f"SQL/req {me['sql_per_request']}",
            )
        )
        rows.append(("protected: /auth/me (tokensmith serve)", p["me_standalone"], ""))
        if p.get("bare_standalone"):
            rows.append(
                (
                    "protected: /healthz bare route (tokensmith serve, median)",
                    p["bare_standalone"],
                    f"/auth/me ratio {p['me_vs_bare_ratio']}",
                )
            )
    for db, m in (results.get("refresh") or {}).items():
        rows.append((f"refresh: tokensmith, {db}", m, ""))
    lg = results.get("login")
    if lg:
        n = len(lg["rounds"])
        rows.append((f"login: /auth/login (median of {n} rounds)", lg["login"], ""))
        raw = ", ".join(f"{r['raw_argon2']['verifies_per_s']:.1f}" for r in lg["rounds"])
        ratios = ", ".join(str(r["ratio"]) for r in lg["rounds"])
        rows.append(
            (
                "login: raw argon2id verify (each round)",
                None,
                f"{raw} per s; login ÷ raw {ratios}; by CPU {lg.get('cpu_ratio')}",
            )
        )
    st = results.get("stall")
    if st:
        ratios = ", ".join(str(r["ratio"]) for r in st.get("rounds", []))
        rows.append(("stall: /auth/me idle (paced probe, median round)", st["idle"], ""))
        rows.append(("stall: /auth/me during login storm", st["storm"], f"rounds' ratios {ratios}"))
    pr = results.get("propagation")
    if pr and "p50_ms" in pr:
        rows.append(
            (
                "propagation: logout on A -> B rejects",
                None,
                f"p50 {pr['p50_ms']} ms, p99 {pr['p99_ms']} ms, n={pr['samples']}, {pr['feed']}"
                + (
                    f"; B accepted it {pr['accepted_after_logout']} times after the logout answered"
                    if "accepted_after_logout" in pr
                    else ""
                ),
            )
        )
    sv = results.get("services")
    if sv:
        lo, fan = sv["logout_to_refusal"], sv["fan_out"]
        rows.append(
            (
                "services: logout -> Flask service refuses",
                None,
                f"p50 {lo['p50_ms']} ms, p99 {lo['p99_ms']} ms, n={lo['samples']}",
            )
        )
        for i, pair in enumerate(sv["guard"]["rounds"]):
            rows.append((f"services: Flask /plain unguarded ({i + 1})", pair["unguarded"], ""))
            rows.append((f"services: Flask /reports @require_token ({i + 1})", pair["guarded"], ""))
        rows.append(
            (
                f"services: {fan['subscribers']} stream subscribers",
                None,
                f"p50 {fan['p50_ms']} ms, p99 {fan['p99_ms']} ms, "
                f"RSS +{fan['rss_growth_mib']} MiB "
                f"({fan['rss_growth_kib_per_subscriber']} KiB each)",
            )
        )
    mem = results.get("memory")
    if mem:
        empty = mem["empty"]["rss_mib_mean"] if mem["empty"] else "n/a"
        rows.append(
            (
                "memory: RSS per worker",
                None,
                f"{empty} MiB empty, {mem['full']['rss_mib_mean']} "
                f"MiB with {mem['revoked']:,} revoked; after expiry "
                f"{mem['after_expiry']['revoked_per_worker']}",
            )
        )
    for db, pair in ((results.get("peers") or {}).get("pairs") or {}).items():
        n = len(pair["rounds"])
        rows.append(
            (
                f"pairs: tokensmith refresh on {db} (median of {n})",
                pair["tokensmith_median"],
                f"ratio {pair['ratio']}, CPU {pair['cpu_ratio']}x",
            )
        )
        rows.append((f"pairs: {pair['peer']} refresh on {db}", pair["peer_median"], ""))
    hs = results.get("hashing")
    if hs:
        for name in hs.get("variants", ("shipped", "sched_idle", "one_thread", "nice10")):
            v = hs.get(name)
            if v:
                rows.append(
                    (
                        f"hashing {name}: /auth/me p99 during login storm",
                        v["storm"],
                        f"x{v['stall_ratio']} of idle {v['idle']['p99_ms']:.2f} ms",
                    )
                )
                if v["logins"]:
                    rows.append(
                        (f"hashing {name}: logins", v["logins"], f"÷ raw argon2 {v['login_ratio']}")
                    )
    for workload in ("lean", "roundtrips", "direct"):
        for db, lean in (results.get(workload) or {}).items():
            ours, before = lean.get("apps", ["lean", "fastapi-only"])
            middle = sorted(lean["rounds"], key=lambda r: r[ours]["refresh"]["rps"])[
                len(lean["rounds"]) // 2
            ]
            for what, label in (("refresh", "refresh"), ("me", "/auth/me")):
                for name in (ours, before):
                    extra = (
                        f"{ours}/{before} {lean[f'{what}_ratio']}, CPU {lean[f'{what}_cpu_ratio']}x"
                        if name == ours
                        else ""
                    )
                    rows.append(
                        (
                            f"{workload}: {name} {label} on {db} (median round)",
                            middle[name][what],
                            extra,
                        )
                    )
    sv = results.get("servers")
    if sv and sv.get("rounds"):
        middle = sorted(sv["rounds"], key=lambda r: r["uvicorn"]["me"]["rps"])[
            len(sv["rounds"]) // 2
        ]
        for name in ("uvicorn", "granian"):
            for what, label in (("me", "/auth/me"), ("refresh", "refresh")):
                extra = f"granian/uvicorn {sv[f'{what}_ratio']}" if name == "granian" else ""
                rows.append((f"servers: {name} {label} (median round)", middle[name][what], extra))
    for peer, v in (results.get("peers") or {}).items():
        for key, m in v.items():
            if isinstance(m, dict) and "rps" in m:
                rows.append((f"peer {peer}: {key.replace('_', ' on ')}", m, ""))
    return rows


def results_table(results: dict[str, Any]) -> Table:
    table = Table(title="measurements")
    for col in ("workload", "req/s", "p50 ms", "p99 ms", "bad", "note"):
        table.add_column(col, justify="left" if col in ("workload", "note") else "right")
    for label, m, extra in _rows(results):
        if m is None:
            table.add_row(label, "", "", "", "", extra)
            continue
        bad = m["errors"] + m["non_2xx"] + m["failures"]
        note = " ".join(x for x in (extra, "disturbed" if m.get("disturbed") else "") if x)
        table.add_row(
            label, f"{m['rps']:,.0f}", f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}", str(bad), note
        )
    return table


def targets_table(targets: list[Target]) -> Table:
    table = Table(title="targets (ratios within this run)")
    for col in ("target", "value", "goal", "met", "detail"):
        table.add_column(col)
    for t in targets:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "n/a"}[t.met]
        if t.disturbed:
            met += " (disturbed)"
        table.add_row(t.name, "" if t.value is None else str(t.value), t.goal, met, t.detail)
    return table


if __name__ == "__main__":
    sys.exit(main())
