"""Session policies (contract 8): ``remember: false``, ``MAX_SESSIONS_PER_USER``,
``REGISTRATION=closed``; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.inprocess import PASSWORD, Api, ApiFactory, bearer
from tokensmith.core.audit import RequestContext


def refresh_cookie_header(response: httpx.Response) -> str:
    [header] = [
        h for h in response.headers.get_list("set-cookie") if h.startswith("refresh_token=")
    ]
    return header


async def cookie_login(api: Api, **body: object) -> httpx.Response:
    response = await api.client.post(
        "/auth/login",
        json={"email": "ada@example.com", "password": PASSWORD, **body},
        headers={"X-Token-Transport": "cookie"},
    )
    assert response.status_code == 200, response.text
    return response


async def test_remember_false_gives_a_short_session_whose_cookie_ends_with_the_browser(
    make_api: ApiFactory,
) -> None:
    """The cookies have no Max-Age (nor Expires), on login and on every refresh, and the session
    ends after SESSION_SHORT_MAX_AGE however often it refreshes."""
    async with make_api(SESSION_SHORT_MAX_AGE="1h") as api:
        await api.register()
        login = await cookie_login(api, remember=False)
        assert login.json()["refreshExpiresIn"] == 3600
        for header in login.headers.get_list("set-cookie"):
            assert "max-age" not in header.lower() and "expires" not in header.lower()
        csrf = api.client.cookies["csrf_token"]
        for _ in range(3):
            api.clock.advance(15 * 60)
            refreshed = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
            assert refreshed.status_code == 200, refreshed.text
            assert "max-age" not in refresh_cookie_header(refreshed).lower()
        api.clock.advance(16 * 60)
        ended = await api.client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
        assert ended.status_code == 401 and ended.json()["code"] == "REFRESH_TOKEN_EXPIRED"


async def test_remember_is_the_default_and_its_cookie_has_a_max_age(make_api: ApiFactory):
    async with make_api() as api:
        await api.register()
        login = await cookie_login(api)
        assert "max-age=604800" in refresh_cookie_header(login).lower()
        assert login.json()["refreshExpiresIn"] == 7 * 86400


async def test_remember_must_be_a_boolean(api: Api) -> None:
    await api.register()
    refused = await api.client.post(
        "/auth/login", json={"email": "ada@example.com", "password": PASSWORD, "remember": "no"}
    )
    assert refused.status_code == 422 and "remember" in refused.json()["error"]


async def test_past_the_session_limit_the_least_recently_used_session_ends(
    make_api: ApiFactory,
) -> None:
    """MAX_SESSIONS_PER_USER=2: a third login ends the session used least recently (not the
    oldest), at once, and audits it."""
    async with make_api(MAX_SESSIONS_PER_USER="2") as api:
        await api.register()
        first = await api.login()
        api.clock.advance(10)
        second = await api.login()
        api.clock.advance(10)
        first_again = (await api.refresh(first["refreshToken"])).json()  # first used last
        api.clock.advance(10)
        third = await api.login()
        refused = await api.refresh(second["refreshToken"])
        assert refused.status_code == 401 and refused.json()["code"] == "SESSION_REVOKED"
        assert (await api.me(second["accessToken"])).json()["code"] == "TOKEN_REVOKED"
        for tokens in (first_again, third):
            assert (await api.me(tokens["accessToken"])).status_code == 200
        listed = await api.client.get("/auth/sessions", headers=bearer(third["accessToken"]))
        assert len(listed.json()["sessions"]) == 2
        async with api.auth.services.database.transaction() as uow:
            [event] = await uow.audit.query(kind="session_evicted")
        second_sid = api.auth.services.codec.verify_access(second["accessToken"]).sid
        assert event.detail["ended_sessions"] == [second_sid] and event.detail["limit"] == 2


async def test_without_a_limit_sessions_accumulate(api: Api) -> None:
    await api.register()
    logins = [await api.login() for _ in range(4)]
    listed = await api.client.get("/auth/sessions", headers=bearer(logins[-1]["accessToken"]))
    assert len(listed.json()["sessions"]) == 4


async def test_closed_registration_is_403_but_the_operator_still_creates_users(
    make_api: ApiFactory,
) -> None:
    async with make_api(REGISTRATION="closed") as api:
        refused = await api.client.post(
            "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 403 and refused.json()["code"] == "REGISTRATION_CLOSED"
        await api.auth.services.accounts.create_user("ada@example.com", PASSWORD, None)
        assert (await api.login())["accessToken"]


async def test_every_way_a_session_ends_is_audited_with_the_sessions_it_ended(
    make_api: ApiFactory,
) -> None:
    """The seam for webhooks: each event of an ending names the sessions it ended."""
    async with make_api() as api:
        await api.register()
        a, b, c, d = [await api.login() for _ in range(4)]
        codec = api.auth.services.codec
        sid = {
            n: codec.verify_access(t["accessToken"]).sid
            for n, t in zip("abcd", (a, b, c, d), strict=True)
        }
        await api.client.post("/auth/logout", headers=bearer(a["accessToken"]))
        await api.client.delete(f"/auth/sessions/{sid['b']}", headers=bearer(c["accessToken"]))
        await api.client.post(
            "/auth/password",
            json={"currentPassword": PASSWORD, "newPassword": "a brand new one"},
            headers=bearer(c["accessToken"]),
        )
        await api.client.post("/auth/logout-all", headers=bearer(c["accessToken"]))
        async with api.auth.services.database.transaction() as uow:
            events = {e.kind.value: e for e in await uow.audit.query(limit=100)}
        assert events["logout"].detail["ended_sessions"] == [sid["a"]]
        assert events["session_revoked"].detail["ended_sessions"] == [sid["b"]]
        assert events["password_changed"].detail["ended_sessions"] == [sid["d"]]
        assert events["logout_all"].detail["ended_sessions"] == [sid["c"]]


async def test_audit_events_clip_the_user_agent_everywhere(make_api: ApiFactory) -> None:
    """Register and login events clip the User-Agent like session events (512 characters)."""
    async with make_api() as api:
        agent = {"User-Agent": "x" * 2000}
        await api.client.post(
            "/auth/register",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers=agent,
        )
        await api.client.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": "wrong password"},
            headers=agent,
        )
        await api.client.post(
            "/auth/login", json={"email": "ada@example.com", "password": PASSWORD}, headers=agent
        )
        async with api.auth.services.database.transaction() as uow:
            events = await uow.audit.query()
        assert {e.kind.value for e in events} == {"register", "login_failed", "login"}
        assert {len(e.user_agent or "") for e in events} == {512}


async def test_disabling_a_user_is_audited_with_the_sessions_it_ended(api: Api) -> None:
    await api.register()
    tokens = await api.login()
    await api.auth.services.accounts.disable("ada@example.com", RequestContext())
    async with api.auth.services.database.transaction() as uow:
        [event] = await uow.audit.query(kind="user_disabled")
    sid = api.auth.services.codec.verify_access(tokens["accessToken"]).sid
    assert event.detail["ended_sessions"] == [sid]
    api.clock.advance(timedelta(seconds=1))
    assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_REVOKED"
