"""``POST /auth/sessions``: a service client opens a session for a user it authenticated itself
(contract 8), on the standalone server, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support.inprocess import Api, ApiFactory, bearer

SSO = "sso-secret-0123456789-0123456789-0123"
ENV = {"SERVICE_CLIENTS": f"sso:{SSO}", "INTROSPECTION_SECRET": "introspection-" + "x" * 32}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def start(api: Api, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.client.post(
        "/auth/sessions", json=body, headers=headers if headers is not None else basic("sso", SSO)
    )


async def test_a_service_client_starts_a_session_for_an_outside_subject(
    make_api: ApiFactory,
) -> None:
    """201 with the login response; ``user`` is ``{"id": subject}`` for a subject that is not
    a tokensmith user; the claims, amr and auth_time are in the access token."""
    async with make_api(**ENV) as api:
        response = await start(
            api,
            {
                "subject": "okta|12345",
                "claims": {"scope": "orders:read", "tenant": "acme"},
                "amr": ["pwd", "otp"],
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user"] == {"id": "okta|12345"}
        assert body["tokenType"] == "Bearer" and body["refreshToken"]
        assert body["expiresIn"] == 900 and body["refreshExpiresIn"] == 7 * 86400
        claims = payload(body["accessToken"])
        assert claims["sub"] == "okta|12345" and "email" not in claims
        assert claims["scope"] == "orders:read" and claims["tenant"] == "acme"
        assert claims["amr"] == ["pwd", "otp"]
        assert claims["auth_time"] == int(api.clock.now().timestamp())


async def test_the_sessions_claims_are_kept_across_refreshes(make_api: ApiFactory) -> None:
    async with make_api(**ENV) as api:
        body = (await start(api, {"subject": "svc-user-1", "claims": {"roles": ["a"]}})).json()
        for _ in range(3):
            api.clock.advance(60)
            refreshed = await api.refresh(body["refreshToken"])
            assert refreshed.status_code == 200, refreshed.text
            body = refreshed.json()
            claims = payload(body["accessToken"])
            assert claims["roles"] == ["a"] and claims["amr"] == ["pwd"]
        sessions = await api.client.get("/auth/sessions", headers=bearer(body["accessToken"]))
        assert len(sessions.json()["sessions"]) == 1
        logout = await api.client.post("/auth/logout", headers=bearer(body["accessToken"]))
        assert logout.status_code == 200
        assert (await api.refresh(body["refreshToken"])).json()["code"] == "SESSION_REVOKED"


async def test_a_session_for_a_tokensmith_user_answers_with_the_account(
    make_api: ApiFactory,
) -> None:
    async with make_api(**ENV) as api:
        user = await api.register()
        body = (await start(api, {"subject": user["id"]})).json()
        assert body["user"]["email"] == "ada@example.com" and body["user"]["createdAt"]
        assert payload(body["accessToken"])["email"] == "ada@example.com"
        me = await api.me(body["accessToken"])
        assert me.json()["id"] == user["id"]


async def test_a_disabled_user_gets_no_session(make_api: ApiFactory) -> None:
    from tokensmith.core.audit import RequestContext

    async with make_api(**ENV) as api:
        user = await api.register()
        await api.auth.services.accounts.disable("ada@example.com", RequestContext())
        refused = await start(api, {"subject": user["id"]})
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("sso", "wrong-secret"),
        basic("nobody", SSO),
        {"Authorization": f"Bearer {SSO}"},
    ],
)
async def test_without_the_right_client_credentials_it_is_401_invalid_client(
    make_api: ApiFactory, headers: dict[str, str]
) -> None:
    async with make_api(**ENV) as api:
        refused = await start(api, {"subject": "someone"}, headers)
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_CLIENT"
        assert refused.headers["www-authenticate"] == 'Basic realm="tokensmith"'


async def test_the_introspection_secret_cannot_start_sessions(make_api: ApiFactory) -> None:
    async with make_api(**ENV) as api:
        secret = ENV["INTROSPECTION_SECRET"]
        refused = await start(api, {"subject": "someone"}, basic("introspection", secret))
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_CLIENT"
        assert "SERVICE_CLIENTS" in refused.json()["error"]


async def test_without_service_clients_the_endpoint_refuses_everyone(make_api: ApiFactory):
    async with make_api() as api:
        refused = await start(api, {"subject": "someone"})
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_CLIENT"


async def test_wrong_secrets_are_rate_limited_per_ip(make_api: ApiFactory) -> None:
    async with make_api(**ENV) as api:
        for _ in range(10):
            assert (await start(api, {"subject": "s"}, basic("sso", "nope"))).status_code == 401
        locked = await start(api, {"subject": "s"})
        assert locked.status_code == 429 and locked.headers["retry-after"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "x" * 256}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": 42}, "subject"),
        ({"subject": None}, "subject"),
        ({}, "subject"),
        ({"subject": "s", "claims": {"sub": "admin"}}, "'sub'"),
        ({"subject": "s", "claims": {"exp": 1}}, "'exp'"),
        ({"subject": "s", "claims": {"scope": ["a"]}}, "'scope'"),
        ({"subject": "s", "claims": {"big": "x" * 5000}}, "claims"),
        ({"subject": "s", "claims": "not an object"}, "claims"),
        ({"subject": "s", "amr": "pwd"}, "amr"),
        ({"subject": "s", "amr": ["has space"]}, "amr"),
        ({"subject": "s", "remember": "yes"}, "remember"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    make_api: ApiFactory, body: dict[str, Any], field: str
) -> None:
    async with make_api(**ENV) as api:
        refused = await start(api, body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "VALIDATION_ERROR"
        assert field in refused.json()["error"]


async def test_remember_false_opens_a_short_session(make_api: ApiFactory) -> None:
    async with make_api(SESSION_SHORT_MAX_AGE="1h", **ENV) as api:
        body = (await start(api, {"subject": "s", "remember": False})).json()
        assert body["refreshExpiresIn"] == 3600
