"""Regression tests for weaknesses this suite found (and that have been fixed since): sessions
inside the clock-tolerance window or at their maximum age must still end on logout-all and on a
password change.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.inprocess import ApiFactory, bearer
from tokensmith.core.clock import ManualClock

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("how", ["logout-all", "password-change"])
async def test_logout_all_ends_a_session_whose_refresh_token_is_within_the_tolerance(
    make_api: ApiFactory, how: str
) -> None:
    """After logout-all (or a password change) no refresh token of the user works, including
    one just past its ``exp`` but still inside ``JWT_CLOCK_TOLERANCE``."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    async with make_api(
        clock,
        JWT_EXPIRES_IN="30s",
        JWT_REFRESH_EXPIRES_IN="120s",
        JWT_CLOCK_TOLERANCE="60s",
    ) as api:
        stolen = await api.signed_up()
        clock.advance(130)  # past the refresh token's exp, inside the tolerance
        user = await api.login()
        if how == "logout-all":
            response = await api.client.post(
                "/auth/logout-all", headers=bearer(user["accessToken"])
            )
            assert response.status_code == 200
        else:
            response = await api.client.post(
                "/auth/password",
                headers=bearer(user["accessToken"]),
                json={"currentPassword": PASSWORD, "newPassword": "a brand new password"},
            )
            assert response.status_code == 204
        response = await api.refresh(stolen["refreshToken"])
        assert response.status_code == 401, response.text


async def test_logout_all_revokes_access_tokens_of_a_session_at_its_max_age(
    make_api: ApiFactory,
) -> None:
    """Contract 5.2: logout-all ends every session, and their access tokens stop working at
    once, including an access token refreshed just before the session's maximum age. Its
    ``exp`` is the session's end (issue 11 item 10), but ``JWT_CLOCK_TOLERANCE`` keeps it
    acceptable a little longer: logout-all must still revoke it."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    async with make_api(
        clock,
        JWT_EXPIRES_IN="30s",
        JWT_REFRESH_EXPIRES_IN="120s",
        SESSION_MAX_AGE="60s",
        JWT_CLOCK_TOLERANCE="30s",
    ) as api:
        first = await api.signed_up()
        clock.advance(45)
        refreshed = await api.refresh(first["refreshToken"])
        assert refreshed.status_code == 200
        late_access = refreshed.json()["accessToken"]  # exp = t0 + 60, the session's end
        clock.advance(20)  # t0 + 65: past the session's max age, inside the tolerance
        assert (await api.me(late_access)).status_code == 200
        user = await api.login()
        response = await api.client.post("/auth/logout-all", headers=bearer(user["accessToken"]))
        assert response.status_code == 200
        assert (await api.me(late_access)).status_code == 401
