"""RFC 7662 introspection: ``POST /auth/introspect``."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx

from tests.support.inprocess import Api, ApiFactory, bearer

SECRET = "introspection-secret-for-tests-0123456789"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"billing:{SECRET}".encode()).decode()}


async def introspect(
    api: Api, token: str, headers: dict[str, str] | None = None, **form: str
) -> httpx.Response:
    return await api.client.post(
        "/auth/introspect",
        data={"token": token, **form},
        headers=BASIC if headers is None else headers,
    )


async def test_active_access_token_shows_its_claims(make_api: ApiFactory) -> None:
    """A live access token is active, with sub, sid, exp, iat, iss, aud, username and email."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        response = await introspect(api, tokens["accessToken"])
        assert response.status_code == 200
        body = response.json()
        assert body["active"] is True
        assert body["token_type"] == "Bearer"
        assert body["token_use"] == "access"
        assert body["sub"] == tokens["user"]["id"]
        assert body["username"] == body["email"] == "ada@example.com"
        assert body["iss"] == body["aud"] == "tokensmith"
        assert body["exp"] - body["iat"] == 900
        assert set(body) >= {"sid", "jti"}
        assert "scope" not in body
        assert response.headers["cache-control"] == "no-store"


async def test_bearer_client_secret_is_accepted(make_api: ApiFactory) -> None:
    """The client secret may come as a Bearer credential instead of HTTP Basic."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        response = await introspect(api, tokens["accessToken"], bearer(SECRET))
        assert response.json()["active"] is True


async def test_refresh_token_is_active_until_rotated(make_api: ApiFactory) -> None:
    """The live refresh token is active; once rotated it is spent and inactive."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        first = await introspect(api, tokens["refreshToken"], token_type_hint="refresh_token")
        assert first.json()["active"] is True
        assert first.json()["token_use"] == "refresh"
        assert "token_type" not in first.json()
        assert (await api.refresh(tokens["refreshToken"])).status_code == 200
        spent = await introspect(api, tokens["refreshToken"])
        assert spent.json() == {"active": False}


async def test_wrong_hint_still_finds_the_token(make_api: ApiFactory) -> None:
    """RFC 7662 section 2.1: a wrong ``token_type_hint`` only changes the search order."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        response = await introspect(api, tokens["accessToken"], token_type_hint="refresh_token")
        assert response.json()["active"] is True


async def test_expired_revoked_and_garbage_tokens_are_inactive(make_api: ApiFactory) -> None:
    """Anything invalid, expired or revoked answers exactly ``{"active": false}``."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        assert (await introspect(api, "not-a-token")).json() == {"active": False}
        await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
        assert (await introspect(api, tokens["accessToken"])).json() == {"active": False}
        assert (await introspect(api, tokens["refreshToken"])).json() == {"active": False}
        fresh = await api.login()
        api.clock.advance(timedelta(minutes=15, seconds=61))
        assert (await introspect(api, fresh["accessToken"])).json() == {"active": False}


async def test_disabled_user_tokens_are_inactive(make_api: ApiFactory) -> None:
    """Disabling the account makes its tokens inactive at once."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        await api.auth.services.accounts.disable("ada@example.com", _ctx())
        assert (await introspect(api, tokens["accessToken"])).json() == {"active": False}
        assert (await introspect(api, tokens["refreshToken"])).json() == {"active": False}


async def test_client_authentication_is_required(make_api: ApiFactory) -> None:
    """No credentials or a wrong secret: 401 INVALID_CLIENT with a Basic challenge."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        tokens = await api.signed_up()
        wrong = {"Authorization": "Basic " + base64.b64encode(b"billing:nope").decode()}
        for headers in ({}, wrong, bearer("nope"), bearer(tokens["accessToken"])):
            response = await introspect(api, tokens["accessToken"], headers)
            assert response.status_code == 401
            assert response.json()["code"] == "INVALID_CLIENT"
            assert response.headers["www-authenticate"].startswith("Basic")


async def test_introspection_is_disabled_without_a_configured_secret(api: Api) -> None:
    """Without INTROSPECTION_SECRET nobody can introspect, and the answer says why."""
    tokens = await api.signed_up()
    response = await introspect(api, tokens["accessToken"], bearer("anything"))
    assert response.status_code == 401
    assert "INTROSPECTION_SECRET" in response.json()["error"]


async def test_missing_token_parameter_is_a_validation_error(make_api: ApiFactory) -> None:
    """No ``token`` form field, or JSON instead of a form: 422 VALIDATION_ERROR."""
    async with make_api(INTROSPECTION_SECRET=SECRET) as api:
        response = await api.client.post("/auth/introspect", data={}, headers=BASIC)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"
        response = await api.client.post("/auth/introspect", json={"token": "x"}, headers=BASIC)
        assert response.status_code == 422


def _ctx() -> object:
    from tokensmith.core.sessions import RequestContext

    return RequestContext(None, "test")
