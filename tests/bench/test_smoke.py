"""A smoke run of the benchmark harness (``python -m bench --quick``), so it cannot rot.

It checks that the harness starts its servers, drives them with wrk and writes its results, not
how fast anything is: the numbers of a one-second run on a shared machine mean nothing.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import in_ci

ROOT = Path(__file__).resolve().parents[2]
IN_CI = in_ci()

pytestmark = pytest.mark.slow


def _need(module: str, reason: str) -> None:
    """`make test` installs the bench extra, so under CI=true a missing one fails; elsewhere
    (a bare `pip install -e .[test]`) the test is skipped with the reason."""
    if IN_CI:
        importlib.import_module(module)
    else:
        pytest.importorskip(module, reason=reason)


def _wrk_or_skip() -> None:
    if shutil.which("wrk"):
        return
    if IN_CI:
        pytest.fail("wrk is not installed: CI must install it (apt-get install -y wrk)")
    pytest.skip("wrk is not installed (apt-get install -y wrk)")


@pytest.mark.timeout(300)
def test_quick_run_measures_every_core_workload_and_writes_json(tmp_path: Path) -> None:
    """``--quick`` runs protected, refresh, login and memory end to end, and the JSON has a
    measurement and a target for each."""
    _wrk_or_skip()
    out = tmp_path / "results.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--no-save",
            "--quiet-wait",
            "0",
            "--only",
            "protected,refresh,login,memory",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the harness stop the servers it started before it exits.
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
        pytest.fail(f"the smoke run took over 240 s:\n{output[-3000:]}")
    assert proc.returncode == 0, output[-5000:]
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    workloads = report["workloads"]
    assert workloads["protected"]["guarded"]["measurement"]["requests"] > 0
    assert workloads["protected"]["guarded"]["sql_per_request"] < 0.01
    assert workloads["refresh"]["sqlite"]["failures"] == 0
    assert workloads["refresh"]["sqlite"]["starved"] == 0
    assert workloads["login"]["login"]["requests"] > 0
    assert workloads["memory"]["loaded_all"] and workloads["memory"]["shrank"]
    names = {t["name"] for t in report["targets"]}
    assert "protected / unguarded" in names
    assert "login / raw argon2 verify" in names


def test_chart_is_drawn_from_results_json(tmp_path: Path) -> None:
    """``bench/chart.py`` turns a results file into a PNG."""
    _need("matplotlib", "the chart needs the bench extra")
    from bench.chart import render_chart

    results = {
        "started_at": "now",
        "machine": {"nproc": 2, "cpu_model": "test"},
        "targets": [
            {"name": "a", "value": 0.9, "goal": ">= 0.8", "met": True, "detail": ""},
            {"name": "b", "value": 120.0, "goal": "<= 100 ms", "met": False, "detail": ""},
            {"name": "c", "value": 0.0, "goal": "0", "met": True, "detail": ""},
        ],
    }
    png = render_chart(results, tmp_path / "chart.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_peer_apps_import_when_the_bench_extra_is_installed() -> None:
    """The peer apps are at least importable with their dependencies."""
    _need("flask_jwt_extended", "peers need the bench extra")
    _need("rest_framework_simplejwt", "peers need the bench extra")
    from bench.workloads.peers import PEERS, peers_installed

    assert peers_installed()
    assert set(PEERS) == {"flask-jwt-extended", "simplejwt"}


@pytest.mark.timeout(300)
def test_quick_services_workload_measures_the_contract_10_numbers(tmp_path: Path) -> None:
    """``--quick --only services``: logout -> refusal at the Flask example service, the guarded
    / unguarded ratio with the calls to tokensmith counted, and the stream fan-out with RSS."""
    _wrk_or_skip()
    _need("gunicorn", "the services workload serves Flask with gunicorn (bench extra)")
    out = tmp_path / "services.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-save", "--quiet-wait", "0",
         "--only", "services", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    services = report["workloads"]["services"]
    assert services["logout_to_refusal"]["samples"] > 0
    assert services["logout_to_refusal"]["timeouts"] == 0
    assert services["guard"]["network_calls_per_request"] == 0
    assert services["fan_out"]["missing"] == 0
    assert services["fan_out"]["rss_growth_mib"] is not None
    names = {t["name"] for t in report["targets"]}
    assert "services: Flask guarded / unguarded" in names
