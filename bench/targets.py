"""The issue's targets, each computed as a ratio from one run's results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Target", "evaluate"]


@dataclass
class Target:
    name: str
    value: float | None
    goal: str
    met: bool | None
    detail: str
    disturbed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _disturbed(*measurements: Any) -> bool:
    return any(isinstance(m, dict) and m.get("disturbed") for m in measurements)


def _cpu_note(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """The same comparison by server CPU per request, which a noisy machine disturbs less."""
    a, b = ours.get("server_cpu_ms_per_request"), theirs.get("server_cpu_ms_per_request")
    if not a or not b:
        return ""
    return f"; by server CPU/request {b / a:.2f}x ({a:.2f} vs {b:.2f} ms)"


def evaluate(results: dict[str, Any]) -> list[Target]:
    targets: list[Target] = []
    p = results.get("protected")
    if p:
        g, u = p["guarded_median"], p["unguarded"]
        calls = p["guarded"]["sql_per_request"] + p["guarded"].get("redis_per_request", 0.0)
        targets.append(
            Target(
                "protected / unguarded",
                p["ratio"],
                ">= 0.85",
                p["ratio"] >= 0.85,
                f"median of {len(p['rounds'])} pairs; {g['rps']:,.0f} vs {u['rps']:,.0f} req/s"
                + (f"; by server CPU/request {p['cpu_ratio']}" if p.get("cpu_ratio") else ""),
                _disturbed(g, u),
            )
        )
        if "scoped_ratio" in p:
            sc = p["scoped_median"]
            scoped_calls = p["scoped"]["sql_per_request"] + p["scoped"].get(
                "redis_per_request", 0.0
            )
            targets.append(
                Target(
                    "require_scopes / unguarded",
                    p["scoped_ratio"],
                    ">= 0.85",
                    p["scoped_ratio"] >= 0.85,
                    f"median of {len(p['rounds'])} rounds; {sc['rps']:,.0f} vs {u['rps']:,.0f} "
                    "req/s (claims hook configured)"
                    + (
                        f"; by server CPU/request {p['scoped_cpu_ratio']}"
                        if p.get("scoped_cpu_ratio")
                        else ""
                    ),
                    _disturbed(sc, u),
                )
            )
            targets.append(
                Target(
                    "DB+Redis calls per require_scopes request",
                    round(scoped_calls, 3),
                    "0",
                    scoped_calls < 0.01,
                    f"SQL {p['scoped']['sql_per_request']}, "
                    f"Redis {p['scoped'].get('redis_per_request', 'n/a')}",
                )
            )
        if p.get("me_vs_bare_ratio") is not None:
            b = p["bare_standalone"]
            targets.append(
                Target(
                    "/auth/me / bare route (tokensmith serve)",
                    p["me_vs_bare_ratio"],
                    ">= 0.8",
                    p["me_vs_bare_ratio"] >= 0.8,
                    f"median of {len(p['me_vs_bare_rounds'])} pairs; /healthz {b['rps']:,.0f} "
                    "req/s on the same server",
                    _disturbed(*(x for r in p["me_vs_bare_rounds"] for x in r.values())),
                )
            )
        targets.append(
            Target(
                "DB+Redis calls per protected request",
                round(calls, 3),
                "0",
                calls < 0.01,
                f"SQL {p['guarded']['sql_per_request']}, "
                f"Redis {p['guarded'].get('redis_per_request', 'n/a')}",
            )
        )
    r, peers = results.get("refresh"), results.get("peers") or {}
    pairs = peers.get("pairs") or {}
    for db in ("sqlite", "postgres"):
        goal = 3 if db == "sqlite" else 2
        m = (r or {}).get(db)
        pair = pairs.get(db)
        if pair and pair.get("ratio") is not None:
            ours, theirs = pair["tokensmith_median"], pair["peer_median"]
            n = len(pair["rounds"])
            targets.append(
                Target(
                    f"refresh {db} / {pair['peer']}",
                    pair["ratio"],
                    f">= {goal}",
                    pair["ratio"] >= goal,
                    f"median of {n} alternating pairs; median round {ours['rps']:,.0f} vs "
                    f"{theirs['rps']:,.0f} req/s; by server CPU/request {pair['cpu_ratio']}x",
                    _disturbed(*(x for p in pair["rounds"] for x in p.values())),
                )
            )
        elif m:
            peer_rps = {
                name: v[f"refresh_{db}"]["rps"]
                for name, v in peers.items()
                if isinstance(v, dict) and f"refresh_{db}" in v
            }
            if peer_rps:
                best = max(peer_rps, key=lambda k: peer_rps[k])
                ratio = round(m["rps"] / peer_rps[best], 2) if peer_rps[best] else None
                targets.append(
                    Target(
                        f"refresh {db} / faster peer",
                        ratio,
                        f">= {goal}",
                        ratio is not None and ratio >= goal,
                        f"{m['rps']:,.0f} vs {best} {peer_rps[best]:,.0f} req/s"
                        + _cpu_note(m, peers[best][f"refresh_{db}"]),
                        _disturbed(m, peers[best][f"refresh_{db}"]),
                    )
                )
            else:
                targets.append(
                    Target(f"refresh {db} / faster peer", None, f">= {goal}", None, "peers not run")
                )
        if not m and pair:
            m = pair["tokensmith_median"]
        if not m:
            continue
        ok = m["p99_ms"] < 50 and m["failures"] == 0 and m["starved"] == 0
        targets.append(
            Target(
                f"refresh {db} p99 at {m['connections']} connections",
                m["p99_ms"],
                "< 50 ms",
                ok,
                f"{m['rps']:,.0f} req/s, {m['failures']} failed",
                _disturbed(m),
            )
        )
    lg = results.get("login")
    if lg:
        raw = lg["raw_argon2"]["verifies_per_s"]
        cpu = f"; by CPU {lg['cpu_ratio']}" if lg.get("cpu_ratio") is not None else ""
        targets.append(
            Target(
                "login / raw argon2 verify",
                lg["ratio"],
                ">= 0.85",
                lg["ratio"] >= 0.85,
                f"median of {len(lg['rounds'])} alternating rounds; median round "
                f"{lg['login']['rps']:,.1f} vs {raw:,.1f} /s{cpu}",
                _disturbed(*(m for r in lg["rounds"] for m in (r["login"], r["raw_argon2"]))),
            )
        )
    st = results.get("stall")
    if st:
        targets.append(
            Target(
                "stall: /auth/me p99 storm / idle",
                st["ratio"],
                "<= 3",
                st["ratio"] <= 3,
                f"median of {len(st.get('rounds', [st]))} alternating rounds; median round "
                f"{st['storm']['p99_ms']:.2f} vs {st['idle']['p99_ms']:.2f} ms",
                _disturbed(*(r["idle"] for r in st.get("rounds", [st]))),
            )
        )
    pr = results.get("propagation")
    if pr and "p99_ms" in pr:
        targets.append(
            Target(
                "propagation p99",
                pr["p99_ms"],
                "<= 100 ms",
                pr["p99_ms"] <= 100 and pr["timeouts"] == 0,
                f"p50 {pr['p50_ms']} ms, {pr['samples']} samples, {pr['feed']}",
                _disturbed(pr),
            )
        )
    sv = results.get("services")
    if sv:
        lo, guard, fan = sv["logout_to_refusal"], sv["guard"], sv["fan_out"]
        targets.append(
            Target(
                "services: logout -> Flask refuses p99",
                lo["p99_ms"],
                "<= 100 ms",
                lo["p99_ms"] <= 100 and lo["timeouts"] == 0,
                f"p50 {lo['p50_ms']} ms, {lo['samples']} samples",
            )
        )
        targets.append(
            Target(
                "services: Flask guarded / unguarded",
                guard["ratio"],
                ">= 0.8",
                guard["ratio"] >= 0.8,
                f"median of {len(guard['rounds'])} pairs, gunicorn -w 2",
            )
        )
        targets.append(
            Target(
                "services: calls to tokensmith per guarded request",
                guard["network_calls_per_request"],
                "0",
                guard["network_calls_per_request"] < 0.0001,
                f"{guard['tokensmith_requests_during_load']:.0f} during "
                f"{guard['guarded_requests']:,} requests",
            )
        )
        targets.append(
            Target(
                f"services: {fan['subscribers']} subscribers, one revocation p99",
                fan["p99_ms"],
                "<= 500 ms",
                fan["p99_ms"] <= 500 and fan["missing"] == 0,
                f"p50 {fan['p50_ms']} ms; RSS {fan['rss_before_mib']} -> "
                f"{fan['rss_with_subscribers_mib']} MiB",
            )
        )
    mem = results.get("memory")
    if mem and mem.get("delta_mib") is None:
        targets.append(
            Target(
                "memory: revoked set loads and shrinks",
                None,
                "loads, shrinks",
                mem["shrank"] and mem["loaded_all"],
                f"loaded {mem['full']['revoked_per_worker']}; after expiry "
                f"{mem['after_expiry']['revoked_per_worker']} (RSS delta: full run only)",
            )
        )
    elif mem:
        targets.append(
            Target(
                f"memory: +RSS for {mem.get('revoked', 100_000):,} revoked",
                mem["delta_mib"],
                "<= 64 MiB, shrinks",
                mem["delta_mib"] <= 64 and mem["shrank"] and mem["loaded_all"],
                f"{mem['empty']['rss_mib_mean']} -> {mem['full']['rss_mib_mean']} MiB/worker; "
                f"after expiry {mem['after_expiry']['revoked_per_worker']}",
            )
        )
    return targets
