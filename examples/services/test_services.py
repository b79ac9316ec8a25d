"""The example services as real processes: a Flask app and a Django REST framework app, each
protected by its adapter, against a running tokensmith. They run in ``make test``.

Logging out at tokensmith makes both refuse the token (401 ``TOKEN_REVOKED``) without either
calling tokensmith per request.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.support.inprocess import PASSWORD
from tests.support.servers import ServerProcess, free_port, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "access-secret-for-the-example-services-0123456789"
CLIENT_SECRET = "service-secret-for-the-example-services-0123456789"
TOKENSMITH_ENV = {
    "JWT_SECRET": JWT_SECRET,
    "JWT_REFRESH_SECRET": "refresh-secret-for-the-example-services-0123456789",
    "SERVICE_CLIENTS": f"reports:{CLIENT_SECRET}",
}


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10)

    def post(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=10)


def start_service(module: str, tokensmith: ServerProcess, tmp: Path) -> Service:
    port = free_port()
    env = {
        **os.environ,
        "TOKENSMITH_ISSUER_URL": tokensmith.url,
        "TOKENSMITH_CLIENT_ID": "reports",
        "TOKENSMITH_CLIENT_SECRET": CLIENT_SECRET,
        "TOKENSMITH_JWT_SECRET": JWT_SECRET,
        "PYTHONPATH": str(ROOT),
    }
    log = tmp / f"{module.rsplit('.', 1)[-1]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    service = Service(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{module} exited:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}/public", timeout=2).status_code == 200:
                return service
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{module} did not answer:\n{log.read_text()}")


def stop(service: Service) -> None:
    service.process.terminate()
    try:
        service.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait(timeout=5)


@pytest.fixture(scope="module")
def tokensmith(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("tokensmith"), TOKENSMITH_ENV)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def flask_service(
    tokensmith: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    service = start_service("examples.services.flask_app", tokensmith, tmp_path_factory.mktemp("f"))
    yield service
    stop(service)


@pytest.fixture(scope="module")
def django_service(
    tokensmith: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    service = start_service(
        "examples.services.django_app", tokensmith, tmp_path_factory.mktemp("d")
    )
    yield service
    stop(service)


def login(tokensmith: ServerProcess, email: str) -> str:
    httpx.post(f"{tokensmith.url}/auth/register", json={"email": email, "password": PASSWORD})
    response = httpx.post(
        f"{tokensmith.url}/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


def scoped_session(tokensmith: ServerProcess, scope: str) -> str:
    """A session started by the service client with a ``scope`` claim (contract 8)."""
    basic = base64.b64encode(f"reports:{CLIENT_SECRET}".encode()).decode()
    response = httpx.post(
        f"{tokensmith.url}/auth/sessions",
        json={"subject": "writer-1", "claims": {"scope": scope}},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["accessToken"])


def logout(tokensmith: ServerProcess, token: str) -> None:
    response = httpx.post(
        f"{tokensmith.url}/auth/logout", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def eventually(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)


def test_flask_service_accepts_refuses_and_honours_logout(
    tokensmith: ServerProcess, flask_service: Service
) -> None:
    """No token: 401 NO_TOKEN with a bare Bearer challenge; a valid one: 200; a missing scope:
    403; after logout at tokensmith: 401 TOKEN_REVOKED."""
    none = flask_service.get("/reports")
    assert none.status_code == 401
    assert none.json()["code"] == "NO_TOKEN"
    assert none.headers["www-authenticate"] == 'Bearer realm="tokensmith"'
    token = login(tokensmith, "ada@example.com")
    ok = flask_service.get("/reports", token)
    assert ok.status_code == 200, ok.text
    assert flask_service.post("/reports", token).json()["code"] == "INSUFFICIENT_SCOPE"
    writer = scoped_session(tokensmith, "reports:read reports:write")
    assert flask_service.post("/reports", writer).status_code == 201
    logout(tokensmith, token)
    eventually(lambda: flask_service.get("/reports", token).status_code == 401)
    refused = flask_service.get("/reports", token)
    assert refused.json()["code"] == "TOKEN_REVOKED"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    garbage = flask_service.get("/reports", "not-a-token")
    assert garbage.json()["code"] == "INVALID_TOKEN"


def test_django_service_drf_and_middleware_honour_logout(
    tokensmith: ServerProcess, django_service: Service
) -> None:
    """DRF view and a plain view under PROTECTED_PATHS: the errors of contract 4, and a logout
    at tokensmith reaches both."""
    none = django_service.get("/api/invoices")
    assert none.status_code == 401, none.text
    assert none.json()["code"] == "NO_TOKEN"
    assert django_service.get("/legacy/whoami").json()["code"] == "NO_TOKEN"
    token = login(tokensmith, "grace@example.com")
    ok = django_service.get("/api/invoices", token)
    assert ok.status_code == 200, ok.text
    assert django_service.get("/legacy/whoami", token).status_code == 200
    logout(tokensmith, token)
    eventually(lambda: django_service.get("/api/invoices", token).status_code == 401)
    refused = django_service.get("/api/invoices", token)
    assert refused.json()["code"] == "TOKEN_REVOKED"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert django_service.get("/legacy/whoami", token).json()["code"] == "TOKEN_REVOKED"
