"""A sample of the attack classes against the real ``tokensmith serve`` processes (HS256 and
ES256): what an attacker on the network actually reaches, through uvicorn's HTTP parser."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.security.attackers import AttackerKey, Listener, public_key_texts
from tests.security.forge import b64url, forge, hs256, split
from tests.security.harness import Live

pytestmark = pytest.mark.e2e


def _refused(live: Live, token: str, path: str = "access") -> None:
    if path == "access":
        response = live.api.me(token)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "INVALID_TOKEN"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    else:
        response = live.api.refresh(token)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "INVALID_REFRESH_TOKEN"


def test_forged_tokens_are_refused_by_the_real_server(live: Live) -> None:
    """alg none (four spellings), a stripped signature, a tampered claim, the empty and a weak
    HMAC secret, kid traversal, and (ES256) the public key's PEM, DER and JWK as HMAC secret:
    all 401 on both paths; a legitimate session still works afterwards."""
    session = live.api.login()
    for path, token in (("access", session.access), ("refresh", session.refresh)):
        base = split(token)
        for spelling in ("none", "None", "NONE", "nOnE"):
            _refused(live, forge({**base.header, "alg": spelling}, base.payload_b64, ""), path)
            _refused(live, forge({**base.header, "alg": spelling}, base.payload_b64, "e30"), path)
        _refused(live, f"{base.header_b64}.{base.payload_b64}.", path)
        _refused(live, forge(base.header_b64, {**base.payload, "sub": "x"}, base.signature), path)
        for secret in (b"", b"secret"):
            _refused(live, hs256({**base.header, "alg": "HS256"}, base.payload, secret), path)
        traversal = {**base.header, "alg": "HS256", "kid": "../../../../dev/null"}
        _refused(live, hs256(traversal, base.payload, b""), path)
        if live.api.algorithm != "HS256":
            (jwk,) = live.api.client.get("/.well-known/jwks.json").json()["keys"]
            for secret in public_key_texts(jwk).values():
                _refused(live, hs256({**base.header, "alg": "HS256"}, base.payload, secret), path)
    live.api.assert_still_works()


def test_the_real_server_fetches_no_jku_or_x5u(live: Live) -> None:
    """Tokens naming a JWKS or certificate URL on a listener the test runs on 127.0.0.1, signed
    with the attacker's key, are refused and the listener sees no request."""
    attacker = AttackerKey()
    listener = Listener({"keys": [attacker.jwk]})
    try:
        claims = split(live.api.login().access).payload
        for extra in ({"jku": f"{listener.url}/jwks"}, {"x5u": f"{listener.url}/x5u"}):
            header = {**live.api.access_header(), **extra, "kid": "attacker", "alg": "ES256"}
            unsigned = forge(header, claims, b"")
            signing_input = split(unsigned).signing_input
            token = f"{signing_input.decode()}.{b64url(attacker.sign_es256(signing_input))}"
            _refused(live, token)
            _refused(live, hs256({**header, "alg": "HS256"}, claims, attacker.hmac_secret))
        assert listener.hits == []
    finally:
        listener.close()
    live.api.assert_still_works()


def test_oversized_and_deeply_nested_requests_are_never_5xx(live: Live) -> None:
    """Through uvicorn: a 64 KiB Authorization header, a 1 MiB body, and a 2,000-deep JSON
    body each get a 4xx (or the connection is refused by the HTTP parser), never a 5xx."""
    url = live.server.url
    with httpx.Client(base_url=url, timeout=30) as client:
        for headers in ({"Authorization": "Bearer " + "A" * 65536}, {"X-Big": "B" * 65536}):
            try:
                response = client.get("/auth/me", headers=headers)
            except httpx.RemoteProtocolError:
                continue  # h11 closed the connection: refused before the app, not an error
            assert 400 <= response.status_code < 500, response.status_code
        deep = "[" * 2000 + "]" * 2000
        for body in (deep, json.dumps({"refreshToken": "x" * (1024 * 1024)})):
            response = client.post(
                "/auth/refresh", content=body, headers={"Content-Type": "application/json"}
            )
            assert 400 <= response.status_code < 500, response.status_code
            assert {"error", "code"} <= response.json().keys()
    live.api.assert_still_works()


def test_authorization_variants_through_the_real_http_parser(live: Live) -> None:
    """Scheme case and repeated spaces are accepted (RFC 7235 section 2.1); other schemes and
    malformed credentials are 401 with the RFC 6750 challenge."""
    token = live.api.login().access
    for value in (f"bearer {token}", f"BEARER {token}", f"Bearer   {token}"):
        assert live.api.me(authorization=value).status_code == 200, value
    for value in (f"Basic {token}", f"Bearer {token} x", f"Bearer={token}", token):
        response = live.api.me(authorization=value)
        assert response.status_code == 401, value
        assert response.headers["www-authenticate"].startswith("Bearer ")
