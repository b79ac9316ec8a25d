"""An in-memory server speaking the contract, with switches to break it, for httpx.MockTransport.

Only what ``tokensmith doctor`` touches is implemented: healthz, register, login (body and cookie
transport), refresh (rotation, grace, reuse detection), me, logout. Tokens are HS256, signed here
with :mod:`hmac` so weak test secrets do not trip PyJWT's key-length warning.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx

START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


class ManualClock:
    """This machine's clock in the tests; ``sleep`` advances it instead of sleeping."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.slept_s = 0.0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept_s += seconds
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeConfig:
    access_ttl_s: int = 900
    refresh_ttl_s: int = 7 * 86400
    secret: str = "fake-access-secret-that-is-long-enough-0123456789"
    refresh_secret: str = "fake-refresh-secret-that-is-long-enough-012345678"
    tolerance_s: int = 0
    grace_s: int = 10
    clock_offset_s: int = 0
    """The server's clock minus the test machine's."""
    rotate: bool = True
    detect_reuse: bool = True
    logout_revokes_access: bool = True
    cache_control: str | None = "no-store"
    cookie_transport: bool = True
    cookie_httponly: bool = True
    registration_open: bool = True
    expired_code: str = "TOKEN_EXPIRED"
    www_authenticate: bool = True
    verify_signature: bool = True
    exp_before_signature: bool = False
    expires_in_override: int | None = None


@dataclass
class _Session:
    user: str
    current: str
    spent: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    revoked: str | None = None
    """``None`` while live, else the refresh error code it ended with."""
    access_revoked: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.digest(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{_b64(mac)}"


class FakeTokensmith:
    def __init__(self, config: FakeConfig | None = None, clock: ManualClock | None = None) -> None:
        self.config = config or FakeConfig()
        self.clock = clock or ManualClock()
        self.users: dict[str, str] = {}
        self.sessions: dict[str, _Session] = {}
        self.requests: list[str] = []

    # -- plumbing ------------------------------------------------------------------------

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def server_now(self) -> datetime:
        return self.clock() + timedelta(seconds=self.config.clock_offset_s)

    def _respond(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        cookies: tuple[str, ...] = (),
    ) -> httpx.Response:
        all_headers = [
            ("Date", format_datetime(self.server_now(), usegmt=True)),
            *(headers or {}).items(),
            *(("Set-Cookie", cookie) for cookie in cookies),
        ]
        if body is None:
            return httpx.Response(status, headers=all_headers)
        return httpx.Response(status, json=body, headers=all_headers)

    def _error(self, status: int, code: str, bearer_error: bool = False) -> httpx.Response:
        headers = {}
        if bearer_error and self.config.www_authenticate:
            headers["WWW-Authenticate"] = 'Bearer realm="fake", error="invalid_token"'
        return self._respond(status, {"error": code.lower(), "code": code}, headers)

    def _tokens(
        self, sid: str, session: _Session, refresh_jti: str, cookie: bool = False
    ) -> httpx.Response:
        config = self.config
        now = int(self.server_now().timestamp())
        access = sign(
            {"alg": "HS256", "typ": "at+jwt", "kid": "k1"},
            {
                "sub": session.user,
                "sid": sid,
                "jti": secrets.token_hex(4),
                "iat": now,
                "exp": now + config.access_ttl_s,
            },
            config.secret,
        )
        refresh = sign(
            {"alg": "HS256", "typ": "rt+jwt"},
            {
                "sub": session.user,
                "sid": sid,
                "jti": refresh_jti,
                "iat": now,
                "exp": now + config.refresh_ttl_s,
            },
            config.refresh_secret,
        )
        body: dict[str, Any] = {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "Bearer",
            "expiresIn": config.expires_in_override or config.access_ttl_s,
            "refreshExpiresIn": config.refresh_ttl_s,
        }
        headers = {"Cache-Control": config.cache_control} if config.cache_control else {}
        if not (cookie and config.cookie_transport):
            return self._respond(200, body, headers)
        del body["refreshToken"]
        flags = "; HttpOnly" if config.cookie_httponly else ""
        return self._respond(
            200,
            body,
            headers,
            cookies=(
                f"refresh_token={refresh}; Path=/auth; SameSite=Strict{flags}",
                "csrf_token=abc; Path=/; SameSite=Strict",
            ),
        )

    def _decode(self, token: str, secret: str, typ: str) -> tuple[dict[str, Any] | None, bool]:
        """(claims, signature_ok); claims ``None`` when the token is garbage."""
        try:
            head, body, sig = token.split(".")
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(body))
            signature = _unb64(sig)
        except ValueError:
            return None, False
        if header.get("typ") != typ:
            return None, False
        expected = hmac.digest(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256)
        return claims, hmac.compare_digest(expected, signature)

    # -- routes --------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        route = {
            ("GET", "/healthz"): self._health,
            ("POST", "/auth/register"): self._register,
            ("POST", "/auth/login"): self._login,
            ("POST", "/auth/refresh"): self._refresh,
            ("GET", "/auth/me"): self._me,
            ("POST", "/auth/logout"): self._logout,
        }.get((request.method, request.url.path))
        if route is None:
            return self._error(404, "NOT_FOUND")
        return route(request)

    def _health(self, request: httpx.Request) -> httpx.Response:
        return self._respond(200, {"status": "ok"})

    def _register(self, request: httpx.Request) -> httpx.Response:
        if not self.config.registration_open:
            return self._error(404, "NOT_FOUND")
        data = json.loads(request.content)
        if data["email"] in self.users:
            return self._error(409, "EMAIL_TAKEN")
        self.users[data["email"]] = data["password"]
        return self._respond(201, {"user": {"id": data["email"], "email": data["email"]}})

    def _login(self, request: httpx.Request) -> httpx.Response:
        data = json.loads(request.content)
        if self.users.get(data.get("email")) != data.get("password"):
            return self._error(401, "INVALID_CREDENTIALS")
        sid = secrets.token_hex(4)
        session = _Session(user=data["email"], current=secrets.token_hex(4))
        self.sessions[sid] = session
        cookie = request.headers.get("x-token-transport") == "cookie"
        return self._tokens(sid, session, session.current, cookie)

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        token = json.loads(request.content or b"{}").get("refreshToken")
        if not token:
            return self._error(401, "REFRESH_TOKEN_REQUIRED")
        claims, ok = self._decode(token, self.config.refresh_secret, "rt+jwt")
        if claims is None or not ok or claims["sid"] not in self.sessions:
            return self._error(401, "INVALID_REFRESH_TOKEN")
        sid, jti = claims["sid"], claims["jti"]
        session = self.sessions[sid]
        if session.revoked is not None:
            return self._error(401, session.revoked)
        now = self.server_now()
        if jti == session.current or not self.config.detect_reuse:
            if not self.config.rotate:
                return self._tokens(sid, session, jti)
            successor = secrets.token_hex(4)
            session.spent[jti] = (successor, now)
            session.current = successor
            return self._tokens(sid, session, successor)
        if jti in session.spent:
            successor, rotated_at = session.spent[jti]
            in_grace = now - rotated_at < timedelta(seconds=self.config.grace_s)
            if successor == session.current and in_grace:
                return self._tokens(sid, session, successor)
            session.revoked = "TOKEN_REUSE_DETECTED"
            session.access_revoked = True
            return self._error(401, "TOKEN_REUSE_DETECTED")
        return self._error(401, "INVALID_REFRESH_TOKEN")

    def _access_claims(self, request: httpx.Request) -> dict[str, Any] | httpx.Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self._error(401, "NO_TOKEN")
        claims, ok = self._decode(auth.removeprefix("Bearer "), self.config.secret, "at+jwt")
        if claims is None:
            return self._error(401, "INVALID_TOKEN", bearer_error=True)
        now = int(self.server_now().timestamp())
        expired = claims["exp"] <= now - self.config.tolerance_s
        if expired and self.config.exp_before_signature:
            return self._error(401, self.config.expired_code, bearer_error=True)
        if not ok and self.config.verify_signature:
            return self._error(401, "INVALID_TOKEN", bearer_error=True)
        if expired:
            return self._error(401, self.config.expired_code, bearer_error=True)
        session = self.sessions.get(claims["sid"])
        if session is None or session.access_revoked:
            return self._error(401, "TOKEN_REVOKED", bearer_error=True)
        return claims

    def _me(self, request: httpx.Request) -> httpx.Response:
        claims = self._access_claims(request)
        if isinstance(claims, httpx.Response):
            return claims
        return self._respond(200, {"id": claims["sub"], "email": claims["sub"]})

    def _logout(self, request: httpx.Request) -> httpx.Response:
        claims = self._access_claims(request)
        if isinstance(claims, httpx.Response):
            return claims
        session = self.sessions[claims["sid"]]
        session.revoked = session.revoked or "SESSION_REVOKED"
        session.access_revoked = self.config.logout_revokes_access
        return self._respond(200, {"message": "Logged out successfully"})

    def live_sessions(self) -> int:
        return sum(s.revoked is None for s in self.sessions.values())
