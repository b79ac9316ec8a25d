"""Discovery documents (RFC 8414, OpenID location) and ``POST /oauth/token`` (RFC 6749 section 6),
driven by hand and by Authlib's httpx OAuth2 client, unmodified (contract 10)."""

from __future__ import annotations

import base64
import warnings
from datetime import timedelta
from typing import Any

import httpx

from tests.support.inprocess import Api, ApiFactory

SERVICE_SECRET = "billing-secret-for-tests-0123456789abcdef"
CLIENTS = {"SERVICE_CLIENTS": f"billing:{SERVICE_SECRET}"}
BASIC = {
    "Authorization": "Basic " + base64.b64encode(f"billing:{SERVICE_SECRET}".encode()).decode()
}


async def token(api: Api, headers: dict[str, str] | None = None, **form: str) -> httpx.Response:
    return await api.client.post("/oauth/token", data=form, headers=headers or {})


async def test_both_discovery_documents_name_every_endpoint(api: Api) -> None:
    """The OIDC and RFC 8414 locations serve the same document with the fields of contract 10."""
    oidc = (await api.client.get("/.well-known/openid-configuration")).json()
    rfc8414 = (await api.client.get("/.well-known/oauth-authorization-server")).json()
    assert oidc == rfc8414
    assert oidc["issuer"] == "tokensmith"
    assert oidc["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert oidc["token_endpoint"] == "http://testserver/oauth/token"
    assert oidc["introspection_endpoint"] == "http://testserver/auth/introspect"
    assert oidc["revocation_endpoint"] == "http://testserver/auth/revoke"
    assert oidc["revocation_feed_endpoint"] == "http://testserver/auth/revocations"
    assert oidc["grant_types_supported"] == ["refresh_token"]
    assert "client_secret_basic" in oidc["token_endpoint_auth_methods_supported"]
    assert "none" in oidc["token_endpoint_auth_methods_supported"]


async def test_discovery_uses_public_url(make_api: ApiFactory) -> None:
    """Behind a proxy, PUBLIC_URL is the base of every endpoint."""
    async with make_api(PUBLIC_URL="https://auth.example.com") as api:
        doc = (await api.client.get("/.well-known/oauth-authorization-server")).json()
        assert doc["token_endpoint"] == "https://auth.example.com/oauth/token"


async def test_refresh_grant_rotates_with_no_store(api: Api) -> None:
    """grant_type=refresh_token answers RFC 6749 5.1 with a rotated refresh token, no-store."""
    tokens = await api.signed_up()
    response = await token(
        api, grant_type="refresh_token", refresh_token=tokens["refreshToken"], client_id="web"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] != tokens["refreshToken"]
    assert response.headers["cache-control"] == "no-store"
    assert (await api.me(body["access_token"])).status_code == 200


async def test_grace_then_reuse_revokes_the_session(api: Api) -> None:
    """The rules of 5.3: within the grace the same successor; past it invalid_grant and the
    whole session is gone (its newest refresh token too)."""
    tokens = await api.signed_up()
    first = (
        await token(api, grant_type="refresh_token", refresh_token=tokens["refreshToken"])
    ).json()
    again = (
        await token(api, grant_type="refresh_token", refresh_token=tokens["refreshToken"])
    ).json()
    assert again["refresh_token"] == first["refresh_token"]
    api.clock.advance(timedelta(seconds=11))
    reused = await token(api, grant_type="refresh_token", refresh_token=tokens["refreshToken"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert "TOKEN_REUSE_DETECTED" in reused.json()["error_description"]
    newest = await token(api, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert newest.json()["error"] == "invalid_grant"
    assert (await api.me(first["access_token"])).json()["code"] == "TOKEN_REVOKED"


async def test_errors_are_rfc6749_section_5_2(api: Api) -> None:
    """Missing or unknown grant, missing or bad token, JSON instead of a form, a parameter twice."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"data": {}}, "invalid_request"),
        ({"data": {"grant_type": "password"}}, "unsupported_grant_type"),
        ({"data": {"grant_type": "refresh_token"}}, "invalid_request"),
        ({"data": {"grant_type": "refresh_token", "refresh_token": "x.y.z"}}, "invalid_grant"),
        ({"json": {"grant_type": "refresh_token"}}, "invalid_request"),
        ({"content": "grant_type=refresh_token&grant_type=refresh_token",
          "headers": {"content-type": "application/x-www-form-urlencoded"}}, "invalid_request"),
    ]  # fmt: skip
    for kwargs, error in cases:
        response = await api.client.post("/oauth/token", **kwargs)
        assert response.status_code == 400, (kwargs, response.text)
        assert response.json()["error"] == error, kwargs
        assert response.json()["error_description"]


async def test_service_client_authenticates_with_basic_or_post(make_api: ApiFactory) -> None:
    """A service client may use HTTP Basic or client_secret in the form; wrong ones are 401
    invalid_client with a Basic challenge."""
    async with make_api(**CLIENTS) as api:
        tokens = await api.signed_up()
        ok = await token(
            api, BASIC, grant_type="refresh_token", refresh_token=tokens["refreshToken"]
        )
        assert ok.status_code == 200
        posted = await token(
            api,
            grant_type="refresh_token",
            refresh_token=ok.json()["refresh_token"],
            client_id="billing",
            client_secret=SERVICE_SECRET,
        )
        assert posted.status_code == 200
        wrong = await token(
            api,
            grant_type="refresh_token",
            refresh_token=posted.json()["refresh_token"],
            client_id="billing",
            client_secret="nope",
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        assert wrong.headers["www-authenticate"].startswith("Basic")


async def test_authlib_refreshes_an_expired_token_through_discovery(api: Api) -> None:
    """Authlib's AsyncOAuth2Client, unmodified, reads the token endpoint from discovery and
    refreshes an expired access token on its own before calling the API."""
    tokens = await api.signed_up()
    meta = (await api.client.get("/.well-known/openid-configuration")).json()
    api.clock.advance(timedelta(minutes=20))  # the access token is expired at the server
    assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_EXPIRED"
    saved: list[dict[str, Any]] = []

    async def update_token(new: dict[str, Any], refresh_token: str | None = None, **_: Any) -> None:
        saved.append(new)

    with warnings.catch_warnings():
        # Authlib 1.9 announces a future move of its httpx integration at import (its
        # deprecate module installs an "always" filter first, so ours goes after it).
        import authlib.deprecate

        warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import AsyncOAuth2Client

    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 50001))
    async with AsyncOAuth2Client(
        client_id="web-app",
        token={
            "access_token": tokens["accessToken"],
            "refresh_token": tokens["refreshToken"],
            "token_type": "Bearer",
            "expires_at": 1,  # Authlib's own clock: long expired
        },
        token_endpoint=meta["token_endpoint"],
        update_token=update_token,
        transport=transport,
        base_url="http://testserver",
    ) as client:
        response = await client.get("/auth/me")
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "ada@example.com"
    assert len(saved) == 1
    assert saved[0]["refresh_token"] != tokens["refreshToken"]
