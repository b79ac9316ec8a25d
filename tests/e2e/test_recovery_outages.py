"""Outages and configuration around account recovery (issue 13, contract 9), with real
processes: the forgot endpoint answers 503 (never 500) and stores nothing while Redis or
PostgreSQL is down; bad recovery settings stop the server with one line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_recovery_faults import PUBLIC, _env, _forgot, _register
from tests.support.databases import PostgresCluster, RedisServer, fresh_postgres_database
from tests.support.servers import start_server
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_down_makes_forgot_answer_503_and_accept_nothing(
    redis_server: RedisServer, smtp: SmtpServer, tmp_path: Path
) -> None:
    """With REDIS_URL set and Redis stopped, forgot answers 503 SERVICE_UNAVAILABLE (its mail
    limit cannot be enforced across instances), never 500, and no mail leaves; Redis back, 202."""
    server = start_server(tmp_path / "s", _env(SMTP_URL=smtp.url, REDIS_URL=redis_server.url))
    try:
        _register(server, "ada@example.com")
        redis_server.stop()
        for _ in range(3):
            answer = _forgot(server, "ada@example.com")
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
        time.sleep(1.5)
        assert smtp.mails == []
        redis_server.start()
        deadline = time.monotonic() + 20
        while _forgot(server, "ada@example.com").status_code != 202:
            assert time.monotonic() < deadline, "forgot did not recover"
            time.sleep(0.5)
        smtp.wait_for(1)
        assert "Traceback" not in server.log
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_down_makes_forgot_answer_503_and_accept_nothing(
    private_postgres: PostgresCluster, smtp: SmtpServer, tmp_path: Path
) -> None:
    """PostgreSQL stopped: forgot answers 503 SERVICE_UNAVAILABLE, never 500; nothing was
    stored, so no mail arrives after it is back; a new request then works."""
    with fresh_postgres_database(server=private_postgres.url) as url:
        server = start_server(tmp_path / "s", _env(SMTP_URL=smtp.url, DATABASE_URL=url))
        try:
            _register(server, "ada@example.com")
            private_postgres.stop()
            answer = _forgot(server, "ada@example.com")
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "SERVICE_UNAVAILABLE"
            private_postgres.start()
            deadline = time.monotonic() + 20
            while httpx.get(f"{server.url}/readyz", timeout=30).status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            time.sleep(1.5)
            assert smtp.mails == []
            assert _forgot(server, "ada@example.com").status_code == 202
            smtp.wait_for(1)
            assert "Traceback" not in server.log
        finally:
            server.stop()


def test_a_public_url_that_is_not_http_stops_the_server_with_one_line(tmp_path: Path) -> None:
    """PUBLIC_URL=ftp://... : the server does not start; one line names PUBLIC_URL."""
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path / "s", {"PUBLIC_URL": "ftp://auth.example.com"}, timeout_s=30)
    log = str(failed.value)
    assert "PUBLIC_URL" in log and "Traceback" not in log


def test_production_without_smtp_url_refuses_to_start(tmp_path: Path) -> None:
    env = {
        "TOKENSMITH_ENV": "production",
        "JWT_SECRET": "access-" * 6,
        "JWT_REFRESH_SECRET": "refresh-" * 5,
        "PUBLIC_URL": PUBLIC,
    }
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path / "s", env, timeout_s=30)
    log = str(failed.value)
    assert "SMTP_URL" in log and "Traceback" not in log


@pytest.mark.postgres
def test_two_instances_deliver_each_mail_once(smtp: SmtpServer, tmp_path: Path) -> None:
    """Two servers on one PostgreSQL database, each with its outbox worker: 30 reset requests
    spread over both give 30 mails, none twice (the row lease, FOR UPDATE SKIP LOCKED)."""
    with fresh_postgres_database() as url:
        env = _env(
            SMTP_URL=smtp.url,
            DATABASE_URL=url,
            JWT_SECRET="s" * 8 + "access-secret-of-both-instances",
            JWT_REFRESH_SECRET="s" * 8 + "refresh-secret-of-both-instances",
        )
        a = start_server(tmp_path / "a", env)
        b = start_server(tmp_path / "b", env)
        try:
            _register(a, "ada@example.com")
            for i in range(30):
                assert _forgot(a if i % 2 else b, "ada@example.com").status_code == 202
            smtp.wait_for(30)
            time.sleep(1.5)
            ids = [m.event_id for m in smtp.mails]
            assert len(ids) == 30 and len(set(ids)) == 30
        finally:
            a.stop()
            b.stop()
