"""Faults that must lose nothing (issue 13, contract 9), with real processes: a real server
(``tokensmith serve``), a real SMTP server (aiosmtpd), a real webhook receiver, private Redis and
PostgreSQL servers that the tests stop and start."""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ServerProcess, start_server
from tests.support.smtp import SmtpServer, link_token
from tests.support.webhooks import webhook_receiver
from tokensmith.webhooks import verify_signature

pytestmark = [pytest.mark.e2e]

PASSWORD = "correct horse battery"
PUBLIC = "https://auth.example.com"
SECRET = "whsec-" + "w" * 32


def _env(**extra: str) -> dict[str, str]:
    return {
        "PUBLIC_URL": PUBLIC,
        "RATE_LIMIT_RECOVERY": "10000/minute",
        # Short backoff caps keep the tests short; the schedule is the production one below it.
        "OUTBOX_MAX_RETRY_DELAY": "2s",
        **extra,
    }


def _register(server: ServerProcess, email: str) -> None:
    answer = httpx.post(
        f"{server.url}/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert answer.status_code == 201, answer.text


def _forgot(server: ServerProcess, email: str, timeout_s: float = 30) -> httpx.Response:
    return httpx.post(
        f"{server.url}/auth/password/forgot", json={"email": email}, timeout=timeout_s
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server whose port is chosen but which is *not* listening yet."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_smtp_down_for_20_s_during_a_burst_of_50_resets_loses_no_mail(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """50 reset requests (10 users, 5 each) while the SMTP server is down; it comes up 20 s
    later: every request's mail arrives, once (a duplicate is allowed only where a send was cut
    mid-way, and is counted and printed), and a mailed link works."""
    server = start_server(tmp_path / "s", _env(SMTP_URL=smtp.url))
    try:
        users = [f"user{i}@example.com" for i in range(10)]
        for email in users:
            _register(server, email)
        started = time.monotonic()
        for _ in range(5):
            for email in users:
                assert _forgot(server, email).status_code == 202
        time.sleep(max(0.0, 20 - (time.monotonic() - started)))
        assert smtp.mails == []
        smtp.start()
        up = time.monotonic()
        mails = smtp.wait_for(50, timeout_s=30)
        caught_up_s = time.monotonic() - up
        time.sleep(0.5)  # a late duplicate would arrive now
        mails = smtp.mails
        by_event = collections.Counter(m.event_id for m in mails)
        duplicates = sum(count - 1 for count in by_event.values())
        print(
            f"\n50 requests, {len(by_event)} distinct mails, {duplicates} duplicate(s), "
            f"all arrived {caught_up_s:.1f} s after SMTP came up"
        )
        assert len(by_event) == 50
        # The server was refusing connections, never cut mid-send: no duplicate is expected.
        assert duplicates == 0, by_event.most_common(3)
        per_user = collections.Counter(
            m.recipients[0] for m in {m.event_id: m for m in mails}.values()
        )
        assert per_user == {email: 5 for email in users}
        newest = [m for m in mails if m.recipients == [users[0]]][-1]
        reset = httpx.post(
            f"{server.url}/auth/password/reset",
            json={"token": link_token(newest.link), "newPassword": "a new passphrase"},
            timeout=30,
        )
        assert reset.status_code == 204, reset.text
        assert "Traceback" not in server.log
    finally:
        server.stop()


def test_a_webhook_answering_500_three_times_is_delivered_with_the_same_id(
    tmp_path: Path,
) -> None:
    """500, 500, 500, then 200: four POSTs of one event, the same id, every signature valid."""
    with webhook_receiver([500, 500, 500]) as receiver:
        server = start_server(tmp_path / "s", _env(WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET))
        try:
            _register(server, "ada@example.com")
            login = httpx.post(
                f"{server.url}/auth/login",
                json={"email": "ada@example.com", "password": PASSWORD},
                timeout=30,
            )
            assert login.status_code == 200
            deliveries = receiver.wait_for(4, timeout_s=30)
        finally:
            server.stop()
    assert [d.status for d in deliveries] == [500, 500, 500, 200]
    assert {d.event["type"] for d in deliveries} == {"session.created"}
    assert len({d.event["id"] for d in deliveries}) == 1
    for delivery in deliveries:
        assert verify_signature(SECRET, delivery.signature, delivery.body, tolerance=300)


def test_sigkill_between_the_outbox_write_and_delivery_loses_nothing(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    """The reset mail is written (SMTP down, so not delivered) and the server is killed with
    SIGKILL. Restarted, with SMTP up, it delivers the mail, once."""
    data = tmp_path / "s"
    server = start_server(data, _env(SMTP_URL=smtp.url))
    try:
        _register(server, "ada@example.com")
        assert _forgot(server, "ada@example.com").status_code == 202
        time.sleep(0.5)  # the worker has tried (and failed) at least once
    finally:
        server.stop(signal.SIGKILL)
    smtp.start()
    time.sleep(0.3)
    assert smtp.mails == []  # nobody is left to send it
    server = start_server(data, _env(SMTP_URL=smtp.url), port=int(server.url.rsplit(":", 1)[1]))
    try:
        [mail] = smtp.wait_for(1, timeout_s=30)
        time.sleep(0.5)
        assert len(smtp.mails) == 1
        assert mail.recipients == ["ada@example.com"]
        assert mail.link.startswith(f"{PUBLIC}/#/reset-password?token=")
    finally:
        server.stop()
