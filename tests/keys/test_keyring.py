"""Key ring parsing and key generation (``tokensmith.core.keys``)."""

from __future__ import annotations

import pytest

from tokensmith.core.keys import (
    KeySet,
    algorithm_of_pem,
    generate_private_pem,
    parse_ring,
    serialize_ring,
)
from tokensmith.errors import ConfigError


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
def test_generated_keys_are_pkcs8_and_fit_their_algorithm(algorithm: str) -> None:
    """A generated key is an unencrypted PKCS#8 PEM whose algorithm is recognised."""
    key = generate_private_pem(algorithm)
    assert key.pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert algorithm_of_pem(key.pem) == algorithm
    assert KeySet.asymmetric(algorithm, [key.pem]).signing_kid == key.kid


def test_ring_order_is_role_first_signs_all_verify() -> None:
    """The first key of a ring signs; every key verifies and is published."""
    first, second = generate_private_pem("EdDSA"), generate_private_pem("EdDSA")
    data = b"# explanatory text is ignored\n" + serialize_ring([first, second])
    ring = parse_ring(data)
    assert [k.kid for k in ring] == [first.kid, second.kid]
    keyset = KeySet.asymmetric("EdDSA", [k.pem for k in ring])
    assert keyset.signing_kid == first.kid
    assert [j["kid"] for j in keyset.public_jwks()] == [first.kid, second.kid]


def test_a_ring_mixing_algorithms_is_refused() -> None:
    """Only one algorithm is accepted (RFC 8725 section 3.1), so a ring cannot mix them."""
    data = serialize_ring([generate_private_pem("EdDSA"), generate_private_pem("ES256")])
    with pytest.raises(ConfigError, match="JWT_ALGORITHM=EdDSA"):
        parse_ring(data)


def test_kid_is_the_rfc7638_thumbprint() -> None:
    """The kid is the JWK thumbprint, so it is stable and the same in every instance."""
    import jwt

    key = generate_private_pem("ES256")
    jwk = KeySet.asymmetric("ES256", [key.pem]).public_jwks()[0]
    assert jwk["kid"] == key.kid
    assert jwt.PyJWK(jwk).key_id == key.kid
