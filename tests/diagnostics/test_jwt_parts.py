"""Splitting and decoding a compact JWS without trusting it."""

from __future__ import annotations

import base64
import json

import pytest

from tokensmith.diagnostics.jwt_parts import NotAJwt, clean_token_text, decode_unverified


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HEADER = b64(b'{"alg":"HS256","typ":"JWT"}')
PAYLOAD = b64(b'{"sub":"1","exp":1}')
STRING_JSON = b'"str"'
INFINITY_JSON = b'{"a": Infinity}'


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("  abc \n", "abc"),
        ("Bearer abc", "abc"),
        ("bearer    abc", "abc"),
        ("BEARER\tabc\n", "abc"),
        ("Bearerabc", "Bearerabc"),
    ],
)
def test_clean_strips_whitespace_and_bearer(text: str, clean: str) -> None:
    """Whitespace and one leading 'Bearer ' (any case) are removed."""
    assert clean_token_text(text) == clean


def test_decode_returns_header_claims_signing_input_and_signature() -> None:
    """The parts come back decoded; the signing input is the first two segments as sent."""
    decoded = decode_unverified(f"{HEADER}.{PAYLOAD}.{b64(b'sig')}")
    assert decoded.header == {"alg": "HS256", "typ": "JWT"}
    assert decoded.claims == {"sub": "1", "exp": 1}
    assert decoded.signing_input == f"{HEADER}.{PAYLOAD}".encode()
    assert decoded.signature == b"sig"
    assert decoded.alg == "HS256"


def test_padding_is_tolerated() -> None:
    """Some encoders pad with '='; the token still decodes."""
    padded = base64.urlsafe_b64encode(b'{"alg":"none"}').decode()
    assert padded.endswith("=")
    assert decode_unverified(f"{padded}.{PAYLOAD}.").header == {"alg": "none"}


def test_duplicate_members_are_recorded() -> None:
    """A member name twice (RFC 7515 §4) is remembered for a warning."""
    header = b64(b'{"alg":"HS256","alg":"none"}')
    decoded = decode_unverified(f"{header}.{PAYLOAD}.")
    assert decoded.duplicate_members == ("alg",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no token given"),
        ("a.b", "this has 2"),
        ("a.b.c.d.e", "encrypted JWE"),
        (f".{PAYLOAD}.", "header segment is empty"),
        (f"{HEADER}.{PAYLOAD}.a+b", "signature is not base64url"),
        (f"{HEADER}.x.", "payload is not valid base64url"),
        (f"{b64(b'nope')}.{PAYLOAD}.", "header is not JSON"),
        (f"{b64(STRING_JSON)}.{PAYLOAD}.", "header is JSON but not an object (str)"),
        (f"{HEADER}.{b64(bytes([0xC3]))}.", "payload is not UTF-8"),
        (f"{HEADER}.{b64(INFINITY_JSON)}.", "payload is not JSON"),
        (f"{HEADER}.{b64(b'[' * 100000)}.", "payload is not JSON"),
    ],
)
def test_not_a_jwt_says_why_in_one_line(text: str, message: str) -> None:
    """Each malformation raises NotAJwt with a one-line reason."""
    with pytest.raises(NotAJwt) as info:
        decode_unverified(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_claims_may_hold_any_json() -> None:
    """Nested and unicode claims are kept as they are."""
    claims = {"roles": ["a", "b"], "name": "Zoë", "n": 1.5}
    decoded = decode_unverified(f"{HEADER}.{b64(json.dumps(claims).encode())}.")
    assert decoded.claims == claims
