"""``GET /metrics``: Prometheus counters for logins, refreshes and 401s, gauges, latency."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.inprocess import PASSWORD, Api, bearer


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_logins_are_counted_by_outcome(api: Api) -> None:
    """Successful and failed logins land in tokensmith_logins_total{outcome}."""
    await api.signed_up()
    await api.client.post("/auth/login", json={"email": "ada@example.com", "password": "wrong-pw!"})
    await api.client.post("/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    await api.client.post("/auth/login", json={"email": "bad", "password": PASSWORD})
    samples = await scrape(api)
    assert value(samples, "tokensmith_logins_total", outcome="success") == 1
    assert value(samples, "tokensmith_logins_total", outcome="invalid_credentials") == 2
    assert value(samples, "tokensmith_logins_total", outcome="invalid_request") == 1
    assert value(samples, "tokensmith_unauthorized_total", code="INVALID_CREDENTIALS") == 2


async def test_refreshes_are_counted_by_outcome(api: Api) -> None:
    """Rotation, grace replay, reuse detection, revoked and expired sessions each have a label."""
    first = await api.signed_up()
    rotated = (await api.refresh(first["refreshToken"])).json()
    assert (await api.refresh(first["refreshToken"])).status_code == 200  # within the grace
    api.clock.advance(timedelta(seconds=30))
    assert (await api.refresh(first["refreshToken"])).json()["code"] == "TOKEN_REUSE_DETECTED"
    assert (await api.refresh(rotated["refreshToken"])).json()["code"] == "TOKEN_REUSE_DETECTED"
    other = await api.login()
    await api.client.post("/auth/logout", headers=bearer(other["accessToken"]))
    assert (await api.refresh(other["refreshToken"])).json()["code"] == "SESSION_REVOKED"
    last = await api.login()
    api.clock.advance(timedelta(days=8))
    assert (await api.refresh(last["refreshToken"])).json()["code"] == "REFRESH_TOKEN_EXPIRED"
    assert (await api.refresh("nonsense")).status_code == 401
    samples = await scrape(api)
    expected = {
        "rotated": 1,
        "grace": 1,
        "reuse_detected": 2,
        "revoked": 1,
        "expired": 1,
        "invalid": 1,
    }
    for outcome, count in expected.items():
        assert value(samples, "tokensmith_refreshes_total", outcome=outcome) == count, outcome


async def test_401s_are_counted_by_code(api: Api) -> None:
    """Every 401 of a protected route is counted under its contract code."""
    tokens = await api.signed_up()
    await api.client.get("/auth/me")
    await api.me("garbage")
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    await api.me(tokens["accessToken"])
    samples = await scrape(api)
    for code in ("NO_TOKEN", "INVALID_TOKEN", "TOKEN_REVOKED"):
        assert value(samples, "tokensmith_unauthorized_total", code=code) == 1, code


async def test_gauges_show_active_sessions_and_revocations(api: Api) -> None:
    """Active sessions and the revocation-set size are computed at scrape time."""
    tokens = await api.signed_up()
    await api.login()
    await api.login()
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    samples = await scrape(api)
    assert value(samples, "tokensmith_active_sessions") == 2
    assert value(samples, "tokensmith_revocation_set_size") == 1
    assert value(samples, "tokensmith_revocation_stream_subscribers") == 0
    assert value(samples, "tokensmith_revocation_stream_dropped") == 0


async def test_latency_is_labelled_by_route_template_not_raw_path(api: Api) -> None:
    """Labels use the route template and one label for unknown paths, so they stay few."""
    tokens = await api.signed_up()
    await api.client.delete("/auth/sessions/abc", headers=bearer(tokens["accessToken"]))
    await api.client.get("/no/such/path/123")
    samples = await scrape(api)
    route = "/auth/sessions/{session_id}"
    assert (
        value(
            samples, "tokensmith_http_request_duration_seconds_count", method="DELETE", route=route
        )
        == 1
    )
    assert (
        value(
            samples, "tokensmith_http_requests_total", method="GET", route="unmatched", status="404"
        )
        == 1
    )
    assert not any("abc" in str(labels) for _, labels in samples)


def test_multiprocess_mode_aggregates_workers(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, a scrape sums the counters of every process."""
    code = """
import asyncio
from unittest.mock import MagicMock
from tokensmith.server.metrics import Metrics
services = MagicMock()
services.revoker.revoked = []
metrics = Metrics(services)
metrics._gauges_at = float("inf")
metrics.refresh_succeeded("rotated")
print(asyncio.run(metrics.render()).decode())
"""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert 'tokensmith_refreshes_total{outcome="rotated"} 1.0' in outputs[0]
    assert 'tokensmith_refreshes_total{outcome="rotated"} 2.0' in outputs[1]
