"""No token, secret or password leaks into a log line, an error body or a ``repr``.

A full session lifecycle (register, login in both transports, me, refresh, replay inside the
grace, reuse past it, logout, logout-all, password change, failed logins, malformed requests)
runs against the real server processes, which log at debug level; then their whole log output,
every error body seen, and the ``repr`` of the objects involved (in-process) are searched for
every secret the lifecycle handled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.forge import split
from tests.security.harness import (
    ACCESS_SECRET,
    PASSWORD,
    REFRESH_SECRET,
    InProcess,
    Live,
    register,
    service_env,
)
from tokensmith.core.passwords import TESTING
from tokensmith.runtime import build_services
from tokensmith.server.app import create_app
from tokensmith.settings import load_settings

NEW_PASSWORD = "a brand new passphrase 42"


class Lifecycle:
    """Runs the lifecycle and remembers every secret it saw and every error body it got."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.secrets: dict[str, str] = {
            "JWT_SECRET": ACCESS_SECRET,
            "JWT_REFRESH_SECRET": REFRESH_SECRET,
            "password": PASSWORD,
            "new password": NEW_PASSWORD,
        }
        self.error_bodies: list[str] = []

    def keep(self, name: str, token: str) -> str:
        self.secrets[name] = token
        self.secrets[f"{name} signature"] = split(token).signature_b64
        return token

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.request(method, url, **kwargs)
        if response.status_code >= 400:
            self.error_bodies.append(response.text)
            self.error_bodies.append(str(response.headers))
        return response

    def run(self, email: str) -> None:
        call = self.call
        register(self.client, email)
        bad = call("POST", "/auth/register", json={"email": email, "password": PASSWORD})
        assert bad.status_code == 409
        body = call("POST", "/auth/login", json={"email": email, "password": PASSWORD}).json()
        access = self.keep("access", body["accessToken"])
        refresh = self.keep("refresh", body["refreshToken"])
        auth = {"Authorization": f"Bearer {access}"}
        assert call("GET", "/auth/me", headers=auth).status_code == 200
        assert call("GET", "/auth/sessions", headers=auth).status_code == 200
        rotated = call("POST", "/auth/refresh", json={"refreshToken": refresh}).json()
        self.keep("rotated access", rotated["accessToken"])
        successor = self.keep("successor", rotated["refreshToken"])
        replay = call("POST", "/auth/refresh", json={"refreshToken": refresh})
        assert replay.status_code == 200  # inside the grace
        self.keep("replayed access", replay.json()["accessToken"])
        # Cookie transport: the CSRF token and the refresh cookie are secrets too.
        cookie_login = call(
            "POST",
            "/auth/login",
            headers={"X-Token-Transport": "cookie"},
            json={"email": email, "password": PASSWORD},
        )
        csrf = cookie_login.cookies.get("csrf_token")
        cookie_refresh = cookie_login.cookies.get("refresh_token")
        assert csrf and cookie_refresh
        self.secrets["csrf token"] = csrf
        self.keep("cookie refresh", cookie_refresh)
        self.keep("cookie access", cookie_login.json()["accessToken"])
        self.client.cookies.clear()  # the rest uses the body transport
        # Failures whose bodies might be tempted to echo what they were given.
        wrong = {"email": email, "password": PASSWORD + "x"}
        assert call("POST", "/auth/login", json=wrong).status_code == 401
        short = {"email": email, "password": "short"}
        assert call("POST", "/auth/login", json=short).status_code == 422
        typed = {"email": email, "password": 12345678901234}
        assert call("POST", "/auth/login", json=typed).status_code == 422
        assert call("POST", "/auth/refresh", json={"refreshToken": access}).status_code == 401
        assert call("GET", "/auth/me", headers={"Authorization": f"Bearer {refresh}"}).status_code
        tampered = access[:-3] + ("AAA" if not access.endswith("AAA") else "BBB")
        assert call("GET", "/auth/me", headers={"Authorization": f"Bearer {tampered}"})
        wrong_current = {"currentPassword": PASSWORD + "x", "newPassword": NEW_PASSWORD}
        assert call("POST", "/auth/password", headers=auth, json=wrong_current).status_code == 403
        change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        assert call("POST", "/auth/password", headers=auth, json=change).status_code == 204
        # Reuse past the successor: theft, the session ends.
        assert call("POST", "/auth/refresh", json={"refreshToken": successor}).status_code == 200
        reuse = call("POST", "/auth/refresh", json={"refreshToken": refresh})
        assert reuse.json()["code"] == "TOKEN_REUSE_DETECTED"
        assert call("GET", "/auth/me", headers=auth).status_code == 401
        again = call("POST", "/auth/login", json={"email": email, "password": NEW_PASSWORD})
        last = self.keep("last access", again.json()["accessToken"])
        self.keep("last refresh", again.json()["refreshToken"])
        last_auth = {"Authorization": f"Bearer {last}"}
        assert call("POST", "/auth/logout-all", headers=last_auth).status_code == 200
        assert call("POST", "/auth/logout", headers=last_auth).status_code == 200
        assert call("GET", "/auth/me", headers=last_auth).status_code == 401

    def leaks_in(self, text: str) -> list[str]:
        return [name for name, secret in self.secrets.items() if secret and secret in text]


@pytest.mark.e2e
def test_no_secret_in_the_debug_log_or_error_bodies_of_a_real_server(live: Live) -> None:
    """The debug-level log of a real server and every error body of the lifecycle contain no
    token (nor its signature), secret, password or CSRF token (password hashes: see below)."""
    lifecycle = Lifecycle(live.api.client)
    lifecycle.run(f"leaks-{live.api.algorithm.lower()}@example.com")
    if live.api.private_pem is not None:
        body = b"".join(live.api.private_pem.splitlines()[1:-1]).decode()
        lifecycle.secrets["private key"] = body[10:60]
    log = live.server.log
    assert log.strip(), "the server wrote no log at all"
    assert lifecycle.leaks_in(log) == []
    assert lifecycle.leaks_in("\n".join(lifecycle.error_bodies)) == []


def test_no_secret_in_in_process_logs_or_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, with every logger at DEBUG: no log record (message, arguments, traceback)
    and no ``repr`` of the app's services, settings, keys or hasher holds a secret."""
    caplog.set_level(logging.DEBUG)
    settings = load_settings(service_env(tmp_path, "ES256"))
    app = create_app(settings, argon2=TESTING)
    http = InProcess(app)
    try:
        lifecycle = Lifecycle(http)
        lifecycle.run("inprocess@example.com")
        services = app.state.tokensmith.services
        objects: list[Any] = [app.state.tokensmith, services, settings, *vars(services).values()]
        objects += [services.access_keys, *services.access_keys.verifiers.values()]
        reprs = "\n".join(repr(o) for o in objects)
        assert lifecycle.leaks_in(reprs) == []
        assert "$argon2" not in reprs
        pem = Path(settings.jwt_private_key_file or "").read_text()
        assert pem.splitlines()[1] not in reprs
        records = "\n".join(
            f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {vars(r)!r}" for r in caplog.records
        )
        assert lifecycle.leaks_in(records) == []
        assert lifecycle.leaks_in("\n".join(lifecycle.error_bodies)) == []
    finally:
        http.close()


DB_URL = "postgresql://tokensmith:hunter2-db-password@127.0.0.1:1/tokensmith"


def test_database_password_is_not_in_the_repr_of_services(tmp_path: Path) -> None:
    """A DATABASE_URL password never shows in the ``repr`` of the services or their parts."""
    settings = load_settings(service_env(tmp_path, "HS256", DATABASE_URL=DB_URL))
    services = build_services(settings, argon2=TESTING)
    try:
        parts = [v for k, v in vars(services).items() if k != "settings"]
        text = "\n".join(repr(o) for o in (services, *parts))
        assert "hunter2" not in text
    finally:
        services.hasher.close()


def test_database_password_is_not_in_the_repr_of_settings(tmp_path: Path) -> None:
    """``repr(settings)`` hides a password in DATABASE_URL, as it hides JWT_SECRET."""
    settings = load_settings(service_env(tmp_path, "HS256", DATABASE_URL=DB_URL))
    assert ACCESS_SECRET not in repr(settings)
    assert "hunter2" not in repr(settings)


@pytest.mark.e2e
def test_no_password_hash_in_the_debug_log(live_hs256: Live) -> None:
    """Even at debug level, the log holds no argon2 password hash (offline-crackable)."""
    register(live_hs256.api.client, "hash-in-log@example.com")
    assert "$argon2" not in live_hs256.server.log
