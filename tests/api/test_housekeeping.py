"""Housekeeping: expired sessions and stale revocations are cleaned up, the set shrinks."""

from __future__ import annotations

from tests.support.inprocess import PASSWORD, Api, ApiFactory, bearer


async def test_expired_session_rows_are_deleted(make_api: ApiFactory) -> None:
    """A session whose refresh token expired (plus a day) is deleted by cleanup; live ones stay."""
    async with make_api(JWT_REFRESH_EXPIRES_IN="1h") as api:
        await api.signed_up("old@example.com")
        api.clock.advance(3600 + 86400 + 1)
        fresh = await api.signed_up("new@example.com")
        deleted_sessions, _ = await api.auth.services.sessions.cleanup()
        assert deleted_sessions == 1
        assert (await api.me(fresh["accessToken"])).status_code == 200
        assert (await api.refresh(fresh["refreshToken"])).status_code == 200


async def test_revocations_leave_the_set_when_their_tokens_expired(api: Api) -> None:
    """The revocation set holds a session only until its last access token expired."""
    tokens = await api.signed_up()
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    revoker = api.auth.services.revoker
    assert len(revoker.revoked) == 1
    api.clock.advance(15 * 60 + 59)
    assert revoker.prune() == 0
    api.clock.advance(2)
    assert revoker.prune() == 1 and len(revoker.revoked) == 0
    assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_EXPIRED"
    _, deleted_revocations = await api.auth.services.sessions.cleanup()
    assert deleted_revocations == 0  # the newest row stays as the feed's cursor


async def test_password_change_is_audited(api: Api) -> None:
    """A password change writes a password_changed event counting the sessions it ended."""
    tokens = await api.signed_up()
    await api.login()
    await api.client.post(
        "/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "another long one"},
        headers=bearer(tokens["accessToken"]),
    )
    async with api.auth.services.database.transaction() as uow:
        events = await uow.audit.query(kind="password_changed")
    [event] = events
    assert event.detail["sessions_revoked"] == 1
    assert len(event.detail["ended_sessions"]) == 1  # the other login's session
