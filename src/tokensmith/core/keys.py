"""Key sets: one key signs, every key in the set verifies (rotation without logging anyone out).

Keys are parsed once, here; PyJWT's algorithm objects do the cryptography. A key is found by the
token's ``kid`` with an exact dictionary lookup, so a ``kid`` is never a path, a query or a URL
(RFC 8725 section 3.10).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.utils import base64url_encode

from tokensmith.errors import ConfigError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "KeySet",
    "RingKey",
    "VerificationKey",
    "algorithm_of_pem",
    "generate_private_pem",
    "hmac_kid",
    "jwk_thumbprint",
    "load_private_key_pem",
    "parse_ring",
    "serialize_ring",
    "split_pems",
]

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
_ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    key: Any = field(repr=False)
    """The prepared key object PyJWT's algorithm verifies with."""
    public_jwk: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys of one token kind, all of one ``algorithm`` (RFC 8725 section 3.1)."""

    algorithm: str
    signing_kid: str
    signing_key: Any = field(repr=False)
    verifiers: dict[str, VerificationKey] = field(repr=False)

    @property
    def implementation(self) -> Algorithm:
        return _ALGORITHMS[self.algorithm]

    @classmethod
    def hmac(cls, current: bytes, previous: list[bytes] | None = None) -> KeySet:
        """HS256 keys: ``current`` signs, ``previous`` secrets still verify."""
        algorithm = _ALGORITHMS["HS256"]
        verifiers: dict[str, VerificationKey] = {}
        for secret in [current, *(previous or [])]:
            kid = hmac_kid(secret)
            verifiers.setdefault(kid, VerificationKey(kid, algorithm.prepare_key(secret)))
        return cls("HS256", hmac_kid(current), algorithm.prepare_key(current), verifiers)

    @classmethod
    def asymmetric(cls, algorithm_name: str, private_pems: list[bytes]) -> KeySet:
        """Asymmetric keys from PKCS#8 PEMs: the first signs, all verify and are published."""
        if algorithm_name not in ASYMMETRIC_ALGORITHMS:
            raise ConfigError("JWT_ALGORITHM", f"{algorithm_name} is not an asymmetric algorithm")
        algorithm = _ALGORITHMS[algorithm_name]
        verifiers: dict[str, VerificationKey] = {}
        signing: tuple[str, Any] | None = None
        for pem in private_pems:
            private = load_private_key_pem(pem, algorithm_name)
            public = private.public_key()
            jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public))
            kid = jwk_thumbprint(jwk)
            jwk.update({"kid": kid, "alg": algorithm_name, "use": "sig"})
            verifiers.setdefault(kid, VerificationKey(kid, public, jwk))
            if signing is None:
                signing = (kid, private)
        if signing is None:
            raise ConfigError("JWT_PRIVATE_KEY_FILE", "no key found")
        return cls(algorithm_name, signing[0], signing[1], verifiers)

    @classmethod
    def from_jwks(cls, algorithm_name: str, jwks: list[dict[str, Any]]) -> KeySet:
        """Verification keys from a JWKS (``/.well-known/jwks.json``): the keys of
        ``algorithm_name`` with a ``kid``; others are ignored. It cannot sign."""
        if algorithm_name not in ASYMMETRIC_ALGORITHMS:
            raise ConfigError("JWT_ALGORITHM", f"{algorithm_name} has no public keys")
        algorithm = _ALGORITHMS[algorithm_name]
        verifiers: dict[str, VerificationKey] = {}
        for jwk in jwks:
            kid = jwk.get("kid")
            if not isinstance(kid, str) or jwk.get("alg", algorithm_name) != algorithm_name:
                continue
            try:
                key = algorithm.from_jwk(json.dumps(jwk))
            except Exception:  # noqa: S112 - a key we cannot read is a key we do not trust
                continue
            verifiers[kid] = VerificationKey(kid, key, jwk)
        return cls(algorithm_name, "", None, verifiers)

    def public_jwks(self) -> list[dict[str, Any]]:
        """Public keys for ``/.well-known/jwks.json``; empty for HMAC (its keys are secret)."""
        return [v.public_jwk for v in self.verifiers.values() if v.public_jwk is not None]


def hmac_kid(secret: bytes) -> str:
    """A key id for an HMAC secret that reveals nothing usable about it (a keyed digest)."""
    digest = hmac.digest(secret, b"tokensmith key id", "sha256")
    return base64url_encode(digest[:9]).decode()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64url_encode(hashlib.sha256(canonical).digest()).decode()


def load_private_key_pem(pem: bytes, algorithm_name: str) -> Any:
    """Parse a PKCS#8 PEM private key and check that it fits ``algorithm_name``."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("JWT_PRIVATE_KEY_FILE", f"not a PKCS#8 PEM private key ({exc})") from None
    if algorithm_name == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if algorithm_name == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise ConfigError("JWT_PRIVATE_KEY_FILE", "ES256 needs a P-256 key")
        return key
    if algorithm_name == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigError("JWT_PRIVATE_KEY_FILE", "RS256 needs an RSA key of 2048 bits or more")
        return key
    raise ConfigError(
        "JWT_PRIVATE_KEY_FILE", f"the key does not fit JWT_ALGORITHM={algorithm_name}"
    )


# -- key rings: the PEM file behind JWT_PRIVATE_KEY_FILE ------------------------------------------
#
# A ring is a file of concatenated PKCS#8 PEM private keys, all of one algorithm. Order is role:
# the first key signs, every key verifies and is published in the JWKS. Rotating puts a new key
# first; retiring removes a key. Keeping the ring in the one file the server already reads means
# there is no second source of truth to drift from it.

_PEM_END = b"-----END PRIVATE KEY-----"


@dataclass(frozen=True, slots=True)
class RingKey:
    """One key of a ring: its RFC 7638 ``kid``, its algorithm and its PEM text."""

    kid: str
    algorithm: str
    pem: bytes = field(repr=False)


def split_pems(data: bytes) -> list[bytes]:
    """The PEM blocks of a ring file, in order (text outside the blocks is dropped)."""
    blocks: list[bytes] = []
    for part in data.split(_PEM_END):
        start = part.find(b"-----BEGIN")
        if start >= 0:
            blocks.append(part[start:].strip() + b"\n" + _PEM_END + b"\n")
    return blocks


def algorithm_of_pem(pem: bytes) -> str:
    """The JWS algorithm a private key is for: Ed25519 EdDSA, P-256 ES256, RSA RS256."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("JWT_PRIVATE_KEY_FILE", f"not a PKCS#8 PEM private key ({exc})") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    raise ConfigError("JWT_PRIVATE_KEY_FILE", "unsupported key type: use Ed25519, P-256 or RSA")


def parse_ring(data: bytes, algorithm: str | None = None) -> list[RingKey]:
    """Parse a ring file; every key must fit ``algorithm`` (default: the first key's)."""
    keys: list[RingKey] = []
    for pem in split_pems(data):
        algorithm = algorithm or algorithm_of_pem(pem)
        keys.append(RingKey(_kid_of(pem, algorithm), algorithm, pem))
    return keys


def serialize_ring(keys: list[RingKey]) -> bytes:
    return b"".join(key.pem for key in keys)


def _kid_of(pem: bytes, algorithm: str) -> str:
    private = load_private_key_pem(pem, algorithm)
    jwk: dict[str, Any] = json.loads(_ALGORITHMS[algorithm].to_jwk(private.public_key()))
    return jwk_thumbprint(jwk)


def generate_private_pem(algorithm: str) -> RingKey:
    """A new private key for ``algorithm`` as unencrypted PKCS#8 PEM (keep the file 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private: Any
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ConfigError("JWT_ALGORITHM", f"{algorithm} is not an asymmetric algorithm")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return RingKey(_kid_of(pem, algorithm), algorithm, pem)
