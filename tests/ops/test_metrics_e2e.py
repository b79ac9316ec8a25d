"""End to end: with ``--workers 2`` and PROMETHEUS_MULTIPROC_DIR every scrape sums all workers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import running_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    # tests/support/servers.py leaves its handle on the server log open (reported to the lead).
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <_io.FileIO name='[^']*server-\d+\.log'"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]


def successful_logins(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tokensmith_logins_total" and sample.labels == {"outcome": "success"}:
                return sample.value
    return 0.0


def test_every_scrape_sees_the_logins_of_every_worker(tmp_path: Path) -> None:
    """Logins spread over two workers; each of several scrapes reports all of them, and the JSON
    access log carries request ids."""
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    # Debug level: access lines (written at debug) show the JSON logging reached the workers.
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "TOKENSMITH_LOG_LEVEL": "debug"}
    with running_server(tmp_path / "data", env, workers=2) as server:
        account = {"email": "ada@example.com", "password": "correct horse battery"}
        assert httpx.post(f"{server.url}/auth/register", json=account).status_code == 201
        for _ in range(6):
            # A new connection each time, so the kernel spreads them over both workers.
            assert httpx.post(f"{server.url}/auth/login", json=account).status_code == 200
        scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(6)]
        log = server.log
    assert [successful_logins(text) for text in scrapes] == [6.0] * 6
    assert '"logger":"tokensmith.access"' in log
    assert '"request_id":' in log
