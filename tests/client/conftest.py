"""Fixtures for the Python client's tests (the doubles live in ``fakes.py``)."""

from __future__ import annotations

import pytest

from tokensmith.client import TokensmithAuth

from .fakes import BASE_URL, NO_WAIT, FakeClock, FakeServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeServer:
    return FakeServer(clock=clock)


@pytest.fixture
def auth(server: FakeServer, clock: FakeClock) -> TokensmithAuth:
    """An auth already holding a login's tokens, refreshing through the fake server."""
    transport = server.transport()
    result = TokensmithAuth(
        BASE_URL,
        policy=NO_WAIT,
        transport=transport,
        async_transport=transport,
        clock=clock,
    )
    result.accept_token_response(server.issue())
    return result
