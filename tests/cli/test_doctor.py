"""``tokensmith doctor`` end to end: real tokensmith, a misconfigured app, no server at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support.servers import free_port, running_server
from tokensmith.cli.doctor import doctor_command


def run(*args: str) -> Result:
    return CliRunner().invoke(doctor_command, list(args))


# -- a real tokensmith ------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_real_tokensmith_with_short_tokens_passes_every_check(tmp_path: Path) -> None:
    """Against `tokensmith serve` with 2s access tokens (so check 3 can wait) nothing fails."""
    env = {"JWT_EXPIRES_IN": "2s", "JWT_CLOCK_TOLERANCE": "0s"}
    with running_server(tmp_path / "server", env) as server:
        result = run(server.url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_number = {check["number"]: check for check in report["checks"]}
    assert sorted(by_number) == list(range(1, 11))
    assert report["failed"] == 0
    # 2-second access tokens are deliberately short: a warning, not a failure.
    assert by_number[1]["status"] == "warn"
    assert all(by_number[n]["status"] == "pass" for n in range(2, 11)), report
    assert "TOKEN_EXPIRED" in "\n".join(by_number[3]["evidence"])


# -- a misconfigured server -------------------------------------------------------------------

WEAK_SECRET = "secret"
THIRTY_DAYS_S = 30 * 86400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(claims: dict[str, Any], typ: str) -> str:
    # Signed by hand: PyJWT would warn about the short secret, and warnings are errors here.
    head = _b64(json.dumps({"alg": "HS256", "typ": typ}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.digest(WEAK_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{_b64(mac)}"


def _verify(token: str) -> dict[str, Any] | None:
    try:
        head, body, sig = token.split(".")
        mac = hmac.digest(WEAK_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64(mac), sig):
            return None
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=="))
        return claims
    except ValueError:
        return None


def misconfigured_app() -> FastAPI:
    """Long-lived tokens, a weak secret and refresh tokens that are never rotated."""
    app = FastAPI()
    users: dict[str, str] = {}
    logged_out: set[str] = set()
    no_store = {"Cache-Control": "no-store"}

    def error(status: int, code: str, challenge: bool = False) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if challenge else None
        return JSONResponse({"error": code, "code": code}, status, headers=headers)

    def tokens(email: str, sid: str, refresh: str | None = None) -> JSONResponse:
        now = int(time.time())
        base = {"sub": email, "sid": sid, "iat": now, "exp": now + THIRTY_DAYS_S}
        access = _sign({**base, "jti": secrets.token_hex(4)}, "at+jwt")
        refresh = refresh or _sign({**base, "exp": now + 365 * 86400}, "rt+jwt")
        body = {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "Bearer",
            "expiresIn": THIRTY_DAYS_S,
            "refreshExpiresIn": 365 * 86400,
        }
        return JSONResponse(body, headers=no_store)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/auth/register", status_code=201)
    async def register(request: Request) -> dict[str, Any]:
        data = await request.json()
        users[data["email"]] = data["password"]
        return {"user": {"email": data["email"]}}

    @app.post("/auth/login", response_model=None)
    async def login(request: Request) -> JSONResponse:
        data = await request.json()
        if users.get(data["email"]) != data["password"]:
            return error(401, "INVALID_CREDENTIALS")
        return tokens(data["email"], secrets.token_hex(4))

    @app.post("/auth/refresh", response_model=None)
    async def refresh(request: Request) -> JSONResponse:
        token = (await request.json()).get("refreshToken")
        if not token:
            return error(401, "REFRESH_TOKEN_REQUIRED")
        claims = _verify(token)
        if claims is None:
            return error(401, "INVALID_REFRESH_TOKEN")
        if claims["sid"] in logged_out:
            return error(401, "SESSION_REVOKED")
        return tokens(claims["sub"], claims["sid"], refresh=token)  # the same token: no rotation

    def access_claims(request: Request) -> dict[str, Any] | JSONResponse:
        auth = request.headers.get("authorization", "")
        claims = _verify(auth.removeprefix("Bearer "))
        if claims is None:
            return error(401, "INVALID_TOKEN", challenge=True)
        if claims["exp"] <= time.time():
            return error(401, "TOKEN_EXPIRED", challenge=True)
        if claims["sid"] in logged_out:
            return error(401, "TOKEN_REVOKED", challenge=True)
        return claims

    @app.get("/auth/me", response_model=None)
    def me(request: Request) -> JSONResponse | dict[str, Any]:
        claims = access_claims(request)
        return claims if isinstance(claims, JSONResponse) else {"email": claims["sub"]}

    @app.post("/auth/logout", response_model=None)
    def logout(request: Request) -> JSONResponse | dict[str, str]:
        claims = access_claims(request)
        if isinstance(claims, JSONResponse):
            return claims
        logged_out.add(claims["sid"])
        return {"message": "Logged out successfully"}

    return app


@pytest.fixture
def misconfigured_url() -> Iterator[str]:
    """The misconfigured app under uvicorn on a free loopback port, in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(misconfigured_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the fake app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_misconfigured_server_failures_are_reported_and_counted(misconfigured_url: str) -> None:
    """Long-lived tokens, no rotation and a weak secret: checks 1, 6, 7, 9 fail; exit 4."""
    result = run(misconfigured_url, "--json")
    report = json.loads(result.stdout)
    failed = {c["number"] for c in report["checks"] if c["status"] == "fail"}
    assert failed == {1, 6, 7, 9}, report
    assert result.exit_code == 4
    by_number = {check["number"]: check for check in report["checks"]}
    assert "access tokens live 30 days" in "\n".join(by_number[1]["evidence"])
    assert "well-known secret 'secret'" in "\n".join(by_number[9]["evidence"])
    # With the secret found, check 3 re-signs an expired token instead of waiting 30 days.
    assert by_number[3]["status"] == "pass"
    assert all(by_number[n]["fix"] for n in failed)


def test_misconfigured_server_table_shows_results_evidence_and_fixes(
    misconfigured_url: str,
) -> None:
    """Without --json a table shows each check with its result, evidence and fix."""
    result = run(misconfigured_url)
    assert result.exit_code == 4
    out = result.stdout
    for text in ("Token lifetimes", "FAIL", "PASS", "evidence", "fix", "JWT_SECRET"):
        assert text in out
    assert "4 fail" in out
    assert "exit status 4" in out


# -- no server, or not tokensmith -------------------------------------------------------------


def test_server_down_is_one_clear_line_and_exit_69() -> None:
    """Nothing listening: one line naming the URL and the cause, exit status 69."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run(url)
    assert result.exit_code == 69
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"tokensmith doctor: cannot connect to {url}: connection refused (is the server running?)"
    ]


def test_server_down_with_json_prints_the_error() -> None:
    """--json on a down server prints the error and the exit status as JSON."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run(url, "--json")
    assert result.exit_code == 69
    assert json.loads(result.stdout) == {
        "url": url,
        "error": result.stderr.strip().removeprefix("tokensmith doctor: "),
        "exit_status": 69,
    }


@pytest.fixture
def html_url() -> Iterator[str]:
    """A web server that is not tokensmith: every path is an HTML 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _html(self) -> None:
            body = b"<html><body>Not here</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _html

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_not_tokensmith_is_one_clear_line_and_exit_76(html_url: str) -> None:
    """A server answering HTML 404s is not tokensmith: one line, exit 76."""
    result = run(html_url)
    assert result.exit_code == 76
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "GET /healthz -> 404" in lines[0]
    assert "is " + html_url + " a tokensmith server?" in lines[0]


def test_email_without_password_is_a_usage_error() -> None:
    """--email alone is refused before any request."""
    result = run("http://127.0.0.1:1", "--email", "a@example.com")
    assert result.exit_code == 2
    assert "--email and --password together" in result.stderr
