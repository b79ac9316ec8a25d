"""The three adapters in process: FastAPI/Starlette (dependency, scopes, middleware), Flask
(extension, ``@require_token``) and Django/DRF (middleware, authentication class), each answering
refusals with the status, body and challenge of contract 4. The verifier reads discovery from a
fake server (``httpx.MockTransport``); the examples' tests run the real thing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request

from tests.resource.test_verifier import FakeServer, token
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import AccessClaims, Revocation
from tokensmith.verify import Verifier
from tokensmith.verify.starlette import TokenGuard, TokensmithMiddleware

NOW = datetime.now(UTC).replace(microsecond=0)


def started(server: FakeServer, clock: ManualClock) -> Verifier:
    return Verifier("http://ts", clock=clock, transport=httpx.MockTransport(server.handler)).start()


def fastapi_app(guard: TokenGuard) -> FastAPI:
    app = FastAPI()
    guard.install(app)
    app.add_middleware(TokensmithMiddleware, guard=guard, prefixes=("/api/",))

    @app.get("/orders")
    async def orders(claims: AccessClaims = Depends(guard)) -> dict[str, Any]:
        return {"sub": claims.sub}

    writers = guard.require("orders:write")

    @app.post("/orders")
    async def place(
        claims: AccessClaims = Depends(writers),
    ) -> dict[str, Any]:
        return {"sub": claims.sub}

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"sid": request.state.principal.sid}

    return app


async def test_starlette_dependency_scopes_and_middleware() -> None:
    """Depends(guard) and guard.require(...) give the claims or contract 4's refusal; the
    middleware guards a prefix and leaves the claims in request.state.principal."""
    clock = ManualClock(NOW)
    server = FakeServer()
    guard = TokenGuard(started(server, clock))
    transport = httpx.ASGITransport(app=fastapi_app(guard))
    good = token(server.keys[0], clock)
    auth = {"Authorization": f"Bearer {good}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        none = await client.get("/orders")
        assert none.status_code == 401
        assert none.json() == {"error": none.json()["error"], "code": "NO_TOKEN"}
        assert none.headers["www-authenticate"] == 'Bearer realm="tokensmith"'
        assert (await client.get("/orders", headers=auth)).json() == {"sub": "u1"}
        scoped = await client.post("/orders", headers=auth)
        assert scoped.status_code == 403
        assert scoped.json()["code"] == "INSUFFICIENT_SCOPE"
        assert 'scope="orders:write"' in scoped.headers["www-authenticate"]
        assert (await client.get("/api/me", headers=auth)).json() == {"sid": "sid-1"}
        assert (await client.get("/api/me")).json()["code"] == "NO_TOKEN"
        guard.verifier.revoked.add([Revocation("sid-1", datetime(2100, 1, 1, tzinfo=UTC))])
        revoked = await client.get("/orders", headers=auth)
        assert revoked.json()["code"] == "TOKEN_REVOKED"
        assert 'error="invalid_token"' in revoked.headers["www-authenticate"]
        assert (await client.get("/api/me", headers=auth)).json()["code"] == "TOKEN_REVOKED"


async def test_starlette_fetches_a_rotated_key_off_the_event_loop() -> None:
    """A token signed with a key published after start verifies (the JWKS is fetched again)."""
    clock = ManualClock(NOW)
    server = FakeServer()
    guard = TokenGuard(started(server, clock))
    new = server.rotate()
    transport = httpx.ASGITransport(app=fastapi_app(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        headers = {"Authorization": f"Bearer {token(new, clock)}"}
        assert (await client.get("/orders", headers=headers)).status_code == 200
    assert guard.verifier.jwks_fetches == 2


def test_flask_extension_and_require_token() -> None:
    """@require_token and @require_token("scope") with the Flask test client."""
    from flask import Flask

    from tokensmith.verify.flask import TokensmithVerify, current_claims, require_token

    clock = ManualClock(NOW)
    server = FakeServer()
    app = Flask("svc")
    TokensmithVerify(app, verifier=started(server, clock))

    @app.get("/reports")
    @require_token
    def reports() -> dict[str, Any]:
        return {"sub": current_claims().sub}

    @app.post("/reports")
    @require_token("reports:write")
    def write() -> dict[str, Any]:
        return {"ok": True}

    client = app.test_client()
    none = client.get("/reports")
    assert none.status_code == 401
    assert none.json == {"error": none.json["error"], "code": "NO_TOKEN"}  # type: ignore[index]
    auth = {"Authorization": f"Bearer {token(server.keys[0], clock)}"}
    assert client.get("/reports", headers=auth).json == {"sub": "u1"}
    assert client.post("/reports", headers=auth).status_code == 403
    writer = {"Authorization": f"Bearer {token(server.keys[0], clock, scope='reports:write')}"}
    assert client.post("/reports", headers=writer).json == {"ok": True}
    bad = client.get("/reports", headers={"Authorization": "Bearer x.y.z"})
    assert bad.json["code"] == "INVALID_TOKEN"  # type: ignore[index]


async def test_starlette_refuses_two_authorization_headers() -> None:
    """Two ``Authorization`` headers are 400 ``INVALID_REQUEST`` (RFC 6750 section 3.1), as on
    tokensmith itself, through the dependency and the middleware alike, even when both are good."""
    clock = ManualClock(NOW)
    server = FakeServer()
    guard = TokenGuard(started(server, clock))
    transport = httpx.ASGITransport(app=fastapi_app(guard))
    good = f"Bearer {token(server.keys[0], clock)}"
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for path in ("/orders", "/api/me"):
            response = await client.get(
                path, headers=[("Authorization", good), ("Authorization", good)]
            )
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "INVALID_REQUEST"
            assert 'error="invalid_request"' in response.headers["www-authenticate"]
        assert (await client.get("/orders", headers={"Authorization": good})).status_code == 200


def test_flask_refuses_two_authorization_headers() -> None:
    """A WSGI server folds repeated headers into one, comma-separated: still 400."""
    from flask import Flask

    from tokensmith.verify.flask import TokensmithVerify, current_claims, require_token

    clock = ManualClock(NOW)
    server = FakeServer()
    app = Flask("svc")
    TokensmithVerify(app, verifier=started(server, clock))

    @app.get("/reports")
    @require_token
    def reports() -> dict[str, Any]:
        return {"sub": current_claims().sub}

    good = f"Bearer {token(server.keys[0], clock)}"
    client = app.test_client()
    for folded in (f"{good}, {good}", f"Basic dXNlcjpwYXNz, {good}", f"{good},Bearer x.y.z"):
        response = client.get("/reports", environ_overrides={"HTTP_AUTHORIZATION": folded})
        assert response.status_code == 400, folded
        assert response.json["code"] == "INVALID_REQUEST"  # type: ignore[index]
    assert client.get("/reports", headers={"Authorization": good}).json == {"sub": "u1"}
