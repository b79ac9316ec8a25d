"""Verify a JWS signature with a secret, a key file (PEM or JWK) or a JWKS URL.

Security rules (RFC 8725 §3.1 and §2.1):

- ``alg: none`` (any spelling) is never accepted, whatever key is given.
- The token's ``alg`` is used only when it belongs to the key's family: an HMAC secret verifies
  HS256/384/512 only, an RSA key RS*/PS*, an EC key the ES* of its own curve, an Ed25519/Ed448
  key EdDSA. This closes the classic confusion where a public key is used as an HMAC secret.
- A JWK that names its ``alg`` verifies that algorithm only.

Results are values (:class:`SignatureResult`), never exceptions: a failed check is a finding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from jwt.algorithms import get_default_algorithms

from tokensmith.diagnostics.jwt_parts import DecodedJwt

__all__ = [
    "HMAC_ALGORITHMS",
    "KeyLoadError",
    "SignatureResult",
    "VerificationKey",
    "fetch_jwks",
    "is_none_alg",
    "key_from_secret",
    "keys_from_jwks",
    "load_key_file",
    "verify_signature",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {
    "secp256r1": frozenset({"ES256"}),
    "secp384r1": frozenset({"ES384"}),
    "secp521r1": frozenset({"ES512", "ES521"}),
    "secp256k1": frozenset({"ES256K"}),
}
_EDDSA = frozenset({"EdDSA"})
DEFAULT_JWKS_TIMEOUT_S = 5.0

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


class KeyLoadError(ValueError):
    """A key file or JWK cannot be used; the message is one line saying why."""


@dataclass(frozen=True)
class VerificationKey:
    """A key and the algorithms it may verify."""

    key: bytes | PublicKey
    algorithms: frozenset[str]
    description: str
    """For people: ``an HMAC secret``, ``an RSA-2048 public key``."""
    kid: str | None = None


@dataclass(frozen=True)
class SignatureResult:
    """The outcome of one signature check."""

    method: str
    """``secret``, ``key`` or ``jwks``."""
    valid: bool
    detail: str
    """One line for people: what was checked and what came out."""
    algorithm: str | None = None
    kid: str | None = None
    key_warnings: tuple[str, ...] = ()
    """Weaknesses of the key itself (e.g. an HMAC secret shorter than the hash)."""


def is_none_alg(alg: object) -> bool:
    """``none`` in any letter case, the unsecured JWS of RFC 7515 §A.5."""
    return isinstance(alg, str) and alg.strip().lower() == "none"


def key_from_secret(secret: str) -> VerificationKey:
    return VerificationKey(secret.encode("utf-8"), HMAC_ALGORITHMS, "an HMAC secret")


def _describe_public(key: PublicKey) -> VerificationKey:
    if isinstance(key, rsa.RSAPublicKey):
        return VerificationKey(key, _RSA_ALGORITHMS, f"an RSA-{key.key_size} public key")
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithms = _EC_ALGORITHMS.get(key.curve.name)
        if algorithms is None:
            raise KeyLoadError(f"EC curve {key.curve.name} has no JWS algorithm")
        return VerificationKey(key, algorithms, f"an EC {key.curve.name} public key")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return VerificationKey(key, _EDDSA, "an Ed25519 public key")
    return VerificationKey(key, _EDDSA, "an Ed448 public key")


def _public_from_object(obj: object) -> PublicKey:
    public_types = (
        rsa.RSAPublicKey,
        ec.EllipticCurvePublicKey,
        ed25519.Ed25519PublicKey,
        ed448.Ed448PublicKey,
    )
    private_types = (
        rsa.RSAPrivateKey,
        ec.EllipticCurvePrivateKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PrivateKey,
    )
    if isinstance(obj, public_types):
        return obj
    if isinstance(obj, private_types):
        return obj.public_key()
    raise KeyLoadError(f"{type(obj).__name__} keys cannot verify a JWS")


def _key_from_pem(data: bytes) -> VerificationKey:
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise KeyLoadError("the PEM certificate cannot be read") from exc
        return _describe_public(_public_from_object(cert.public_key()))
    if b"PRIVATE KEY-----" in data:
        try:
            private = load_pem_private_key(data, password=None)
        except TypeError as exc:
            raise KeyLoadError("the private key is encrypted: give its public key instead") from exc
        except ValueError as exc:
            raise KeyLoadError("the PEM private key cannot be read") from exc
        return _describe_public(_public_from_object(private))
    try:
        public = load_pem_public_key(data)
    except ValueError as exc:
        raise KeyLoadError("the PEM public key cannot be read") from exc
    return _describe_public(_public_from_object(public))


def _key_from_jwk(jwk: dict[str, Any]) -> VerificationKey:
    kid = jwk.get("kid") if isinstance(jwk.get("kid"), str) else None
    named_alg = jwk.get("alg")
    try:
        parsed = jwt.PyJWK(jwk)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise KeyLoadError(f"the JWK cannot be used: {exc}") from exc
    if parsed.key_type == "oct":
        raw = parsed.key
        if not isinstance(raw, bytes):  # pragma: no cover - PyJWT returns bytes for oct
            raise KeyLoadError("the oct JWK has no usable key bytes")
        found = VerificationKey(raw, HMAC_ALGORITHMS, "an HMAC secret from a JWK", kid)
    else:
        described = _describe_public(_public_from_object(parsed.key))
        found = VerificationKey(
            described.key, described.algorithms, described.description + " from a JWK", kid
        )
    if isinstance(named_alg, str):
        # The JWK names its algorithm: it verifies that one only (RFC 7517 §4.4).
        allowed = found.algorithms & {named_alg}
        if not allowed:
            raise KeyLoadError(f"the JWK names alg {named_alg!r}, which its key type cannot do")
        found = VerificationKey(found.key, frozenset(allowed), found.description, kid)
    return found


def keys_from_jwks(document: object) -> list[VerificationKey]:
    """Keys of a JWK or a JWK Set (``{"keys": [...]}``); unusable and ``enc`` keys are skipped."""
    if not isinstance(document, dict):
        raise KeyLoadError("the JSON is neither a JWK nor a JWK Set (not an object)")
    if "keys" not in document:
        return [_key_from_jwk(document)]
    entries = document["keys"]
    if not isinstance(entries, list):
        raise KeyLoadError('the JWK Set\'s "keys" is not a list')
    keys: list[VerificationKey] = []
    problems: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use") not in (None, "sig"):
            continue
        try:
            keys.append(_key_from_jwk(entry))
        except KeyLoadError as exc:
            problems.append(str(exc))
    if not keys:
        reason = f" ({problems[0]})" if problems else ""
        raise KeyLoadError(f"the JWK Set has no usable signing key{reason}")
    return keys


def load_key_file(path: Path) -> list[VerificationKey]:
    """Read a PEM public key, private key or certificate, a JWK, or a JWK Set."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyLoadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"-----BEGIN" in data:
        return [_key_from_pem(data)]
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyLoadError(f"{path} is neither a PEM key nor JWK JSON") from exc
    return keys_from_jwks(document)


def fetch_jwks(url: str, timeout_s: float = DEFAULT_JWKS_TIMEOUT_S) -> list[VerificationKey]:
    """Fetch a JWK Set with PyJWT's client (http/https only, no redirects, with a timeout)."""
    try:
        client = jwt.PyJWKClient(url, timeout=timeout_s, cache_jwk_set=False)
        document = client.fetch_data()
    except jwt.PyJWKClientConnectionError as exc:
        cause = exc.__cause__
        reason = getattr(cause, "reason", None) or cause or exc
        raise KeyLoadError(f"cannot fetch the JWKS from {url}: {reason}") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise KeyLoadError(f"cannot use the JWKS from {url}: {exc}") from exc
    return keys_from_jwks(document)


def _select(keys: Sequence[VerificationKey], kid: object) -> VerificationKey | None:
    if isinstance(kid, str):
        matching = [k for k in keys if k.kid == kid]
        if matching:
            return matching[0]
        unnamed = [k for k in keys if k.kid is None]
        return unnamed[0] if len(unnamed) == 1 else None
    # No kid in the token: a single key is unambiguous.
    return keys[0] if len(keys) == 1 else None


def verify_signature(
    decoded: DecodedJwt, keys: Sequence[VerificationKey], method: str
) -> SignatureResult:
    """Check ``decoded``'s signature with the key its ``kid`` selects from ``keys``."""
    alg = decoded.header.get("alg")
    kid = decoded.header.get("kid")
    kid_text = kid if isinstance(kid, str) else None
    if is_none_alg(alg):
        # RFC 8725 §3.1: an unsecured token is never valid, whatever key the caller holds.
        return SignatureResult(method, False, "alg none is never accepted", "none", kid_text)
    if not isinstance(alg, str) or not alg:
        return SignatureResult(method, False, "the header has no alg", None, kid_text)
    if "crit" in decoded.header:
        # RFC 7515 §4.1.11: extensions we do not understand make the JWS invalid.
        return SignatureResult(
            method, False, "the header lists crit extensions this tool does not implement", alg
        )
    key = _select(keys, kid)
    if key is None:
        wanted = f"kid {kid!r}" if kid_text is not None else "a key (the token has no kid)"
        return SignatureResult(
            method, False, f"no key matches {wanted} among {len(keys)} key(s)", alg, kid_text
        )
    if alg not in key.algorithms:
        allowed = ", ".join(sorted(key.algorithms))
        return SignatureResult(
            method,
            False,
            f"the token says alg {alg!r} but the key is {key.description} ({allowed} only)",
            alg,
            kid_text,
        )
    algorithm = get_default_algorithms()[alg]
    try:
        prepared = algorithm.prepare_key(key.key)
        too_short = algorithm.check_key_length(prepared)
        ok = algorithm.verify(decoded.signing_input, prepared, decoded.signature)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        return SignatureResult(method, False, f"the key cannot be used: {exc}", alg, kid_text)
    key_warnings = (too_short,) if too_short else ()
    if not ok:
        return SignatureResult(
            method,
            False,
            f"signature ({alg}) does NOT match {key.description}",
            alg,
            kid_text,
            key_warnings,
        )
    return SignatureResult(
        method,
        True,
        f"signature ({alg}) verified with {key.description}",
        alg,
        kid_text,
        key_warnings,
    )
