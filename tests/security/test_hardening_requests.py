"""Regression tests for issue 11 (a security review of the running server), the request side:
unparsable JSON (item 12), two ``Authorization`` headers (item 13), fractional NumericDates
(item 14) and ECDSA signature malleability (item 19). HS256 and ES256 in-process (``svc``) and, for
the headers, on a real server process, whose HTTP parser is what an attacker talks to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.security.forge import P256_ORDER, b64url, flip_s, split
from tests.security.harness import Api, Live
from tokensmith.core.clock import ManualClock
from tokensmith.core.keys import KeySet
from tokensmith.core.tokens import TokenCodec, TokenPolicy
from tokensmith.errors import InvalidToken, TokenExpired


@pytest.fixture
def attack(svc: Api) -> Iterator[Api]:
    """The service under attack; afterwards, a legitimate session must still work."""
    yield svc
    svc.assert_still_works()


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# -- item 12: JSON the parser gives up on is 422 VALIDATION_ERROR, not 400 HTTP_400 ------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,
        '{"email": ' + "[" * 3000 + "]" * 3000 + ', "password": "x"}',
        '{"email": "a@example.com", "password": ' + "7" * 5000 + "}",
        '{"email": ' + "-" + "9" * 4301 + ', "password": "x"}',
    ],
    ids=["deep-array", "deep-member", "5000-digit-int", "4301-digit-negative-int"],
)
@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/refresh"])
def test_json_the_parser_cannot_read_is_a_validation_error(
    attack: Api, path: str, body: str
) -> None:
    """Contract 4: malformed JSON is 422 ``VALIDATION_ERROR`` with ``details``; JSON nested past
    the parser's recursion limit or holding an integer past Python's digit limit is malformed
    JSON too, never a 400 with a code outside the contract."""
    response = attack.client.post(
        path, content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert _error(response) == (422, "VALIDATION_ERROR"), response.text
    assert response.json()["details"][0]["loc"] == ["body"]
    assert "7777" not in response.text and "9999" not in response.text  # never echoed


# -- item 13: two Authorization headers ------------------------------------------------------


def _two_headers(first: str, second: str) -> list[tuple[str, str]]:
    return [("Authorization", first), ("Authorization", second)]


@pytest.mark.parametrize("which", ["good-then-bad", "bad-then-good", "same-twice"])
def test_two_authorization_headers_are_invalid_request(attack: Api, which: str) -> None:
    """RFC 6750 section 3.1: a request with more than one way of carrying a token is
    ``invalid_request``, 400, whichever header comes first; taking the first would let a proxy
    that reads the last disagree with tokensmith about whose request it is."""
    session = attack.login()
    good, bad = f"Bearer {session.access}", "Bearer not.a.token"
    first, second = {
        "good-then-bad": (good, bad),
        "bad-then-good": (bad, good),
        "same-twice": (good, good),
    }[which]
    response = attack.client.get("/auth/me", headers=_two_headers(first, second))
    assert _error(response) == (400, "INVALID_REQUEST"), response.text
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert attack.me(session.access).status_code == 200


def test_two_authorization_headers_on_logout_end_nothing(attack: Api) -> None:
    """Logout with two Authorization headers (two users' tokens) is refused before any session
    ends."""
    one, two = attack.login(), attack.login()
    response = attack.client.post(
        "/auth/logout", headers=_two_headers(f"Bearer {one.access}", f"Bearer {two.access}")
    )
    assert _error(response) == (400, "INVALID_REQUEST"), response.text
    assert attack.me(one.access).status_code == 200
    assert attack.me(two.access).status_code == 200


def test_two_authorization_headers_on_a_real_server(live: Live) -> None:
    """The same through uvicorn's HTTP parser: both header lines reach the app and are
    refused."""
    api = live.api
    session = api.login()
    response = api.client.get(
        "/auth/me",
        headers=_two_headers(f"Bearer {session.access}", "Bearer not.a.token"),
    )
    assert _error(response) == (400, "INVALID_REQUEST"), response.text
    assert api.me(session.access).status_code == 200


# -- item 14: NumericDate with a fraction -----------------------------------------------------


def _claims(api: Api) -> dict[str, Any]:
    return api.claims_of(api.login().access)


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "auth_time"])
def test_a_numeric_date_with_a_fraction_is_accepted(attack: Api, claim: str) -> None:
    """RFC 7519 section 2: a NumericDate is a JSON number and "can contain fractions"; it is
    compared as a number."""
    claims = _claims(attack)
    base = claims["iat"] if claim == "nbf" else claims[claim]
    claims[claim] = base + 0.5
    response = attack.me(attack.sign_access(claims))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("claim", "offset_s", "accepted"),
    [("exp", 0.5, True), ("exp", -0.5, False), ("nbf", 0.5, False), ("nbf", -0.5, True)],
)
def test_fractions_are_compared_as_numbers(claim: str, offset_s: float, accepted: bool) -> None:
    """With no tolerance, an ``exp`` half a second ahead of the clock is valid and half a second
    behind it is expired; an ``nbf`` half a second ahead is not valid yet."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    keys = KeySet.hmac(b"a" * 32)
    policy = TokenPolicy("iss", "aud", timedelta(minutes=15), timedelta(days=7), timedelta(0))
    codec = TokenCodec(keys, KeySet.hmac(b"r" * 32), policy, ManualClock(now))
    token = codec.issue_access(user_id="u", session_id="s", now=now - timedelta(seconds=5))
    jws = split(token)
    payload = {**jws.payload, claim: now.timestamp() + offset_s}
    signing_input = f"{jws.header_b64}.{b64url(json.dumps(payload).encode())}"
    signature = keys.implementation.sign(signing_input.encode(), keys.signing_key)
    forged = f"{signing_input}.{b64url(signature)}"
    if accepted:
        assert codec.verify_access(forged).raw[claim] == now.timestamp() + offset_s
    else:
        with pytest.raises(TokenExpired if claim == "exp" else InvalidToken):
            codec.verify_access(forged)


@pytest.mark.parametrize(
    "value",
    ["1796475371", "1796475371.5", True, None, [1796475371], {"t": 1}, "NaN"],
    ids=["string", "fraction-string", "boolean", "null", "list", "object", "nan-string"],
)
@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_a_numeric_date_that_is_not_a_number_is_refused(
    attack: Api, claim: str, value: object
) -> None:
    """Strings, booleans and other JSON types are still not NumericDates."""
    claims = {**_claims(attack), claim: value}
    assert _error(attack.me(attack.sign_access(claims))) == (401, "INVALID_TOKEN")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(attack: Api, literal: str) -> None:
    """Python's JSON parser reads ``NaN`` and ``Infinity`` (and ``1e400`` as infinity): none is
    a NumericDate."""
    claims = _claims(attack)
    placeholder = 4242424242
    claims["exp"] = placeholder
    token = attack.sign_access(_raw_payload(claims, placeholder, literal))
    assert _error(attack.me(token)) == (401, "INVALID_TOKEN")


def _raw_payload(claims: dict[str, Any], placeholder: int, literal: str) -> bytes:
    return json.dumps(claims, separators=(",", ":")).replace(str(placeholder), literal).encode()


# -- item 19: ECDSA signatures have one spelling -----------------------------------------------


def test_a_high_s_signature_is_refused(svc: Api) -> None:
    """ECDSA is malleable: (r, s) and (r, n - s) both verify. tokensmith accepts only low-S, so
    a token has one spelling (docs/security.md) and a re-spelled copy is not a second token."""
    if svc.algorithm != "ES256":
        pytest.skip("ECDSA only")
    session = svc.login()
    jws = split(session.access)
    s = int.from_bytes(jws.signature[32:], "big")
    assert s <= P256_ORDER // 2  # what tokensmith issues is low-S
    twin = f"{jws.header_b64}.{jws.payload_b64}.{b64url(flip_s(jws.signature))}"
    response = svc.me(twin)
    assert _error(response) == (401, "INVALID_TOKEN"), response.text
    assert "low-S" in response.json()["error"]
    assert svc.me(session.access).status_code == 200


def test_every_issued_es256_token_is_low_s(svc: Api) -> None:
    """OpenSSL returns a high S half of the time; tokensmith normalises before sending, so none
    of its own tokens is ever refused by the low-S rule."""
    if svc.algorithm != "ES256":
        pytest.skip("ECDSA only")
    for _ in range(24):  # P(all 24 low by chance) = 2^-24
        session = svc.login()
        s = int.from_bytes(split(session.access).signature[32:], "big")
        assert s <= P256_ORDER // 2
        assert svc.me(session.access).status_code == 200
