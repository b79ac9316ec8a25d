"""Refresh rotation, the reuse grace and theft detection over HTTP (contract 5.2, 5.3)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.inprocess import Api, ApiFactory


async def test_refresh_rotates_and_the_new_pair_works(api: Api) -> None:
    """Refresh returns a new refresh token and an access token that works."""
    tokens = await api.signed_up()
    response = await api.refresh(tokens["refreshToken"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "accessToken",
        "refreshToken",
        "tokenType",
        "expiresIn",
        "refreshExpiresIn",
    }
    assert body["refreshToken"] != tokens["refreshToken"]
    assert response.headers["cache-control"] == "no-store"
    assert (await api.me(body["accessToken"])).status_code == 200
    again = await api.refresh(body["refreshToken"])
    assert again.status_code == 200


async def test_reuse_within_grace_returns_the_same_successor(api: Api) -> None:
    """A lost response: presenting the spent token within the grace gives the same successor."""
    tokens = await api.signed_up()
    first = (await api.refresh(tokens["refreshToken"])).json()
    api.clock.advance(9)
    second = await api.refresh(tokens["refreshToken"])
    assert second.status_code == 200
    assert second.json()["refreshToken"] == first["refreshToken"]
    assert (await api.refresh(first["refreshToken"])).status_code == 200


async def test_reused_refresh_token_after_grace_revokes_session(api: Api) -> None:
    """Past the grace, the old token is theft: 401 TOKEN_REUSE_DETECTED and the whole session
    dies, including the newest refresh token and the access tokens."""
    tokens = await api.signed_up()
    successor = (await api.refresh(tokens["refreshToken"])).json()
    api.clock.advance(11)
    reused = await api.refresh(tokens["refreshToken"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "TOKEN_REUSE_DETECTED"
    newest = await api.refresh(successor["refreshToken"])
    assert newest.json()["code"] == "TOKEN_REUSE_DETECTED"
    for access in (tokens["accessToken"], successor["accessToken"]):
        me = await api.me(access)
        assert me.status_code == 401 and me.json()["code"] == "TOKEN_REVOKED"


async def test_reuse_after_the_successor_rotated_is_theft_even_within_grace(api: Api) -> None:
    """When the successor has itself been rotated, the old token is theft at once."""
    tokens = await api.signed_up()
    second = (await api.refresh(tokens["refreshToken"])).json()
    (await api.refresh(second["refreshToken"])).raise_for_status()
    reused = await api.refresh(tokens["refreshToken"])
    assert reused.json()["code"] == "TOKEN_REUSE_DETECTED"


async def test_reuse_detection_writes_an_audit_event_with_the_delay(api: Api) -> None:
    """Reuse is audited with how long after the rotation it happened."""
    tokens = await api.signed_up()
    await api.refresh(tokens["refreshToken"])
    api.clock.advance(42)
    await api.refresh(tokens["refreshToken"])
    async with api.auth.services.database.transaction() as uow:
        events = await uow.audit.query(kind="reuse_detected")
    assert len(events) == 1
    assert events[0].detail["seconds_since_rotation"] == 42


async def test_grace_zero_disables_the_grace(make_api: ApiFactory) -> None:
    """REFRESH_REUSE_GRACE=0: any second presentation is reuse."""
    async with make_api(REFRESH_REUSE_GRACE="0") as api:
        tokens = await api.signed_up()
        await api.refresh(tokens["refreshToken"])
        reused = await api.refresh(tokens["refreshToken"])  # even in the same second
        assert reused.json()["code"] == "TOKEN_REUSE_DETECTED"


async def test_fifty_concurrent_refreshes_make_at_most_one_successor(api: Api) -> None:
    """Rotation is atomic: 50 concurrent refreshes of one token give one distinct successor,
    which works; then reuse past the grace kills the session and its access token."""
    tokens = await api.signed_up()
    responses = await asyncio.gather(*(api.refresh(tokens["refreshToken"]) for _ in range(50)))
    successors = {r.json()["refreshToken"] for r in responses if r.status_code == 200}
    assert len(successors) == 1
    assert all(r.status_code == 200 for r in responses)
    successor = successors.pop()
    follow = await api.refresh(successor)
    assert follow.status_code == 200
    api.clock.advance(11)
    assert (await api.refresh(tokens["refreshToken"])).json()["code"] == "TOKEN_REUSE_DETECTED"
    me = await api.me(follow.json()["accessToken"])
    assert me.json()["code"] == "TOKEN_REVOKED"


async def test_refresh_without_a_token_is_refresh_token_required(api: Api) -> None:
    """An empty body, `{}` and a null token are all 401 REFRESH_TOKEN_REQUIRED."""
    bodies: list[dict[str, Any]] = [
        {},
        {"json": {}},
        {"json": {"refreshToken": None}},
        {"content": b""},
    ]
    for kwargs in bodies:
        response = await api.client.post("/auth/refresh", **kwargs)
        assert response.status_code == 401, kwargs
        assert response.json()["code"] == "REFRESH_TOKEN_REQUIRED"


async def test_access_token_is_not_a_refresh_token(api: Api) -> None:
    """A token of one kind is never accepted as the other (typ and keys differ)."""
    tokens = await api.signed_up()
    as_refresh = await api.refresh(tokens["accessToken"])
    assert as_refresh.status_code == 401
    assert as_refresh.json()["code"] == "INVALID_REFRESH_TOKEN"
    as_access = await api.me(tokens["refreshToken"])
    assert as_access.json()["code"] == "INVALID_TOKEN"


async def test_garbage_refresh_token_is_invalid(api: Api) -> None:
    """Malformed refresh tokens are 401 INVALID_REFRESH_TOKEN, never a 500."""
    for garbage in ("x", "a.b.c", "e30.e30.", "." * 5000):
        response = await api.refresh(garbage)
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_REFRESH_TOKEN"


async def test_expired_refresh_token_is_refresh_token_expired(make_api: ApiFactory) -> None:
    """Past its lifetime plus the tolerance, a refresh token is REFRESH_TOKEN_EXPIRED."""
    async with make_api(JWT_REFRESH_EXPIRES_IN="1h", JWT_CLOCK_TOLERANCE="0") as api:
        tokens = await api.signed_up()
        api.clock.advance(3601)
        response = await api.refresh(tokens["refreshToken"])
        assert response.json()["code"] == "REFRESH_TOKEN_EXPIRED"


async def test_session_max_age_caps_a_session_that_keeps_refreshing(make_api: ApiFactory) -> None:
    """SESSION_MAX_AGE ends a session however often it refreshes."""
    async with make_api(
        SESSION_MAX_AGE="2h", JWT_REFRESH_EXPIRES_IN="1h", JWT_CLOCK_TOLERANCE="0"
    ) as api:
        tokens = await api.signed_up()
        refresh = tokens["refreshToken"]
        for _ in range(3):
            api.clock.advance(50 * 60)
            response = await api.refresh(refresh)
            if response.status_code != 200:
                break
            assert response.json()["refreshExpiresIn"] <= 3600
            refresh = response.json()["refreshToken"]
        assert response.status_code == 401
        assert response.json()["code"] == "REFRESH_TOKEN_EXPIRED"


async def test_refresh_token_of_a_logged_out_session_is_session_revoked(api: Api) -> None:
    """After logout the refresh token answers SESSION_REVOKED."""
    tokens = await api.signed_up()
    await api.client.post("/auth/logout", json={"refreshToken": tokens["refreshToken"]})
    response = await api.refresh(tokens["refreshToken"])
    assert response.status_code == 401
    assert response.json()["code"] == "SESSION_REVOKED"


async def test_refresh_is_audited(api: Api) -> None:
    """Each rotation writes a refresh event."""
    tokens = await api.signed_up()
    await api.refresh(tokens["refreshToken"])
    async with api.auth.services.database.transaction() as uow:
        events = await uow.audit.query(kind="refresh")
    assert len(events) == 1 and events[0].ip == "127.0.0.1"
