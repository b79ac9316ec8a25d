"""Logout, logout-all and the session list (contract 5.2, 5.4)."""

from __future__ import annotations

from typing import Any

from tests.support.inprocess import Api, bearer


async def test_logout_ends_the_session_at_once(api: Api) -> None:
    """Logout with the Bearer token kills its access token and its refresh token at once."""
    tokens = await api.signed_up()
    response = await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out successfully"}
    assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_REVOKED"
    assert (await api.refresh(tokens["refreshToken"])).json()["code"] == "SESSION_REVOKED"


async def test_logout_with_only_the_refresh_token(api: Api) -> None:
    """The refresh token alone names the session well enough."""
    tokens = await api.signed_up()
    response = await api.client.post("/auth/logout", json={"refreshToken": tokens["refreshToken"]})
    assert response.status_code == 200
    assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_REVOKED"


async def test_logout_twice_is_fine(api: Api) -> None:
    """Logging out twice is 200 both times."""
    tokens = await api.signed_up()
    for _ in range(2):
        response = await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
        assert response.status_code == 200


async def test_logout_with_an_expired_access_token_still_works(api: Api) -> None:
    """An expired access token still names its session, so logout ends it."""
    tokens = await api.signed_up()
    api.clock.advance(3600)
    response = await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    assert response.status_code == 200
    assert (await api.refresh(tokens["refreshToken"])).json()["code"] == "SESSION_REVOKED"


async def test_logout_without_tokens_is_400_no_token(api: Api) -> None:
    """Neither token: 400 NO_TOKEN."""
    bodies: list[dict[str, Any]] = [{}, {"json": {}}]
    for kwargs in bodies:
        response = await api.client.post("/auth/logout", **kwargs)
        assert response.status_code == 400
        assert response.json()["code"] == "NO_TOKEN"


async def test_logout_only_ends_its_own_session(api: Api) -> None:
    """Another session of the same user lives on."""
    await api.register()
    one, two = await api.login(), await api.login()
    await api.client.post("/auth/logout", headers=bearer(one["accessToken"]))
    assert (await api.me(two["accessToken"])).status_code == 200


async def test_logout_all_ends_every_session(api: Api) -> None:
    """logout-all revokes every session of the user and says how many."""
    await api.register()
    sessions = [await api.login() for _ in range(3)]
    response = await api.client.post("/auth/logout-all", headers=bearer(sessions[0]["accessToken"]))
    assert response.status_code == 200
    assert response.json() == {"revoked": 3}
    for tokens in sessions:
        assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_REVOKED"


async def test_logout_all_leaves_other_users_alone(api: Api) -> None:
    """Only the caller's sessions end."""
    ada = await api.signed_up("ada@example.com")
    bob = await api.signed_up("bob@example.com")
    await api.client.post("/auth/logout-all", headers=bearer(ada["accessToken"]))
    assert (await api.me(bob["accessToken"])).status_code == 200


async def test_sessions_lists_live_sessions_with_current_flag(api: Api) -> None:
    """The session list shows each login once, marks the current one, and hides ended ones."""
    await api.register()
    one, two, three = await api.login(), await api.login(), await api.login()
    await api.client.post("/auth/logout", headers=bearer(three["accessToken"]))
    response = await api.client.get("/auth/sessions", headers=bearer(one["accessToken"]))
    assert response.status_code == 200
    sessions = response.json()["sessions"]
    assert len(sessions) == 2
    assert {s["current"] for s in sessions} == {True, False}
    first = sessions[0]
    assert set(first) == {
        "id",
        "createdAt",
        "lastUsedAt",
        "expiresAt",
        "ip",
        "userAgent",
        "current",
    }
    assert first["ip"] == "127.0.0.1"
    del two


async def test_delete_session_revokes_it(api: Api) -> None:
    """DELETE /auth/sessions/{id} ends that session at once."""
    await api.register()
    mine, other = await api.login(), await api.login()
    listing = (await api.client.get("/auth/sessions", headers=bearer(mine["accessToken"]))).json()
    other_id = next(s["id"] for s in listing["sessions"] if not s["current"])
    response = await api.client.delete(
        f"/auth/sessions/{other_id}", headers=bearer(mine["accessToken"])
    )
    assert response.status_code == 204
    assert (await api.me(other["accessToken"])).json()["code"] == "TOKEN_REVOKED"
    assert (await api.me(mine["accessToken"])).status_code == 200


async def test_delete_someone_elses_session_is_404(api: Api) -> None:
    """A session that is not the caller's is 404 NOT_FOUND and stays alive."""
    ada = await api.signed_up("ada@example.com")
    bob = await api.signed_up("bob@example.com")
    bob_sessions = (
        await api.client.get("/auth/sessions", headers=bearer(bob["accessToken"]))
    ).json()
    bob_id = bob_sessions["sessions"][0]["id"]
    response = await api.client.delete(
        f"/auth/sessions/{bob_id}", headers=bearer(ada["accessToken"])
    )
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    missing = await api.client.delete("/auth/sessions/nope", headers=bearer(ada["accessToken"]))
    assert missing.status_code == 404
    assert (await api.me(bob["accessToken"])).status_code == 200


async def test_logout_and_logout_all_are_audited(api: Api) -> None:
    """logout and logout_all are in the audit log."""
    tokens = await api.signed_up()
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    again = await api.login()
    await api.client.post("/auth/logout-all", headers=bearer(again["accessToken"]))
    async with api.auth.services.database.transaction() as uow:
        kinds = [e.kind.value for e in await uow.audit.query()]
    assert "logout" in kinds and "logout_all" in kinds


async def test_revocations_survive_a_restart(api: Api) -> None:
    """The revocation set is loaded from the database at start: a restart forgets nothing."""
    from tokensmith.core.revoker import Revoker

    tokens = await api.signed_up()
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    services = api.auth.services
    fresh = Revoker(
        services.clock,
        access_ttl=services.settings.jwt_expires_in,
        leeway=services.settings.jwt_clock_tolerance,
    )
    await fresh.load(services.database)
    sid = services.codec.verify_access(tokens["accessToken"]).sid
    assert fresh.is_revoked(sid)
