"""``tokensmith inspect`` through click's CliRunner, with the clock pinned."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tokensmith.cli.inspect import inspect_command

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def ts(delta: timedelta) -> int:
    return int((NOW + delta).timestamp())


def make_token(
    claims: dict[str, Any] | None = None,
    *,
    key: Any = SECRET,
    alg: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    base = {"sub": "user-1", "iat": ts(timedelta(minutes=-3)), "exp": ts(timedelta(minutes=12))}
    base.update(claims or {})
    return jwt.encode(base, key, algorithm=alg, headers={"typ": "at+jwt", **(headers or {})})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    head = header or {"alg": "none", "typ": "JWT"}
    return f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}."


def run(*args: str, stdin: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(inspect_command, list(args), input=stdin, obj={"clock": lambda: NOW})


def run_json(*args: str, stdin: str | None = None) -> tuple[Result, dict[str, Any]]:
    result = run(*args, "--json", stdin=stdin)
    return result, json.loads(result.stdout)


# -- times and verdicts -----------------------------------------------------------------------


def test_valid_token_with_secret_is_explained_and_exits_zero() -> None:
    """A good HS256 token verified with --secret: times in words, kind, lifetime, exit 0."""
    result = run(make_token(), "--secret", SECRET)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "access token" in out
    assert "issued 3 minutes ago" in out
    assert "valid for 12 more minutes" in out
    assert "2025-06-01 12:12:00 UTC" in out
    assert "15 minutes (exp - iat)" in out
    assert "signature (HS256) verified with an HMAC secret" in out
    assert "VALID" in out


def test_unexpired_token_without_key_exits_zero_as_unverified() -> None:
    """With no key the token is only decoded: exit 0 while unexpired, and the report says so."""
    result = run(make_token())
    assert result.exit_code == 0
    assert "UNVERIFIED" in result.stdout
    assert "not checked" in result.stdout


def test_expired_token_exits_one_and_says_how_long_ago() -> None:
    """A token past exp (beyond the leeway) is expired: exit 1, 'expired 3 minutes ago'."""
    token = make_token({"iat": ts(timedelta(minutes=-18)), "exp": ts(timedelta(minutes=-3))})
    result = run(token, "--secret", SECRET)
    assert result.exit_code == 1
    assert "expired 3 minutes ago" in result.stdout
    assert "EXPIRED" in result.stdout


def test_expiry_inside_leeway_is_accepted_with_a_warning_and_zero_leeway_rejects_it() -> None:
    """30s past exp passes the default 60s leeway (with a warning); --leeway 0 makes it expired."""
    token = make_token({"exp": ts(timedelta(seconds=-30))})
    _, report = run_json(token)
    assert report["verdict"] == "unverified"
    assert "EXPIRED_WITHIN_LEEWAY" in [w["code"] for w in report["warnings"]]
    result, report = run_json(token, "--leeway", "0")
    assert result.exit_code == 1
    assert report["verdict"] == "expired"


def test_not_yet_valid_token_exits_one() -> None:
    """nbf five minutes ahead: not valid yet, in words, exit 1."""
    token = make_token({"nbf": ts(timedelta(minutes=5))})
    result = run(token)
    assert result.exit_code == 1
    assert "not valid for another 5 minutes" in result.stdout
    assert "NOT YET VALID" in result.stdout


def test_future_iat_reports_clock_skew_and_how_far_ahead() -> None:
    """iat 5 minutes in the future is clock skew: the warning says how far ahead; exit 1."""
    token = make_token({"iat": ts(timedelta(minutes=5)), "exp": ts(timedelta(minutes=20))})
    result, report = run_json(token)
    assert result.exit_code == 1
    assert report["verdict"] == "not_yet_valid"
    skew = [w["message"] for w in report["warnings"] if w["code"] == "IAT_IN_FUTURE"]
    assert skew and "5 minutes ahead" in skew[0]


def test_small_future_iat_within_leeway_is_a_warning_only() -> None:
    """iat 20s ahead is within the 60s leeway: warned about, still exit 0."""
    token = make_token({"iat": ts(timedelta(seconds=20))})
    result, report = run_json(token)
    assert result.exit_code == 0
    skew = [w["message"] for w in report["warnings"] if w["code"] == "IAT_IN_FUTURE"]
    assert skew and "within the 1 minute leeway" in skew[0]


def test_alg_none_is_never_valid_even_with_a_secret() -> None:
    """An unsigned token (alg none) is warned about and rejected, key or no key."""
    token = unsigned_token({"sub": "x", "exp": ts(timedelta(hours=1))})
    result, report = run_json(token)
    assert result.exit_code == 1
    assert report["verdict"] == "invalid"
    assert "ALG_NONE" in [w["code"] for w in report["warnings"]]
    result, report = run_json(token, "--secret", SECRET)
    assert result.exit_code == 1
    assert report["signature"]["detail"] == "alg none is never accepted"


def test_alg_none_in_other_letter_case_is_still_none() -> None:
    """'NoNe' is the same unsecured alg: rejected."""
    token = unsigned_token({"exp": ts(timedelta(hours=1))}, {"alg": "NoNe"})
    result, report = run_json(token, "--secret", SECRET)
    assert result.exit_code == 1
    assert report["signature"]["detail"] == "alg none is never accepted"


def test_missing_exp_is_warned_about() -> None:
    """A token without exp never expires: warning NO_EXP, still decodable (exit 0)."""
    token = jwt.encode({"sub": "x", "iat": ts(timedelta(minutes=-1))}, SECRET, algorithm="HS256")
    result, report = run_json(token)
    assert result.exit_code == 0
    assert [w["code"] for w in report["warnings"]] == ["NO_EXP"]
    assert report["lifetime_s"] is None


def test_unexpected_alg_is_warned_about() -> None:
    """An alg outside HS*/RS*/ES*/PS*/EdDSA gets ALG_UNEXPECTED."""
    token = unsigned_token({"exp": ts(timedelta(minutes=10))}, {"alg": "HS1", "typ": "JWT"})
    _, report = run_json(token)
    assert "ALG_UNEXPECTED" in [w["code"] for w in report["warnings"]]


@pytest.mark.parametrize(
    ("typ", "lifetime", "side"),
    [
        ("at+jwt", timedelta(hours=8), "longer"),
        ("at+jwt", timedelta(minutes=2), "shorter"),
        ("rt+jwt", timedelta(days=90), "longer"),
        ("rt+jwt", timedelta(hours=1), "shorter"),
    ],
)
def test_unusual_lifetime_for_the_kind_is_warned_about(
    typ: str, lifetime: timedelta, side: str
) -> None:
    """Access tokens usually live 15m-1h and refresh tokens 7-30d; outside that is a warning."""
    iat = timedelta(seconds=-10)
    token = make_token({"iat": ts(iat), "exp": ts(iat + lifetime)}, headers={"typ": typ})
    _, report = run_json(token)
    unusual = [w["message"] for w in report["warnings"] if w["code"] == "LIFETIME_UNUSUAL"]
    assert unusual and side in unusual[0]


def test_refresh_token_kind_comes_from_typ() -> None:
    """typ rt+jwt is reported as a refresh token."""
    token = make_token({"exp": ts(timedelta(days=7))}, headers={"typ": "rt+jwt"})
    _, report = run_json(token)
    assert report["kind"] == "refresh"


def test_auth_time_is_shown_in_words() -> None:
    """auth_time, like the other time claims, is shown as UTC and in words."""
    token = make_token({"auth_time": ts(timedelta(hours=-2))})
    result = run(token)
    assert "authenticated 2 hours ago" in result.stdout


NAN_PAYLOAD = b'{"exp": NaN}'


# -- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "Bearer ",
        "hello",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!!.e30.sig",
        f"{b64(b'not json')}.{b64(b'{}')}.",
        f"{b64(b'[1, 2]')}.{b64(b'{}')}.",
        f"{b64(b'{}')}.{b64(b'not json either')}.",
        f"{b64(bytes([0xFF, 0xFE]))}.{b64(b'{}')}.",
        f"{b64(b'{}')}.{b64(b'{}')}.a",
        f"{b64(b'{}')}.{b64(NAN_PAYLOAD)}.",
        "two tokens.pasted at.once",
    ],
)
def test_malformed_input_gets_one_line_and_exit_two(text: str) -> None:
    """Anything that is not a compact JWS: one line on stderr, no traceback, exit 2."""
    result = run(text)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tokensmith inspect: not a JWT: ")
    assert "Traceback" not in result.output


def test_malformed_input_with_json_prints_a_not_jwt_report() -> None:
    """--json on garbage still prints JSON (verdict not_jwt) and exits 2."""
    result, report = run_json("garbage")
    assert result.exit_code == 2
    assert report["verdict"] == "not_jwt"
    assert "3 dot-separated segments" in report["error"]


# -- input forms ------------------------------------------------------------------------------


def test_token_is_read_from_stdin_with_bearer_prefix_and_whitespace() -> None:
    """No argument: the token comes from stdin; whitespace and 'Bearer ' are stripped."""
    result = run("--secret", SECRET, stdin=f"  Bearer {make_token()}\n\n")
    assert result.exit_code == 0, result.output
    assert "VALID" in result.stdout


def test_bearer_prefix_is_accepted_in_the_argument() -> None:
    """'Bearer <token>' pasted from a header works as the argument too."""
    assert run(f"Bearer {make_token()}", "--secret", SECRET).exit_code == 0


def test_more_than_one_key_source_is_a_usage_error() -> None:
    """--secret and --jwks together are refused (exit 2)."""
    result = run(make_token(), "--secret", SECRET, "--jwks", "http://127.0.0.1:1/")
    assert result.exit_code == 2
    assert "at most one" in result.stderr


def test_bad_leeway_is_a_usage_error() -> None:
    """--leeway banana is refused with the accepted forms named."""
    result = run(make_token(), "--leeway", "banana")
    assert result.exit_code == 2
    assert "not a duration" in result.stderr


# -- signatures -------------------------------------------------------------------------------


def test_wrong_secret_is_invalid() -> None:
    """A signature that does not match the secret: invalid, exit 1."""
    result, report = run_json(make_token(), "--secret", "another-secret-of-a-decent-length!!")
    assert result.exit_code == 1
    assert report["signature"]["valid"] is False
    assert report["verdict"] == "invalid"


def test_short_secret_that_verifies_is_reported_as_weak_key() -> None:
    """A token that verifies with a 6-byte secret gets a WEAK_KEY warning."""
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        token = make_token(key="secret")
    _, report = run_json(token, "--secret", "secret")
    assert report["verdict"] == "valid"
    assert "WEAK_KEY" in [w["code"] for w in report["warnings"]]


def _pem_private(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


KEYS: dict[str, Callable[[], Any]] = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": lambda: ed25519.Ed25519PrivateKey.generate(),
}


@pytest.fixture(scope="module", params=sorted(KEYS))
def keypair(request: pytest.FixtureRequest) -> tuple[str, Any]:
    alg: str = request.param
    return alg, KEYS[alg]()


@pytest.mark.parametrize("form", ["public-pem", "private-pem", "jwk"])
def test_asymmetric_signature_verifies_with_key_file(
    keypair: tuple[str, Any], form: str, tmp_path: Path
) -> None:
    """RS256/ES256/EdDSA tokens verify with --key as public PEM, private PEM or JWK."""
    alg, private = keypair
    token = make_token(key=private, alg=alg)
    path = tmp_path / "key"
    if form == "public-pem":
        path.write_bytes(_pem_public(private))
    elif form == "private-pem":
        path.write_bytes(_pem_private(private))
    else:
        algorithms: dict[str, Any] = {
            "RS256": RSAAlgorithm,
            "ES256": ECAlgorithm,
            "EdDSA": OKPAlgorithm,
        }
        algorithm = algorithms[alg]
        path.write_text(algorithm.to_jwk(private.public_key()))
    result, report = run_json(token, "--key", str(path))
    assert result.exit_code == 0, report
    assert report["signature"] == {
        "checked": True,
        "method": "key",
        "valid": True,
        "algorithm": alg,
        "kid": None,
        "detail": report["signature"]["detail"],
    }
    assert report["signature"]["detail"].startswith(f"signature ({alg}) verified with")


def test_signature_from_another_key_of_the_same_type_is_invalid(
    keypair: tuple[str, Any], tmp_path: Path
) -> None:
    """A token signed by key A does not verify with key B: exit 1."""
    alg, private = keypair
    token = make_token(key=KEYS[alg](), alg=alg)
    path = tmp_path / "other.pem"
    path.write_bytes(_pem_public(private))
    result, report = run_json(token, "--key", str(path))
    assert result.exit_code == 1
    assert "does NOT match" in report["signature"]["detail"]


def test_hs256_token_signed_with_the_public_key_is_rejected(tmp_path: Path) -> None:
    """Algorithm confusion: HS256 'signed' with the RSA public PEM never verifies with --key."""
    private = KEYS["RS256"]()
    public_pem = _pem_public(private)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"exp": ts(timedelta(hours=1))}).encode())
    signing_input = f"{header}.{payload}".encode()
    forged = f"{header}.{payload}.{b64(hmac.digest(public_pem, signing_input, hashlib.sha256))}"
    path = tmp_path / "public.pem"
    path.write_bytes(public_pem)
    result, report = run_json(forged, "--key", str(path))
    assert result.exit_code == 1
    assert (
        "the token says alg 'HS256' but the key is an RSA-2048 public key"
        in (report["signature"]["detail"])
    )


def test_unreadable_key_file_is_one_clear_line_and_invalid(tmp_path: Path) -> None:
    """A key file that is neither PEM nor JWK: one line on stderr, signature invalid, exit 1."""
    path = tmp_path / "junk.txt"
    path.write_text("this is not a key")
    result = run(make_token(), "--key", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"tokensmith inspect: {path} is neither a PEM key nor JWK JSON"
    ]
    assert "Traceback" not in result.output


# -- JWKS -------------------------------------------------------------------------------------


@pytest.fixture
def jwks_server() -> Iterator[Callable[[bytes], str]]:
    """A tiny loopback HTTP server; call it with a body to get the URL that serves it."""
    served: dict[str, bytes] = {"body": b"{}"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served["body"]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    def serve(body: bytes) -> str:
        served["body"] = body
        return f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"

    try:
        yield serve
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _jwks(private: ec.EllipticCurvePrivateKey, kid: str) -> bytes:
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "ES256"}]}).encode()


def test_jwks_url_verifies_the_key_named_by_kid(jwks_server: Callable[[bytes], str]) -> None:
    """--jwks fetches the set and verifies with the key whose kid the token names."""
    private = ec.generate_private_key(ec.SECP256R1())
    url = jwks_server(_jwks(private, "key-1"))
    token = make_token(key=private, alg="ES256", headers={"kid": "key-1"})
    result, report = run_json(token, "--jwks", url)
    assert result.exit_code == 0, report
    assert report["signature"]["method"] == "jwks"
    assert report["signature"]["kid"] == "key-1"
    assert report["verdict"] == "valid"


def test_jwks_without_the_tokens_kid_is_invalid(jwks_server: Callable[[bytes], str]) -> None:
    """A kid the JWKS does not have: the signature cannot be checked, exit 1."""
    private = ec.generate_private_key(ec.SECP256R1())
    url = jwks_server(_jwks(private, "key-1"))
    token = make_token(key=private, alg="ES256", headers={"kid": "key-2"})
    result, report = run_json(token, "--jwks", url)
    assert result.exit_code == 1
    assert "no key matches kid 'key-2'" in report["signature"]["detail"]


def test_jwks_that_is_not_json_gets_a_clear_line(jwks_server: Callable[[bytes], str]) -> None:
    """A JWKS URL answering HTML: one clear line on stderr, exit 1, no traceback."""
    url = jwks_server(b"<html>hello</html>")
    result = run(make_token(), "--jwks", url)
    assert result.exit_code == 1
    assert result.stderr.startswith("tokensmith inspect: cannot ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_unreachable_jwks_url_gets_a_clear_line() -> None:
    """Nothing listening at the JWKS URL: one line naming the URL, exit 1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/jwks.json"
    result = run(make_token(), "--jwks", url)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"tokensmith inspect: cannot fetch the JWKS from {url}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_jwks_url_must_be_http() -> None:
    """file:// and other schemes are refused (PyJWKClient only speaks http and https)."""
    result = run(make_token(), "--jwks", "file:///etc/passwd")
    assert result.exit_code == 1
    assert "scheme" in result.stderr


# -- JSON shape -------------------------------------------------------------------------------


def test_json_report_shape() -> None:
    """--json has header, claims, times (utc, words, seconds), warnings, verdict and signature."""
    result, report = run_json(make_token({"jti": "j1"}, headers={"kid": "k1"}), "--secret", SECRET)
    assert result.exit_code == 0
    assert set(report) == {
        "verdict",
        "reasons",
        "kind",
        "header",
        "claims",
        "now",
        "leeway_s",
        "times",
        "lifetime_s",
        "warnings",
        "signature",
        "exit_status",
    }
    assert report["header"] == {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}
    assert report["claims"]["jti"] == "j1"
    assert report["now"] == "2025-06-01T12:00:00Z"
    assert report["leeway_s"] == 60
    assert report["times"]["exp"] == {
        "value": ts(timedelta(minutes=12)),
        "utc": "2025-06-01T12:12:00Z",
        "seconds_from_now": 720.0,
        "words": "valid for 12 more minutes",
    }
    assert report["times"]["iat"]["words"] == "issued 3 minutes ago"
    assert report["lifetime_s"] == 900
    assert report["warnings"] == []
    assert report["signature"]["valid"] is True
    assert report["exit_status"] == 0


def test_claim_text_cannot_inject_terminal_markup() -> None:
    """Rich markup and escape sequences in claims are printed inertly."""
    token = make_token({"name": "[bold red]x[/]\x1b[2J"})
    result = run(token)
    assert "[bold red]x[/]" in result.stdout
    assert "\x1b" not in result.stdout
