"""Signature checks: key families, JWK alg pinning, kid selection, alg none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tokensmith.diagnostics.jwt_parts import decode_unverified
from tokensmith.diagnostics.signature import (
    KeyLoadError,
    key_from_secret,
    keys_from_jwks,
    load_key_file,
    verify_signature,
)

SECRET = "a-secret-long-enough-for-hs384-and-hs512-" * 2


def test_rsa_key_verifies_rs_and_ps_but_not_hs(tmp_path: Path) -> None:
    """An RSA key (PEM or JWK) allows RS*/PS* only; an HS256 token is refused before any HMAC."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys = keys_from_jwks(json.loads(RSAAlgorithm.to_jwk(private.public_key())))
    assert keys[0].algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    ps = decode_unverified(jwt.encode({"a": 1}, private, algorithm="PS384"))
    assert verify_signature(ps, keys, "key").valid
    (tmp_path / "public.pem").write_bytes(pem)
    assert load_key_file(tmp_path / "public.pem")[0].algorithms == keys[0].algorithms
    hs = decode_unverified(jwt.encode({"a": 1}, SECRET, algorithm="HS256"))
    result = verify_signature(hs, keys, "key")
    assert not result.valid
    assert "alg 'HS256'" in result.detail


def test_ec_key_allows_only_its_own_curve() -> None:
    """A P-256 key verifies ES256 and nothing else."""
    private = ec.generate_private_key(ec.SECP256R1())
    keys = keys_from_jwks(json.loads(ECAlgorithm.to_jwk(private.public_key())))
    assert keys[0].algorithms == {"ES256"}


def test_jwk_alg_pins_the_algorithm() -> None:
    """A JWK naming alg RS256 refuses an RS512 token even though the key could do it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(private.public_key())), "alg": "RS256"}
    keys = keys_from_jwks(jwk)
    token = decode_unverified(jwt.encode({"a": 1}, private, algorithm="RS512"))
    assert not verify_signature(token, keys, "key").valid


def test_jwk_alg_impossible_for_its_key_is_a_load_error() -> None:
    """An EC JWK claiming alg HS256 is rejected when loading."""
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(ECAlgorithm.to_jwk(private.public_key())), "alg": "HS256"}
    with pytest.raises(KeyLoadError, match="JWK cannot be used"):
        keys_from_jwks(jwk)


def test_oct_jwk_is_an_hmac_secret() -> None:
    """A symmetric JWK (kty oct) verifies HS* tokens."""
    jwk = json.loads(jwt.algorithms.HMACAlgorithm.to_jwk(SECRET))
    token = decode_unverified(jwt.encode({"a": 1}, SECRET, algorithm="HS384"))
    assert verify_signature(token, keys_from_jwks(jwk), "key").valid


def test_kid_selects_the_key_and_a_lone_key_serves_a_token_without_kid() -> None:
    """kid picks among several keys; without kid only a single key is unambiguous."""
    a, b = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()

    def jwk(private: Any, kid: str) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        return {**data, "kid": kid}

    keys = keys_from_jwks({"keys": [jwk(a, "a"), jwk(b, "b"), {"kty": "RSA", "use": "enc"}]})
    assert [k.kid for k in keys] == ["a", "b"]
    token_b = decode_unverified(jwt.encode({}, b, algorithm="EdDSA", headers={"kid": "b"}))
    assert verify_signature(token_b, keys, "jwks").valid
    no_kid = decode_unverified(jwt.encode({}, b, algorithm="EdDSA"))
    result = verify_signature(no_kid, keys, "jwks")
    assert not result.valid
    assert "the token has no kid" in result.detail
    assert verify_signature(no_kid, keys[1:], "jwks").valid


def test_alg_none_is_refused_whatever_the_key() -> None:
    """alg none never verifies."""
    token = decode_unverified("eyJhbGciOiJub25lIn0.e30.")
    result = verify_signature(token, [key_from_secret(SECRET)], "secret")
    assert not result.valid
    assert result.detail == "alg none is never accepted"


def test_crit_header_is_refused() -> None:
    """RFC 7515 §4.1.11: an unknown critical extension makes the JWS invalid."""
    token = jwt.encode({}, SECRET, algorithm="HS256", headers={"crit": ["exp"], "exp": 1})
    decoded = decode_unverified(token)
    assert not verify_signature(decoded, [key_from_secret(SECRET)], "secret").valid


def test_encrypted_private_key_asks_for_the_public_key(tmp_path: Path) -> None:
    """A passphrase-protected PEM cannot be used; the message says what to give instead."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    path = tmp_path / "key.pem"
    path.write_bytes(pem)
    with pytest.raises(KeyLoadError, match="encrypted"):
        load_key_file(path)


def test_missing_key_file_is_a_load_error(tmp_path: Path) -> None:
    """A path that does not exist gives a one-line KeyLoadError."""
    with pytest.raises(KeyLoadError, match="cannot read"):
        load_key_file(tmp_path / "absent.pem")


def test_empty_jwk_set_is_a_load_error() -> None:
    """A JWKS with no usable signing key is refused with a reason."""
    with pytest.raises(KeyLoadError, match="no usable signing key"):
        keys_from_jwks({"keys": []})
