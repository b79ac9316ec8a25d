"""``TokensmithAuth`` against a fake server: bearer, refresh, single flight, retries, errors."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tokensmith.client import MemoryTokenStore, RefreshPolicy, TokensmithAuth
from tokensmith.errors import (
    InvalidRefreshToken,
    RateLimited,
    RefreshError,
    RefreshTokenExpired,
    ServiceUnavailable,
    SessionRevoked,
    TokenReuseDetected,
)

from .fakes import BASE_URL, NO_WAIT, USER, FakeClock, FakeServer, LoseRefreshResponses, error

CONCURRENCY = 20


def client_for(
    auth: TokensmithAuth, handler: Callable[[httpx.Request], httpx.Response]
) -> httpx.Client:
    return httpx.Client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(handler))


def make_auth(
    server: FakeServer,
    clock: FakeClock,
    *,
    transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
    policy: RefreshPolicy = NO_WAIT,
) -> TokensmithAuth:
    auth = TokensmithAuth(
        BASE_URL,
        policy=policy,
        transport=transport or server.transport(),
        async_transport=async_transport or server.transport(),
        clock=clock,
    )
    auth.accept_token_response(server.issue())
    return auth


# -- bearer -------------------------------------------------------------------------------------


def test_adds_the_bearer_token_to_requests_for_the_server(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """A request to the server's origin carries ``Authorization: Bearer <access token>``."""
    with client_for(auth, server.handle) as client:
        response = client.get("/auth/me")
    assert response.status_code == 200
    assert response.json() == USER
    assert server.bearer_tokens_sent("/auth/me") == ["at-1"]


def test_never_sends_the_token_to_another_origin(auth: TokensmithAuth) -> None:
    """A request to another host (or scheme, or port) leaves without the token."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with client_for(auth, handler) as client:
        client.get("https://elsewhere.test/x")
        client.get("http://auth.test/x")
        client.get("https://auth.test:8443/x")
    assert [r.headers.get("Authorization") for r in seen] == [None, None, None]


def test_leaves_an_explicit_authorization_header_alone(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """A caller that sets its own Authorization header gets exactly that header sent."""
    with client_for(auth, server.handle) as client:
        response = client.get("/auth/me", headers={"Authorization": "Bearer mine"})
    assert response.status_code == 401
    assert server.bearer_tokens_sent("/auth/me") == ["mine"]
    assert server.refresh_count == 0


def test_without_tokens_the_request_goes_out_bare(server: FakeServer, clock: FakeClock) -> None:
    """Before login no Authorization header is sent and the server's 401 is handed back."""
    auth = TokensmithAuth(BASE_URL, transport=server.transport(), clock=clock)
    with client_for(auth, server.handle) as client:
        response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "NO_TOKEN"
    assert server.refresh_count == 0


# -- reactive refresh -----------------------------------------------------------------------------


def test_token_expired_is_refreshed_once_and_the_request_retried(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """A 401 TOKEN_EXPIRED leads to one refresh and one retry with the new access token."""
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client:
        response = client.get("/auth/me")
    assert response.status_code == 200
    assert server.refresh_calls == ["rt-1"]
    assert server.bearer_tokens_sent("/auth/me") == ["at-1", "at-2"]
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-2"


async def test_token_expired_is_refreshed_once_and_retried_with_async_client(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """The same with ``httpx.AsyncClient``."""
    server.expire_access_tokens()
    async with httpx.AsyncClient(
        base_url=BASE_URL, auth=auth, transport=server.transport()
    ) as client:
        response = await client.get("/auth/me")
    assert response.status_code == 200
    assert server.refresh_calls == ["rt-1"]
    assert server.bearer_tokens_sent("/auth/me") == ["at-1", "at-2"]


@pytest.mark.parametrize("code", ["TOKEN_REVOKED", "INVALID_TOKEN", "NO_TOKEN"])
def test_other_401_answers_are_handed_back_without_a_refresh(
    auth: TokensmithAuth, code: str
) -> None:
    """Only TOKEN_EXPIRED triggers a refresh; any other 401 reaches the caller untouched."""
    with client_for(auth, lambda request: error(401, code)) as client:
        response = client.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-1"


def test_a_second_token_expired_is_handed_back_not_looped(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """If the retried request is refused too, the client refreshes once only and returns it."""
    calls: list[str] = []

    def always_expired(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        return error(401, "TOKEN_EXPIRED")

    with client_for(auth, always_expired) as client:
        response = client.get("/auth/me")
    assert response.status_code == 401
    assert calls == ["Bearer at-1", "Bearer at-2"]
    assert server.refresh_count == 1


def test_the_request_body_is_sent_again_on_retry(auth: TokensmithAuth) -> None:
    """A POST retried after a refresh carries the same body."""
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if request.headers["Authorization"] == "Bearer at-1":
            return error(401, "TOKEN_EXPIRED")
        return httpx.Response(201)

    with client_for(auth, handler) as client:
        response = client.post("/items", json={"name": "widget"})
    assert response.status_code == 201
    assert bodies == [b'{"name":"widget"}', b'{"name":"widget"}']


# -- single flight --------------------------------------------------------------------------------


def held_until_all_arrive(
    server: FakeServer, token: str, parties: int
) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that holds every request bearing ``token`` until ``parties`` of them arrived,
    so all of them are in flight with the old token before any learns that it expired."""
    barrier = threading.Barrier(parties, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == f"Bearer {token}":
            barrier.wait()
        return server.handle(request)

    return handler


def test_twenty_threads_failing_at_once_send_exactly_one_refresh(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """20 threads whose requests all come back TOKEN_EXPIRED cause one refresh, and all retry
    with its result."""
    server.expire_access_tokens()
    handler = held_until_all_arrive(server, "at-1", CONCURRENCY)
    with client_for(auth, handler) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        responses = list(pool.map(lambda _: client.get("/auth/me"), range(CONCURRENCY)))
    assert [r.status_code for r in responses] == [200] * CONCURRENCY
    assert server.refresh_calls == ["rt-1"]
    assert server.bearer_tokens_sent("/auth/me").count("at-2") == CONCURRENCY


async def test_twenty_tasks_failing_at_once_send_exactly_one_refresh(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """20 asyncio tasks whose requests all come back TOKEN_EXPIRED cause one refresh."""
    server.expire_access_tokens()
    barrier = asyncio.Barrier(CONCURRENCY)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") == "Bearer at-1":
            await asyncio.wait_for(barrier.wait(), timeout=10)
        return server.handle(request)

    async with httpx.AsyncClient(
        base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(handler)
    ) as client:
        responses = await asyncio.gather(*(client.get("/auth/me") for _ in range(CONCURRENCY)))
    assert [r.status_code for r in responses] == [200] * CONCURRENCY
    assert server.refresh_calls == ["rt-1"]
    assert server.bearer_tokens_sent("/auth/me").count("at-2") == CONCURRENCY


def test_twenty_threads_due_for_a_proactive_refresh_send_exactly_one(
    server: FakeServer, clock: FakeClock
) -> None:
    """20 threads that all find the token close to expiry cause one refresh between them."""

    def refresh_once_all_have_looked(request: httpx.Request) -> httpx.Response:
        # Hold the refresh until every thread has read the clock to decide the token is due
        # (the refreshing thread reads it twice), so all of them wait for this one refresh.
        clock.wait_for_reads(reads_before + CONCURRENCY + 1)
        return server.handle(request)

    auth = make_auth(server, clock, transport=httpx.MockTransport(refresh_once_all_have_looked))
    clock.advance(899)
    reads_before = clock.reads
    with client_for(auth, server.handle) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        responses = list(pool.map(lambda _: client.get("/auth/me"), range(CONCURRENCY)))
    assert [r.status_code for r in responses] == [200] * CONCURRENCY
    assert server.refresh_calls == ["rt-1"]
    assert set(server.bearer_tokens_sent("/auth/me")) == {"at-2"}


def test_waiting_threads_share_a_refused_refresh(auth: TokensmithAuth, server: FakeServer) -> None:
    """When the one refresh is refused, every thread that waited for it raises the same error
    class, and no second refresh is sent."""
    server.expire_access_tokens()
    server.refresh_script.append(error(401, "TOKEN_REUSE_DETECTED"))
    handler = held_until_all_arrive(server, "at-1", CONCURRENCY)

    def call(client: httpx.Client) -> BaseException | None:
        try:
            client.get("/auth/me")
        except TokenReuseDetected as exc:
            return exc
        return None

    with client_for(auth, handler) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        outcomes = list(pool.map(lambda _: call(client), range(CONCURRENCY)))
    assert all(isinstance(o, TokenReuseDetected) for o in outcomes)
    assert len({id(o) for o in outcomes}) == CONCURRENCY  # each thread its own exception object
    assert server.refresh_count == 1
    assert auth.tokens is None


def test_waiting_threads_share_a_refresh_that_got_no_answer(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """When the one refresh fails on the network (after its retries), the waiting threads raise
    the same transport error instead of each starting their own round of retries."""
    server.expire_access_tokens()
    server.refresh_script.extend([httpx.ConnectError("refused")] * 4)
    handler = held_until_all_arrive(server, "at-1", CONCURRENCY)

    def call(client: httpx.Client) -> BaseException | None:
        try:
            client.get("/auth/me")
        except httpx.ConnectError as exc:
            return exc
        return None

    with client_for(auth, handler) as client, ThreadPoolExecutor(CONCURRENCY) as pool:
        outcomes = list(pool.map(lambda _: call(client), range(CONCURRENCY)))
    assert all(isinstance(o, httpx.ConnectError) for o in outcomes)
    assert server.refresh_count == 4  # one refresh: the first attempt and its 3 retries
    assert auth.tokens is not None  # the refresh token may still be good: kept


# -- proactive refresh --------------------------------------------------------------------------


def test_refreshes_before_sending_once_less_than_the_margin_remains(
    auth: TokensmithAuth, server: FakeServer, clock: FakeClock
) -> None:
    """With 900 s of life the margin is 90 s: at 91 s left the token is used, at 89 s it is
    refreshed first, so the server never has to say TOKEN_EXPIRED."""
    with client_for(auth, server.handle) as client:
        clock.advance(809)
        assert client.get("/auth/me").status_code == 200
        assert server.refresh_count == 0
        clock.advance(2)
        assert client.get("/auth/me").status_code == 200
    assert server.refresh_calls == ["rt-1"]
    assert server.bearer_tokens_sent("/auth/me") == ["at-1", "at-2"]


def test_the_margin_is_at_least_five_seconds_and_at_most_half_the_lifetime() -> None:
    """max(5 s, 10 %) of the lifetime, capped at half of it so short tokens are not refreshed on
    every request."""
    policy = RefreshPolicy()
    assert policy.margin_s(900) == 90
    assert policy.margin_s(30) == 5
    assert policy.margin_s(2) == 1


def test_a_short_lived_token_is_used_for_its_first_half(
    server: FakeServer, clock: FakeClock
) -> None:
    """A 2-second token is sent as is for its first second and refreshed after."""
    server.expires_in_s = 2
    auth = make_auth(server, clock)
    with client_for(auth, server.handle) as client:
        clock.advance(0.9)
        client.get("/auth/me")
        assert server.refresh_count == 0
        clock.advance(0.2)
        client.get("/auth/me")
    assert server.refresh_count == 1


def test_without_proactive_refresh_the_client_waits_for_token_expired(
    server: FakeServer, clock: FakeClock
) -> None:
    """``RefreshPolicy(proactive=False)`` sends the old token even past its lifetime."""
    auth = make_auth(server, clock, policy=RefreshPolicy(proactive=False))
    clock.advance(10_000)
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
    assert server.refresh_count == 0


def test_a_failed_proactive_refresh_sends_the_still_valid_token(
    auth: TokensmithAuth, server: FakeServer, clock: FakeClock
) -> None:
    """If the early refresh gets no answer, the request goes out with the current token, which
    still has life left."""
    clock.advance(850)
    server.refresh_script.extend([httpx.ConnectError("refused")] * 4)
    with client_for(auth, server.handle) as client:
        response = client.get("/auth/me")
    assert response.status_code == 200
    assert server.bearer_tokens_sent("/auth/me") == ["at-1"]


def test_a_failed_proactive_refresh_of_an_expired_token_raises(
    auth: TokensmithAuth, server: FakeServer, clock: FakeClock
) -> None:
    """Once the token has no life left, a refresh that gets no answer raises the transport error
    and keeps the tokens for the next try."""
    clock.advance(901)
    server.refresh_script.extend([httpx.ConnectError("refused")] * 4)
    with client_for(auth, server.handle) as client, pytest.raises(httpx.ConnectError):
        client.get("/auth/me")
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-1"


# -- clocks -------------------------------------------------------------------------------------


def jwt_shaped(exp: float) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'at+jwt'})}.{part({'exp': int(exp)})}.c2ln"


@pytest.mark.parametrize("skew_s", [-600, 600])
def test_a_wall_clock_ten_minutes_off_changes_nothing(
    server: FakeServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, skew_s: int
) -> None:
    """Expiry comes from ``expiresIn`` on the monotonic clock: a token whose ``exp`` looks 10
    minutes past (or away) on a skewed wall clock is used until its announced lifetime runs low."""
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + skew_s)
    auth = TokensmithAuth(BASE_URL, policy=NO_WAIT, transport=server.transport(), clock=clock)
    body = server.issue()
    server.live_access.discard(body["accessToken"])
    body["accessToken"] = jwt_shaped(exp=real_time() - skew_s)
    server.live_access.add(body["accessToken"])
    auth.accept_token_response(body)
    with client_for(auth, server.handle) as client:
        clock.advance(800)
        assert client.get("/auth/me").status_code == 200
        assert server.refresh_count == 0
        clock.advance(20)
        assert client.get("/auth/me").status_code == 200
    assert server.refresh_count == 1


# -- lost responses and retries -----------------------------------------------------------------


def test_a_lost_refresh_response_is_recovered_with_the_same_refresh_token(
    server: FakeServer, clock: FakeClock
) -> None:
    """The server rotates but the answer is lost: the client presents the same refresh token
    again, gets the same successor within the grace, and the session survives."""
    auth = make_auth(server, clock, transport=LoseRefreshResponses(server.handle, times=1))
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
        assert server.refresh_calls == ["rt-1", "rt-1"]
        assert auth.tokens is not None
        assert auth.tokens.refresh_token == "rt-2"
        server.expire_access_tokens()
        assert client.get("/auth/me").status_code == 200
    assert server.refresh_calls == ["rt-1", "rt-1", "rt-2"]
    assert not server.revoked


async def test_a_lost_refresh_response_is_recovered_with_async_client(
    server: FakeServer, clock: FakeClock
) -> None:
    """The same with ``httpx.AsyncClient``."""
    auth = make_auth(server, clock, async_transport=LoseRefreshResponses(server.handle, times=1))
    server.expire_access_tokens()
    async with httpx.AsyncClient(
        base_url=BASE_URL, auth=auth, transport=server.transport()
    ) as client:
        assert (await client.get("/auth/me")).status_code == 200
    assert server.refresh_calls == ["rt-1", "rt-1"]
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-2"


def test_a_5xx_refresh_answer_is_retried_with_the_same_token(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """A 503 (or a proxy's 502) on refresh is retried like a lost response."""
    server.expire_access_tokens()
    server.refresh_script.extend([error(503, "SERVICE_UNAVAILABLE"), httpx.Response(502)])
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
    assert server.refresh_calls == ["rt-1", "rt-1", "rt-1"]


def test_refresh_retries_are_bounded_and_keep_the_tokens(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """After the policy's retries the last failure is raised; the tokens stay, since the refresh
    token may never have reached the server."""
    server.expire_access_tokens()
    server.refresh_script.extend([error(503, "SERVICE_UNAVAILABLE")] * 10)
    with client_for(auth, server.handle) as client, pytest.raises(ServiceUnavailable):
        client.get("/auth/me")
    assert server.refresh_count == 1 + len(NO_WAIT.retry_delays_s)
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-1"


def test_no_retry_starts_after_the_retry_window(
    auth: TokensmithAuth, server: FakeServer, clock: FakeClock
) -> None:
    """Retries stop once the reuse grace would be over (5 s per timed-out attempt, 8 s window:
    two attempts), since presenting the token later would look like theft."""
    server.expire_access_tokens()

    def slow_failure(request: httpx.Request) -> httpx.Response:
        clock.advance(5)
        raise httpx.ReadTimeout("timed out")

    refresh = httpx.MockTransport(slow_failure)
    auth = make_auth(server, clock, transport=refresh)
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/auth/me")
    assert clock.now_s == pytest.approx(1000 + 10)


def test_retry_delays_are_waited(server: FakeServer, clock: FakeClock) -> None:
    """The policy's pauses are slept between attempts (real time, tiny pauses)."""
    auth = make_auth(server, clock, policy=RefreshPolicy(retry_delays_s=(0.05,)))
    server.expire_access_tokens()
    server.refresh_script.append(httpx.ConnectError("refused"))
    started = time.monotonic()
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
    assert time.monotonic() - started >= 0.05


# -- refused refresh ----------------------------------------------------------------------------

REFUSALS = [
    ("TOKEN_REUSE_DETECTED", TokenReuseDetected),
    ("SESSION_REVOKED", SessionRevoked),
    ("REFRESH_TOKEN_EXPIRED", RefreshTokenExpired),
    ("INVALID_REFRESH_TOKEN", InvalidRefreshToken),
]


@pytest.mark.parametrize(("code", "error_class"), REFUSALS)
def test_a_refused_refresh_raises_the_library_error_and_clears_the_tokens(
    auth: TokensmithAuth, server: FakeServer, code: str, error_class: type[RefreshError]
) -> None:
    """The server's refusal is rebuilt as the library's own class from its code, the store is
    emptied, and the next request goes out without a token."""
    server.expire_access_tokens()
    server.refresh_script.append(error(401, code, "server says no"))
    with client_for(auth, server.handle) as client:
        with pytest.raises(error_class) as raised:
            client.get("/auth/me")
        assert raised.value.code == code
        assert raised.value.message == "server says no"
        assert auth.tokens is None
        assert auth.store.load() is None
        assert client.get("/auth/me").json()["code"] == "NO_TOKEN"
    assert server.refresh_count == 1


@pytest.mark.parametrize(("code", "error_class"), REFUSALS)
async def test_a_refused_refresh_raises_and_clears_with_async_client(
    auth: TokensmithAuth, server: FakeServer, code: str, error_class: type[RefreshError]
) -> None:
    """The same with ``httpx.AsyncClient``."""
    server.expire_access_tokens()
    server.refresh_script.append(error(401, code))
    async with httpx.AsyncClient(
        base_url=BASE_URL, auth=auth, transport=server.transport()
    ) as client:
        with pytest.raises(error_class):
            await client.get("/auth/me")
    assert auth.tokens is None


def test_reuse_detected_by_the_fake_server_end_to_end(
    auth: TokensmithAuth, server: FakeServer, clock: FakeClock
) -> None:
    """A refresh token presented past the grace is theft: the client raises TokenReuseDetected."""
    tokens = auth.tokens
    assert tokens is not None
    server.live_refresh.discard("rt-1")
    server.rotated["rt-1"] = ("rt-99", clock() - 60)
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client, pytest.raises(TokenReuseDetected):
        client.get("/auth/me")


def test_a_rate_limited_refresh_raises_and_keeps_the_tokens(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """429 on refresh is not retried at once and does not end the session."""
    server.expire_access_tokens()
    server.refresh_script.append(
        httpx.Response(
            429, json={"error": "slow down", "code": "RATE_LIMITED"}, headers={"Retry-After": "7"}
        )
    )
    with client_for(auth, server.handle) as client, pytest.raises(RateLimited) as raised:
        client.get("/auth/me")
    assert raised.value.retry_after_s == 7
    assert server.refresh_count == 1
    assert auth.tokens is not None


def test_a_login_during_a_refresh_is_not_overwritten(server: FakeServer, clock: FakeClock) -> None:
    """Tokens set while a refresh was in flight (a new login) win over that refresh's result."""
    holder: list[TokensmithAuth] = []

    def refresh_racing_a_login(request: httpx.Request) -> httpx.Response:
        response = server.handle(request)
        holder[0].accept_token_response(server.issue())  # the user logs in meanwhile
        return response

    auth = make_auth(server, clock, transport=httpx.MockTransport(refresh_racing_a_login))
    holder.append(auth)
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-3"  # the login's, not the refresh's rt-2
    assert server.bearer_tokens_sent("/auth/me") == ["at-1", "at-3"]


# -- event loops, repr, logs --------------------------------------------------------------------


def test_one_auth_serves_several_event_loops(server: FakeServer, clock: FakeClock) -> None:
    """The async lock is per event loop, so an auth outlives ``asyncio.run`` calls."""
    auth = make_auth(server, clock)

    async def expired_call() -> int:
        server.expire_access_tokens()
        async with httpx.AsyncClient(
            base_url=BASE_URL, auth=auth, transport=server.transport()
        ) as client:
            return (await client.get("/auth/me")).status_code

    assert asyncio.run(expired_call()) == 200
    assert asyncio.run(expired_call()) == 200
    assert server.refresh_calls == ["rt-1", "rt-2"]


def test_repr_never_shows_a_token(auth: TokensmithAuth) -> None:
    """The auth, its store and the token set print without the tokens."""
    tokens = auth.tokens
    assert tokens is not None
    for text in (repr(auth), repr(auth.store), repr(tokens), str(tokens)):
        assert "at-1" not in text
        assert "rt-1" not in text
    assert "has_tokens=True" in repr(auth)


def test_tokens_never_reach_the_logs(
    auth: TokensmithAuth, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A refresh with retries and a refusal logs what happened, never a token."""
    caplog.set_level("DEBUG")
    server.expire_access_tokens()
    server.refresh_script.extend([httpx.ConnectError("refused"), error(401, "SESSION_REVOKED")])
    with client_for(auth, server.handle) as client, pytest.raises(SessionRevoked):
        client.get("/auth/me")
    logged = caplog.text
    assert "refresh" in logged
    assert "at-1" not in logged
    assert "rt-1" not in logged


def test_a_memory_store_can_be_shared_by_handing_it_in(
    server: FakeServer, clock: FakeClock
) -> None:
    """The auth uses the store it is given."""
    store = MemoryTokenStore()
    auth = TokensmithAuth(BASE_URL, store=store, transport=server.transport(), clock=clock)
    auth.accept_token_response(server.issue())
    assert auth.store is store
    assert store.load() is not None


def test_base_url_must_be_absolute_http() -> None:
    """A relative or non-HTTP base URL is refused at construction."""
    with pytest.raises(ValueError, match="base_url"):
        TokensmithAuth("/auth")
    with pytest.raises(ValueError, match="base_url"):
        TokensmithAuth("ftp://auth.test")


def test_a_waiter_gets_its_own_copy_of_the_winners_error(
    auth: TokensmithAuth, server: FakeServer
) -> None:
    """A shared failure keeps its class and attributes (here ``retry_after_s``) in every copy."""
    server.expire_access_tokens()
    server.refresh_script.append(
        httpx.Response(
            429, json={"error": "wait", "code": "RATE_LIMITED"}, headers={"Retry-After": "9"}
        )
    )
    handler = held_until_all_arrive(server, "at-1", 2)

    def call(client: httpx.Client) -> RateLimited:
        with pytest.raises(RateLimited) as raised:
            client.get("/auth/me")
        return raised.value

    with client_for(auth, handler) as client, ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: call(client), range(2))
    assert first is not second
    assert first.retry_after_s == second.retry_after_s == 9
    assert first.message == second.message == "wait"
    assert server.refresh_count == 1


def test_a_login_during_a_refused_refresh_is_used_not_cleared(
    server: FakeServer, clock: FakeClock
) -> None:
    """If the user logs in again while the old session's refresh is being refused, the new
    login's tokens are kept and the request is retried with them instead of failing."""
    holder: list[TokensmithAuth] = []

    def refused_while_logging_in(request: httpx.Request) -> httpx.Response:
        holder[0].accept_token_response(server.issue())
        return error(401, "SESSION_REVOKED")

    auth = make_auth(server, clock, transport=httpx.MockTransport(refused_while_logging_in))
    holder.append(auth)
    server.expire_access_tokens()
    with client_for(auth, server.handle) as client:
        assert client.get("/auth/me").status_code == 200
    assert auth.tokens is not None
    assert auth.tokens.refresh_token == "rt-2"
