"""``tokensmith.verify.Verifier`` without a network: discovery and JWKS over
``httpx.MockTransport``, tokens signed by the server's own codec, time from a ManualClock."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tokensmith.core.clock import ManualClock
from tokensmith.core.keys import KeySet, generate_private_pem
from tokensmith.core.models import Revocation
from tokensmith.core.revocation import RevocationSet
from tokensmith.core.tokens import TokenCodec, TokenPolicy
from tokensmith.errors import (
    ConfigError,
    InsufficientScope,
    InvalidToken,
    NoToken,
    ServiceUnavailable,
    TokenExpired,
    TokenRevoked,
)
from tokensmith.verify import Verifier, refusal
from tokensmith.verify.feed import RevocationFollower

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"s" * 32
POLICY = TokenPolicy("tokensmith", "tokensmith", timedelta(minutes=15), timedelta(days=7),
                     timedelta(seconds=60))  # fmt: skip


class FakeServer:
    """Discovery and JWKS of a tokensmith server, counting requests."""

    def __init__(self, algorithm: str = "EdDSA") -> None:
        self.algorithm = algorithm
        self.keys: list[KeySet] = []
        self.requests: list[str] = []
        if algorithm != "HS256":
            self.rotate()

    def rotate(self) -> KeySet:
        pem = generate_private_pem(self.algorithm).pem
        self.keys.insert(0, KeySet.asymmetric(self.algorithm, [pem]))
        return self.keys[0]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": "tokensmith",
                "jwks_uri": "http://ts/.well-known/jwks.json",
                "revocation_feed_endpoint": "http://ts/auth/revocations",
                "access_token_signing_alg_values_supported": [self.algorithm],
            })  # fmt: skip
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json={"keys": [k.public_jwks()[0] for k in self.keys]})
        return httpx.Response(404)


def codec(keys: KeySet, clock: ManualClock) -> TokenCodec:
    return TokenCodec(keys, KeySet.hmac(b"r" * 32), POLICY, clock)


def token(keys: KeySet, clock: ManualClock, *, sid: str = "sid-1", **claims: Any) -> str:
    return codec(keys, clock).issue_access(
        user_id="u1", session_id=sid, now=clock.now(), extra=claims or None
    )


def verifier(server: FakeServer, clock: ManualClock, **kwargs: Any) -> Verifier:
    return Verifier(
        "http://ts", clock=clock, transport=httpx.MockTransport(server.handler), **kwargs
    ).start()


def test_valid_asymmetric_token_verifies_with_no_request() -> None:
    """After start, verifying costs no HTTP request at all."""
    clock = ManualClock(NOW)
    server = FakeServer()
    v = verifier(server, clock)
    before = len(server.requests)
    for _ in range(100):
        assert v.verify(token(server.keys[0], clock)).sub == "u1"
    assert len(server.requests) == before


def test_the_servers_rules_and_error_codes() -> None:
    """No token, garbage, expired past the tolerance, revoked, missing scope."""
    clock = ManualClock(NOW)
    server = FakeServer()
    v = verifier(server, clock)
    good = token(server.keys[0], clock)
    with pytest.raises(NoToken):
        v.verify_header(None)
    with pytest.raises(InvalidToken):
        v.verify("not.a.token")
    with pytest.raises(InsufficientScope):
        v.verify(good, scopes=("orders:write",))
    clock.advance(timedelta(seconds=900 + 59))
    v.verify(good)  # within the clock tolerance
    clock.advance(timedelta(seconds=2))
    with pytest.raises(TokenExpired):
        v.verify(good)
    fresh = token(server.keys[0], clock, sid="gone")
    v.revoked.add([Revocation("gone", clock.now() + timedelta(minutes=16))])
    with pytest.raises(TokenRevoked):
        v.verify(fresh)
    answer = refusal(TokenRevoked())
    assert answer.status == 401
    assert answer.body["code"] == "TOKEN_REVOKED"
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_wrong_audience_and_issuer_are_invalid() -> None:
    """``aud`` is the verifier's audience, ``iss`` the discovery document's issuer."""
    clock = ManualClock(NOW)
    server = FakeServer()
    v = verifier(server, clock, audience="billing")
    with pytest.raises(InvalidToken):
        v.verify(token(server.keys[0], clock))


def test_kid_miss_refetches_the_jwks_once_per_interval() -> None:
    """A token signed with a new key makes the verifier fetch the JWKS again (key rotation);
    a flood of unknown kids costs at most one fetch per interval."""
    clock = ManualClock(NOW)
    server = FakeServer()
    v = verifier(server, clock, jwks_refetch_interval=timedelta(hours=1))
    assert v.jwks_fetches == 1
    new = server.rotate()
    assert v.verify(token(new, clock)).sub == "u1"
    assert v.jwks_fetches == 2
    stranger = KeySet.asymmetric("EdDSA", [generate_private_pem("EdDSA").pem])
    for _ in range(50):
        with pytest.raises(InvalidToken):
            v.verify(token(stranger, clock))
    assert v.jwks_fetches == 2  # the interval since the last fetch has not passed


def test_hs256_needs_the_secret() -> None:
    """An HS256 server: tokens verify with JWT_SECRET; without it the verifier cannot start."""
    clock = ManualClock(NOW)
    server = FakeServer("HS256")
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        Verifier("http://ts", transport=httpx.MockTransport(server.handler)).start()
    v = verifier(server, clock, secret=SECRET)
    assert v.verify(token(KeySet.hmac(SECRET), clock)).sid == "sid-1"
    with pytest.raises(InvalidToken):
        v.verify(token(KeySet.hmac(b"x" * 32), clock))


def test_a_pinned_algorithm_is_never_swapped_by_discovery() -> None:
    """``algorithm="EdDSA"`` and a server announcing HS256: start() refuses, naming it."""
    server = FakeServer("HS256")
    with pytest.raises(ConfigError, match="JWT_ALGORITHM"):
        Verifier(
            "http://ts", algorithm="EdDSA", secret=SECRET,
            transport=httpx.MockTransport(server.handler),
        ).start()  # fmt: skip


def stale_verifier(on_stale: str) -> tuple[Verifier, ManualClock, FakeServer]:
    clock = ManualClock(NOW)
    server = FakeServer()
    v = verifier(server, clock, stale_after=timedelta(seconds=60), on_stale=on_stale)
    # A follower that heard the stream at NOW and then nothing (it is not started).
    v.follower = RevocationFollower(
        httpx.Client(transport=httpx.MockTransport(server.handler)),
        "http://ts/auth/revocations", "http://ts/auth/revocations/stream", v.revoked, clock,
    )  # fmt: skip
    v.follower.heard_at = NOW
    return v, clock, server


def test_stale_feed_refuses_tokens_older_than_stale_after_with_503() -> None:
    """REVOCATION_STALE_AFTER (refuse): once the stream has been silent that long, a token
    issued more than that ago is 503 SERVICE_UNAVAILABLE; a newer one still passes."""
    v, clock, server = stale_verifier("refuse")
    old = token(server.keys[0], clock)
    clock.advance(timedelta(seconds=50))
    assert v.fresh
    v.verify(old)
    clock.advance(timedelta(seconds=20))  # 70 s of silence
    assert not v.fresh
    with pytest.raises(ServiceUnavailable):
        v.verify(old)
    assert refusal(ServiceUnavailable()).status == 503
    assert v.verify(token(server.keys[0], clock)).sub == "u1"
    v.follower.heard_at = clock.now()  # the stream is back
    v.verify(old)


def test_stale_feed_with_accept_keeps_accepting() -> None:
    """on_stale="accept": availability first, every valid token passes."""
    v, clock, server = stale_verifier("accept")
    old = token(server.keys[0], clock)
    clock.advance(timedelta(minutes=5))
    assert v.verify(old).sub == "u1"


def test_sse_parser_reads_events_and_heartbeats() -> None:
    """The SSE grammar: ``id``/``event``/``data`` fields, blank line ends an event, a comment
    is a heartbeat."""
    body = {"revocations": [{"sid": "a", "until": "2026-03-01T12:16:00Z"}], "cursor": "3.x"}
    lines = ["retry: 1000", "id: 3.x", "event: revocations", f"data: {json.dumps(body)}", "",
             ": heartbeat", ""]  # fmt: skip
    events = list(RevocationFollower._events(iter(lines)))
    assert events[0] is not None and events[0].id == "3.x"
    assert json.loads(events[0].data) == body
    assert events[1] is None


def test_follower_resyncs_when_its_cursor_is_refused() -> None:
    """A 400 on the stream (the server does not know our cursor: another database, a restored
    backup) makes the follower fetch the full list again, then follow from the new cursor; it
    never treats the refusal as "nothing was revoked"."""
    clock = ManualClock(NOW)
    calls: list[tuple[str, str | None]] = []
    until = "2026-03-01T12:16:00Z"

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.headers.get("last-event-id")
        calls.append((request.url.path, cursor))
        if request.url.path == "/auth/revocations":
            return httpx.Response(200, json={
                "revocations": [{"sid": f"full-{len(calls)}", "until": until}],
                "cursor": "9.fresh",
            })  # fmt: skip
        if cursor == "1.stale":
            return httpx.Response(400, json={"error": "bad cursor", "code": "VALIDATION_ERROR"})
        event = json.dumps({"revocations": [{"sid": "live", "until": until}], "cursor": "10.x"})
        body = f"id: 10.x\nevent: revocations\ndata: {event}\n\n: heartbeat\n\n"
        return httpx.Response(
            200, content=body.encode(), headers={"content-type": "text/event-stream"}
        )

    revoked = RevocationSet()
    follower = RevocationFollower(
        httpx.Client(transport=httpx.MockTransport(handler)),
        "http://ts/auth/revocations", "http://ts/auth/revocations/stream", revoked, clock,
    )  # fmt: skip
    follower.cursor = "1.stale"
    follower.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while "live" not in revoked and datetime.now(UTC) < deadline:
        time.sleep(0.01)
    follower.stop()
    assert calls[0] == ("/auth/revocations/stream", "1.stale")
    assert calls[1][0] == "/auth/revocations"  # the full list, after the refusal
    assert calls[2] == ("/auth/revocations/stream", "9.fresh")
    assert "full-2" in revoked and "live" in revoked
    assert follower.resyncs == 1


def test_start_loads_the_revocation_list_before_judging_any_token() -> None:
    """start() returns only once the full list is in: a session revoked before the service
    started is refused by the very first verify. Wrong client credentials fail start() with a
    line that says so."""
    clock = ManualClock(NOW)
    server = FakeServer()
    until = (NOW + timedelta(minutes=16)).isoformat()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/revocations":
            if (
                request.headers.get("authorization", "")
                != "Basic " + b64encode(b"svc:right").decode()
            ):
                return httpx.Response(401, json={"error": "no", "code": "INVALID_CLIENT"})
            return httpx.Response(200, json={"revocations": [{"sid": "sid-1", "until": until}],
                                             "cursor": "1.x"})  # fmt: skip
        if request.url.path == "/auth/revocations/stream":
            return httpx.Response(503)
        return server.handler(request)

    def make(secret: str) -> Verifier:
        return Verifier("http://ts", client_id="svc", client_secret=secret, clock=clock,
                        transport=httpx.MockTransport(handler))  # fmt: skip

    with pytest.raises(ServiceUnavailable, match="client_id/client_secret"):
        make("wrong").start(timeout=timedelta(seconds=5))
    v = make("right").start(timeout=timedelta(seconds=5))
    try:
        with pytest.raises(TokenRevoked):
            v.verify(token(server.keys[0], clock))
    finally:
        v.close()
