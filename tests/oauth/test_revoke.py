"""RFC 7009 revocation: ``POST /auth/revoke``."""

from __future__ import annotations

import base64

from tests.support.inprocess import Api, ApiFactory, bearer


async def test_revoking_a_refresh_token_ends_its_session(api: Api) -> None:
    """A public client revokes its refresh token: the session's access token fails at once."""
    tokens = await api.signed_up()
    response = await api.client.post(
        "/auth/revoke",
        data={"token": tokens["refreshToken"], "token_type_hint": "refresh_token"},
    )
    assert response.status_code == 200
    me = await api.me(tokens["accessToken"])
    assert me.status_code == 401
    assert me.json()["code"] == "TOKEN_REVOKED"
    assert (await api.refresh(tokens["refreshToken"])).json()["code"] == "SESSION_REVOKED"


async def test_revoking_an_access_token_ends_its_session(api: Api) -> None:
    """Revoking an access token ends the whole session, its refresh token included."""
    tokens = await api.signed_up()
    other = await api.login()
    response = await api.client.post("/auth/revoke", data={"token": tokens["accessToken"]})
    assert response.status_code == 200
    assert (await api.me(tokens["accessToken"])).status_code == 401
    assert (await api.refresh(tokens["refreshToken"])).status_code == 401
    assert (await api.me(other["accessToken"])).status_code == 200


async def test_invalid_tokens_still_answer_200(api: Api) -> None:
    """RFC 7009 section 2.2: an invalid or already revoked token is not an error."""
    tokens = await api.signed_up()
    for token in ("garbage", tokens["accessToken"], tokens["accessToken"]):
        response = await api.client.post("/auth/revoke", data={"token": token})
        assert response.status_code == 200


async def test_wrong_basic_credentials_are_refused(make_api: ApiFactory) -> None:
    """Client credentials are optional, but wrong HTTP Basic credentials get 401."""
    async with make_api(INTROSPECTION_SECRET="s" * 40) as api:
        tokens = await api.signed_up()
        wrong = {"Authorization": "Basic " + base64.b64encode(b"app:nope").decode()}
        response = await api.client.post(
            "/auth/revoke", data={"token": tokens["accessToken"]}, headers=wrong
        )
        assert response.status_code == 401
        assert response.json()["code"] == "INVALID_CLIENT"
        assert (await api.me(tokens["accessToken"])).status_code == 200
        right = {"Authorization": "Basic " + base64.b64encode(b"app:" + b"s" * 40).decode()}
        response = await api.client.post(
            "/auth/revoke", data={"token": tokens["accessToken"]}, headers=right
        )
        assert response.status_code == 200
        assert (await api.me(tokens["accessToken"])).status_code == 401


async def test_a_bearer_header_does_not_block_revocation(api: Api) -> None:
    """A client that sends its own access token as Bearer can still revoke."""
    tokens = await api.signed_up()
    response = await api.client.post(
        "/auth/revoke",
        data={"token": tokens["refreshToken"]},
        headers=bearer(tokens["accessToken"]),
    )
    assert response.status_code == 200
    assert (await api.me(tokens["accessToken"])).status_code == 401


async def test_missing_token_is_a_validation_error(api: Api) -> None:
    """No ``token`` parameter: 422 VALIDATION_ERROR in the contract's error shape."""
    response = await api.client.post("/auth/revoke", data={"token_type_hint": "access_token"})
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"
