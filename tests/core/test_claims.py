"""The app's claims in access tokens (contract 8): the rules, the size limit, and how a verified
token shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tokensmith.core.claims import RESERVED_CLAIMS, check_claims, check_room
from tokensmith.core.clock import ManualClock
from tokensmith.core.keys import KeySet
from tokensmith.core.tokens import MAX_TOKEN_BYTES, TokenCodec, TokenPolicy
from tokensmith.errors import ClaimsError, InvalidToken

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def codec() -> TokenCodec:
    policy = TokenPolicy(
        "tokensmith", "tokensmith", timedelta(minutes=15), timedelta(days=7), timedelta(seconds=60)
    )
    return TokenCodec(KeySet.hmac(b"a" * 32), KeySet.hmac(b"r" * 32), policy, ManualClock(START))


def test_the_reserved_claims_are_the_contracts() -> None:
    contract = {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "typ", "auth_time", "amr"}
    assert contract | {"email"} == RESERVED_CLAIMS


@pytest.mark.parametrize("name", sorted(RESERVED_CLAIMS))
def test_every_reserved_claim_is_refused_by_name(name: str) -> None:
    with pytest.raises(ClaimsError, match=f"reserved claim '{name}'"):
        check_claims({name: "x"}, "the claims hook")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (["scope"], "returned list, not a dict"),
        ({1: "x"}, "name is not a string"),
        ({"": "x"}, "name is not a string"),
        ({"scope": {"a": 1}}, "'scope' as dict"),
        ({"n": float("nan")}, "'n' with a value JSON cannot carry"),
        ({"when": START}, "'when' with a value JSON cannot carry (datetime)"),
    ],
)
def test_claims_json_cannot_carry_are_refused(claims: Any, message: str) -> None:
    with pytest.raises(ClaimsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_claims(claims, "the claims hook")


def test_good_claims_are_copied() -> None:
    claims = {"scope": "a b", "roles": ["admin"], "tenant": {"id": 7}}
    checked = check_claims(claims, "the claims hook")
    assert checked == claims and checked is not claims


def test_claims_that_cannot_fit_are_refused_before_signing() -> None:
    check_room({"roles": "x" * 5000}, "the claims hook")
    with pytest.raises(ClaimsError, match="largest claim is 'roles'"):
        check_room({"roles": "x" * 6000, "small": 1}, "the claims hook")


def test_a_token_over_8_kib_is_never_issued(codec: TokenCodec) -> None:
    """The signed token is measured exactly, whatever the estimate let through."""
    pad = {"pad": "x" * (MAX_TOKEN_BYTES // 2)}
    token = codec.issue_access(user_id="u", session_id="s", now=START, extra=pad)
    assert len(token) <= MAX_TOKEN_BYTES
    with pytest.raises(ClaimsError, match=r"over the 8192-byte limit; its largest claim is 'big'"):
        codec.issue_access(
            user_id="u", session_id="s", now=START, extra={"big": "x" * 7000, "small": "y"}
        )


def test_the_verified_claims_show_every_claim(codec: TokenCodec) -> None:
    token = codec.issue_access(
        user_id="u",
        session_id="s",
        now=START,
        auth_time=START - timedelta(minutes=5),
        amr=("pwd", "otp"),
        extra={"scope": "orders:read  orders:write", "tenant": "acme"},
    )
    claims = codec.verify_access(token)
    assert claims.email is None and "email" not in claims.raw
    assert claims.auth_time == int((START - timedelta(minutes=5)).timestamp())
    assert claims.amr == ("pwd", "otp")
    assert claims.scopes == frozenset({"orders:read", "orders:write"})
    assert claims.tenant == "acme" and claims.get("nothing", 3) == 3
    with pytest.raises(AttributeError):
        _ = claims.nothing


def test_a_registered_claim_always_wins_over_an_extra_one(codec: TokenCodec) -> None:
    token = codec.issue_access(user_id="u", session_id="s", now=START, extra={"sub": "admin"})
    assert codec.verify_access(token).sub == "u"


@pytest.mark.parametrize(
    "raw", [{"auth_time": "yesterday"}, {"amr": "pwd"}, {"amr": [1]}, {"scope": ["a"]}]
)
def test_a_signed_token_with_mistyped_contract_8_claims_is_invalid(
    codec: TokenCodec, raw: dict[str, Any]
) -> None:
    """Such a token is not one of ours even with a good signature (a leaked key, a bug)."""
    claims = {
        "iss": "tokensmith", "aud": "tokensmith", "sub": "u", "sid": "s", "jti": "j",
        "iat": int(START.timestamp()), "exp": int(START.timestamp()) + 60, **raw,
    }  # fmt: skip
    token = codec._sign(codec._access_header, claims, codec._access_keys)
    with pytest.raises(InvalidToken):
        codec.verify_access(token)
