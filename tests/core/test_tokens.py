"""TokenCodec: signature first, then one check per claim, with the injected clock."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from jwt.utils import base64url_decode, base64url_encode

from tokensmith.core.clock import ManualClock
from tokensmith.core.keys import KeySet
from tokensmith.core.models import Revocation
from tokensmith.core.revocation import RevocationSet
from tokensmith.core.tokens import TokenCodec, TokenPolicy, hash_jti
from tokensmith.errors import (
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenExpired,
    TokenExpired,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def codec(clock: ManualClock) -> TokenCodec:
    policy = TokenPolicy(
        "tokensmith", "tokensmith", timedelta(minutes=15), timedelta(days=7), timedelta(seconds=60)
    )
    return TokenCodec(KeySet.hmac(b"a" * 32), KeySet.hmac(b"r" * 32), policy, clock)


def access(codec: TokenCodec) -> str:
    return codec.issue_access(user_id="u1", session_id="s1", email="a@example.com", now=START)


def segments(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    h, p, s = token.split(".")
    return json.loads(base64url_decode(h)), json.loads(base64url_decode(p)), s


def test_access_token_has_the_contract_header_and_claims(codec: TokenCodec) -> None:
    """Header typ at+jwt with kid; claims iss, aud, sub, sid, jti, iat, exp, email, and (contract
    8) auth_time and amr."""
    header, claims, _ = segments(access(codec))
    assert header["typ"] == "at+jwt" and header["alg"] == "HS256" and header["kid"]
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "sid",
        "jti",
        "iat",
        "exp",
        "email",
        "auth_time",
        "amr",
    }
    assert claims["exp"] == claims["iat"] + 900  # type: ignore[operator]


def test_refresh_token_has_its_own_type_and_key(codec: TokenCodec) -> None:
    """Refresh tokens are rt+jwt, signed with the other key, and without email."""
    token = codec.issue_refresh(user_id="u1", session_id="s1", jti="j", iat=1, exp=2)
    header, claims, _ = segments(token)
    assert header["typ"] == "rt+jwt"
    assert header["kid"] != segments(access(codec))[0]["kid"]
    assert "email" not in claims


def test_refresh_tokens_are_deterministic(codec: TokenCodec) -> None:
    """The same claims give the same refresh token: the grace rebuilds the successor."""
    make = lambda: codec.issue_refresh(user_id="u", session_id="s", jti="j", iat=1, exp=9)  # noqa: E731
    assert make() == make()
    assert codec.successor_jti("j") == codec.successor_jti("j") != codec.successor_jti("k")


def test_verify_round_trip_and_expiry_with_leeway(codec: TokenCodec, clock: ManualClock) -> None:
    """A token verifies until exp + leeway, then it is TokenExpired."""
    token = access(codec)
    assert codec.verify_access(token).sub == "u1"
    clock.advance(900 + 59)
    assert codec.verify_access(token).sid == "s1"
    clock.advance(1)  # RFC 7519 4.1.4: valid only *before* exp (+ leeway)
    with pytest.raises(TokenExpired):
        codec.verify_access(token)
    assert codec.verify_access(token, check_expiry=False).sid == "s1"


def test_kinds_never_cross(codec: TokenCodec) -> None:
    """An access token is no refresh token and vice versa."""
    refresh = codec.issue_refresh(
        user_id="u",
        session_id="s",
        jti="j",
        iat=int(START.timestamp()),
        exp=int(START.timestamp()) + 60,
    )
    with pytest.raises(InvalidRefreshToken):
        codec.verify_refresh(access(codec))
    with pytest.raises(InvalidToken):
        codec.verify_access(refresh)


def test_expired_refresh_token(codec: TokenCodec, clock: ManualClock) -> None:
    """A refresh token past exp + leeway is RefreshTokenExpired."""
    now = int(START.timestamp())
    refresh = codec.issue_refresh(user_id="u", session_id="s", jti="j", iat=now, exp=now + 10)
    clock.advance(71)
    with pytest.raises(RefreshTokenExpired):
        codec.verify_refresh(refresh)


def test_non_canonical_base64_is_refused(codec: TokenCodec) -> None:
    """Padding or flipped spare bits make another string of the same bytes: refused."""
    token = access(codec)
    h, p, s = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # A 32-byte HMAC leaves 2 spare bits in the last character: setting one changes the text,
    # not the bytes.
    flipped = s[:-1] + alphabet[alphabet.index(s[-1]) + 1]
    variants = [f"{h}.{p}.{s}=", f"{h}=.{p}.{s}", f"{h}.{p}.{flipped}"]
    standard = base64.b64encode(base64url_decode(s)).decode().rstrip("=")
    if standard != s:  # the signature has a - or _: spell it in the standard alphabet
        variants.append(f"{h}.{p}.{standard}")
    for variant in variants:
        with pytest.raises(InvalidToken):
            codec.verify_access(variant)
    raw = base64url_decode(s)
    assert base64url_encode(raw).decode() == s


def test_previous_secrets_still_verify(clock: ManualClock) -> None:
    """A key ring: tokens signed with the previous secret verify; the new one signs."""
    policy = TokenPolicy("t", "t", timedelta(minutes=15), timedelta(days=7), timedelta(0))
    old = TokenCodec(KeySet.hmac(b"o" * 32), KeySet.hmac(b"r" * 32), policy, clock)
    new = TokenCodec(KeySet.hmac(b"n" * 32, [b"o" * 32]), KeySet.hmac(b"r" * 32), policy, clock)
    token = old.issue_access(user_id="u", session_id="s", email="e@x.io", now=START)
    assert new.verify_access(token).sub == "u"
    stranger = TokenCodec(KeySet.hmac(b"n" * 32), KeySet.hmac(b"r" * 32), policy, clock)
    with pytest.raises(InvalidToken):
        stranger.verify_access(token)


def test_jti_hash_is_what_is_stored() -> None:
    """Refresh tokens are stored as the SHA-256 of their jti, never as text."""
    assert hash_jti("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_revocation_set_forgets_what_can_no_longer_matter() -> None:
    """Entries stay until their last access token expired, then prune drops them."""
    revoked = RevocationSet()
    revoked.add(
        [
            Revocation("a", START + timedelta(minutes=16)),
            Revocation("b", START + timedelta(minutes=1)),
        ]
    )
    assert "a" in revoked and "b" in revoked and len(revoked) == 2
    assert revoked.prune(START + timedelta(minutes=2)) == 1
    assert "a" in revoked and "b" not in revoked


def test_a_remembered_token_still_has_its_times_checked(
    codec: TokenCodec, clock: ManualClock
) -> None:
    """Verified tokens are remembered, but expiry and iat are checked again on every use."""
    token = access(codec)
    assert codec.verify_access(token) is codec.verify_access(token)
    clock.advance(-61)  # the clock goes back: the remembered token is now from the future
    with pytest.raises(InvalidToken):
        codec.verify_access(token)
    clock.advance(61 + 900 + 60)
    with pytest.raises(TokenExpired):
        codec.verify_access(token)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
    with pytest.raises(InvalidToken):
        codec.verify_access(tampered)
