"""Black-box attacks on the HTTP API, on the access path (``GET /auth/me``) and the refresh path
(``POST /auth/refresh``), for HS256 and ES256 access tokens (the ``svc`` fixture runs each module
once per algorithm). Every test ends by checking that a legitimate login, its access token and a
refresh still work (the ``attack`` fixture).

Tokens are forged with ``forge.py``, byte by byte. Where a check is about claims or headers, the
forged token is signed with the service's *real* key (the test knows it) so that the claim check,
not the signature, is shown to refuse it, next to a control that the same token without the
defect is accepted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import httpx
import pytest

from tests.security.attackers import AttackerKey, Listener, public_key_texts, reencodings
from tests.security.forge import b64url, forge, hs256, split
from tests.security.harness import Api, Session

PATHS = ("access", "refresh")


@pytest.fixture
def attack(svc: Api) -> Iterator[Api]:
    """The service under attack; afterwards, a legitimate session must still work."""
    yield svc
    svc.assert_still_works()


@pytest.fixture(scope="module")
def attacker() -> AttackerKey:
    return AttackerKey()


def _base(svc: Api, session: Session, path: str) -> str:
    return session.access if path == "access" else session.refresh


def assert_refused(svc: Api, path: str, token: str, *codes: str, note: str = "") -> httpx.Response:
    """401 with the path's invalid-token code (or one of ``codes``); a WWW-Authenticate challenge
    with ``error="invalid_token"`` on the access path (RFC 6750 section 3)."""
    if path == "access":
        response = svc.me(token)
        expected = codes or ("INVALID_TOKEN",)
    else:
        response = svc.refresh(token)
        expected = codes or ("INVALID_REFRESH_TOKEN",)
    assert response.status_code == 401, (note, token[:120], response.status_code, response.text)
    body = response.json()
    assert body["code"] in expected, (note, token[:120], body)
    assert isinstance(body["error"], str)
    if path == "access":
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert ('error="invalid_token"' in challenge) == (body["code"] != "NO_TOKEN")
    return response


def _accepted(svc: Api, path: str, token: str) -> None:
    response = svc.me(token) if path == "access" else svc.refresh(token)
    assert response.status_code == 200, response.text


def _sign(svc: Api, path: str, payload: Any, **header_changes: Any) -> str:
    if path == "access":
        return svc.sign_access(payload, **header_changes)
    return svc.sign_refresh(payload, **header_changes)


def _header(svc: Api, path: str, **changes: Any) -> dict[str, Any]:
    return svc.access_header(**changes) if path == "access" else svc.refresh_header(**changes)


# -- alg none ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("spelling", ["none", "None", "NONE", "nOnE", "none ", ""])
def test_alg_none_in_every_spelling_is_refused(attack: Api, path: str, spelling: str) -> None:
    """RFC 8725 section 3.1: an unsecured JWS (alg none, any case) is refused, with an empty
    signature, without one, or with the original signature left in place."""
    token = split(_base(attack, attack.login(), path))
    header = {**token.header, "alg": spelling}
    for signature in ("", token.signature_b64):
        assert_refused(attack, path, forge(header, token.payload_b64, signature))
    assert_refused(attack, path, f"{forge(header, token.payload_b64)[:-1]}")  # two segments


# -- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_stripped_truncated_and_foreign_signatures_are_refused(attack: Api, path: str) -> None:
    """A missing, emptied, truncated, extended, zeroed or random signature, and the signature of
    another valid token, are all refused. All-zero ECDSA signatures (r = s = 0, the "psychic
    signature" CVE-2022-21449) included."""
    base = split(_base(attack, attack.login(), path))
    other = split(_base(attack, attack.login(), path))
    sig = base.signature_b64
    variants = {
        "stripped": f"{base.header_b64}.{base.payload_b64}.",
        "two-segments": f"{base.header_b64}.{base.payload_b64}",
        "one-char": f"{base.header_b64}.{base.payload_b64}.A",
        "minus-one-char": f"{base.header_b64}.{base.payload_b64}.{sig[:-1]}",
        "minus-four-chars": f"{base.header_b64}.{base.payload_b64}.{sig[:-4]}",
        "half": f"{base.header_b64}.{base.payload_b64}.{sig[: len(sig) // 2]}",
        "extended": f"{base.header_b64}.{base.payload_b64}.{sig}AAAA",
        "zeros": forge(base.header_b64, base.payload_b64, bytes(len(base.signature))),
        "ones": forge(base.header_b64, base.payload_b64, b"\xff" * len(base.signature)),
        "foreign": f"{base.header_b64}.{base.payload_b64}.{other.signature_b64}",
        "four-segments": f"{base.header_b64}.{base.payload_b64}.{sig}.{sig}",
    }
    for name, token in variants.items():
        assert_refused(attack, path, token, note=name)


@pytest.mark.parametrize("path", PATHS)
def test_tampered_claims_with_the_old_signature_are_refused(attack: Api, path: str) -> None:
    """Changing any claim or header member while keeping the old signature is refused."""
    base = split(_base(attack, attack.login(), path))
    claims = base.payload
    changes: list[dict[str, Any]] = [
        {"sub": "someone-else"},
        {"sid": "another-session"},
        {"exp": claims["exp"] + 3600},
        {"iat": claims["iat"] - 1},
        {"aud": "other"},
        {"jti": "x" + claims["jti"]},
        {"email": "admin@example.com"},
        {"admin": True},
    ]
    for change in changes:
        assert_refused(attack, path, forge(base.header_b64, {**claims, **change}, base.signature))
    for change in ({"typ": "JWT"}, {"kid": "other"}, {"extra": 1}):
        assert_refused(
            attack, path, forge({**base.header, **change}, base.payload_b64, base.signature)
        )


# -- key confusion ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_public_key_as_hmac_secret_is_refused(attack: Api, path: str) -> None:
    """HS/asymmetric confusion: HS256 tokens MACed with every textual form of the published
    public key (PEM, DER, raw point, OpenSSH, JWK JSON ...), with the server's kid, are refused
    (RFC 8725 section 3.1: the configured algorithm, never the token's)."""
    jwks = attack.client.get("/.well-known/jwks.json").json()["keys"]
    if attack.algorithm == "HS256":
        assert jwks == []  # no public key to confuse: the HMAC secret never leaves the server
        return
    (jwk,) = jwks
    claims = split(_base(attack, attack.login(), path)).payload
    header = _header(attack, path, alg="HS256")
    for name, secret in public_key_texts(jwk).items():
        for typ in (header["typ"], "JWT"):
            token = hs256({**header, "typ": typ}, claims, secret)
            assert_refused(attack, path, token, note=name)


@pytest.mark.parametrize("path", PATHS)
def test_each_token_kind_verifies_only_with_its_own_key(attack: Api, path: str) -> None:
    """Claims signed with the *other* kind's real key (refresh secret for access tokens and the
    access key for refresh tokens) are refused, whatever kid and typ they carry."""
    session = attack.login()
    claims = split(_base(attack, session, path)).payload
    if path == "access":
        wrong_keys, right_header = attack.refresh_keys, attack.access_header()
    else:
        wrong_keys, right_header = attack.access_keys, attack.refresh_header()
    for header in (
        right_header,
        {**right_header, "kid": wrong_keys.signing_kid, "alg": wrong_keys.algorithm},
    ):
        assert_refused(attack, path, attack.sign_with(wrong_keys, header, claims))


# -- weak secrets -----------------------------------------------------------------------------


def _weak_secrets() -> list[bytes]:
    text = (files("tokensmith") / "data" / "weak_secrets.txt").read_text()
    listed = [line.encode() for line in text.splitlines() if line and not line.startswith("#")]
    return [b"", b"secret", b"your-256-bit-secret", b"tokensmith", *listed]


@pytest.mark.parametrize("path", PATHS)
def test_empty_and_common_weak_hmac_secrets_are_refused(attack: Api, path: str) -> None:
    """Tokens MACed with the empty secret and each of the ~450 published weak secrets, under the
    server's header (alg, kid, typ), are all refused."""
    claims = split(_base(attack, attack.login(), path)).payload
    header = _header(attack, path, alg="HS256")
    secrets = _weak_secrets()
    assert len(secrets) > 400
    for secret in secrets:
        assert_refused(attack, path, hs256(header, claims, secret))


# -- kid --------------------------------------------------------------------------------------

KIDS: list[Any] = [
    "../../dev/null",
    "/dev/null",
    "../../../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "' OR '1'='1",
    "x' UNION SELECT 'secret' --",
    "1; DROP TABLE sessions; --",
    "$(touch /tmp/tokensmith-pwned)",
    "http://127.0.0.1:1/key",
    "",
    None,
    0,
    ["a"],
    {"$ne": None},
    "k" * 4000,
]


@pytest.mark.parametrize("path", PATHS)
def test_kid_path_traversal_and_injection_are_refused(attack: Api, path: str) -> None:
    """A kid is a dictionary key, never a path, query or URL (RFC 8725 section 3.10): traversal,
    SQL and shell injection and odd types are refused, MACed with the empty secret (the contents
    of /dev/null), with ``secret``, or signed with the real key."""
    claims = split(_base(attack, attack.login(), path)).payload
    for kid in KIDS:
        header = _header(attack, path, kid=kid)
        for secret in (b"", b"secret"):
            assert_refused(attack, path, hs256({**header, "alg": "HS256"}, claims, secret))
        assert_refused(attack, path, _sign(attack, path, claims, kid=kid))


# -- embedded keys and key URLs ---------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_embedded_jwk_jku_x5u_and_x5c_are_ignored(
    attack: Api, path: str, attacker: AttackerKey
) -> None:
    """Keys the token brings along are never trusted and URLs it names are never fetched: tokens
    signed with the attacker's key and carrying ``jwk``, ``jku``, ``x5u`` or ``x5c`` are refused,
    and a listener on 127.0.0.1 serving the attacker's JWKS sees no request."""
    listener = Listener({"keys": [attacker.jwk, attacker.oct_jwk]})
    try:
        claims = split(_base(attack, attack.login(), path)).payload
        cert = base64.b64encode(attacker.certificate_der()).decode()
        embeddings: list[dict[str, Any]] = [
            {"jwk": attacker.jwk},
            {"jwk": attacker.oct_jwk},
            {"jku": f"{listener.url}/jwks.json"},
            {"x5u": f"{listener.url}/cert.pem"},
            {"x5c": [cert]},
            {"jku": f"{listener.url}/jwks.json", "x5u": f"{listener.url}/c", "jwk": attacker.jwk},
        ]
        for extra in embeddings:
            for kid in (_header(attack, path)["kid"], "attacker"):
                header = _header(attack, path, kid=kid, **extra)
                es = forge(
                    {**header, "alg": "ES256"},
                    claims,
                    b"",
                )
                es_input = split(es).signing_input
                es = f"{es_input.decode()}.{b64url(attacker.sign_es256(es_input))}"
                assert_refused(attack, path, es)
                hs = hs256({**header, "alg": "HS256"}, claims, attacker.hmac_secret)
                assert_refused(attack, path, hs)
        assert listener.hits == []
    finally:
        listener.close()


# -- crit -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_crit_header_is_refused_even_when_validly_signed(attack: Api, path: str) -> None:
    """RFC 7515 section 4.1.11: tokensmith understands no extension, so a token with any
    ``crit`` is refused although signed with the real key; the same token without it is
    accepted (control)."""
    claims = split(_base(attack, attack.login(), path)).payload
    for crit in (["exp"], ["b64"], [], "exp", None, ["x-unknown"]):
        extra: dict[str, Any] = {"crit": crit}
        if crit == ["b64"]:
            extra["b64"] = False
        if crit == ["x-unknown"]:
            extra["x-unknown"] = 1
        assert_refused(attack, path, _sign(attack, path, claims, **extra))
    _accepted(attack, path, _sign(attack, path, claims))


# -- token kinds ------------------------------------------------------------------------------


def test_access_token_is_not_a_refresh_token_and_vice_versa(attack: Api) -> None:
    """A refresh token on a protected route and an access token at /auth/refresh are refused;
    so are tokens re-signed with their own key but the other kind's ``typ``."""
    session = attack.login()
    assert_refused(attack, "access", session.refresh)
    assert_refused(attack, "refresh", session.access)
    access_claims = split(session.access).payload
    refresh_claims = split(session.refresh).payload
    assert_refused(attack, "access", attack.sign_access(access_claims, typ="rt+jwt"))
    assert_refused(attack, "refresh", attack.sign_refresh(refresh_claims, typ="at+jwt"))
    for typ in ("JWT", "jwt", None, 1, "application/jwt"):
        assert_refused(attack, "access", attack.sign_access(access_claims, typ=typ))
        assert_refused(attack, "refresh", attack.sign_refresh(refresh_claims, typ=typ))
    # Control: typ compared case-insensitively, with or without "application/" (RFC 7515 4.1.9).
    _accepted(attack, "access", attack.sign_access(access_claims, typ="application/AT+JWT"))
    # The session was not disturbed by any of it.
    _accepted(attack, "refresh", session.refresh)


# -- encodings --------------------------------------------------------------------------------


def _with_alternatives(svc: Api, path: str) -> Session:
    """A session whose token has '-' or '_' and spare bits, so every re-encoding differs."""
    for _ in range(20):
        session = svc.login()
        token = _base(svc, session, path)
        if ("-" in token or "_" in token) and len(reencodings(token)) >= 5:
            return session
    raise AssertionError("no token with - or _ in 20 logins")


@pytest.mark.parametrize("path", PATHS)
def test_reencoded_tokens_are_refused_and_a_revoked_token_stays_revoked(
    attack: Api, path: str
) -> None:
    """Padding, the standard base64 alphabet and flipped unused bits are refused (RFC 7515
    section 2: base64url without padding; one token has one spelling). After logout the original
    is refused, and so is every re-encoding: none of them brings the session back."""
    session = _with_alternatives(attack, path)
    token = _base(attack, session, path)
    variants = reencodings(token)
    assert {"padded", "standard-alphabet", "unused-bits-signature"} <= variants.keys()
    for variant in variants.values():
        assert_refused(attack, path, variant)
    # None of the refused spellings counted as a use of the refresh token.
    assert attack.me(session.access).status_code == 200
    attack.logout(session)
    if path == "access":
        assert_refused(attack, path, token, "TOKEN_REVOKED")
    else:
        assert_refused(attack, path, token, "SESSION_REVOKED")
    for variant in variants.values():
        assert_refused(
            attack,
            path,
            variant,
            "TOKEN_REVOKED",
            "SESSION_REVOKED",
            "INVALID_TOKEN",
            "INVALID_REFRESH_TOKEN",
        )


def test_rotated_refresh_token_stays_spent_in_every_encoding(attack: Api) -> None:
    """Re-encoding a rotated refresh token neither rotates it again nor slips past reuse
    detection: every spelling is refused, the successor still works."""
    session = _with_alternatives(attack, "refresh")
    response = attack.refresh(session.refresh)
    assert response.status_code == 200
    for variant in reencodings(session.refresh).values():
        assert_refused(attack, "refresh", variant)
    _accepted(attack, "refresh", response.json()["refreshToken"])


# -- claim types ------------------------------------------------------------------------------

WRONG_CLAIMS: list[tuple[str, Any]] = [
    ("exp", "9999999999"),
    ("exp", None),
    # A fraction is a NumericDate (RFC 7519 section 2): test_hardening_requests.py accepts it.
    ("exp", 1e300),
    ("exp", 2**64),
    ("exp", 10**400),
    ("exp", True),
    ("exp", [9999999999]),
    ("exp", {"$gt": 0}),
    ("iat", "0"),
    ("iat", None),
    ("iat", 2**63),
    ("nbf", "0"),
    ("nbf", 2**40),
    ("sub", 123),
    ("sub", None),
    ("sub", ""),
    ("sub", ["user"]),
    ("sub", {"id": 1}),
    ("sid", 1),
    ("sid", None),
    ("jti", 1),
    ("aud", ["tokensmith"]),
    ("aud", ["tokensmith", "other"]),
    ("aud", None),
    ("iss", None),
    ("iss", ["tokensmith"]),
]


@pytest.mark.parametrize("path", PATHS)
def test_claims_of_the_wrong_type_are_refused_even_when_validly_signed(
    attack: Api, path: str
) -> None:
    """exp as a string, null, huge or boolean; iat/nbf likewise; sub, sid, jti not
    strings; aud as a list; a missing required claim; a payload that is not an object: all
    refused under a valid signature. A negative exp is an expired token. Control: the unchanged
    claims, re-signed, are accepted."""
    claims = split(_base(attack, attack.login(), path)).payload
    for name, value in WRONG_CLAIMS:
        token = _sign(attack, path, {**claims, name: value})
        assert_refused(attack, path, token)
    if path == "access":
        assert_refused(attack, path, _sign(attack, path, {**claims, "email": 7}))
    for name in ("exp", "iat", "sub", "sid", "jti", "iss", "aud"):
        assert_refused(
            attack, path, _sign(attack, path, {k: v for k, v in claims.items() if k != name})
        )
    for payload in ([], "claims", 1, None, [claims]):
        assert_refused(attack, path, _sign(attack, path, payload))
    expired = ("TOKEN_EXPIRED",) if path == "access" else ("REFRESH_TOKEN_EXPIRED",)
    assert_refused(attack, path, _sign(attack, path, {**claims, "exp": -1}), *expired)
    _accepted(attack, path, _sign(attack, path, claims))


# -- JSON parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_duplicate_json_keys_are_refused(attack: Api, path: str) -> None:
    """RFC 7515 section 5.2 / RFC 8725 section 3.5 style: a header or payload with a duplicated
    member is refused even when validly signed, so no two parsers can disagree on what was
    signed. Control: the same members without the duplicate are accepted."""
    claims = split(_base(attack, attack.login(), path)).payload
    header = _header(attack, path)
    head_json = json.dumps(header, separators=(",", ":"))
    body_json = json.dumps(claims, separators=(",", ":"))
    dup_header = '{"alg":"none",' + head_json[1:]
    dup_payload = body_json[:-1] + ',"sub":"someone-else"}'
    dup_payload_first = '{"sub":"someone-else",' + body_json[1:]
    keys = attack.access_keys if path == "access" else attack.refresh_keys
    for h, p in ((dup_header, body_json), (head_json, dup_payload), (head_json, dup_payload_first)):
        token = attack.sign_with(keys, b64url(h.encode()), b64url(p.encode()))
        assert_refused(attack, path, token)
    _accepted(
        attack, path, attack.sign_with(keys, b64url(head_json.encode()), b64url(body_json.encode()))
    )


DEPTH = 2000


@pytest.mark.parametrize("path", PATHS)
def test_deeply_nested_json_is_refused_not_a_500(attack: Api, path: str) -> None:
    """A 2,000-deep array or object in the header, or in a validly signed payload, is a 401
    (the parser's RecursionError is contained), never a 500."""
    claims = split(_base(attack, attack.login(), path)).payload
    deep_array = "[" * DEPTH + "]" * DEPTH
    deep_object = '{"a":' * DEPTH + "1" + "}" * DEPTH
    header = json.dumps(_header(attack, path), separators=(",", ":"))
    keys = attack.access_keys if path == "access" else attack.refresh_keys
    for deep in (deep_array, deep_object):
        assert_refused(attack, path, forge(deep.encode(), claims, b"x"))
        nested_header = header[:-1] + ',"x":' + deep + "}"
        assert_refused(attack, path, forge(nested_header.encode(), claims, b"x"))
        body = json.dumps(claims, separators=(",", ":"))[:-1] + ',"x":' + deep + "}"
        assert_refused(
            attack,
            path,
            attack.sign_with(keys, b64url(header.encode()), b64url(body.encode())),
        )
        assert_refused(
            attack, path, attack.sign_with(keys, b64url(header.encode()), b64url(deep.encode()))
        )


@pytest.mark.parametrize(
    "route", ["/auth/refresh", "/auth/login", "/auth/register", "/auth/logout"]
)
def test_deeply_nested_request_bodies_are_4xx_not_500(attack: Api, route: str) -> None:
    """A request body that is a 2,000-deep array, or has one as a field, is refused with a 4xx
    in the contract's error shape, never a 500."""
    deep = "[" * DEPTH + "]" * DEPTH
    for body in (deep, '{"refreshToken":' + deep + "}", '{"email":' + deep + ',"password":"x"}'):
        response = attack.client.post(
            route, content=body.encode(), headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (route, response.status_code, response.text)
        assert {"error", "code"} <= response.json().keys()


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_tokens_of_many_kilobytes_are_refused(attack: Api, path: str) -> None:
    """Tokens of 8 KiB to 1 MiB (a huge payload, or a huge signature on a real header) are
    refused quickly, before any parsing, with the path's code; a refresh body over 64 KiB is
    413."""
    base = split(_base(attack, attack.login(), path))
    for size in (8 * 1024 + 1, 16 * 1024, 60 * 1024, 1024 * 1024):
        big_payload = forge(base.header_b64, "A" * size, base.signature_b64)
        big_signature = forge(base.header_b64, base.payload_b64, "A" * size)
        for token in (big_payload, big_signature):
            if path == "access":
                assert_refused(attack, path, token)
            else:
                response = attack.refresh(token)
                assert response.status_code in {401, 413, 422}, response.text
                assert response.json()["code"] in {
                    "INVALID_REFRESH_TOKEN",
                    "PAYLOAD_TOO_LARGE",
                    "VALIDATION_ERROR",
                }


def test_huge_headers_and_cookies_are_not_500(attack: Api) -> None:
    """64 KiB of Authorization header, of cookie, or of unrelated header: a 4xx, never a 5xx."""
    big = "A" * (64 * 1024)
    for headers in (
        {"Authorization": f"Bearer {big}"},
        {"Authorization": big},
        {"X-Filler": big, "Authorization": "Bearer x.y.z"},
    ):
        response = attack.client.get("/auth/me", headers=headers)
        assert 400 <= response.status_code < 500, response.text
    response = attack.client.post(
        "/auth/refresh",
        headers={"Cookie": f"refresh_token={big}; csrf_token=a", "X-CSRF-Token": "a"},
    )
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "INVALID_REFRESH_TOKEN"


# -- the Authorization header -----------------------------------------------------------------


def test_authorization_scheme_case_and_spacing_follow_rfc_6750_and_7235(attack: Api) -> None:
    """RFC 7235 section 2.1: the scheme is case-insensitive and separated from the token68 by
    one or more spaces; anything else is refused: other schemes and a bare token carry no
    ``error`` (RFC 6750 section 3.1), malformed Bearer credentials are ``invalid_token``. A token
    in the query string (RFC 6750 section 2.3, not supported) is not a credential."""
    token = attack.login().access
    accepted = [
        f"Bearer {token}",
        f"bearer {token}",
        f"BEARER {token}",
        f"BeArEr {token}",
        f"Bearer  {token}",
        f"Bearer     {token}",
    ]
    for value in accepted:
        assert attack.me(authorization=value).status_code == 200, value
    no_token = [
        "",
        "Bearer",
        f"Basic {base64.b64encode(b'user:pass').decode()}",
        f"Token {token}",
        f"JWT {token}",
        token,
        f"Bearer={token}",
        f"Bearer:{token}",
        f"Bearers {token}",
        f"Bearer\t{token}",
    ]
    malformed = [
        f"Bearer {token} extra",
        f"Bearer {token},Bearer {token}",
        f"Bearer {token}, {token}",
        f'Bearer "{token}"',
        f"Bearer {token}=",
        f"Bearer {token[:-1]}",
        "Bearer ....",
        "Bearer %00",
    ]
    for value in no_token + malformed:
        response = attack.me(authorization=value)
        assert response.status_code == 401, (value, response.text)
        code = response.json()["code"]
        assert code in {"NO_TOKEN", "INVALID_TOKEN"}, (value, code)
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="tokensmith"')
        assert ('error="invalid_token"' in challenge) == (code == "INVALID_TOKEN")
        if value in malformed:
            assert code == "INVALID_TOKEN", value
    response = attack.client.get("/auth/me", params={"access_token": token})
    assert response.status_code == 401
    assert response.json()["code"] == "NO_TOKEN"
    assert response.headers["www-authenticate"] == 'Bearer realm="tokensmith"'
