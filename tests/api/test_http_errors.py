"""Errors every route shares: 404, 405, 413, 422, 429, and the error body shape (contract 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.support.inprocess import PASSWORD, Api, ApiFactory


async def test_unknown_path_is_404_in_the_contract_shape(api: Api) -> None:
    """Unknown paths: 404 NOT_FOUND as {"error", "code"}."""
    response = await api.client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found", "code": "NOT_FOUND"}


async def test_wrong_method_is_405(api: Api) -> None:
    """Wrong methods: 405 METHOD_NOT_ALLOWED with Allow."""
    response = await api.client.get("/auth/login")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]


async def test_body_over_64_kib_is_413(api: Api) -> None:
    """A body over 64 KiB is refused before parsing: 413 PAYLOAD_TOO_LARGE."""
    big = b'{"email": "a@example.com", "password": "' + b"x" * 70_000 + b'"}'
    response = await api.client.post(
        "/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_streamed_body_over_64_kib_is_413(api: Api) -> None:
    """Without a Content-Length the bytes are counted as they arrive."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    response = await api.client.post(
        "/auth/register", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_malformed_json_is_422_with_details(api: Api) -> None:
    """Malformed JSON is 422 VALIDATION_ERROR with details."""
    response = await api.client.post(
        "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR" and body["details"]


async def test_validation_rules_of_register_and_login(api: Api) -> None:
    """Bad email, short or huge passwords, wrong types: 422, on login too; the password is
    never echoed back."""
    cases = [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com", "password": "y" * 1025},
        {"email": 42, "password": PASSWORD},
        {"password": PASSWORD},
        [],
    ]
    for path in ("/auth/register", "/auth/login"):
        for body in cases:
            response = await api.client.post(path, json=body)
            assert response.status_code == 422, (path, body)
            assert response.json()["code"] == "VALIDATION_ERROR"
            assert "y" * 100 not in response.text


async def test_login_rate_limit_is_429_with_retry_after(make_api: ApiFactory) -> None:
    """Past RATE_LIMIT_LOGIN, 429 RATE_LIMITED with a Retry-After header."""
    async with make_api(RATE_LIMIT_LOGIN="3/minute") as api:
        await api.register()
        body = {"email": "ada@example.com", "password": "wrong password"}
        codes = [(await api.client.post("/auth/login", json=body)).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        limited = await api.client.post("/auth/login", json=body)
        assert limited.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_login_rate_limit_is_per_email(make_api: ApiFactory) -> None:
    """The login limit is keyed by IP and email: another account is not locked out."""
    async with make_api(RATE_LIMIT_LOGIN="2/minute") as api:
        await api.register("ada@example.com")
        await api.register("bob@example.com")
        wrong = {"email": "ada@example.com", "password": "wrong password"}
        for _ in range(3):
            await api.client.post("/auth/login", json=wrong)
        await api.login("bob@example.com")


async def test_refresh_and_register_are_rate_limited(make_api: ApiFactory) -> None:
    """RATE_LIMIT_REFRESH and RATE_LIMIT_REGISTER apply per client IP."""
    async with make_api(RATE_LIMIT_REFRESH="2/minute", RATE_LIMIT_REGISTER="2/minute") as api:
        for n in range(2):
            await api.register(f"user{n}@example.com")
        third = await api.client.post(
            "/auth/register", json={"email": "u3@example.com", "password": PASSWORD}
        )
        assert third.status_code == 429
        codes = [(await api.refresh("x.y.z")).status_code for _ in range(3)]
        assert codes == [401, 401, 429]


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(make_api: ApiFactory) -> None:
    """X-Forwarded-For cannot dodge the limit unless the peer is in TRUSTED_PROXIES."""
    async with make_api(RATE_LIMIT_REGISTER="1/minute") as api:
        body = {"email": "a@example.com", "password": PASSWORD}
        await api.client.post("/auth/register", json=body, headers={"X-Forwarded-For": "1.1.1.1"})
        again = await api.client.post(
            "/auth/register",
            json={**body, "email": "b@example.com"},
            headers={"X-Forwarded-For": "2.2.2.2"},
        )
        assert again.status_code == 429


async def test_trusted_proxy_forwarded_for_is_the_client(make_api: ApiFactory) -> None:
    """Behind a trusted proxy, the right-most untrusted X-Forwarded-For hop is the client."""
    async with make_api(TRUSTED_PROXIES="127.0.0.0/8", RATE_LIMIT_REGISTER="1/minute") as api:
        for n, ip in enumerate(["1.1.1.1", "2.2.2.2"]):
            response = await api.client.post(
                "/auth/register",
                json={"email": f"u{n}@example.com", "password": PASSWORD},
                headers={"X-Forwarded-For": f"9.9.9.9, {ip}"},
            )
            assert response.status_code == 201
        tokens = await api.client.post(
            "/auth/login",
            json={"email": "u0@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": "3.3.3.3"},
        )
        sessions = await api.client.get(
            "/auth/sessions", headers={"Authorization": f"Bearer {tokens.json()['accessToken']}"}
        )
        assert sessions.json()["sessions"][0]["ip"] == "3.3.3.3"


async def test_database_down_is_503_not_500(api: Api) -> None:
    """When the database cannot be reached, login answers 503 SERVICE_UNAVAILABLE and
    protected routes keep working from memory."""
    tokens = await api.signed_up()
    await api.me(tokens["accessToken"])
    database = api.auth.services.database
    from sqlalchemy.ext.asyncio import create_async_engine

    from tokensmith.storage.sql.direct import DirectRotation
    from tokensmith.storage.sql.direct_login import DirectLogin

    healthy = database.engine, database._rotation, database._login
    database.engine = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    # The refresh's and the login's direct paths (storage/sql/direct*.py) have a connection
    # of their own.
    database._rotation = DirectRotation(
        database.engine, asyncio.Lock(), sqlite_path="/nonexistent/dir/x.db"
    )
    database._login = DirectLogin(database._rotation, database.engine.dialect)
    try:
        response = await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert (await api.refresh(tokens["refreshToken"])).status_code == 503
        assert (await api.me(tokens["accessToken"])).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 503
    finally:
        await database.engine.dispose()
        database.engine, database._rotation, database._login = healthy
    assert (await api.client.get("/readyz")).status_code == 200
