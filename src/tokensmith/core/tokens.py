"""Access and refresh tokens: issuing and verifying, signature first, then one check per claim.

The token layer raises domain errors only; the web layer turns them into HTTP answers.
PyJWT's algorithm objects sign and verify; parsing is done here, strictly, so that the order of
checks and the clock are ours (after joserfc: signature and claims are separate steps, ``now`` and
``leeway`` are injected).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from jwt.utils import base64url_decode, base64url_encode

from tokensmith.core.claims import TOKEN_LIMIT_BYTES, largest_claim
from tokensmith.core.clock import Clock
from tokensmith.core.keys import KeySet
from tokensmith.core.models import AccessClaims, RefreshClaims
from tokensmith.errors import (
    ClaimsError,
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenExpired,
    TokenExpired,
    TokensmithError,
)

__all__ = [
    "ACCESS_TYP",
    "MAX_TOKEN_BYTES",
    "REFRESH_TYP",
    "TokenCodec",
    "TokenPolicy",
    "hash_jti",
    "verify_signature",
]

ACCESS_TYP: Final = "at+jwt"  # RFC 9068 section 2.1
REFRESH_TYP: Final = "rt+jwt"
MAX_TOKEN_BYTES: Final = TOKEN_LIMIT_BYTES
"""Our tokens are ~400 bytes plus the app's claims; anything larger is refused before any parsing,
and an access token whose claims would make it larger is never issued."""

_VERIFIED_CAPACITY = 10_000
"""Access tokens remembered after verifying (about 1 KiB each)."""

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    leeway: timedelta


@dataclass(frozen=True, slots=True)
class _Kind:
    typ: str
    invalid: type[TokensmithError]
    expired: type[TokensmithError]
    required_strings: tuple[str, ...]


_ACCESS = _Kind(ACCESS_TYP, InvalidToken, TokenExpired, ("sub", "sid", "jti"))
_REFRESH = _Kind(REFRESH_TYP, InvalidRefreshToken, RefreshTokenExpired, ("sub", "sid", "jti"))


def hash_jti(jti: str) -> str:
    """What the database keeps of a refresh token: SHA-256 of its signed, random ``jti``.

    Hashing the ``jti`` rather than the token text means every encoding of one token (padding,
    spare bits) is the same record, so a revoked token stays revoked however it is re-encoded.
    """
    return hashlib.sha256(jti.encode()).hexdigest()


class TokenCodec:
    """Issues and verifies both token kinds with their own keys."""

    def __init__(
        self, access_keys: KeySet, refresh_keys: KeySet, policy: TokenPolicy, clock: Clock
    ) -> None:
        self._access_keys = access_keys
        self._refresh_keys = refresh_keys
        self._policy = policy
        self._clock = clock
        # Whole seconds, as the claims are: checked on every request, so computed once.
        self._leeway_s = int(policy.leeway.total_seconds())
        self._refresh_ttl_s = int(policy.refresh_ttl.total_seconds())
        self._verified: dict[str, AccessClaims] = {}
        self._access_header = _encode_json(
            {"alg": access_keys.algorithm, "kid": access_keys.signing_kid, "typ": ACCESS_TYP}
        )
        self._refresh_header = _encode_json(
            {"alg": refresh_keys.algorithm, "kid": refresh_keys.signing_kid, "typ": REFRESH_TYP}
        )

    @property
    def policy(self) -> TokenPolicy:
        return self._policy

    @property
    def access_kids(self) -> frozenset[str]:
        """The key ids access tokens may name."""
        return frozenset(self._access_keys.verifiers)

    def __repr__(self) -> str:
        return f"TokenCodec(access={self._access_keys.algorithm}, refresh=HS256)"

    # -- issuing -----------------------------------------------------------------------------

    def issue_access(
        self,
        *,
        user_id: str,
        session_id: str,
        now: datetime,
        email: str | None = None,
        auth_time: datetime | None = None,
        amr: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
        not_after: datetime | None = None,
    ) -> str:
        """Sign an access token. ``extra`` (the app's claims, already checked against the
        reserved names) never replaces a registered claim. ``not_after`` (the session's end)
        caps ``exp``: no access token outlives its session. Raises
        :class:`~tokensmith.errors.ClaimsError` when the token would exceed 8 KiB."""
        iat = int(now.timestamp())
        exp = iat + int(self._policy.access_ttl.total_seconds())
        if not_after is not None:
            exp = max(iat, min(exp, int(not_after.timestamp())))
        claims: dict[str, Any] = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": user_id,
            "sid": session_id,
            "jti": secrets.token_urlsafe(16),
            "iat": iat,
            "exp": exp,
        }
        if email is not None:
            claims["email"] = email
        # OpenID Connect Core section 2: when the user authenticated, and how (RFC 8176).
        claims["auth_time"] = int((auth_time or now).timestamp())
        claims["amr"] = list(amr)
        if extra:
            for name, value in extra.items():
                claims.setdefault(name, value)
        token = self._sign(self._access_header, claims, self._access_keys)
        if len(token) > MAX_TOKEN_BYTES:
            name, size = largest_claim(extra) if extra else ("sub", len(user_id))
            raise ClaimsError(
                f"the access token would be {len(token)} bytes, over the {MAX_TOKEN_BYTES}-byte "
                f"limit; its largest claim is {name!r} ({size} bytes of JSON)"
            )
        return token

    def issue_refresh(self, *, user_id: str, session_id: str, jti: str, iat: int, exp: int) -> str:
        """Sign a refresh token. Deterministic (HMAC): the same claims give the same token, which
        is how the reuse grace hands out the same successor without storing it."""
        claims = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": user_id,
            "sid": session_id,
            "jti": jti,
            "iat": iat,
            "exp": exp,
        }
        return self._sign(self._refresh_header, claims, self._refresh_keys)

    def successor_jti(self, jti: str) -> str:
        """The ``jti`` of the token that replaces ``jti``: derived with the refresh key, so it can
        be recomputed within the grace and cannot be guessed without the key."""
        digest = hmac.digest(self._refresh_secret_for_derivation, b"next:" + jti.encode(), "sha256")
        return base64url_encode(digest[:16]).decode()

    @property
    def _refresh_secret_for_derivation(self) -> bytes:
        key = self._refresh_keys.signing_key
        return key if isinstance(key, bytes) else bytes(key)

    @staticmethod
    def _sign(header_segment: bytes, claims: dict[str, Any], keys: KeySet) -> str:
        signing_input = header_segment + b"." + _encode_json(claims)
        signature = keys.implementation.sign(signing_input, keys.signing_key)
        order = _EC_ORDERS.get(keys.algorithm)
        if order is not None:
            signature = _low_s(signature, order)
        return (signing_input + b"." + base64url_encode(signature)).decode()

    # -- verifying ---------------------------------------------------------------------------

    def verify_access(self, token: str, *, check_expiry: bool = True) -> AccessClaims:
        """Verify an access token: signature with the configured algorithm, then its claims.

        Raises :class:`InvalidToken` or :class:`TokenExpired`. ``check_expiry=False`` (to end
        the token's session: logout, revocation) still refuses a token expired for longer than
        the refresh lifetime (see :meth:`_check_times`).

        A token that verified once is remembered (keyed by its whole text, bounded): the next
        request with it skips the parsing and the MAC, but its times are checked again every
        time, and revocation is the caller's check on every request either way.
        """
        verified = self._verified.get(token)
        if verified is not None:
            self._check_times(verified.raw, _ACCESS, check_expiry)
            return verified
        verified = _access_claims(self._verify(token, self._access_keys, _ACCESS, check_expiry))
        if len(self._verified) >= _VERIFIED_CAPACITY:
            self._verified.clear()
        self._verified[token] = verified
        return verified

    def verify_refresh(self, token: str, *, check_expiry: bool = True) -> RefreshClaims:
        """Verify a refresh token. Raises :class:`InvalidRefreshToken` or
        :class:`RefreshTokenExpired`."""
        claims = self._verify(token, self._refresh_keys, _REFRESH, check_expiry)
        return RefreshClaims(
            sub=claims["sub"],
            sid=claims["sid"],
            jti=claims["jti"],
            iat=claims["iat"],
            exp=claims["exp"],
        )

    def _verify(self, token: str, keys: KeySet, kind: _Kind, check_expiry: bool) -> dict[str, Any]:
        payload = verify_signature(token, keys, kind.invalid, typ=kind.typ)
        # Only now, with the signature good, do the claims mean anything.
        claims = _parse_object(payload, kind.invalid, "payload")
        self._check_claims(claims, kind, check_expiry)
        return claims

    def _check_claims(self, claims: dict[str, Any], kind: _Kind, check_expiry: bool) -> None:
        invalid = kind.invalid
        if claims.get("iss") != self._policy.issuer:
            raise invalid("The token was issued by someone else (iss)")
        if claims.get("aud") != self._policy.audience:
            raise invalid("The token is meant for another audience (aud)")
        for name in kind.required_strings:
            value = claims.get(name)
            if not isinstance(value, str) or not value:
                raise invalid(f"The token's '{name}' claim is missing or not a string")
        for name in ("iat", "exp"):
            if not _is_numeric_date(claims.get(name)):
                raise invalid(f"The token's '{name}' claim is missing or not a NumericDate")
        nbf = claims.get("nbf")
        if nbf is not None and not _is_numeric_date(nbf):
            raise invalid("The token's 'nbf' claim is not a NumericDate")
        self._check_times(claims, kind, check_expiry)

    def _check_times(self, claims: dict[str, Any], kind: _Kind, check_expiry: bool) -> None:
        invalid = kind.invalid
        nbf = claims.get("nbf")
        now = int(self._clock.now().timestamp())
        leeway = self._leeway_s
        # RFC 7519 sections 4.1.4-4.1.6, each with the configured tolerance.
        if claims["iat"] > now + leeway:
            raise invalid("The token was issued in the future: check the clocks (iat)")
        if nbf is not None and nbf > now + leeway:
            raise invalid("The token is not valid yet (nbf)")
        if check_expiry and claims["exp"] <= now - leeway:
            raise kind.expired()
        # An expired token may still end its session (logout, RFC 7009 revocation), but only for
        # a while: one found in an old log or backup must not end the live session years on.
        # Past exp + the refresh lifetime, no client can still hold it for a reason.
        if not check_expiry and claims["exp"] <= now - leeway - self._refresh_ttl_s:
            raise kind.expired("The token expired too long ago to end its session")


def _access_claims(claims: dict[str, Any]) -> AccessClaims:
    """The typed view of a verified access token's claims; the optional ones are type-checked
    here (a token of ours always has them right, so a wrong type means it is not ours)."""
    email = claims.get("email")
    if email is not None and not isinstance(email, str):
        raise InvalidToken("The token's 'email' claim is not a string")
    auth_time = claims.get("auth_time")
    if auth_time is not None and not _is_numeric_date(auth_time):
        raise InvalidToken("The token's 'auth_time' claim is not a NumericDate")
    amr = claims.get("amr", [])
    if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
        raise InvalidToken("The token's 'amr' claim is not a list of strings")
    scope = claims.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise InvalidToken("The token's 'scope' claim is not a string")
    return AccessClaims(
        sub=claims["sub"],
        sid=claims["sid"],
        jti=claims["jti"],
        email=email,
        iat=claims["iat"],
        exp=claims["exp"],
        raw=claims,
        auth_time=auth_time,
        amr=tuple(amr),
        scopes=frozenset(scope.split()) if scope else frozenset(),
    )


def verify_signature(
    token: str,
    keys: KeySet,
    invalid: type[TokensmithError] = InvalidToken,
    *,
    typ: str | None = None,
) -> bytes:
    """The signature step of verification, on its own: the checks every token passes before its
    claims are read. Returns the payload's bytes (not yet parsed); raises ``invalid``.

    ``typ``, when given, must be the header's ``typ``. The codec calls this for both token kinds;
    the security suite runs third-party JWS test vectors through it.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise invalid("The token is too large to be one of ours")
    header_b64, payload_b64, signature = _split(token, invalid)
    header = _parse_object(_b64decode(header_b64, invalid), invalid, "header")
    # The payload's encoding is checked before the MAC too: a MAC over a non-canonical encoding
    # is refused however the bytes decode (Wycheproof JWS tcId 375).
    payload = _b64decode(payload_b64, invalid)
    # RFC 8725 section 3.1: accept only the configured algorithm, never the token's own
    # choice (this is what stops "alg: none" and HS/RS key confusion).
    if header.get("alg") != keys.algorithm:
        raise invalid("The token is signed with an algorithm this server does not accept")
    # RFC 7515 section 4.1.11: we understand no extensions, so any "crit" is fatal.
    if "crit" in header:
        raise invalid("The token requires extensions this server does not support")
    # RFC 8725 section 3.11: explicit typing keeps access and refresh tokens apart.
    if typ is not None:
        found = header.get("typ")
        if not isinstance(found, str) or found.lower().removeprefix("application/") != typ:
            raise invalid(f"The token is not of the expected type ({typ})")
    kid = header.get("kid")
    verifier = keys.verifiers.get(kid) if isinstance(kid, str) else None
    if verifier is None:
        raise invalid("The token was signed with a key this server does not know")
    order = _EC_ORDERS.get(keys.algorithm)
    if order is not None and not _is_low_s(signature, order):
        # ECDSA signatures are malleable: (r, s) and (r, n - s) both verify. Only the low-S
        # form is accepted (as Bitcoin's BIP 62 and libsecp256k1 do), so that a token has one
        # spelling and a re-signed copy cannot pass as a different token.
        raise invalid("The token's signature is not in its canonical (low-S) form")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    try:
        valid = keys.implementation.verify(signing_input, verifier.key, signature)
    except Exception:  # a malformed signature for the key type (e.g. bad DER) is just invalid
        valid = False
    if not valid:
        raise invalid("The token's signature does not match")
    return payload


def _split(token: str, invalid: type[TokensmithError]) -> tuple[str, str, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise invalid("The token is malformed: a JWT has three dot-separated parts")
    for part in parts:
        if not _SEGMENT.match(part):
            raise invalid("The token is malformed: parts must be unpadded base64url")
    signature = _b64decode(parts[2], invalid)
    return parts[0], parts[1], signature


def _b64decode(segment: str, invalid: type[TokensmithError]) -> bytes:
    try:
        raw = base64url_decode(segment)
    except (binascii.Error, ValueError):
        raise invalid("The token is malformed: bad base64url") from None
    # RFC 7515 section 2 uses canonical base64url: refuse encodings with stray bits.
    if base64url_encode(raw).decode() != segment:
        raise invalid("The token is malformed: non-canonical base64url")
    return raw


def _parse_object(raw: bytes, invalid: type[TokensmithError], what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise invalid(f"The token's {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid(f"The token's {what} is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 5.2: a parser must reject or use the last duplicate; we reject, so two
    # parsers can never disagree about which value was signed.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _is_numeric_date(value: object) -> bool:
    """RFC 7519 section 2: a NumericDate is a JSON numeric value, fractions allowed; they are
    compared as numbers. Strings, booleans, NaN, infinities and values beyond 2^53 are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -(2**53) < value < 2**53


_EC_ORDERS: Final = {
    # The group orders n of the curves of RFC 7518 section 3.4 (SEC 2 / FIPS 186-4 D.1.2).
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


def _is_low_s(signature: bytes, order: int) -> bool:
    """An ECDSA signature in JWS form (RFC 7518 section 3.4: r and s, big-endian, each the
    curve's size) whose s is at most n/2. Another length is left to the verifier to refuse."""
    half = len(signature) // 2
    if half == 0 or len(signature) % 2:
        return True
    s = int.from_bytes(signature[half:], "big")
    return s <= order // 2


def _low_s(signature: bytes, order: int) -> bytes:
    """The low-S form of a signature we just made (OpenSSL returns either form)."""
    half = len(signature) // 2
    s = int.from_bytes(signature[half:], "big")
    if s <= order // 2:
        return signature
    return signature[:half] + (order - s).to_bytes(half, "big")


def _encode_json(value: dict[str, Any]) -> bytes:
    return base64url_encode(json.dumps(value, separators=(",", ":")).encode())
