"""Fixtures of the security suite: the service in-process (fast, one per algorithm and module) and
as real ``tokensmith serve`` processes (what an attacker actually talks to).

Under ``CI=true`` a test that needs a service fails when the service cannot be started; elsewhere
it is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.harness import (
    ALGORITHMS,
    REFRESH_SECRET,
    Api,
    InProcess,
    Live,
    live_api,
    register,
    service_env,
    start_live,
)
from tokensmith.core.keys import KeySet
from tokensmith.core.passwords import TESTING
from tokensmith.server.app import create_app
from tokensmith.settings import load_settings


@pytest.fixture(scope="module", params=ALGORITHMS)
def svc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The service in-process (one per module and algorithm), with a registered user."""
    algorithm: str = request.param
    data_dir = tmp_path_factory.mktemp(f"svc-{algorithm}")
    env = service_env(data_dir, algorithm)
    app = create_app(load_settings(env), argon2=TESTING)
    services = app.state.tokensmith.services
    client = InProcess(app)
    try:
        email = f"victim-{algorithm.lower()}@example.com"
        register(client, email)
        pem = Path(env["JWT_PRIVATE_KEY_FILE"]).read_bytes() if algorithm != "HS256" else None
        yield Api(
            client,
            algorithm,
            services.access_keys,
            KeySet.hmac(REFRESH_SECRET.encode()),
            email,
            pem,
        )
    finally:
        client.close()


@pytest.fixture(scope="session")
def live_hs256(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real ``tokensmith serve`` process, HS256."""
    server = start_live(tmp_path_factory, "HS256")
    try:
        yield from live_api(server, "HS256")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_es256(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real ``tokensmith serve`` process, ES256 access tokens."""
    server = start_live(tmp_path_factory, "ES256")
    try:
        yield from live_api(server, "ES256")
    finally:
        server.stop()


@pytest.fixture(params=ALGORITHMS)
def live(request: pytest.FixtureRequest) -> Live:
    """Each real server in turn."""
    fixture: Live = request.getfixturevalue(f"live_{request.param.lower()}")
    return fixture
