"""The Python client against a real ``tokensmith serve`` process with 2-second access tokens.

Refreshes are counted on the client side by a transport wrapper. ``time.sleep`` and
``asyncio.sleep`` here only wait for the SERVER's real token expiry (the client's own timing is
covered with an injected clock in the unit tests).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ServerProcess, running_server
from tokensmith.client import (
    AsyncTokensmithClient,
    FileTokenStore,
    RefreshPolicy,
    TokensmithAuth,
    TokensmithClient,
)
from tokensmith.errors import TokenReuseDetected, TokenRevoked

pytestmark = pytest.mark.e2e

CONCURRENCY = 20
PASSWORD = "correct horse battery"
SERVER_ENV = {
    "JWT_EXPIRES_IN": "2s",
    "JWT_CLOCK_TOLERANCE": "0",
    "REFRESH_REUSE_GRACE": "10s",
}
# exp is in whole seconds and checked with no tolerance: 2 s of life, plus up to 1 s of rounding.
SERVER_EXPIRY_WAIT_S = 3.2


class CountingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forwards to real transports and counts refresh requests; can lose the first
    ``lose_refresh_responses`` refresh answers (the server got the request, the client an error)."""

    def __init__(self, lose_refresh_responses: int = 0) -> None:
        self.sync = httpx.HTTPTransport()
        self.async_ = httpx.AsyncHTTPTransport()
        self.refresh_tokens_sent: list[str] = []
        self.lose = lose_refresh_responses
        self.lock = threading.Lock()

    def _count(self, request: httpx.Request) -> bool:
        """Record a refresh; True when its answer should be lost."""
        if request.url.path != "/auth/refresh":
            return False
        with self.lock:
            self.refresh_tokens_sent.append(json.loads(request.content)["refreshToken"])
            if self.lose > 0:
                self.lose -= 1
                return True
        return False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        lose = self._count(request)
        response = self.sync.handle_request(request)
        if lose:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset before the response arrived")
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        lose = self._count(request)
        response = await self.async_.handle_async_request(request)
        if lose:
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset before the response arrived")
        return response

    @property
    def refreshes(self) -> int:
        return len(self.refresh_tokens_sent)

    def close(self) -> None:
        self.sync.close()

    async def aclose(self) -> None:
        await self.async_.aclose()
        self.sync.close()


CounterFactory = Callable[..., CountingTransport]


@pytest.fixture
async def make_counter() -> AsyncIterator[CounterFactory]:
    """Counting transports, closed (sync and async connections alike) after the test."""
    made: list[CountingTransport] = []

    def make(lose_refresh_responses: int = 0) -> CountingTransport:
        made.append(CountingTransport(lose_refresh_responses))
        return made[-1]

    yield make
    for counter in made:
        await counter.aclose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("client-e2e"), SERVER_ENV) as process:
        yield process


def register(server: ServerProcess) -> str:
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(
        f"{server.url}/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return email


def login_auth(
    server: ServerProcess, counter: CountingTransport, policy: RefreshPolicy | None = None
) -> TokensmithAuth:
    """An auth logged in as a new user, refreshing through ``counter``."""
    auth = TokensmithAuth(server.url, policy=policy, transport=counter, async_transport=counter)
    email = register(server)
    response = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    auth.accept_token_response(response.json())
    return auth


POLICIES = {
    "proactive": RefreshPolicy(),
    "on-401-only": RefreshPolicy(proactive=False),
}


@pytest.mark.parametrize("policy_name", list(POLICIES))
def test_twenty_threads_after_expiry_send_exactly_one_refresh(
    server: ServerProcess, make_counter: CounterFactory, policy_name: str
) -> None:
    """20 threads calling the real server after the access token expired get 200 each, and the
    client sent exactly one refresh (found due before sending, or after TOKEN_EXPIRED)."""
    counter = make_counter()
    auth = login_auth(server, counter, POLICIES[policy_name])
    start = threading.Barrier(CONCURRENCY, timeout=10)
    with httpx.Client(base_url=server.url, auth=auth) as client:
        assert client.get("/auth/me").status_code == 200
        time.sleep(SERVER_EXPIRY_WAIT_S)

        def call(_: int) -> int:
            start.wait()
            return client.get("/auth/me").status_code

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = list(pool.map(call, range(CONCURRENCY)))
    assert statuses == [200] * CONCURRENCY
    assert counter.refreshes == 1


@pytest.mark.parametrize("policy_name", list(POLICIES))
async def test_twenty_tasks_after_expiry_send_exactly_one_refresh(
    server: ServerProcess, make_counter: CounterFactory, policy_name: str
) -> None:
    """20 asyncio tasks calling the real server after expiry: 200 each, one refresh."""
    counter = make_counter()
    auth = login_auth(server, counter, POLICIES[policy_name])
    async with httpx.AsyncClient(base_url=server.url, auth=auth) as client:
        assert (await client.get("/auth/me")).status_code == 200
        await asyncio.sleep(SERVER_EXPIRY_WAIT_S)
        responses = await asyncio.gather(*(client.get("/auth/me") for _ in range(CONCURRENCY)))
    assert [r.status_code for r in responses] == [200] * CONCURRENCY
    assert counter.refreshes == 1


def jwt_exp(token: str) -> int:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["exp"])


@pytest.mark.parametrize("skew_s", [600, -600])
def test_a_client_whose_clock_is_ten_minutes_off_still_works(
    server: ServerProcess,
    make_counter: CounterFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    skew_s: int,
) -> None:
    """With the client's wall clock 10 minutes ahead (the token looks long expired) or behind
    (it looks fresh for minutes), the client uses the token while the server accepts it and
    refreshes exactly once when the server's 2 seconds are over, file store included."""
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + skew_s)
    counter = make_counter()
    email = register(server)
    store = FileTokenStore(tmp_path / "tokens.json")
    with TokensmithClient(server.url, store=store, transport=counter) as client:
        client.login(email, PASSWORD)
        tokens = client.auth.tokens
        assert tokens is not None
        exp_seen_from_client_s = jwt_exp(tokens.access_token) - time.time()
        assert abs(exp_seen_from_client_s + skew_s) < 5  # the skew is real: exp looks 10 min off
        assert client.me()["email"] == email
        assert counter.refreshes == 0
        time.sleep(SERVER_EXPIRY_WAIT_S)
        assert client.me()["email"] == email
        assert counter.refreshes == 1
    # A new process on the same file, with the same skewed clock, carries on.
    with TokensmithClient(
        server.url, store=FileTokenStore(tmp_path / "tokens.json"), transport=counter
    ) as client:
        assert client.me()["email"] == email


def test_a_lost_refresh_response_is_recovered(
    server: ServerProcess, make_counter: CounterFactory
) -> None:
    """The server rotates the refresh token but the answer never reaches the client: the client
    presents the same token again inside the grace, gets the successor, and the session lives on
    through the next rotation."""
    counter = make_counter(lose_refresh_responses=1)
    auth = login_auth(server, counter, RefreshPolicy(proactive=False))
    first_refresh_token = auth.tokens.refresh_token if auth.tokens else None
    with httpx.Client(base_url=server.url, auth=auth) as client:
        time.sleep(SERVER_EXPIRY_WAIT_S)
        assert client.get("/auth/me").status_code == 200
        assert counter.refresh_tokens_sent == [first_refresh_token, first_refresh_token]
        time.sleep(SERVER_EXPIRY_WAIT_S)
        assert client.get("/auth/me").status_code == 200
    assert counter.refreshes == 3
    assert counter.refresh_tokens_sent[2] != first_refresh_token


async def test_a_lost_refresh_response_is_recovered_with_asyncio(
    server: ServerProcess, make_counter: CounterFactory
) -> None:
    """The same through ``httpx.AsyncClient``."""
    counter = make_counter(lose_refresh_responses=1)
    auth = login_auth(server, counter, RefreshPolicy(proactive=False))
    async with httpx.AsyncClient(base_url=server.url, auth=auth) as client:
        await asyncio.sleep(SERVER_EXPIRY_WAIT_S)
        assert (await client.get("/auth/me")).status_code == 200
        await asyncio.sleep(SERVER_EXPIRY_WAIT_S)
        assert (await client.get("/auth/me")).status_code == 200
    assert counter.refreshes == 3
    assert counter.refresh_tokens_sent[0] == counter.refresh_tokens_sent[1]


def test_convenience_client_logout_ends_the_session(server: ServerProcess) -> None:
    """login, me, logout: afterwards the old access token is refused as TOKEN_REVOKED."""
    email = register(server)
    with TokensmithClient(server.url) as client:
        user = client.login(email, PASSWORD)
        assert user["email"] == email
        assert client.me() == user
        tokens = client.auth.tokens
        assert tokens is not None
        client.logout()
        assert client.auth.tokens is None
    response = httpx.get(
        f"{server.url}/auth/me", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == TokenRevoked.code


async def test_async_convenience_client_round_trip(server: ServerProcess) -> None:
    """The async client logs in, survives an expiry, and logs out."""
    email = register(server)
    async with AsyncTokensmithClient(server.url) as client:
        await client.login(email, PASSWORD)
        await asyncio.sleep(SERVER_EXPIRY_WAIT_S)
        assert (await client.me())["email"] == email
        await client.logout()
        assert client.auth.tokens is None


def test_a_spent_refresh_token_raises_reuse_detected_and_clears_tokens(
    server: ServerProcess, make_counter: CounterFactory
) -> None:
    """A refresh token whose successor has itself been rotated is theft (contract 5.3): the
    client raises the library's ``TokenReuseDetected`` and forgets its tokens."""
    counter = make_counter()
    auth = login_auth(server, counter, RefreshPolicy(proactive=False))
    stale = auth.tokens
    assert stale is not None
    # Someone else rotates the token twice: its successor is spent too, grace or not.
    successor = httpx.post(
        f"{server.url}/auth/refresh", json={"refreshToken": stale.refresh_token}
    ).json()["refreshToken"]
    assert httpx.post(f"{server.url}/auth/refresh", json={"refreshToken": successor}).is_success
    with httpx.Client(base_url=server.url, auth=auth) as client:
        time.sleep(SERVER_EXPIRY_WAIT_S)
        with pytest.raises(TokenReuseDetected):
            client.get("/auth/me")
    assert auth.tokens is None
    assert counter.refreshes == 1
