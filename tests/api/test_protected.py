"""The protected-route check: every 401 code and its WWW-Authenticate header (contract 4)."""

from __future__ import annotations

import jwt
import pytest

from tests.support.inprocess import Api, ApiFactory, bearer

INVALID_CHALLENGE = 'Bearer realm="tokensmith", error="invalid_token"'


def forge(api: Api, claims: dict[str, object], **header: str) -> str:
    """Sign ``claims`` with the server's real access secret (what only a key holder can do)."""
    secret = api.auth.settings.access_secret
    kid = api.auth.services.access_keys.signing_kid
    headers = {"typ": "at+jwt", "kid": kid, **header}
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers)


def claims_of(api: Api, token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_no_token_is_401_without_error_attribute(api: Api) -> None:
    """RFC 6750 section 3.1: no token sent, no `error` in the challenge."""
    response = await api.client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "NO_TOKEN"
    assert response.headers["www-authenticate"] == 'Bearer realm="tokensmith"'


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
async def test_other_schemes_and_empty_bearer_are_no_token(api: Api, header: str) -> None:
    """Another scheme or an empty Bearer is as good as no token."""
    response = await api.client.get("/auth/me", headers={"Authorization": header})
    assert response.json()["code"] == "NO_TOKEN"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_bearer_scheme_is_case_insensitive(api: Api, scheme: str) -> None:
    """RFC 7235 section 2.1: the auth-scheme is case-insensitive."""
    tokens = await api.signed_up()
    response = await api.client.get(
        "/auth/me", headers={"Authorization": f"{scheme}  {tokens['accessToken']}"}
    )
    assert response.status_code == 200


async def test_expired_token_is_token_expired_after_the_tolerance(api: Api) -> None:
    """TOKEN_EXPIRED only past exp + JWT_CLOCK_TOLERANCE (60s by default)."""
    tokens = await api.signed_up()
    api.clock.advance(900 + 59)
    assert (await api.me(tokens["accessToken"])).status_code == 200
    api.clock.advance(2)
    response = await api.me(tokens["accessToken"])
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_EXPIRED"
    assert response.headers["www-authenticate"].startswith(INVALID_CHALLENGE)


async def test_zero_tolerance_expires_exactly_at_exp(make_api: ApiFactory) -> None:
    """JWT_CLOCK_TOLERANCE=0 is allowed and means no leeway."""
    async with make_api(JWT_CLOCK_TOLERANCE="0", JWT_EXPIRES_IN="30s") as api:
        tokens = await api.signed_up()
        api.clock.advance(29)
        assert (await api.me(tokens["accessToken"])).status_code == 200
        api.clock.advance(1)
        assert (await api.me(tokens["accessToken"])).json()["code"] == "TOKEN_EXPIRED"


async def test_token_issued_in_the_future_is_invalid(api: Api) -> None:
    """An iat beyond the tolerance in the future is INVALID_TOKEN (a clock problem)."""
    tokens = await api.signed_up()
    api.clock.advance(-61)
    response = await api.me(tokens["accessToken"])
    assert response.json()["code"] == "INVALID_TOKEN"
    api.clock.advance(2)
    assert (await api.me(tokens["accessToken"])).status_code == 200


async def test_nbf_in_the_future_is_invalid(api: Api) -> None:
    """nbf beyond the tolerance is INVALID_TOKEN; within it the token works."""
    tokens = await api.signed_up()
    claims = claims_of(api, tokens["accessToken"])
    now = int(api.clock.now().timestamp())
    late = forge(api, {**claims, "nbf": now + 120})
    assert (await api.me(late)).json()["code"] == "INVALID_TOKEN"
    soon = forge(api, {**claims, "nbf": now + 30})
    assert (await api.me(soon)).status_code == 200


@pytest.mark.parametrize(
    ("change", "value"),
    [("iss", "someone-else"), ("aud", "another-api"), ("aud", ["tokensmith"]), ("sub", 42)],
)
async def test_wrong_issuer_audience_or_types_are_invalid(
    api: Api, change: str, value: object
) -> None:
    """Validly signed but wrong iss, aud or claim types: INVALID_TOKEN."""
    tokens = await api.signed_up()
    token = forge(api, {**claims_of(api, tokens["accessToken"]), change: value})
    response = await api.me(token)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"


async def test_wrong_typ_is_invalid(api: Api) -> None:
    """A token without the at+jwt type is not an access token."""
    tokens = await api.signed_up()
    token = forge(api, claims_of(api, tokens["accessToken"]), typ="JWT")
    assert (await api.me(token)).json()["code"] == "INVALID_TOKEN"


async def test_expired_and_badly_signed_is_invalid_not_expired(api: Api) -> None:
    """TOKEN_EXPIRED is only for validly signed tokens: a forged expired one is INVALID."""
    tokens = await api.signed_up()
    claims = {**claims_of(api, tokens["accessToken"]), "exp": 1000}
    kid = api.auth.services.access_keys.signing_kid
    forged = jwt.encode(
        claims, "not-the-server-secret-at-all-32b!", "HS256", headers={"typ": "at+jwt", "kid": kid}
    )
    assert (await api.me(forged)).json()["code"] == "INVALID_TOKEN"


async def test_alg_none_is_refused(api: Api) -> None:
    """RFC 8725 section 3.1: only the configured algorithm is accepted."""
    tokens = await api.signed_up()
    unsigned = jwt.encode(
        claims_of(api, tokens["accessToken"]), "", algorithm="none", headers={"typ": "at+jwt"}
    )
    assert (await api.me(unsigned)).json()["code"] == "INVALID_TOKEN"


@pytest.mark.parametrize("garbage", ["abc", "a.b", "a.b.c.d", "!!!.!!!.!!!", "e30.e30.e30"])
async def test_malformed_tokens_are_invalid(api: Api, garbage: str) -> None:
    """Malformed tokens are 401 INVALID_TOKEN with the invalid_token challenge."""
    response = await api.me(garbage)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_TOKEN"
    assert response.headers["www-authenticate"].startswith(INVALID_CHALLENGE)


async def test_revoked_token_challenge_says_invalid_token(api: Api) -> None:
    """A revoked token gets TOKEN_REVOKED and error="invalid_token"."""
    tokens = await api.signed_up()
    await api.client.post("/auth/logout", headers=bearer(tokens["accessToken"]))
    response = await api.me(tokens["accessToken"])
    assert response.json()["code"] == "TOKEN_REVOKED"
    assert response.headers["www-authenticate"].startswith(INVALID_CHALLENGE)


async def test_me_makes_no_database_query_once_the_user_is_known(api: Api) -> None:
    """The protected check and /auth/me run from memory: no SQL per request."""
    from sqlalchemy import event

    tokens = await api.signed_up()
    await api.me(tokens["accessToken"])
    statements: list[str] = []
    engine = api.auth.services.database.engine.sync_engine

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert (await api.me(tokens["accessToken"])).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    polls = [s for s in statements if "revocations" in s or "outbox" in s]
    assert [s for s in statements if s not in polls] == []
