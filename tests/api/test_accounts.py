"""Accounts over HTTP: register, login, /auth/me, password change (contract 5.1)."""

from __future__ import annotations

from tests.support.inprocess import PASSWORD, Api, bearer


async def test_register_returns_the_user_without_secrets(api: Api) -> None:
    """Register answers 201 with the contract's User shape and never a password hash."""
    response = await api.client.post(
        "/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 201
    user = response.json()["user"]
    assert set(user) == {"id", "email", "name", "createdAt", "emailVerified"}
    assert user["email"] == "ada@example.com"
    assert PASSWORD not in response.text and "argon2" not in response.text


async def test_register_twice_with_other_case_is_email_taken(api: Api) -> None:
    """Emails compare case-insensitively: the second account is 409 EMAIL_TAKEN."""
    await api.register("ada@example.com")
    response = await api.client.post(
        "/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"


async def test_login_returns_both_tokens_and_lifetimes(api: Api) -> None:
    """Login returns the user, both tokens, Bearer, and the configured lifetimes."""
    await api.register()
    body = await api.login()
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 900
    assert body["refreshExpiresIn"] == 7 * 86400
    assert body["user"]["email"] == "ada@example.com"
    assert body["accessToken"] != body["refreshToken"]


async def test_login_response_is_not_cacheable(api: Api) -> None:
    """RFC 6749 section 5.1: a response carrying tokens has Cache-Control: no-store."""
    await api.register()
    response = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_email_get_the_same_answer(api: Api) -> None:
    """Both failures are 401 INVALID_CREDENTIALS with the same message."""
    await api.register()
    wrong = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": "wrong password"}
    )
    unknown = await api.client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"


async def test_login_email_is_case_insensitive(api: Api) -> None:
    """A user registered in lower case logs in with any case."""
    await api.register("ada@example.com")
    body = await api.login("ADA@EXAMPLE.COM")
    assert body["user"]["email"] == "ada@example.com"


async def test_me_returns_the_user_of_the_token(api: Api) -> None:
    """GET /auth/me with a valid token is the User."""
    user = await api.register()
    tokens = await api.login()
    response = await api.me(tokens["accessToken"])
    assert response.status_code == 200
    assert response.json() == user


async def test_password_change_revokes_other_sessions_only(api: Api) -> None:
    """After a password change the other sessions die at once; this one lives on."""
    await api.register()
    here = await api.login()
    elsewhere = await api.login()
    response = await api.client.post(
        "/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new password"},
        headers=bearer(here["accessToken"]),
    )
    assert response.status_code == 204
    assert (await api.me(here["accessToken"])).status_code == 200
    other = await api.me(elsewhere["accessToken"])
    assert other.status_code == 401 and other.json()["code"] == "TOKEN_REVOKED"
    refreshed = await api.refresh(elsewhere["refreshToken"])
    assert refreshed.json()["code"] == "SESSION_REVOKED"
    await api.login(password="a brand new password")
    old = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401


async def test_password_change_with_wrong_current_password_is_403(api: Api) -> None:
    """A wrong currentPassword is 403 INVALID_CREDENTIALS and changes nothing."""
    tokens = await api.signed_up()
    response = await api.client.post(
        "/auth/password",
        json={"currentPassword": "not my password", "newPassword": "a brand new password"},
        headers=bearer(tokens["accessToken"]),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "INVALID_CREDENTIALS"
    await api.login()


async def test_password_change_needs_a_token(api: Api) -> None:
    """The password route is protected: no token is 401 NO_TOKEN."""
    response = await api.client.post(
        "/auth/password", json={"currentPassword": PASSWORD, "newPassword": "another one!"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "NO_TOKEN"


async def test_register_writes_an_audit_event_and_login_failures_too(api: Api) -> None:
    """Login, failed login and register are in the audit log with IP and user agent."""
    await api.register()
    await api.client.post("/auth/login", json={"email": "ada@example.com", "password": "nope nope"})
    await api.login()
    async with api.auth.services.database.transaction() as uow:
        events = await uow.audit.query()
    kinds = [e.kind.value for e in events]
    assert kinds == ["register", "login_failed", "login"]
    assert all(e.ip == "127.0.0.1" for e in events)
    assert events[2].user_agent and "python-httpx" in events[2].user_agent
