"""An attacker's own equipment: keys, a self-signed certificate, a listener that records visits,
and re-encodings of a token that decode to the same bytes."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm

from tests.security.forge import b64url

__all__ = ["AttackerKey", "Listener", "public_key_texts", "reencodings"]

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class AttackerKey:
    """A P-256 key pair the attacker controls, with its JWK and a self-signed certificate."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = self.private.public_key()
        self.jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.public))
        self.jwk.update({"kid": "attacker", "alg": "ES256", "use": "sig"})
        self.hmac_secret = b"attacker-chosen-hmac-secret-0123456789"
        self.oct_jwk = {"kty": "oct", "k": b64url(self.hmac_secret), "kid": "attacker"}

    def sign_es256(self, signing_input: bytes) -> bytes:
        algorithm = ECAlgorithm(ECAlgorithm.SHA256)
        return algorithm.sign(signing_input, self.private)

    def certificate_der(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokensmith")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)


class Listener:
    """An HTTP server on 127.0.0.1 that answers with the attacker's JWKS and records every
    request: a server that follows ``jku`` or ``x5u`` shows up in ``hits``."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.hits: list[str] = []
        payload = json.dumps(body).encode()
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def public_key_texts(jwk: dict[str, Any]) -> dict[str, bytes]:
    """Every textual form of a published public key an HS/asymmetric confusion might try as the
    HMAC secret."""
    key = ECAlgorithm.from_jwk(json.dumps(jwk))
    public = key.public_key() if hasattr(key, "public_key") else key
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = public.public_bytes(serialization.Encoding.PEM, spki)
    der = public.public_bytes(serialization.Encoding.DER, spki)
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    return {
        "pem": pem,
        "pem-no-newline": pem.rstrip(b"\n"),
        "pem-crlf": pem.replace(b"\n", b"\r\n"),
        "der": der,
        "der-base64url": b64url(der).encode(),
        "point-uncompressed": public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
        "point-compressed": public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk-json": json.dumps(jwk).encode(),
        "jwk-json-compact": json.dumps(jwk, separators=(",", ":")).encode(),
        "jwk-json-sorted": json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode(),
        "jwk-thumbprint-input": json.dumps(
            required, sort_keys=True, separators=(",", ":")
        ).encode(),
        "jwks-json": json.dumps({"keys": [jwk]}).encode(),
    }


def _flip_unused_bits(segment: str) -> str | None:
    """The same bytes with the spare low bits of the last character set, or None when the
    segment has no spare bits (its length is a multiple of 4)."""
    spare = {2: 4, 3: 2}.get(len(segment) % 4)
    if spare is None:
        return None
    index = _B64URL.index(segment[-1])
    flipped = index | ((1 << spare) - 1)
    if flipped == index:
        flipped = index & ~((1 << spare) - 1)
    return segment[:-1] + _B64URL[flipped]


def reencodings(token: str) -> dict[str, str]:
    """Spellings of ``token`` that a lax base64 decoder reads as the same bytes."""
    parts = token.split(".")
    padded = [p + "=" * (-len(p) % 4) for p in parts]
    variants = {
        "padded": ".".join(padded),
        "padded-tail": token + "=" * (-len(parts[2]) % 4 or 1),
        "standard-alphabet": token.replace("-", "+").replace("_", "/"),
        "standard-alphabet-padded": ".".join(padded).replace("-", "+").replace("_", "/"),
    }
    for i, name in enumerate(("header", "payload", "signature")):
        flipped = _flip_unused_bits(parts[i])
        if flipped is not None:
            copy = list(parts)
            copy[i] = flipped
            variants[f"unused-bits-{name}"] = ".".join(copy)
    return {name: value for name, value in variants.items() if value != token}
