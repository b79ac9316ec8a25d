"""The example app: its own users, a magic-link login, tokensmith for the sessions.

These run in ``make test``: the example is part of the product and cannot rot.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from examples.own_users.app import add_user, create_app, users
from tokensmith.core.clock import ManualClock

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Mailbox:
    """Where the app's links go in the tests (the app prints them by default)."""

    links: list[tuple[str, str]] = field(default_factory=list)

    def send(self, email: str, url: str) -> None:
        self.links.append((email, url))

    def token_for(self, email: str) -> str:
        url = [u for e, u in self.links if e == email][-1]
        return url.split("token=", 1)[1]


@dataclass
class Example:
    client: httpx.AsyncClient
    clock: ManualClock
    mailbox: Mailbox
    app: Any

    async def add(self, email: str, role: str = "member") -> str:
        return await add_user(self.app.state.engine, email, email.split("@")[0], role)

    async def sign_in(self, email: str, **headers: str) -> dict[str, Any]:
        asked = await self.client.post("/login", json={"email": email})
        assert asked.status_code == 202
        opened = await self.client.post(
            "/login/verify", json={"token": self.mailbox.token_for(email)}, headers=headers
        )
        assert opened.status_code == 200, opened.text
        return dict(opened.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def example(tmp_path: Path) -> AsyncIterator[Example]:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    mailbox = Mailbox()
    app = create_app(
        env={"TOKENSMITH_DATA_DIR": str(tmp_path), "JWT_EXPIRES_IN": "5m"},
        clock=clock,
        send_link=mailbox.send,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://example") as client,
    ):
        yield Example(client, clock, mailbox, app)


async def test_a_magic_link_signs_the_user_in(example: Example) -> None:
    """The link starts a tokensmith session for the app's user: the login response, with the
    role's scopes in the access token."""
    user_id = await example.add("ada@example.com")
    body = await example.sign_in("ada@example.com")
    assert body["user"] == {"id": user_id, "email": "ada@example.com", "name": "ada"}
    orders = await example.client.get("/orders", headers=bearer(body["accessToken"]))
    assert orders.status_code == 200 and orders.json()["for"] == user_id
    me = await example.client.get("/auth/me", headers=bearer(body["accessToken"]))
    assert me.json()["email"] == "ada@example.com"


async def test_a_link_works_once_and_only_for_a_while(example: Example) -> None:
    await example.add("ada@example.com")
    await example.client.post("/login", json={"email": "ada@example.com"})
    token = example.mailbox.token_for("ada@example.com")
    assert (await example.client.post("/login/verify", json={"token": token})).status_code == 200
    reused = await example.client.post("/login/verify", json={"token": token})
    assert reused.status_code == 401 and reused.json()["code"] == "INVALID_CREDENTIALS"
    await example.client.post("/login", json={"email": "ada@example.com"})
    example.clock.advance(16 * 60)
    late = {"token": example.mailbox.token_for("ada@example.com")}
    assert (await example.client.post("/login/verify", json=late)).status_code == 401


async def test_an_unknown_address_gets_the_same_answer_and_no_link(example: Example) -> None:
    answer = await example.client.post("/login", json={"email": "nobody@example.com"})
    assert answer.status_code == 202 and example.mailbox.links == []


async def test_only_the_scope_of_the_role_passes(example: Example) -> None:
    """Members read orders; placing one needs orders:write (admins): 403 INSUFFICIENT_SCOPE."""
    await example.add("ada@example.com")
    await example.add("root@example.com", role="admin")
    member = await example.sign_in("ada@example.com")
    refused = await example.client.post("/orders", headers=bearer(member["accessToken"]))
    assert refused.status_code == 403 and refused.json()["code"] == "INSUFFICIENT_SCOPE"
    assert 'scope="orders:write"' in refused.headers["www-authenticate"]
    admin = await example.sign_in("root@example.com")
    placed = await example.client.post("/orders", headers=bearer(admin["accessToken"]))
    assert placed.status_code == 201


async def test_a_promotion_reaches_the_token_at_the_next_refresh(example: Example) -> None:
    user_id = await example.add("ada@example.com")
    body = await example.sign_in("ada@example.com")
    async with example.app.state.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == user_id).values(role="admin"))
    refreshed = await example.client.post(
        "/auth/refresh", json={"refreshToken": body["refreshToken"]}
    )
    placed = await example.client.post("/orders", headers=bearer(refreshed.json()["accessToken"]))
    assert placed.status_code == 201


async def test_closing_the_account_needs_a_recent_login(example: Example) -> None:
    """After 5 minutes, /account/close asks for a step-up (401 STEP_UP_REQUIRED, RFC 9470); a
    confirmation link renews auth_time in the same session; then the account closes, and the
    session ends at its next refresh."""
    await example.add("ada@example.com")
    body = await example.sign_in("ada@example.com")
    example.clock.advance(301)
    refreshed = (
        await example.client.post("/auth/refresh", json={"refreshToken": body["refreshToken"]})
    ).json()
    stale = await example.client.post("/account/close", headers=bearer(refreshed["accessToken"]))
    assert stale.status_code == 401 and stale.json()["code"] == "STEP_UP_REQUIRED"
    assert "max_age=300" in stale.headers["www-authenticate"]
    asked = await example.client.post("/login/confirm", headers=bearer(refreshed["accessToken"]))
    assert asked.status_code == 202
    confirmed = await example.client.post(
        "/login/confirm/verify",
        json={"token": example.mailbox.token_for("ada@example.com")},
        headers=bearer(refreshed["accessToken"]),
    )
    assert confirmed.status_code == 200, confirmed.text
    fresh = confirmed.json()["accessToken"]
    closed = await example.client.post("/account/close", headers=bearer(fresh))
    assert closed.status_code == 200
    ended = await example.client.post(
        "/auth/refresh", json={"refreshToken": refreshed["refreshToken"]}
    )
    assert ended.status_code == 401 and ended.json()["code"] == "SESSION_REVOKED"


async def test_the_cookie_transport_works_for_the_apps_own_login(example: Example) -> None:
    await example.add("ada@example.com")
    body = await example.sign_in("ada@example.com", **{"X-Token-Transport": "cookie"})
    assert "refreshToken" not in body
    csrf = example.client.cookies["csrf_token"]
    refreshed = await example.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200


@pytest.mark.e2e
def test_the_example_runs_as_a_server_and_prints_the_link(tmp_path: Path) -> None:
    """``python -m examples.own_users serve``: a real process, the link read from its output."""
    env = {**os.environ, "TOKENSMITH_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    added = subprocess.run(
        [sys.executable, "-m", "examples.own_users", "add-user", "ada@example.com"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert added.stdout.startswith("added ada@example.com")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "examples.own_users", "serve", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.post(f"{base}/login", json={"email": "x@example.com"}, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.post(f"{base}/login", json={"email": "ada@example.com"}).status_code == 202
        assert server.stdout is not None
        line = ""
        while "sign-in link" not in line:
            line = server.stdout.readline()
            assert line or server.poll() is None, "the example exited"
        token = re.search(r"token=(\S+)", line)
        assert token is not None
        opened = httpx.post(f"{base}/login/verify", json={"token": token.group(1)})
        assert opened.status_code == 200, opened.text
        orders = httpx.get(f"{base}/orders", headers=bearer(opened.json()["accessToken"]))
        assert orders.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
