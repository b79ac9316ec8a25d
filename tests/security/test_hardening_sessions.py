"""Regression tests for issue 11 (a security review of the running server), the session side:
access tokens end with their session (item 10), one logout request ends one user's sessions
(item 15), an expired token ends a live session only for a bounded time (item 16), and a use of the
reuse grace from somewhere else is audited (item 17). In-process with an injected clock, on SQLite
and PostgreSQL (``make_api``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.inprocess import Api, ApiFactory, bearer
from tokensmith.core.clock import ManualClock
from tokensmith.core.models import AuditEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _audit(api: Api, kind: str) -> list[AuditEvent]:
    async with api.auth.services.database.transaction() as uow:
        events: list[AuditEvent] = await uow.audit.query(kind=kind)
    return events


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


# -- item 10: no access token outlives SESSION_MAX_AGE ----------------------------------------


async def test_an_access_token_expires_with_its_session(make_api: ApiFactory) -> None:
    """An access token issued near the session's maximum age expires when the session does
    (and ``expiresIn`` says so): once the session is gone from the list and DELETE is 404, its
    access token no longer works either."""
    clock = ManualClock(T0)
    async with make_api(
        clock,
        JWT_EXPIRES_IN="30s",
        JWT_REFRESH_EXPIRES_IN="120s",
        SESSION_MAX_AGE="60s",
        JWT_CLOCK_TOLERANCE="0",
    ) as api:
        first = await api.signed_up()
        assert first["expiresIn"] == 30
        clock.advance(45)
        refreshed = await api.refresh(first["refreshToken"])
        assert refreshed.status_code == 200
        body = refreshed.json()
        assert body["expiresIn"] == 15  # capped at the session's end, t0 + 60
        late_access = body["accessToken"]
        assert (await api.me(late_access)).status_code == 200
        clock.advance(15)  # t0 + 60: the session has ended
        assert _code(await api.me(late_access)) == (401, "TOKEN_EXPIRED")
        other = await api.login()
        listed = await api.client.get("/auth/sessions", headers=bearer(other["accessToken"]))
        assert len(listed.json()["sessions"]) == 1


# -- item 15: one logout request, one user ----------------------------------------------------


async def test_logout_with_tokens_of_two_users_is_refused(api: Api) -> None:
    """A logout carrying Ada's access token and Bob's refresh token ends neither session:
    400 ``INVALID_REQUEST``, one request, one user."""
    ada = await api.signed_up("ada@example.com")
    bob = await api.signed_up("bob@example.com")
    response = await api.client.post(
        "/auth/logout",
        headers=bearer(ada["accessToken"]),
        json={"refreshToken": bob["refreshToken"]},
    )
    assert _code(response) == (400, "INVALID_REQUEST"), response.text
    assert (await api.me(ada["accessToken"])).status_code == 200
    assert (await api.me(bob["accessToken"])).status_code == 200
    assert (await api.refresh(bob["refreshToken"])).status_code == 200


async def test_logout_with_two_tokens_of_one_user_ends_both_sessions(api: Api) -> None:
    """Two tokens of the same user (two of their sessions) are still one user's request."""
    first = await api.signed_up()
    second = await api.login()
    response = await api.client.post(
        "/auth/logout",
        headers=bearer(first["accessToken"]),
        json={"refreshToken": second["refreshToken"]},
    )
    assert response.status_code == 200, response.text
    assert _code(await api.me(first["accessToken"])) == (401, "TOKEN_REVOKED")
    assert _code(await api.me(second["accessToken"])) == (401, "TOKEN_REVOKED")


# -- item 16: how old an expired token may be and still end a session ---------------------------


async def _kept_alive(api: Api, clock: ManualClock, seconds: int) -> tuple[dict[str, Any], str]:
    """Sign up, then refresh every 60 s for ``seconds``: returns the first tokens and the
    newest refresh token (the session is live throughout)."""
    first = await api.signed_up()
    refresh = first["refreshToken"]
    for _ in range(seconds // 60):
        clock.advance(60)
        response = await api.refresh(refresh)
        assert response.status_code == 200, response.text
        refresh = response.json()["refreshToken"]
    return first, refresh


SHORT = {
    "JWT_EXPIRES_IN": "30s",
    "JWT_REFRESH_EXPIRES_IN": "120s",
    "JWT_CLOCK_TOLERANCE": "0",
    "REFRESH_REUSE_GRACE": "0",
}


@pytest.mark.parametrize("kind", ["access", "refresh"])
async def test_an_expired_token_too_old_does_not_end_the_live_session(
    make_api: ApiFactory, kind: str
) -> None:
    """An access or refresh token expired for longer than the refresh lifetime (found in an old
    log, say) cannot end the session it came from: logout answers 401 (expired) and the session
    goes on."""
    clock = ManualClock(T0)
    async with make_api(clock, **SHORT) as api:
        first, live = await _kept_alive(api, clock, 300)  # first tokens: exp t0+30 / t0+120
        if kind == "access":
            response = await api.client.post("/auth/logout", headers=bearer(first["accessToken"]))
            assert _code(response) == (401, "TOKEN_EXPIRED"), response.text
        else:
            response = await api.client.post(
                "/auth/logout", json={"refreshToken": first["refreshToken"]}
            )
            assert _code(response) == (401, "REFRESH_TOKEN_EXPIRED"), response.text
        assert (await api.refresh(live)).status_code == 200


@pytest.mark.parametrize("kind", ["access", "refresh"])
async def test_an_expired_token_too_old_revokes_nothing(make_api: ApiFactory, kind: str) -> None:
    """``POST /auth/revoke`` (RFC 7009) with such a token answers 200 as for any token it cannot
    use (section 2.2), and ends nothing."""
    clock = ManualClock(T0)
    async with make_api(clock, **SHORT) as api:
        first, live = await _kept_alive(api, clock, 300)
        token = first["accessToken"] if kind == "access" else first["refreshToken"]
        response = await api.client.post("/auth/revoke", data={"token": token})
        assert response.status_code == 200, response.text
        assert (await api.refresh(live)).status_code == 200


async def test_a_recently_expired_token_still_ends_its_session(make_api: ApiFactory) -> None:
    """Within the bound (here the access token expired 30 s ago, the refresh lifetime is
    120 s) logout with an expired access token still ends the session, as before."""
    clock = ManualClock(T0)
    async with make_api(clock, **SHORT) as api:
        first, live = await _kept_alive(api, clock, 60)
        response = await api.client.post("/auth/logout", headers=bearer(first["accessToken"]))
        assert response.status_code == 200, response.text
        assert _code(await api.refresh(live)) == (401, "SESSION_REVOKED")


async def test_a_stale_token_beside_a_good_one_does_not_block_logout(
    make_api: ApiFactory,
) -> None:
    """A too-old access token next to the current refresh token: the refresh token's session
    ends (the stale token names nothing)."""
    clock = ManualClock(T0)
    async with make_api(clock, **SHORT) as api:
        first, live = await _kept_alive(api, clock, 300)
        response = await api.client.post(
            "/auth/logout", headers=bearer(first["accessToken"]), json={"refreshToken": live}
        )
        assert response.status_code == 200, response.text
        assert _code(await api.refresh(live)) == (401, "SESSION_REVOKED")


# -- item 17: a grace use from elsewhere is audited as suspicious ------------------------------


async def _rotate_then_replay(
    make_api: ApiFactory, replay_ip: str, replay_agent: str
) -> tuple[list[AuditEvent], list[AuditEvent]]:
    clock = ManualClock(T0)
    async with make_api(clock, TRUSTED_PROXIES="127.0.0.1", REFRESH_REUSE_GRACE="10s") as api:
        tokens = await api.signed_up()
        user = {"User-Agent": "Firefox/140", "X-Forwarded-For": "198.51.100.7"}
        rotated = await api.client.post(
            "/auth/refresh", json={"refreshToken": tokens["refreshToken"]}, headers=user
        )
        assert rotated.status_code == 200
        clock.advance(3)
        replay = await api.client.post(
            "/auth/refresh",
            json={"refreshToken": tokens["refreshToken"]},
            headers={"User-Agent": replay_agent, "X-Forwarded-For": replay_ip},
        )
        # Contract 5.3: within the grace the spent token gets the live successor, whoever sends.
        assert replay.status_code == 200, replay.text
        assert replay.json()["refreshToken"] == rotated.json()["refreshToken"]
        return (
            await _audit(api, "refresh_grace_suspicious"),
            await _audit(api, "refresh_grace"),
        )


async def test_a_grace_use_from_another_ip_and_agent_is_audited_as_suspicious(
    make_api: ApiFactory,
) -> None:
    """A spent token replayed within the grace from another IP address *and* another
    User-Agent than the rotation is audited as ``refresh_grace_suspicious``, with where the
    rotation came from."""
    suspicious, plain = await _rotate_then_replay(make_api, "203.0.113.9", "curl/8.5")
    assert plain == []
    [event] = suspicious
    assert event.ip == "203.0.113.9"
    assert event.detail["rotation_ip"] == "198.51.100.7"
    assert event.detail["rotation_user_agent"] == "Firefox/140"
    assert event.detail["seconds_since_rotation"] == 3


@pytest.mark.parametrize(
    ("ip", "agent"),
    [("198.51.100.7", "Firefox/140"), ("203.0.113.9", "Firefox/140"), ("198.51.100.7", "x/1")],
    ids=["same-both", "same-agent", "same-ip"],
)
async def test_a_grace_use_from_the_same_place_is_ordinary(
    make_api: ApiFactory, ip: str, agent: str
) -> None:
    """Two tabs of one browser, or one device changing networks, are the grace's purpose: an
    ordinary ``refresh_grace`` event."""
    suspicious, plain = await _rotate_then_replay(make_api, ip, agent)
    assert suspicious == []
    assert len(plain) == 1
