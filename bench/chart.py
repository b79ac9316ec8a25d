"""``python -m bench.chart [RESULTS.json] [OUT.png]``: the targets of one run as a chart.

Each bar is a target's measured ratio divided by its goal, so 1.0 is the line every bar must
cross (for "at most" targets the division is inverted: lower is better, so goal / value)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["render_chart"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IN = ROOT / "bench" / "results" / "latest.json"
DEFAULT_OUT = ROOT / "docs" / "performance.png"


def _score(target: dict[str, Any]) -> float | None:
    """How far past its goal a target is: >= 1 met, < 1 missed."""
    value, goal = target["value"], target["goal"]
    if value is None:
        return None
    number = float(goal.split()[1]) if " " in goal else float(goal)
    if goal.startswith(">="):
        return value / number if number else None
    if goal.startswith(("<=", "<")):
        return number / value if value else 10.0
    return 1.0 if value < 0.01 else 0.0  # "0": no calls


def render_chart(results: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [(t["name"], _score(t), t) for t in results.get("targets", [])]
    rows = [(n, s, t) for n, s, t in scored if s is not None]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.6))
    names = [n for n, _, _ in rows]
    scores = [min(s, 5.0) for _, s, _ in rows]
    colors = ["#2e7d32" if s >= 1 else "#c62828" for s in scores]
    ax.barh(names, scores, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    for i, (_, s, t) in enumerate(rows):
        label = f"{t['value']} (goal {t['goal']})" + (" disturbed" if t.get("disturbed") else "")
        ax.text(min(s, 5.0) + 0.05, i, label, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 6)
    ax.set_xlabel("measured / goal (1.0 = target met; capped at 5)")
    machine = results.get("machine", {})
    ax.set_title(
        f"tokensmith bench {results.get('started_at', '')}: {machine.get('nproc')} x "
        f"{machine.get('cpu_model')}",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def markdown(results: dict[str, Any]) -> str:
    """The run's tables in Markdown, for docs/performance.md."""
    from bench.__main__ import _rows

    lines = [
        "| workload | req/s | p50 ms | p99 ms | server CPU ms/req | note |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, m, extra in _rows(results.get("workloads", {})):
        if m is None:
            lines.append(f"| {label} | | | | | {extra} |")
            continue
        cpu = m.get("server_cpu_ms_per_request")
        note = " ".join(x for x in (extra, "disturbed" if m.get("disturbed") else "") if x)
        lines.append(
            f"| {label} | {m['rps']:,.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
            f"{'' if cpu is None else f'{cpu:.3f}'} | {note} |"
        )
    lines += ["", "| target | value | goal | met | detail |", "| --- | ---: | --- | --- | --- |"]
    for t in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        if t.get("disturbed"):
            met += " (disturbed)"
        lines.append(f"| {t['name']} | {t['value']} | {t['goal']} | {met} | {t['detail']} |")
    return "\n".join(lines)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_IN
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    results = json.loads(source.read_text())
    print(f"chart: {render_chart(results, out)}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
