"""Contract 8 in a user's own app: its directory, its claims hook, ``start_session`` and
``token_response``; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.inprocess import Api, bearer
from tests.support.logs import entries
from tests.support.own_users import People, Roles, own_app
from tokensmith import Subject
from tokensmith.errors import ClaimsError, InvalidCredentials, ValidationError

ADA = Subject("user-ada", email="ada@example.com", name="Ada")
BOB = Subject("user-bob")


def payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


@pytest.fixture
def people() -> People:
    return People(ADA, BOB)


@pytest.fixture
def roles() -> Roles:
    return Roles()


@pytest.fixture
def app(tmp_path: Path, database_url: str, people: People, roles: Roles):
    @asynccontextmanager
    async def factory(**env: str) -> AsyncIterator[Api]:
        async with own_app(tmp_path, database_url, users=people, claims=roles, env=env) as api:
            yield api

    return factory


async def _start(api: Api, subject: str = "user-ada", **headers: str) -> dict[str, Any]:
    response = await api.client.post(f"/login/{subject}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_start_session_answers_the_login_response_with_the_hooks_claims(app) -> None:
    """start_session + token_response: the login response of 5.1 with the subject as ``user``;
    the access token carries the hook's claims, the email, auth_time and amr."""
    async with app() as api:
        body = await _start(api)
        assert body["user"] == {"id": "user-ada", "email": "ada@example.com", "name": "Ada"}
        assert body["tokenType"] == "Bearer" and body["refreshToken"]
        claims = payload(body["accessToken"])
        assert claims["sub"] == "user-ada" and claims["email"] == "ada@example.com"
        assert claims["scope"] == "orders:read" and claims["tenant"] == "acme"
        assert claims["amr"] == ["otp"]
        assert claims["auth_time"] == int(api.clock.now().timestamp())
        orders = await api.client.get("/orders", headers=bearer(body["accessToken"]))
        assert orders.json() == {"user": "user-ada", "tenant": "acme"}


async def test_a_subject_without_email_gets_a_token_without_email(app) -> None:
    async with app() as api:
        body = await _start(api, "user-bob")
        assert body["user"] == {"id": "user-bob"}
        assert "email" not in payload(body["accessToken"])
        me = await api.client.get("/auth/me", headers=bearer(body["accessToken"]))
        assert me.status_code == 200 and me.json() == {"id": "user-bob"}


async def test_start_session_with_cookie_transport_sets_the_cookie(app) -> None:
    """``X-Token-Transport: cookie`` puts the refresh token in the HttpOnly cookie; the cookie
    then refreshes, and the hook runs again."""
    async with app() as api:
        body = await _start(api, **{"X-Token-Transport": "cookie"})
        assert "refreshToken" not in body
        assert api.client.cookies.get("refresh_token")
        csrf = api.client.cookies.get("csrf_token")
        assert csrf
        refreshed = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
        assert refreshed.status_code == 200, refreshed.text
        assert "refreshToken" not in refreshed.json()
        assert payload(refreshed.json()["accessToken"])["tenant"] == "acme"


async def test_every_refresh_asks_the_directory_and_the_hook_again(app, people, roles) -> None:
    """A role change reaches the next access token: the hook runs at each refresh, and
    auth_time and amr are kept from the login."""
    async with app() as api:
        body = await _start(api)
        login_time = payload(body["accessToken"])["auth_time"]
        calls = people.calls, roles.calls
        roles.claims_of["user-ada"] = {"scope": "orders:read orders:write", "roles": ["admin"]}
        api.clock.advance(60)
        refreshed = await api.refresh(body["refreshToken"])
        assert refreshed.status_code == 200
        claims = payload(refreshed.json()["accessToken"])
        assert claims["roles"] == ["admin"] and "tenant" not in claims
        assert claims["auth_time"] == login_time and claims["amr"] == ["otp"]
        assert (people.calls, roles.calls) == (calls[0] + 1, calls[1] + 1)
        placed = await api.client.post("/orders", headers=bearer(refreshed.json()["accessToken"]))
        assert placed.status_code == 200


@pytest.mark.parametrize("gone", [None, Subject("user-ada", active=False)])
async def test_a_user_gone_from_the_directory_loses_the_session_at_the_next_refresh(
    app, people: People, gone: Subject | None
) -> None:
    """The directory answering None or an inactive subject ends the session: SESSION_REVOKED,
    its access tokens fail at once, and the end is audited with the session it ended."""
    async with app() as api:
        body = await _start(api)
        if gone is None:
            del people.subjects["user-ada"]
        else:
            people.subjects["user-ada"] = gone
        refused = await api.refresh(body["refreshToken"])
        assert refused.status_code == 401 and refused.json()["code"] == "SESSION_REVOKED"
        me = await api.client.get("/whoami", headers=bearer(body["accessToken"]))
        assert me.json()["code"] == "TOKEN_REVOKED"
        again = await api.refresh(body["refreshToken"])
        assert again.json()["code"] == "SESSION_REVOKED"
        async with api.auth.services.database.transaction() as uow:
            [event] = await uow.audit.query(kind="user_gone")
        sid = payload(body["accessToken"])["sid"]
        assert event.session_id == sid and event.detail["ended_sessions"] == [sid]


async def test_an_unknown_or_inactive_subject_cannot_start_a_session(app, people) -> None:
    async with app() as api:
        unknown = await api.client.post("/login/nobody")
        assert unknown.status_code == 401 and unknown.json()["code"] == "INVALID_CREDENTIALS"
        people.subjects["user-ada"] = Subject("user-ada", active=False)
        with pytest.raises(InvalidCredentials):
            await api.auth.start_session("user-ada")


@pytest.mark.parametrize("subject", ["", "x" * 256, 42])
async def test_a_bad_subject_id_is_a_validation_error(app, subject: object) -> None:
    async with app() as api:
        with pytest.raises(ValidationError, match="subject"):
            await api.auth.start_session(subject)


async def test_the_password_routes_are_not_there_with_your_own_directory(app) -> None:
    """The app authenticates its users: register, login, password and reauthenticate are not
    mounted; refresh, logout, sessions and me are."""
    async with app() as api:
        for path in ("/auth/register", "/auth/login", "/auth/password", "/auth/reauthenticate"):
            response = await api.client.post(path, json={})
            assert response.status_code == 404, path
        body = await _start(api)
        listed = await api.client.get("/auth/sessions", headers=bearer(body["accessToken"]))
        assert listed.status_code == 200 and len(listed.json()["sessions"]) == 1


async def test_the_principal_has_every_claim_as_an_attribute(app) -> None:
    async with app() as api:
        body = await _start(api)
        principal = api.auth.services.sessions.authenticate(body["accessToken"])
        assert principal.sub == "user-ada" and principal.tenant == "acme"
        assert principal.scopes == frozenset({"orders:read"})
        assert principal.amr == ("otp",)
        with pytest.raises(AttributeError, match="no 'roles' claim"):
            _ = principal.roles
        assert principal.get("roles") is None


# -- the hook's claims follow rules --------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "named"),
    [
        ({"sub": "someone-else"}, "'sub'"),
        ({"auth_time": 0}, "'auth_time'"),
        ({"email": "x@example.com"}, "'email'"),
        ({"scope": ["orders:read"]}, "'scope'"),
        ({"when": timedelta(1)}, "'when'"),
        ({"roles": "x" * 9000}, "'roles'"),
    ],
)
async def test_a_hook_breaking_the_rules_is_a_clear_error_naming_the_claim(
    app, roles: Roles, claims: dict[str, Any], named: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A reserved claim, a value JSON cannot carry, or a token over 8 KiB: the library call
    raises ClaimsError naming the claim; over HTTP it is 503, the log names the claim, and no
    session was opened."""
    roles.claims_of["user-ada"] = claims
    async with app() as api:
        with pytest.raises(ClaimsError, match=named):
            await api.auth.start_session("user-ada")
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            response = await api.client.post("/login/user-ada")
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert named not in response.text
        assert any(named in r.getMessage() for r in caplog.records)
        async with api.auth.services.database.transaction() as uow:
            assert await uow.sessions.list_active("user-ada", api.clock.now()) == []


async def test_a_hook_that_raises_is_503_logged_with_the_request_id(
    app, roles: Roles, log_lines: io.StringIO
) -> None:
    """503 SERVICE_UNAVAILABLE (never a 500), one error line with the request id and the
    hook's exception, nothing of it in the answer, and no session."""
    roles.fail = RuntimeError("the roles service is down")
    async with app() as api:
        response = await api.client.post("/login/user-ada", headers={"X-Request-ID": "req-7"})
        assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert response.headers["retry-after"]
        assert "roles service" not in response.text
        [line] = [e for e in entries(log_lines) if e["level"] == "error"]
        assert line["request_id"] == "req-7"
        assert "the claims hook raised RuntimeError" in str(line["message"])
        assert "the roles service is down" in str(line["exception"])
        async with api.auth.services.database.transaction() as uow:
            assert await uow.sessions.list_active("user-ada", api.clock.now()) == []


async def test_a_failing_hook_at_refresh_leaves_the_refresh_token_unspent(app, roles) -> None:
    """503 at refresh, never a token without the claims; once the hook recovers, the same
    refresh token still rotates (it was not spent)."""
    async with app() as api:
        body = await _start(api)
        roles.fail = RuntimeError("down")
        failed = await api.refresh(body["refreshToken"])
        assert failed.status_code == 503
        roles.fail = None
        api.clock.advance(30)  # past the reuse grace: a spent token would now be theft
        recovered = await api.refresh(body["refreshToken"])
        assert recovered.status_code == 200, recovered.text


@pytest.mark.parametrize("answer", ["user-ada", {"id": "user-ada"}, Subject("someone-else")])
async def test_a_directory_that_raises_or_answers_nonsense_is_503(
    app, people: People, answer: object
) -> None:
    async with app() as api:
        body = await _start(api)
        people.answer = answer
        assert (await api.refresh(body["refreshToken"])).status_code == 503
        assert (await api.client.post("/login/user-ada")).status_code == 503
        people.answer = None
        people.fail = ConnectionError("directory down")
        refused = await api.refresh(body["refreshToken"])
        assert refused.status_code == 503 and refused.json()["code"] == "SERVICE_UNAVAILABLE"


async def test_protected_routes_never_ask_the_directory_or_the_hook(app, people, roles) -> None:
    """The directory and the hook run at session starts and refreshes only; guarded routes
    (principal, scopes, recent login) cost neither, nor a database statement."""
    async with app() as api:
        body = await _start(api)
        before = people.calls, roles.calls
        statements: list[str] = []
        from sqlalchemy import event

        engine = api.auth.services.database.engine.sync_engine

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            for path in ("/orders", "/settings", "/whoami") * 5:
                response = await api.client.get(path, headers=bearer(body["accessToken"]))
                assert response.status_code == 200, (path, response.text)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert (people.calls, roles.calls) == before
        # The outbox worker's idle poll (once a second, in the background) is not per request.
        assert [s for s in statements if "outbox" not in s] == []
