"""``require_scopes`` (RFC 6750 3.1), ``require_recent_login`` (RFC 9470) and
``POST /auth/reauthenticate`` (contract 8), with tokensmith's own users and a claims hook."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.inprocess import PASSWORD, Api, bearer
from tests.support.own_users import People, Roles, own_app
from tokensmith import Subject


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@pytest.fixture
def roles() -> Roles:
    return Roles()


@pytest.fixture
def app(tmp_path: Path, database_url: str, roles: Roles):
    """tokensmith's own user table (password routes on) with a claims hook."""

    @asynccontextmanager
    async def factory() -> AsyncIterator[Api]:
        async with own_app(tmp_path, database_url, claims=roles) as api:
            yield api

    return factory


async def test_a_scope_the_token_lacks_is_403_with_the_rfc_6750_challenge(app) -> None:
    async with app() as api:
        tokens = await api.signed_up()
        assert payload(tokens["accessToken"])["scope"] == "orders:read"
        allowed = await api.client.get("/orders", headers=bearer(tokens["accessToken"]))
        assert allowed.status_code == 200 and allowed.json()["tenant"] == "acme"
        refused = await api.client.post("/orders", headers=bearer(tokens["accessToken"]))
        assert refused.status_code == 403
        assert refused.json()["code"] == "INSUFFICIENT_SCOPE"
        assert "orders:write" in refused.json()["error"]
        assert refused.headers["www-authenticate"] == (
            'Bearer realm="tokensmith", error="insufficient_scope", scope="orders:write"'
        )


async def test_a_scope_guard_answers_token_problems_like_any_protected_route(app) -> None:
    """No token: 401 NO_TOKEN without an error attribute; an expired one: TOKEN_EXPIRED."""
    async with app() as api:
        missing = await api.client.get("/orders")
        assert missing.status_code == 401 and missing.json()["code"] == "NO_TOKEN"
        assert missing.headers["www-authenticate"] == 'Bearer realm="tokensmith"'
        tokens = await api.signed_up()
        api.clock.advance(15 * 60 + 61)
        expired = await api.client.get("/orders", headers=bearer(tokens["accessToken"]))
        assert expired.json()["code"] == "TOKEN_EXPIRED"


async def test_a_role_change_widens_the_scope_at_the_next_refresh(app, roles: Roles) -> None:
    async with app() as api:
        tokens = await api.signed_up()
        user_id = payload(tokens["accessToken"])["sub"]
        roles.claims_of[user_id] = {"scope": "orders:read orders:write"}
        refreshed = (await api.refresh(tokens["refreshToken"])).json()
        placed = await api.client.post("/orders", headers=bearer(refreshed["accessToken"]))
        assert placed.status_code == 200


async def test_an_old_login_needs_a_step_up_with_the_rfc_9470_challenge(app) -> None:
    """auth_time is kept across refreshes: 301 s after the login a fresh access token still
    fails require_recent_login(max_age=300) with STEP_UP_REQUIRED."""
    async with app() as api:
        tokens = await api.signed_up()
        fresh = await api.client.get("/settings", headers=bearer(tokens["accessToken"]))
        assert fresh.status_code == 200
        api.clock.advance(301)
        refreshed = (await api.refresh(tokens["refreshToken"])).json()
        assert payload(refreshed["accessToken"])["auth_time"] == fresh.json()["auth_time"]
        stale = await api.client.get("/settings", headers=bearer(refreshed["accessToken"]))
        assert stale.status_code == 401 and stale.json()["code"] == "STEP_UP_REQUIRED"
        challenge = stale.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="tokensmith", ')
        assert 'error="insufficient_user_authentication"' in challenge
        assert challenge.endswith(", max_age=300")


async def test_reauthenticating_renews_auth_time_in_the_same_session(app) -> None:
    """POST /auth/reauthenticate with the password: new tokens, the same session, a new
    auth_time that later refreshes keep; the refresh token sent along is rotated."""
    async with app() as api:
        tokens = await api.signed_up()
        api.clock.advance(400)
        refreshed = (await api.refresh(tokens["refreshToken"])).json()
        again = await api.client.post(
            "/auth/reauthenticate",
            json={"password": PASSWORD, "refreshToken": refreshed["refreshToken"]},
            headers=bearer(refreshed["accessToken"]),
        )
        assert again.status_code == 200, again.text
        body = again.json()
        claims = payload(body["accessToken"])
        assert claims["sid"] == payload(tokens["accessToken"])["sid"]
        assert claims["auth_time"] == int(api.clock.now().timestamp())
        assert body["refreshToken"] != refreshed["refreshToken"]
        ok = await api.client.get("/settings", headers=bearer(body["accessToken"]))
        assert ok.status_code == 200
        api.clock.advance(60)
        later = (await api.refresh(body["refreshToken"])).json()
        assert payload(later["accessToken"])["auth_time"] == claims["auth_time"]


async def test_reauthenticating_without_the_refresh_token_keeps_it_valid(app) -> None:
    """Without a refresh token only the access token is new; the client's refresh token still
    works and carries the renewed auth_time."""
    async with app() as api:
        tokens = await api.signed_up()
        api.clock.advance(400)
        again = await api.client.post(
            "/auth/reauthenticate",
            json={"password": PASSWORD},
            headers=bearer(tokens["accessToken"]),
        )
        assert again.status_code == 200 and "refreshToken" not in again.json()
        renewed = payload(again.json()["accessToken"])["auth_time"]
        assert renewed == int(api.clock.now().timestamp())
        refreshed = await api.refresh(tokens["refreshToken"])
        assert payload(refreshed.json()["accessToken"])["auth_time"] == renewed


async def test_reauthenticating_with_the_cookie_rotates_the_cookie(app) -> None:
    async with app() as api:
        await api.register()
        login = await api.client.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers={"X-Token-Transport": "cookie"},
        )
        cookie = api.client.cookies.get("refresh_token")
        again = await api.client.post(
            "/auth/reauthenticate",
            json={"password": PASSWORD},
            headers=bearer(login.json()["accessToken"]),
        )
        assert again.status_code == 200 and "refreshToken" not in again.json()
        assert api.client.cookies.get("refresh_token") not in (None, cookie)


async def test_a_wrong_password_on_reauthentication_is_403(app) -> None:
    """403, not 401: the token is fine, and a client must not refresh or log out over it."""
    async with app() as api:
        tokens = await api.signed_up()
        wrong = await api.client.post(
            "/auth/reauthenticate",
            json={"password": "not the password"},
            headers=bearer(tokens["accessToken"]),
        )
        assert wrong.status_code == 403 and wrong.json()["code"] == "INVALID_CREDENTIALS"
        assert "www-authenticate" not in wrong.headers
        unauthenticated = await api.client.post("/auth/reauthenticate", json={"password": PASSWORD})
        assert unauthenticated.json()["code"] == "NO_TOKEN"


async def test_your_app_renews_the_login_it_verified_itself(tmp_path: Path, database_url: str):
    """renew_login(): the app checked the user again (a new magic link, a code) and the
    session's auth_time moves, without a password."""
    people = People(Subject("u1", email="u1@example.com"))
    async with own_app(tmp_path, database_url, users=people) as api:
        started = (await api.client.post("/login/u1")).json()
        api.clock.advance(301)
        refreshed = (await api.refresh(started["refreshToken"])).json()
        stale = await api.client.get("/settings", headers=bearer(refreshed["accessToken"]))
        assert stale.json()["code"] == "STEP_UP_REQUIRED"
        confirmed = await api.client.post("/confirm", headers=bearer(refreshed["accessToken"]))
        assert confirmed.status_code == 200, confirmed.text
        ok = await api.client.get("/settings", headers=bearer(confirmed.json()["accessToken"]))
        assert ok.status_code == 200


@pytest.mark.parametrize("scopes", [(), ("two words",), ('quote"d',), ("",)])
async def test_a_guard_with_no_or_bad_scopes_is_refused_when_declared(
    tmp_path: Path, database_url: str, scopes: tuple[str, ...]
) -> None:
    async with own_app(tmp_path, database_url) as api:
        with pytest.raises(ValueError, match="scope"):
            api.auth.require_scopes(*scopes)


@pytest.mark.parametrize("max_age", [0, -5, True, "300"])
async def test_a_recent_login_guard_needs_a_positive_max_age(
    tmp_path: Path, database_url: str, max_age: Any
) -> None:
    async with own_app(tmp_path, database_url) as api:
        with pytest.raises(ValueError, match="max_age"):
            api.auth.require_recent_login(max_age)
